/** vbm run: estimate a model from a spreadsheet or an analysis file, then the stages it asks for. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VbmError } from '../../errors.js';
import { type ContrastSpec, parseInlineContrast } from '../../model/contrasts.js';
import { openAnalysis } from '../../pipeline/analysis.js';
import { describeAnalysis } from '../../pipeline/show.js';
import { progressReporter } from '../progress.js';
import { interruptible } from '../interrupt.js';
import { type AnalysisSpec, isAnalysisFile, parseAnalysisSpec } from '../../pipeline/analysisFile.js';
import { runPipeline } from '../../pipeline/pipeline.js';
import { STAGES, type StageName } from '../../pipeline/stages.js';
import { designKeysFromFlags, type Options, parseCentring, strs } from '../options.js';
import { askCancel, backendOptions, parseBackendOptions } from '../backendOptions.js';
import { resultsOptions } from '../resultsOptions.js';
import { ATLAS, CHECK, DESIGN, PERMUTE, RESULTS, RUN } from '../../settings/vocabulary.js';
import { longFlag, optionKey, type Setting } from '../../settings/setting.js';
import { addSetting, addSettings, flagNumber, flagSwitch, flagText, flagValue, given } from '../settingOptions.js';

/** Flags that an analysis file says in its own words: given with one, they are refused. */
const SAID_IN_THE_FILE: Setting[] = [
  RUN.mask,
  RUN.contrasts,
  RUN.contrast,
  RUN.covariates,
  RUN.centring,
  ...Object.values(DESIGN),
  RUN.absoluteThreshold,
  RUN.relativeThreshold,
  RUN.results,
  ATLAS.atlas,
  PERMUTE.permutations,
  PERMUTE.accel,
  RUN.report,
  RUN.check,
  CHECK.nuisance,
];

