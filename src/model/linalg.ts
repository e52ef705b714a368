/**
 * Small dense linear algebra for design matrices (n x p, p small). Matrices are row-major
 * number[][]; everything is float64. The SVD is a one-sided Jacobi (Hestenes) rotation on the
 * columns, accurate for the ill-conditioned designs (uncentred TIV next to an intercept) that
 * normal equations would square.
 */
import { item } from '../errors.js';

export type Matrix = number[][];

/** Entry (i, j): an index outside the matrix is a bug (the callers size their matrices), so it throws. */
export function entry(a: Matrix, i: number, j: number): number {
  return item(item(a, i, 'matrix'), j, 'matrix row');
}

/** Set entry (i, j). */
export function setEntry(a: Matrix, i: number, j: number, v: number): void {
  item(a, i, 'matrix')[j] = v;
}

/** The number of columns (of the first row; 0 for an empty matrix). */
function columns(a: Matrix): number {
  return a[0]?.length ?? 0;
}

export function zeros(r: number, c: number): Matrix {
  return Array.from({ length: r }, () => new Array<number>(c).fill(0));
}

/** The transpose of a matrix. */
export function transpose(a: Matrix): Matrix {
  const r = a.length;
  const c = columns(a);
  const t = zeros(c, r);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) setEntry(t, j, i, entry(a, i, j));
  return t;
}

/** The matrix product a b. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  const r = a.length;
  const k = b.length;
  const c = columns(b);
  const out = zeros(r, c);
  for (let i = 0; i < r; i++) {
    const oi = item(out, i);
    for (let m = 0; m < k; m++) {
      const aim = entry(a, i, m);
      if (aim === 0) continue;
      const bm = item(b, m);
      for (let j = 0; j < c; j++) oi[j] = item(oi, j) + aim * item(bm, j);
    }
  }
  return out;
}

export interface Svd {
  /** n x p left singular vectors (columns), for the p columns of the input. */
  U: Matrix;
  /** p singular values, descending. */
  s: number[];
  /** p x p right singular vectors (columns). */
  V: Matrix;
}

/** Thin SVD of an n x p matrix (n >= p not required: works on columns). */
export function svd(a: Matrix): Svd {
  const n = a.length;
  const p = columns(a);
  const U = a.map((row) => row.slice());
  const V = zeros(p, p);
  for (let i = 0; i < p; i++) setEntry(V, i, i, 1);
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let j = 0; j < p - 1; j++) {
      for (let k = j + 1; k < p; k++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < n; i++) {
          const uj = entry(U, i, j);
          const uk = entry(U, i, k);
          alpha += uj * uj;
          beta += uk * uk;
          gamma += uj * uk;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < n; i++) {
          const uj = entry(U, i, j);
          const uk = entry(U, i, k);
          setEntry(U, i, j, c * uj - s * uk);
          setEntry(U, i, k, s * uj + c * uk);
        }
        for (let i = 0; i < p; i++) {
          const vj = entry(V, i, j);
          const vk = entry(V, i, k);
          setEntry(V, i, j, c * vj - s * vk);
          setEntry(V, i, k, s * vj + c * vk);
        }
      }
    }
    if (!rotated) break;
  }
  const s = new Array<number>(p).fill(0);
  for (let j = 0; j < p; j++) {
    let norm = 0;
    for (let i = 0; i < n; i++) norm += entry(U, i, j) * entry(U, i, j);
    norm = Math.sqrt(norm);
    s[j] = norm;
    if (norm > 0) for (let i = 0; i < n; i++) setEntry(U, i, j, entry(U, i, j) / norm);
  }
  const order = s.map((_, i) => i).sort((x, y) => item(s, y) - item(s, x));
  return {
    U: U.map((row) => order.map((j) => item(row, j))),
    s: order.map((j) => item(s, j)),
    V: V.map((row) => order.map((j) => item(row, j))),
  };
}

/** The tolerance below which a singular value counts as zero, as MATLAB's rank/pinv: max(n,p)*eps*s_max. */
export function svdTolerance(dec: Svd, n: number, p: number): number {
  return Math.max(n, p) * Number.EPSILON * (dec.s[0] ?? 0);
}

/** Numerical rank: singular values above SPM's tolerance (max(n, p) eps s_max). */
export function rank(a: Matrix): number {
  const dec = svd(a);
  const tol = svdTolerance(dec, a.length, a[0]?.length ?? 0);
  return dec.s.filter((v) => v > tol).length;
}

/** Moore-Penrose pseudo-inverse (p x n) of an n x p matrix. */
export function pinv(a: Matrix): Matrix {
  const n = a.length;
  const p = columns(a);
  const dec = svd(a);
  const tol = svdTolerance(dec, n, p);
  const out = zeros(p, n);
  for (let k = 0; k < p; k++) {
    const sk = item(dec.s, k, 'singular values');
    if (!(sk > tol)) continue;
    const inv = 1 / sk;
    for (let i = 0; i < p; i++) {
      const vik = entry(dec.V, i, k) * inv;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) setEntry(out, i, j, entry(out, i, j) + vik * entry(dec.U, j, k));
    }
  }
  return out;
}

/** Basis (columns) of the null space of an n x p matrix: right singular vectors with zero singular value. */
export function nullSpace(a: Matrix): Matrix {
  const n = a.length;
  const p = columns(a);
  const dec = svd(a.length >= p ? a : [...a, ...zeros(p - n, p)]);
  const tol = svdTolerance(dec, n, p);
  const cols: number[][] = [];
  for (let k = 0; k < p; k++) if (!(item(dec.s, k) > tol)) cols.push(dec.V.map((row) => item(row, k)));
  return cols.length ? transpose(cols) : [];
}
