/**
 * The pure halves of the fit around the streaming of scans: the plan (candidate voxels, each
 * scan's design row, residual subset, chunks per variance group), and the model from the summed
 * scans (analysis mask, OLS or SPM's ReML-whitened fit, ResMS, smoothness, warnings). The Node
 * fit (fit.ts) and the core's fit over an iterator of scans (fitStream.ts) share both, so they
 * give the same bytes.
 */
import { VbmError, invariant, item } from '../errors.js';
import type { Affine } from '../io/nifti/affine.js';
import { voxelCount } from '../io/nifti/volume.js';
import type { Design } from '../model/designMatrix.js';
import { type Matrix, matmul, pinv, transpose } from '../model/linalg.js';
import { type FitLayout, type FitSums, residualSubset } from './accumulate.js';
import { type ThresholdMasking, globalThresholds, outlyingGlobalMeans } from './masking.js';
import {
  type NonSphericity,
  pooledCovarianceFromSums,
  selectVoxels,
  type FQuantile,
  solveFromSums,
  varianceComponents,
  weightedSums,
  whiten,
} from './nonSphericity.js';
import type { FitItem, FitJob, ScanReport } from './scanFold.js';
import type { PostKernel } from './postKernel.js';
import type { ScanRef } from './scanList.js';
import {
  type SmoothnessEstimate,
  type SmoothnessInput,
  type SmoothnessLoop,
  estimateSmoothness,
} from './smoothness.js';

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
  /** hash: the file's content hash as read (the Node shell's node/contentHash.ts; '' when the reader gave none). */
  scans: { path: string; volume: number; hash: string; datatype: string }[];
  /** Wall time of each step, ms: headers, stream (read + accumulate), solve, smoothness. */
  timings: Record<string, number>;
  /** Inputs that are almost certainly wrong but do not stop the fit (all-zero scans, outlying means, Analyze orientation). */
  warnings: string[];
}

/** What the scans are folded into, and in which order: the same for every way of streaming them. */
export interface FitPlan {
  /** Candidate voxels (the explicit mask on the scans' grid), ascending linear indices. */
  cand: Int32Array;
  nCand: number;
  layout: FitLayout;
  /** SPM's residual-image scans (design rows, 0-based). */
  subset: Set<number>;
  items: FitItem[];
  /** Variance group of each design row (unequal variances), or undefined. */
  groups: Int32Array | undefined;
  /** One job per variance group (each group's scans in design order), or one job of all scans. */
  jobs: FitJob[];
}

/**
 * Plan a fit: candidate voxels from the explicit mask (on the scans' grid, 1 = candidate), each
 * scan's design row, scaling and threshold, and the jobs (one per variance group).
 * `allocate` makes the candidate list (the Node fit shares it with worker threads).
 */
export function planFit(
  design: Design,
  refs: ScanRef[],
  reference: FitJob['reference'],
  explicit: Uint8Array,
  masking: { threshold: ThresholdMasking; implicit: boolean; maskName?: string; maxResiduals?: number },
  allocate: (n: number) => Int32Array = (n) => new Int32Array(n),
): FitPlan {
  const nvox = explicit.length;
  let nCand = 0;
  for (let i = 0; i < nvox; i++) nCand += explicit[i] ?? 0;
  if (nCand === 0) {
    throw new VbmError(
      `the explicit mask ${masking.maskName} covers no voxel of the scans`,
      'check that mask and scans are in the same space (both MNI)',
    );
  }
  const cand = allocate(nCand);
  for (let i = 0, c = 0; i < nvox; i++) if (explicit[i]) cand[c++] = i;
  const layout: FitLayout = { dims: reference.dims, cand, p: design.p, smoothness: true };
  const subset = new Set(residualSubset(design.n, masking.maxResiduals ?? 64));
  const thresholds = globalThresholds(masking.threshold, design.globals);
  const items = refs.map((ref) => ({
    ref,
    x: item(design.X, ref.row, 'design rows'),
    inResidualSubset: subset.has(ref.row),
    scale: design.globalScale?.[ref.row],
    threshold: thresholds?.[ref.row],
  }));
  const fitJob: FitJob = { scans: items, layout, threshold: masking.threshold, implicit: masking.implicit, reference };
  const groups = varianceComponents(design);
  let jobs = [fitJob];
  if (groups) {
    const nGroups = Math.max(...groups) + 1;
    jobs = Array.from({ length: nGroups }, (_, g) => ({
      ...fitJob,
      scans: items.filter((it) => groups[it.ref.row] === g),
    }));
  }
  return { cand, nCand, layout, subset, items, groups, jobs };
}

