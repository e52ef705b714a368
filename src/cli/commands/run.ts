/** vbm run: estimate a model from a spreadsheet or an analysis file, then the stages it asks for. */
import { Command } from 'commander';
import { VbmError } from '../../errors.js';
import { type ContrastSpec, parseInlineContrast } from '../../model/contrasts.js';
import { readContrastsFile } from '../../pipeline/contrastsFile.js';
import { openAnalysis } from '../../pipeline/analysis.js';
import { describeAnalysis } from '../../pipeline/show.js';
import { progressReporter } from '../progress.js';
import { interruptible } from '../interrupt.js';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AnalysisSpec, isAnalysisFile, parseAnalysisSpec, readAnalysisFile } from '../../pipeline/analysisFile.js';
import { runPipeline } from '../../pipeline/pipeline.js';
import { STAGES, type StageName } from '../../pipeline/stages.js';
import {
  DESIGN_FLAGS,
  designKeysFromFlags,
  type Options,
  num,
  parseCentring,
  parseList,
  reqNum,
  reqStr,
  str,
  strs,
  thresholdMasking,
} from '../options.js';
import { askCancel, backendOptions, parseBackendOptions } from '../backendOptions.js';
import { parseResultsOptions } from '../resultsOptions.js';

export function runCommand(program: Command): void {
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
      .option(
        '--absolute-threshold <value>',
        'threshold masking: analyse voxels whose value exceeds this in every scan',
      )
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
}
