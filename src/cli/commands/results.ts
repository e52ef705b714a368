/** vbm results: threshold a contrast and list its clusters and peaks. */
import type { Command } from 'commander';
import { VbmError } from '../../errors.js';
import { openAnalysis } from '../../pipeline/analysis.js';
import { runResults } from '../../pipeline/results.js';
import { openAtlas } from '../../pipeline/label.js';
import type { Options } from '../options.js';
import { parseResultsOptions, resultsOptions } from '../resultsOptions.js';
import { ATLAS, RESULTS } from '../../settings/vocabulary.js';
import { addSetting, flagText } from '../settingOptions.js';

export function resultsCommand(program: Command): void {
  const cmd = program
    .command('results')
    .description(
      "threshold a contrast and list clusters and peaks with SPM12's random-field, FDR and uncorrected p-values",
    )
    .argument('<dir>', 'analysis folder written by vbm run');
  addSetting(cmd, RESULTS.contrast);
  addSetting(cmd, ATLAS.atlas, { help: 'label each peak with this atlas (name or path)' });
  addSetting(cmd, ATLAS.labels, { help: 'label table for --atlas' });
  resultsOptions(cmd).action((dir: string, o: Options) => {
    const a = openAnalysis(dir);
    const contrast = flagText(o, RESULTS.contrast);
    const which = contrast === undefined ? a.record.contrasts.map((c) => c.index) : [contrast];
    if (which.length === 0)
      throw new VbmError(`${a.dir} has no contrasts`, 'add contrasts with vbm run --contrasts or --contrast');
    const req = parseResultsOptions(o);
    const atlasName = flagText(o, ATLAS.atlas);
    const atlas = atlasName ? openAtlas(atlasName, flagText(o, ATLAS.labels)) : undefined;
    for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    for (const c of which) {
      const out = runResults(a, { ...req, contrast: c, atlas, strictMaps: contrast !== undefined });
      process.stdout.write(`${out.text}
  wrote ${out.files.join(', ')}

`);
    }
  });
}
