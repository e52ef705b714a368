#!/usr/bin/env node
import { Command } from 'commander';
import { describeError, VbmError } from '../errors.js';
import { VBM_VERSION } from '../version.js';
import { type ContrastSpec, parseInlineContrast, readContrastsFile } from '../model/contrasts.js';
import { runAnalysis } from '../pipeline/run.js';
import { openAnalysis } from '../pipeline/analysis.js';
import { describeAnalysis } from '../pipeline/show.js';
import { progressReporter } from './progress.js';
import { type ExtraMap, type ResultsRequest, runResults } from '../pipeline/results.js';
import type { Correction } from '../inference/results.js';
import { openAtlas, runLabel } from '../pipeline/label.js';
import type { LabelMode } from '../atlas/label.js';
import { ATLAS_ALIASES, atlasDirs, listAtlases } from '../atlas/registry.js';
import { formatTable } from '../report/textTable.js';
import { existsSync } from 'node:fs';
import { parseCentring, parseList, parseNumber, thresholdMasking } from './options.js';

const program = new Command();
program
  .name('vbm')
  .description('Voxel-based morphometry and voxel-wise multiple regression, with SPM12\'s numbers')
  .version(VBM_VERSION)
  .showHelpAfterError();

function resultsOptions(cmd: Command): Command {
  return cmd
    .option('--threshold <p>', 'height threshold: a p-value, or (uncorrected) a statistic value > 1', '0.001')
    .option('--correction <kind>', "height correction: 'none', 'fwe' (random field) or 'fdr' (voxel-wise)", 'none')
    .option('--extent <k>', 'extent threshold in voxels', '0')
    .option('--peaks <n>', 'local maxima listed per cluster', '3')
    .option('--peak-distance <mm>', 'minimum distance between listed maxima of a cluster', '8')
    .option('--maps <list>', "also write maps: any of 'p', 'logp', 'z' (comma-separated)");
}

function parseResultsOptions(o: Record<string, unknown>): Omit<ResultsRequest, 'contrast'> {
  const correction = String(o.correction).toLowerCase();
  if (!['none', 'fwe', 'fdr'].includes(correction)) throw new VbmError(`--correction '${o.correction}' is not one of none, fwe, fdr`);
  const maps = parseList(o.maps as string | undefined) ?? [];
  for (const m of maps) if (!['p', 'logp', 'z'].includes(m)) throw new VbmError(`--maps: '${m}' is not one of p, logp, z`);
  return {
    threshold: parseNumber('--threshold', String(o.threshold)),
    correction: correction as Correction,
    extent: parseNumber('--extent', String(o.extent)),
    peaksPerCluster: parseNumber('--peaks', String(o.peaks)),
    peakDistanceMm: parseNumber('--peak-distance', String(o.peakDistance)),
    maps: maps as ExtraMap[],
  };
}

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
  .option('--results', 'after estimation, run `vbm results` for every contrast with the options below')
  .option('--threshold <p>', 'with --results: height threshold (p, or statistic value > 1)', '0.001')
  .option('--correction <kind>', "with --results: 'none', 'fwe' or 'fdr'", 'none')
  .option('--extent <k>', 'with --results: extent threshold in voxels', '0')
  .option('--peaks <n>', 'with --results: maxima per cluster', '3')
  .option('--peak-distance <mm>', 'with --results: minimum distance between maxima', '8')
  .option('--maps <list>', "with --results: also write 'p', 'logp', 'z' maps")
  .action(async (designPath: string, o: Record<string, unknown>) => {
    const resultsReq = o.results ? parseResultsOptions(o) : undefined;
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
    const analysis = openAnalysis(result.dir);
    process.stdout.write(describeAnalysis(analysis) + '\n');
    if (resultsReq) {
      for (const c of analysis.record.contrasts) {
        const out = runResults(analysis, { ...resultsReq, contrast: c.index });
        process.stdout.write(`\n${out.text}\n  wrote ${out.files.join(', ')}\n`);
      }
    }
  });

