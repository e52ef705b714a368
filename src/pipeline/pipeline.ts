/**
 * The staged pipeline behind `vbm run`: design -> estimate -> contrasts -> results -> labels ->
 * permutations -> report, for one or several models over the same scans. Each stage's key hashes what it
 * used (scan contents, design, options, vbm's version) and the key of the stage before, so a
 * re-run skips what is unchanged, a changed contrast re-runs contrasts and what follows, and a
 * changed scan re-runs everything. Outputs are hashed, so a damaged cache entry is recomputed.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError, fileErrorAsVbmError } from '../errors.js';
import { readTable } from '../io/spreadsheet.js';
import { type Design, type DesignOptions } from '../model/designMatrix.js';
import { designFromTable, tableScans } from './tableDesign.js';
import { globalsSource } from '../model/globals.js';
import { cachedScanGlobals } from './scanGlobals.js';
import { buildContrasts } from '../model/contrasts.js';
import { VBM_VERSION } from '../version.js';
import type { AnalysisSpec, ModelSpec } from './analysisFile.js';
import { openAnalysis } from './analysis.js';
import { inspectOutputFolder, runAnalysis } from './run.js';
import { readHeaderOnly } from '../io/nifti/read.js';
import { parseScanRefs } from '../estimation/scanList.js';
import { analysisId } from './modelRecord.js';
import { updateContrasts } from './updateContrasts.js';
import { runResults } from './results.js';
import { openAtlas, runLabel } from './label.js';
import type { Atlas } from '../atlas/atlas.js';
import { type PermuteOutput, type PermuteRequest, runPermute } from './permute.js';
import type { BackendSettings } from '../backend/backend.js';
import { distributedPermute, refuseAccelOnBackend } from '../backend/permuteTasks.js';
import { fitOnBackend } from '../backend/fitTasks.js';
import { runCheck } from './check.js';
import { orthogonalityWarnings } from '../model/orthogonality.js';
import { runReport } from './report.js';
import { MEAN_IMAGE } from './background.js';
import { MODEL_FILE } from './modelRecord.js';
import {
  STAGES,
  type StageName,
  type StagesFile,
  fileSha256,
  hashOf,
  hashOutputs,
  lockFolder,
  readStages,
  removeStaleTemporaries,
  scanFingerprint,
  knownScanHash,
  recordScanHash,
  staleReason,
  statOutputs,
  writeStages,
} from './stages.js';

export interface PipelineOptions {
  /** Re-run every stage. */
  force?: boolean;
  /** Re-run this stage and every later one. */
  from?: StageName;
  /** Replace a folder that holds an analysis of other scans or another design. */
  overwrite?: boolean;
  workers?: number;
  /** Memory budget of the permutation data in bytes (overrides the analysis file's `memory:`). */
  memory?: number;
  /** Run the fit and the permutations as tasks (overrides the analysis file's `backend:`). */
  backend?: BackendSettings;
  /** Interrupted while waiting for Slurm tasks: whether to cancel them. */
  onInterrupt?: () => Promise<'cancel' | 'leave'>;
  command?: string;
  signal?: AbortSignal;
  onProgress?: (stage: string, done: number, total: number) => void;
  log?: (message: string) => void;
  /** Tables and summaries that results, labels and permutations print (default: log). */
  onText?: (text: string) => void;
  /** Called once per stage with what happened to it. */
  onStage?: (
    model: string,
    stage: StageName,
    status: 'cached' | 'ran' | 'not requested',
    why: string,
    seconds: number,
  ) => void;
}

export interface StageReport {
  stage: StageName;
  status: 'cached' | 'ran' | 'not requested';
  why: string;
  seconds: number;
}

export interface ModelReport {
  name: string;
  dir: string;
  stages: StageReport[];
}

export function modelDir(spec: AnalysisSpec, m: ModelSpec): string {
  return spec.multiModel ? join(spec.out, m.name) : spec.out;
}

