/**
 * Design orthogonality (SPM's Review: "Design orthogonality"): the |cosine| of the angle between
 * every two columns of the design after centring each, i.e. the absolute Pearson correlation of
 * the regressors. 0 means orthogonal (each effect estimated independently of the other); near 1,
 * the two share most of their variance and each one's estimate rests on what it does not share.
 * A constant column has no direction after centring: its entries are NaN.
 */
import type { Matrix } from './linalg.js';

/** The absolute correlation of every two design columns after centring (SPM's "design orthogonality"); NaN for a constant column. */
export function columnCorrelations(X: Matrix): Matrix {
  const n = X.length;
  const p = n ? X[0].length : 0;
  const centred: number[][] = [];
  const norms: number[] = [];
  for (let j = 0; j < p; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += X[i][j];
    m /= n;
    const c = X.map((row) => row[j] - m);
    centred.push(c);
    let scale = 0;
    for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(X[i][j]));
    const norm = Math.sqrt(c.reduce((s, v) => s + v * v, 0));
    // a column constant up to rounding has no direction
    norms.push(norm > 1e-12 * Math.max(1, scale) * Math.sqrt(n) ? norm : 0);
  }
  const out: Matrix = [];
  for (let a = 0; a < p; a++) {
    const row: number[] = [];
    for (let b = 0; b < p; b++) {
      if (!norms[a] || !norms[b]) {
        row.push(NaN);
        continue;
      }
      let d = 0;
      for (let i = 0; i < n; i++) d += centred[a][i] * centred[b][i];
      row.push(Math.min(1, Math.abs(d) / (norms[a] * norms[b])));
    }
    out.push(row);
  }
  return out;
}

/** The level above which a contrast's column is said to correlate with another one. */
export const ORTHOGONALITY_LIMIT = 0.3;

/** A contrast whose tested column correlates strongly with another column of the design, so its estimate rests on what they do not share. */
export interface OrthogonalityWarning {
  contrast: { index: number; name: string };
  column: string;
  other: string;
  cos: number;
  message: string;
}

export const ORTHOGONALITY_ADVICE =
  "the contrast then tests only the variance its column does not share with the other. CAT12's manual advises: " +
  'when TIV (or another global measure) correlates with a parameter of interest, do not use it as a covariate ' +
  '(it would remove part of the effect of interest); use global scaling (proportional scaling) with TIV instead. ' +
  'Otherwise accept the shared variance, and read the result as the effect over and above the other column';

/**
 * For each contrast, each column it weighs that correlates (|cos| > limit) with a column it does
 * not weigh. Pairs inside one contrast (e.g. two groups' columns of a difference) are its business.
 */
export function orthogonalityWarnings(
  columns: string[],
  X: Matrix,
  contrasts: { index: number; name: string; weights: number[][] }[],
  limit = ORTHOGONALITY_LIMIT,
): OrthogonalityWarning[] {
  const C = columnCorrelations(X);
  const out: OrthogonalityWarning[] = [];
  for (const c of contrasts) {
    const used = columns.map((_, j) => c.weights.some((row) => row[j] !== 0));
    for (let j = 0; j < columns.length; j++) {
      if (!used[j]) continue;
      for (let k = 0; k < columns.length; k++) {
        if (used[k] || !(C[j][k] > limit)) continue;
        out.push({
          contrast: { index: c.index, name: c.name },
          column: columns[j],
          other: columns[k],
          cos: C[j][k],
          message:
            `contrast ${c.index} '${c.name}': its column '${columns[j]}' correlates with '${columns[k]}' (|r| = ${C[j][k].toFixed(2)} > ${limit}); ` +
            ORTHOGONALITY_ADVICE,
        });
      }
    }
  }
  return out;
}
