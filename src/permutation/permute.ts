/**
 * Permutation inference for one contrast on data in memory or read by a loader (the analysis-folder
 * entry points, permuteContrast and permuteContrastShare, are in pipeline/permuteInput.ts):
 * Freedman-Lane permutations (or sign flips for one-sample effects), maximum-statistic FWE,
 * exact TFCE with FWE, cluster extent and mass FWE. Scans are read once into a contiguous
 * float32 matrix shared with the worker threads; long runs checkpoint and resume.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Connectivity } from '../inference/clusters.js';
import { statFromTail } from '../inference/distributions.js';
import { VBM_VERSION } from '../version.js';
import { suprathresholdClusters, clusterWorkspace } from './clusterStats.js';
import { type BatchResult, Engine, type EngineSetup } from './engine.js';
import type { KernelData } from './kernel.js';
import { maskedNeighbours } from '../inference/neighbours.js';
import { allocateDataMatrix, fitsWasm } from './dataMatrix.js';
import { partitionDesign, productRows } from './partition.js';
import { type Scheme, logDistinct, rearrangements } from './schemes.js';
import { FSL_TFCE, type TfceParams } from './tfce.js';
import { welchSetup } from './welch.js';
import { formatBytes, machineMemoryBudget } from './memoryBudget.js';
import { type StreamedRun, prepareStreamed } from './streamed.js';
import { planVoxelBlocks } from './voxelBlocks.js';
import { type AccelOptions, type GpdFit, countAtLeast, peakClearlyNotSignificant, tailPValues } from './accel.js';

export interface PermuteOptions {
  contrast: number | string;
  permutations?: number;
  seed?: number;
  /** 'auto' (default): permutations, or sign flips when the effect is constant within blocks. */
  scheme?: 'auto' | Scheme;
  tfce?: boolean;
  tfceParams?: TfceParams;
  connectivity?: Connectivity;
  /** Cluster-forming threshold as an uncorrected p-value. */
  clusterThreshold?: number;
  /** Exchangeability block of each scan (permutations stay within blocks). */
  blocks?: number[];
  workers?: number;
  /** 'wasm' (default when the data fit in 4 GB) or 'js'. */
  kernel?: 'wasm' | 'js';
  /** Write and use a checkpoint at this path prefix (default: none). */
  checkpoint?: string;
  /** Seconds between checkpoints (default 20). */
  checkpointEvery?: number;
  /** Tail approximation of FWE p-values and/or sequential stopping (see accel.ts). */
  accel?: AccelOptions;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  onReadProgress?: (done: number, total: number) => void;
  onNote?: (message: string) => void;
  /** Maxima and counts of rearrangements computed elsewhere (by tasks, see src/backend), merged before the rest are run. */
  shares?: BatchResult[];
  /** Memory budget in bytes (default: half the machine's, or a Slurm task's memory): larger data are streamed from a scratch file (streamed.ts). */
  memory?: number;
  /** Path prefix of that scratch file (default: the checkpoint's prefix, else the system's temporary folder). */
  scratch?: string;
}

export interface PermutationResult {
  contrast: { index: number; name: string; type: 'T' | 'F'; df: [number, number] };
  /** Variance groups behind Welch's v (T) / G (F); 0 when the statistic is the usual T / F. */
  varianceGroups: number;
  scheme: Scheme;
  permutations: number;
  exhaustive: boolean;
  distinct: number;
  seed: number;
  tfce: TfceParams | null;
  connectivity: Connectivity;
  clusterThreshold: { p: number; height: number } | null;
  /** Grid voxel index of each analysed voxel. */
  voxels: Int32Array;
  dims: [number, number, number];
  affine: number[][];
  stat: Float32Array;
  pUnc: Float64Array;
  pFwe: Float64Array;
  tfceMap: Float32Array | null;
  tfcePUnc: Float64Array | null;
  tfcePFwe: Float64Array | null;
  clusters: {
    label: Int32Array;
    extent: number[];
    mass: number[];
    pExtent: number[];
    pMass: number[];
  } | null;
  /** Null distributions of the maxima (one per rearrangement, the first is the observed). */
  maxima: { stat: Float64Array; tfce: Float64Array | null; extent: Float64Array | null; mass: Float64Array | null };
  resumedFrom: number;
  seconds: { read: number; permute: number };
  /** What was accelerated and how (null: every p-value counted over all requested rearrangements). */
  accel: AccelReport | null;
}

