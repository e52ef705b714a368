import { item } from '../errors.js';
import { type Matrix, entry, setEntry, svd } from './linalg.js';

/**
 * Restricted maximum likelihood (ReML) estimates of variance-component hyperparameters, as
 * SPM12's spm_reml computes them for the pooled covariance of a mass-univariate model:
 *
 *   Cov(e) = C(h) = sum_i h_i Q_i,   Cy = <y y'> pooled over voxels,
 *
 * maximised by Fisher scoring on the ReML objective with a weak Gaussian hyperprior on h (mean
 * hE = 0, precision hP = exp(-8)) and SPM's local-linearisation step (expm of the augmented
 * Jacobian, regularised by a "time" t that grows by 1/4 after an improving step and shrinks by 1
 * otherwise). Iteration stops when the predicted change in the objective falls below 0.1, or
 * after 32 steps. The stopping rule is loose, so the path (initial h, t, the step formula) is
 * reproduced exactly: h is SPM's to ~1e-12, not only at the optimum.
 *
 * Only diagonal components are handled (one indicator per variance group, SPM's "independence,
 * unequal variance"): each Q_i is given by its diagonal. Pure: numbers in, numbers out.
 */
export interface RemlOptions {
  /** Number of samples behind Cy (SPM: 1, Cy being an average). */
  N?: number;
  /** Maximum iterations (SPM: 32). */
  maxIterations?: number;
  /** Initial regularisation, log-time (SPM: 4). */
  t?: number;
  /** Hyperprior precision (SPM: exp(-8)). */
  hP?: number;
  /** Stop when the predicted change in the objective is below this (SPM: 0.1). */
  tolerance?: number;
}

export interface RemlResult {
  /** Hyperparameters, one per component. */
  h: number[];
  /** Diagonal of V = sum_i h_i Q_i (not rescaled). */
  V: Float64Array;
  /** Fisher-scoring iterations taken (over all restarts). */
  iterations: number;
  /** Posterior precision of h (minus the expected curvature). */
  Ph: Matrix;
  /** The final regularisation. */
  t: number;
  /** Whether V has a negative entry or Ph is ill-conditioned (SPM would then reduce the model). */
  unidentified: boolean;
}

/** MATLAB's eps(x): the spacing of doubles at |x|. */
function epsOf(x: number): number {
  const a = Math.abs(x);
  if (a === 0 || !Number.isFinite(a)) return Number.MIN_VALUE;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return 2 ** (e - 52);
}

/** SPM's inverse with its tiny ridge: inv(A + I * max(eps(|A|_inf) * n, exp(-32))). */
function ridgeInverse(A: Matrix): Matrix {
  const n = A.length;
  let norm = 0;
  for (const row of A)
    norm = Math.max(
      norm,
      row.reduce((s, v) => s + Math.abs(v), 0),
    );
  const tol = Math.max(epsOf(norm) * n, Math.exp(-32));
  const B = A.map((row, i) => row.map((v, j) => (i === j ? v + tol : v)));
  const I = A.map((_, i) => A.map((__, j) => (i === j ? 1 : 0)));
  return solve(B, I);
}

/** Solve A X = B by Gaussian elimination with partial pivoting (small dense systems). */
export function solve(A: Matrix, B: Matrix): Matrix {
  const n = A.length;
  const a = A.map((r) => r.slice());
  const b = B.map((r) => r.slice());
  const m = b[0]?.length ?? 0;
  for (let k = 0; k < n; k++) {
    let piv = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(entry(a, i, k)) > Math.abs(entry(a, piv, k))) piv = i;
    if (piv !== k) {
      [a[k], a[piv]] = [item(a, piv), item(a, k)];
      [b[k], b[piv]] = [item(b, piv), item(b, k)];
    }
    const d = entry(a, k, k);
    for (let i = k + 1; i < n; i++) {
      const f = entry(a, i, k) / d;
      if (f === 0) continue;
      for (let j = k; j < n; j++) setEntry(a, i, j, entry(a, i, j) - f * entry(a, k, j));
      for (let j = 0; j < m; j++) setEntry(b, i, j, entry(b, i, j) - f * entry(b, k, j));
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    for (let j = 0; j < m; j++) {
      let s = entry(b, k, j);
      for (let i = k + 1; i < n; i++) s -= entry(a, k, i) * entry(b, i, j);
      setEntry(b, k, j, s / entry(a, k, k));
    }
  }
  return b;
}

