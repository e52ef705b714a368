/**
 * The stages of one model, as a table: each stage says what its cache key hashes (its inputs and
 * the key of the stage it follows) and what it runs. Every stage of a model shares one
 * preparation (the spreadsheet read once, the design and its contrasts built once) and one opened
 * analysis folder (opened when a stage first reads it, verified against the stage records that
 * this run keeps up to date). pipeline.ts walks the table and decides what is cached.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { VbmError } from '../errors.js';
import type { readTable } from '../node/spreadsheet.js';
import type { Design, DesignOptions } from '../model/designMatrix.js';
import type { Contrast } from '../model/contrasts.js';
import { orthogonalityWarnings } from '../model/orthogonality.js';
import type { MaskingOptions } from '../estimation/masking.js';
import type { Atlas } from '../atlas/atlas.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { VBM_VERSION } from '../node/version.js';
import type { AnalysisSpec, ModelSpec } from './analysisFile.js';
import { type Analysis, openAnalysis } from './analysis.js';
import type { BackendSettings } from './backendSettings.js';
import { runAnalysis } from './run.js';
import { updateContrasts } from './updateContrasts.js';
import type { PermuteOutput, PermuteRequest } from './permute.js';
import { MODEL_FILE, type ModelRecord } from './modelRecord.js';
import { TasksSubmitted } from './taskBackend.js';
import type { PipelineOptions } from './pipeline.js';
import { type StageName, type StagesFile, hashOf, recordScanHash, scanFingerprint } from './stages.js';
import { fileContentHash } from '../node/contentHash.js';

/** One model's run: what every stage shares. */
export interface ModelRun {
  spec: AnalysisSpec;
  model: ModelSpec;
  opts: PipelineOptions;
  dir: string;
  log: (m: string) => void;
  text: (m: string) => void;
  table: Awaited<ReturnType<typeof readTable>>;
  /** The folder's stage records, updated as stages run (written to vbm-stages.json by pipeline.ts). */
  state: StagesFile;
  design: Design;
  designOpts: DesignOptions;
  /** The model's contrasts, built once on the design. */
  contrasts: Contrast[];
  /** The scan files (without volume suffixes), each once. */
  scanFiles: string[];
  /** Their headers, read once before the stages (the fit uses them). */
  scanHeaders: ReadonlyMap<string, NiftiHeader>;
  backend?: BackendSettings;
  masking: MaskingOptions;
  maskHash: string | null;
  /** Content hashes of the scans; filled by the fit as it reads them when `deferHashes`. */
  scanHashes: string[];
  deferHashes: boolean;
  /** Each stage's key once decided (null: the stage was not requested). */
  keys: Partial<Record<StageName, string | null>>;
  /** The model record the estimate stage wrote in this run. */
  estimated?: ModelRecord;
  /** The analysis folder, opened once for the stages that read it. */
  analysis(): Analysis;
  /** Forget the opened analysis (a stage rewrote model.json). */
  reopen(): void;
  /** The atlas, read once for the results, labels and report stages (the 4-D ones are large). */
  atlas(): Promise<Atlas>;
}

export interface StageDef {
  name: StageName;
  /** The stage's cache key; null when not requested; a function when it is known only after the stage ran. */
  key(r: ModelRun): string | null | (() => string);
  /** Run the stage; resolves to the files it wrote (names in the model's folder). */
  run(r: ModelRun): Promise<string[]> | string[];
  /** Said before the stage, whether it runs or is cached. */
  before?(r: ModelRun): void;
}

const key = (r: ModelRun, stage: StageName): string => {
  const k = r.keys[stage];
  if (typeof k !== 'string') throw new Error(`internal: the ${stage} stage has no key`);
  return k;
};

const designStage: StageDef = {
  name: 'design',
  key: ({ design }) =>
    hashOf({
      v: VBM_VERSION,
      columns: design.columns,
      X: design.X,
      scans: design.scans,
      gSF: design.globals?.gSF ?? null,
      variance: design.varianceGroups ? [...design.varianceGroups] : null,
    }),
  run: () => [],
};

