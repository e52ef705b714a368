import { VbmError, invariant, item } from '../errors.js';
import type { Design } from '../model/designMatrix.js';
import { type Matrix, entry, matmul, pinv, rank, setEntry, transpose } from '../model/linalg.js';
import { reml } from '../model/reml.js';
import type { FitSums } from './accumulate.js';
import type { PostKernel } from './postKernel.js';

/**
 * The F statistic whose upper tail is p with degrees of freedom df (inference/distributions.ts
 * statFromTail('F', p, df)), passed in by the caller: so a fit without variance groups does not load
 * the distributions (@stdlib's incomplete beta, ~20 ms of every vbm run's start).
 */
export type FQuantile = (p: number, df: [number, number]) => number;

// The per-voxel loops below check their arrays' sizes once, then read through `?? NaN` (never
// taken: only for the type checker) and matrices flattened to typed arrays, without a call per
// voxel; the arithmetic and its order are the plain loops'.

/** A p x q matrix's entries, row-major, in one typed array (after checking that it is p x q). */
function flat(a: Matrix, rows: number, cols: number, what: string): Float64Array {
  invariant(a.length === rows && a.every((r) => r.length === cols), `${what} is ${rows} x ${cols}`);
  return Float64Array.from(a.flat());
}

/**
 * SPM12's non-sphericity for "independence, unequal variance" designs (spm_est_non_sphericity
 * and the whitening in spm_spm), for variance components that are group indicators:
 *  1. an OLS fit; voxels whose "effects of interest" F (columns not in B or G) exceeds its
 *     p < UFp threshold (F(trMV, trRV) upper quantile) are selected;
 *  2. Cy = mean over selected voxels of y y' / ResMS_ols (the data, not the residuals), made
 *     from the per-group sums (pooledCovarianceFromSums);
 *  3. ReML hyperparameters h for V = sum h_i Q_i; V scaled to trace n; W = V^-1/2;
 *  4. the whitened fit of W y on W X: erdf = n - rank, ResMS = ResSS_w / tr(RV).
 * With one weight per group the whitened fit follows from per-group sums of the one pass that
 * also gives the OLS fit: X'W^2y = sum_g w_g^2 X_g'y_g, and so on.
 */

/** What model.json records of the non-sphericity. */
export interface NonSphericity {
  form: string;
  /** Variance groups (components), by design row. */
  groups: number[];
  nComponents: number;
  /** ReML hyperparameters, one per component. */
  h: number[];
  /** Diagonal of V, scaled to trace n (design row order). */
  V: number[];
  /** Diagonal of W = V^-1/2 (design row order). */
  W: number[];
  /** Voxels pooled into Cy. */
  voxelsPooled: number;
  /** Upper-tail p of the effects-of-interest F that selects them, and the F threshold. */
  UFp: number;
  UF: number;
  /** Effects-of-interest F degrees of freedom [trMV, trRV]. */
  Fdf: [number, number];
  erdf: number;
  trRV: number;
  trRVRV: number;
  iterations: number;
}

/** Variance groups as an array of per-row group numbers, or undefined for an i.i.d. model. */
export function varianceComponents(design: Design): Int32Array | undefined {
  const g = design.varianceGroups;
  if (!g) return undefined;
  if (g.length !== design.n) throw new VbmError(`varianceGroups has ${g.length} entries for ${design.n} design rows`);
  const distinct = new Set(g);
  if (distinct.size < 2) return undefined;
  const k = Math.max(...distinct) + 1;
  for (let i = 0; i < k; i++)
    if (!distinct.has(i))
      throw new VbmError(`variance group ${i + 1} has no scan`, 'number the variance groups 0..k-1');
  return g;
}

/**
 * Solve the least-squares fit from sums: beta = B X'y, ResSS = y'y - beta'X'y, per analysed voxel
 * (`allocate` makes the zeroed arrays; `kernel`, when given, runs the voxel loop: the same bits).
 */
export function solveFromSums(
  Bcov: Matrix,
  sums: Pick<FitSums, 'xty' | 'yy'>,
  candOf: Int32Array,
  nCand: number,
  p: number,
  trRV: number,
  allocate: (n: number) => Float64Array = (n) => new Float64Array(n),
  kernel?: PostKernel,
): { beta: Float64Array; rss: Float64Array; resMS: Float64Array } {
  const m = candOf.length;
  const beta = allocate(m * p);
  const rss = allocate(m);
  const resMS = allocate(m);
  const B = flat(Bcov, p, p, 'Bcov');
  const { xty, yy } = sums;
  invariant(xty.length === p * nCand && yy.length === nCand, 'sums over the candidate voxels');
  if (kernel) {
    kernel.solve(B, xty, yy, candOf, nCand, p, trRV, beta, rss, resMS);
    return { beta, rss, resMS };
  }
  // each voxel's X'y gathered once from its p term-major rows; the same operations in the same order
  const x = new Float64Array(p);
  for (let k = 0; k < m; k++) {
    const c = candOf[k] ?? -1;
    for (let j = 0; j < p; j++) x[j] = xty[j * nCand + c] ?? NaN;
    let fitted = 0;
    for (let i = 0; i < p; i++) {
      let b = 0;
      for (let j = 0; j < p; j++) b += (B[i * p + j] ?? NaN) * (x[j] ?? NaN);
      beta[k * p + i] = b;
      fitted += b * (x[i] ?? NaN);
    }
    const r = Math.max(0, (yy[c] ?? NaN) - fitted);
    rss[k] = r;
    resMS[k] = r / trRV;
  }
  return { beta, rss, resMS };
}

