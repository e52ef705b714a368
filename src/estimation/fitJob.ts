import { type NiftiFile, decodeVolume, openNifti } from '../node/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { type FitLayout, type FitSums, type Scratch, createScratch } from './accumulate.js';
import { type SumAccumulator, createSumAccumulator } from './accumulateWasm.js';
import { type FitJob, type ScanReport, ScanFolder, checkGrid } from './scanFold.js';
import type { MergeOrder } from './chunkMerge.js';

// the pure folding (and these types) live in scanFold.ts; these names stay importable from here
export { type FitJob, type ScanReport, checkGrid } from './scanFold.js';

/**
 * Read the job's scans one after the other and fold each into the sums. A 4-D file named by
 * consecutive scans is opened once.
 */
/**
 * For tests of interruption only: VBM_TEST_SCAN_DELAY_MS=<ms> pauses after each scan read, so a
 * test can kill a run reliably in the middle of estimation. Unset in normal use.
 */
const testDelayMs = Number(process.env.VBM_TEST_SCAN_DELAY_MS ?? 0);
const sleeper = testDelayMs > 0 ? new Int32Array(new SharedArrayBuffer(4)) : null;

/** Per layout (one per fit, shared by its chunks): the SIMD accumulator, or the JavaScript kernel's scratch. */
const kernels = new WeakMap<FitLayout, { batch: number; acc?: SumAccumulator; scratch?: Scratch }>();

function kernelFor(layout: FitLayout, batch: number): { acc?: SumAccumulator; scratch?: Scratch } {
  let k = kernels.get(layout);
  if (!k || k.batch !== batch) {
    const acc = createSumAccumulator(layout, batch);
    k = { batch, acc, scratch: acc ? undefined : createScratch(layout) };
    kernels.set(layout, k);
  }
  return k;
}

/**
 * The job's sums, from zero. `into`: arrays of a finished chunk to reuse (fresh arrays fault in
 * ~140 MB of new pages per chunk on the seed-size cohort).
 */
export function runFitJob(job: FitJob, onScan: (r: ScanReport) => void, batchSize = 8, into?: FitSums): FitSums {
  return foldJob(job, onScan, batchSize, into).finish();
}

/**
 * Sum the job's scans as chunk `k` of group `g` and add them to the group's shared total in chunk
 * order (chunkMerge.ts): what a worker thread does with each chunk it is handed.
 */
export function mergeFitJob(
  job: FitJob,
  onScan: (r: ScanReport) => void,
  order: MergeOrder,
  g: number,
  k: number,
  batchSize = 8,
): void {
  foldJob(job, onScan, batchSize).finishInto(order, g, k);
}

/** Read the job's scans and fold them in (the last batch is left to finish or finishInto). */
function foldJob(job: FitJob, onScan: (r: ScanReport) => void, batchSize: number, into?: FitSums): ScanFolder {
  const kernel = kernelFor(job.layout, batchSize);
  const acc = kernel.acc;
  const fold = new ScanFolder(job, onScan, batchSize, kernel, into);
  // inSlot: the batch slot the file was read into (its voxels decode there without a copy)
  let open: { path: string; file: NiftiFile; inSlot?: number } | undefined;
  for (const s of job.scans) {
    if (!open || open.path !== s.ref.path) {
      const k = fold.pending;
      let inSlot: number | undefined;
      const readInto = acc
        ? (h: NiftiHeader, bytes: number): Uint8Array | undefined => {
            const t = acc.fileSlot(k, h, bytes);
            if (t) inSlot = k;
            return t;
          }
        : undefined;
      const file = openNifti(s.ref.path, { hash: true, into: readInto });
      open = { path: s.ref.path, file, inSlot };
    }
    const h = open.file.header;
    checkGrid(h.dims, h.affine, s.ref.path, job.reference);
    // straight into the accumulator's slot (one copy, no allocation)
    const slot = fold.nextSlot();
    const f = open.file;
    // read in place: the slot already holds the voxels (float32, one volume, no scaling)
    const inPlace =
      slot &&
      open.inSlot === fold.pending &&
      f.data.buffer === slot.buffer &&
      f.data.byteOffset + h.voxOffset === slot.byteOffset;
    fold.add(s, {
      data: inPlace ? slot : decodeVolume(f, s.ref.volume, slot),
      isFloat: h.datatype.isFloat,
      datatype: h.datatype.name,
      hash: f.hash ?? '',
    });
    if (sleeper) {
      Atomics.wait(sleeper, 0, 0, testDelayMs);
      fold.flush();
    }
  }
  return fold;
}