function matmulSq(a: Matrix, b: Matrix): Matrix {
  const n = a.length;
  const m = b[0]?.length ?? 0;
  const k = b.length;
  const out: Matrix = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++) {
    for (let l = 0; l < k; l++) {
      const v = entry(a, i, l);
      if (v === 0) continue;
      for (let j = 0; j < m; j++) setEntry(out, i, j, entry(out, i, j) + v * entry(b, l, j));
    }
  }
  return out;
}

/**
 * Matrix exponential by a (6,6) Pade approximant with scaling and squaring, scaled by the power
 * of two just above the infinity norm (as SPM's spm_expm).
 */
export function expm(J: Matrix): Matrix {
  const n = J.length;
  let norm = 0;
  for (const row of J)
    norm = Math.max(
      norm,
      row.reduce((s, v) => s + Math.abs(v), 0),
    );
  // frexp: norm = f * 2^e with 0.5 <= f < 1
  let e = 0;
  if (norm > 0 && Number.isFinite(norm)) {
    e = Math.floor(Math.log2(norm)) + 1;
    while (norm / 2 ** e >= 1) e++;
    while (norm / 2 ** e < 0.5) e--;
  }
  const s = Math.max(0, e + 1);
  const A = J.map((row) => row.map((v) => v / 2 ** s));
  const I = A.map((_, i) => A.map((__, j) => (i === j ? 1 : 0)));
  let X = A;
  let c = 0.5;
  let E = I.map((row, i) => row.map((v, j) => v + c * entry(A, i, j)));
  let D = I.map((row, i) => row.map((v, j) => v - c * entry(A, i, j)));
  const q = 6;
  let plus = true;
  for (let k = 2; k <= q; k++) {
    c = (c * (q - k + 1)) / (k * (2 * q - k + 1));
    X = matmulSq(A, X);
    const Xk = X;
    E = E.map((row, i) => row.map((v, j) => v + c * entry(Xk, i, j)));
    D = D.map((row, i) => row.map((v, j) => (plus ? v + c * entry(Xk, i, j) : v - c * entry(Xk, i, j))));
    plus = !plus;
  }
  E = solve(D, E);
  for (let k = 0; k < s; k++) E = matmulSq(E, E);
  void n;
  return E;
}

/**
 * log|det| as SPM's spm_logdet takes it of the (negative definite) curvature: the sum of the logs
 * of the singular values in (1e-16, 1e16) — except that a matrix with no off-diagonal entry is
 * read from its diagonal, whose negative entries are then dropped (SPM's behaviour).
 */
function spmLogdet(A: Matrix): number {
  const TOL = 1e-16;
  const n = A.length;
  const keep = A.map((_, i) => i).filter((i) => entry(A, i, i) !== 0);
  const B = keep.map((i) => keep.map((j) => entry(A, i, j)));
  let offDiagonal = false;
  for (let i = 0; i < B.length; i++)
    for (let j = 0; j < B.length; j++) if (i !== j && entry(B, i, j) !== 0) offDiagonal = true;
  const s = offDiagonal ? svd(B).s : B.map((row, i) => item(row, i));
  let H = 0;
  for (const v of s) if (v > TOL && v < 1 / TOL) H += Math.log(v);
  void n;
  return H;
}

/**
 * SPM's regularised Gauss-Newton step (spm_dx with a log-time t): dx = (expm(t J) - I) J^-1 f,
 * computed through the augmented system [[0, 0], [t f, t J]], with t = exp(t - log|J|/m).
 */
