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
  for (let i = 0; i < r; i++) {
    const ai = rowOf(a, i, c);
    for (let j = 0; j < c; j++) setRow(t, j)[i] = ai[j] ?? NaN;
  }
  return t;
}

/**
 * Row i of `a`, checked once to hold at least `n` entries (an index outside the matrix is a bug, so it
 * throws): the loops then index it directly, which a design's X'X (p x n x p) needs before V8 has
 * optimised them (each entry() call cost ~1 microsecond cold, ~9 ms for X'X of 379 scans).
 */
function rowOf(a: Matrix, i: number, n: number): number[] {
  const row = item(a, i, 'matrix');
  if (row.length < n) item(row, n - 1, 'matrix row');
  return row;
}

/** Row i of a matrix this module made (zeros): always there. */
function setRow(a: Matrix, i: number): number[] {
  return a[i] ?? [];
}

/** The matrix product a b. */
export function matmul(a: Matrix, b: Matrix): Matrix {
  const r = a.length;
  const k = b.length;
  const c = columns(b);
  const out = zeros(r, c);
  const rowsB = Array.from({ length: k }, (_, m) => rowOf(b, m, c));
  for (let i = 0; i < r; i++) {
    const oi = setRow(out, i);
    const ai = rowOf(a, i, k);
    for (let m = 0; m < k; m++) {
      const aim = ai[m] ?? NaN;
      if (aim === 0) continue;
      const bm = rowsB[m] ?? [];
      for (let j = 0; j < c; j++) oi[j] = (oi[j] ?? NaN) + aim * (bm[j] ?? NaN);
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

/**
 * Each matrix's last decomposition, with the entries it was made from: a design's rank, null
 * space (collinear columns) and pseudo-inverse (estimable contrasts) each ask for the same one.
 */
const decomposed = new WeakMap<Matrix, { entries: Float64Array; dec: Svd }>();

/** A copy of a decomposition (its arrays are the caller's to change). */
function copySvd(d: Svd): Svd {
  return { U: d.U.map((row) => row.slice()), s: d.s.slice(), V: d.V.map((row) => row.slice()) };
}

/**
 * Thin SVD of an n x p matrix (n >= p not required: works on columns). The same matrix with the
 * same entries (compared with Object.is) is decomposed once: its copy is returned again.
 */
export function svd(a: Matrix): Svd {
  const known = decomposed.get(a);
  if (known && sameEntries(known.entries, a)) return copySvd(known.dec);
  const dec = jacobiSvd(a);
  const p = columns(a);
  const entries = new Float64Array(a.length * p);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < p; j++) entries[i * p + j] = entry(a, i, j);
  decomposed.set(a, { entries, dec: copySvd(dec) });
  return dec;
}

/** Whether `a` holds exactly `entries` (row-major, every row as long as the first). */
function sameEntries(entries: Float64Array, a: Matrix): boolean {
  const p = columns(a);
  if (entries.length !== a.length * p) return false;
  for (let i = 0; i < a.length; i++) {
    const row = item(a, i, 'matrix');
    if (row.length !== p) return false;
    for (let j = 0; j < p; j++) if (!Object.is(entries[i * p + j], row[j])) return false;
  }
  return true;
}

/** One-sided Jacobi (Hestenes) SVD. */
function jacobiSvd(a: Matrix): Svd {
  const n = a.length;
  const p = columns(a);
  // U's and V's columns as typed arrays, which the rotations sweep (the same operations in the
  // same order as on rows of number[], without an indexing call per entry)
  const U = Array.from({ length: p }, (_, j) => Float64Array.from({ length: n }, (_v, i) => entry(a, i, j)));
  const V = Array.from({ length: p }, (_, j) => {
    const v = new Float64Array(p);
    v[j] = 1;
    return v;
  });
  const col = (m: Float64Array[], j: number): Float64Array => item(m, j, 'svd column');
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let j = 0; j < p - 1; j++) {
      for (let k = j + 1; k < p; k++) {
        const Uj = col(U, j);
        const Uk = col(U, k);
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        // (indexed loops over typed arrays of length n and p: `?? 0` is never taken)
        for (let i = 0; i < n; i++) {
          const uj = Uj[i] ?? 0;
          const uk = Uk[i] ?? 0;
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
          const uj = Uj[i] ?? 0;
          const uk = Uk[i] ?? 0;
          Uj[i] = c * uj - s * uk;
          Uk[i] = s * uj + c * uk;
        }
        const Vj = col(V, j);
        const Vk = col(V, k);
        for (let i = 0; i < p; i++) {
          const vj = Vj[i] ?? 0;
          const vk = Vk[i] ?? 0;
          Vj[i] = c * vj - s * vk;
          Vk[i] = s * vj + c * vk;
        }
      }
    }
    if (!rotated) break;
  }
  const s = new Array<number>(p).fill(0);
  for (let j = 0; j < p; j++) {
    const Uj = col(U, j);
    let norm = 0;
    for (let i = 0; i < n; i++) norm += (Uj[i] ?? 0) * (Uj[i] ?? 0);
    norm = Math.sqrt(norm);
    s[j] = norm;
    if (norm > 0) for (let i = 0; i < n; i++) Uj[i] = (Uj[i] ?? 0) / norm;
  }
  const order = s.map((_, i) => i).sort((x, y) => item(s, y) - item(s, x));
  return {
    U: Array.from({ length: n }, (_, i) => order.map((j) => col(U, j)[i] ?? 0)),
    s: order.map((j) => item(s, j)),
    V: Array.from({ length: p }, (_, i) => order.map((j) => col(V, j)[i] ?? 0)),
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
    // U's column k, read once (the same products and sums as entry by entry)
    const Uk = Float64Array.from({ length: n }, (_, j) => entry(dec.U, j, k));
    for (let i = 0; i < p; i++) {
      const vik = entry(dec.V, i, k) * inv;
      if (vik === 0) continue;
      const row = item(out, i, 'matrix');
      // (an indexed loop over arrays of length n: `?? 0` is never taken)
      for (let j = 0; j < n; j++) row[j] = (row[j] ?? 0) + vik * (Uk[j] ?? 0);
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
