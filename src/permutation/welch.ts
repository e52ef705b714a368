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
import { VbmError } from '../errors.js';
import { type Matrix, matmul, pinv, rank, transpose } from '../model/linalg.js';

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

export function welchSetup(Xm: Matrix, Cm: Matrix, groupsIn: ArrayLike<number>): WelchSetup {
  const n = Xm.length;
  const p = Xm[0].length;
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
    const g = groups[i];
    dR[g] += 1 - H[i][i];
    ng[g]++;
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) MgMg[(g * p + a) * p + b] += Xm[i][a] * Xm[i][b];
  }
  for (let g = 0; g < nGroups; g++) {
    if (!(dR[g] > 1e-8)) {
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
    let d = A[j * k + j];
    for (let l = 0; l < j; l++) d -= A[j * k + l] * A[j * k + l];
    if (!(d > 0)) return false;
    d = Math.sqrt(d);
    A[j * k + j] = d;
    for (let i = j + 1; i < k; i++) {
      let v = A[i * k + j];
      for (let l = 0; l < j; l++) v -= A[i * k + l] * A[j * k + l];
      A[i * k + j] = v / d;
    }
  }
  for (let i = 0; i < k; i++) {
    let v = b[off + i];
    for (let l = 0; l < i; l++) v -= A[i * k + l] * b[off + l];
    b[off + i] = v / A[i * k + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let v = b[off + i];
    for (let l = i + 1; l < k; l++) v -= A[l * k + i] * b[off + l];
    b[off + i] = v / A[i * k + i];
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
  acc.fill(0, 0, nGroups * p * c);
  ss.fill(0, 0, nGroups * c);
  for (let i = 0; i < n; i++) {
    const g = groups[i];
    const base = src[i] * stride + v0;
    const sg = sign[i];
    const so = g * c;
    for (let j = 0; j < p; j++) {
      const x = X[i * p + j] * sg;
      if (x === 0) continue;
      const ao = (g * p + j) * c;
      for (let v = 0; v < c; v++) acc[ao + v] += x * R[base + v];
    }
    for (let v = 0; v < c; v++) {
      const y = R[base + v];
      ss[so + v] += y * y;
    }
  }
  for (let v = 0; v < c; v++) {
    if (!(ssTotal[v0 + v] > 0)) {
      out[outOffset + v] = 0;
      continue;
    }
    // psi = pinv(X'X) X'y, X'y = sum over groups
    for (let j = 0; j < p; j++) {
      let t = 0;
      for (let l = 0; l < p; l++) {
        let xty = 0;
        for (let g = 0; g < nGroups; g++) xty += acc[(g * p + l) * c + v];
        t += XtXinv[j * p + l] * xty;
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
        cross += psi[j] * acc[(g * p + j) * c + v];
        let t = 0;
        for (let l = 0; l < p; l++) t += MgMg[(g * p + j) * p + l] * psi[l];
        quad += psi[j] * t;
      }
      const rss = ss[g * c + v] - 2 * cross + quad;
      if (!(rss > ss[g * c + v] * 1e-12)) ok = false;
      W[g] = dR[g] / rss;
      sumW += W[g] * ng[g];
    }
    if (!ok) {
      out[outOffset + v] = 0;
      continue;
    }
    let bsum = 0;
    for (let g = 0; g < nGroups; g++) {
      const f = 1 - (W[g] * ng[g]) / sumW;
      bsum += (f * f) / dR[g];
      for (let q = 0; q < p * p; q++) cte[q] += W[g] * MgMg[g * p * p + q];
    }
    // Z = cte^-1 C' (p x s, column by column), S = C Z, a = C psi
    for (let r = 0; r < s; r++) for (let j = 0; j < p; j++) Z[r * p + j] = C[r * p + j];
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
      for (let j = 0; j < p; j++) t += C[r * p + j] * psi[j];
      a[r] = t;
      for (let q = 0; q < s; q++) {
        let u = 0;
        for (let j = 0; j < p; j++) u += C[r * p + j] * Z[q * p + j];
        S[r * s + q] = u;
      }
    }
    if (s === 1) {
      out[outOffset + v] = a[0] / Math.sqrt(S[0]);
      continue;
    }
    b.set(a);
    cholS.set(S);
    if (!cholSolve(cholS, s, b, 0)) {
      out[outOffset + v] = 0;
      continue;
    }
    let q = 0;
    for (let r = 0; r < s; r++) q += a[r] * b[r];
    const lambda = 1 + (2 * (s - 1) * bsum) / (s * (s + 2));
    out[outOffset + v] = q / s / lambda;
  }
}