export function regularisedStep(J: Matrix, f: number[], logTime: number): number[] {
  const m = f.length;
  const tt = Math.exp(logTime - spmLogdet(J) / m);
  if (tt > Math.exp(16)) {
    const inv = solve(
      J,
      J.map((_, i) => J.map((__, j) => (i === j ? 1 : 0))),
    );
    return inv.map((row) => -row.reduce((s, v, j) => s + v * item(f, j), 0));
  }
  const A: Matrix = Array.from({ length: m + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = 0; i < m; i++) {
    setEntry(A, i + 1, 0, tt * item(f, i));
    for (let j = 0; j < m; j++) setEntry(A, i + 1, j + 1, tt * entry(J, i, j));
  }
  const E = expm(A);
  return Array.from({ length: m }, (_, i) => entry(E, i + 1, 0));
}

/** Orthonormal basis of the column space of X (SPM's spm_svd(X, 0)), n x r. */
function orthonormalBasis(X: Matrix): Matrix {
  if (!X[0]?.length) return X.map(() => []);
  const dec = svd(X);
  const ss = dec.s.map((v) => v * v);
  const total = ss.reduce((a, b) => a + b, 0);
  const keep = ss.map((v, i) => ((v * ss.length) / total > 64 * Number.EPSILON ? i : -1)).filter((i) => i >= 0);
  return X.map((_, i) => keep.map((k) => entry(dec.U, i, k)));
}

/** 1-norm condition number of a small matrix. */
function condition1(A: Matrix): number {
  const norm1 = (M: Matrix): number =>
    Math.max(...item(M, 0).map((_, j) => M.reduce((s, row) => s + Math.abs(item(row, j)), 0)));
  const inv = solve(
    A,
    A.map((_, i) => A.map((__, j) => (i === j ? 1 : 0))),
  );
  const c = norm1(A) * norm1(inv);
  return Number.isFinite(c) ? c : Infinity;
}

/**
 * ReML hyperparameters for the pooled covariance Cy (n x n), design X (n x p) and diagonal
 * components Q (each of length n).
 */
export function reml(Cy: Matrix, X: Matrix, Q: Float64Array[], opts: RemlOptions = {}): RemlResult {
  return remlFrom(
    Cy,
    X,
    Q,
    opts.N ?? 1,
    opts.maxIterations ?? 32,
    opts.t ?? 4,
    opts.hP ?? Math.exp(-8),
    opts.tolerance ?? 0.1,
    0,
  );
}

function remlFrom(
  Cy: Matrix,
  X: Matrix,
  Q: Float64Array[],
  N: number,
  K: number,
  t0: number,
  hP: number,
  tolerance: number,
  before: number,
): RemlResult {
  const n = Cy.length;
  const m = Q.length;
  const U = orthonormalBasis(X);
  const r = U[0]?.length ?? 0;
  // initial h: 1 for a component that covers scans no earlier component covers, else 0
  const h = new Array<number>(m).fill(0);
  const covered = new Uint8Array(n);
  // each component's diagonal has one entry per scan
  const q = (i: number, a: number): number => item(item(Q, i, 'components'), a, 'component');
  for (let i = 0; i < m; i++) {
    let fresh = false;
    for (let a = 0; a < n; a++) {
      if (q(i, a) !== 0 && !covered[a]) fresh = true;
      if (q(i, a) !== 0) covered[a] = 1;
    }
    h[i] = fresh ? 1 : 0;
  }
  let t = t0;
  let dF = Infinity;
  let iterations = before;
  let dFdhh: Matrix = [];
  const P: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let k = 0; k < K; k++) {
    iterations++;
    // C = sum h_i Q_i (diagonal) and its inverse with SPM's ridge
    const c = new Float64Array(n);
    for (let i = 0; i < m; i++) for (let a = 0; a < n; a++) c[a] = item(c, a) + item(h, i) * q(i, a);
    let cNorm = 0;
    for (const ca of c) cNorm = Math.max(cNorm, Math.abs(ca));
    const cTol = Math.max(epsOf(cNorm) * n, Math.exp(-32));
    const iC = c.map((ca) => 1 / (ca + cTol));
    // P = iC - iC X (X' iC X)^-1 X' iC
    const iCX: Matrix = U.map((row, a) => row.map((v) => v * item(iC, a)));
    const XiCX: Matrix = Array.from({ length: r }, (_, i) =>
      Array.from({ length: r }, (__, j) => {
        let s = 0;
        for (let a = 0; a < n; a++) s += entry(U, a, i) * entry(iCX, a, j);
        return s;
      }),
    );
    const Cq = r ? ridgeInverse(XiCX) : [];
    const iCXCq: Matrix = iCX.map((row) =>
      Array.from({ length: r }, (_, j) => row.reduce((s, v, l) => s + v * entry(Cq, l, j), 0)),
    );
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        let s = 0;
        for (let l = 0; l < r; l++) s += entry(iCXCq, a, l) * entry(iCX, b, l);
        setEntry(P, a, b, (a === b ? item(iC, a) : 0) - s);
      }
    }
    // P Cy
    const PY = matmulSq(P, Cy);
    // gradient: dF/dh_i = -N/2 tr(P Q_i (I - P Cy / N))
    const dFdh = new Array<number>(m).fill(0);
    for (let i = 0; i < m; i++) {
      let trPQ = 0;
      let trPQPY = 0;
      for (let a = 0; a < n; a++) {
        trPQ += entry(P, a, a) * q(i, a);
        let s = 0;
        for (let b = 0; b < n; b++) s += entry(P, a, b) * q(i, b) * entry(PY, b, a);
        trPQPY += s;
      }
      dFdh[i] = (-(trPQ - trPQPY / N) * N) / 2;
    }
    // expected curvature: -N/2 tr(P Q_i P Q_j)
    dFdhh = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    for (let i = 0; i < m; i++) {
      for (let j = i; j < m; j++) {
        let s = 0;
        for (let a = 0; a < n; a++) {
          if (q(i, a) === 0) continue;
          let row = 0;
          for (let b = 0; b < n; b++) row += entry(P, a, b) * entry(P, a, b) * q(j, b);
          s += q(i, a) * row;
        }
        setEntry(dFdhh, i, j, (-s * N) / 2);
        setEntry(dFdhh, j, i, entry(dFdhh, i, j));
      }
    }
    // hyperpriors
    for (let i = 0; i < m; i++) {
      dFdh[i] = item(dFdh, i) - hP * item(h, i);
      setEntry(dFdhh, i, i, entry(dFdhh, i, i) - hP);
    }
    const dh = regularisedStep(dFdhh, dFdh, t);
    for (let i = 0; i < m; i++) h[i] = item(h, i) + item(dh, i);
    const pF = dFdh.reduce((s, v, i) => s + v * item(dh, i), 0);
    if (pF > dF) t = Math.max(t - 1, -8);
    else t = Math.min(t + 0.25, 8);
    // near a phase transition: start again with a more precise prior
    if (!Number.isFinite(pF) || Math.max(...dh.map(Math.abs)) > 1e6)
      return remlFrom(Cy, X, Q, N, K, t, hP * 2, tolerance, iterations);
    dF = pF;
    if (dF < tolerance) break;
  }
  const V = new Float64Array(n);
  for (let i = 0; i < m; i++) for (let a = 0; a < n; a++) V[a] = item(V, a) + item(h, i) * q(i, a);
  const Ph = dFdhh.map((row) => row.map((v) => -v));
  let negative = false;
  for (const va of V) if (va < 0) negative = true;
  const unidentified = (negative || Math.log(condition1(Ph)) > 16) && t > -4;
  return { h, V, iterations, Ph, t, unidentified };
}
