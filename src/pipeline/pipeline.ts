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
import { readTable } from '../node/spreadsheet.js';
import { removeStaleTemporaries } from '../node/atomic.js';
import { lockFolder } from '../node/folderLock.js';
import type { DesignOptions } from '../model/designMatrix.js';
import { designFromTable, tableScans } from './tableDesign.js';
import { globalsSource } from '../model/globals.js';
import { cachedScanGlobals } from './scanGlobals.js';
import { buildContrasts } from '../model/contrasts.js';
import type { AnalysisSpec, ModelSpec } from './analysisFile.js';
import { inspectOutputFolder } from './run.js';
import { readHeadersOnly, readPlainHeaders } from '../node/nifti/read.js';
import { parseScanRefs } from '../estimation/scanList.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { analysisId } from './modelRecord.js';
import type { BackendSettings } from './backendSettings.js';
import { type TaskBackend, TasksSubmitted } from './taskBackend.js';
import { MODEL_STAGES, type ModelRun, type StageDef, modelRun, needTaskBackend } from './modelStages.js';
import {
  STAGES,
  type StageName,
  hashOutputs,
  knownScanHash,
  readStages,
  staleReason,
  statOutputs,
  writeStages,
} from './stages.js';

/** How to run the pipeline: forced or partial re-runs, workers, backend, progress, logging and cancellation. */
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
  /** What runs them: src/backend's backendTasks() (the CLI and vbm's index pass it). */
  tasks?: TaskBackend;
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

/** What the pipeline did for one model: its folder and the status of each stage (ran, cached, not requested). */
export interface ModelReport {
  name: string;
  dir: string;
  stages: StageReport[];
  /** Not waiting (--no-wait): the tasks a stage submitted, what they are, and what follows (the later stages did not run). */
  submitted?: { stage: StageName; message: string; hint: string; jobDirs: string[] };
}

export function modelDir(spec: AnalysisSpec, m: ModelSpec): string {
  return spec.multiModel ? join(spec.out, m.name) : spec.out;
}

/** Run an analysis spec stage by stage (design, estimate, contrasts, results, labels, permutations, report), reusing stages whose inputs are unchanged. */
export async function runPipeline(spec: AnalysisSpec, opts: PipelineOptions = {}): Promise<ModelReport[]> {
  if (opts.from && !STAGES.includes(opts.from))
    throw new VbmError(`--from '${opts.from}' is not a stage`, `the stages are: ${STAGES.join(', ')}`);
  const backend = opts.backend ?? spec.backend;
  if (backend && spec.models.length > 1) return runStageByStage(spec, opts);
  const reports: ModelReport[] = [];
  for (const m of spec.models) reports.push(await runModel(spec, m, opts));
  return reports;
}

/** A model prepared for its stages: checked, its folder locked. */
interface Locked {
  run: ModelRun;
  fromIndex: number;
  /** Unlock the folder (and remove it when this run created it and left it empty). */
  release: () => void;
}

/**
 * Everything that can refuse the run without estimating is checked before the folder is
 * touched (a refused run leaves it exactly as it was: no lock, no vbm-stages.json); then the
 * folder is locked.
 */