export interface AccelReport {
  /** GPD fits of the null maxima used for FWE p-values (null where no fit passed: counted). */
  tail: { stat: GpdFit | null; tfce: GpdFit | null; extent: GpdFit | null; mass: GpdFit | null } | null;
  stop: { requested: number; done: number; stoppedEarly: boolean; alpha: number } | null;
  /** One sentence for outputs: which p-values are approximated and how. */
  note: string;
}

const JOB = 16;
/** Rearrangements per unit of work. Task blocks are multiples of it, so that their batches, and so their results, are those of one process. */
export const PERMUTATION_CHUNK = JOB;
const ENGINE_BATCH = 8;

/** Replace Y by the residuals of the nuisance model, (I - G G') Y, and return column sums of squares. */
export function reduce(R: Float32Array, n: number, V: number, stride: number, G: Float64Array[]): Float64Array {
  const ss = new Float64Array(new SharedArrayBuffer(V * 8));
  const CH = 1024;
  const q = G.length;
  const coef = new Float64Array(q * CH);
  const col = new Float64Array(n * CH);
  for (let v0 = 0; v0 < V; v0 += CH) {
    const c = Math.min(CH, V - v0);
    for (let i = 0; i < n; i++) for (let v = 0; v < c; v++) col[i * CH + v] = R[i * stride + v0 + v];
    coef.fill(0);
    for (let j = 0; j < q; j++) {
      const g = G[j];
      for (let i = 0; i < n; i++) {
        const gi = g[i];
        for (let v = 0; v < c; v++) coef[j * CH + v] += gi * col[i * CH + v];
      }
    }
    for (let j = 0; j < q; j++) {
      const g = G[j];
      for (let i = 0; i < n; i++) {
        const gi = g[i];
        for (let v = 0; v < c; v++) col[i * CH + v] -= gi * coef[j * CH + v];
      }
    }
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < c; v++) {
        const x = Math.fround(col[i * CH + v]);
        R[i * stride + v0 + v] = x;
        ss[v0 + v] += x * x;
      }
    }
  }
  return ss;
}

interface Checkpoint {
  key: string;
  done: number[];
  bin: string;
  binSha256: string;
}

/** A permutation test on data already in memory (the core that pipeline/permuteInput.ts's `permuteContrast` feeds). */
export interface PermutationInput {
  /** Design matrix (n x p) and the contrast's weights (rows over the p columns). */
  X: number[][];
  weights: number[][];
  type: 'T' | 'F';
  contrast: { index: number; name: string };
  /** Data, scan-major (n x V, float32), or a loader that writes scan i's V values at R[i * stride]. */
  Y: Float32Array | ((R: Float32Array, stride: number) => void);
  /** The same data one scan at a time (needed with a loader when the data exceed the memory budget). */
  scans?: (visit: (i: number, values: Float32Array) => void) => void;
  /** Grid index of each of the V voxels (ascending), the grid's dims and affine. */
  voxels: Int32Array;
  dims: [number, number, number];
  affine: number[][];
  /** What else identifies the data for checkpoints (scan hashes, analysis id). */
  identity?: unknown;
  /** Variance group of each scan: with two or more, Welch's v (T) or G (F) is the statistic. */
  varianceGroups?: ArrayLike<number>;
}

