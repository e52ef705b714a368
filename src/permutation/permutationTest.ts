/**
 * The permutation test of one contrast on plain data (pure: no node:* module, no process, no
 * console; the kernel, the runner of blocks and the checkpoint store are handed in by permute.ts).
 * Freedman-Lane permutations (or sign flips for one-sample effects), maximum-statistic FWE, exact
 * TFCE with FWE, cluster extent and mass FWE. The data are read once into a contiguous float32
 * matrix shared with the runner's threads; the rearrangements run in blocks of
 * PERMUTATION_CHUNK, merged by index, so the result is the same whatever runs the blocks. Data
 * larger than the memory budget are streamed from the scratch store instead (streamed.ts), with
 * the same results.
 */
import { KERNEL_BATCH } from './kernel.js';
import type { Connectivity } from '../inference/clusters.js';
import { defaultOf, settingName } from '../settings/setting.js';
import { PERMUTE } from '../settings/vocabulary.js';
import { VbmError, invariant } from '../errors.js';
import { clusterWorkspace, suprathresholdClusters } from '../inference/clusters.js';
import { statFromTail } from '../inference/distributions.js';
import { maskedNeighbours } from '../inference/neighbours.js';
import type { WorkRunner } from '../work.js';
import { stopReached, stopSchedule } from './accel.js';
import type { Block, BlockShared } from './blockWork.js';
import { allocateDataMatrix, fitsWasm } from './dataMatrix.js';
import { type BatchResult, Engine, type EngineSetup } from './engine.js';
import type { KernelData } from './kernel.js';
import { type NativeKernel, provideNativeKernel } from './nativeProduct.js';
import { removeNuisance } from './nuisance.js';
import { permutationPValues } from './pValues.js';
import { planScheme, withVarianceGroups } from './schemePlan.js';
import { rearrangements } from './schemes.js';
import { type StreamedRun, prepareStreamed } from './streamed.js';
import { FSL_TFCE } from './tfce.js';
import type {
  CheckpointStore,
  PermutationInput,
  PermutationResult,
  PermuteOptions,
  PreparedScratch,
  ScanVisitor,
  ScratchStore,
} from './types.js';
import { formatBytes, planVoxelBlocks } from './voxelBlocks.js';
import { welchSetup } from './welch.js';
import { TAIL_KEEP, type TopValues, mergeTop, tailFitsBudget, tailKeepBytes } from './voxelTail.js';
import { type SharedTails, evenRanges, sharedTails, withAllRanges } from './tailMerge.js';

/** Rearrangements per unit of work. Task blocks are multiples of it, so that their batches, and so their results, are those of one process. */
export const PERMUTATION_CHUNK = 16;
const JOB = PERMUTATION_CHUNK;
/** Rearrangements per kernel call. */
const ENGINE_BATCH = KERNEL_BATCH;

/** What the shell hands the test: the compiled kernel, where blocks run, where progress is kept. */
export interface PermutationServices {
  /** The compiled SIMD kernel (gemm.wasm); without it the JavaScript kernel runs. */
  gemm?: WebAssembly.Module | null;
  /**
   * The native product kernel (nativeProduct.ts), used instead of the WebAssembly product where that
   * would run (the same numbers); then `blockModule` and `streamModule` must provide it in their threads.
   */
  native?: NativeKernel | null;
  /** Runs blocks of rearrangements (e.g. node/threadPool.ts) with `blockModule`; absent or width 0: in the calling thread. */
  runner?: WorkRunner;
  /** Address of blockWork.ts's compiled module for the runner (a file URL's href). */
  blockModule?: string;
  /** Where progress is kept between runs (a whole test only, not a share). */
  checkpoint?: CheckpointStore;
  /** The memory budget when the options give none (bytes; absent: the data are always held in memory). */
  memory?: number;
  /** Where data larger than the budget are kept (scratchMatrix.ts's file), and streamWork.ts's address for the runner. */
  scratch?: ScratchStore;
  streamModule?: string;
}

