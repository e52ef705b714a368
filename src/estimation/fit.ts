import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import type { Affine } from '../io/nifti/affine.js';
import { readHeaderOnly } from '../io/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { readVolume } from '../io/nifti/read.js';
import type { Design } from '../model/designMatrix.js';
import { type Matrix, matmul, pinv, transpose } from '../model/linalg.js';
import { type FitLayout, type FitSums, mergeSums, residualSubset } from './accumulate.js';
import { type FitJob, type ScanReport, checkGrid, runFitJob } from './fitJob.js';
import { type MaskingOptions, outlyingGlobalMeans, resampleMaskNearest } from './masking.js';
import { analyzeWarning } from '../io/nifti/analyze.js';
import { type ScanRef, parseScanRefs } from './scanList.js';
import { type SmoothnessEstimate, estimateSmoothness } from './smoothness.js';

export interface FitOptions {
  masking?: MaskingOptions;
  /** Worker threads (default: the machine's cores, at most the number of scans); 0 runs in-process. */
  workers?: number;
  /** Residual images used for smoothness (SPM's stats.maxres, 64). */
  maxResiduals?: number;
  /** Called after each scan is read. */
  onProgress?: (done: number, total: number) => void;
}

/** A fitted mass-univariate OLS model: everything contrasts and inference need, in memory. */
export interface FittedModel {
  dims: [number, number, number];
  affine: Affine;
  /** Analysis mask on the full grid (1 = analysed). */
  mask: Uint8Array;
  /** Linear indices of the analysed voxels, ascending. */
  vox: Int32Array;
  n: number;
  p: number;
  /** Parameter estimates, voxel-major: beta[k * p + j]. */
  beta: Float64Array;
  /** Residual mean square per analysed voxel: ResSS / trRV. */
  resMS: Float64Array;
  /** tr(RV) = n - rank(X) for OLS; the residual df. */
  trRV: number;
  df: number;
  /** pinv(X'X). */
  Bcov: Matrix;
  smoothness: SmoothnessEstimate;
  scans: { path: string; volume: number; sha256: string; datatype: string }[];
  /** Wall time of each step, ms: headers, stream (read + accumulate), solve, smoothness. */
  timings: Record<string, number>;
  /** Inputs that are almost certainly wrong but do not stop the fit (all-zero scans, outlying means, Analyze orientation). */
  warnings: string[];
}

async function readHeaders(paths: string[]): Promise<Map<string, NiftiHeader>> {
  const unique = [...new Set(paths)];
  const out = new Map<string, NiftiHeader>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < unique.length) {
      const p = unique[next++];
      out.set(p, await readHeaderOnly(p));
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, unique.length) }, worker));
  return out;
}

