/**
 * The staged pipeline behind `vbm run`: design -> estimate -> contrasts -> results -> labels ->
 * permutations -> report, for one or several models over the same scans. Each stage's key hashes what it
 * used (scan contents, design, options, vbm's version) and the key of the stage before, so a
 * re-run skips what is unchanged, a changed contrast re-runs contrasts and what follows, and a
 * changed scan re-runs everything. Outputs are hashed, so a damaged cache entry is recomputed.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import { readTable } from '../io/spreadsheet.js';
import { designMatrix } from '../model/designMatrix.js';
import { buildContrasts } from '../model/contrasts.js';
import { VBM_VERSION } from '../version.js';
import type { AnalysisSpec, ModelSpec } from './analysisFile.js';
import { openAnalysis } from './analysis.js';
import { runAnalysis } from './run.js';
import { updateContrasts } from './updateContrasts.js';
import { runResults } from './results.js';
import { openAtlas, runLabel } from './label.js';
import type { Atlas } from '../atlas/atlas.js';
import { runPermute } from './permute.js';
import { runReport } from './report.js';
import { MEAN_IMAGE } from '../plot/background.js';
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
  command?: string;
  signal?: AbortSignal;
  onProgress?: (stage: string, done: number, total: number) => void;
  log?: (message: string) => void;
  /** Tables and summaries that results, labels and permutations print (default: log). */
  onText?: (text: string) => void;
  /** Called once per stage with what happened to it. */
  onStage?: (model: string, stage: StageName, status: 'cached' | 'ran' | 'not requested', why: string, seconds: number) => void;
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
  if (opts.from && !STAGES.includes(opts.from)) throw new VbmError(`--from '${opts.from}' is not a stage`, `the stages are: ${STAGES.join(', ')}`);
  const reports: ModelReport[] = [];
  for (const m of spec.models) reports.push(await runModel(spec, m, opts));
  return reports;
}

