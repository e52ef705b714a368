/** vbm results: threshold a contrast and list its clusters and peaks. */
import { VbmError } from '../../errors.js';
import { openAnalysis } from '../../pipeline/analysis.js';
import { runResults } from '../../pipeline/results.js';
import { openAtlas } from '../../pipeline/label.js';
import { type Options, reqStr, str } from '../options.js';
import { parseResultsOptions, resultsOptions } from '../resultsOptions.js';
import type { Command } from 'commander';

export function resultsCommand(program: Command): void {
  resultsOptions(
    program
      .command('results')
      .description(
        "threshold a contrast and list clusters and peaks with SPM12's random-field, FDR and uncorrected p-values",
      )
      .argument('<dir>', 'analysis folder written by vbm run')
      .option('--contrast <which>', 'contrast number or name (default: all)')
      .option('--atlas <atlas>', 'label each peak with this atlas (name or path)')
      .option('--labels <file>', 'label table for --atlas'),
  ).action((dir: string, o: Options) => {
    const a = openAnalysis(dir);
    const which = o.contrast === undefined ? a.record.contrasts.map((c) => c.index) : [reqStr(o, 'contrast')];
    if (which.length === 0)
      throw new VbmError(`${a.dir} has no contrasts`, 'add contrasts with vbm run --contrasts or --contrast');
    const req = parseResultsOptions(o);
    const atlas = o.atlas ? openAtlas(reqStr(o, 'atlas'), str(o, 'labels')) : undefined;
    for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    for (const c of which) {
      const out = runResults(a, { ...req, contrast: c, atlas, strictMaps: o.contrast !== undefined });
      process.stdout.write(`${out.text}
  wrote ${out.files.join(', ')}

`);
    }
  });
}