/**
 * Step 1: which analysed voxels enter the pooled covariance, and each one's weight trRV/ResSS.
 * F = (ESS / trMV) / (ResSS / trRV), ESS = b'X'y - b0'X0'y with X0 the B and G columns.
 * When no column is of interest, every voxel enters (as SPM).
 */
export function selectVoxels(
  design: Design,
  sums: Pick<FitSums, 'xty'>,
  candOf: Int32Array,
  nCand: number,
  ols: { beta: Float64Array; rss: Float64Array },
  UFp: number,
  fQuantile: FQuantile,
): { selected: Int32Array; weight: Float64Array; UF: number; df: [number, number] } {
  const { X, p } = design;
  const m = candOf.length;
  const nuisance = (design.roles ?? []).map((r, j) => (r === 'B' || r === 'G' ? j : -1)).filter((j) => j >= 0);
  const trRV = design.n - design.rank;
  const X0 = nuisance.length ? X.map((row) => nuisance.map((j) => item(row, j, 'design row'))) : [];
  const rank0 = nuisance.length ? rank(X0) : 0;
  const trMV = design.rank - rank0;
  const q0 = nuisance.length;
  const B0 = q0 ? flat(pinv(matmul(transpose(X0), X0)), q0, q0, "pinv(X0'X0)") : new Float64Array(0);
  const nuisanceCol = Int32Array.from(nuisance);
  const { xty } = sums;
  invariant(
    xty.length === p * nCand && ols.beta.length === m * p && ols.rss.length === m,
    'OLS fit over the analysed voxels',
  );
  const UF = trMV > 0 ? fQuantile(UFp, [trMV, trRV]) : 0;
  const sel: number[] = [];
  const wts: number[] = [];
  for (let k = 0; k < m; k++) {
    const c = candOf[k] ?? -1;
    const rss = ols.rss[k] ?? NaN;
    let take = true;
    if (trMV > 0) {
      let fitted = 0;
      for (let j = 0; j < p; j++) fitted += (ols.beta[k * p + j] ?? NaN) * (xty[j * nCand + c] ?? NaN);
      let fitted0 = 0;
      for (let a = 0; a < q0; a++) {
        let b = 0;
        for (let l = 0; l < q0; l++) b += (B0[a * q0 + l] ?? NaN) * (xty[(nuisanceCol[l] ?? -1) * nCand + c] ?? NaN);
        fitted0 += b * (xty[(nuisanceCol[a] ?? -1) * nCand + c] ?? NaN);
      }
      take = (fitted - fitted0) / trMV > (UF * rss) / trRV;
    }
    if (take) {
      sel.push(k);
      wts.push(trRV / rss);
    }
  }
  return { selected: Int32Array.from(sel), weight: Float64Array.from(wts), UF, df: [trMV > 0 ? trMV : 1, trRV] };
}

/**
 * Step 2 without the data matrix: SPM's pooled covariance Cy = (1/s) sum_v w_v y_v y_v' enters
 * ReML only through tr(Q_g P Cy P) for group-indicator components Q_g, and for every h these
 * traces depend on y_v only through its within-group projections onto the design (X_g'y_g) and
 * the within-group residual sums of squares. So an n x n matrix with the same traces is made
 * from the per-group sums of the one pass:
 *   Cy* = B S B' + sum_g a_g R_g,   S = (1/s) sum_v w_v b_v b_v',  b_v = [X_1'y_1; ...; X_G'y_G],
 *   B = blockdiag(X_g pinv(X_g'X_g)),  R_g = I - X_g pinv(X_g'X_g) X_g' on group g's rows,
 *   a_g = (1/s) sum_v w_v (y_g'y_g - b_g' pinv(X_g'X_g) b_g) / (n_g - rank(X_g)).
 * (P y = C^-1 (y - X beta(h)); the residual part of each group is orthogonal to X_g, so P maps
 * it to itself / c_g and it never mixes with the projected part.) ReML on Cy* gives SPM's h
 * without reading the scans again.
 */