export function planScheme(
  X: number[][],
  weights: number[][],
  type: 'T' | 'F',
  con: { index: number; name: string },
  opts: PermuteOptions,
) {
  const n = X.length;
  if (opts.blocks && opts.blocks.length !== n)
    throw new VbmError(
      `exchangeability blocks: ${opts.blocks.length} given for ${n} scans`,
      'give one block number per scan, in the order of the design',
    );
  const part = partitionDesign(X, weights, type, opts.blocks);
  let scheme: Scheme;
  const wanted = opts.scheme ?? 'auto';
  if (wanted === 'auto') scheme = part.effectConstantWithinBlocks ? 'signflip' : 'permute';
  else scheme = wanted;
  if (scheme === 'permute' && part.effectConstantWithinBlocks) {
    throw new VbmError(
      `contrast ${con.index} '${con.name}' tests an effect that is the same for every scan${opts.blocks ? ' within each exchangeability block' : ''}: permuting the scans cannot change its statistic`,
      'use sign flipping (--scheme signflip, which assumes symmetric errors), the default for such contrasts',
    );
  }
  const { rows, effectRows } = productRows(part, scheme);
  const distinct = Math.exp(logDistinct(scheme, rows, n, opts.blocks));
  if (distinct < 20) {
    throw new VbmError(
      `only ${Math.round(distinct)} distinct ${scheme === 'permute' ? 'permutations' : 'sign flips'} exist for ${n} scans with this design, so no p-value could go below ${(1 / distinct).toFixed(3)}`,
      'add scans, or use the parametric results (vbm results)',
    );
  }
  return { part, scheme, rows, effectRows, distinct };
}

/**
 * The exchangeability that variance groups imply. With unequal variances the errors are not
 * exchangeable across variance groups (Winkler et al. 2014: exchangeable errors need equal
 * variances; independent symmetric errors do not), so the default is sign flipping of the
 * Freedman-Lane residuals, and permutations, when asked for, stay within variance groups (the
 * groups are the exchangeability blocks unless blocks are given). One place, used by the local
 * test and by the planner of distributed tasks, so both draw the same rearrangements.
 */
export function withVarianceGroups<O extends { blocks?: number[]; scheme?: 'auto' | Scheme }>(
  options: O,
  varianceGroups?: ArrayLike<number>,
): O {
  const vg = varianceGroups && new Set(Array.from(varianceGroups)).size > 1 ? Array.from(varianceGroups) : undefined;
  if (!vg) return options;
  return {
    ...options,
    blocks: options.blocks ?? vg,
    scheme: (options.scheme ?? 'auto') === 'auto' ? ('signflip' as const) : options.scheme,
  };
}

export async function permutationTest(
  input: PermutationInput,
  opts: Omit<PermuteOptions, 'contrast'>,
): Promise<PermutationResult> {
  return (await runPermutationTest(input, opts)) as PermutationResult;
}

/** One share of a permutation test: rearrangements [first, first + count), first a multiple of PERMUTATION_CHUNK. */
export async function permutationShare(
  input: PermutationInput,
  opts: Omit<PermuteOptions, 'contrast'>,
  first: number,
  count: number,
): Promise<BatchResult> {
  return (await runPermutationTest(input, opts, { first, count })) as BatchResult;
}

