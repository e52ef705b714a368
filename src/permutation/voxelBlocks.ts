/**
 * The memory plan of a permutation test whose data matrix (scans x masked voxels, float32) may not
 * fit a memory budget: the bytes the in-memory test needs, and, when that exceeds the budget, the
 * voxel blocks of a scratch file (each block scans x block voxels, contiguous, rows padded to 8
 * voxels like the in-memory matrix) and how many rearrangements one pass over the blocks computes.
 * Pure: numbers in, a plan out.
 */
import { kernelSlotBytes } from './dataMatrix.js';
import { KERNEL_BATCH } from './kernel.js';
import { VbmError } from '../errors.js';

/** Bytes per analysed voxel that a test holds once, whatever the data's size: column sums of squares (8),
 * observed statistic and TFCE maps (8), merged exceedance counts (8), voxel indices (8), the masked
 * neighbour lists (up to 27 x 4), and the output maps (p-values in float64, labels): ~200 in all. */
export const SHARED_BYTES_PER_VOXEL = 200;
/** Bytes per voxel per computing thread besides the data: exceedance counts of a unit (8), a TFCE map
 * and its workspace (union-find over the mask's bounding box, sort buffers: ~100), a cluster workspace (8). */
export function threadBytesPerVoxel(tfce: boolean, cluster: boolean): number {
  return 8 + (tfce ? 100 : 0) + (cluster ? 8 : 0);
}
/** Most rearrangements per pass over the scratch file (more would only delay progress and checkpoints). */
export const MAX_PASS = 256;
/** Most bytes of scans gathered before they are written into the blocks (larger writes gain nothing). */
export const MAX_WRITE_BUFFER = 64 * 2 ** 20;

/** Bytes set aside for gathering scans while the scratch file is written (its own share of the budget:
 * the garbage collector need not have freed it before the passes start). */
export function writeBufferBytes(budget: number): number {
  return Math.min(MAX_WRITE_BUFFER, Math.floor(budget / 8));
}

export interface MemoryNeeds {
  /** Scans and analysed voxels. */
  n: number;
  V: number;
  /** Product rows per rearrangement (effect + nuisance). */
  rows: number;
  /** Threads computing rearrangements at once. */
  threads: number;
  tfce: boolean;
  cluster: boolean;
}

export interface VoxelBlock {
  /** First analysed voxel of the block and its number of voxels. */
  v0: number;
  V: number;
  /** Floats between the starts of the block's scan rows (V rounded up to 8). */
  stride: number;
  /** Byte offset of the block in the scratch file. */
  offset: number;
}

export interface StreamPlan {
  blocks: VoxelBlock[];
  /** Voxels of the largest block. */
  blockVoxels: number;
  /** Rearrangements per pass over the blocks. */
  passSize: number;
  /** Scans gathered in memory before they are written to the blocks. */
  scansPerWrite: number;
  /** Bytes of the scratch file. */
  fileBytes: number;
  /** Bytes the in-memory test would need, and the budget. */
  inMemoryBytes: number;
  budget: number;
  /** Whether each pass keeps whole statistic maps (TFCE and cluster statistics need them). */
  wholeMaps: boolean;
}

const stride8 = (v: number): number => Math.ceil(v / 8) * 8;

/** Bytes of a kernel thread's scratch for one kernel batch of `rows` rows per rearrangement. */
function slotBytes(n: number, rows: number): number {
  return kernelSlotBytes(n, KERNEL_BATCH * rows);
}

/** Bytes of the in-memory test: the data matrix, the per-voxel arrays, and each thread's maps and workspaces. */
export function inMemoryBytes(m: MemoryNeeds): number {
  const { n, V, threads } = m;
  return (
    n * stride8(V) * 4 +
    SHARED_BYTES_PER_VOXEL * V +
    threads * (threadBytesPerVoxel(m.tfce, m.cluster) * V + KERNEL_BATCH * V * 4 + slotBytes(n, m.rows))
  );
}

/**
 * The voxel blocks and pass size that keep a streamed test within `budget` bytes, or null when the
 * in-memory test fits. Each thread holds one block (n x block voxels) and the kernel's statistics of
 * a batch over the block; with TFCE or cluster statistics also the whole maps of a pass
 * (pass x V floats), so the block gets half of the thread's share and the maps the rest.
 */
