/**
 * Design orthogonality (SPM's Review: "Design orthogonality"): the |cosine| of the angle between
 * every two columns of the design after centring each, i.e. the absolute Pearson correlation of
 * the regressors. 0 means orthogonal (each effect estimated independently of the other); near 1,
 * the two share most of their variance and each one's estimate rests on what it does not share.
 * A constant column has no direction after centring: its entries are NaN.
 */
import { item } from '../errors.js';
import { type Matrix, entry } from './linalg.js';

export function columnCorrelations(X: Matrix): Matrix {
  const n = X.length;
  const p = X[0]?.length ?? 0;
  const centred: number[][] = [];
  const norms: number[] = [];
  for (let j = 0; j < p; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += entry(X, i, j);
    m /= n;
    const c = X.map((row) => item(row, j) - m);
    centred.push(c);
    let scale = 0;
    for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(entry(X, i, j)));
    const norm = Math.sqrt(c.reduce((s, v) => s + v * v, 0));
    // a column constant up to rounding has no direction
    norms.push(norm > 1e-12 * Math.max(1, scale) * Math.sqrt(n) ? norm : 0);
  }
  const out: Matrix = [];
  for (let a = 0; a < p; a++) {
    const row: number[] = [];
    for (let b = 0; b < p; b++) {
      const na = item(norms, a);
      const nb = item(norms, b);
      if (!na || !nb) {
        row.push(NaN);
        continue;
      }
      let d = 0;
      for (let i = 0; i < n; i++) d += entry(centred, a, i) * entry(centred, b, i);
      row.push(Math.min(1, Math.abs(d) / (na * nb)));
    }
    out.push(row);
  }
  return out;
}

/** The level above which a contrast's column is said to correlate with another one. */
export const ORTHOGONALITY_LIMIT = 0.3;

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
    columns.forEach((column, j) => {
      if (!used[j]) return;
      columns.forEach((other, k) => {
        const cos = entry(C, j, k);
        if (used[k] || !(cos > limit)) return;
        out.push({
          contrast: { index: c.index, name: c.name },
          column,
          other,
          cos,
          message:
            `contrast ${c.index} '${c.name}': its column '${column}' correlates with '${other}' (|r| = ${cos.toFixed(2)} > ${limit}); ` +
            ORTHOGONALITY_ADVICE,
        });
      });
    });
  }
  return out;
}
