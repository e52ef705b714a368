/**
 * Design orthogonality (SPM's Review: "Design orthogonality"): the |cosine| of the angle between
 * every two columns of the design after centring each, i.e. the absolute Pearson correlation of
 * the regressors. 0 means orthogonal (each effect estimated independently of the other); near 1,
 * the two share most of their variance and each one's estimate rests on what it does not share.
 * A constant column has no direction after centring: its entries are NaN.
 */
import { item } from '../errors.js';
import { type Matrix, entry } from './linalg.js';

/** The absolute correlation of every two design columns after centring (SPM's "design orthogonality"); NaN for a constant column. */
export function columnCorrelations(X: Matrix): Matrix {
  const n = X.length;
  const p = X[0]?.length ?? 0;
  // the centred columns in one typed array, column after column (plain loops: this runs at every
  // start and in every printed summary, where calls per entry made it hot enough for V8 to compile)
  const centred = new Float64Array(n * p);
  const norms = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += entry(X, i, j);
    m /= n;
    let scale = 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const x = entry(X, i, j);
      const c = x - m;
      centred[j * n + i] = c;
      scale = Math.max(scale, Math.abs(x));
      ss += c * c;
    }
    const norm = Math.sqrt(ss);
    // a column constant up to rounding has no direction
    norms[j] = norm > 1e-12 * Math.max(1, scale) * Math.sqrt(n) ? norm : 0;
  }
  // (typed arrays indexed within their lengths: `?? NaN` is never taken)
  const r = new Float64Array(p * p).fill(NaN);
  for (let a = 0; a < p; a++) {
    for (let b = a; b < p; b++) {
      const na = norms[a] ?? 0;
      const nb = norms[b] ?? 0;
      if (!na || !nb) continue;
      let d = 0;
      for (let i = 0, ia = a * n, ib = b * n; i < n; i++) d += (centred[ia + i] ?? NaN) * (centred[ib + i] ?? NaN);
      // the same products summed in the same order either way round
      r[a * p + b] = r[b * p + a] = Math.min(1, Math.abs(d) / (na * nb));
    }
  }
  return Array.from({ length: p }, (_, a) => Array.from(r.subarray(a * p, (a + 1) * p)));
}

/** The level above which a contrast's column is said to correlate with another one. */
export const ORTHOGONALITY_LIMIT = 0.3;

/** A contrast whose tested column correlates strongly with another column of the design, so its estimate rests on what they do not share. */
export interface OrthogonalityWarning {
  contrast: { index: number; name: string };
  /** The contrast's columns that correlate with `other` (e.g. both groups' columns of a difference). */
  columns: string[];
  other: string;
  /** |r| of each of `columns` with `other`. */
  cos: number[];
  message: string;
}

export const ORTHOGONALITY_ADVICE =
  "the contrast then tests only the variance its column does not share with the other. CAT12's manual advises: " +
  'when TIV (or another global measure) correlates with a parameter of interest, do not use it as a covariate ' +
  '(it would remove part of the effect of interest); use global scaling (proportional scaling) with TIV instead. ' +
  'Otherwise accept the shared variance, and read the result as the effect over and above the other column';

/**
 * For each contrast and each column it does not weigh: the columns it weighs that correlate with
 * it (|cos| > limit), in one warning (a two-sample difference's two group columns correlate with a
 * covariate alike; one warning says so). Pairs inside one contrast are its business.
 */
export function orthogonalityWarnings(
  columns: string[],
  X: Matrix,
  contrasts: { index: number; name: string; weights: number[][] }[],
  limit = ORTHOGONALITY_LIMIT,
  C: Matrix = columnCorrelations(X),
): OrthogonalityWarning[] {
  const out: OrthogonalityWarning[] = [];
  for (const c of contrasts) {
    const used = columns.map((_, j) => c.weights.some((row) => row[j] !== 0));
    columns.forEach((other, k) => {
      if (used[k]) return;
      const hits = columns.map((_, j) => j).filter((j) => used[j] && entry(C, j, k) > limit);
      if (!hits.length) return;
      const cos = hits.map((j) => entry(C, j, k));
      const named = hits.map((j) => item(columns, j, 'columns'));
      const which =
        hits.length === 1
          ? `its column '${named.join('')}' correlates with '${other}' (|r| = ${cos.map((v) => v.toFixed(2)).join('')} > ${limit})`
          : `its columns ${named.map((x) => `'${x}'`).join(', ')} correlate with '${other}' (|r| = ${cos.map((v) => v.toFixed(2)).join(', ')} > ${limit})`;
      out.push({
        contrast: { index: c.index, name: c.name },
        columns: named,
        other,
        cos,
        message: `contrast ${c.index} '${c.name}': ${which}; ` + ORTHOGONALITY_ADVICE,
      });
    });
  }
  return out;
}
