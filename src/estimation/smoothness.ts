import { invariant } from '../errors.js';
import type { Matrix } from '../model/linalg.js';
import { RYY_TERMS } from './accumulate.js';

/**
 * SPM's smoothness estimate (Kiebel et al. 1999; spm_est_smoothness), computed exactly from
 * the streamed sums instead of from written residual images.
 *
 * SPM standardises the residuals of a subset S of scans by sqrt(ResSS/df), samples them with
 * trilinear interpolation at voxel centres, and takes the (forward-difference) derivatives:
 * a voxel contributes only when the 7 forward corners of its cube are in the mask (otherwise
 * an interpolation weight of 0 meets a NaN and the voxel becomes NaN, as in SPM's RPV.nii).
 * The products of residuals at a voxel and its neighbours follow from sums of products of the
 * data: e_S(a)'e_S(b) = y_S(a)'y_S(b) - b(a)'X_S'y_S(b) - X_S'y_S(a)'b(b) + b(a)'(X_S'X_S)b(b).
 */
export interface SmoothnessEstimate {
  /** FWHM in voxels along each voxel axis. */
  fwhmVox: [number, number, number];
  /** Resels per voxel at each in-mask voxel (NaN where derivatives are missing). */
  rpv: Float64Array;
  /** Number of voxels that entered the average. */
  nValid: number;
  /** Residual images used (SPM: up to 64). */
  nResiduals: number;
}

export interface SmoothnessInput {
  dims: [number, number, number];
  /** Linear indices of in-mask voxels. */
  vox: Int32Array;
  /** For each in-mask voxel, its index in the candidate arrays. */
  candOf: Int32Array;
  /** Map from linear index to in-mask voxel number, -1 outside. */
  maskIndex: Int32Array;
  p: number;
  /** Number of candidate voxels (the stride of the term-major sums). */
  nCand: number;
  /** beta, voxel-major [m * p + j] over in-mask voxels. */
  beta: Float64Array;
  /** Residual sum of squares per in-mask voxel. */
  rss: Float64Array;
  ryy: Float64Array;
  rxty: Float64Array;
  /** X_S'X_S for the residual subset. */
  G: Matrix;
  nScans: number;
  nResiduals: number;
  df: number;
}

/**
 * The voxel loop of the estimate: fills `rpv` (resels per voxel, NaN where derivatives are missing)
 * and returns the sums over the voxels that enter the average, in voxel order:
 * [sum of RPV, sum of sqrt(Lxx / 4 ln 2), same for y, same for z, number of voxels]. `scale` is
 * nScans / df / nResiduals and `log2x4` 4 ln 2. Another implementation (the native addon's) must
 * give the same bits.
 */
export type SmoothnessLoop = (
  inp: SmoothnessInput,
  scale: number,
  log2x4: number,
  rpv: Float64Array,
) => [number, number, number, number, number];

/** The voxel loop's sums (see SmoothnessLoop): sum of RPV, of sqrt(Lxx / 4 ln 2), y, z, number of voxels. */
export type SmoothnessSums = [number, number, number, number, number];

/** A SmoothnessLoop that runs elsewhere (e.g. on a native thread) and settles with its sums. */
export type SmoothnessLoopAsync = (
  inp: SmoothnessInput,
  scale: number,
  log2x4: number,
  rpv: Float64Array,
) => Promise<SmoothnessSums>;

/** 4 ln 2, and the loop's scale of the derivatives' products: nScans / df / nResiduals. */
const FOUR_LN2 = 4 * Math.log(2);
const loopScale = (inp: SmoothnessInput): number => inp.nScans / inp.df / inp.nResiduals;

/** The estimate from the input; `rpv` (one per in-mask voxel) receives the resels per voxel when given. */
export function estimateSmoothness(
  inp: SmoothnessInput,
  loop: SmoothnessLoop = smoothnessLoop,
  rpv: Float64Array = new Float64Array(inp.vox.length),
): SmoothnessEstimate {
  return estimateFromSums(inp, loop(inp, loopScale(inp), FOUR_LN2, rpv), rpv);
}

