import lgamma from '@stdlib/math-base-special-gammaln';
import { item } from '../errors.js';
import { type StatType, poissonAtLeast, statFromTail, statTail } from './distributions.js';

/**
 * Random field theory for T, F and Z fields (Worsley et al. 1996; Friston et al. 1994), in the
 * form SPM12 uses (spm_ECdensity, spm_P_RF, spm_P, spm_uc). EC densities are per resel; the
 * 0-D density is the upper tail, computed directly. Where SPM floors densities at machine
 * epsilon (so its p-values stop near 1e-16), vbm keeps them exact.
 */
export interface RFResult {
  /** Corrected p: P(c or more clusters of k or more resels above u). */
  P: number;
  /** Uncorrected p of one cluster having k or more resels. */
  p: number;
  /** Expected number of clusters (maxima) above u. */
  Ec: number;
  /** Expected resels per cluster. */
  Ek: number;
}

const LOG2x4 = 4 * Math.log(2);

/** EC densities rho_0..rho_3 at height t (SPM's spm_ECdensity). */
export function ecDensity(stat: StatType, t: number, df: readonly number[]): [number, number, number, number] {
  if (stat === 'Z') {
    const b = Math.exp((-t * t) / 2);
    return [
      statTail('Z', t, df),
      (Math.sqrt(LOG2x4) / (2 * Math.PI)) * b,
      (LOG2x4 / (2 * Math.PI) ** 1.5) * b * t,
      (LOG2x4 ** 1.5 / (2 * Math.PI) ** 2) * b * (t * t - 1),
    ];
  }
  if (stat === 'T') {
    const v = item(df, 1, 'df');
    const b = Math.exp(lgamma((v + 1) / 2) - lgamma(v / 2));
    const c = Math.pow(1 + (t * t) / v, (1 - v) / 2);
    return [
      statTail('T', t, df),
      (Math.sqrt(LOG2x4) / (2 * Math.PI)) * c,
      ((LOG2x4 / (2 * Math.PI) ** 1.5) * c * t * b) / Math.sqrt(v / 2),
      (LOG2x4 ** 1.5 / (2 * Math.PI) ** 2) * c * (((v - 1) * t * t) / v - 1),
    ];
  }
  // F field
  const k = item(df, 0, 'df');
  const v = item(df, 1, 'df');
  const a = LOG2x4 / (2 * Math.PI);
  const b = lgamma(v / 2) + lgamma(k / 2);
  const kt = (k * t) / v;
  const tail = Math.pow(1 + kt, -0.5 * (v + k - 2));
  return [
    statTail('F', t, df),
    Math.sqrt(a) * Math.exp(lgamma((v + k - 1) / 2) - b) * Math.SQRT2 * Math.pow(kt, 0.5 * (k - 1)) * tail,
    a * Math.exp(lgamma((v + k - 2) / 2) - b) * Math.pow(kt, 0.5 * (k - 2)) * tail * ((v - 1) * kt - (k - 1)),
    a ** 1.5 *
      Math.exp(lgamma((v + k - 3) / 2) - b) *
      Math.SQRT1_2 *
      Math.pow(kt, 0.5 * (k - 3)) *
      tail *
      ((v - 1) * (v - 2) * kt * kt - (2 * v * k - v - k - 1) * kt + (k - 1) * (k - 2)),
  ];
}

/** SPM's G = sqrt(pi) / gamma(d/2), d = 1..4. */
const G = [1, 2, 3, 4].map((d) => Math.sqrt(Math.PI) / Math.exp(lgamma(d / 2)));

/**
 * spm_P_RF(c, k, u, df, STAT, R, n=1): probability of c or more clusters with k or more resels
 * above u in a search volume of resel counts R.
 */
export function pRF(
  c: number,
  k: number,
  u: number,
  df: readonly number[],
  stat: StatType,
  R: readonly number[],
): RFResult {
  let D = 0;
  for (let i = 0; i < R.length; i++) if (R[i] !== 0) D = i + 1;
  if (D === 0) return { P: 0, p: 1, Ec: 0, Ek: 0 };
  const ec = ecDensity(stat, u, df)
    .slice(0, D)
    .map((e) => Math.max(e, Number.MIN_VALUE));
  // for a single SPM (n = 1): P = EC .* G, EM = R ./ G .* P = R .* EC
  const EM = ec.map((e, d) => item(R, d, 'resels') * e);
  const Ec = EM.reduce((s, x) => s + x, 0);
  const EN = item(ec, 0) * item(G, 0) * item(R, D - 1, 'resels');
  const Ek = EN / item(EM, D - 1);
  let p = 1;
  const Dm = D - 1;
  if (k > 0 && Dm > 0) {
    const beta = Math.pow(Math.exp(lgamma(Dm / 2 + 1)) / Ek, 2 / Dm);
    p = Math.exp(-beta * Math.pow(k, 2 / Dm));
  }
  return { P: poissonAtLeast(c, Ec * p), p, Ec, Ek };
}

/** spm_P: the RF p-value, for peaks (c = 1, k = 0) the smaller of it and Bonferroni over S voxels. */
export function pCorrected(
  c: number,
  k: number,
  u: number,
  df: readonly number[],
  stat: StatType,
  R: readonly number[],
  S?: number,
): RFResult {
  const r = pRF(c, k, u, df, stat, R);
  const isOne = R.length === 1 && R[0] === 1;
  if (S !== undefined && c === 1 && k === 0 && !isOne) r.P = Math.min(r.P, Math.min(1, S * statTail(stat, u, df)));
  return r;
}

/** SPM's uncorrected p of a height (spm_P with R = 1): 1 - exp(-tail). */
export function pUncorrected(u: number, df: readonly number[], stat: StatType): number {
  return -Math.expm1(-statTail(stat, u, df));
}

/** spm_uc: FWE-corrected critical height at level alpha, the smaller of the RF and Bonferroni thresholds. */
export function fweThreshold(
  alpha: number,
  df: readonly number[],
  stat: StatType,
  R: readonly number[],
  S?: number,
): number {
  const f = (u: number): number => Math.log(pRF(1, 0, u, df, stat, R).P);
  const start = statFromTail(stat, alpha / Math.max(...R), df);
  const floor = stat === 'F' ? 1e-9 : -50;
  let hi = start + 10;
  // bracket the largest root (the one SPM's Newton iteration from the same start finds), then
  // bisect on log P, which decreases in u above it. Walking down from the start in small steps
  // matters when the Euler characteristic R0 is negative (a mask full of holes): there P(u) is
  // not monotone, and is even negative, at low u.
  const target = Math.log(alpha);
  while (f(hi) > target) hi *= 2;
  let lo = Math.max(floor, Math.min(start, hi));
  while (!(f(lo) > target) && lo > floor) lo = Math.max(floor, lo - 0.25);
  for (let i = 0; i < 200; i++) {
    const mid = 0.5 * (lo + hi);
    if (f(mid) > target) lo = mid;
    else hi = mid;
    if (hi - lo < 1e-12 * Math.max(1, Math.abs(mid))) break;
  }
  let u = 0.5 * (lo + hi);
  if (S !== undefined) u = Math.min(u, statFromTail(stat, alpha / S, df));
  return u;
}
