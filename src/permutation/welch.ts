/**
 * The statistic for permutation tests with variance groups (Winkler et al. 2014, NeuroImage
 * 92:381, section "Statistics under heteroscedasticity"; PALM's -vg): Welch's v for a T contrast
 * and its generalisation G for an F contrast. For data y (one voxel) and design M:
 *   psi = pinv(M) y,  e = y - M psi,  R = I - M pinv(M),
 *   W_g = tr_g(R) / (e_g'e_g)                  (tr_g: the diagonal of R summed over group g)
 *   G = (C psi)' (C (sum_g W_g M_g'M_g)^-1 C')^-1 (C psi) / (s Lambda),  s = rank(C)
 *   Lambda = 1 + 2 (s - 1) / (s (s + 2)) sum_g (1 - n_g W_g / sum_h n_h W_h)^2 / tr_g(R)
 * For s = 1 the signed square root is Welch's v (Aspin-Welch t). Permuted data are P R_z (the
 * Freedman-Lane residuals of the nuisance model, permuted or sign-flipped); M is the whole design,
 * so psi and e are those of the full model fitted to P R_z, as in the OLS statistic.
 * Pure: typed arrays in, statistics out.
 */
import { VbmError, invariant, item } from '../errors.js';
import { type Matrix, entry, matmul, pinv, rank, transpose } from '../model/linalg.js';

export interface WelchSetup {
  n: number;
  p: number;
  /** Contrast rows (s x p, row-major) and its rank. */
  C: Float64Array;
  s: number;
  /** Design, row-major n x p. */
  X: Float64Array;
  /** pinv(X'X), p x p. */
  XtXinv: Float64Array;
  nGroups: number;
  groups: Int32Array;
  /** X_g'X_g per group, G x p x p. */
  MgMg: Float64Array;
  /** tr_g(R): the residual-forming matrix's diagonal summed over each group. */
  dR: Float64Array;
  /** Scans per group. */
  ng: Float64Array;
}

/** What Welch's v / G needs from the design, the contrast and the variance groups, computed once per test. */
export function welchSetup(Xm: Matrix, Cm: Matrix, groupsIn: ArrayLike<number>): WelchSetup {
  const n = Xm.length;
  const p = item(Xm, 0, 'design').length;
  if (rank(Xm) < p) {
    throw new VbmError(
      'permutations with variance groups need a full-rank design',
      'drop the collinear columns (vbm show lists them), or use variance: equal',
    );
  }
  if (rank(Cm) < Cm.length) {
    throw new VbmError(
      'with variance groups, an F contrast must have linearly independent rows',
      'drop the redundant rows of the contrast',
    );
  }
  const groups = Int32Array.from(groupsIn);
  const nGroups = Math.max(...groups) + 1;
  const XtXinv = pinv(matmul(transpose(Xm), Xm));
  const H = matmul(matmul(Xm, XtXinv), transpose(Xm));
  const dR = new Float64Array(nGroups);
  const ng = new Float64Array(nGroups);
  const MgMg = new Float64Array(nGroups * p * p);
  for (let i = 0; i < n; i++) {
    const g = item(groups, i, 'variance groups');
    const row = item(Xm, i, 'design');
    dR[g] = item(dR, g, 'group traces') + (1 - entry(H, i, i));
    ng[g] = item(ng, g, 'group sizes') + 1;
    for (let a = 0; a < p; a++)
      for (let b = 0; b < p; b++) {
        const at = (g * p + a) * p + b;
        MgMg[at] = item(MgMg, at) + item(row, a) * item(row, b);
      }
  }
  for (let g = 0; g < nGroups; g++) {
    if (!(item(dR, g) > 1e-8)) {
      throw new VbmError(
        `variance group ${g + 1} leaves no residual degrees of freedom (its scans are fitted exactly)`,
        'each variance group needs more scans than the design columns that describe it',
      );
    }
  }
  return {
    n,
    p,
    C: Float64Array.from(Cm.flat()),
    s: rank(Cm),
    X: Float64Array.from(Xm.flat()),
    XtXinv: Float64Array.from(XtXinv.flat()),
    nGroups,
    groups,
    MgMg,
    dR,
    ng,
  };
}