/** estimateSmoothness with a loop that runs elsewhere: the same estimate. */
export async function estimateSmoothnessAsync(
  inp: SmoothnessInput,
  loop: SmoothnessLoopAsync,
  rpv: Float64Array = new Float64Array(inp.vox.length),
): Promise<SmoothnessEstimate> {
  return estimateFromSums(inp, await loop(inp, loopScale(inp), FOUR_LN2, rpv), rpv);
}

/** The FWHM from the loop's sums (SPM's spm_est_smoothness after its voxel loop). */
function estimateFromSums(inp: SmoothnessInput, sums: SmoothnessSums, rpv: Float64Array): SmoothnessEstimate {
  const [sumImg, sumX, sumY, sumZ, nValid] = sums;
  const meanImg = sumImg / nValid;
  const xyz = [sumX / nValid, sumY / nValid, sumZ / nValid];
  const prod = (sumX / nValid) * (sumY / nValid) * (sumZ / nValid);
  const resel = xyz.map((v) => Math.cbrt(meanImg) * (v / Math.cbrt(prod)));
  const fwhmVox = resel.map((r) => {
    const f = 1 / r;
    return Number.isFinite(f) && f > 0 ? f : 1;
  }) as [number, number, number];
  return { fwhmVox, rpv, nValid, nResiduals: inp.nResiduals };
}