// check: sample homogeneity over the scans (its own key: a changed check setting re-runs it alone)
const checkStage: StageDef = {
  name: 'check',
  key: (r) =>
    r.spec.check
      ? hashOf({
          v: VBM_VERSION,
          scans: r.design.scans,
          scanHashes: r.scanHashes,
          check: r.spec.check,
          table: r.table.rows,
          maskHash: r.maskHash,
        })
      : null,
  run: async (r) => {
    // the check and the report draw pictures: their modules (canvas) load only when they run
    const { runCheck } = await import('./check.js');
    const res = await runCheck({
      design: r.spec.design,
      out: r.dir,
      mask: r.spec.mask,
      globals: r.spec.check!.globals,
      nuisance: r.spec.check!.nuisance,
      origin: r.spec.origin,
      onProgress: r.opts.onProgress,
    });
    r.text(`${res.text}\n  wrote ${res.files.join(', ')}`);
    return res.files;
  },
};

// estimate: scan contents, masks; the scans' hashes come from the fit's own read when deferred
const estimateKey = (r: ModelRun): string =>
  hashOf({ designKey: key(r, 'design'), scanHashes: r.scanHashes, masking: r.masking, maskHash: r.maskHash });
const estimateStage: StageDef = {
  name: 'estimate',
  before: (r) => {
    for (const w of orthogonalityWarnings(r.design.columns, r.design.X, r.contrasts)) r.log(`warning: ${w.message}`);
  },
  key: (r) => (r.deferHashes ? () => estimateKey(r) : estimateKey(r)),
  run: async (r) => {
    const { opts, backend, dir } = r;
    const tasks = opts.tasks;
    const res = await runAnalysis({
      design: r.spec.design,
      out: dir,
      contrasts: r.model.contrasts,
      ...r.designOpts,
      prebuiltDesign: r.design,
      prebuiltContrasts: r.contrasts,
      prebuiltHeaders: r.scanHeaders,
      masking: r.masking,
      overwrite: opts.overwrite,
      workers: opts.workers ?? r.spec.workers,
      fitSums:
        backend && tasks
          ? (jobs, onScan) =>
              tasks.fitSums(dir, jobs, backend, onScan, {
                signal: opts.signal,
                rerun: opts.command,
                onInterrupt: opts.onInterrupt,
                onProgress: (d, t) => opts.onProgress?.(`${backend.type} tasks (fit)`, d, t),
                onNote: (m) => r.log(`note: ${m}`),
              })
          : undefined,
      command: opts.command,
      onProgress: opts.onProgress,
      log: r.log,
    });
    r.estimated = res.record;
    r.reopen();
    if (r.deferHashes) {
      // single-file scans were hashed by the fit as it read them (whole file, as fileContentHash does)
      const streamed = new Map(res.record.scans.map((s) => [s.path, s.hash]));
      r.scanHashes = r.scanFiles.map((f) => {
        const h = /\.nii(\.gz)?$/i.test(f) ? streamed.get(f) : undefined;
        return h ? recordScanHash(r.state, f, h) : scanFingerprint(r.state, f);
      });
    }
    return [
      ...res.record.images.beta,
      res.record.images.ResMS,
      res.record.images.mask,
      res.record.images.RPV,
      'smoothness.json',
    ];
  },
};

// contrasts: computed from the saved model (or already written by the estimate stage)
const contrastsStage: StageDef = {
  name: 'contrasts',
  key: (r) =>
    hashOf({ estimateKey: key(r, 'estimate'), contrasts: r.contrasts.map((c) => [c.name, c.type, c.weights]) }),
  run: (r) => {
    if (r.estimated) return [...r.estimated.contrasts.flatMap((c) => [c.images.effect, c.images.stat]), MODEL_FILE];
    const files = updateContrasts(r.dir, r.design, r.model.contrasts, r.opts.command, r.contrasts);
    r.reopen();
    return files;
  },
};

// results: every contrast at the spec's thresholds
/** The thresholds of the results table, which the labels stage labels (one request for both). */
function tableThresholds(s: NonNullable<ModelRun['spec']['results']>) {
  return {
    threshold: s.threshold,
    correction: s.correction,
    extent: s.extent,
    peaks: s.peaks,
    peakDistance: s.peakDistance,
  };
}