/** Solve A z = b in place for a symmetric positive definite k x k A (Cholesky; A is overwritten). */
function cholSolve(A: Float64Array, k: number, b: Float64Array, off: number): boolean {
  for (let j = 0; j < k; j++) {
    let d = A[j * k + j] ?? NaN;
    for (let l = 0; l < j; l++) d -= (A[j * k + l] ?? NaN) * (A[j * k + l] ?? NaN);
    if (!(d > 0)) return false;
    d = Math.sqrt(d);
    A[j * k + j] = d;
    for (let i = j + 1; i < k; i++) {
      let v = A[i * k + j] ?? NaN;
      for (let l = 0; l < j; l++) v -= (A[i * k + l] ?? NaN) * (A[j * k + l] ?? NaN);
      A[i * k + j] = v / d;
    }
  }
  for (let i = 0; i < k; i++) {
    let v = b[off + i] ?? NaN;
    for (let l = 0; l < i; l++) v -= (A[i * k + l] ?? NaN) * (b[off + l] ?? NaN);
    b[off + i] = v / (A[i * k + i] ?? NaN);
  }
  for (let i = k - 1; i >= 0; i--) {
    let v = b[off + i] ?? NaN;
    for (let l = i + 1; l < k; l++) v -= (A[l * k + i] ?? NaN) * (b[off + l] ?? NaN);
    b[off + i] = v / (A[i * k + i] ?? NaN);
  }
  return true;
}

export interface WelchScratch {
  acc: Float64Array;
  ss: Float64Array;
  psi: Float64Array;
  cte: Float64Array;
  work: Float64Array;
  Z: Float64Array;
  S: Float64Array;
  a: Float64Array;
  /** Copies for the in-place Cholesky solves. */
  chol: Float64Array;
  cholS: Float64Array;
  b: Float64Array;
}

export function welchScratch(w: WelchSetup, chunk: number): WelchScratch {
  const { p, s, nGroups } = w;
  return {
    acc: new Float64Array(nGroups * p * chunk),
    ss: new Float64Array(nGroups * chunk),
    psi: new Float64Array(p),
    cte: new Float64Array(p * p),
    work: new Float64Array(p * p),
    Z: new Float64Array(p * s),
    S: new Float64Array(s * s),
    a: new Float64Array(s),
    chol: new Float64Array(p * p),
    cholS: new Float64Array(s * s),
    b: new Float64Array(s),
  };
}

/**
 * G (or v) for voxels v0..v0+c-1 of one rearrangement: `src[i]` is the row of R_z that lands on
 * scan i and `sign[i]` its sign (permutations: +1; sign flips: the identity source).
 */