resultsOptions(
  program
    .command('results')
    .description("threshold a contrast and list clusters and peaks with SPM12's random-field, FDR and uncorrected p-values")
    .argument('<dir>', 'analysis folder written by vbm run')
    .option('--contrast <which>', 'contrast number or name (default: all)')
    .option('--atlas <atlas>', 'label each peak with this atlas (name or path)')
    .option('--labels <file>', 'label table for --atlas'),
).action((dir: string, o: Record<string, unknown>) => {
  const a = openAnalysis(dir);
  const which = o.contrast === undefined ? a.record.contrasts.map((c) => c.index) : [String(o.contrast)];
  if (which.length === 0) throw new VbmError(`${a.dir} has no contrasts`, 'add contrasts with vbm run --contrasts or --contrast');
  const req = parseResultsOptions(o);
  const atlas = o.atlas ? openAtlas(String(o.atlas), o.labels as string | undefined) : undefined;
  for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  for (const c of which) {
    const out = runResults(a, { ...req, contrast: c, atlas });
    process.stdout.write(`${out.text}
  wrote ${out.files.join(', ')}

`);
  }
});

resultsOptions(
  program
    .command('label')
    .description('atlas labels for peaks and clusters: local maxima, extended local maxima, cluster labelling (as pyAAL)')
    .argument('<dir>', 'analysis folder written by vbm run')
    .requiredOption('--atlas <atlas>', 'atlas name (see vbm atlases: aal, brodmann, harvardoxford, jhu, aicha) or image path')
    .option('--labels <file>', 'label table for the atlas (index,name CSV/TSV, mricron .txt or FSL XML)')
    .option('--contrast <which>', 'contrast number or name (default: all)')
    .option('--mode <modes>', "comma-separated: 'peaks', 'extended', 'clusters', or 'all'", 'all')
    .option('--radius <mm>', 'sphere radius for extended labelling', '5')
    .option('--prob-threshold <percent>', 'probabilistic atlases: minimum probability for a region (default 0: maximum probability)'),
).action((dir: string, o: Record<string, unknown>) => {
  const a = openAnalysis(dir);
  const which = o.contrast === undefined ? a.record.contrasts.map((c) => c.index) : [String(o.contrast)];
  const listed = parseList(String(o.mode)) ?? [];
  const modes = listed.includes('all') ? ['peaks', 'extended', 'clusters'] : listed;
  for (const m of modes) if (!['peaks', 'extended', 'clusters'].includes(m)) throw new VbmError(`--mode: '${m}' is not one of peaks, extended, clusters, all`);
  const req = parseResultsOptions(o);
  for (const c of which) {
    const out = runLabel(a.dir, {
      ...req,
      contrast: c,
      atlas: String(o.atlas),
      labels: o.labels as string | undefined,
      probThreshold: o.probThreshold === undefined ? undefined : parseNumber('--prob-threshold', String(o.probThreshold)),
      modes: modes as LabelMode[],
      radiusMm: parseNumber('--radius', String(o.radius)),
    });
    for (const w of out.warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(`${out.text}\n  wrote ${out.files.join(', ')}\n\n`);
  }
});

program
  .command('atlases')
  .description('list the atlases vbm finds (Debian mricron-data, $FSLDIR, $VBM_ATLAS_DIR)')
  .action(() => {
    const list = listAtlases();
    const dirs = atlasDirs().map((d) => `  ${d.dir} (${d.source})${existsSync(d.dir) ? '' : ' - not present'}`);
    if (list.length === 0) {
      process.stdout.write(`No atlases found. vbm looked in:\n${dirs.join('\n')}\nInstall Debian's with: sudo apt-get install mricron-data\n`);
      return;
    }
    const aliases = new Map(Object.entries(ATLAS_ALIASES).map(([k, v]) => [v, k]));
    process.stdout.write(
      formatTable(
        ['name', 'alias', 'source', 'image', 'labels'],
        list.map((e) => [e.name, aliases.get(e.name) ?? '', e.source, e.image, e.labels ?? '(none)']),
      ) + `\n\nSearched:\n${dirs.join('\n')}\n`,
    );
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
