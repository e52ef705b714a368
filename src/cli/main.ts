#!/usr/bin/env node
import { Command } from 'commander';
import { describeError, fileErrorAsVbmError, VbmError } from '../errors.js';
import { VBM_VERSION } from '../version.js';
import { type ContrastSpec, parseInlineContrast } from '../model/contrasts.js';
import { readContrastsFile } from '../pipeline/contrastsFile.js';
import { openAnalysis } from '../pipeline/analysis.js';
import { describeAnalysis } from '../pipeline/show.js';
import { progressReporter } from './progress.js';
import { interruptible } from './interrupt.js';
import { EXTRA_MAPS, type ExtraMap, type ResultsRequest, runResults } from '../pipeline/results.js';
import type { Correction } from '../inference/results.js';
import { openAtlas, runLabel } from '../pipeline/label.js';
import type { LabelMode } from '../atlas/label.js';
import { ATLAS_ALIASES, atlasDirs, listAtlases } from '../atlas/registry.js';
import { formatTable } from '../report/textTable.js';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { hostname } from 'node:os';
import { type AnalysisSpec, isAnalysisFile, parseAnalysisSpec, readAnalysisFile } from '../pipeline/analysisFile.js';
import { runPipeline, stageSummary } from '../pipeline/pipeline.js';
import { STAGES, type StageName } from '../pipeline/stages.js';
import { initAnalysisFile } from '../pipeline/init.js';
import { runPermute } from '../pipeline/permute.js';
import {
  DESIGN_FLAGS,
  designKeysFromFlags,
  type Options,
  num,
  parseCentring,
  parseList,
  parseNumber,
  reqNum,
  reqStr,
  str,
  strs,
  thresholdMasking,
} from './options.js';
import { type PlotKind, runPlot, type ThresholdRequest } from '../pipeline/plot.js';
import type { Display } from '../plot/statMap.js';
import type { Sign } from '../plot/colours.js';
import { runReport } from '../pipeline/report.js';
import { runCheck } from '../pipeline/check.js';
import { askCancel, backendOptions, parseBackendOptions } from './backendOptions.js';
import { distributedPermute, runTaskFile } from '../backend/permuteTasks.js';
import { readTaskFile } from '../backend/taskFiles.js';
import { cancelJobs, describeJobStates, jobStates } from '../backend/status.js';
import { parseAccel } from '../permutation/accel.js';
import { parseMemorySize } from '../permutation/memoryBudget.js';

const MEMORY_HELP =
  "memory for the permutation data, e.g. 8G or 512M (default: half the machine's, or the Slurm task's); larger data are streamed from a scratch file in the analysis folder, with the same results";

const program = new Command();
program
  .name('vbm')
  .description("Voxel-based morphometry and voxel-wise multiple regression, with SPM12's numbers")
  .version(VBM_VERSION)
  .showHelpAfterError();

function resultsOptions(cmd: Command): Command {
  return cmd
    .option('--threshold <p>', 'height threshold: a p-value, or (uncorrected) a statistic value > 1', '0.001')
    .option('--correction <kind>', "height correction: 'none', 'fwe' (random field) or 'fdr' (voxel-wise)", 'none')
    .option('--extent <k>', 'extent threshold in voxels', '0')
    .option('--peaks <n>', 'local maxima listed per cluster', '3')
    .option('--peak-distance <mm>', 'minimum distance between listed maxima of a cluster', '8')
    .option(
      '--maps <list>',
      "also write maps: any of 'p', 'logp' (signed -log10 p), 'z', and effect sizes 'd' (two-group T), 'r' (T), 'R2' (F), comma-separated",
    );
}

function parseCorrection(o: Options): Correction {
  const given = reqStr(o, 'correction');
  const correction = given.toLowerCase();
  if (!['none', 'fwe', 'fdr'].includes(correction))
    throw new VbmError(`--correction '${given}' is not one of none, fwe, fdr`);
  return correction as Correction;
}

function parseResultsOptions(o: Options): Omit<ResultsRequest, 'contrast'> {
  const correction = parseCorrection(o);
  const maps = parseList(str(o, 'maps')) ?? [];
  for (const m of maps)
    if (!(EXTRA_MAPS as string[]).includes(m))
      throw new VbmError(`--maps: '${m}' is not one of ${EXTRA_MAPS.join(', ')}`);
  return {
    threshold: reqNum(o, 'threshold'),
    correction,
    extent: reqNum(o, 'extent'),
    peaksPerCluster: reqNum(o, 'peaks'),
    peakDistanceMm: reqNum(o, 'peakDistance'),
    maps: maps as ExtraMap[],
  };
}