/** The voxel loop in JavaScript (see SmoothnessLoop). */
export function smoothnessLoop(
  inp: SmoothnessInput,
  scale: number,
  LOG2x4: number,
  rpv: Float64Array,
): [number, number, number, number, number] {
  const [nx, ny, nz] = inp.dims;
  const nxy = nx * ny;
  const { vox, candOf, maskIndex, p, beta, rss, ryy, rxty, G, df, nCand } = inp;
  const m = vox.length;
  invariant(rpv.length === m, 'smoothness: one RPV per in-mask voxel');
  rpv.fill(NaN);
  let sumImg = 0;
  let sumX = 0;
  let sumY = 0;
  let sumZ = 0;
  let nValid = 0;
  // G b(b) for every voxel once (each voxel meets up to 7 neighbours), then b(a)' (G b(b)):
  // the same operations in the same order as forming G b(b) inside every product
  // the sizes the per-voxel loop relies on, checked once: reads below say `?? NaN` (or -1 for an
  // index) only for the type checker, never by a call per voxel
  invariant(beta.length === m * p && rss.length === m && candOf.length === m, 'smoothness: one row per in-mask voxel');
  invariant(maskIndex.length === nx * ny * nz, 'smoothness: the mask index covers the grid');
  invariant(ryy.length === RYY_TERMS * nCand && rxty.length === p * nCand, 'smoothness: residual sums per candidate');
  invariant(G.length === p && G.every((row) => row.length === p), "smoothness: X_S'X_S is p x p");
  const Gf = Float64Array.from(G.flat());
  const Gb = new Float64Array(m * p);
  for (let b = 0; b < m; b++) {
    for (let i = 0; i < p; i++) {
      let t = 0;
      for (let j = 0; j < p; j++) t += (Gf[i * p + j] ?? NaN) * (beta[b * p + j] ?? NaN);
      Gb[b * p + i] = t;
    }
  }
  const bGb = (a: number, b: number): number => {
    let s = 0;
    for (let i = 0; i < p; i++) s += (beta[a * p + i] ?? NaN) * (Gb[b * p + i] ?? NaN);
    return s;
  };
  const dot = (arr: Float64Array, ai: number, bm: number): number => {
    let s = 0;
    for (let j = 0; j < p; j++) s += (arr[j * nCand + ai] ?? NaN) * (beta[bm * p + j] ?? NaN);
    return s;
  };
  // residual product over S between in-mask voxels a and b, given y_S(a)'y_S(b)
  const eProd = (yab: number, a: number, b: number): number =>
    yab - dot(rxty, candOf[a] ?? -1, b) - dot(rxty, candOf[b] ?? -1, a) + bGb(a, b);
  // a residual product term, and a voxel's residual standard deviation
  const r = (i: number): number => ryy[i] ?? NaN;
  const sd = (v: number): number => Math.sqrt((rss[v] ?? NaN) / df);
  for (let k = 0; k < m; k++) {
    const idx = vox[k] ?? -1;
    const x = idx % nx;
    const y = ((idx - x) / nx) % ny;
    const z = (idx - x - y * nx) / nxy;
    if (x + 1 >= nx || y + 1 >= ny || z + 1 >= nz) continue;
    const ix = maskIndex[idx + 1] ?? -1;
    const iy = maskIndex[idx + nx] ?? -1;
    const iz = maskIndex[idx + nxy] ?? -1;
    if (ix < 0 || iy < 0 || iz < 0) continue;
    if (
      (maskIndex[idx + 1 + nx] ?? -1) < 0 ||
      (maskIndex[idx + 1 + nxy] ?? -1) < 0 ||
      (maskIndex[idx + nx + nxy] ?? -1) < 0 ||
      (maskIndex[idx + 1 + nx + nxy] ?? -1) < 0
    )
      continue;
    const c = candOf[k] ?? -1;

    const sv = sd(k);
    const sx = sd(ix);
    const sy = sd(iy);
    const sz = sd(iz);
    const Rvv = eProd(r(c), k, k) / (sv * sv);
    // SPM leaves voxels whose summed squared standardised residual is tiny out of the average
    const inAverage = Rvv >= Math.sqrt(Number.EPSILON);
    const Rxx = eProd(r(candOf[ix] ?? -1), ix, ix) / (sx * sx);
    const Ryy = eProd(r(candOf[iy] ?? -1), iy, iy) / (sy * sy);
    const Rzz = eProd(r(candOf[iz] ?? -1), iz, iz) / (sz * sz);
    const Rvx = eProd(r(1 * nCand + c), k, ix) / (sv * sx);
    const Rvy = eProd(r(2 * nCand + c), k, iy) / (sv * sy);
    const Rvz = eProd(r(3 * nCand + c), k, iz) / (sv * sz);
    const Rxy = eProd(r(4 * nCand + c), ix, iy) / (sx * sy);
    const Rxz = eProd(r(5 * nCand + c), ix, iz) / (sx * sz);
    const Ryz = eProd(r(6 * nCand + c), iy, iz) / (sy * sz);
    const Lxx = (Rxx - 2 * Rvx + Rvv) * scale;
    const Lyy = (Ryy - 2 * Rvy + Rvv) * scale;
    const Lzz = (Rzz - 2 * Rvz + Rvv) * scale;
    const Lxy = (Rxy - Rvx - Rvy + Rvv) * scale;
    const Lxz = (Rxz - Rvx - Rvz + Rvv) * scale;
    const Lyz = (Ryz - Rvy - Rvz + Rvv) * scale;
    let det = Lxx * Lyy * Lzz + 2 * Lxy * Lyz * Lxz - Lxx * Lyz * Lyz - Lxy * Lxy * Lzz - Lxz * Lyy * Lxz;
    if (det < 0) det = 0;
    const img = Math.sqrt(det / (LOG2x4 * LOG2x4 * LOG2x4));
    rpv[k] = img;
    if (!inAverage || !Number.isFinite(img)) continue;
    sumImg += img;
    sumX += Math.sqrt(Lxx / LOG2x4);
    sumY += Math.sqrt(Lyy / LOG2x4);
    sumZ += Math.sqrt(Lzz / LOG2x4);
    nValid++;
  }
  return [sumImg, sumX, sumY, sumZ, nValid];
}