async function runModel(spec: AnalysisSpec, model: ModelSpec, opts: PipelineOptions): Promise<ModelReport> {
  const dir = modelDir(spec, model);
  const log = opts.log ?? (() => undefined);
  const text = opts.onText ?? log;
  mkdirSync(dir, { recursive: true });
  const release = lockFolder(dir, log);
  try {
    const removed = removeStaleTemporaries(dir);
    if (removed) log(`removed ${removed} temporary file(s) left by an interrupted run`);
    const state: StagesFile = readStages(dir);
    const report: ModelReport = { name: model.name, dir, stages: [] };
    const fromIndex = opts.force ? 0 : opts.from ? STAGES.indexOf(opts.from) : Infinity;
    /** `key` may be a function when it is known only after the stage ran (scans hashed while read). */
    const stage = async (name: StageName, keyOrLater: string | null | (() => string), run: () => Promise<string[]> | string[]): Promise<void> => {
      let key = typeof keyOrLater === 'function' ? null : keyOrLater;
      const t0 = performance.now();
      if (keyOrLater === null) {
        if (state.stages[name]) delete state.stages[name];
        report.stages.push({ stage: name, status: 'not requested', why: '', seconds: 0 });
        opts.onStage?.(model.name, name, 'not requested', '', 0);
        return;
      }
      const forced = STAGES.indexOf(name) >= fromIndex;
      const reason = forced ? (opts.force ? '--force' : `--from ${opts.from}`) : key === null ? 'not run yet' : staleReason(dir, state.stages[name], key);
      if (reason === null) {
        report.stages.push({ stage: name, status: 'cached', why: '', seconds: 0 });
        opts.onStage?.(model.name, name, 'cached', '', (performance.now() - t0) / 1000);
        return;
      }
      if (opts.signal?.aborted) throw new VbmError('interrupted', 'run the same command again to resume');
      const files = await run();
      // outputs of the stage's previous run that this run did not write (a dropped or retyped contrast) go
      const fresh = new Set(files);
      for (const f of Object.keys(state.stages[name]?.outputs ?? {})) if (!fresh.has(f)) rmSync(join(dir, f), { force: true });
      const seconds = (performance.now() - t0) / 1000;
      if (typeof keyOrLater === 'function') key = keyOrLater();
      state.stages[name] = { key: key as string, finished: new Date().toISOString(), seconds, outputs: hashOutputs(dir, files) };
      writeStages(dir, state);
      report.stages.push({ stage: name, status: 'ran', why: reason, seconds });
      opts.onStage?.(model.name, name, 'ran', reason, seconds);
    };

    // design: the spreadsheet read into the design matrix
    const table = await readTable(spec.design);
    const designOpts = {
      covariates: model.covariates,
      centring: spec.centring?.perColumn,
      defaultCentring: spec.centring?.default,
      intercept: spec.intercept,
    };
    const design = designMatrix(table, designOpts);
    const designKey = hashOf({ v: VBM_VERSION, columns: design.columns, X: design.X, scans: design.scans });
    await stage('design', designKey, () => []);

    // estimate: scan contents, masks
    const scanFiles = [...new Set(design.scans.map((s) => s.replace(/,(\d+)$/, '')))];
    for (const f of scanFiles) if (!existsSync(f)) throw new VbmError(`scan not found: ${f}`, `check the first column of ${spec.design}`);
    // the cache decision needs the scans' content hashes only when the estimate stage has a record
    // to compare with and a scan's size, mtime or inode changed; otherwise (a new folder, --force,
    // --from) the fit hashes each scan while it streams it, and the key is made afterwards
    const estimateForced = STAGES.indexOf('estimate') >= fromIndex;
    const known = scanFiles.map((f) => knownScanHash(state, f));
    const deferHashes = known.some((h) => h === undefined) && (estimateForced || !state.stages.estimate);
    let scanHashes = deferHashes ? [] : scanFiles.map((f, i) => known[i] ?? scanFingerprint(state, f));
    const masking = {
      explicitMask: spec.mask,
      implicit: spec.implicitMask,
      threshold: spec.threshold?.absolute !== undefined ? { type: 'absolute' as const, value: spec.threshold.absolute } : spec.threshold?.relative !== undefined ? { type: 'relative' as const, value: spec.threshold.relative } : { type: 'none' as const },
    };
    const maskSha = spec.mask && existsSync(spec.mask) ? fileSha256(spec.mask) : null;
    const keyOfEstimate = (): string => hashOf({ designKey, scanHashes, masking, maskSha });
    let estimatedNow = false;
    await stage('estimate', deferHashes ? () => keyOfEstimate() : keyOfEstimate(), async () => {
      const res = await runAnalysis({
        design: spec.design,
        out: dir,
        contrasts: model.contrasts,
        ...designOpts,
        masking,
        overwrite: opts.overwrite,
        workers: opts.workers ?? spec.workers,
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
      return [...res.record.images.beta, res.record.images.ResMS, res.record.images.mask, res.record.images.RPV, 'smoothness.json'];
    });
    const estimateKey = keyOfEstimate();
    const contrastsKey = hashOf({ estimateKey, contrasts: buildContrasts(model.contrasts, design).map((c) => [c.name, c.type, c.weights]) });
    // contrasts: computed from the saved model (or already written by the estimate stage)
    await stage('contrasts', contrastsKey, () => {
      if (estimatedNow) {
        const rec = openAnalysis(dir).record;
        return [...rec.contrasts.flatMap((c) => [c.images.effect, c.images.stat]), MODEL_FILE];
      }
      return updateContrasts(dir, design, model.contrasts);
    });
    const contrastCount = model.contrasts.length;
    // the atlas, read once for the results and labels stages (the 4-D ones are large)
    let atlasCache: Atlas | undefined;
    const loadedAtlas = (): Atlas => (atlasCache ??= openAtlas(spec.atlas!.name, spec.atlas!.labels));
    // results: every contrast at the spec's thresholds
    const resultsKey = spec.results && contrastCount ? hashOf({ contrastsKey, results: spec.results, atlas: spec.atlas ?? null }) : null;
    await stage('results', resultsKey, () => {
      const a = openAnalysis(dir);
      const r = spec.results!;
      const atlas = spec.atlas ? loadedAtlas() : undefined;
      const files: string[] = [];
      for (const c of a.record.contrasts) {
        const out = runResults(a, { contrast: c.index, threshold: r.threshold, correction: r.correction, extent: r.extent, peaksPerCluster: r.peaks, peakDistanceMm: r.peakDistance, maps: r.maps, atlas });
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
        const out = runLabel(dir, { contrast: c.index, threshold: r.threshold, correction: r.correction, extent: r.extent, peaksPerCluster: r.peaks, peakDistanceMm: r.peakDistance, atlas, modes: at.modes, radiusMm: at.radius });
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
      for (const c of which) {
        const out = await runPermute(dir, {
          contrast: c,
          permutations: p.permutations,
          seed: p.seed,
          tfce: p.tfce,
          clusterThreshold: p.clusterThreshold,
          connectivity: p.connectivity,
          accel: p.accel,
          workers: opts.workers ?? spec.workers,
          signal: opts.signal,
          onProgress: (d, t) => opts.onProgress?.(`permutations (contrast ${c})`, d, t),
          onNote: (msg) => log(`note: ${msg}`),
        });
        text(`${out.text}\n  wrote ${out.files.join(', ')}`);
        files.push(...out.files);
      }
      return files;
    });
    // report: the HTML report, last, so that a changed threshold or picture option redraws only it
    const reportKey = spec.report && contrastCount ? hashOf({ contrastsKey, report: spec.report, atlas: spec.atlas ?? null }) : null;
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
    return report;
  } finally {
    release();
  }
}

/** What `vbm show` lists of the stages of an analysis folder. */
export function stageSummary(dir: string): { stage: StageName; finished: string; seconds: number; outputs: number }[] {
  const s = readStages(dir);
  return STAGES.filter((n) => s.stages[n]).map((n) => ({ stage: n, finished: s.stages[n]!.finished, seconds: s.stages[n]!.seconds, outputs: Object.keys(s.stages[n]!.outputs).length }));
}
