import { item } from '../errors.js';
import betainc from '@stdlib/math-base-special-betainc';
import erfcinv from '@stdlib/math-base-special-erfcinv';
import gammainc from '@stdlib/math-base-special-gammainc';

/**
 * Upper tails computed directly (never as 1 - cdf), so p-values stay accurate far below
 * 1e-16: down to 1e-300 and beyond, where SPM itself reports Inf for Z.
 */
export type StatType = 'T' | 'F' | 'Z';

/** P(T > t) for Student's t with v degrees of freedom. */
export function tTail(t: number, v: number): number {
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 0;
  if (t === -Infinity) return 1;
  const x = v / (v + t * t);
  const half = 0.5 * betainc(x, v / 2, 0.5, true, false);
  return t >= 0 ? half : 1 - half;
}

/** P(F > f) for Fisher's F with (d1, d2) degrees of freedom. */
export function fTail(f: number, d1: number, d2: number): number {
  if (Number.isNaN(f)) return NaN;
  if (f <= 0) return 1;
  if (f === Infinity) return 0;
  return betainc(d2 / (d2 + d1 * f), d2 / 2, d1 / 2, true, false);
}

/** P(Z > z) for the standard normal. */
export function normalTail(z: number): number {
  if (Number.isNaN(z)) return NaN;
  // erfc via the regularized upper incomplete gamma: erfc(x) = Q(1/2, x^2) for x >= 0
  if (z >= 0) return 0.5 * gammainc((z * z) / 2, 0.5, true, true);
  return 1 - 0.5 * gammainc((z * z) / 2, 0.5, true, true);
}

/** Upper tail of the statistic: T, F or Z. */
export function statTail(stat: StatType, u: number, df: readonly number[]): number {
  switch (stat) {
    case 'T':
      return tTail(u, item(df, 1, 'df'));
    case 'F':
      return fTail(u, item(df, 0, 'df'), item(df, 1, 'df'));
    case 'Z':
      return normalTail(u);
  }
}

/** The z with P(Z > z) = p, for p in (0, 1); accurate for tiny p. */
export function zFromTail(p: number): number {
  if (!(p > 0)) return p === 0 ? Infinity : NaN;
  if (p >= 1) return -Infinity;
  if (p > 1e-300) return Math.SQRT2 * erfcinv(2 * p);
  // below the range of erfcinv's argument: solve on the log tail
  return solveDecreasing((z) => Math.log(normalTail(z)), Math.log(p), 30, 60);
}

/**
 * Invert a decreasing function f on [lo, hi] (widening hi as needed) to f(x) = target, by
 * bisection then secant steps; used for quantiles on the log scale.
 */
export function solveDecreasing(f: (x: number) => number, target: number, lo: number, hi: number): number {
  let flo = f(lo);
  let fhi = f(hi);
  let guard = 0;
  while (fhi > target && guard++ < 200) {
    lo = hi;
    flo = fhi;
    hi *= 2;
    fhi = f(hi);
  }
  guard = 0;
  while (flo < target && guard++ < 200) {
    hi = lo;
    lo = lo > 0 ? lo / 2 : lo * 2 - 1;
    flo = f(lo);
  }
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (mid === lo || mid === hi) break;
    const fm = f(mid);
    if (!Number.isFinite(fm)) {
      hi = mid;
      continue;
    }
    if (fm > target) lo = mid;
    else hi = mid;
    if (Math.abs(hi - lo) <= 1e-14 * Math.max(1, Math.abs(mid))) break;
  }
  return 0.5 * (lo + hi);
}

/** The statistic value u with P(stat > u) = p (SPM's spm_u). */
export function statFromTail(stat: StatType, p: number, df: readonly number[]): number {
  if (!(p > 0)) return Infinity;
  if (p >= 1) return stat === 'F' ? 0 : -Infinity;
  if (stat === 'Z') return zFromTail(p);
  const target = Math.log(p);
  const f = (u: number): number => Math.log(statTail(stat, u, df));
  if (stat === 'T' && p > 0.5) return -statFromTail('T', 1 - p, df);
  return solveDecreasing(f, target, stat === 'T' ? 0 : 1e-12, 10);
}

/** The equivalent Z of a statistic value (same upper-tail probability). */
export function equivalentZ(stat: StatType, u: number, df: readonly number[]): number {
  return zFromTail(statTail(stat, u, df));
}

/** P(N >= c) for N ~ Poisson(lambda): the regularized lower incomplete gamma P(c, lambda). */
export function poissonAtLeast(c: number, lambda: number): number {
  if (c <= 0) return 1;
  if (!(lambda > 0)) return 0;
  if (c === 1) return -Math.expm1(-lambda);
  return gammainc(lambda, c, true, false);
}
