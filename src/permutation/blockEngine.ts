/**
 * The permutation engine over voxel blocks (data larger than memory): one thread's kernel on one
 * block of the data at a time. A pass reads every block and computes a batch of rearrangements on
 * it; maximum statistics and voxel-wise exceedance counts fold block by block, and with TFCE or
 * cluster statistics the pass's maps are assembled whole and scored after the last block. Each
 * voxel's statistic depends only on its own column of the data, and maxima and counts do not depend
 * on the order voxels are visited, so the results are those of engine.ts on the whole matrix.
 * Pure: runs the same in a worker thread and in-process; the block reader is given (the shell's
 * scratch file, scratchMatrix.ts).
 */
import { invariant } from '../errors.js';
import { type ClusterWorkspace, clusterWorkspace } from '../inference/clusters.js';
import { type DataMatrix, allocateDataMatrix } from './dataMatrix.js';
import { type BatchResult, tallyWholeMap } from './engine.js';
import { type KernelData, KernelThread } from './kernel.js';
import type { NativeLevel } from './nativeProduct.js';
import type { Neighbours } from '../inference/neighbours.js';
import { type TfceParams, TfceWorkspace } from './tfce.js';
import { KERNEL_BATCH } from './kernel.js';
import { type StreamPlan, type VoxelBlock } from './voxelBlocks.js';
import { type SharedTails, mergeAllRanges, mergeRange, rangeAt } from './tailMerge.js';

export interface BlockSetup {
  /** The kernel's inputs except the data (a block at a time) and ssTotal (sliced per block). */
  kernel: Omit<KernelData, 'data' | 'ssTotal'>;
  n: number;
  V: number;
  ssTotal: Float64Array;
  table: Int32Array;
  neighbours: Neighbours;
  grid: { voxels: Int32Array; dims: readonly number[] };
  tfce: TfceParams | null;
  clusterHeight: number | null;
  plan: StreamPlan;
  /** Whether the SIMD kernel runs (the one the in-memory test would use), and its compiled module. */
  useWasm: boolean;
  gemm?: WebAssembly.Module | null;
  /** The native kernel's level when the run uses it (nativeProduct.ts; the thread must have provided it). */
  native?: NativeLevel | null;
  /** Observed maps (identity), for the counts; absent while computing them. */
  observed?: { stat: Float32Array; tfce: Float32Array | null };
  /** The voxels' kept values for the uncorrected tail (accel tail/gamma), one range per voxel block of the plan (tailMerge.ts). */
  tails?: SharedTails | null;
}

export type BlockReader = (b: VoxelBlock, into: Float32Array) => void;

export class BlockEngine {
  private readonly dm: DataMatrix;
  private readonly kd: KernelData;
  private readonly kernel: KernelThread;
  private readonly stats: Float32Array;
  private maps: Float32Array | null = null;
  private tfceMap: Float32Array | null = null;
  private tfceWs: TfceWorkspace | null = null;
  private clusterWs: ClusterWorkspace | null = null;

  constructor(private readonly s: BlockSetup) {
    const bv = s.plan.blockVoxels;
    this.dm = allocateDataMatrix(s.n, bv, {
      slots: 1,
      maxRows: KERNEL_BATCH * s.kernel.rows.length,
      useWasm: s.useWasm,
      gemm: s.gemm,
      native: s.native ?? null,
    });
    this.kd = { ...s.kernel, data: this.dm, ssTotal: s.ssTotal };
    this.kernel = new KernelThread(this.kd, 0);
    this.stats = new Float32Array(KERNEL_BATCH * bv);
  }

  /** The block's rows, in this thread's kernel memory (n x b.stride floats), to be filled by a reader. */
  view(b: VoxelBlock): Float32Array {
    return this.dm.R.subarray(0, this.s.n * b.stride);
  }

  private select(b: VoxelBlock): void {
    this.kd.data = { ...this.dm, V: b.V, stride: b.stride, R: this.view(b) };
    this.kd.ssTotal = this.s.ssTotal.subarray(b.v0, b.v0 + b.V);
  }

