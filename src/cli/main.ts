#!/usr/bin/env node
import { Command } from 'commander';
import { describeError, VbmError } from '../errors.js';
import { VBM_VERSION } from '../version.js';
import { type ContrastSpec, parseInlineContrast, readContrastsFile } from '../model/contrasts.js';
import { runAnalysis } from '../pipeline/run.js';
import { openAnalysis } from '../pipeline/analysis.js';
import { describeAnalysis } from '../pipeline/show.js';
import { progressReporter } from './progress.js';
import { parseCentring, parseList, parseNumber, thresholdMasking } from './options.js';

const program = new Command();
program
  .name('vbm')
  .description('Voxel-based morphometry and voxel-wise multiple regression, with SPM12\'s numbers')
  .version(VBM_VERSION)
  .showHelpAfterError();

program
  .command('run')
  .description('estimate a multiple-regression model from a spreadsheet of scans and write SPM12-named maps')
  .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv): first column scan paths, then numeric covariates')
  .requiredOption('-o, --out <dir>', 'output folder')
  .option('-m, --mask <image>', 'explicit mask (voxels > 0 are analysed; resampled by nearest neighbour in mm)')
  .option('--no-implicit-mask', "turn off SPM's implicit mask (zero = missing for integer scans)")
  .option('--absolute-threshold <value>', 'threshold masking: analyse voxels whose value exceeds this in every scan')
  .option('--relative-threshold <fraction>', "threshold masking: ... exceeds this fraction of each scan's global mean")
  .option('-c, --contrasts <file>', 'contrasts file (.json or .yaml): [{name, type, columns, weights}]')
  .option('--contrast <spec...>', "inline contrast(s) '[NAME:]T|F:COL[=W][,COL[=W]]', e.g. 'age+:T:age=1' 'F:age,sex'")
  .option('--covariates <columns>', 'comma-separated covariate columns (default: every column after the first)')
  .option('--centring <spec>', "'mean' (default) or 'none' for all, or per column: 'age=mean,tiv=none'")
  .option('--no-intercept', 'leave out the constant column')
  .option('--overwrite', 'replace an output folder that holds a different analysis')
  .option('--workers <n>', 'worker threads (default: number of cores)')
  .option('-q, --quiet', 'no progress or log lines')
  .action(async (designPath: string, o: Record<string, unknown>) => {
    const contrasts: ContrastSpec[] = [];
    if (o.contrasts) contrasts.push(...readContrastsFile(String(o.contrasts)));
    for (const s of (o.contrast as string[] | undefined) ?? []) contrasts.push(parseInlineContrast(s));
    const centring = parseCentring(o.centring as string | undefined);
    const quiet = !!o.quiet;
    const log = (m: string): void => {
      if (!quiet) process.stderr.write(`${m}\n`);
    };
    const t0 = Date.now();
    const result = await runAnalysis({
      design: designPath,
      out: String(o.out),
      contrasts,
      covariates: parseList(o.covariates as string | undefined),
      centring: centring.perColumn,
      defaultCentring: centring.default,
      intercept: o.intercept as boolean,
      masking: {
        explicitMask: o.mask as string | undefined,
        implicit: o.implicitMask as boolean,
        threshold: thresholdMasking(o.absoluteThreshold as string | undefined, o.relativeThreshold as string | undefined),
      },
      overwrite: !!o.overwrite,
      workers: o.workers === undefined ? undefined : parseNumber('--workers', String(o.workers)),
      command: ['vbm', ...process.argv.slice(2)].join(' '),
      onProgress: progressReporter(!quiet),
      log,
    });
    log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${result.dir}`);
    process.stdout.write(describeAnalysis(openAnalysis(result.dir)) + '\n');
  });

program
  .command('show')
  .description('review a finished analysis folder: scans, design, contrasts, images')
  .argument('<dir>', 'analysis folder written by vbm run')
  .option('--scans', 'list every scan')
  .option('--json', 'print the model record as JSON')
  .action((dir: string, o: { scans?: boolean; json?: boolean }) => {
    const a = openAnalysis(dir);
    if (o.json) process.stdout.write(JSON.stringify({ dir: a.dir, ...a.record }, null, 1) + '\n');
    else process.stdout.write(describeAnalysis(a, { allScans: o.scans }) + '\n');
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`vbm: error: ${describeError(err)}\n`);
  process.exit(err instanceof VbmError ? 2 : 1);
});