export async function runPipeline(spec: AnalysisSpec, opts: PipelineOptions = {}): Promise<ModelReport[]> {
  if (opts.from && !STAGES.includes(opts.from))
    throw new VbmError(`--from '${opts.from}' is not a stage`, `the stages are: ${STAGES.join(', ')}`);
  const reports: ModelReport[] = [];
  for (const m of spec.models) reports.push(await runModel(spec, m, opts));
  return reports;
}

async function runModel(spec: AnalysisSpec, model: ModelSpec, opts: PipelineOptions): Promise<ModelReport> {
  const dir = modelDir(spec, model);
  const log = opts.log ?? (() => undefined);
  const text = opts.onText ?? log;
  // Everything that can refuse the run without estimating is checked before the folder is
  // touched: a refused run leaves it exactly as it was (no lock, no vbm-stages.json).
  const table = await readTable(spec.design);
  // read only (written once the folder is locked): the cache of scan hashes and mean globals
  const state = readStages(dir);
  const designOpts: DesignOptions = {
    ...spec.designOptions,
    covariates: model.covariates,
    centring: spec.centring?.perColumn,
    defaultCentring: spec.centring?.default,
    intercept: spec.intercept,
  };
  if (globalsSource(designOpts.globals) === 'mean') {
    designOpts.globalValues = await cachedScanGlobals(state, tableScans(table), (d, t) =>
      opts.onProgress?.('global means', d, t),
    );
  }
  const design = designFromTable(table, designOpts);
  const builtContrasts = buildContrasts(model.contrasts, design);
  const scanFiles = [...new Set(design.scans.map((s) => s.replace(/,(\d+)$/, '')))];
  for (const f of scanFiles)
    if (!existsSync(f)) throw new VbmError(`scan not found: ${f}`, `check the first column of ${spec.design}`);
  // every scan's header (its claimed size checked against the file) and the rows' volumes
  const volumes = new Map<string, number>();
  for (const f of scanFiles) volumes.set(f, (await readHeaderOnly(f)).nVolumes);
  parseScanRefs(design.scans, (p) => volumes.get(p) ?? 1);
  // refused before the folder is touched, not after the fit
  const backend = opts.backend ?? spec.backend;
  if (backend) refuseAccelOnBackend(spec.permute?.accel, backend);
  inspectOutputFolder(
    dir,
    analysisId(design.scanLabels, design.columns, design.X, design.varianceGroups),
    !!opts.overwrite,
  );
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  let release: () => void = () => undefined;
  try {
    release = lockFolder(dir, log);
    return await runModelLocked(spec, model, opts, {
      dir,
      log,
      text,
      table,
      state,
      design,
      designOpts,
      builtContrasts,
      scanFiles,
    });
  } catch (e) {
    throw fileErrorAsVbmError(e);
  } finally {
    release();
    // a folder this run created and left empty (the run failed before writing) goes again
    try {
      if (created && readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      /* not ours to clean */
    }
  }
}

interface Prepared {
  dir: string;
  log: (m: string) => void;
  text: (m: string) => void;
  design: Design;
  table: Awaited<ReturnType<typeof readTable>>;
  state: StagesFile;
  designOpts: DesignOptions;
  builtContrasts: ReturnType<typeof buildContrasts>;
  scanFiles: string[];
}

async function runModelLocked(
  spec: AnalysisSpec,
  model: ModelSpec,
  opts: PipelineOptions,
  prep: Prepared,
): Promise<ModelReport> {
  const { dir, log, text, table, state, design, designOpts, builtContrasts, scanFiles } = prep;
  const removed = removeStaleTemporaries(dir);
  if (removed) log(`removed ${removed} temporary file(s) left by an interrupted run`);
  // vbm-stages.json is rewritten only once a stage has written files (or at the end of a
  // successful run): a run that fails early leaves it as it was
  let unsaved = false;
  const report: ModelReport = { name: model.name, dir, stages: [] };
  const fromIndex = opts.force ? 0 : opts.from ? STAGES.indexOf(opts.from) : Infinity;
  /** `key` may be a function when it is known only after the stage ran (scans hashed while read). */
  const stage = async (
    name: StageName,
    keyOrLater: string | null | (() => string),
    run: () => Promise<string[]> | string[],
  ): Promise<void> => {
    let key = typeof keyOrLater === 'function' ? null : keyOrLater;
    const t0 = performance.now();
    if (keyOrLater === null) {
      if (state.stages[name]) {
        delete state.stages[name];
        unsaved = true;
      }
      report.stages.push({ stage: name, status: 'not requested', why: '', seconds: 0 });
      opts.onStage?.(model.name, name, 'not requested', '', 0);
      return;
    }
    const forced = STAGES.indexOf(name) >= fromIndex;
    const reason = forced
      ? opts.force
        ? '--force'
        : `--from ${opts.from}`
      : key === null
        ? 'not run yet'
        : staleReason(dir, state.stages[name], key);
    if (reason === null) {
      report.stages.push({ stage: name, status: 'cached', why: '', seconds: 0 });
      opts.onStage?.(model.name, name, 'cached', '', (performance.now() - t0) / 1000);
      return;
    }
    if (opts.signal?.aborted) throw new VbmError('interrupted', 'run the same command again to resume');
    const files = await run();
    // outputs of the stage's previous run that this run did not write (a dropped or retyped contrast) go
    const fresh = new Set(files);
    for (const f of Object.keys(state.stages[name]?.outputs ?? {}))
      if (!fresh.has(f)) rmSync(join(dir, f), { force: true });
    const seconds = (performance.now() - t0) / 1000;
    if (typeof keyOrLater === 'function') key = keyOrLater();
    state.stages[name] = {
      key: key as string,
      finished: new Date().toISOString(),
      seconds,
      outputs: hashOutputs(dir, files),
      stats: statOutputs(dir, files),
      ...(opts.command ? { command: opts.command } : {}),
    };
    if (files.length) {
      writeStages(dir, state);
      unsaved = false;
    } else unsaved = true;
    report.stages.push({ stage: name, status: 'ran', why: reason, seconds });
    opts.onStage?.(model.name, name, 'ran', reason, seconds);
  };

  // design: the spreadsheet read into the design matrix
  const designKey = hashOf({
    v: VBM_VERSION,
    columns: design.columns,
    X: design.X,
    scans: design.scans,
    gSF: design.globals?.gSF ?? null,
    variance: design.varianceGroups ? [...design.varianceGroups] : null,
  });
  await stage('design', designKey, () => []);

  // estimate: scan contents, masks
  // the cache decision needs the scans' content hashes only when the estimate stage has a record
  // to compare with and a scan's size, mtime or inode changed; otherwise (a new folder, --force,
  // --from) the fit hashes each scan while it streams it, and the key is made afterwards. The
  // sample check, run before the fit, needs them first.
  const estimateForced = STAGES.indexOf('estimate') >= fromIndex;
  const known = scanFiles.map((f) => knownScanHash(state, f));
  const deferHashes = !spec.check && known.some((h) => h === undefined) && (estimateForced || !state.stages.estimate);
  let scanHashes = deferHashes ? [] : scanFiles.map((f, i) => known[i] ?? scanFingerprint(state, f));
  const masking = {
    explicitMask: spec.mask,
    implicit: spec.implicitMask,
    threshold:
      spec.threshold?.absolute !== undefined
        ? { type: 'absolute' as const, value: spec.threshold.absolute }
        : spec.threshold?.relative !== undefined
          ? { type: 'relative' as const, value: spec.threshold.relative }
          : { type: 'none' as const },
  };
  const maskSha = spec.mask && existsSync(spec.mask) ? fileSha256(spec.mask) : null;
  const keyOfEstimate = (): string => hashOf({ designKey, scanHashes, masking, maskSha });
  // check: sample homogeneity over the scans (its own key: a changed check setting re-runs it alone)
  const checkKey = spec.check
    ? hashOf({
        v: VBM_VERSION,
        scans: design.scans,
        scanHashes,
        check: spec.check,
        table: table.rows,
        maskSha: spec.mask && existsSync(spec.mask) ? fileSha256(spec.mask) : null,
      })
    : null;
  await stage('check', checkKey, async () => {
    const res = await runCheck({
      design: spec.design,
      out: dir,
      mask: spec.mask,
      globals: spec.check!.globals,
      nuisance: spec.check!.nuisance,
      onProgress: opts.onProgress,
    });
    text(`${res.text}\n  wrote ${res.files.join(', ')}`);
    return res.files;
  });
  for (const w of orthogonalityWarnings(design.columns, design.X, builtContrasts)) log(`warning: ${w.message}`);
  let estimatedNow = false;
  await stage('estimate', deferHashes ? () => keyOfEstimate() : keyOfEstimate(), async () => {
    const backend = opts.backend ?? spec.backend;
    const res = await runAnalysis({
      design: spec.design,
      out: dir,
      contrasts: model.contrasts,
      ...designOpts,
      masking,
      overwrite: opts.overwrite,
      workers: opts.workers ?? spec.workers,
      fitSums: backend
        ? (job, onScan) =>
            fitOnBackend(dir, job, backend, onScan, {
              signal: opts.signal,
              rerun: opts.command,
              onInterrupt: opts.onInterrupt,
              onProgress: (d, t) => opts.onProgress?.(`${backend.type} tasks (fit)`, d, t),
              onNote: (m) => log(`note: ${m}`),
            })
        : undefined,
      command: opts.command,
      onProgress: opts.onProgress,
      log,
    });
    estimatedNow = true;
    if (deferHashes) {
      // single-file scans were hashed by the fit as it read them (whole file, as fileSha256 does)
      const streamed = new Map(res.record.scans.map((s) => [s.path, s.sha256]));
      scanHashes = scanFiles.map((f) => {
        const h = /\.nii(\.gz)?$/i.test(f) ? streamed.get(f) : undefined;
        return h ? recordScanHash(state, f, h) : scanFingerprint(state, f);
      });
    }
    return [
      ...res.record.images.beta,
      res.record.images.ResMS,
      res.record.images.mask,
      res.record.images.RPV,
      'smoothness.json',
    ];
  });
  const estimateKey = keyOfEstimate();
  const contrastsKey = hashOf({ estimateKey, contrasts: builtContrasts.map((c) => [c.name, c.type, c.weights]) });
  // contrasts: computed from the saved model (or already written by the estimate stage)
  await stage('contrasts', contrastsKey, () => {
    if (estimatedNow) {
      const rec = openAnalysis(dir).record;
      return [...rec.contrasts.flatMap((c) => [c.images.effect, c.images.stat]), MODEL_FILE];
    }
    return updateContrasts(dir, design, model.contrasts, opts.command);
  });
  const contrastCount = model.contrasts.length;
  // the atlas, read once for the results and labels stages (the 4-D ones are large)
  let atlasCache: Atlas | undefined;
  const loadedAtlas = (): Atlas => (atlasCache ??= openAtlas(spec.atlas!.name, spec.atlas!.labels));
  // results: every contrast at the spec's thresholds
  const resultsKey =
    spec.results && contrastCount ? hashOf({ contrastsKey, results: spec.results, atlas: spec.atlas ?? null }) : null;
  await stage('results', resultsKey, () => {
    const a = openAnalysis(dir);
    const r = spec.results!;
    const atlas = spec.atlas ? loadedAtlas() : undefined;
    const files: string[] = [];
    for (const c of a.record.contrasts) {
      const out = runResults(a, {
        contrast: c.index,
        threshold: r.threshold,
        correction: r.correction,
        extent: r.extent,
        peaksPerCluster: r.peaks,
        peakDistanceMm: r.peakDistance,
        maps: r.maps,
        atlas,
      });
      text(`${out.text}\n  wrote ${out.files.join(', ')}`);
      files.push(...out.files);
    }
    return files;
  });
  const labelsKey = spec.atlas && resultsKey ? hashOf({ resultsKey, atlas: spec.atlas }) : null;
  await stage('labels', labelsKey, () => {
    const a = openAnalysis(dir);
    const r = spec.results!;
    const at = spec.atlas!;
    const atlas = loadedAtlas();
    for (const w of atlas.warnings) log(`warning: ${w}`);
    const files: string[] = [];
    for (const c of a.record.contrasts) {
      const out = runLabel(dir, {
        contrast: c.index,
        threshold: r.threshold,
        correction: r.correction,
        extent: r.extent,
        peaksPerCluster: r.peaks,
        peakDistanceMm: r.peakDistance,
        atlas,
        modes: at.modes,
        radiusMm: at.radius,
      });
      text(`${out.text}\n  wrote ${out.files.join(', ')}`);
      files.push(...out.files);
    }
    return files;
  });
  const permKey = spec.permute && contrastCount ? hashOf({ contrastsKey, permute: spec.permute }) : null;
  await stage('permutations', permKey, async () => {
    const a = openAnalysis(dir);
    const p = spec.permute!;
    const which = p.contrasts ?? a.record.contrasts.map((c) => c.index);
    const files: string[] = [];
    const backend = opts.backend ?? spec.backend;
    for (const c of which) {
      const req = {
        contrast: c,
        permutations: p.permutations,
        seed: p.seed,
        tfce: p.tfce,
        clusterThreshold: p.clusterThreshold,
        connectivity: p.connectivity,
        accel: p.accel,
        workers: opts.workers ?? spec.workers,
        memory: opts.memory ?? spec.memory,
        signal: opts.signal,
        onProgress: (d: number, t: number) => opts.onProgress?.(`permutations (contrast ${c})`, d, t),
        onNote: (msg: string) => log(`note: ${msg}`),
      };
      const out = backend ? await permuteOnBackend(dir, req, backend, opts) : await runPermute(dir, req);
      text(`${out.text}\n  wrote ${out.files.join(', ')}`);
      files.push(...out.files);
    }
    return files;
  });
  // report: the HTML report, last, so that a changed threshold or picture option redraws only it
  const reportKey =
    spec.report && contrastCount
      ? hashOf({
          contrastsKey,
          report: spec.report,
          atlas: spec.atlas ?? null,
          ...(checkKey ? { checkKey } : {}),
          // the report draws the permutation maps when they exist: new permutations redraw it
          ...(permKey ? { permKey } : {}),
        })
      : null;
  await stage('report', reportKey, async () => {
    const r = spec.report!;
    const out = await runReport(dir, {
      threshold: r.threshold,
      correction: r.correction,
      extent: r.extent,
      sign: r.sign,
      display: r.display,
      cuts: r.cuts,
      background: r.background,
      viewer: r.viewer,
      atlas: spec.atlas ? loadedAtlas() : undefined,
      out: join(dir, r.file),
      command: opts.command,
      onProgress: opts.onProgress,
    });
    text(`wrote ${out.file} (${(out.bytes / 1e6).toFixed(1)} MB)`);
    return r.background === 'mean' ? [r.file, MEAN_IMAGE] : [r.file];
  });
  if (unsaved) writeStages(dir, state);
  return report;
}

/** What `vbm show` lists of the stages of an analysis folder. */
export function stageSummary(
  dir: string,
): { stage: StageName; finished: string; seconds: number; outputs: number; command?: string }[] {
  const s = readStages(dir);
  return STAGES.filter((n) => s.stages[n]).map((n) => ({
    stage: n,
    finished: s.stages[n]!.finished,
    seconds: s.stages[n]!.seconds,
    outputs: Object.keys(s.stages[n]!.outputs).length,
    command: s.stages[n]!.command,
  }));
}

/** The permutations of one contrast as tasks on a backend; without waiting, the stage stops after submitting. */
async function permuteOnBackend(
  dir: string,
  req: PermuteRequest,
  backend: BackendSettings,
  opts: PipelineOptions,
): Promise<PermuteOutput> {
  const d = await distributedPermute(dir, { ...req, signal: undefined }, backend, {
    signal: opts.signal,
    rerun: opts.command,
    onInterrupt: opts.onInterrupt,
    onProgress: (done, total) =>
      opts.onProgress?.(`${backend.type} tasks (contrast ${String(req.contrast)})`, done, total),
    onNote: req.onNote,
  });
  if (!d.output) {
    throw new VbmError(
      `the permutations of contrast ${String(req.contrast)} were submitted as ${d.job.tasks} ${backend.type} tasks (${d.job.dir}) and are not finished`,
      'the same command run again when they are done (vbm show follows them) merges their results and goes on',
    );
  }
  return d.output;
}
