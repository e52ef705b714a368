/**
 * The Freedman-Lane partition of a design for one contrast (Winkler et al. 2014, NeuroImage 92:381).
 *
 * The design X is split into the effect of interest and the nuisance: the nuisance space is
 * { X b : C b = 0 }, the effect space is spanned by X (X'X)^+ C'. Both are given as orthonormal
 * bases (E: n x r, G: n x q). The data are reduced to the residuals of the nuisance-only model,
 * R_z = (I - G G') Y; a permuted data set is P R_z, and its statistic needs only the products
 * E' P R_z and G' P R_z (plus the permutation-invariant column sums of squares of R_z):
 *   rss = ||R_z||^2 - ||E'P R_z||^2 - ||G'P R_z||^2,
 *   T = E'P R_z / sqrt(rss / df),      F = (||E'P R_z||^2 / r) / (rss / df).
 * With the identity permutation these are exactly SPM's T and F for the contrast.
 */
import { VbmError, item } from '../errors.js';
import { type Matrix, matmul, nullSpace, pinv, svd, svdTolerance, transpose } from '../model/linalg.js';

export interface Partition {
  n: number;
  /** Orthonormal basis of the effect space, column-major: E[j] is the j-th basis vector (length n). */
  E: Float64Array[];
  /** Orthonormal basis of the nuisance space (all of it, for reducing the data). */
  G: Float64Array[];
  /** Whether the constant vector lies in the nuisance space. */
  constantInNuisance: boolean;
  /** Whether the effect space holds only vectors constant within each exchangeability block (permutations cannot test it). */
  effectConstantWithinBlocks: boolean;
  df: number;
  /** Rank of the contrast (1 for T). */
  rank: number;
}

/** Orthonormal basis (columns, as arrays) of the column space of an n x k matrix. */
export function orthonormalBasis(a: Matrix): Float64Array[] {
  const n = a.length;
  const k = a[0]?.length ?? 0;
  if (!k) return [];
  const dec = svd(a);
  const tol = svdTolerance(dec, n, k) * 10;
  const out: Float64Array[] = [];
  for (let j = 0; j < k; j++)
    if (item(dec.s, j, 'singular values') > tol) out.push(Float64Array.from(dec.U, (row) => item(row, j, 'U')));
  return out;
}

/** The Freedman-Lane partition of design X for contrast C (see above); `blocks` say within which groups scans are exchangeable. */
export function partitionDesign(X: Matrix, C: Matrix, type: 'T' | 'F', blocks?: readonly number[]): Partition {
  const n = X.length;
  const p = item(X, 0, 'design').length;
  const XtX = matmul(transpose(X), X);
  const Xrank = orthonormalBasis(X).length;
  const df = n - Xrank;
  // effect space: X (X'X)^+ C'
  const A = matmul(matmul(X, pinv(XtX)), transpose(C));
  let E: Float64Array[];
  if (type === 'T') {
    const a = Float64Array.from(A, (row) => item(row, 0, 'effect column'));
    let norm = 0;
    for (const v of a) norm += v * v;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new VbmError('the T contrast has no effect in the design (its effect vector is zero)');
    E = [a.map((v) => v / norm)];
  } else {
    E = orthonormalBasis(A);
  }
  const N = nullSpace(C.length ? C : [new Array<number>(p).fill(0)]);
  const Z = N.length ? matmul(X, N) : [];
  const G = Z.length ? orthonormalBasis(Z) : [];
  let constNorm = 0;
  for (const g of G) {
    let s = 0;
    for (const v of g) s += v;
    constNorm += (s * s) / n;
  }
  const constantInNuisance = Math.abs(constNorm - 1) < 1e-8;
  const blockOf = blocks ?? new Array<number>(n).fill(1);
  let constantWithin = true;
  for (const e of E) {
    const first = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const b = item(blockOf, i, 'blocks');
      const ei = item(e, i, 'effect vector');
      const f = first.get(b);
      if (f === undefined) first.set(b, ei);
      else if (Math.abs(f - ei) > 1e-10) constantWithin = false;
    }
  }
  return { n, E, G, constantInNuisance, effectConstantWithinBlocks: constantWithin, df, rank: E.length };
}

/**
 * The rows that the permuted products need: E, then the nuisance basis; under permutations (not
 * sign flips) the nuisance basis is taken orthogonal to the constant when the constant is in it,
 * because 1'P R_z = 1'R_z = 0 for every permutation P: one product fewer per permutation.
 */
export function productRows(
  part: Partition,
  scheme: 'permute' | 'signflip',
): { rows: Float64Array[]; effectRows: number } {
  let G = part.G;
  if (scheme === 'permute' && part.constantInNuisance && G.length) {
    const n = part.n;
    const centred = G.map((g) => {
      let m = 0;
      for (const v of g) m += v;
      m /= n;
      return g.map((v) => v - m);
    });
    const asMatrix: Matrix = Array.from({ length: n }, (_, i) => centred.map((g) => item(g, i, 'nuisance column')));
    G = orthonormalBasis(asMatrix);
  }
  return { rows: [...part.E, ...G], effectRows: part.E.length };
}
