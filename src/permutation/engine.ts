/**
 * One share of a permutation test: statistic maps for a batch of rearrangements, then per
 * rearrangement the maximum statistic, TFCE and its maximum, the largest cluster extent and
 * mass, and the voxel-wise exceedance counts against the observed maps. Runs the same in a
 * worker thread and in-process.
 */
import { invariant } from '../errors.js';
import { type ClusterWorkspace, clusterWorkspace, suprathresholdClusters } from '../inference/clusters.js';
import { type KernelData, KernelThread } from './kernel.js';
import type { Neighbours } from '../inference/neighbours.js';
import { type TfceParams, TfceWorkspace, tfce } from './tfce.js';
import { type SharedTails, mergeAllRanges } from './tailMerge.js';
import type { TopValues } from './voxelTail.js';

/** What every thread's engine shares: the data, the table of rearrangements, neighbours, TFCE and cluster settings. */
export interface EngineSetup {
  data: KernelData;
  table: Int32Array;
  neighbours: Neighbours;
  /** Grid index of each analysed voxel and the grid's dims: TFCE then works on the grid (faster). */
  grid?: { voxels: Int32Array; dims: readonly number[] };
  tfce: TfceParams | null;
  /** Cluster-forming height on the statistic, or null for no cluster inference. */
  clusterHeight: number | null;
  /** Observed maps (identity), for the uncorrected counts; absent while computing them. */
  observed?: { stat: Float32Array; tfce: Float32Array | null };
  /** The voxels' kept values (accel tail/gamma: the uncorrected tail, voxelTail.ts), merged by each thread (tailMerge.ts). */
  tails?: SharedTails | null;
}

/** The maxima and counts of rearrangements [first, first + count) (a block, or a task's share). */
export interface BatchResult {
  first: number;
  count: number;
  maxStat: Float64Array;
  maxTfce: Float64Array;
  maxExtent: Float64Array;
  maxMass: Float64Array;
  /** Voxel-wise counts of stat >= observed (and tfce >= observed) over this batch. */
  countStat: Uint32Array;
  countTfce: Uint32Array | null;
  /** A task's share: the voxels' largest values, for the uncorrected tail (engines merge theirs into EngineSetup.tails). */
  topStat?: TopValues | null;
  topTfce?: TopValues | null;
}

/** What the whole-map statistics of one rearrangement need: its settings and a thread's workspaces. */
export interface WholeMapTally {
  neighbours: Neighbours;
  tfce: TfceParams | null;
  clusterHeight: number | null;
  tfceMap: Float32Array | null;
  tfceWs: TfceWorkspace | null;
  clusterWs: ClusterWorkspace | null;
}

/**
 * The statistics of rearrangement `at` that need its whole map: the TFCE maximum and the voxels
 * whose TFCE reaches the observed one, the largest cluster's extent and mass. Shared by the
 * in-memory engine and the streamed one (blockEngine.ts), which hold the map in different places.
 */
export function tallyWholeMap(
  map: Float32Array,
  at: number,
  t: WholeMapTally,
  observedTfce: Float32Array | null,
  res: BatchResult,
): void {
  const V = map.length;
  if (t.tfce && t.tfceWs && t.tfceMap && res.countTfce && observedTfce) {
    res.maxTfce[at] = tfce(map, t.neighbours, t.tfce, t.tfceMap, t.tfceWs);
    const ct = res.countTfce;
    const ot = observedTfce;
    const tm = t.tfceMap;
    invariant(tm.length >= V && ot.length >= V && ct.length >= V, 'TFCE tally: a map shorter than the statistic');
    for (let v = 0; v < V; v++) if ((tm[v] ?? NaN) >= (ot[v] ?? NaN)) ct[v] = (ct[v] ?? 0) + 1;
  }
  if (t.clusterHeight !== null && t.clusterWs) {
    const cl = suprathresholdClusters(map, t.clusterHeight, t.neighbours, t.clusterWs);
    res.maxExtent[at] = cl.maxExtent;
    res.maxMass[at] = cl.maxMass;
  }
}

