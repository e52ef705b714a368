/**
 * Small dense linear algebra for design matrices (n x p, p small). Matrices are row-major
 * number[][]; everything is float64. The SVD is a one-sided Jacobi (Hestenes) rotation on the
 * columns, accurate for the ill-conditioned designs (uncentred TIV next to an intercept) that
 * normal equations would square.
 */
export type Matrix = number[][];

export function zeros(r: number, c: number): Matrix {
  return Array.from({ length: r }, () => new Array<number>(c).fill(0));
}

export function transpose(a: Matrix): Matrix {
  const r = a.length;
  const c = r ? a[0].length : 0;
  const t = zeros(c, r);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j][i] = a[i][j];
  return t;
}

export function matmul(a: Matrix, b: Matrix): Matrix {
  const r = a.length;
  const k = b.length;
  const c = k ? b[0].length : 0;
  const out = zeros(r, c);
  for (let i = 0; i < r; i++) {
    for (let m = 0; m < k; m++) {
      const aim = a[i][m];
      if (aim === 0) continue;
      for (let j = 0; j < c; j++) out[i][j] += aim * b[m][j];
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
  const p = n ? a[0].length : 0;
  const U = a.map((row) => row.slice());
  const V = zeros(p, p);
  for (let i = 0; i < p; i++) V[i][i] = 1;
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let j = 0; j < p - 1; j++) {
      for (let k = j + 1; k < p; k++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < n; i++) {
          alpha += U[i][j] * U[i][j];
          beta += U[i][k] * U[i][k];
          gamma += U[i][j] * U[i][k];
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < n; i++) {
          const uj = U[i][j];
          const uk = U[i][k];
          U[i][j] = c * uj - s * uk;
          U[i][k] = s * uj + c * uk;
        }
        for (let i = 0; i < p; i++) {
          const vj = V[i][j];
          const vk = V[i][k];
          V[i][j] = c * vj - s * vk;
          V[i][k] = s * vj + c * vk;
        }
      }
    }
    if (!rotated) break;
  }
  const s = new Array<number>(p).fill(0);
  for (let j = 0; j < p; j++) {
    let norm = 0;
    for (let i = 0; i < n; i++) norm += U[i][j] * U[i][j];
    norm = Math.sqrt(norm);
    s[j] = norm;
    if (norm > 0) for (let i = 0; i < n; i++) U[i][j] /= norm;
  }
  const order = s.map((_, i) => i).sort((x, y) => s[y] - s[x]);
  return {
    U: U.map((row) => order.map((j) => row[j])),
    s: order.map((j) => s[j]),
    V: V.map((row) => order.map((j) => row[j])),
  };
}

/** The tolerance below which a singular value counts as zero, as MATLAB's rank/pinv: max(n,p)*eps*s_max. */
export function svdTolerance(dec: Svd, n: number, p: number): number {
  return Math.max(n, p) * Number.EPSILON * (dec.s[0] ?? 0);
}

export function rank(a: Matrix): number {
  const dec = svd(a);
  const tol = svdTolerance(dec, a.length, a[0]?.length ?? 0);
  return dec.s.filter((v) => v > tol).length;
}

/** Moore-Penrose pseudo-inverse (p x n) of an n x p matrix. */
export function pinv(a: Matrix): Matrix {
  const n = a.length;
  const p = n ? a[0].length : 0;
  const dec = svd(a);
  const tol = svdTolerance(dec, n, p);
  const out = zeros(p, n);
  for (let k = 0; k < p; k++) {
    if (!(dec.s[k] > tol)) continue;
    const inv = 1 / dec.s[k];
    for (let i = 0; i < p; i++) {
      const vik = dec.V[i][k] * inv;
      if (vik === 0) continue;
      for (let j = 0; j < n; j++) out[i][j] += vik * dec.U[j][k];
    }
  }
  return out;
}

/** Basis (columns) of the null space of an n x p matrix: right singular vectors with zero singular value. */
export function nullSpace(a: Matrix): Matrix {
  const n = a.length;
  const p = n ? a[0].length : 0;
  const dec = svd(a.length >= p ? a : [...a, ...zeros(p - n, p)]);
  const tol = svdTolerance(dec, n, p);
  const cols: number[][] = [];
  for (let k = 0; k < p; k++) if (!(dec.s[k] > tol)) cols.push(dec.V.map((row) => row[k]));
  return cols.length ? transpose(cols) : [];
}