/** What the model is made from once every scan is summed. */
export interface SummedScans {
  design: Design;
  plan: FitPlan;
  /** The sums of all scans (no variance groups), or one set per variance group. */
  sums: FitSums | FitSums[];
  /** Every scan's report (any order). */
  reports: ScanReport[];
  refs: ScanRef[];
  dims: [number, number, number];
  affine: Affine;
  /** Warnings met so far (headers); more are added. */
  warnings: string[];
  timings: Record<string, number>;
  /** Non-sphericity: upper-tail p of the effects-of-interest F selecting the pooled voxels (SPM: 0.001). */
  UFp?: number;
  /**
   * Non-sphericity: the F statistic of an upper tail (nonSphericity.ts FQuantile); needed with variance
   * groups only, so that other fits do not load the distributions; fitFromSums.ts supplies statFromTail's.
   */
  fQuantile?: FQuantile;
  /** Called at the end of each step with its name ('pool', 'solve', 'smoothness'), for timings. */
  lap?: (name: string) => void;
  /** The smoothness estimate's voxel loop (default: smoothness.ts's; the native addon has one). */
  smoothnessLoop?: SmoothnessLoop;
  /** The solve's voxel loop (default: nonSphericity.ts solveFromSums's; the native addon has one). */
  postKernel?: PostKernel;
  /**
   * Make the per-voxel arrays (mask, voxel lists, betas, ResSS, ResMS) on SharedArrayBuffers, so
   * that a worker thread can read them (the Node fit estimates the smoothness on one). Default: plain.
   */
  shared?: boolean;
  /**
   * Memory for the per-voxel arrays, handed out in turn (e.g. on SharedArrayBuffers whose pages were
   * faulted in while a core was idle: the Node fit's postArena); what it cannot give is made new.
   */
  arena?: PostArena;
}

/**
 * Arrays of n elements, each from the arena's memory (zeroed, never handed out before), or undefined
 * once it has no room left.
 */
export interface PostArena {
  f64(n: number): Float64Array | undefined;
  i32(n: number): Int32Array | undefined;
  u8(n: number): Uint8Array | undefined;
}

/** The model before its smoothness, and what the smoothness estimate is made from. */
export interface SolvedModel {
  model: Omit<FittedModel, 'smoothness'>;
  smoothness: SmoothnessInput;
}

/**
 * The fitted model from the summed scans: analysis mask, estimates, ResMS, smoothness. With variance
 * groups `inp.fQuantile` must be given (fitFromSums.ts gives the distributions').
 */
export function fitSummed(inp: SummedScans): FittedModel {
  const solved = solveSummed(inp);
  const smoothness = estimateSmoothness(solved.smoothness, inp.smoothnessLoop);
  inp.lap?.('smoothness');
  return withSmoothness(solved.model, smoothness);
}

/** The model with its smoothness, its fields in the order fitSummed has always given them. */
export function withSmoothness(model: Omit<FittedModel, 'smoothness'>, smoothness: SmoothnessEstimate): FittedModel {
  const { scans, timings, warnings, ...rest } = model;
  return { ...rest, smoothness, scans, timings, warnings };
}

/**
 * fitSummed up to its smoothness: the analysis mask, the estimates and ResMS (SPM's ReML and
 * the whitened fit with variance groups), and the smoothness estimate's input, so that a caller
 * may estimate it elsewhere (estimateSmoothness, the same bits wherever it runs).
 */