/** One thread's engine: statistic maps for batches of rearrangements, reduced to maxima and counts. */
export class Engine {
  private readonly stats: Float32Array;
  private readonly tfceMap: Float32Array;
  private readonly tfceWs: TfceWorkspace | null;
  private readonly clusterWs: ClusterWorkspace | null;
  private readonly kernel: KernelThread;
  private readonly batchSize: number;
  /** A kernel batch's TFCE maps (map-major), for the uncorrected tail. */
  private readonly tfceBatch: Float32Array | null;
  private readonly slot: number;
  /** `slot`: this thread's scratch slot in the shared data (0 for the main thread, 1.. for workers). */
  constructor(
    private readonly setup: EngineSetup,
    batchSize: number,
    slot: number,
  ) {
    const V = setup.data.data.V;
    this.kernel = new KernelThread(setup.data, slot);
    this.batchSize = Math.max(1, Math.min(batchSize, this.kernel.maxBatch()));
    this.stats = new Float32Array(this.batchSize * V);
    this.tfceMap = new Float32Array(V);
    const g = setup.grid;
    this.tfceWs = setup.tfce
      ? new TfceWorkspace(
          V,
          g ? { voxels: g.voxels, dims: g.dims, connectivity: setup.neighbours.connectivity } : undefined,
        )
      : null;
    this.clusterWs = setup.clusterHeight !== null ? clusterWorkspace(V) : null;
    this.tfceBatch = setup.tails?.tfce ? new Float32Array(this.batchSize * V) : null;
    this.slot = slot;
  }

  /** The observed maps (rearrangement 0 must be the identity). */
  observed(): { stat: Float32Array; tfce: Float32Array | null } {
    const V = this.setup.data.data.V;
    const stat = new Float32Array(V);
    this.kernel.statistics(this.setup.table, 0, 1, this.stats);
    stat.set(this.stats.subarray(0, V));
    let t: Float32Array | null = null;
    if (this.setup.tfce && this.tfceWs) {
      t = new Float32Array(V);
      tfce(stat, this.setup.neighbours, this.setup.tfce, t, this.tfceWs);
    }
    return { stat, tfce: t };
  }

  /** Maxima and exceedance counts of rearrangements [first, first + count) (observed maps set first). */
  run(first: number, count: number): BatchResult {
    const s = this.setup;
    const V = s.data.data.V;
    const obs = s.observed;
    if (!obs) throw new Error('engine: observed maps not set');
    // every map below is V long: the reads `?? NaN` / `?? 0` are never taken
    invariant(obs.stat.length === V && (!obs.tfce || obs.tfce.length === V), 'observed maps cover the voxels');
    const res: BatchResult = {
      first,
      count,
      maxStat: new Float64Array(count),
      maxTfce: new Float64Array(count),
      maxExtent: new Float64Array(count),
      maxMass: new Float64Array(count),
      countStat: new Uint32Array(V),
      countTfce: s.tfce ? new Uint32Array(V) : null,
    };
    const tails = s.tails ?? null;
    // threads start their merges in different voxel ranges, so that they rarely wait for a lock
    const from = tails ? Math.floor((this.slot * tails.locks.length) / 2) : 0;
    for (let b0 = 0; b0 < count; b0 += this.batchSize) {
      const nb = Math.min(this.batchSize, count - b0);
      this.kernel.statistics(s.table, first + b0, nb, this.stats);
      if (tails) mergeAllRanges(tails, 'stat', first + b0, nb, { vals: this.stats, base: 0, vs: 1, ks: V }, from);
      for (let b = 0; b < nb; b++) {
        const map = this.stats.subarray(b * V, (b + 1) * V);
        let max = -Infinity;
        const cs = res.countStat;
        const os = obs.stat;
        for (let v = 0; v < V; v++) {
          const x = map[v] ?? NaN;
          if (x > max) max = x;
          if (x >= (os[v] ?? NaN)) cs[v] = (cs[v] ?? 0) + 1;
        }
        res.maxStat[b0 + b] = max;
        tallyWholeMap(
          map,
          b0 + b,
          { ...s, tfceMap: this.tfceMap, tfceWs: this.tfceWs, clusterWs: this.clusterWs },
          obs.tfce,
          res,
        );
        this.tfceBatch?.set(this.tfceMap, b * V);
      }
      if (tails && this.tfceBatch)
        mergeAllRanges(tails, 'tfce', first + b0, nb, { vals: this.tfceBatch, base: 0, vs: 1, ks: V }, from);
    }
    return res;
  }
}