  /**
   * The pass that follows the writing of the scans: each block is read, replaced by its residuals
   * (`residualise` works in place and returns the columns' sums of squares, into ssTotal) and
   * written back, and the observed statistics (rearrangement 0, the identity) go into stat.
   */
  prepare(
    read: BlockReader,
    write: BlockReader,
    residualise: (R: Float32Array, n: number, V: number, stride: number) => Float64Array,
    stat: Float32Array,
  ): void {
    const s = this.s;
    for (const b of s.plan.blocks) {
      const R = this.view(b);
      read(b, R);
      s.ssTotal.set(residualise(R, s.n, b.V, b.stride), b.v0);
      write(b, R);
      this.select(b);
      this.kernel.statistics(s.table, 0, 1, this.stats);
      stat.set(this.stats.subarray(0, b.V), b.v0);
    }
  }

  /** Maxima and counts of rearrangements [first, first + count), reading every block once per pass. */
  run(first: number, count: number, read: BlockReader): BatchResult {
    const s = this.s;
    const V = s.V;
    const obs = s.observed;
    if (!obs) throw new Error('block engine: observed maps not set');
    // every map below is V long and each block lies within it: the reads `?? NaN` / `?? 0` are never taken
    invariant(obs.stat.length === V && (!obs.tfce || obs.tfce.length === V), 'observed maps cover the voxels');
    const res: BatchResult = {
      first,
      count,
      maxStat: new Float64Array(count).fill(-Infinity),
      maxTfce: new Float64Array(count),
      maxExtent: new Float64Array(count),
      maxMass: new Float64Array(count),
      countStat: new Uint32Array(V),
      countTfce: s.tfce ? new Uint32Array(V) : null,
    };
    const pass = s.plan.passSize;
    const whole = s.plan.wholeMaps;
    if (whole && (this.maps?.length ?? 0) < Math.min(pass, count) * V)
      this.maps = new Float32Array(Math.min(pass, count) * V);
    for (let p0 = 0; p0 < count; p0 += pass) {
      const pc = Math.min(pass, count - p0);
      for (const b of s.plan.blocks) {
        invariant(b.v0 >= 0 && b.v0 + b.V <= V, 'a voxel block lies within the mask');
        read(b, this.view(b));
        this.select(b);
        for (let k0 = 0; k0 < pc; k0 += KERNEL_BATCH) {
          const nb = Math.min(KERNEL_BATCH, pc - k0);
          this.kernel.statistics(s.table, first + p0 + k0, nb, this.stats);
          // the block's values go into its own range of the kept values: the memory this takes is the block's
          if (s.tails)
            mergeRange(s.tails, 'stat', rangeAt(s.tails, b.v0), first + p0 + k0, nb, {
              vals: this.stats,
              base: -b.v0,
              vs: 1,
              ks: b.V,
            });
          for (let k = 0; k < nb; k++) {
            const map = this.stats.subarray(k * b.V, (k + 1) * b.V);
            const cs = res.countStat;
            const os = obs.stat;
            let max = res.maxStat[p0 + k0 + k] ?? NaN;
            for (let v = 0; v < b.V; v++) {
              const x = map[v] ?? NaN;
              if (x > max) max = x;
              if (x >= (os[b.v0 + v] ?? NaN)) cs[b.v0 + v] = (cs[b.v0 + v] ?? 0) + 1;
            }
            res.maxStat[p0 + k0 + k] = max;
            if (this.maps) this.maps.set(map, (k0 + k) * V + b.v0);
          }
        }
      }
      if (this.maps) this.scoreMaps(res, p0, pc);
    }
    return res;
  }

  /** TFCE and cluster statistics of the pass's whole maps. */
  private scoreMaps(res: BatchResult, p0: number, pc: number): void {
    const s = this.s;
    const V = s.V;
    const obs = s.observed!;
    if (s.tfce) {
      this.tfceMap ??= new Float32Array(V);
      this.tfceWs ??= new TfceWorkspace(V, {
        voxels: s.grid.voxels,
        dims: s.grid.dims,
        connectivity: s.neighbours.connectivity,
      });
    }
    if (s.clusterHeight !== null) this.clusterWs ??= clusterWorkspace(V);
    for (let k = 0; k < pc; k++) {
      const map = this.maps!.subarray(k * V, (k + 1) * V);
      tallyWholeMap(
        map,
        p0 + k,
        { ...s, tfceMap: this.tfceMap, tfceWs: this.tfceWs, clusterWs: this.clusterWs },
        obs.tfce,
        res,
      );
      if (s.tails?.tfce && this.tfceMap)
        mergeAllRanges(s.tails, 'tfce', res.first + p0 + k, 1, { vals: this.tfceMap, base: 0, vs: 1, ks: 0 });
    }
  }
}
