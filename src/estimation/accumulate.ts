/**
 * The streaming fit kernel. Each scan is visited once; per analysed voxel it adds the scan's
 * contribution to running float64 sums, from which the OLS fit, ResMS and SPM's smoothness
 * estimate follow exactly once all scans are in (see fit.ts):
 *   yy   = sum y^2,   xty = X'y                          (all scans)
 *   ryy  = sums of products of y at the voxel and its +x, +y, +z neighbours,
 *   rxty = X_S'y                                         (the residual subset S, as SPM's ResI)
 * plus the masking state (thresholds, NaN, constant data). Memory is O(voxels), never
 * O(voxels x scans).
 */

/** Products kept per voxel for smoothness: (v,v) (v,x) (v,y) (v,z) (x,y) (x,z) (y,z). */
export const RYY_TERMS = 7;

export interface FitLayout {
  dims: [number, number, number];
  /** Linear indices (x fastest) of the candidate voxels (explicit mask). */
  cand: Int32Array;
  p: number;
  smoothness: boolean;
}

export interface FitSums {
  nCand: number;
  p: number;
  /** 1 while every scan so far passed the threshold/implicit/NaN tests. */
  ok: Uint8Array;
  vmin: Float32Array;
  vmax: Float32Array;
  yy: Float64Array;
  /** X'y, voxel-major: xty[c * p + j]. */
  xty: Float64Array;
  /** Residual-subset products, voxel-major: ryy[c * 7 + k]. Empty without smoothness. */
  ryy: Float64Array;
  /** X_S'y over the residual subset, voxel-major. Empty without smoothness. */
  rxty: Float64Array;
}

export function createSums(layout: FitLayout): FitSums {
  const n = layout.cand.length;
  const vmin = new Float32Array(n).fill(Infinity);
  const vmax = new Float32Array(n).fill(-Infinity);
  return {
    nCand: n,
    p: layout.p,
    ok: new Uint8Array(n).fill(1),
    vmin,
    vmax,
    yy: new Float64Array(n),
    xty: new Float64Array(n * layout.p),
    ryy: new Float64Array(layout.smoothness ? n * RYY_TERMS : 0),
    rxty: new Float64Array(layout.smoothness ? n * layout.p : 0),
  };
}

export interface ScanContribution {
  /** The scan, decoded to float32 on the full grid. */
  data: Float32Array;
  /** Its row of the design matrix. */
  x: number[];
  /** Whether it is one of SPM's residual-image scans (used for smoothness). */
  inResidualSubset: boolean;
  /** A voxel is kept only if its value is > threshold (NaN never is). */
  threshold: number;
  /** SPM's implicit mask for integer data: zero means missing. */
  zeroIsMissing: boolean;
}

export function addScan(sums: FitSums, layout: FitLayout, s: ScanContribution): void {
  const { cand, p } = layout;
  const [nx, ny, nz] = layout.dims;
  const nxy = nx * ny;
  const { data, x, threshold } = s;
  const { ok, vmin, vmax, yy, xty } = sums;
  const n = cand.length;
  for (let c = 0; c < n; c++) {
    const v = data[cand[c]];
    if (!(v > threshold) || (s.zeroIsMissing && v === 0)) ok[c] = 0;
    if (v < vmin[c]) vmin[c] = v;
    if (v > vmax[c]) vmax[c] = v;
    yy[c] += v * v;
    const base = c * p;
    for (let j = 0; j < p; j++) xty[base + j] += x[j] * v;
  }
  if (!s.inResidualSubset || sums.ryy.length === 0) return;
  const { ryy, rxty } = sums;
  for (let c = 0; c < n; c++) {
    const idx = cand[c];
    const v = data[idx];
    const xi = idx % nx;
    const yi = ((idx - xi) / nx) % ny;
    const zi = (idx - xi - yi * nx) / nxy;
    const vx = xi + 1 < nx ? data[idx + 1] : NaN;
    const vy = yi + 1 < ny ? data[idx + nx] : NaN;
    const vz = zi + 1 < nz ? data[idx + nxy] : NaN;
    const r = c * RYY_TERMS;
    ryy[r] += v * v;
    ryy[r + 1] += v * vx;
    ryy[r + 2] += v * vy;
    ryy[r + 3] += v * vz;
    ryy[r + 4] += vx * vy;
    ryy[r + 5] += vx * vz;
    ryy[r + 6] += vy * vz;
    const base = c * p;
    for (let j = 0; j < p; j++) rxty[base + j] += x[j] * v;
  }
}

/** Fold `b` into `a` (sums add, masks AND, extremes combine). */
export function mergeSums(a: FitSums, b: FitSums): void {
  for (let i = 0; i < a.nCand; i++) {
    a.ok[i] &= b.ok[i];
    if (b.vmin[i] < a.vmin[i]) a.vmin[i] = b.vmin[i];
    if (b.vmax[i] > a.vmax[i]) a.vmax[i] = b.vmax[i];
  }
  addInto(a.yy, b.yy);
  addInto(a.xty, b.xty);
  addInto(a.ryy, b.ryy);
  addInto(a.rxty, b.rxty);
}

function addInto(a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/**
 * SPM's residual-image scans: round(linspace(1, n, min(n, maxres))) in 1-based numbering,
 * returned as 0-based indices. MATLAB's round sends halves away from zero.
 */
export function residualSubset(n: number, maxres = 64): number[] {
  const m = Math.min(n, maxres);
  if (m === 1) return [0];
  const out: number[] = [];
  for (let k = 0; k < m; k++) {
    const t = 1 + (k * (n - 1)) / (m - 1);
    out.push(Math.floor(t + 0.5) - 1);
  }
  return out;
}