export function planVoxelBlocks(m: MemoryNeeds, budget: number, maxPass = MAX_PASS): StreamPlan | null {
  const full = inMemoryBytes(m);
  if (full <= budget) return null;
  const { n, V } = m;
  const threads = Math.max(1, m.threads);
  const wholeMaps = m.tfce || m.cluster;
  // the main thread scores the observed maps (TFCE, clusters) too
  const writeBuffer = writeBufferBytes(budget);
  const fixed = SHARED_BYTES_PER_VOXEL * V + (threads + 1) * threadBytesPerVoxel(m.tfce, m.cluster) * V + writeBuffer;
  const perThread = Math.floor((budget - fixed) / threads);
  const slot = slotBytes(n, m.rows);
  const forBlock = (wholeMaps ? Math.floor(perThread / 2) : perThread) - slot;
  // one voxel of a block: its n floats of data and the kernel batch's statistics
  let blockVoxels = Math.floor(forBlock / ((n + KERNEL_BATCH) * 4) / 8) * 8;
  if (blockVoxels > 4096) blockVoxels = Math.floor(blockVoxels / 512) * 512;
  blockVoxels = Math.min(blockVoxels, stride8(V));
  const mb = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MB`;
  if (blockVoxels < 8) {
    const least = fixed + threads * (slot + 8 * (n + KERNEL_BATCH) * 4) * (wholeMaps ? 2 : 1);
    throw new VbmError(
      `the memory budget (${mb(budget)}) is too small for ${n} scans and ${V} voxels with ${threads} thread(s): streaming the data needs at least ${mb(least)}`,
      'give more memory (--memory, or memory: in the analysis file), or fewer worker threads (--workers)',
    );
  }
  const blockBytes = n * blockVoxels * 4 + KERNEL_BATCH * blockVoxels * 4 + slot;
  let passSize = maxPass;
  if (wholeMaps) {
    passSize = Math.min(maxPass, Math.floor((perThread - blockBytes) / (V * 4)));
    if (passSize < 1)
      throw new VbmError(
        `the memory budget (${mb(budget)}) is too small to keep one whole statistic map of ${V} voxels per thread besides a block of data (${mb(blockBytes)}), as TFCE and cluster statistics need`,
        'give more memory (--memory, or memory: in the analysis file), or fewer worker threads (--workers)',
      );
  }
  const blocks: VoxelBlock[] = [];
  let offset = 0;
  for (let v0 = 0; v0 < V; v0 += blockVoxels) {
    const bv = Math.min(blockVoxels, V - v0);
    const stride = stride8(bv);
    blocks.push({ v0, V: bv, stride, offset });
    offset += n * stride * 4;
  }
  // writing: a buffer of whole scans and its transposition into one block's rows
  const scansPerWrite = Math.max(1, Math.min(n, Math.floor(writeBuffer / ((V + blockVoxels) * 4))));
  return {
    blocks,
    blockVoxels,
    passSize,
    scansPerWrite,
    fileBytes: offset,
    inMemoryBytes: full,
    budget,
    wholeMaps,
  };
}

/**
 * Units of work over the rearrangements still to do: runs of consecutive chunks (chunk rearrangements
 * each), at most a pass long unless a pass is shorter than a chunk (then one chunk, in several passes),
 * and small enough that every thread gets a unit.
 */
export function streamUnits(
  pending: readonly number[],
  chunk: number,
  total: number,
  passSize: number,
  threads: number,
): { first: number; count: number }[] {
  const left = pending.reduce((acc, j) => acc + Math.min(chunk, total - j * chunk), 0);
  const even = Math.ceil(left / Math.max(1, threads) / chunk);
  const perUnit = Math.max(1, Math.min(Math.floor(passSize / chunk), even));
  const units: { first: number; count: number }[] = [];
  let run: number[] = [];
  const flush = (): void => {
    const head = run[0];
    const last = run[run.length - 1];
    if (head === undefined || last === undefined) return;
    const first = head * chunk;
    const end = Math.min(total, (last + 1) * chunk);
    units.push({ first, count: end - first });
    run = [];
  };
  for (const j of pending) {
    const last = run[run.length - 1];
    if (last !== undefined && (j !== last + 1 || run.length >= perUnit)) flush();
    run.push(j);
  }
  flush();
  return units;
}

/** A size in bytes for notes and messages (KB, MB, GB: powers of 1024). */
export function formatBytes(b: number): string {
  if (b >= 2 ** 30) return `${(b / 2 ** 30).toFixed(2)} GB`;
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(1)} MB`;
  return `${(b / 2 ** 10).toFixed(1)} KB`;
}