const resultsStage: StageDef = {
  name: 'results',
  key: (r) =>
    r.spec.results && r.contrasts.length
      ? hashOf({ contrastsKey: key(r, 'contrasts'), results: r.spec.results, atlas: r.spec.atlas ?? null })
      : null,
  run: async (r) => {
    // the results, labels and permutations stages' modules load only when they run (most of
    // `vbm run`'s start-up is loading modules)
    const { runResults } = await import('./results.js');
    const a = r.analysis();
    const s = r.spec.results!;
    const atlas = r.spec.atlas ? await r.atlas() : undefined;
    const files: string[] = [];
    for (const c of a.record.contrasts) {
      const out = runResults(a, { contrast: c.index, ...tableThresholds(s), maps: s.maps, atlas });
      r.text(`${out.text}\n  wrote ${out.files.join(', ')}`);
      files.push(...out.files);
    }
    return files;
  },
};

const labelsStage: StageDef = {
  name: 'labels',
  key: (r) => (r.spec.atlas && r.keys.results ? hashOf({ resultsKey: key(r, 'results'), atlas: r.spec.atlas }) : null),
  run: async (r) => {
    const { runLabel } = await import('./label.js');
    const a = r.analysis();
    const s = r.spec.results!;
    const at = r.spec.atlas!;
    const atlas = await r.atlas();
    for (const w of atlas.warnings) r.log(`warning: ${w}`);
    const files: string[] = [];
    for (const c of a.record.contrasts) {
      const out = runLabel(a, {
        contrast: c.index,
        ...tableThresholds(s),
        atlas,
        modes: at.modes,
        radiusMm: at.radius,
      });
      r.text(`${out.text}\n  wrote ${out.files.join(', ')}`);
      files.push(...out.files);
    }
    return files;
  },
};

const permutationsStage: StageDef = {
  name: 'permutations',
  key: (r) =>
    r.spec.permute && r.contrasts.length
      ? hashOf({ contrastsKey: key(r, 'contrasts'), permute: r.spec.permute })
      : null,
  run: async (r) => {
    const { runPermute } = await import('./permute.js');
    const a = r.analysis();
    const p = r.spec.permute!;
    const { opts } = r;
    const which = p.contrasts ?? a.record.contrasts.map((c) => c.index);
    const request = (c: number | string): PermuteRequest => ({
      contrast: c,
      permutations: p.permutations,
      seed: p.seed,
      tfce: p.tfce,
      clusterThreshold: p.clusterThreshold,
      connectivity: p.connectivity,
      accel: p.accel,
      scheme: p.scheme,
      blocks: p.blocks,
      alpha: p.alpha,
      tfceParams: p.tfceParams,
      origin: r.spec.origin,
      workers: opts.workers ?? r.spec.workers,
      // how the data are held (in memory or streamed) does not change the results: not in the key
      memory: opts.memory ?? r.spec.memory,
      signal: opts.signal,
      onProgress: (d: number, t: number) => opts.onProgress?.(`permutations (contrast ${c})`, d, t),
      onNote: (msg: string) => r.log(`note: ${msg}`),
    });
    // on a task backend every contrast's tasks are out at once (none waits for another's);
    // in this process one contrast after the other
    const { backend } = r;
    const tasks = backend ? opts.tasks : undefined;
    const outcomes: PromiseSettledResult<PermuteOutput>[] = [];
    if (backend && tasks) {
      const all = which.map((c) =>
        tasks.permute(a.dir, { ...request(c), signal: undefined }, backend, {
          signal: opts.signal,
          rerun: opts.command,
          onInterrupt: opts.onInterrupt,
          onProgress: (done, total) => opts.onProgress?.(`${backend.type} tasks (contrast ${String(c)})`, done, total),
          onNote: (msg: string) => r.log(`note: ${msg}`),
        }),
      );
      outcomes.push(...(await Promise.allSettled(all)));
    } else for (const c of which) outcomes.push({ status: 'fulfilled', value: await runPermute(a, request(c)) });
    const files: string[] = [];
    const submitted: TasksSubmitted[] = [];
    for (const o of outcomes) {
      if (o.status === 'rejected') {
        // not waiting: every contrast's tasks are submitted before the stage stops
        if (o.reason instanceof TasksSubmitted) submitted.push(o.reason);
        else throw o.reason;
        continue;
      }
      r.text(`${o.value.text}\n  wrote ${o.value.files.join(', ')}`);
      files.push(...o.value.files);
    }
    if (submitted.length === 1) throw submitted[0];
    if (submitted.length)
      throw new TasksSubmitted(
        submitted.map((e) => e.message).join('; '),
        submitted[0].hint ?? '',
        submitted.flatMap((e) => e.jobDirs),
      );
    return files;
  },
};