export function welchChunk(
  w: WelchSetup,
  R: Float32Array | Float64Array,
  stride: number,
  v0: number,
  c: number,
  src: ArrayLike<number>,
  sign: ArrayLike<number>,
  ssTotal: Float64Array,
  out: Float32Array,
  outOffset: number,
  sc: WelchScratch,
): void {
  const { n, p, s, nGroups, groups, X, XtXinv, MgMg, dR, ng, C } = w;
  const { acc, ss, psi, cte, work, Z, S, a, chol, cholS, b } = sc;
  // every index below is within these lengths (src holds rows of R): the `?? NaN` / `?? 0` reads are never taken
  invariant(
    groups.length >= n &&
      src.length >= n &&
      sign.length >= n &&
      X.length >= n * p &&
      acc.length >= nGroups * p * c &&
      ss.length >= nGroups * c &&
      ssTotal.length >= v0 + c &&
      out.length >= outOffset + c &&
      R.length >= (n - 1) * stride + v0 + c &&
      work.length >= nGroups,
    'Welch chunk buffers',
  );
  acc.fill(0, 0, nGroups * p * c);
  ss.fill(0, 0, nGroups * c);
  for (let i = 0; i < n; i++) {
    const g = groups[i] ?? 0;
    const base = (src[i] ?? 0) * stride + v0;
    const sg = sign[i] ?? NaN;
    const so = g * c;
    for (let j = 0; j < p; j++) {
      const x = (X[i * p + j] ?? NaN) * sg;
      if (x === 0) continue;
      const ao = (g * p + j) * c;
      for (let v = 0; v < c; v++) acc[ao + v] = (acc[ao + v] ?? NaN) + x * (R[base + v] ?? NaN);
    }
    for (let v = 0; v < c; v++) {
      const y = R[base + v] ?? NaN;
      ss[so + v] = (ss[so + v] ?? NaN) + y * y;
    }
  }
  for (let v = 0; v < c; v++) {
    if (!((ssTotal[v0 + v] ?? NaN) > 0)) {
      out[outOffset + v] = 0;
      continue;
    }
    // psi = pinv(X'X) X'y, X'y = sum over groups
    for (let j = 0; j < p; j++) {
      let t = 0;
      for (let l = 0; l < p; l++) {
        let xty = 0;
        for (let g = 0; g < nGroups; g++) xty += acc[(g * p + l) * c + v] ?? NaN;
        t += (XtXinv[j * p + l] ?? NaN) * xty;
      }
      psi[j] = t;
    }
    cte.fill(0);
    let sumW = 0;
    const W = work; // first nGroups entries hold W_g
    let ok = true;
    for (let g = 0; g < nGroups; g++) {
      // e_g'e_g = y_g'y_g - 2 psi' X_g'y_g + psi' X_g'X_g psi
      let cross = 0;
      let quad = 0;
      for (let j = 0; j < p; j++) {
        cross += (psi[j] ?? NaN) * (acc[(g * p + j) * c + v] ?? NaN);
        let t = 0;
        for (let l = 0; l < p; l++) t += (MgMg[(g * p + j) * p + l] ?? NaN) * (psi[l] ?? NaN);
        quad += (psi[j] ?? NaN) * t;
      }
      const rss = (ss[g * c + v] ?? NaN) - 2 * cross + quad;
      if (!(rss > (ss[g * c + v] ?? NaN) * 1e-12)) ok = false;
      W[g] = (dR[g] ?? NaN) / rss;
      sumW += (W[g] ?? NaN) * (ng[g] ?? NaN);
    }
    if (!ok) {
      out[outOffset + v] = 0;
      continue;
    }
    let bsum = 0;
    for (let g = 0; g < nGroups; g++) {
      const f = 1 - ((W[g] ?? NaN) * (ng[g] ?? NaN)) / sumW;
      bsum += (f * f) / (dR[g] ?? NaN);
      for (let q = 0; q < p * p; q++) cte[q] = (cte[q] ?? NaN) + (W[g] ?? NaN) * (MgMg[g * p * p + q] ?? NaN);
    }
    // Z = cte^-1 C' (p x s, column by column), S = C Z, a = C psi
    for (let r = 0; r < s; r++) for (let j = 0; j < p; j++) Z[r * p + j] = C[r * p + j] ?? NaN;
    let solved = true;
    for (let r = 0; r < s && solved; r++) {
      chol.set(cte);
      solved = cholSolve(chol, p, Z, r * p);
    }
    if (!solved) {
      out[outOffset + v] = 0;
      continue;
    }
    for (let r = 0; r < s; r++) {
      let t = 0;
      for (let j = 0; j < p; j++) t += (C[r * p + j] ?? NaN) * (psi[j] ?? NaN);
      a[r] = t;
      for (let q = 0; q < s; q++) {
        let u = 0;
        for (let j = 0; j < p; j++) u += (C[r * p + j] ?? NaN) * (Z[q * p + j] ?? NaN);
        S[r * s + q] = u;
      }
    }
    if (s === 1) {
      out[outOffset + v] = (a[0] ?? NaN) / Math.sqrt(S[0] ?? NaN);
      continue;
    }
    b.set(a);
    cholS.set(S);
    if (!cholSolve(cholS, s, b, 0)) {
      out[outOffset + v] = 0;
      continue;
    }
    let q = 0;
    for (let r = 0; r < s; r++) q += (a[r] ?? NaN) * (b[r] ?? NaN);
    const lambda = 1 + (2 * (s - 1) * bsum) / (s * (s + 2));
    out[outOffset + v] = q / s / lambda;
  }
}