export function runCommand(program: Command): void {
  const cmd = program
    .command('run')
    .description(
      'estimate a multiple-regression model from a spreadsheet of scans (or run an analysis file) and write SPM12-named maps; unchanged stages are reused',
    )
    .argument(
      '<design>',
      'spreadsheet (.xlsx, .csv, .tsv: first column scan paths, then numeric covariates), or an analysis file (.yaml, .json)',
    );
  addSettings(cmd, [
    RUN.out,
    RUN.mask,
    RUN.implicitMask,
    RUN.absoluteThreshold,
    RUN.relativeThreshold,
    RUN.contrasts,
    RUN.contrast,
    RUN.covariates,
    RUN.centring,
    RUN.intercept,
    ...Object.values(DESIGN),
    RUN.overwrite,
    RUN.force,
  ]);
  addSetting(cmd, RUN.from, { help: `${RUN.from.help} (${STAGES.join(', ')})` });
  addSettings(cmd, [RUN.workers, RUN.memory, RUN.quiet, RUN.results]);
  resultsOptions(cmd, { prefix: 'with --results' });
  addSetting(cmd, ATLAS.atlas, { help: 'label the results with this atlas (implies --results)' });
  addSetting(cmd, ATLAS.labels, { help: 'label table for --atlas' });
  addSetting(cmd, PERMUTE.permutations, {
    help: 'also run permutation inference on every contrast with this many permutations',
    default: false,
  });
  addSetting(cmd, PERMUTE.tfce, { prefix: 'with --permutations', help: 'TFCE' });
  addSetting(cmd, PERMUTE.clusterThreshold, { prefix: 'with --permutations' });
  addSetting(cmd, PERMUTE.seed, { prefix: 'with --permutations', help: 'random seed' });
  addSetting(cmd, PERMUTE.accel, {
    prefix: 'with --permutations',
    help: "'tail', 'gamma', 'stop', or 'tail,stop' / 'gamma,stop' (see vbm permute --help)",
  });
  addSettings(cmd, [RUN.report, RUN.check]);
  addSetting(cmd, CHECK.nuisance, { prefix: 'with --check', help: 'columns regressed out (e.g. age,sex)' });
  backendOptions(cmd).action(async (designPath: string, o: Options) => {
    const backend = parseBackendOptions(o);
    const quiet = flagSwitch(o, RUN.quiet);
    const log = (m: string): void => {
      if (!quiet) process.stderr.write(`${m}\n`);
    };
    const onCommandLine = (s: Setting): boolean => cmd.getOptionValueSource(optionKey(s)) === 'cli';
    let spec: AnalysisSpec;
    const out = flagText(o, RUN.out);
    if (isAnalysisFile(designPath)) {
      // the YAML parser, the task backends and the contrasts file's reader load only when asked for
      // (loading modules is most of `vbm run`'s start-up)
      const { readAnalysisFile } = await import('../../pipeline/analysisFileRead.js');
      spec = readAnalysisFile(designPath);
      if (out) spec.out = resolve(out);
      const extra = SAID_IN_THE_FILE.filter(onCommandLine);
      if (extra.length)
        throw new VbmError(
          `with an analysis file, say ${extra.map(longFlag).join(', ')} in the file`,
          'or run the spreadsheet directly with these options',
        );
    } else {
      if (!out)
        throw new VbmError(
          '-o/--out <dir> is required with a spreadsheet',
          'or give an analysis file (vbm init writes one)',
        );
      const contrasts: ContrastSpec[] = [];
      const contrastsFile = flagText(o, RUN.contrasts);
      if (contrastsFile) {
        const { readContrastsFile } = await import('../../pipeline/contrastsFile.js');
        contrasts.push(...readContrastsFile(contrastsFile));
      }
      for (const c of strs(o, optionKey(RUN.contrast)) ?? []) contrasts.push(parseInlineContrast(c));
      // the flags as the analysis file's keys, validated by its parser with the flags' names
      const raw: Record<string, unknown> = {
        design: resolve(designPath),
        out: resolve(out),
        intercept: given(o, RUN.intercept),
        implicit_mask: given(o, RUN.implicitMask),
      };
      if (!existsSync(resolve(designPath))) throw new VbmError(`design spreadsheet not found: ${resolve(designPath)}`);
      const mask = flagText(o, RUN.mask);
      if (mask) raw.mask = resolve(mask);
      raw.covariates = given(o, RUN.covariates);
      const centringFlag = flagText(o, RUN.centring);
      if (centringFlag) {
        const centring = parseCentring(centringFlag);
        raw.centring = { ...(centring.default ? { default: centring.default } : {}), ...centring.perColumn };
      }
      const absolute = given(o, RUN.absoluteThreshold);
      const relative = given(o, RUN.relativeThreshold);
      if (absolute !== undefined || relative !== undefined) raw.threshold_masking = { absolute, relative };
      Object.assign(raw, designKeysFromFlags(o));
      const atlas = flagText(o, ATLAS.atlas);
      if (flagSwitch(o, RUN.results) || atlas) {
        raw.results = {
          threshold: given(o, RESULTS.threshold),
          correction: given(o, RESULTS.correction),
          extent: given(o, RESULTS.extent),
          peaks: given(o, RESULTS.peaks),
          peak_distance: given(o, RESULTS.peakDistance),
          maps: given(o, RESULTS.maps),
        };
      }
      if (atlas) {
        const labels = flagText(o, ATLAS.labels);
        raw.atlas = { name: atlas, ...(labels ? { labels: resolve(labels) } : {}) };
      }
      if (given(o, PERMUTE.permutations) !== undefined) {
        raw.permute = {
          permutations: given(o, PERMUTE.permutations),
          seed: given(o, PERMUTE.seed),
          tfce: flagSwitch(o, PERMUTE.tfce),
          cluster_threshold: given(o, PERMUTE.clusterThreshold),
          accel: given(o, PERMUTE.accel),
        };
      } else if (given(o, PERMUTE.accel) !== undefined)
        throw new VbmError('--accel goes with --permutations', 'add --permutations N, or drop --accel');
      if (flagSwitch(o, RUN.report)) raw.report = true;
      // the check scales by the design's user globals (--globals user:COLUMN): parseAnalysisSpec sees to it
      const nuisance = given(o, CHECK.nuisance);
      if (flagSwitch(o, RUN.check)) raw.check = nuisance ? { nuisance } : true;
      else if (nuisance) throw new VbmError('--nuisance goes with --check', 'add --check, or run vbm check');
      spec = parseAnalysisSpec(raw, process.cwd(), 'command line', 'cli');
      spec.models[0].contrasts = contrasts;
    }
    const t0 = Date.now();
    const progress = progressReporter(!quiet);
    const tasks =
      (backend ?? spec.backend) ? (await import('../../backend/pipelineTasks.js')).backendTasks() : undefined;
    const reports = await interruptible(
      'the current stage stops at its next safe point; nothing half-written is kept',
      (signal) =>
        runPipeline(spec, {
          force: flagSwitch(o, RUN.force),
          from: flagText<StageName>(o, RUN.from),
          overwrite: flagSwitch(o, RUN.overwrite),
          workers: flagNumber(o, RUN.workers),
          memory: flagValue(o, RUN.memory) as number | undefined,
          backend,
          tasks,
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
    const submitted = reports.filter((r) => r.submitted);
    log(`${submitted.length ? 'submitted' : 'done'} in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${spec.out}`);
    for (const r of reports) {
      if (spec.multiModel) process.stdout.write(`\n== model '${r.name}' ==\n`);
      if (r.submitted) process.stdout.write(`${r.submitted.stage}: ${r.submitted.message}; ${r.submitted.hint}\n`);
      else process.stdout.write(describeAnalysis(openAnalysis(r.dir)) + '\n');
    }
    const settings = backend ?? spec.backend;
    if (submitted.length && settings?.type === 'slurm') {
      const { submitReduce } = await import('../../backend/reduceJob.js');
      const id = await submitReduce(
        submitted.flatMap((r) => r.submitted!.jobDirs),
        settings,
        { argv: process.argv.slice(1), cwd: process.cwd() },
      );
      process.stdout.write(`reduce: Slurm job ${id} runs this command again when the tasks have succeeded\n`);
    }
  });
}