backendOptions(
  program
    .command('run')
    .description(
      'estimate a multiple-regression model from a spreadsheet of scans (or run an analysis file) and write SPM12-named maps; unchanged stages are reused',
    )
    .argument(
      '<design>',
      'spreadsheet (.xlsx, .csv, .tsv: first column scan paths, then numeric covariates), or an analysis file (.yaml, .json)',
    )
    .option('-o, --out <dir>', 'output folder (required with a spreadsheet; overrides the analysis file)')
    .option('-m, --mask <image>', 'explicit mask (voxels > 0 are analysed; resampled by nearest neighbour in mm)')
    .option('--no-implicit-mask', "turn off SPM's implicit mask (zero = missing for integer scans)")
    .option('--absolute-threshold <value>', 'threshold masking: analyse voxels whose value exceeds this in every scan')
    .option(
      '--relative-threshold <fraction>',
      "threshold masking: ... exceeds this fraction of each scan's global mean",
    )
    .option('-c, --contrasts <file>', 'contrasts file (.json or .yaml): [{name, type, columns, weights}]')
    .option(
      '--contrast <spec...>',
      "inline contrast(s) '[NAME:]T|F:COL[=W][,COL[=W]]', e.g. 'age+:T:age=1' 'F:age,sex'",
    )
    .option('--covariates <columns>', 'comma-separated covariate columns (default: every column after the first)')
    .option('--centring <spec>', "'mean' (default) or 'none' for all, or per column: 'age=mean,tiv=none'")
    .option('--no-intercept', 'leave out the constant column')
    .option('--model <kind>', 'multiple-regression (default), one-sample, two-sample, paired or anova (one factor)')
    .option('--factor <column>', 'two-sample, anova: the column of group labels')
    .option('--levels <list>', 'order of the levels of --factor (paired: of --condition), e.g. CN,AD')
    .option('--subject <column>', 'paired: the column naming the subject of each scan')
    .option('--condition <column>', 'paired: the column naming the condition (two levels)')
    .option('--variance <v>', "two-sample, anova: 'unequal' (default, as SPM) or 'equal'")
    .option('--factors <columns>', 'columns to treat as factors even if they hold numbers')
    .option('--interaction <cov:factor...>', 'covariate-by-factor interaction(s), e.g. tiv:group')
    .option('--globals <spec>', "global values: 'user:COLUMN' (e.g. user:tiv), 'mean' (SPM's spm_global) or 'omit'")
    .option('--grand-mean-scaling <value>', "grand mean scaling to this value (e.g. 50), or 'no'")
    .option('--normalisation <kind>', "global normalisation: 'none', 'proportional' or 'ancova'")
    .option('--overwrite', 'replace an output folder that holds an analysis of other scans or another design')
    .option('--force', 're-run every stage, cached or not')
    .option('--from <stage>', `re-run this stage and the ones after it (${STAGES.join(', ')})`)
    .option('--workers <n>', 'worker threads (default: number of cores)')
    .option('--memory <size>', MEMORY_HELP)
    .option('-q, --quiet', 'no progress or log lines')
    .option('--results', 'after estimation, run `vbm results` for every contrast with the options below')
    .option('--threshold <p>', 'with --results: height threshold (p, or statistic value > 1)', '0.001')
    .option('--correction <kind>', "with --results: 'none', 'fwe' or 'fdr'", 'none')
    .option('--extent <k>', 'with --results: extent threshold in voxels', '0')
    .option('--peaks <n>', 'with --results: maxima per cluster', '3')
    .option('--peak-distance <mm>', 'with --results: minimum distance between maxima', '8')
    .option('--maps <list>', "with --results: also write 'p', 'logp', 'z', 'd', 'r', 'R2' maps")
    .option('--atlas <atlas>', 'label the results with this atlas (implies --results)')
    .option('--labels <file>', 'label table for --atlas')
    .option('--permutations <n>', 'also run permutation inference on every contrast with this many permutations')
    .option('--tfce', 'with --permutations: TFCE')
    .option('--cluster-threshold <p>', 'with --permutations: cluster-forming threshold (uncorrected p)')
    .option('--seed <n>', 'with --permutations: random seed', '0')
    .option('--accel <list>', "with --permutations: 'tail', 'stop' or 'tail,stop' (see vbm permute --help)")
    .option('--report', 'write report.html (the thresholds of --results; vbm report has all options)')
    .option('--check', 'before estimation, check sample homogeneity (check.csv, check.png; see vbm check)')
    .option('--nuisance <columns>', 'with --check: columns regressed out (e.g. age,sex)'),
).action(async (designPath: string, o: Options, cmd: Command) => {
  const backend = parseBackendOptions(o);
  const quiet = !!o.quiet;
  const log = (m: string): void => {
    if (!quiet) process.stderr.write(`${m}\n`);
  };
  const given = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
  let spec: AnalysisSpec;
  if (isAnalysisFile(designPath)) {
    spec = readAnalysisFile(designPath);
    const out = str(o, 'out');
    if (out) spec.out = resolve(out);
    const extra = [
      'mask',
      'contrasts',
      'contrast',
      'covariates',
      'centring',
      ...DESIGN_FLAGS,
      'absoluteThreshold',
      'relativeThreshold',
      'results',
      'atlas',
      'permutations',
      'accel',
      'report',
      'check',
      'nuisance',
    ].filter(given);
    if (extra.length)
      throw new VbmError(
        `with an analysis file, say ${extra.map((e) => `--${e.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} in the file`,
        'or run the spreadsheet directly with these options',
      );
  } else {
    if (!o.out)
      throw new VbmError(
        '-o/--out <dir> is required with a spreadsheet',
        'or give an analysis file (vbm init writes one)',
      );
    const contrasts: ContrastSpec[] = [];
    if (o.contrasts) contrasts.push(...readContrastsFile(reqStr(o, 'contrasts')));
    for (const c of strs(o, 'contrast') ?? []) contrasts.push(parseInlineContrast(c));
    const th = thresholdMasking(str(o, 'absoluteThreshold'), str(o, 'relativeThreshold'));
    const raw: Record<string, unknown> = {
      design: resolve(designPath),
      out: resolve(reqStr(o, 'out')),
      intercept: o.intercept,
      implicit_mask: o.implicitMask,
    };
    if (!existsSync(resolve(designPath))) throw new VbmError(`design spreadsheet not found: ${resolve(designPath)}`);
    if (o.mask) raw.mask = resolve(reqStr(o, 'mask'));
    if (o.covariates) raw.covariates = parseList(reqStr(o, 'covariates'));
    const centring = parseCentring(str(o, 'centring'));
    if (o.centring)
      raw.centring = { ...(centring.default ? { default: centring.default } : {}), ...centring.perColumn };
    if (th.type !== 'none') raw.threshold_masking = { [th.type]: th.value };
    Object.assign(raw, designKeysFromFlags(o));
    if (o.results || o.atlas) {
      const r = parseResultsOptions(o);
      raw.results = {
        threshold: r.threshold,
        correction: r.correction,
        extent: r.extent,
        peaks: r.peaksPerCluster,
        peak_distance: r.peakDistanceMm,
        maps: r.maps,
      };
    }
    if (o.atlas)
      raw.atlas = { name: reqStr(o, 'atlas'), ...(o.labels ? { labels: resolve(reqStr(o, 'labels')) } : {}) };
    if (o.permutations !== undefined) {
      raw.permute = {
        permutations: reqNum(o, 'permutations'),
        seed: reqNum(o, 'seed'),
        tfce: !!o.tfce,
        ...(o.clusterThreshold !== undefined ? { cluster_threshold: reqNum(o, 'clusterThreshold') } : {}),
        ...(o.accel !== undefined ? { accel: reqStr(o, 'accel') } : {}),
      };
    } else if (o.accel !== undefined)
      throw new VbmError('--accel goes with --permutations', 'add --permutations N, or drop --accel');
    if (o.report) raw.report = true;
    // the check scales by the design's user globals (--globals user:COLUMN): parseAnalysisSpec sees to it
    if (o.check) raw.check = o.nuisance ? { nuisance: parseList(reqStr(o, 'nuisance')) } : true;
    else if (o.nuisance) throw new VbmError('--nuisance goes with --check', 'add --check, or run vbm check');
    spec = parseAnalysisSpec(raw, process.cwd(), 'command line');
    spec.models[0].contrasts = contrasts;
  }
  const t0 = Date.now();
  const progress = progressReporter(!quiet);
  const reports = await interruptible(
    'the current stage stops at its next safe point; nothing half-written is kept',
    (signal) =>
      runPipeline(spec, {
        force: !!o.force,
        from: str(o, 'from') as StageName | undefined,
        overwrite: !!o.overwrite,
        workers: num(o, 'workers'),
        memory: o.memory === undefined ? undefined : parseMemorySize(reqStr(o, 'memory'), '--memory'),
        backend,
        onInterrupt: askCancel,
        command: ['vbm', ...process.argv.slice(2)].join(' '),
        signal,
        onProgress: progress,
        log,
        onText: (text) => process.stdout.write(`\n${text}\n`),
        onStage: (model, stage, status, why, seconds) => {
          if (status === 'not requested') return;
          log(
            `${spec.multiModel ? `[${model}] ` : ''}${stage}: ${status === 'cached' ? 'cached (unchanged)' : `ran in ${seconds.toFixed(1)} s (${why})`}`,
          );
        },
      }),
  );
  log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${spec.out}`);
  for (const r of reports) {
    if (spec.multiModel) process.stdout.write(`\n== model '${r.name}' ==\n`);
    process.stdout.write(describeAnalysis(openAnalysis(r.dir)) + '\n');
  }
});

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

program
  .command('init')
  .description('write a commented analysis file (YAML) for a spreadsheet of scans and covariates')
  .argument('<design>', 'spreadsheet (.xlsx, .csv, .tsv)')
  .option('-o, --output <file>', 'write the file here instead of printing it')
  .option('--out-dir <dir>', "the analysis's output folder named in the file", 'results')
  .action(async (designPath: string, o: { output?: string; outDir: string }) => {
    const text = await initAnalysisFile(designPath, o.outDir, o.output);
    if (o.output) {
      if (existsSync(o.output)) throw new VbmError(`${o.output} exists`, 'choose another name, or delete it first');
      writeFileSync(o.output, text);
      process.stderr.write(`wrote ${o.output}; edit it, then: vbm run ${o.output}\n`);
    } else process.stdout.write(text);
  });

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

program
  .command('atlases')
  .description('list the atlases vbm finds (Debian mricron-data, $FSLDIR, $VBM_ATLAS_DIR)')
  .action(() => {
    const list = listAtlases();
    const dirs = atlasDirs().map((d) => `  ${d.dir} (${d.source})${existsSync(d.dir) ? '' : ' - not present'}`);
    if (list.length === 0) {
      process.stdout.write(
        `No atlases found. vbm looked in:\n${dirs.join('\n')}\nInstall Debian's with: sudo apt-get install mricron-data\n`,
      );
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

backendOptions(
  program
    .command('permute')
    .description(
      'permutation inference: Freedman-Lane (or sign flips), max-statistic FWE, exact TFCE, cluster extent and mass FWE',
    )
    .argument('<dir>', 'analysis folder written by vbm run')
    .requiredOption('--contrast <which>', 'contrast number or name')
    .option(
      '--permutations <n>',
      'number of permutations, the observed included (all are enumerated when fewer exist)',
      '5000',
    )
    .option('--seed <n>', 'random seed (the same seed gives the same permutations)', '0')
    .option('--tfce', 'threshold-free cluster enhancement (exact integral) with FWE p-values')
    .option('--tfce-e <E>', 'TFCE extent exponent', '0.5')
    .option('--tfce-h <H>', 'TFCE height exponent', '2')
    .option('--connectivity <c>', 'neighbours for clusters and TFCE: 6, 18 or 26 (FSL default)', '26')
    .option(
      '--cluster-threshold <p>',
      'cluster-forming threshold (uncorrected p) for cluster-extent and cluster-mass FWE',
    )
    .option(
      '--scheme <s>',
      "'auto' (permute; sign-flip one-sample effects and designs with variance groups), 'permute' or 'signflip'",
      'auto',
    )
    .option('--blocks <file>', 'exchangeability blocks: a text file with one integer per scan, in design order')
    .option('--alpha <a>', 'FWE level for the table of significant clusters', '0.05')
    .option(
      '--accel <list>',
      "faster p-values: 'tail' (generalised Pareto fit to the tail of the null maxima for FWE p), 'stop' (stop once no peak can reach FWE significance), or 'tail,stop'",
    )
    .option('--workers <n>', 'worker threads (default: all cores)')
    .option('--memory <size>', MEMORY_HELP)
    .option('-q, --quiet', 'no progress'),
).action(async (dir: string, o: Options) => {
  const backend = parseBackendOptions(o);
  const conn = reqNum(o, 'connectivity');
  if (![6, 18, 26].includes(conn)) throw new VbmError(`--connectivity must be 6, 18 or 26 (got ${conn})`);
  const scheme = reqStr(o, 'scheme');
  if (!['auto', 'permute', 'signflip'].includes(scheme))
    throw new VbmError(`--scheme '${scheme}' is not one of auto, permute, signflip`);
  let blocks: number[] | undefined;
  if (o.blocks !== undefined) {
    const file = reqStr(o, 'blocks');
    if (!existsSync(file)) throw new VbmError(`--blocks file not found: ${file}`);
    blocks = readFileSync(file, 'utf8')
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((x, i) => {
        const b = Number(x);
        if (!Number.isInteger(b))
          throw new VbmError(
            `${file}: entry ${i + 1} ('${x}') is not a whole number`,
            'one integer block number per scan',
          );
        return b;
      });
  }
  const progress = progressReporter(!o.quiet);
  const request = {
    contrast: reqStr(o, 'contrast'),
    permutations: reqNum(o, 'permutations'),
    seed: reqNum(o, 'seed'),
    tfce: Boolean(o.tfce),
    tfceParams: { E: reqNum(o, 'tfceE'), H: reqNum(o, 'tfceH') },
    connectivity: conn as 6 | 18 | 26,
    clusterThreshold: num(o, 'clusterThreshold'),
    scheme: scheme as 'auto' | 'permute' | 'signflip',
    blocks,
    alpha: reqNum(o, 'alpha'),
    accel: o.accel === undefined ? undefined : parseAccel(reqStr(o, 'accel'), '--accel'),
    workers: num(o, 'workers'),
    memory: o.memory === undefined ? undefined : parseMemorySize(reqStr(o, 'memory'), '--memory'),
    onProgress: (d: number, t: number) => progress('permutations', d, t),
    onReadProgress: (d: number, t: number) => progress('reading scans', d, t),
    onNote: (m: string) => process.stderr.write(`note: ${m}\n`),
  };
  if (backend) {
    const d = await interruptible(
      backend.type === 'local' ? 'stopping the tasks' : 'stopping to wait for the Slurm tasks',
      (signal) =>
        distributedPermute(dir, { ...request, signal: undefined }, backend, {
          signal,
          rerun: ['vbm', ...process.argv.slice(2)].join(' '),
          onInterrupt: askCancel,
          onProgress: (d, t) => progress(`${backend.type} tasks`, d, t),
          onNote: request.onNote,
        }),
    );
    if (!d.output) {
      process.stdout.write(
        `submitted ${d.outcome.submitted.length} of ${d.job.tasks} tasks (${d.job.dir}); \`vbm show ${dir}\` follows them, the same command again merges their results\n`,
      );
      return;
    }
    process.stdout.write(`${d.output.text}\n  wrote ${d.output.files.join(', ')}\n`);
    return;
  }
  const out = await interruptible('finishing the permutations in progress and saving a checkpoint', (signal) =>
    runPermute(dir, { ...request, signal }),
  );
  process.stdout.write(`${out.text}\n  wrote ${out.files.join(', ')}\n`);
});

function pictureOptions(cmd: Command): Command {
  return cmd
    .option(
      '--threshold <t>',
      'height threshold: a p-value, or (uncorrected) a statistic value > 1, e.g. 3.10',
      '0.001',
    )
    .option('--correction <kind>', "height correction: 'none', 'fwe' (random field) or 'fdr'", 'none')
    .option('--extent <k>', 'extent threshold in voxels', '0')
    .option(
      '--sign <s>',
      "'pos' (positive values only), 'neg' or 'both' (default: both for T maps in vbm plot, as nilearn; pos in vbm report, as SPM's contrast view)",
    )
    .option(
      '--background <bg>',
      "'template' (ch2bet from Debian mricron-data when installed, else the ICBM152 grey-matter template vbm ships), 'icbm152', 'ch2bet', 'mean' (mean of the analysed scans), 'none', or an image path",
      'template',
    );
}

function parseDisplay(o: Options): Display {
  const display = reqStr(o, 'display') as Display;
  if (!['x', 'y', 'z', 'ortho'].includes(display))
    throw new VbmError(`--display '${display}' is not one of x, y, z, ortho`);
  return display;
}

function parseThreshold(o: Options): Omit<ThresholdRequest, 'sign'> & { sign?: Sign } {
  const correction = parseCorrection(o);
  const given = str(o, 'sign');
  const sign = given?.toLowerCase();
  if (sign !== undefined && !['pos', 'neg', 'both'].includes(sign))
    throw new VbmError(`--sign '${given}' is not one of pos, neg, both`);
  return {
    threshold: reqNum(o, 'threshold'),
    correction,
    extent: reqNum(o, 'extent'),
    sign: sign as Sign | undefined,
  };
}

pictureOptions(
  program
    .command('plot')
    .description('draw a PNG: a contrast on slices over a background, a glass brain, or the design matrix')
    .argument('<dir>', 'analysis folder written by vbm run')
    .option('--contrast <which>', 'contrast number or name (slices and glass brain)')
    .option('--kind <kind>', "'slices', 'glass' (maximum intensity projections) or 'design'", 'slices')
    .option('--display <d>', "slices: 'z' (axial), 'y' (coronal), 'x' (sagittal) or 'ortho'", 'z')
    .option('--cuts <n>', 'slices: number of cuts in a row', '6')
    .option(
      '--coords <mm>',
      "slices: cut positions in mm, comma-separated (ortho: 'x,y,z'; default: through the clusters, strongest first, then filling the brain, at least one FWHM apart; ortho at the peak)",
    )
    .option('--vmax <v>', 'top of the colour scale (default: the largest |value| shown)')
    .option('--title <text>', 'title (default: contrast and thresholds)')
    .option('-o, --out <file>', 'PNG to write (default: slices_000K.png, glass_000K.png or design.png in the folder)')
    .option('-q, --quiet', 'no progress'),
).action(async (dir: string, o: Options) => {
  const kind = reqStr(o, 'kind') as PlotKind;
  if (!['slices', 'glass', 'design'].includes(kind))
    throw new VbmError(`--kind '${kind}' is not one of slices, glass, design`);
  const display = parseDisplay(o);
  const coords = parseList(str(o, 'coords'))?.map((c) => parseNumber('--coords', c));
  const progress = progressReporter(!o.quiet);
  const out = await runPlot(dir, {
    kind,
    contrast: str(o, 'contrast'),
    ...parseThreshold(o),
    display,
    cuts: reqNum(o, 'cuts'),
    coords,
    background: reqStr(o, 'background'),
    vmax: num(o, 'vmax'),
    title: str(o, 'title'),
    out: str(o, 'out'),
    onProgress: (d, t) => progress('mean of the scans', d, t),
  });
  const what =
    out.shownVoxels === undefined
      ? ''
      : out.shownVoxels === 0
        ? ' (no voxel survives the thresholds)'
        : ` (${out.shownVoxels} voxels shown, ${out.caption})`;
  process.stdout.write(`wrote ${out.file}${what}\n`);
});

pictureOptions(
  program
    .command('report')
    .description('write one self-contained HTML report of an analysis folder: design, contrasts, maps, tables, viewer')
    .argument('<dir>', 'analysis folder written by vbm run')
    .option('--contrast <which>', 'contrast numbers or names, comma-separated (default: all)')
    .option('--atlas <atlas>', 'label peaks and the viewer with this atlas (name or path)')
    .option('--labels <file>', 'label table for --atlas')
    .option('--display <d>', "slices: 'z', 'y', 'x' or 'ortho'", 'z')
    .option('--cuts <n>', 'slices: number of cuts', '8')
    .option('--no-viewer', 'leave out the interactive viewer (a smaller file)')
    .option('-o, --out <file>', 'HTML file to write (default: report.html in the folder)')
    .option('-q, --quiet', 'no progress'),
).action(async (dir: string, o: Options) => {
  const display = parseDisplay(o);
  const progress = progressReporter(!o.quiet);
  const atlas = o.atlas ? openAtlas(reqStr(o, 'atlas'), str(o, 'labels')) : undefined;
  for (const w of atlas?.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  const out = await runReport(dir, {
    contrasts: parseList(str(o, 'contrast')),
    ...parseThreshold(o),
    atlas,
    display,
    cuts: reqNum(o, 'cuts'),
    background: reqStr(o, 'background'),
    viewer: o.viewer !== false,
    out: str(o, 'out'),
    command: ['vbm', ...process.argv.slice(2)].join(' '),
    onProgress: (stage, d, t) => progress(stage, d, t),
  });
  process.stdout.write(`wrote ${out.file} (${(out.bytes / 1e6).toFixed(1)} MB)\n`);
});

program
  .command('show')
  .description('review a finished analysis folder: scans, design, contrasts, images')
  .argument('<dir>', 'analysis folder written by vbm run')
  .option('--scans', 'list every scan')
  .option('--json', 'print the model record as JSON')
  .action(async (dir: string, o: { scans?: boolean; json?: boolean }) => {
    const abs = resolve(dir);
    // a folder of several models: one subfolder per model
    const dirs = existsSync(join(abs, 'model.json'))
      ? [abs]
      : existsSync(abs)
        ? readdirSync(abs)
            .map((d) => join(abs, d))
            .filter((d) => existsSync(join(d, 'model.json')))
            .sort()
        : [];
    if (dirs.length === 0) openAnalysis(abs); // throws the helpful error
    const shown = dirs.map((d) => {
      const a = openAnalysis(d);
      const files = readdirSync(a.dir)
        .filter((f) => /\.(nii|csv|json)$/.test(f) && !f.startsWith('.'))
        .sort();
      return { a, stages: stageSummary(a.dir), files };
    });
    if (o.json) {
      const list = shown.map(({ a, stages, files }) => ({ dir: a.dir, stages, files, ...a.record }));
      process.stdout.write(
        JSON.stringify(dirs.length === 1 && dirs[0] === abs ? list[0] : { models: list }, null, 1) + '\n',
      );
      return;
    }
    for (const { a, stages, files } of shown) {
      if (shown.length > 1 || dirs[0] !== abs) process.stdout.write(`\n== model ${basename(a.dir)} ==\n`);
      process.stdout.write(describeAnalysis(a, { allScans: o.scans }) + '\n');
      if (stages.length) {
        process.stdout.write(
          '\nStages:\n' +
            formatTable(
              ['stage', 'finished', 'seconds', 'outputs', 'command'],
              stages.map((s) => [s.stage, s.finished, s.seconds.toFixed(1), String(s.outputs), s.command ?? '']),
            ) +
            '\n',
        );
      }
      process.stdout.write(`\nFiles: ${files.join(' ')}\n`);
      const tasks = await jobStates(a.dir);
      if (tasks.length) process.stdout.write(`\nTasks:\n${describeJobStates(tasks)}\n`);
    }
  });

program
  .command('cancel')
  .description('cancel the Slurm jobs (tasks submitted with --backend slurm) of an analysis folder')
  .argument('<dir>', 'analysis folder')
  .action(async (dir: string) => {
    const a = openAnalysis(dir);
    const ids = await cancelJobs(a.dir);
    process.stdout.write(
      ids.length
        ? `cancelled Slurm job${ids.length > 1 ? 's' : ''} ${ids.join(', ')}\n`
        : 'no Slurm job was submitted from this folder\n',
    );
  });

program
  .command('task', { hidden: true })
  .description('run one task file written by --backend (what each local process or Slurm array task runs)')
  .argument('<file>', 'task_NNNN.json')
  .option('--workers <n>', 'worker threads', '1')
  .action(async (file: string, o: Options) => {
    const t = readTaskFile(resolve(file));
    const started = Date.now();
    process.stdout.write(
      `vbm task ${resolve(file)} (job ${t.job}, task ${t.task} of ${t.tasks}) on ${hostname()} pid ${process.pid}, ${new Date().toISOString()}\n`,
    );
    const out = await runTaskFile(resolve(file), t, {
      workers: reqNum(o, 'workers'),
      onNote: (m) => process.stdout.write(`note: ${m}\n`),
    });
    process.stdout.write(`wrote ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

program.parseAsync(process.argv).catch((caught: unknown) => {
  const err = fileErrorAsVbmError(caught);
  process.stderr.write(`vbm: error: ${describeError(err)}\n`);
  process.exit(err instanceof VbmError ? 2 : 1);
});