// report: the HTML report, last, so that a changed threshold or picture option redraws only it
const reportStage: StageDef = {
  name: 'report',
  key: (r) =>
    r.spec.report && r.contrasts.length
      ? hashOf({
          contrastsKey: key(r, 'contrasts'),
          report: r.spec.report,
          atlas: r.spec.atlas ?? null,
          ...(r.keys.check ? { checkKey: r.keys.check } : {}),
          // the report draws the permutation maps when they exist: new permutations redraw it
          ...(r.keys.permutations ? { permKey: r.keys.permutations } : {}),
        })
      : null,
  run: async (r) => {
    const s = r.spec.report!;
    const { runReport } = await import('./report.js');
    const { MEAN_IMAGE } = await import('./background.js');
    const out = await runReport(r.analysis(), {
      threshold: s.threshold,
      correction: s.correction,
      extent: s.extent,
      sign: s.sign,
      display: s.display,
      cuts: s.cuts,
      background: s.background,
      viewer: s.viewer,
      atlas: r.spec.atlas ? await r.atlas() : undefined,
      out: join(r.dir, s.file),
      command: r.opts.command,
      onProgress: r.opts.onProgress,
    });
    r.text(`wrote ${out.file} (${(out.bytes / 1e6).toFixed(1)} MB)`);
    return s.background === 'mean' ? [s.file, MEAN_IMAGE] : [s.file];
  },
};

/** The stages of a model, in the order they run (the order of STAGES). */
export const MODEL_STAGES: readonly StageDef[] = [
  designStage,
  checkStage,
  estimateStage,
  contrastsStage,
  resultsStage,
  labelsStage,
  permutationsStage,
  reportStage,
];

/** The shared state of a model's stages, once its design and contrasts are built. */
export function modelRun(
  fields: Omit<
    ModelRun,
    'analysis' | 'reopen' | 'atlas' | 'keys' | 'masking' | 'maskHash' | 'scanHashes' | 'deferHashes' | 'estimated'
  > & { knownHashes: (string | undefined)[]; estimateForced: boolean },
): ModelRun {
  const { knownHashes, estimateForced, ...rest } = fields;
  const { spec, state, scanFiles } = rest;
  // the cache decision needs the scans' content hashes only when the estimate stage has a record
  // to compare with and a scan's size, mtime or inode changed; otherwise (a new folder, --force,
  // --from) the fit hashes each scan while it streams it, and the key is made afterwards. The
  // sample check, run before the fit, needs them first.
  const deferHashes =
    !spec.check && knownHashes.some((h) => h === undefined) && (estimateForced || !state.stages.estimate);
  let opened: Analysis | undefined;
  let atlas: Promise<Atlas> | undefined;
  return {
    ...rest,
    keys: {},
    masking: {
      explicitMask: spec.mask,
      implicit: spec.implicitMask,
      threshold:
        spec.threshold?.absolute !== undefined
          ? { type: 'absolute' as const, value: spec.threshold.absolute }
          : spec.threshold?.relative !== undefined
            ? { type: 'relative' as const, value: spec.threshold.relative }
            : { type: 'none' as const },
    },
    maskHash: spec.mask && existsSync(spec.mask) ? fileContentHash(spec.mask) : null,
    deferHashes,
    scanHashes: deferHashes ? [] : scanFiles.map((f, i) => knownHashes[i] ?? scanFingerprint(state, f)),
    analysis: () => (opened ??= openAnalysis(rest.dir, { stages: state })),
    reopen: () => (opened = undefined),
    atlas: () => (atlas ??= import('./label.js').then((m) => m.openAtlas(spec.atlas!.name, spec.atlas!.labels))),
  };
}

/** The refusal of a task backend when the pipeline was given none (library use without src/backend). */
export function needTaskBackend(backend: BackendSettings): VbmError {
  return new VbmError(
    `a ${backend.type} backend was asked for, but this pipeline was given no task backend`,
    "pass `tasks` (vbm's backendTasks()) in the pipeline options, or leave the backend out",
  );
}
