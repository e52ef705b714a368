/** vbm check: sample homogeneity before the model. */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { progressReporter } from '../progress.js';
import type { Options } from '../options.js';
import { runCheck } from '../../pipeline/check.js';
import { CHECK, RUN } from '../../settings/vocabulary.js';
import { addSetting, addSettings, flagList, flagText } from '../settingOptions.js';

export function checkCommand(program: Command): void {
  const cmd = program
    .command('check')
    .description(
      "sample homogeneity before the model (CAT12's check): each scan's mean correlation with the others and its quartic mean Z-score; outliers flagged",
    )
    .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv): first column scan paths');
  addSettings(cmd, [CHECK.mask, CHECK.globals, CHECK.nuisance, CHECK.out]);
  addSetting(cmd, RUN.quiet, { help: 'no progress' }).action(async (designPath: string, o: Options) => {
    const progress = progressReporter(!o.quiet);
    const out = resolve(flagText(o, CHECK.out)!);
    const mask = flagText(o, CHECK.mask);
    const res = await runCheck({
      design: resolve(designPath),
      out,
      mask: mask ? resolve(mask) : undefined,
      globals: flagText(o, CHECK.globals),
      nuisance: flagList(o, CHECK.nuisance),
      onProgress: progress,
    });
    process.stdout.write(`${res.text}\n  wrote ${res.files.map((f) => join(out, f)).join(', ')}\n`);
  });
}