export function solveSummed(inp: SummedScans): SolvedModel {
  const { design, plan, reports, refs, warnings } = inp;
  const f64 = (n: number): Float64Array =>
    inp.arena?.f64(n) ?? (inp.shared ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n));
  const i32 = (n: number): Int32Array =>
    inp.arena?.i32(n) ?? (inp.shared ? new Int32Array(new SharedArrayBuffer(n * 4)) : new Int32Array(n));
  const lap = inp.lap ?? ((): void => undefined);
  const { cand: candShared, nCand, subset, groups } = plan;
  const groupSums = Array.isArray(inp.sums) ? inp.sums : undefined;
  const sums = groupSums
    ? weightedSums(
        groupSums,
        groupSums.map(() => 1),
      )
    : (inp.sums as FitSums);
  const nvox = voxelCount(inp.dims);
  // 4. the analysis mask: explicit & thresholds & no NaN & not constant over scans
  const mask = inp.arena?.u8(nvox) ?? (inp.shared ? new Uint8Array(new SharedArrayBuffer(nvox)) : new Uint8Array(nvox));
  // the candidates that stay, in one typed pass (no array per voxel)
  const candOfAll = inp.arena?.i32(nCand) ?? new Int32Array(nCand);
  let m = 0;
  invariant(candShared.length === nCand && sums.ok.length === nCand, 'sums over the candidate voxels');
  const { ok, vmin, vmax } = sums;
  invariant(vmin.length === nCand && vmax.length === nCand, 'sums over the candidate voxels');
  if (inp.postKernel?.mask) m = inp.postKernel.mask(candShared, ok, vmin, vmax, mask, candOfAll);
  else
    for (let c = 0; c < nCand; c++) {
      if (ok[c] && (vmax[c] ?? NaN) > (vmin[c] ?? NaN)) {
        mask[candShared[c] ?? -1] = 1;
        candOfAll[m++] = c;
      }
    }
  const label = (row: number): string => item(design.scans, row, 'design rows');
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
    const r = item(ordered, i, 'scan reports');
    warnings.push(
      `${label(r.row)} (row ${r.row + 1}) has a mean of ${r.mean.toPrecision(4)}, more than 4 standard deviations from the other scans'; ` +
        'is it another modality, or an unmodulated or unsmoothed map?',
    );
  }
  const vox = i32(m);
  const candOf = i32(m);
  candOf.set(candOfAll.subarray(0, m));
  const maskIndex = i32(nvox);
  if (inp.postKernel?.index) inp.postKernel.index(candShared, candOf, vox, maskIndex);
  else {
    maskIndex.fill(-1);
    for (let k = 0; k < m; k++) {
      const v = candShared[candOf[k] ?? -1] ?? -1;
      vox[k] = v;
      maskIndex[v] = k;
    }
  }
  // 5. OLS from the sums: beta = pinv(X'X) X'y, ResSS = y'y - beta'X'y
  const p = design.p;
  const X = design.X;
  let Bcov = pinv(matmul(transpose(X), X));
  let trRV = design.n - design.rank;
  let df = trRV;
  let { beta, rss, resMS } = solveFromSums(Bcov, sums, candOf, nCand, p, trRV, f64, inp.postKernel);
  let XS = [...subset].sort((a, b) => a - b).map((i) => item(X, i, 'design rows'));
  let nonSphericity: NonSphericity | undefined;
  if (groups && groupSums) {
    // 5b. SPM's non-sphericity: pooled covariance of the voxels the effects-of-interest F
    // selects, ReML, and the whitened fit, all from the per-group sums (no second read)
    const UFp = inp.UFp ?? 0.001;
    invariant(inp.fQuantile !== undefined, 'an F quantile for the non-sphericity voxels');
    const pick = selectVoxels(design, sums, candOf, nCand, { beta, rss }, UFp, inp.fQuantile);
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
    const wOf = Array.from({ length: nGroups }, (_, g) => item(wh.W, groups.indexOf(g), 'whitening weights'));
    const wsums = weightedSums(
      groupSums,
      wOf.map((w) => w * w),
    );
    Bcov = wh.Bcov;
    trRV = wh.trRV;
    df = wh.erdf;
    const Bw = pinv(matmul(transpose(wh.WX), wh.WX));
    ({ beta, rss, resMS } = solveFromSums(Bw, wsums, candOf, nCand, p, trRV, f64, inp.postKernel));
    sums.ryy = wsums.ryy;
    sums.rxty = wsums.rxty;
    XS = [...subset].sort((a, b) => a - b).map((i) => item(wh.WX, i, 'whitened design rows'));
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
  // 6. the smoothness estimate's input: the residual-subset sums
  const sub = [...subset].sort((a, b) => a - b);
  const smoothness: SmoothnessInput = {
    dims: inp.dims,
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
  };
  const byRow = new Map(reports.map((r) => [r.row, r]));
  const model = {
    dims: inp.dims,
    affine: inp.affine,
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
    scans: refs.map((r) => ({
      path: r.path,
      volume: r.volume,
      hash: byRow.get(r.row)?.hash ?? '',
      datatype: byRow.get(r.row)?.datatype ?? '',
    })),
    timings: inp.timings,
    warnings,
  };
  return { model, smoothness };
}
