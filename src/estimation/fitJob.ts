import { VbmError } from '../errors.js';
import { affineDistance } from '../io/nifti/affine.js';
import { type NiftiFile, decodeVolume, openNifti } from '../io/nifti/read.js';
import {
  type FitLayout,
  type FitSums,
  type ScanContribution,
  type ScanStats,
  addScans,
  createScratch,
  createSums,
} from './accumulate.js';
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

export function runFitJob(job: FitJob, onScan: (r: ScanReport) => void, batchSize = 8): FitSums {
  const sums = createSums(job.layout);
  const scratch = createScratch(job.layout);
  let open: { path: string; file: NiftiFile } | undefined;
  let batch: ScanContribution[] = [];
  // reports wait for their scans' counts, which the summing makes
  let reports: { report: Omit<ScanReport, 'removed' | 'allZero' | 'mean'>; stats: ScanStats; scale: number }[] = [];
  const flush = (): void => {
    addScans(sums, job.layout, scratch, batch);
    for (const r of reports) onScan({ ...r.report, ...scanSummary(r.stats, r.scale) });
    batch = [];
    reports = [];
  };
  for (const s of job.scans) {
    if (!open || open.path !== s.ref.path) open = { path: s.ref.path, file: openNifti(s.ref.path, { hash: true }) };
    const h = open.file.header;
    checkGrid(h.dims, h.affine, s.ref.path, job.reference);
    const data = decodeVolume(open.file, s.ref.volume);
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
  return sums;
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
