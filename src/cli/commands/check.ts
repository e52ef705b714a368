/** vbm check: sample homogeneity before the model. */
import { progressReporter } from '../progress.js';
import { join, resolve } from 'node:path';
import { type Options, parseList, reqStr, str } from '../options.js';
import { runCheck } from '../../pipeline/check.js';
import type { Command } from 'commander';

export function checkCommand(program: Command): void {
  program
    .command('check')
    .description(
      "sample homogeneity before the model (CAT12's check): each scan's mean correlation with the others and its quartic mean Z-score; outliers flagged",
    )
    .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv): first column scan paths')
    .option('-m, --mask <image>', 'explicit mask (voxels > 0; nearest neighbour in mm)')
    .option(
      '--globals <column>',
      'proportional scaling: divide each scan by this column (e.g. tiv), relative to its mean',
    )
    .option('--nuisance <columns>', 'comma-separated columns regressed out voxel by voxel (e.g. age,sex)')
    .option('-o, --out <dir>', 'folder for check.csv, check.png and check.json', '.')
    .option('-q, --quiet', 'no progress')
    .action(async (designPath: string, o: Options) => {
      const progress = progressReporter(!o.quiet);
      const res = await runCheck({
        design: resolve(designPath),
        out: resolve(reqStr(o, 'out')),
        mask: o.mask ? resolve(reqStr(o, 'mask')) : undefined,
        globals: str(o, 'globals'),
        nuisance: parseList(str(o, 'nuisance')),
        onProgress: progress,
      });
      process.stdout.write(
        `${res.text}\n  wrote ${res.files.map((f) => join(resolve(reqStr(o, 'out')), f)).join(', ')}\n`,
      );
    });
}
