/**
 * The vocabulary of a permutation test: its settings, its input (data in memory or a loader) and
 * its result. Types only.
 */
import type { Origin } from '../settings/setting.js';
import type { Connectivity } from '../inference/clusters.js';
import type { AccelOptions, GammaFit, GpdFit } from './accel.js';
import type { BatchResult } from './engine.js';
import type { SchemePlan } from './schemePlan.js';
import type { Scheme } from './schemes.js';
import type { TfceParams } from './tfce.js';
import type { VoxelTailReport } from './voxelTail.js';
import type { StreamPlan, VoxelBlock } from './voxelBlocks.js';

/** The settings of a permutation test of one contrast (library, CLI and analysis files). */
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
  /** Worker threads (default: the machine's cores); 0 runs every rearrangement in the calling thread. */
  workers?: number;
  /**
   * 'wasm' or 'js'. Default: the native product (an optional addon with AVX2 / AVX-512 FMA, the
   * fused WebAssembly kernel's numbers) where it loads, else 'wasm', when the data fit in 4 GB.
   */
  kernel?: 'wasm' | 'js';
  /** Write and use a checkpoint at this path prefix (default: none). */
  checkpoint?: string;
  /** Seconds between checkpoints (default 20). */
  checkpointEvery?: number;
  /** Tail or gamma approximation of FWE p-values and/or sequential stopping (see accel.ts). */
  accel?: AccelOptions;
  /** Stops the run between blocks (an AbortSignal, or anything with `aborted`). */
  signal?: { readonly aborted: boolean };
  onProgress?: (done: number, total: number) => void;
  onReadProgress?: (done: number, total: number) => void;
  onNote?: (message: string) => void;
  /** Maxima and counts of rearrangements computed elsewhere (by tasks, see src/backend), merged before the rest are run. */
  shares?: BatchResult[];
  /** Where these settings were written (command line, analysis file), so that errors name them as the user did. */
  origin?: Origin;
  /** Memory budget in bytes (default: the shell's, half the machine's or a Slurm task's memory): larger data are streamed from a scratch file (streamed.ts). */
  memory?: number;
  /** Path prefix of that scratch file (default: the checkpoint's prefix, else the system's temporary folder). */
  scratch?: string;
  /**
   * A scratch file shared by several processes (the tasks of a job), in this plan's voxel blocks:
   * without `prepared` this process writes and prepares it (the test then returns a
   * PreparedScratch); with it the test streams from the file as it is.
   */
  sharedScratch?: SharedScratch;
}

/** The residuals' column sums of squares and the observed statistic map, as the preparing pass left them. */
export interface PreparedScratch {
  ssTotal: Float64Array;
  stat: Float32Array;
}

/** A scratch file written once and streamed by several processes (PermuteOptions.sharedScratch). */
export interface SharedScratch {
  /** Where the file is (the ScratchStore's locator). */
  locator: string;
  plan: StreamPlan;
  /** Absent: this process writes the file and prepares it. */
  prepared?: PreparedScratch;
  /** Compute only the plan's voxel blocks [first, first + count) (maximum statistics only: TFCE and clusters need whole maps). */
  blocks?: { first: number; count: number };
}

/** Everything a permutation test of one contrast finds: maps, p-values, null maxima and how it ran. */
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

/** How the p-values were accelerated (PermuteOptions.accel). */
export interface AccelReport {
  /** GPD fits of the null maxima used for FWE p-values (null where no fit passed: counted). */
  tail: { stat: GpdFit | null; tfce: GpdFit | null; extent: GpdFit | null; mass: GpdFit | null } | null;
  /** Moments of the null maxima behind gamma-approximated FWE p-values (null: too few to fit, counted). */
  gamma?: { stat: GammaFit | null; tfce: GammaFit | null; extent: GammaFit | null; mass: GammaFit | null } | null;
  stop: { requested: number; done: number; stoppedEarly: boolean; alpha: number } | null;
  /** The per-voxel tails of the uncorrected p-values (accel tail or gamma; null per map: counted). */
  uncorrected?: { stat: VoxelTailReport | null; tfce: VoxelTailReport | null };
  /** One sentence for outputs: which p-values are approximated and how. */
  note: string;
}