/** The test, or with `share` only the maxima and counts of those rearrangements (no checkpoint, no p-values). */
async function runPermutationTest(
  input: PermutationInput,
  options: Omit<PermuteOptions, 'contrast'>,
  share?: { first: number; count: number },
): Promise<PermutationResult | BatchResult> {
  const con = { ...input.contrast, type: input.type };
  const vg =
    input.varianceGroups && new Set(Array.from(input.varianceGroups)).size > 1
      ? Array.from(input.varianceGroups)
      : undefined;
  const opts = withVarianceGroups(options, vg);
  const n = input.X.length;
  const requested = opts.permutations ?? 5000;
  if (!Number.isInteger(requested) || requested < 1)
    throw new VbmError(`--permutations must be a positive whole number (got ${requested})`);
  const seed = opts.seed ?? 0;
  const conn = opts.connectivity ?? 26;
  const { part, scheme, rows, effectRows, distinct } = planScheme(
    input.X,
    input.weights,
    input.type,
    input.contrast,
    opts as PermuteOptions,
  );
  const arr = rearrangements(rows, n, { scheme, requested, seed, blocks: opts.blocks });
  if (arr.exhaustive)
    opts.onNote?.(
      `all ${arr.count} distinct ${scheme === 'permute' ? 'permutations' : 'sign flips'} are enumerated (${requested} were requested)`,
    );
  const N = arr.count;
  const table = new Int32Array(new SharedArrayBuffer(arr.table.length * 4));
  table.set(arr.table);
  const df: [number, number] = con.type === 'T' ? [1, part.df] : [part.rank, part.df];
  const V = input.voxels.length;
  const nWorkers = Math.max(0, Math.min(opts.workers ?? availableParallelism(), Math.ceil(N / JOB)));
  if (typeof input.Y !== 'function' && input.Y.length !== n * V)
    throw new Error(`permutationTest: data holds ${input.Y.length} values, expected ${n} x ${V}`);
  const memoryNeeds = {
    n,
    V,
    rows: rows.length,
    threads: Math.max(1, nWorkers),
    tfce: !!opts.tfce,
    cluster: opts.clusterThreshold !== undefined,
  };
  const plan = planVoxelBlocks(memoryNeeds, opts.memory ?? machineMemoryBudget());
  const dm = plan
    ? null
    : allocateDataMatrix(n, V, {
        slots: nWorkers + 1,
        maxRows: ENGINE_BATCH * rows.length,
        useWasm: opts.kernel !== 'js',
      });
  if (dm) {
    const R = dm.R;
    if (typeof input.Y === 'function') input.Y(R, dm.stride);
    else for (let i = 0; i < n; i++) R.set(input.Y.subarray(i * V, (i + 1) * V), i * dm.stride);
  }
  const voxels = input.voxels;
  const ssTotal = dm ? reduce(dm.R, n, V, dm.stride, part.G) : new Float64Array(0);
  const nbLocal = maskedNeighbours(voxels, input.dims, conn);
  const nbStart = new Int32Array(new SharedArrayBuffer(nbLocal.start.length * 4));
  nbStart.set(nbLocal.start);
  const nbList = new Int32Array(new SharedArrayBuffer(Math.max(1, nbLocal.list.length) * 4));
  nbList.set(nbLocal.list);
  const neighbours = { start: nbStart, list: nbList, connectivity: conn };
  const data: KernelData = {
    // streamed data have no matrix in memory: the block engines hold one block each
    data: dm ?? { n, V, stride: 0, R: new Float32Array(0), wasm: null },
    ssTotal,
    rows,
    effectRows,
    df: part.df,
    stat: con.type,
    scheme,
    ...(vg ? { welch: welchSetup(input.X, input.weights, vg) } : {}),
  };
  const tfceParams = opts.tfce ? (opts.tfceParams ?? FSL_TFCE) : null;
  let clusterThreshold: { p: number; height: number } | null = null;
  if (opts.clusterThreshold !== undefined) {
    const p = opts.clusterThreshold;
    if (!(p > 0 && p < 1))
      throw new VbmError(`--cluster-threshold must be an uncorrected p-value between 0 and 1 (got ${p})`, 'e.g. 0.001');
    clusterThreshold = { p, height: statFromTail(con.type, p, df) };
  }
  const gridVoxels = new Int32Array(new SharedArrayBuffer(Math.max(1, V) * 4), 0, V);
  gridVoxels.set(voxels);
  const setup: EngineSetup = {
    data,
    table,
    neighbours,
    grid: { voxels: gridVoxels, dims: input.dims },
    tfce: tfceParams,
    clusterHeight: clusterThreshold?.height ?? null,
  };
  let streamed: StreamedRun | null = null;
  if (plan) {
    const { data: _d, ssTotal: _s, ...kernel } = data;
    opts.onNote?.(
      `the permutation data (${n} scans x ${V} voxels, ${formatBytes(plan.inMemoryBytes)} in memory) exceed the memory budget (${formatBytes(plan.budget)}): streamed from a scratch file (${formatBytes(plan.fileBytes)}) in ${plan.blocks.length} voxel blocks, ${plan.passSize} rearrangements per pass`,
    );
    streamed = await prepareStreamed(
      {
        scans: input.scans ?? scansOf(input.Y, n, V),
        G: part.G,
        prefix: opts.scratch ?? opts.checkpoint ?? join(tmpdir(), 'vbm-permutation'),
      },
      {
        kernel,
        n,
        V,
        table,
        neighbours,
        grid: { voxels: gridVoxels, dims: input.dims },
        tfce: tfceParams,
        clusterHeight: clusterThreshold?.height ?? null,
        plan,
        // the kernel the in-memory test would use, so that the results do not depend on the budget
        useWasm: opts.kernel !== 'js' && fitsWasm(n, V, nWorkers + 1, ENGINE_BATCH * rows.length),
      },
      nWorkers,
      reduce,
      opts.onNote,
    );
  }
  const main = streamed ? null : new Engine(setup, ENGINE_BATCH, 0);
  const observed = streamed ? streamed.observed : main!.observed();
  setup.observed = observed;
  const accel = opts.accel ?? {};
  const stopAlpha = accel.alpha ?? 0.05;
  // observed peaks, for the stopping rule
  const peakOf = (a: ArrayLike<number>): number => {
    let m = -Infinity;
    for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
    return m;
  };
  const observedClusters = clusterThreshold
    ? suprathresholdClusters(observed.stat, clusterThreshold.height, neighbours, clusterWorkspace(V))
    : null;
  const peaks = {
    stat: peakOf(observed.stat),
    tfce: observed.tfce ? peakOf(observed.tfce) : 0,
    extent: observedClusters ? Math.max(0, ...observedClusters.extent) : 0,
    mass: observedClusters ? Math.max(0, ...observedClusters.mass) : 0,
  };

  // accumulators (possibly from a checkpoint)
  const maxStat = new Float64Array(N).fill(NaN);
  const maxTfce = tfceParams ? new Float64Array(N).fill(NaN) : null;
  const maxExtent = clusterThreshold ? new Float64Array(N).fill(NaN) : null;
  const maxMass = clusterThreshold ? new Float64Array(N).fill(NaN) : null;
  const countStat = new Uint32Array(V);
  const countTfce = tfceParams ? new Uint32Array(V) : null;
  const jobs = Math.ceil(N / JOB);
  const done = new Uint8Array(jobs);
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        v: VBM_VERSION,
        data: input.identity ?? null,
        w: input.weights,
        type: con.type,
        scheme,
        N,
        seed,
        tfceParams,
        conn,
        ct: clusterThreshold,
        blocks: opts.blocks ?? null,
        V,
        JOB,
        ...(vg ? { vg } : {}),
        stop: accel.stop ? stopAlpha : null,
      }),
    )
    .digest('hex');
  let resumedFrom = 0;
  const useCheckpoint = opts.checkpoint && !share && !opts.shares;
  const ckJson = useCheckpoint ? `${opts.checkpoint}.json` : undefined;
  const ckBin = useCheckpoint ? `${opts.checkpoint}.bin` : undefined;
  const sections = (): (Float64Array | Uint32Array | null)[] => [
    maxStat,
    maxTfce,
    maxExtent,
    maxMass,
    countStat,
    countTfce,
  ];
  if (ckJson && ckBin && existsSync(ckJson) && existsSync(ckBin)) {
    try {
      const ck = JSON.parse(readFileSync(ckJson, 'utf8')) as Checkpoint;
      const bin = readFileSync(ckBin);
      const sha = createHash('sha256').update(bin).digest('hex');
      if (ck.key !== key) opts.onNote?.('a checkpoint from other settings was found and is ignored');
      else if (sha !== ck.binSha256)
        opts.onNote?.('the checkpoint is damaged (its content hash differs) and is ignored: starting afresh');
      else {
        let off = 0;
        for (const s of sections()) {
          if (!s) continue;
          const bytes = s.byteLength;
          new Uint8Array(s.buffer, s.byteOffset, bytes).set(bin.subarray(off, off + bytes));
          off += bytes;
        }
        for (const j of ck.done) done[j] = 1;
        resumedFrom = ck.done.reduce((acc, j) => acc + Math.min(JOB, N - j * JOB), 0);
        opts.onNote?.(`resuming from a checkpoint: ${resumedFrom} of ${N} rearrangements already done`);
      }
    } catch {
      opts.onNote?.('the checkpoint could not be read and is ignored');
    }
  }
  const writeCheckpoint = (): void => {
    if (!ckJson || !ckBin) return;
    const parts = sections().filter((s): s is Float64Array | Uint32Array => s !== null);
    const total = parts.reduce((acc, s) => acc + s.byteLength, 0);
    const buf = new Uint8Array(total);
    let off = 0;
    for (const s of parts) {
      buf.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength), off);
      off += s.byteLength;
    }
    writeFileAtomic(ckBin, buf);
    const ck: Checkpoint = {
      key,
      done: [...done.keys()].filter((j) => done[j]),
      bin: ckBin,
      binSha256: createHash('sha256').update(buf).digest('hex'),
    };
    writeFileAtomic(ckJson, JSON.stringify(ck));
  };
  const merge = (r: BatchResult): void => {
    maxStat.set(r.maxStat, r.first);
    maxTfce?.set(r.maxTfce, r.first);
    maxExtent?.set(r.maxExtent, r.first);
    maxMass?.set(r.maxMass, r.first);
    for (let v = 0; v < V; v++) countStat[v] += r.countStat[v];
    if (countTfce && r.countTfce) for (let v = 0; v < V; v++) countTfce[v] += r.countTfce[v];
    for (let j = r.first / JOB; j * JOB < r.first + r.count; j++) done[j] = 1;
  };
  for (const s of opts.shares ?? []) {
    const chunks = [...done.keys()].filter((j) => j * JOB >= s.first && j * JOB < s.first + s.count);
    if (
      s.first % JOB !== 0 ||
      s.first + s.count > N ||
      s.maxStat.length !== s.count ||
      s.countStat.length !== V ||
      chunks.some((j) => done[j])
    )
      throw new Error(`permutation share [${s.first}, +${s.count}) does not fit this test or overlaps another`);
    merge(s);
    for (const j of chunks) done[j] = 1;
    resumedFrom += s.count;
  }
  if (share && (share.first % JOB !== 0 || share.count < 1 || share.first + share.count > N))
    throw new Error(`permutation share [${share.first}, +${share.count}) is not aligned to ${JOB} within ${N}`);
  const inShare = (j: number): boolean => !share || (j * JOB >= share.first && j * JOB < share.first + share.count);
  const pending = [...done.keys()].filter((j) => !done[j] && inShare(j));
  let finished = resumedFrom;
  // sequential stopping: every observed peak clearly below FWE significance
  let stoppedEarly = false;
  const minPerms = accel.minPermutations ?? 100;
  const shouldStop = (): boolean => {
    // a share of a distributed test runs its whole block: stopping is decided over all rearrangements
    if (!accel.stop || share || opts.shares || finished < minPerms) return false;
    const families: [Float64Array | null, number][] = [
      [maxStat, peaks.stat],
      [maxTfce, peaks.tfce],
      [maxExtent, peaks.extent],
      [maxMass, peaks.mass],
    ];
    for (const [maxima, peak] of families) {
      if (!maxima) continue;
      let exceed = 0;
      let seen = 0;
      for (let i = 0; i < N; i++) {
        const x = maxima[i];
        if (x === x) {
          seen++;
          if (x >= peak) exceed++;
        }
      }
      if (!peakClearlyNotSignificant(exceed, seen, stopAlpha)) return false;
    }
    stoppedEarly = true;
    return true;
  };
  opts.onProgress?.(finished, N);
  const t1 = performance.now();
  let lastCk = performance.now();
  const every = (opts.checkpointEvery ?? 20) * 1000;
  const afterBatch = (r: BatchResult): void => {
    merge(r);
    finished += r.count;
    opts.onProgress?.(finished, N);
    if (performance.now() - lastCk > every) {
      writeCheckpoint();
      lastCk = performance.now();
    }
  };
  if (streamed) {
    await streamed.run(pending, JOB, N, afterBatch, shouldStop, opts.signal);
  } else if (main && nWorkers === 0) {
    for (const j of pending) {
      if (opts.signal?.aborted || shouldStop()) break;
      afterBatch(main.run(j * JOB, Math.min(JOB, N - j * JOB)));
    }
  } else {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let failed = false;
      const workers: Worker[] = [];
      const feed = (w: Worker): void => {
        if (failed) return;
        if (next >= pending.length || opts.signal?.aborted || stoppedEarly || shouldStop()) {
          void w.terminate();
          return;
        }
        const j = pending[next++];
        w.postMessage({ type: 'batch', first: j * JOB, count: Math.min(JOB, N - j * JOB) });
      };
      let alive = nWorkers;
      for (let k = 0; k < nWorkers; k++) {
        const w = new Worker(new URL('./worker.js', import.meta.url), {
          workerData: { setup, batchSize: ENGINE_BATCH, slot: k + 1 },
        });
        workers.push(w);
        w.on(
          'message',
          (msg: { type: 'done'; result: BatchResult } | { type: 'error'; message: string; stack?: string }) => {
            if (msg.type === 'error') {
              failed = true;
              for (const x of workers) void x.terminate();
              reject(new Error(`permutation worker failed: ${msg.message}\n${msg.stack ?? ''}`));
              return;
            }
            afterBatch(msg.result);
            feed(w);
          },
        );
        w.on('error', (e) => {
          failed = true;
          for (const x of workers) void x.terminate();
          reject(e);
        });
        w.on('exit', () => {
          alive--;
          if (alive === 0 && !failed) resolve();
        });
        feed(w);
      }
    });
  }
  const tPerm = (performance.now() - t1) / 1000;
  if (share) {
    if (opts.signal?.aborted) throw new VbmError('interrupted before the share of rearrangements was finished');
    const end = share.first + share.count;
    return {
      first: share.first,
      count: share.count,
      maxStat: maxStat.slice(share.first, end),
      maxTfce: (maxTfce ?? new Float64Array(N)).slice(share.first, end),
      maxExtent: (maxExtent ?? new Float64Array(N)).slice(share.first, end),
      maxMass: (maxMass ?? new Float64Array(N)).slice(share.first, end),
      countStat,
      countTfce,
    };
  }
  if (finished < N && !stoppedEarly) {
    writeCheckpoint();
    throw new VbmError(
      `interrupted after ${finished} of ${N} rearrangements; the work so far is saved in ${ckJson ?? '(no checkpoint)'}`,
      ckJson ? 'run the same command again to resume from the checkpoint' : 'run again',
    );
  }
  if (ckJson && ckBin) {
    rmSync(ckJson, { force: true });
    rmSync(ckBin, { force: true });
  }
  // the rearrangements done (all of them unless sequential stopping ended the run early)
  const kept = (a: Float64Array | null): Float64Array | null => (a ? a.filter((x) => x === x) : null);
  const nullStat = kept(maxStat) as Float64Array;
  const nullTfce = kept(maxTfce);
  const nullExtent = kept(maxExtent);
  const nullMass = kept(maxMass);
  const Nd = finished;
  // p-values: counts include the observed (identity) rearrangement, index 0 of the maxima
  const fwe = (nulls: Float64Array, xs: ArrayLike<number>): { p: Float64Array; fit: GpdFit | null } => {
    if (accel.tail) return tailPValues(nulls, 0, xs);
    const sorted = Float64Array.from(nulls).sort();
    return { p: Float64Array.from(xs, (x) => countAtLeast(sorted, x) / sorted.length), fit: null };
  };
  const pUnc = new Float64Array(V);
  for (let v = 0; v < V; v++) pUnc[v] = countStat[v] / Nd;
  const statFwe = fwe(nullStat, observed.stat);
  const pFwe = statFwe.p;
  let tfcePUnc: Float64Array | null = null;
  let tfcePFwe: Float64Array | null = null;
  let tfceFit: GpdFit | null = null;
  if (nullTfce && countTfce && observed.tfce) {
    tfcePUnc = new Float64Array(V);
    for (let v = 0; v < V; v++) tfcePUnc[v] = countTfce[v] / Nd;
    const f = fwe(nullTfce, observed.tfce);
    tfcePFwe = f.p;
    tfceFit = f.fit;
  }
  let clusters: PermutationResult['clusters'] = null;
  let extentFit: GpdFit | null = null;
  let massFit: GpdFit | null = null;
  if (clusterThreshold && nullExtent && nullMass && observedClusters) {
    const cl = observedClusters;
    const pe = fwe(nullExtent, cl.extent);
    const pm = fwe(nullMass, cl.mass);
    extentFit = pe.fit;
    massFit = pm.fit;
    clusters = {
      label: Int32Array.from(cl.label),
      extent: cl.extent,
      mass: cl.mass,
      pExtent: Array.from(pe.p),
      pMass: Array.from(pm.p),
    };
  }
  let accelReport: AccelReport | null = null;
  if (accel.tail || accel.stop) {
    const notes: string[] = [];
    if (accel.tail) {
      const families: [string, unknown][] = [
        ['max ' + con.type, statFwe.fit],
        ['TFCE', tfceFit],
        ['cluster extent', extentFit],
        ['cluster mass', massFit],
      ];
      const fitted = families.filter(([, f]) => f !== null).map(([k]) => k);
      notes.push(
        `FWE p-values below 0.1 in the fitted tail (${fitted.length ? fitted.join(', ') : 'none passed the goodness-of-fit test, so all are counted'}) come from a generalised Pareto fit to the upper tail of the null maxima (method of moments; threshold chosen by an Anderson-Darling test; Winkler et al. 2016); uncorrected p-values and the critical values are counted`,
      );
    }
    if (accel.stop) {
      notes.push(
        stoppedEarly
          ? `sequential stopping ended the run after ${Nd} of ${N} rearrangements, when no observed peak could reach FWE p <= ${stopAlpha}; all p-values are counted over those ${Nd}`
          : `sequential stopping was on but every rearrangement (${Nd}) was needed`,
      );
    }
    accelReport = {
      tail: accel.tail ? { stat: statFwe.fit, tfce: tfceFit, extent: extentFit, mass: massFit } : null,
      stop: accel.stop ? { requested: N, done: Nd, stoppedEarly, alpha: stopAlpha } : null,
      note: notes.join('; ') + '.',
    };
  }
  return {
    contrast: { index: con.index, name: con.name, type: con.type, df },
    varianceGroups: vg ? new Set(vg).size : 0,
    scheme,
    permutations: Nd,
    exhaustive: arr.exhaustive && !stoppedEarly,
    distinct,
    seed,
    tfce: tfceParams,
    connectivity: conn,
    clusterThreshold,
    voxels,
    dims: input.dims,
    affine: input.affine,
    stat: observed.stat,
    pUnc,
    pFwe,
    tfceMap: observed.tfce,
    tfcePUnc,
    tfcePFwe,
    clusters,
    maxima: { stat: nullStat, tfce: nullTfce, extent: nullExtent, mass: nullMass },
    resumedFrom,
    seconds: { read: 0, permute: tPerm },
    accel: accelReport,
  };
}

/** The scans of in-memory data, one at a time (a loader without `scans` cannot be streamed). */
function scansOf(
  Y: PermutationInput['Y'],
  n: number,
  V: number,
): (visit: (i: number, values: Float32Array) => void) => void {
  if (typeof Y === 'function')
    throw new Error('permutationTest: data larger than the memory budget need `scans`, a reader of one scan at a time');
  return (visit) => {
    for (let i = 0; i < n; i++) visit(i, Y.subarray(i * V, (i + 1) * V));
  };
}