async function prepareModel(spec: AnalysisSpec, model: ModelSpec, opts: PipelineOptions): Promise<Locked> {
  const dir = modelDir(spec, model);
  const log = opts.log ?? (() => undefined);
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
  // the design and its contrasts, built once for every stage (keys and fit alike)
  const design = designFromTable(table, designOpts);
  const contrasts = buildContrasts(model.contrasts, design);
  const scanFiles = [...new Set(design.scans.map((s) => s.replace(/,(\d+)$/, '')))];
  // every scan's header (its claimed size checked against the file) and the rows' volumes: plain
  // .nii scans in one read each; otherwise, or when one is missing or refused, every scan checked in
  // turn (whose messages say what is wrong)
  const scanHeaders = readPlainHeaders(scanFiles) ?? (await checkedHeaders(scanFiles, spec.design));
  parseScanRefs(design.scans, (p) => scanHeaders.get(p)?.nVolumes ?? 1);
  // refused before the folder is touched, not after the fit
  const backend = opts.backend ?? spec.backend;
  if (backend && !opts.tasks) throw needTaskBackend(backend);
  inspectOutputFolder(
    dir,
    analysisId(design.scanLabels, design.columns, design.X, design.varianceGroups),
    !!opts.overwrite,
  );
  const created = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  const cleanup = (): void => {
    // a folder this run created and left empty (the run failed before writing) goes again
    try {
      if (created && readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      /* not ours to clean */
    }
  };
  let unlock: () => void;
  try {
    unlock = lockFolder(dir, log);
  } catch (e) {
    cleanup();
    throw fileErrorAsVbmError(e);
  }
  const fromIndex = opts.force ? 0 : opts.from ? STAGES.indexOf(opts.from) : Infinity;
  let run: ModelRun;
  try {
    run = modelRun({
      spec,
      model,
      opts,
      dir,
      log,
      text: opts.onText ?? log,
      table,
      state,
      design,
      designOpts,
      contrasts,
      scanFiles,
      scanHeaders,
      backend,
      knownHashes: scanFiles.map((f) => knownScanHash(state, f)),
      estimateForced: STAGES.indexOf('estimate') >= fromIndex,
    });
  } catch (e) {
    unlock();
    cleanup();
    throw fileErrorAsVbmError(e);
  }
  return {
    run,
    fromIndex,
    release: () => {
      unlock();
      cleanup();
    },
  };
}

/** Every scan's header, after checking that every scan exists (a missing one named before any header is read). */
async function checkedHeaders(scanFiles: string[], design: string): Promise<Map<string, NiftiHeader>> {
  for (const f of scanFiles)
    if (!existsSync(f)) throw new VbmError(`scan not found: ${f}`, `check the first column of ${design}`);
  return readHeadersOnly(scanFiles);
}

async function runModel(spec: AnalysisSpec, model: ModelSpec, opts: PipelineOptions): Promise<ModelReport> {
  const locked = await prepareModel(spec, model, opts);
  try {
    const w = stageWalker(locked.run, locked.fromIndex);
    for (const def of MODEL_STAGES) if (!(await w.step(def))) break;
    return w.finish();
  } catch (e) {
    throw fileErrorAsVbmError(e);
  } finally {
    locked.release();
  }
}

/**
 * Several models on a task backend: stage by stage, each stage of every model at once, so that
 * the models' fits (then their permutations) are submitted together and no model waits for
 * another's tasks. A model whose stage fails or is left submitted (--no-wait) stops; the others
 * go on; the first failure is thrown once every model has stopped.
 */
async function runStageByStage(spec: AnalysisSpec, opts: PipelineOptions): Promise<ModelReport[]> {
  const locked: Locked[] = [];
  try {
    for (const m of spec.models) locked.push(await prepareModel(spec, m, opts));
    const walkers = locked.map((l) => stageWalker(l.run, l.fromIndex));
    const going = walkers.map(() => true);
    let failure: unknown;
    for (const def of MODEL_STAGES) {
      const settled = await Promise.allSettled(
        walkers.map((w, i) => (going[i] ? w.step(def) : Promise.resolve(false))),
      );
      settled.forEach((s, i) => {
        if (s.status === 'rejected') {
          failure ??= s.reason;
          going[i] = false;
        } else going[i] = s.value;
      });
    }
    const reports = walkers.map((w) => w.finish());
    if (failure !== undefined) throw fileErrorAsVbmError(failure);
    return reports;
  } finally {
    for (const l of locked) l.release();
  }
}

/** One model's walk through the stage table: each stage cached, run, or not requested. */
function stageWalker(
  r: ModelRun,
  fromIndex: number,
): { step: (def: StageDef) => Promise<boolean>; finish: () => ModelReport } {
  const { dir, state, opts, model } = r;
  const removed = removeStaleTemporaries(dir);
  if (removed) r.log(`removed ${removed} temporary file(s) left by an interrupted run`);
  // vbm-stages.json is rewritten only once a stage has written files (or at the end of a
  // successful run): a run that fails early leaves it as it was
  let unsaved = false;
  const report: ModelReport = { name: model.name, dir, stages: [] };
  const stage = async (def: StageDef): Promise<void> => {
    const { name } = def;
    def.before?.(r);
    const keyOrLater = def.key(r);
    let key = typeof keyOrLater === 'function' ? null : keyOrLater;
    r.keys[name] = key;
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
    const files = await def.run(r);
    // outputs of the stage's previous run that this run did not write (a dropped or retyped contrast) go
    const fresh = new Set(files);
    for (const f of Object.keys(state.stages[name]?.outputs ?? {}))
      if (!fresh.has(f)) rmSync(join(dir, f), { force: true });
    const seconds = (performance.now() - t0) / 1000;
    if (typeof keyOrLater === 'function') key = keyOrLater();
    r.keys[name] = key;
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
  return {
    /** Resolves to false when the walk stops here (tasks submitted and not waited for). */
    step: async (def) => {
      try {
        await stage(def);
        return true;
      } catch (e) {
        // not waiting for tasks: the stage and the ones after it wait for the next run of the command
        if (!(e instanceof TasksSubmitted)) throw e;
        report.submitted = { stage: def.name, message: e.message, hint: e.hint ?? '', jobDirs: e.jobDirs };
        return false;
      }
    },
    finish: () => {
      if (unsaved) writeStages(dir, state);
      unsaved = false;
      return report;
    },
  };
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
