/** vbm label: atlas labels for peaks and clusters. */
import type { Command } from 'commander';
import { openAnalysis } from '../../pipeline/analysis.js';
import { openAtlas, runLabel } from '../../pipeline/label.js';
import type { LabelMode } from '../../atlas/label.js';
import type { Options } from '../options.js';
import { parseResultsOptions, resultsOptions } from '../resultsOptions.js';
import { ATLAS, RESULTS } from '../../settings/vocabulary.js';
import { addSetting, addSettings, flagList, flagNumber, flagNumberOrDefault, flagText } from '../settingOptions.js';

export function labelCommand(program: Command): void {
  const cmd = program
    .command('label')
    .description(
      'atlas labels for peaks and clusters: local maxima, extended local maxima, cluster labelling (as pyAAL)',
    )
    .argument('<dir>', 'analysis folder written by vbm run');
  addSetting(cmd, ATLAS.atlas, { required: true });
  addSettings(cmd, [ATLAS.labels, RESULTS.contrast, ATLAS.modes, ATLAS.radius, ATLAS.probThreshold]);
  resultsOptions(cmd).action((dir: string, o: Options) => {
    const a = openAnalysis(dir);
    const contrast = flagText(o, RESULTS.contrast);
    const which = contrast === undefined ? a.record.contrasts.map((c) => c.index) : [contrast];
    const listed = flagList(o, ATLAS.modes) ?? [];
    const modes = listed.includes('all') ? ['peaks', 'extended', 'clusters'] : listed;
    const req = parseResultsOptions(o);
    const atlas = openAtlas(flagText(o, ATLAS.atlas)!, flagText(o, ATLAS.labels), flagNumber(o, ATLAS.probThreshold));
    for (const w of atlas.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const c of which) {
      const out = runLabel(a.dir, {
        ...req,
        contrast: c,
        atlas,
        modes: modes as LabelMode[],
        radiusMm: flagNumberOrDefault(o, ATLAS.radius),
      });
      process.stdout.write(`${out.text}\n  wrote ${out.files.join(', ')}\n\n`);
    }
  });
}
