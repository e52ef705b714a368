/**
 * The pure half of the streaming fit: decoded scans folded into the fit's sums (accumulate.ts) in
 * batches, with each scan's report (what it removed from the mask, its mean). No file is read
 * here: the Node shell (fitJob.ts) reads and decodes files and hands them in; the core's
 * fitScanStream (fitStream.ts) takes scans from any (async) iterator.
 */
import { VbmError } from '../errors.js';
import { affineDistance } from '../io/nifti/affine.js';
import {
  type FitLayout,
  type FitSums,
  type ScanContribution,
  type ScanStats,
  addScans,
  createScratch,
  mergeSums,
  createSums,
  type Scratch,
} from './accumulate.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { type MergeOrder, copySums, mergeInTurn } from './chunkMerge.js';
import { type ThresholdMasking, scanSummary, scanThreshold } from './masking.js';
import type { ScanRef } from './scanList.js';

/** Scans per chunk: fixed, so the order of additions does not depend on workers, tasks or the browser. */
export const FIT_CHUNK = 32;

/** One scan of a fit: its design row, and how it enters the sums. */
export interface FitItem {
  ref: ScanRef;
  x: number[];
  inResidualSubset: boolean;
  /** SPM's global scaling factor gSF (default 1). */
  scale?: number;
  /** The scan's analysis threshold on the scaled data, when known beforehand (SPM's xM.TH). */
  threshold?: number;
}

/** A share of the scans for one worker (or for the main thread when run in-process). */
export interface FitJob {
  /** scale: SPM's global scaling factor gSF (default 1); threshold: the scan's analysis threshold on the scaled data, when known beforehand (SPM's xM.TH). */
  scans: FitItem[];
  layout: FitLayout;
  threshold: ThresholdMasking;
  implicit: boolean;
  /** Grid every scan must be on (that of the first scan). */
  reference: { dims: [number, number, number]; affine: number[][]; path: string };
}

export interface ScanReport {
  row: number;
  /** Content hash of the scan's file as read ('' when the reader gave none). */
  hash: string;
  datatype: string;
  /** Candidate voxels this scan removed from the mask. */
  removed: number;
  allZero: boolean;
  isFloat: boolean;
  /** Mean of the scan's finite values in the explicit mask. */
  mean: number;
}

/** A scan decoded to float32 on the full grid, with what the masking rules need to know of its file. */
export interface DecodedScan {
  data: Float32Array;
  /** Float data can hold NaN; for integer data SPM's implicit mask takes 0 as missing. */
  isFloat: boolean;
  /** The stored datatype's name (recorded in model.json). */
  datatype: string;
  /** Content hash of its file, when the reader made one. */
  hash?: string;
}

/** Refuse a scan whose grid (dimensions or affine, within 1e-3 mm) differs from the reference scan's. */
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

/**
 * A kernel that keeps its own sums (the WebAssembly SIMD one of accumulateWasm.ts, reused from
 * chunk to chunk): scans are decoded into its slots, added a batch at a time, copied out at the end.
 */
export interface SumKernel {
  /** Float32 views of the scan slots (full grid): decode a batch's scans into these. */
  readonly slots: Float32Array[];
  /**
   * Where to read a single-volume float32 file (the header says which; `bytes`: its size) so that
   * its voxels land in slot k and decode without a copy; undefined when it would not fit so.
   */
  fileSlot(k: number, header: NiftiHeader, bytes: number): Uint8Array | undefined;
  /** Start a chunk: every sum zero, every voxel kept, extremes empty. */
  reset(): void;
  /** Fold a batch of scans (at most slots.length; data anywhere, copied into a slot if it is not one). */
  add(scans: ScanContribution[]): void;
  /** The chunk's sums, copied into `into` when given (arrays of the layout's sizes), else into new arrays. */
  copyOut(into?: FitSums): FitSums;
  /**
   * Add the chunk's sums to `total` as mergeSums does (`first`: copy them), and leave the kernel's
   * own sums reset for the next chunk.
   */
  mergeOut(total: FitSums, first: boolean): void;
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
 * Sums of one chunk of scans, folded in batches of `batchSize` (the kernel visits each block of
 * voxels once per batch; the sums are the same for any batch size). Each scan's report is given
 * to `onScan` once its batch is summed. `kernel`: a SIMD kernel with its own sums, or the
 * JavaScript kernel's scratch to reuse (default: fresh); `into`: arrays of a finished chunk to
 * reuse for the sums (fresh arrays fault in new pages for every chunk).
 */
export class ScanFolder {
  private readonly sums: FitSums | undefined;
  private readonly scratch: Scratch | undefined;
  private readonly acc: SumKernel | undefined;
  private batch: ScanContribution[] = [];
  private reports: { report: Omit<ScanReport, 'removed' | 'allZero' | 'mean'>; stats: ScanStats; scale: number }[] = [];

