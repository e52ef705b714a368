/**
 * Effect sizes from a contrast's statistic (CAT12's "Transform SPM-maps"), voxel by voxel:
 *  - r, the partial correlation of a T contrast: r = T / sqrt(T^2 + df);
 *  - partial R^2 of an F contrast: R^2 = F df1 / (F df1 + df2) (r^2 for one column);
 *  - Cohen's d of a two-group T contrast: the (covariate-adjusted) difference of the two groups'
 *    means over the residual SD, d = s c'b / sigma = s T sqrt(c' pinv(X'X) c). For two groups
 *    and no other covariate this is the pooled-SD d = T sqrt(1/n1 + 1/n2). (CAT12 uses 2T/sqrt(df),
 *    the same for equal groups.) s turns the contrast into one group difference: see twoGroupContrast;
 *  - signed -log10 p of a T: -log10 of the upper tail for T >= 0, +log10 of the lower tail for
 *    T < 0 (as CAT12), so the sign says the direction; for F, -log10 p.
 */
import { item } from '../errors.js';
import { type Matrix, entry, matmul, pinv, transpose } from '../model/linalg.js';
import { tTail } from './distributions.js';

/** Partial correlation r from a T statistic and its degrees of freedom: t / sqrt(t^2 + df). */
export function partialR(t: number, df: number): number {
  return t / Math.sqrt(t * t + df);
}

/** Partial R^2 (variance explained) from an F statistic: F df1 / (F df1 + df2). */
export function partialR2(f: number, df1: number, df2: number): number {
  return (f * df1) / (f * df1 + df2);
}

/** Signed -log10 p of a T statistic: positive for positive effects, negative for negative ones. */
export function signedLogP(t: number, df: number): number {
  return t >= 0 ? -Math.log10(tTail(t, df)) : Math.log10(tTail(-t, df));
}

export type TwoGroup =
  | {
      twoGroup: true;
      /** d = factor * T. */ factor: number;
      groups: [string, string];
      n: [number, number];
      description: string;
    }
  | { twoGroup: false; reason: string };

function distinct(col: number[]): number[] {
  return [...new Set(col)].sort((a, b) => a - b);
}

/**
 * Whether a T contrast compares two groups, and the factor that turns its T into Cohen's d.
 * Two designs are recognised:
 *  - +a on one group's indicator column and -a on another's (columns of 0/1 with no scan in
 *    both), e.g. group[AD] - group[HC]: c'b / a is the difference of the groups' means;
 *  - a weight on one column that takes exactly two values v0 < v1 (a 0/1 or 1/2 covariate coding
 *    two groups): its slope times (v1 - v0) is the difference of the groups' means.
 * Any other T contrast (a continuous covariate, a sum, unequal weights) has no d: use r.
 */
export function twoGroupContrast(X: Matrix, columns: string[], weights: number[]): TwoGroup {
  const used = weights.map((w, j) => [w, j] as const).filter(([w]) => w !== 0);
  const colOf = (j: number): number[] => X.map((row) => item(row, j, 'design row'));
  const Bcov = pinv(matmul(transpose(X), X));
  let cBc = 0;
  for (let a = 0; a < weights.length; a++)
    for (let b = 0; b < weights.length; b++) cBc += item(weights, a) * entry(Bcov, a, b) * item(weights, b);
  const [first, second] = used;
  const column = (j: number): string => item(columns, j, 'columns');
  if (used.length === 2 && first && second) {
    const [wa, ja] = first;
    const [wb, jb] = second;
    const ca = colOf(ja);
    const cb = colOf(jb);
    const indicator = (c: number[]): boolean => c.every((v) => v === 0 || v === 1) && c.includes(0) && c.includes(1);
    if (wa === -wb && indicator(ca) && indicator(cb) && !ca.some((v, i) => v === 1 && cb[i] === 1)) {
      const [pos, neg] = wa > 0 ? [ja, jb] : [jb, ja];
      const n: [number, number] = [colOf(pos).filter((v) => v === 1).length, colOf(neg).filter((v) => v === 1).length];
      return {
        twoGroup: true,
        factor: Math.sqrt(cBc) / Math.abs(wa),
        groups: [column(pos), column(neg)],
        n,
        description: `d = (mean of ${columns[pos]} - mean of ${columns[neg]}) / residual SD`,
      };
    }
  }
  if (used.length === 1 && first) {
    const [w, j] = first;
    const v = distinct(colOf(j));
    const [v0, v1] = v;
    if (v.length === 2 && v0 !== undefined && v1 !== undefined) {
      const step = v1 - v0;
      const c = colOf(j);
      const n: [number, number] =
        w > 0
          ? [c.filter((x) => x === v1).length, c.filter((x) => x === v0).length]
          : [c.filter((x) => x === v0).length, c.filter((x) => x === v1).length];
      const hi = `${column(j)} (higher value)`;
      const lo = `${column(j)} (lower value)`;
      return {
        twoGroup: true,
        factor: (Math.sqrt(cBc) * step) / Math.abs(w),
        groups: w > 0 ? [hi, lo] : [lo, hi],
        n,
        description: `d = difference of the two groups coded by '${column(j)}' / residual SD`,
      };
    }
  }
  return {
    twoGroup: false,
    reason:
      used.length === 1 && first
        ? `its column '${column(first[1])}' takes ${distinct(colOf(first[1])).length} values, not two groups; use r (partial correlation) instead`
        : 'it is not a difference between two groups (+1/-1 on two 0/1 group columns, or one column with two values); use r (partial correlation) instead',
  };
}
