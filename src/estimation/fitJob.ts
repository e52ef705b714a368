import { VbmError } from '../errors.js';
import { affineDistance } from '../io/nifti/affine.js';
import { type NiftiFile, decodeVolume, openNifti } from '../io/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import {
  type FitLayout,
  type FitSums,
  type ScanContribution,
  type ScanStats,
  type Scratch,
  addScans,
  createScratch,
  createSums,
} from './accumulate.js';
import { type SumAccumulator, createSumAccumulator } from './accumulateWasm.js';
import { type ThresholdMasking, scanSummary, scanThreshold } from './masking.js';
import type { ScanRef } from './scanList.js';

/** A share of the scans for one worker (or for the main thread when run in-process). */
export interface FitJob {
  /** scale: SPM's global scaling factor gSF (default 1); threshold: the scan's analysis threshold on the scaled data, when known beforehand (SPM's xM.TH). */
  scans: { ref: ScanRef; x: number[]; inResidualSubset: boolean; scale?: number; threshold?: number }[];
  layout: FitLayout;
  threshold: ThresholdMasking;
  implicit: boolean;
  /** Grid every scan must be on (that of the first scan). */
  reference: { dims: [number, number, number]; affine: number[][]; path: string };
}

export interface ScanReport {
  row: number;
  sha256: string;
  datatype: string;
  /** Candidate voxels this scan removed from the mask. */
  removed: number;
  allZero: boolean;
  isFloat: boolean;
  /** Mean of the scan's finite values in the explicit mask. */
  mean: number;
}

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

/** Zero a set of sums for reuse (as createSums makes them). */
function clearSums(s: FitSums): FitSums {
  s.ok.fill(1);
  s.vmin.fill(Infinity);
  s.vmax.fill(-Infinity);
  for (const a of [s.yy, s.xty, s.ryy, s.rxty]) a.fill(0);
  return s;
}

/**
 * The job's sums, from zero. `into`: arrays of a finished chunk to reuse (fresh arrays fault in
 * ~140 MB of new pages per chunk on the seed-size cohort).
 */
export function runFitJob(job: FitJob, onScan: (r: ScanReport) => void, batchSize = 8, into?: FitSums): FitSums {
  const { acc, scratch } = kernelFor(job.layout, batchSize);
  acc?.reset();
  const sums = acc ? undefined : into ? clearSums(into) : createSums(job.layout);
  // inSlot: the batch slot the file was read into (its voxels decode there without a copy)
  let open: { path: string; file: NiftiFile; inSlot?: number } | undefined;
  let batch: ScanContribution[] = [];
  // reports wait for their scans' counts, which the summing makes
  let reports: { report: Omit<ScanReport, 'removed' | 'allZero' | 'mean'>; stats: ScanStats; scale: number }[] = [];
  const flush = (): void => {
    if (acc) acc.add(batch);
    else addScans(sums!, job.layout, scratch!, batch);
    for (const r of reports) onScan({ ...r.report, ...scanSummary(r.stats, r.scale) });
    batch = [];
    reports = [];
  };
  for (const s of job.scans) {
    if (!open || open.path !== s.ref.path) {
      const k = batch.length;
      let inSlot: number | undefined;
      const into = acc
        ? (h: NiftiHeader, bytes: number): Uint8Array | undefined => {
            const t = acc.fileSlot(k, h, bytes);
            if (t) inSlot = k;
            return t;
          }
        : undefined;
      const file = openNifti(s.ref.path, { hash: true, into });
      open = { path: s.ref.path, file, inSlot };
    }
    const h = open.file.header;
    checkGrid(h.dims, h.affine, s.ref.path, job.reference);
    // straight into the accumulator's slot (one copy, no allocation)
    const slot = acc?.slots[batch.length];
    const f = open.file;
    // read in place: the slot already holds the voxels (float32, one volume, no scaling)
    const inPlace =
      slot &&
      open.inSlot === batch.length &&
      f.data.buffer === slot.buffer &&
      f.data.byteOffset + h.voxOffset === slot.byteOffset;
    const data = inPlace ? slot : decodeVolume(f, s.ref.volume, slot);
    let threshold: number;
    try {
      threshold = s.threshold ?? scanThreshold(job.threshold, data);
    } catch (e) {
      if (e instanceof VbmError)
        throw new VbmError(
          `${s.ref.path}${s.ref.volume ? `,${s.ref.volume + 1}` : ''}: ${e.message}`,
          'check this scan: it may be empty or all NaN',
        );
      throw e;
    }
    const zeroIsMissing = job.implicit && !h.datatype.isFloat && job.threshold.type === 'none';
    const stats: ScanStats = { removed: 0, nonZero: 0, sum: 0, finite: 0 };
    batch.push({ data, x: s.x, inResidualSubset: s.inResidualSubset, threshold, zeroIsMissing, scale: s.scale, stats });
    reports.push({
      report: {
        row: s.ref.row,
        sha256: open.file.sha256 ?? '',
        datatype: h.datatype.name,
        isFloat: h.datatype.isFloat,
      },
      stats,
      scale: s.scale ?? 1,
    });
    if (sleeper) {
      Atomics.wait(sleeper, 0, 0, testDelayMs);
      flush();
    }
    if (batch.length >= batchSize) flush();
  }
  if (batch.length) flush();
  return acc ? acc.copyOut(into) : sums!;
}

export function checkGrid(
  dims: readonly number[],
  affine: number[][],
  path: string,
  ref: { dims: readonly number[]; affine: number[][]; path: string },
): void {
  if (dims[0] !== ref.dims[0] || dims[1] !== ref.dims[1] || dims[2] !== ref.dims[2]) {
    throw new VbmError(
      `${path} is ${dims.join('x')} voxels but the first scan (${ref.path}) is ${ref.dims.join('x')}`,
      'all scans must be on one grid: use the same template/voxel size when normalising (e.g. all smwc1 from one DARTEL/CAT12 run)',
    );
  }
  const d = affineDistance(affine, ref.affine);
  if (d > 1e-3) {
    throw new VbmError(
      `${path} has a different voxel-to-mm affine from the first scan (${ref.path}); entries differ by up to ${d.toPrecision(3)} mm`,
      'all scans must share one affine: re-normalise or reslice them to the same template space',
    );
  }
}