  constructor(
    private readonly job: Pick<FitJob, 'layout' | 'threshold' | 'implicit'>,
    private readonly onScan: (r: ScanReport) => void,
    private readonly batchSize = 8,
    kernel: { acc?: SumKernel; scratch?: Scratch } = {},
    private readonly into?: FitSums,
  ) {
    this.acc = kernel.acc;
    if (this.acc) this.acc.reset();
    else {
      this.sums = into ? clearSums(into) : createSums(job.layout);
      this.scratch = kernel.scratch ?? createScratch(job.layout);
    }
  }

  /** Scans added and not yet summed (the slot the next scan goes to). */
  get pending(): number {
    return this.batch.length;
  }

  /** Where to decode the next scan (the SIMD kernel's slot), or undefined: anywhere. */
  nextSlot(): Float32Array | undefined {
    return this.acc?.slots[this.batch.length];
  }

  /** Add one scan (the caller has checked its grid). */
  add(s: FitItem, scan: DecodedScan): void {
    const { data } = scan;
    let threshold: number;
    try {
      threshold = s.threshold ?? scanThreshold(this.job.threshold, data);
    } catch (e) {
      if (e instanceof VbmError)
        throw new VbmError(
          `${s.ref.path}${s.ref.volume ? `,${s.ref.volume + 1}` : ''}: ${e.message}`,
          'check this scan: it may be empty or all NaN',
        );
      throw e;
    }
    const zeroIsMissing = this.job.implicit && !scan.isFloat && this.job.threshold.type === 'none';
    const stats: ScanStats = { removed: 0, nonZero: 0, sum: 0, finite: 0 };
    this.batch.push({
      data,
      x: s.x,
      inResidualSubset: s.inResidualSubset,
      threshold,
      zeroIsMissing,
      scale: s.scale,
      stats,
    });
    this.reports.push({
      report: { row: s.ref.row, hash: scan.hash ?? '', datatype: scan.datatype, isFloat: scan.isFloat },
      stats,
      scale: s.scale ?? 1,
    });
    if (this.batch.length >= this.batchSize) this.flush();
  }

  /** Sum the scans waiting in the batch now. */
  flush(): void {
    if (!this.batch.length) return;
    if (this.acc) this.acc.add(this.batch);
    else addScans(this.sums!, this.job.layout, this.scratch!, this.batch);
    for (const r of this.reports) this.onScan({ ...r.report, ...scanSummary(r.stats, r.scale) });
    this.batch = [];
    this.reports = [];
  }

  /** The chunk's sums, once every scan is in. */
  finish(): FitSums {
    this.flush();
    return this.acc ? this.acc.copyOut(this.into) : this.sums!;
  }

  /**
   * Once every scan is in: add the chunk's sums, as chunk `k` of group `g`, to the group's shared
   * total when chunks 0..k-1 are in it (chunkMerge.ts), without copying them out of the kernel.
   */
  finishInto(order: MergeOrder, g: number, k: number): void {
    this.flush();
    mergeInTurn(order, g, k, (total, first) => {
      if (this.acc) this.acc.mergeOut(total, first);
      else if (first) copySums(total, this.sums!);
      else mergeSums(total, this.sums!);
    });
  }
}