/**
 * The test (with `share` undefined), or, with `share`, only the maxima and counts of rearrangements
 * [share.first, share.first + share.count) (no checkpoint, no p-values): what a task computes.
 * With a shared scratch file that is not prepared yet (options.sharedScratch without `prepared`),
 * only that: the file is written and reduced to residuals, and its PreparedScratch returned.
 */
export async function runPermutationTest(
  input: PermutationInput,
  options: Omit<PermuteOptions, 'contrast'>,
  services: PermutationServices,
  share?: { first: number; count: number },
): Promise<PermutationResult | BatchResult | PreparedScratch> {
  const con = { ...input.contrast, type: input.type };
  const vg =
    input.varianceGroups && new Set(Array.from(input.varianceGroups)).size > 1
      ? Array.from(input.varianceGroups)
      : undefined;
  const opts = withVarianceGroups(options, vg);
  const n = input.X.length;
  const requested = opts.permutations ?? defaultOf(PERMUTE.permutations);
  if (!Number.isInteger(requested) || requested < 1)
    throw new VbmError(
      `${settingName(PERMUTE.permutations, opts.origin)} must be a positive whole number (got ${requested})`,
    );
  const seed = opts.seed ?? defaultOf(PERMUTE.seed);
  const conn = opts.connectivity ?? (Number(PERMUTE.connectivity.default) as Connectivity);
  const { part, scheme, rows, effectRows, distinct } =
    input.plan ?? planScheme(input.X, input.weights, input.type, input.contrast, opts);
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
  const runner = services.runner && services.blockModule && services.runner.width > 0 ? services.runner : undefined;
  const nWorkers = runner ? Math.min(runner.width, Math.ceil(N / JOB)) : 0;
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
  const budget = opts.memory ?? services.memory;
  const native = opts.kernel !== 'js' && services.gemm && services.native ? services.native : null;
  provideNativeKernel(native);
  const common = opts.sharedScratch;
  const someBlocks = common?.blocks && (common.blocks.first > 0 || common.blocks.count < common.plan.blocks.length);
  if (someBlocks && (opts.tfce || opts.clusterThreshold !== undefined))
    throw new Error('permutationTest: TFCE and cluster statistics need whole maps: no share of voxel blocks');
  if (common && common.plan.fileBytes !== common.plan.blocks.reduce((a, b) => a + n * b.stride * 4, 0))
    throw new Error('permutationTest: the shared scratch plan does not hold these scans');
  // a shared file's plan is the one it was written with, whatever this process's budget
  let plan = common ? common.plan : budget === undefined ? null : planVoxelBlocks(memoryNeeds, budget);
  const accel = opts.accel ?? {};
  // the uncorrected tail (accel tail or gamma) keeps each voxel's largest null values (tailMerge.ts)
  const tailBytes = tailKeepBytes(V, !!opts.tfce);
  // (not in a task that only writes the shared scratch file)
  let keepValues = !!(accel.tail || accel.gamma) && !(common && !common.prepared);
  if (keepValues && opts.shares?.some((sh) => !sh.topStat)) {
    keepValues = false;
    opts.onNote?.("uncorrected p-values are counted: a task did not keep its voxels' largest null values");
  } else if (keepValues && budget !== undefined && !tailFitsBudget(tailBytes, budget)) {
    keepValues = false;
    opts.onNote?.(
      `uncorrected p-values are counted: their tail would keep ${formatBytes(tailBytes)}, over a quarter of the memory budget (${formatBytes(budget)})`,
    );
  } else if (keepValues && plan && !common && budget !== undefined) {
    // streamed: the kept values come out of the budget, the blocks get the rest
    try {
      plan = planVoxelBlocks(memoryNeeds, budget - tailBytes) ?? plan;
    } catch (e) {
      if (!(e instanceof VbmError)) throw e;
      keepValues = false;
      opts.onNote?.(
        `uncorrected p-values are counted: the memory budget (${formatBytes(budget)}) leaves too little for the voxel blocks beside their tail (${formatBytes(tailBytes)})`,
      );
    }
  }
  // one range of the kept values per voxel block when streamed (a thread merges a block it holds)
  const tails: SharedTails | null = keepValues
    ? sharedTails(V, N, TAIL_KEEP, !!opts.tfce, plan ? plan.blocks.map((b) => b.v0) : evenRanges(V))
    : null;
  if (plan && !services.scratch)
    throw new Error('permutationTest: the data exceed the memory budget and no scratch store was given');
  // streamed data have no matrix in memory: the block engines hold one block each
  const dm = plan
    ? { n, V, stride: 0, R: new Float32Array(0), wasm: null }
    : allocateDataMatrix(n, V, {
        slots: nWorkers + 1,
        maxRows: ENGINE_BATCH * rows.length,
        useWasm: opts.kernel !== 'js',
        gemm: services.gemm,
        native: native?.level ?? null,
      });
  if (!plan) {
    const R = dm.R;
    // n scans of V voxels, new: read into huge pages where the addon can ask for them
    services.native?.adviseHugePages?.(R);
    if (typeof input.Y === 'function') input.Y(R, dm.stride);
    else for (let i = 0; i < n; i++) R.set(input.Y.subarray(i * V, (i + 1) * V), i * dm.stride);
  }
  const voxels = input.voxels;
  const ssTotal = plan ? new Float64Array(0) : removeNuisance(dm.R, n, V, dm.stride, part.G, native);
  const nbLocal = maskedNeighbours(voxels, input.dims, conn);
  const nbStart = new Int32Array(new SharedArrayBuffer(nbLocal.start.length * 4));
  nbStart.set(nbLocal.start);
  const nbList = new Int32Array(new SharedArrayBuffer(Math.max(1, nbLocal.list.length) * 4));
  nbList.set(nbLocal.list);
  const neighbours = { start: nbStart, list: nbList, connectivity: conn };
  const data: KernelData = {
    data: dm,
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
      throw new VbmError(
        `${settingName(PERMUTE.clusterThreshold, opts.origin)} must be an uncorrected p-value between 0 and 1 (got ${p})`,
        'e.g. 0.001',
      );
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
    tails,
  };
  let streamed: StreamedRun | null = null;
  if (plan) {
    const { data: _d, ssTotal: _s, ...kernel } = data;
    const streamPlan = plan;
    if (!common?.prepared)
      opts.onNote?.(
        `the permutation data (${n} scans x ${V} voxels, ${formatBytes(plan.inMemoryBytes)} in memory) exceed the memory budget (${formatBytes(plan.budget)}): streamed from a ${common ? 'shared ' : ''}scratch file (${formatBytes(plan.fileBytes)}) in ${plan.blocks.length} voxel blocks, ${plan.passSize} rearrangements per pass`,
      );
    const own = common?.blocks;
    if (own && (own.first < 0 || own.count < 1 || own.first + own.count > plan.blocks.length))
      throw new Error(`permutationTest: voxel blocks [${own.first}, +${own.count}) are not in the plan`);
    streamed = await prepareStreamed(
      { scans: input.scans ?? scansOf(input.Y, n, V), G: part.G },
      {
        kernel,
        n,
        V,
        table,
        neighbours,
        grid: { voxels: gridVoxels, dims: input.dims },
        tfce: tfceParams,
        clusterHeight: clusterThreshold?.height ?? null,
        // a share of voxel blocks visits only its own (a file being prepared is prepared whole)
        plan:
          own && common.prepared
            ? { ...streamPlan, blocks: streamPlan.blocks.slice(own.first, own.first + own.count) }
            : streamPlan,
        tails,
        // the kernel the in-memory test would use, so that the results do not depend on the budget
        useWasm: opts.kernel !== 'js' && !!services.gemm && fitsWasm(n, V, nWorkers + 1, ENGINE_BATCH * rows.length),
        gemm: services.gemm,
        native: native?.level ?? null,
      },
      {
        scratch: services.scratch!,
        runner,
        module: services.streamModule,
        workers: nWorkers,
        ...(common ? { common: { locator: common.locator, prepared: common.prepared } } : {}),
      },
      opts.onNote,
    );
    if (common && !common.prepared) return { ssTotal: streamed.ssTotal, stat: streamed.observed.stat };
  }
  const main = streamed ? null : new Engine(setup, ENGINE_BATCH, 0);
  const observed = streamed ? streamed.observed : main!.observed();
  setup.observed = observed;
  const stopAlpha = accel.alpha ?? 0.05;
  const topStat: TopValues | null = tails ? { keep: TAIL_KEEP, values: tails.stat } : null;
  const topTfce: TopValues | null = tails?.tfce ? { keep: TAIL_KEEP, values: tails.tfce } : null;
  const observedClusters = clusterThreshold
    ? suprathresholdClusters(observed.stat, clusterThreshold.height, neighbours, clusterWorkspace(V))
    : null;

  // accumulators (possibly from a checkpoint)
  // sequential stopping is decided at fixed points (accel.ts), never inside a share a task runs
  const stopPoints = accel.stop && !share ? stopSchedule(N, JOB, accel.minPermutations ?? 100) : [N];
  const maxStat = new Float64Array(N).fill(NaN);
  const maxTfce = tfceParams ? new Float64Array(N).fill(NaN) : null;
  const maxExtent = clusterThreshold ? new Float64Array(N).fill(NaN) : null;
  const maxMass = clusterThreshold ? new Float64Array(N).fill(NaN) : null;
  const countStat = new Uint32Array(V);
  const countTfce = tfceParams ? new Uint32Array(V) : null;
  const jobs = Math.ceil(N / JOB);
  const done = new Uint8Array(jobs);
  // what identifies this test for its checkpoint
  const settings = {
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
    stop: accel.stop ? { alpha: stopAlpha, schedule: stopPoints } : null,
    // the kept values and, per voxel range, which rearrangements they hold (tailMerge.ts)
    ...(tails ? { keep: TAIL_KEEP, tailRanges: tails.locks.length } : {}),
  };
  let resumedFrom = 0;
  const store = !share && !opts.shares ? services.checkpoint : undefined;
  const sections = [
    maxStat,
    maxTfce,
    maxExtent,
    maxMass,
    countStat,
    countTfce,
    topStat?.values ?? null,
    topTfce?.values ?? null,
    tails?.mergedStat ?? null,
    tails?.mergedTfce ?? null,
  ].filter((s): s is NonNullable<typeof s> => s !== null);
  const resumed = store?.load(settings, sections, opts.onNote);
  if (resumed) {
    for (const j of resumed) done[j] = 1;
    resumedFrom = resumed.reduce((acc, j) => acc + Math.min(JOB, N - j * JOB), 0);
    opts.onNote?.(`resuming from a checkpoint: ${resumedFrom} of ${N} rearrangements already done`);
  }
  const writeCheckpoint = (): void => {
    // the threads merge kept values as they go: copied with every range locked, each merge whole or absent
    withAllRanges(tails, () =>
      store?.save(
        settings,
        [...done.keys()].filter((j) => done[j]),
        sections,
      ),
    );
  };
  const merge = (r: BatchResult): void => {
    maxStat.set(r.maxStat, r.first);
    maxTfce?.set(r.maxTfce, r.first);
    maxExtent?.set(r.maxExtent, r.first);
    maxMass?.set(r.maxMass, r.first);
    const rStat = r.countStat;
    invariant(rStat.length === V && (!r.countTfce || r.countTfce.length === V), 'a batch counts every voxel');
    for (let v = 0; v < V; v++) countStat[v] = (countStat[v] ?? 0) + (rStat[v] ?? 0);
    const rTfce = r.countTfce;
    if (countTfce && rTfce) for (let v = 0; v < V; v++) countTfce[v] = (countTfce[v] ?? 0) + (rTfce[v] ?? 0);
    if (topStat && r.topStat) mergeTop(topStat, r.topStat);
    if (topTfce && r.topTfce) mergeTop(topTfce, r.topTfce);
    // a streamed unit covers several chunks
    for (let j = r.first / JOB; j * JOB < r.first + r.count; j++) done[j] = 1;
  };
  for (const s of opts.shares ?? []) {
    const chunks = [...done.keys()].filter((j) => j * JOB >= s.first && j * JOB < s.first + s.count);
    if (
      s.first % JOB !== 0 ||
      s.first + s.count > N ||
      s.maxStat.length !== s.count ||
      s.countStat.length !== V ||
      (topTfce && !s.topTfce) ||
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
  const pending: Block[] = [...done.keys()]
    .filter((j) => !done[j] && inShare(j))
    .map((j) => ({ first: j * JOB, count: Math.min(JOB, N - j * JOB) }));
  let finished = resumedFrom;
  let stoppedEarly = false;
  const stop = (): boolean => opts.signal?.aborted === true;
  opts.onProgress?.(finished, N);
  const t1 = Date.now();
  let lastCk = Date.now();
  const every = (opts.checkpointEvery ?? 20) * 1000;
  const afterBatch = (r: BatchResult): void => {
    merge(r);
    finished += r.count;
    opts.onProgress?.(finished, N);
    if (Date.now() - lastCk > every) {
      writeCheckpoint();
      lastCk = Date.now();
    }
  };
  // the run in waves between the points of the stopping schedule (one wave without stopping)
  let waveStart = 0;
  try {
    for (const point of stopPoints) {
      const wave = pending.filter((b) => b.first >= waveStart && b.first < point);
      waveStart = point;
      if (stop()) break;
      if (streamed) {
        await streamed.run(
          wave.map((b) => b.first / JOB),
          JOB,
          N,
          afterBatch,
          stop,
        );
      } else if (!runner) {
        for (const b of wave) {
          if (stop()) break;
          afterBatch(main!.run(b.first, b.count));
        }
      } else if (wave.length) {
        await runner.run<BlockShared, Block, BatchResult>({
          module: services.blockModule!,
          shared: { setup, batchSize: ENGINE_BATCH },
          items: wave,
          width: Math.min(nWorkers, wave.length),
          onResult: afterBatch,
          stop,
          label: 'permutation worker',
        });
      }
      if (point < N && !stop() && stopReached([maxStat, maxTfce, maxExtent, maxMass], point, stopAlpha)) {
        stoppedEarly = true;
        break;
      }
    }
  } finally {
    streamed?.dispose();
  }
  const tPerm = (Date.now() - t1) / 1000;
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
      ...(topStat ? { topStat, topTfce } : {}),
    };
  }
  if (finished < N && !stoppedEarly) {
    writeCheckpoint();
    throw new VbmError(
      `interrupted after ${finished} of ${N} rearrangements; the work so far is saved in ${store?.where ?? '(no checkpoint)'}`,
      store ? 'run the same command again to resume from the checkpoint' : 'run again',
    );
  }
  store?.clear();
  // the rearrangements done (all of them unless sequential stopping ended the run early)
  const kept = (a: Float64Array | null): Float64Array | null => (a ? a.filter((x) => x === x) : null);
  const nulls = { stat: kept(maxStat)!, tfce: kept(maxTfce), extent: kept(maxExtent), mass: kept(maxMass) };
  const Nd = finished;
  const p = permutationPValues({
    statType: con.type,
    requested: N,
    done: Nd,
    stoppedEarly,
    countStat,
    countTfce,
    nullStat: nulls.stat,
    nullTfce: nulls.tfce,
    nullExtent: nulls.extent,
    nullMass: nulls.mass,
    observed,
    observedClusters,
    accel,
    stopAlpha,
    topStat,
    topTfce,
  });
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
    pUnc: p.pUnc,
    pFwe: p.pFwe,
    tfceMap: observed.tfce,
    tfcePUnc: p.tfcePUnc,
    tfcePFwe: p.tfcePFwe,
    clusters: p.clusters,
    maxima: nulls,
    resumedFrom,
    seconds: { read: 0, permute: tPerm },
    accel: p.accel,
  };
}

/** The scans of in-memory data, one at a time (a loader without `scans` cannot be streamed). */
function scansOf(Y: PermutationInput['Y'], n: number, V: number): ScanVisitor {
  if (typeof Y === 'function')
    throw new Error('permutationTest: data larger than the memory budget need `scans`, a reader of one scan at a time');
  return (visit) => {
    for (let i = 0; i < n; i++) visit(i, Y.subarray(i * V, (i + 1) * V));
  };
}