export function pooledCovarianceFromSums(
  design: Design,
  groups: Int32Array,
  groupSums: Pick<FitSums, 'xty' | 'yy'>[],
  candOf: Int32Array,
  nCand: number,
  selected: Int32Array,
  weight: Float64Array,
): Matrix {
  const { n, p, X } = design;
  const G = groupSums.length;
  const rowsOf = Array.from({ length: G }, (_, g) => [...groups.keys()].filter((i) => groups[i] === g));
  const Xrow = (i: number): number[] => item(X, i, 'design rows');
  const Pg = rowsOf.map((rows) => {
    const Xg = rows.map(Xrow);
    return flat(pinv(matmul(transpose(Xg), Xg)), p, p, "a group's pinv(X'X)");
  });
  const rankG = rowsOf.map((rows) => rank(rows.map(Xrow)));
  const q = G * p;
  const S = Array.from({ length: q }, () => new Array<number>(q).fill(0));
  const E = new Array<number>(G).fill(0);
  const b = new Float64Array(q);
  const s = selected.length;
  invariant(weight.length === s, 'one weight per selected voxel');
  for (const gs of groupSums)
    invariant(gs.xty.length === p * nCand && gs.yy.length === nCand, "a group's sums over the candidate voxels");
  for (let t = 0; t < s; t++) {
    const c = candOf[selected[t] ?? -1] ?? -1;
    const w = weight[t] ?? NaN;
    groupSums.forEach(({ xty }, g) => {
      for (let j = 0; j < p; j++) b[g * p + j] = xty[j * nCand + c] ?? NaN;
    });
    S.forEach((row, a) => {
      const wa = w * (b[a] ?? NaN);
      for (let d = 0; d <= a; d++) row[d] = (row[d] ?? NaN) + wa * (b[d] ?? NaN);
    });
    groupSums.forEach(({ yy }, g) => {
      const P = item(Pg, g, 'groups');
      let fitted = 0;
      for (let i = 0; i < p; i++) {
        let u = 0;
        for (let j = 0; j < p; j++) u += (P[i * p + j] ?? NaN) * (b[g * p + j] ?? NaN);
        fitted += (b[g * p + i] ?? NaN) * u;
      }
      E[g] = item(E, g, 'groups') + w * ((yy[c] ?? NaN) - fitted);
    });
  }
  for (let a = 0; a < q; a++)
    for (let d = 0; d <= a; d++) {
      setEntry(S, a, d, entry(S, a, d) / s);
      setEntry(S, d, a, entry(S, a, d));
    }
  // B (n x Gp): row i of group g holds x_i pinv(X_g'X_g) in block g
  const B: Matrix = Array.from({ length: n }, () => new Array<number>(q).fill(0));
  for (let i = 0; i < n; i++) {
    const g = item(groups, i, 'variance groups');
    const xi = Xrow(i);
    const P = item(Pg, g, 'groups');
    for (let j = 0; j < p; j++) {
      let v = 0;
      for (let l = 0; l < p; l++) v += item(xi, l, 'design row') * (P[l * p + j] ?? NaN);
      setEntry(B, i, g * p + j, v);
    }
  }
  const BS = matmul(B, S);
  const Cy: Matrix = BS.map((BSi) =>
    B.map((Bj) => {
      let v = 0;
      for (let a = 0; a < q; a++) v += (BSi[a] ?? NaN) * (Bj[a] ?? NaN);
      return v;
    }),
  );
  rowsOf.forEach((rows, g) => {
    const dfg = rows.length - item(rankG, g, 'groups');
    if (dfg <= 0) return;
    const alpha = item(E, g, 'groups') / s / dfg;
    for (const i of rows) {
      const Bi = item(B, i, 'rows of B');
      for (const j of rows) {
        const xj = Xrow(j);
        // R_g = I - X_g pinv(X_g'X_g) X_g'
        let h = 0;
        for (let l = 0; l < p; l++) h += (Bi[g * p + l] ?? NaN) * (xj[l] ?? NaN);
        setEntry(Cy, i, j, entry(Cy, i, j) + alpha * ((i === j ? 1 : 0) - h));
      }
    }
  });
  return Cy;
}

