/**
 * The streaming fit kernel. Each scan is visited once; per analysed voxel it adds the scan's
 * contribution to running float64 sums, from which the OLS fit, ResMS and SPM's smoothness
 * estimate follow exactly once all scans are in (see fit.ts):
 *   yy   = sum y^2,   xty = X'y                          (all scans)
 *   ryy  = sums of products of y at the voxel and its +x, +y, +z neighbours,
 *   rxty = X_S'y                                         (the residual subset S, as SPM's ResI)
 * plus the masking state (thresholds, NaN, constant data). Memory is O(voxels), never
 * O(voxels x scans). Arrays are "structure of arrays": term-major, so each inner loop is a
 * plain stream over contiguous voxels.
 */

import { invariant } from '../errors.js';

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
  /** X'y, term-major: xty[j * nCand + c]. */
  xty: Float64Array;
  /** Residual-subset products, term-major: ryy[k * nCand + c]. Empty without smoothness. */
  ryy: Float64Array;
  /** X_S'y over the residual subset, term-major. Empty without smoothness. */
  rxty: Float64Array;
}

export function createSums(layout: FitLayout): FitSums {
  const n = layout.cand.length;
  return {
    nCand: n,
    p: layout.p,
    ok: new Uint8Array(n).fill(1),
    vmin: new Float32Array(n).fill(Infinity),
    vmax: new Float32Array(n).fill(-Infinity),
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
  /** Global scaling factor (SPM's gSF): the scan enters as data x scale, before masking (default 1). */
  scale?: number;
  /** Counted while the scan is summed (no second pass over its voxels); see masking.ts scanSummary. */
  stats?: ScanStats;
}

/** Per-scan counts over the candidate voxels, on the data as the fit sees them (scaled). */
export interface ScanStats {
  /** Voxels this scan excludes from the mask (NaN, not above its threshold, zero when zero means missing). */
  removed: number;
  nonZero: number;
  /** Sum and number of the finite values. */
  sum: number;
  finite: number;
}

/** Voxels per block: the block's sums (about 16 float64 per voxel) stay in the core's L2 cache. */
export const BLOCK = 1024;

/** Per-worker scratch: a block of gathered values, and the neighbours' linear indices (-1 off the grid). */
export interface Scratch {
  g: Float64Array;
  nb?: { x: Int32Array; y: Int32Array; z: Int32Array; gx: Float64Array; gy: Float64Array; gz: Float64Array };
}

export function createScratch(layout: FitLayout): Scratch {
  const n = layout.cand.length;
  const s: Scratch = { g: new Float64Array(BLOCK) };
  if (layout.smoothness) {
    const [nx, ny, nz] = layout.dims;
    const nxy = nx * ny;
    const x = new Int32Array(n);
    const y = new Int32Array(n);
    const z = new Int32Array(n);
    for (let c = 0; c < n; c++) {
      const idx = layout.cand[c] ?? -1;
      const xi = idx % nx;
      const yi = ((idx - xi) / nx) % ny;
      const zi = (idx - xi - yi * nx) / nxy;
      x[c] = xi + 1 < nx ? idx + 1 : -1;
      y[c] = yi + 1 < ny ? idx + nx : -1;
      z[c] = zi + 1 < nz ? idx + nxy : -1;
    }
    s.nb = { x, y, z, gx: new Float64Array(BLOCK), gy: new Float64Array(BLOCK), gz: new Float64Array(BLOCK) };
  }
  return s;
}

function gather(out: Float64Array, data: Float32Array, idx: Int32Array, c0: number, c1: number, scale: number): void {
  for (let c = c0; c < c1; c++) {
    const i = idx[c] ?? -1;
    out[c - c0] = i >= 0 ? (data[i] ?? NaN) * scale : NaN;
  }
}

/** y[off + c] += a * x[c - c0] for c in [c0, c1) */
function axpy(y: Float64Array, off: number, a: number, x: Float64Array, c0: number, c1: number): void {
  for (let c = c0; c < c1; c++) y[off + c] = (y[off + c] ?? NaN) + a * (x[c - c0] ?? NaN);
}

/** y[off + c] += a[c - c0] * b[c - c0] */
function addProduct(y: Float64Array, off: number, a: Float64Array, b: Float64Array, c0: number, c1: number): void {
  for (let c = c0; c < c1; c++) y[off + c] = (y[off + c] ?? NaN) + (a[c - c0] ?? NaN) * (b[c - c0] ?? NaN);
}

// The kernels below read typed arrays at indices that addScans checks once, before its loops
// (the sums hold nCand voxels per term, the scan covers the grid, the scratch holds a block): a
// read there is never undefined, and `?? NaN` (a value a bug would make NaN) only tells the type
// checker so, without a call per voxel. The arithmetic and its order are the plain loops'.

/** Fold one scan into the sums. */
export function addScan(sums: FitSums, layout: FitLayout, scratch: Scratch, s: ScanContribution): void {
  addScans(sums, layout, scratch, [s]);
}

/**
 * Fold a batch of scans into the sums, block of voxels by block of voxels, so that each block's
 * sums are loaded from memory once per batch rather than once per scan (the kernel is
 * memory-bound: about 130 bytes of sums per voxel).
 */
export function addScans(sums: FitSums, layout: FitLayout, scratch: Scratch, scans: ScanContribution[]): void {
  const { cand, p } = layout;
  const { ok, vmin, vmax, yy, xty, ryy, rxty } = sums;
  const n = cand.length;
  const g = scratch.g;
  const nb = sums.ryy.length && scratch.nb ? scratch.nb : undefined;
  const nvox = layout.dims[0] * layout.dims[1] * layout.dims[2];
  invariant(
    sums.nCand === n && xty.length === n * p && g.length >= Math.min(n, BLOCK),
    'sums and scratch sized for the layout',
  );
  invariant(
    !nb || (ryy.length === n * RYY_TERMS && rxty.length === n * p && nb.x.length === n),
    'residual sums sized for the layout',
  );
  for (const s of scans)
    invariant(s.data.length >= nvox && s.x.length >= p, 'a scan covers the grid and has a row of the design');
  for (let c0 = 0; c0 < n; c0 += BLOCK) {
    const c1 = Math.min(n, c0 + BLOCK);
    for (const s of scans) {
      const { data, x, threshold } = s;
      const zeroIsMissing = s.zeroIsMissing;
      const scale = s.scale ?? 1;
      let removed = 0;
      let nonZero = 0;
      let sum = 0;
      let finite = 0;
      for (let c = c0; c < c1; c++) {
        const v = (data[cand[c] ?? -1] ?? NaN) * scale;
        g[c - c0] = v;
        if (!(v > threshold) || (zeroIsMissing && v === 0)) {
          ok[c] = 0;
          removed++;
        }
        if (v !== 0) nonZero++;
        if (v - v === 0) {
          sum += v;
          finite++;
        }
        if (v < (vmin[c] ?? NaN)) vmin[c] = v;
        if (v > (vmax[c] ?? NaN)) vmax[c] = v;
        yy[c] = (yy[c] ?? NaN) + v * v;
      }
      if (s.stats) {
        s.stats.removed += removed;
        s.stats.nonZero += nonZero;
        s.stats.sum += sum;
        s.stats.finite += finite;
      }
      for (let j = 0; j < p; j++) {
        const xj = x[j] ?? NaN;
        if (xj !== 0) axpy(xty, j * n, xj, g, c0, c1);
      }
      if (!s.inResidualSubset || !nb) continue;
      gather(nb.gx, data, nb.x, c0, c1, scale);
      gather(nb.gy, data, nb.y, c0, c1, scale);
      gather(nb.gz, data, nb.z, c0, c1, scale);
      addProduct(ryy, 0, g, g, c0, c1);
      addProduct(ryy, n, g, nb.gx, c0, c1);
      addProduct(ryy, 2 * n, g, nb.gy, c0, c1);
      addProduct(ryy, 3 * n, g, nb.gz, c0, c1);
      addProduct(ryy, 4 * n, nb.gx, nb.gy, c0, c1);
      addProduct(ryy, 5 * n, nb.gx, nb.gz, c0, c1);
      addProduct(ryy, 6 * n, nb.gy, nb.gz, c0, c1);
      for (let j = 0; j < p; j++) {
        const xj = x[j] ?? NaN;
        if (xj !== 0) axpy(rxty, j * n, xj, g, c0, c1);
      }
    }
  }
}

/** Fold `b` into `a` (sums add, masks AND, extremes combine). */
export function mergeSums(a: FitSums, b: FitSums): void {
  invariant(
    a.nCand === b.nCand && a.ok.length === a.nCand && b.ok.length === a.nCand,
    'merged sums over the same voxels',
  );
  const { ok, vmin, vmax } = a;
  for (let i = 0; i < a.nCand; i++) {
    ok[i] = (ok[i] ?? 0) & (b.ok[i] ?? 0);
    const lo = b.vmin[i] ?? NaN;
    const hi = b.vmax[i] ?? NaN;
    if (lo < (vmin[i] ?? NaN)) vmin[i] = lo;
    if (hi > (vmax[i] ?? NaN)) vmax[i] = hi;
  }
  addInto(a.yy, b.yy);
  addInto(a.xty, b.xty);
  addInto(a.ryy, b.ryy);
  addInto(a.rxty, b.rxty);
}

function addInto(a: Float64Array, b: Float64Array): void {
  invariant(a.length === b.length, 'sums of the same size');
  for (let i = 0; i < a.length; i++) a[i] = (a[i] ?? NaN) + (b[i] ?? NaN);
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