/** A permutation test on data already in memory, or read by a loader (what pipeline/permuteInput.ts's `permuteContrast` feeds the test). */
export interface PermutationInput {
  /** Design matrix (n x p) and the contrast's weights (rows over the p columns). */
  X: number[][];
  weights: number[][];
  type: 'T' | 'F';
  contrast: { index: number; name: string };
  /** Data, scan-major (n x V, float32), or a loader that writes scan i's V values at R[i * stride]. */
  Y: Float32Array | ((R: Float32Array, stride: number) => void);
  /** The same data one scan at a time (needed with a loader when the data exceed the memory budget). */
  scans?: ScanVisitor;
  /** Grid index of each of the V voxels (ascending), the grid's dims and affine. */
  voxels: Int32Array;
  dims: [number, number, number];
  affine: number[][];
  /** What else identifies the data for checkpoints (scan hashes, analysis id). */
  identity?: unknown;
  /** Variance group of each scan: with two or more, Welch's v (T) or G (F) is the statistic. */
  varianceGroups?: ArrayLike<number>;
  /** The plan, when the caller made it already (under `withVarianceGroups` of the same options): not made again. */
  plan?: SchemePlan;
}

/** An accumulator of a test saved in a checkpoint (null maxima, exceedance counts). */
export type CheckpointSection = Float64Array | Float32Array | Uint32Array | Uint8Array;

/**
 * Where a long test keeps its progress (checkpoint.ts keeps it in two files). The test describes
 * itself by `settings` (plain JSON: data identity, contrast, scheme, seed, ...); a checkpoint is
 * used only when it was made with the same settings.
 */
export interface CheckpointStore {
  /** Where it is, for messages (e.g. the .json file). */
  readonly where: string;
  /**
   * Fill `sections` (in place, in order) from the checkpoint of this test and return the chunks it
   * had done; null when there is none or it is from other settings, damaged or unreadable (said
   * in a note then).
   */
  load(settings: object, sections: CheckpointSection[], onNote?: (message: string) => void): number[] | null;
  /** Save the chunks done and the sections (atomically: a crash leaves the previous checkpoint). */
  save(settings: object, done: number[], sections: CheckpointSection[]): void;
  /** Remove it (the test finished). */
  clear(): void;
}

/** Visits the scans in order 0..n-1, each as its V values (the buffer may be reused between scans). */
export type ScanVisitor = (visit: (i: number, values: Float32Array) => void) => void;

/** Reads (and, when opened for it, rewrites) of a scratch file's voxel blocks, for one thread. */
export interface ScratchBlocks {
  /** Block `b`'s rows into `into` (n x b.stride floats). */
  read(b: VoxelBlock, into: Float32Array): void;
  /** Block `b`'s rows from `from`, in place. */
  write(b: VoxelBlock, from: Float32Array): void;
  close(): void;
}

/**
 * Where data larger than the memory budget are kept (scratchMatrix.ts keeps them in a file): the
 * scans written once in the plan's voxel blocks, then opened by each thread. A work module that
 * runs in other threads (streamWork.ts) opens the same file by its locator.
 */
export interface ScratchStore {
  /**
   * Write the scans into a fresh scratch file in the plan's blocks; return its locator (a path).
   * With `at`, write it there (replacing a partial one) and leave it when the test ends: it is shared.
   */
  create(plan: StreamPlan, n: number, V: number, scans: ScanVisitor, at?: string): string;
  /** Open the scratch file for this thread. */
  open(locator: string, n: number, writable: boolean): ScratchBlocks;
  /** Remove it (the test ended, or failed). */
  remove(locator: string): void;
}
