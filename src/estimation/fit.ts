import { availableParallelism } from 'node:os';
import { VbmError } from '../errors.js';
import type { Affine } from '../io/nifti/affine.js';
import { readHeaderOnly } from '../io/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { readVolume } from '../io/nifti/read.js';
import type { Design } from '../model/designMatrix.js';
import { type Matrix, matmul, pinv, transpose } from '../model/linalg.js';
import { type FitLayout, type FitSums, residualSubset } from './accumulate.js';
import { type FitJob, type ScanReport, checkGrid } from './fitJob.js';
import { streamGroupSums, streamSums } from './fitChunks.js';
import { type MaskingOptions, globalThresholds, resampleMaskNearest } from './masking.js';
import { outlyingGlobalMeans } from './masking.js';
import { analyzeWarning } from '../io/nifti/analyze.js';
import { type ScanRef, parseScanRefs } from './scanList.js';
import {
  type NonSphericity,
  pooledCovarianceFromSums,
  selectVoxels,
  solveFromSums,
  varianceComponents,
  weightedSums,
  whiten,
} from './nonSphericity.js';
import { type SmoothnessEstimate, estimateSmoothness } from './smoothness.js';

/** Settings of the streaming model fit: masking, worker threads, progress and cancellation. */
export interface FitOptions {
  masking?: MaskingOptions;
  /** Worker threads (default: the machine's cores, at most the number of scans); 0 runs in-process. */
  workers?: number;
  /** Residual images used for smoothness (SPM's stats.maxres, 64). */
  maxResiduals?: number;
  /** Called after each scan is read. */
  onProgress?: (done: number, total: number) => void;
  /** Non-sphericity: upper-tail p of the effects-of-interest F selecting the pooled voxels (SPM: 0.001). */
  UFp?: number;
  /**
   * Fold the scans into the sums elsewhere (as tasks, src/backend/fitTasks.ts): one set of sums
   * per job (one job, or one per variance group), each job's fixed chunks added in chunk order;
   * default: fixed chunks on worker threads.
   */
  sums?: (jobs: FitJob[], onScan: (r: ScanReport) => void) => Promise<FitSums[]>;
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
  /** pinv(X'X); for a whitened fit pinv(WX) WVW' pinv(WX)' (SPM's xX.Bcov). */
  Bcov: Matrix;
  /** With variance components: ReML's estimates and the whitened model's traces. */
  nonSphericity?: NonSphericity;
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
    throw new VbmError(
      `the explicit mask ${masking.explicitMask} covers no voxel of the scans`,
      'check that mask and scans are in the same space (both MNI)',
    );
  }
  const candShared = new Int32Array(new SharedArrayBuffer(nCand * 4));
  for (let i = 0, c = 0; i < nvox; i++) if (explicit[i]) candShared[c++] = i;
  const layout: FitLayout = { dims: first.dims, cand: candShared, p: design.p, smoothness: true };
  // 3. stream the scans through workers, each summing its share
  const subset = new Set(residualSubset(design.n, opts.maxResiduals ?? 64));
  const thresholds = globalThresholds(threshold, design.globals);
  const items = refs.map((ref) => ({
    ref,
    x: design.X[ref.row],
    inResidualSubset: subset.has(ref.row),
    scale: design.globalScale?.[ref.row],
    threshold: thresholds?.[ref.row],
  }));
  const nWorkers = Math.max(0, Math.min(opts.workers ?? availableParallelism(), items.length));
  const reports: ScanReport[] = [];
  const onScan = (r: ScanReport): void => {
    reports.push(r);
    opts.onProgress?.(reports.length, items.length);
  };
  // fixed chunks added in a fixed order: the same bytes for any number of workers or tasks
  const fitJob: FitJob = { scans: items, layout, threshold, implicit, reference };
  const groups = varianceComponents(design);
  let sums: FitSums;
  let groupSums: FitSums[] | undefined;
  if (!groups) sums = opts.sums ? (await opts.sums([fitJob], onScan))[0] : await streamSums(fitJob, nWorkers, onScan);
  else {
    // one set of sums per variance group (each group's scans in their own fixed chunks, all
    // through one pool), so any per-group weighting of the fit follows without another read
    const nGroups = Math.max(...groups) + 1;
    const jobs = Array.from({ length: nGroups }, (_, g) => ({
      ...fitJob,
      scans: items.filter((it) => groups[it.ref.row] === g),
    }));
    groupSums = opts.sums ? await opts.sums(jobs, onScan) : await streamGroupSums(jobs, nWorkers, onScan);
    sums = weightedSums(
      groupSums,
      groupSums.map(() => 1),
    );
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
    const worst = [...reports]
      .sort((a, b) => b.removed - a.removed || a.row - b.row)
      .filter((r) => r.removed > 0)
      .slice(0, 3);
    const named = worst.map(
      (r) =>
        `${label(r.row)} (row ${r.row + 1}) removes ${r.removed} of ${nCand} voxels${r.allZero ? ', it is all zero' : Number.isNaN(r.mean) ? ', it has no finite value' : ''}`,
    );
    throw new VbmError(
      `no voxel survives masking (explicit, implicit, threshold, constant data)${named.length ? `; the scans that removed most: ${named.join('; ')}` : ''}`,
      'check these scans (empty, all NaN, another modality), then the mask and the threshold masking options',
    );
  }
  const byRowReport = new Map(reports.map((r) => [r.row, r]));
  for (const r of [...reports].sort((a, b) => a.row - b.row)) {
    if (r.allZero && r.isFloat)
      warnings.push(
        `${label(r.row)} (row ${r.row + 1}) is all zeros; it is used as it is (SPM does the same), but it is almost certainly a failed segmentation or an empty file`,
      );
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
  let Bcov = pinv(matmul(transpose(X), X));
  let trRV = design.n - design.rank;
  let df = trRV;
  let { beta, rss, resMS } = solveFromSums(Bcov, sums, candOf, nCand, p, trRV);
  let XS = [...subset].sort((a, b) => a - b).map((i) => X[i]);
  let nonSphericity: NonSphericity | undefined;
  if (groups && groupSums) {
    // 5b. SPM's non-sphericity: pooled covariance of the voxels the effects-of-interest F
    // selects, ReML, and the whitened fit, all from the per-group sums (no second read)
    const UFp = opts.UFp ?? 0.001;
    const pick = selectVoxels(design, sums, candOf, nCand, { beta, rss }, UFp);
    if (pick.selected.length === 0) {
      throw new VbmError(
        `no voxel has an effects-of-interest F above its p < ${UFp} threshold (F = ${pick.UF.toPrecision(4)}), so the groups' variances cannot be estimated`,
        'check the data and the design, or fit with equal variances (variance: equal)',
      );
    }
    const Cy = pooledCovarianceFromSums(design, groups, groupSums, candOf, nCand, pick.selected, pick.weight);
    lap('pool');
    const wh = whiten(design, groups, Cy);
    const nGroups = groupSums.length;
    const wOf = Array.from({ length: nGroups }, (_, g) => wh.W[groups.indexOf(g)]);
    const wsums = weightedSums(
      groupSums,
      wOf.map((w) => w * w),
    );
    Bcov = wh.Bcov;
    trRV = wh.trRV;
    df = wh.erdf;
    ({ beta, rss, resMS } = solveFromSums(pinv(matmul(transpose(wh.WX), wh.WX)), wsums, candOf, nCand, p, trRV));
    sums.ryy = wsums.ryy;
    sums.rxty = wsums.rxty;
    XS = [...subset].sort((a, b) => a - b).map((i) => wh.WX[i]);
    nonSphericity = {
      form: `${nGroups} variance components (ReML)`,
      groups: [...groups],
      nComponents: nGroups,
      h: wh.h,
      V: [...wh.V],
      W: [...wh.W],
      voxelsPooled: pick.selected.length,
      UFp,
      UF: pick.UF,
      Fdf: pick.df,
      erdf: wh.erdf,
      trRV: wh.trRV,
      trRVRV: wh.trRVRV,
      iterations: wh.iterations,
    };
  }
  lap('solve');
  // 6. smoothness from the residual-subset sums
  const sub = [...subset].sort((a, b) => a - b);
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
    // the standardised residuals use n - rank of the (whitened) design
    df: design.n - design.rank,
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
    df,
    Bcov,
    ...(nonSphericity ? { nonSphericity } : {}),
    smoothness,
    scans: refs.map((r) => ({
      path: r.path,
      volume: r.volume,
      sha256: byRow.get(r.row)?.sha256 ?? '',
      datatype: byRow.get(r.row)?.datatype ?? '',
    })),
    timings,
    warnings,
  };
}