/** Estimate the model voxel by voxel, streaming over the scans once. */
export async function fitModel(design: Design, opts: FitOptions = {}): Promise<FittedModel> {
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string): void => {
    const t = performance.now();
    timings[name] = t - t0;
    t0 = t;
  };
  const masking = opts.masking ?? {};
  const threshold = masking.threshold ?? { type: 'none' };
  const implicit = masking.implicit ?? true;
  // 1. headers: every file exists, is NIfTI, and all share one grid (checked before any heavy work)
  const stripped = design.scans.map((s) => s.replace(/,(\d+)$/, ''));
  const headers = await readHeaders(stripped);
  const refs: ScanRef[] = parseScanRefs(design.scans, (p) => headers.get(p)?.nVolumes ?? 1);
  const first = headers.get(refs[0].path) as NiftiHeader;
  const reference = { dims: first.dims, affine: first.affine, path: refs[0].path };
  for (const r of refs) {
    const h = headers.get(r.path) as NiftiHeader;
    checkGrid(h.dims, h.affine, r.path, reference);
  }
  const warnings: string[] = [];
  for (const h of headers.values()) {
    const w = analyzeWarning(h);
    if (w) warnings.push(w);
  }
  lap('headers');
  const [nx, ny, nz] = first.dims;
  const nvox = nx * ny * nz;
  // 2. candidate voxels: the explicit mask on the scans' grid
  let explicit: Uint8Array;
  if (masking.explicitMask) {
    explicit = resampleMaskNearest(readVolume(masking.explicitMask), first.dims, first.affine);
  } else explicit = new Uint8Array(nvox).fill(1);
  let nCand = 0;
  for (let i = 0; i < nvox; i++) nCand += explicit[i];
  if (nCand === 0) {
    throw new VbmError(`the explicit mask ${masking.explicitMask} covers no voxel of the scans`, 'check that mask and scans are in the same space (both MNI)');
  }
  const candShared = new Int32Array(new SharedArrayBuffer(nCand * 4));
  for (let i = 0, c = 0; i < nvox; i++) if (explicit[i]) candShared[c++] = i;
  const layout: FitLayout = { dims: first.dims, cand: candShared, p: design.p, smoothness: true };
  // 3. stream the scans through workers, each summing its share
  const subset = new Set(residualSubset(design.n, opts.maxResiduals ?? 64));
  const items = refs.map((ref) => ({ ref, x: design.X[ref.row], inResidualSubset: subset.has(ref.row) }));
  const nWorkers = Math.max(0, Math.min(opts.workers ?? availableParallelism(), items.length));
  const reports: ScanReport[] = [];
  const onScan = (r: ScanReport): void => {
    reports.push(r);
    opts.onProgress?.(reports.length, items.length);
  };
  const jobs: FitJob[] = [];
  const shares = Math.max(1, nWorkers);
  for (let w = 0; w < shares; w++) {
    const lo = Math.floor((w * items.length) / shares);
    const hi = Math.floor(((w + 1) * items.length) / shares);
    jobs.push({ scans: items.slice(lo, hi), layout, threshold, implicit, reference });
  }
  let sums: FitSums;
  if (nWorkers === 0) sums = runFitJob(jobs[0], onScan);
  else {
    const parts = await runWorkers(jobs, onScan);
    sums = parts[0];
    for (let i = 1; i < parts.length; i++) mergeSums(sums, parts[i]);
  }
  lap('stream');
  // 4. the analysis mask: explicit & thresholds & no NaN & not constant over scans
  const mask = new Uint8Array(nvox);
  const candOfList: number[] = [];
  for (let c = 0; c < nCand; c++) {
    if (sums.ok[c] && sums.vmax[c] > sums.vmin[c]) {
      mask[candShared[c]] = 1;
      candOfList.push(c);
    }
  }
  const m = candOfList.length;
  const label = (row: number): string => design.scans[row];
  if (m === 0) {
    // name the scans that removed most voxels: one of them is usually empty, all NaN, or on another scale
    const worst = [...reports].sort((a, b) => b.removed - a.removed || a.row - b.row).filter((r) => r.removed > 0).slice(0, 3);
    const named = worst.map((r) => `${label(r.row)} (row ${r.row + 1}) removes ${r.removed} of ${nCand} voxels${r.allZero ? ', it is all zero' : Number.isNaN(r.mean) ? ', it has no finite value' : ''}`);
    throw new VbmError(
      `no voxel survives masking (explicit, implicit, threshold, constant data)${named.length ? `; the scans that removed most: ${named.join('; ')}` : ''}`,
      'check these scans (empty, all NaN, another modality), then the mask and the threshold masking options',
    );
  }
  const byRowReport = new Map(reports.map((r) => [r.row, r]));
  for (const r of [...reports].sort((a, b) => a.row - b.row)) {
    if (r.allZero && r.isFloat) warnings.push(`${label(r.row)} (row ${r.row + 1}) is all zeros; it is used as it is (SPM does the same), but it is almost certainly a failed segmentation or an empty file`);
  }
  const ordered = refs.map((ref) => byRowReport.get(ref.row)!);
  const odd = outlyingGlobalMeans(ordered.map((r) => r.mean));
  for (const i of odd) {
    const r = ordered[i];
    warnings.push(
      `${label(r.row)} (row ${r.row + 1}) has a mean of ${r.mean.toPrecision(4)}, more than 4 standard deviations from the other scans'; ` +
        'is it another modality, or an unmodulated or unsmoothed map?',
    );
  }
  const vox = new Int32Array(m);
  const candOf = new Int32Array(candOfList);
  const maskIndex = new Int32Array(nvox).fill(-1);
  for (let k = 0; k < m; k++) {
    vox[k] = candShared[candOf[k]];
    maskIndex[vox[k]] = k;
  }
  // 5. OLS from the sums: beta = pinv(X'X) X'y, ResSS = y'y - beta'X'y
  const p = design.p;
  const X = design.X;
  const Bcov = pinv(matmul(transpose(X), X));
  const beta = new Float64Array(m * p);
  const rss = new Float64Array(m);
  const resMS = new Float64Array(m);
  const trRV = design.n - design.rank;
  for (let k = 0; k < m; k++) {
    const c = candOf[k];
    let fitted = 0;
    for (let i = 0; i < p; i++) {
      let b = 0;
      for (let j = 0; j < p; j++) b += Bcov[i][j] * sums.xty[j * nCand + c];
      beta[k * p + i] = b;
      fitted += b * sums.xty[i * nCand + c];
    }
    const r = Math.max(0, sums.yy[c] - fitted);
    rss[k] = r;
    resMS[k] = r / trRV;
  }
  lap('solve');
  // 6. smoothness from the residual-subset sums
  const sub = [...subset].sort((a, b) => a - b);
  const XS = sub.map((i) => X[i]);
  const smoothness = estimateSmoothness({
    dims: first.dims,
    vox,
    candOf,
    maskIndex,
    p,
    beta,
    rss,
    ryy: sums.ryy,
    rxty: sums.rxty,
    G: matmul(transpose(XS), XS),
    nCand,
    nScans: design.n,
    nResiduals: sub.length,
    df: trRV,
  });
  lap('smoothness');
  const byRow = new Map(reports.map((r) => [r.row, r]));
  return {
    dims: first.dims,
    affine: first.affine,
    mask,
    vox,
    n: design.n,
    p,
    beta,
    resMS,
    trRV,
    df: trRV,
    Bcov,
    smoothness,
    scans: refs.map((r) => ({ path: r.path, volume: r.volume, sha256: byRow.get(r.row)?.sha256 ?? '', datatype: byRow.get(r.row)?.datatype ?? '' })),
    timings,
    warnings,
  };
}

function runWorkers(jobs: FitJob[], onScan: (r: ScanReport) => void): Promise<FitSums[]> {
  const url = new URL('./fitWorker.js', import.meta.url);
  return new Promise((resolve, reject) => {
    const results: FitSums[] = new Array(jobs.length);
    let remaining = jobs.length;
    let failed = false;
    const workers = jobs.map((job, w) => {
      const worker = new Worker(url, { workerData: job });
      worker.on('message', (msg: { type: string; report?: ScanReport; sums?: FitSums; message?: string; hint?: string; stack?: string }) => {
        if (msg.type === 'scan' && msg.report) onScan(msg.report);
        else if (msg.type === 'done' && msg.sums) {
          results[w] = msg.sums;
          if (--remaining === 0) resolve(results);
        } else if (msg.type === 'error' && !failed) {
          failed = true;
          for (const other of workers) void other.terminate();
          reject(msg.stack ? new Error(`${msg.message}\n${msg.stack}`) : new VbmError(msg.message ?? 'worker failed', msg.hint));
        }
      });
      worker.on('error', (e) => {
        if (failed) return;
        failed = true;
        for (const other of workers) void other.terminate();
        reject(e);
      });
      return worker;
    });
  });
}
