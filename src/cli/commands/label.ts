/** vbm label: atlas labels for peaks and clusters. */
import { VbmError } from '../../errors.js';
import { openAnalysis } from '../../pipeline/analysis.js';
import { openAtlas, runLabel } from '../../pipeline/label.js';
import type { LabelMode } from '../../atlas/label.js';
import { type Options, num, parseList, reqNum, reqStr, str } from '../options.js';
import { parseResultsOptions, resultsOptions } from '../resultsOptions.js';
import type { Command } from 'commander';

export function labelCommand(program: Command): void {
  resultsOptions(
    program
      .command('label')
      .description(
        'atlas labels for peaks and clusters: local maxima, extended local maxima, cluster labelling (as pyAAL)',
      )
      .argument('<dir>', 'analysis folder written by vbm run')
      .requiredOption(
        '--atlas <atlas>',
        'atlas name (see vbm atlases: aal, brodmann, harvardoxford, jhu, aicha) or image path',
      )
      .option('--labels <file>', 'label table for the atlas (index,name CSV/TSV, mricron .txt or FSL XML)')
      .option('--contrast <which>', 'contrast number or name (default: all)')
      .option('--mode <modes>', "comma-separated: 'peaks', 'extended', 'clusters', or 'all'", 'all')
      .option('--radius <mm>', 'sphere radius for extended labelling', '5')
      .option(
        '--prob-threshold <percent>',
        'probabilistic atlases: minimum probability for a region (default 0: maximum probability)',
      ),
  ).action((dir: string, o: Options) => {
    const a = openAnalysis(dir);
    const which = o.contrast === undefined ? a.record.contrasts.map((c) => c.index) : [reqStr(o, 'contrast')];
    const listed = parseList(reqStr(o, 'mode')) ?? [];
    const modes = listed.includes('all') ? ['peaks', 'extended', 'clusters'] : listed;
    for (const m of modes)
      if (!['peaks', 'extended', 'clusters'].includes(m))
        throw new VbmError(`--mode: '${m}' is not one of peaks, extended, clusters, all`);
    const req = parseResultsOptions(o);
    const probThreshold = num(o, 'probThreshold');
    const atlas = openAtlas(reqStr(o, 'atlas'), str(o, 'labels'), probThreshold);
    for (const w of atlas.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const c of which) {
      const out = runLabel(a.dir, {
        ...req,
        contrast: c,
        atlas,
        modes: modes as LabelMode[],
        radiusMm: reqNum(o, 'radius'),
      });
      process.stdout.write(`${out.text}\n  wrote ${out.files.join(', ')}\n\n`);
    }
  });
}