/** Fold per-group sums into one set with weight w_g^2 on group g (w = 1 gives the OLS sums). */
export function weightedSums(parts: FitSums[], w2: number[]): FitSums {
  const a = item(parts, 0, 'variance groups');
  const out: FitSums = {
    nCand: a.nCand,
    p: a.p,
    ok: a.ok.slice(),
    vmin: a.vmin.slice(),
    vmax: a.vmax.slice(),
    yy: new Float64Array(a.yy.length),
    xty: new Float64Array(a.xty.length),
    ryy: new Float64Array(a.ryy.length),
    rxty: new Float64Array(a.rxty.length),
  };
  const { ok, vmin, vmax } = out;
  parts.forEach((s, g) => {
    invariant(s.nCand === a.nCand && s.ok.length === a.nCand, "the groups' sums are over the same voxels");
    for (let i = 0; i < a.nCand; i++) {
      ok[i] = (ok[i] ?? 0) & (s.ok[i] ?? 0);
      const lo = s.vmin[i] ?? NaN;
      const hi = s.vmax[i] ?? NaN;
      if (lo < (vmin[i] ?? NaN)) vmin[i] = lo;
      if (hi > (vmax[i] ?? NaN)) vmax[i] = hi;
    }
    const f = item(w2, g, 'group weights');
    for (const key of ['yy', 'xty', 'ryy', 'rxty'] as const) {
      const src = s[key];
      const dst = out[key];
      invariant(src.length === dst.length, "the groups' sums have the same size");
      for (let i = 0; i < dst.length; i++) dst[i] = (dst[i] ?? NaN) + f * (src[i] ?? NaN);
    }
  });
  return out;
}

/** Steps 3-4: ReML on Cy, V scaled to trace n, W = V^-1/2 and the whitened design's traces. */
export function whiten(
  design: Design,
  groups: Int32Array,
  Cy: Matrix,
): {
  h: number[];
  V: Float64Array;
  W: Float64Array;
  WX: Matrix;
  Bcov: Matrix;
  trRV: number;
  trRVRV: number;
  erdf: number;
  iterations: number;
} {
  const n = design.n;
  const k = Math.max(...groups) + 1;
  const Q = Array.from({ length: k }, (_, g) => Float64Array.from(groups, (v) => (v === g ? 1 : 0)));
  const fit = reml(Cy, design.X, Q);
  if (fit.unidentified) {
    throw new VbmError(
      `the variance components could not be estimated (ReML hyperparameters ${fit.h.map((v) => v.toPrecision(4)).join(', ')})`,
      "the groups' variances are not identifiable from these data; fit with equal variances (variance: equal)",
    );
  }
  let trace = 0;
  for (let i = 0; i < n; i++) trace += item(fit.V, i, 'V');
  const V = Float64Array.from(fit.V, (v) => (v * n) / trace);
  // W = V^-1/2, with SPM's ridge in the inverse and its zeroing of entries below 1e-6
  let vmax = 0;
  for (const v of V) vmax = Math.max(vmax, Math.abs(v));
  const tol = Math.max(Number.EPSILON * 2 ** Math.floor(Math.log2(vmax)) * n, Math.exp(-32));
  const W = Float64Array.from(V, (v) => {
    const w = Math.sqrt(1 / (v + tol));
    return Math.abs(w) > 1e-6 ? w : 0;
  });
  const { WX, Bcov, trRV, trRVRV } = whitenedDesign(design.X, W, V);
  return { h: fit.h, V, W, WX, Bcov, trRV, trRVRV, erdf: (trRV * trRV) / trRVRV, iterations: fit.iterations };
}

/**
 * The whitened design W X and what SPM derives from it with the error covariance W V W':
 * Bcov = pinv(WX) WVW' pinv(WX)', tr(RV) and tr(RVRV) with R the residual-forming matrix.
 */
export function whitenedDesign(
  X: Matrix,
  W: ArrayLike<number>,
  V: ArrayLike<number>,
): { WX: Matrix; Bcov: Matrix; trRV: number; trRVRV: number } {
  const n = X.length;
  const p = X[0]?.length ?? 0;
  const Wi = (i: number): number => item(W, i, 'W');
  const WX = X.map((row, i) => row.map((x) => Wi(i) * x));
  const pX = pinv(WX);
  const Vw = Float64Array.from({ length: n }, (_, i) => Wi(i) * item(V, i, 'V') * Wi(i));
  const Bcov: Matrix = pX.map((ri) =>
    pX.map((rj) => ri.reduce((s, v, a) => s + v * item(Vw, a, 'WVW') * item(rj, a, 'pinv(WX) row'), 0)),
  );
  const RV: Matrix = WX.map((WXa, a) =>
    Array.from({ length: n }, (__, b) => {
      let s = 0;
      for (let j = 0; j < p; j++) s += item(WXa, j, 'WX row') * entry(pX, j, b);
      return ((a === b ? 1 : 0) - s) * item(Vw, b, 'WVW');
    }),
  );
  let trRV = 0;
  let trRVRV = 0;
  for (let a = 0; a < n; a++) {
    trRV += entry(RV, a, a);
    for (let b = 0; b < n; b++) trRVRV += entry(RV, a, b) * entry(RV, b, a);
  }
  return { WX, Bcov, trRV, trRVRV };
}
