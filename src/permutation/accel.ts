/**
 * Accelerated permutation inference (Winkler et al. 2016, NeuroImage 141:502; Knijnenburg et al.
 * 2009, Bioinformatics 25:i161):
 *
 * - tail: the tail of a null distribution of maxima is fitted by a generalised Pareto
 *   distribution (GPD), and p-values in that tail come from the fit instead of from counting, so
 *   a few hundred permutations reach p-values that counting would need thousands for. The
 *   threshold is the lowest of the 85th, 86th, ... 98th percentiles at which the fit passes an
 *   Anderson-Darling test at the 5% level (Choulakian and Stephens 2001, parameters estimated);
 *   the parameters come from the method of moments (Hosking and Wallis 1987). Unlike PALM,
 *   bounded tails (shape > 0) are not used: they are replaced by the exponential tail (shape 0),
 *   because on null maxima from 1000 permutations the bounded fits put p at 0.001 at about half
 *   its true value on average (measured against 20,000 permutations; BENCHMARKS.md), while the
 *   exponential kept it within a factor 0.8-1.8 (and PALM's 75th percentile start did worse than
 *   the 85th). Only p-values below `pThreshold` (0.1) by counting and above the fitted threshold
 *   are replaced.
 * - gamma: the whole null distribution of maxima is approximated by a gamma (Pearson type III)
 *   distribution with the same mean, variance and skewness (unbiased sample moments of the null
 *   maxima, the observed rearrangement left out), as PALM's -accel gamma does (Winkler et al. 2016,
 *   after Mielke et al. 1981 and Minas and Montana 2014); every FWE p-value comes from its upper
 *   tail. With (near) zero skewness the normal distribution is used.
 * - stop: sequential stopping. At fixed points of the run (`stopSchedule`: the first multiple of
 *   the chunk at or above the minimum, then about 1.5 times the previous, in whole chunks), the
 *   peak of every observed map (statistic, TFCE, largest cluster: the maxima of rearrangement 0,
 *   the identity) is compared with the null maxima of the rearrangements before that point; once
 *   each peak has been exceeded so often that a binomial test puts its FWE p-value above alpha
 *   (one-sided, at 0.001), no voxel or cluster can become FWE-significant, and the run stops:
 *   every p-value is then counted over the permutations done (still exact permutation p-values,
 *   only coarser). The points depend on nothing but the number of rearrangements, so one process
 *   (any number of threads) and tasks run in waves between the points stop at the same one.
 * Pure functions: typed arrays in, numbers out.
 */
import betainc from '@stdlib/math-base-special-betainc';
import gammainc from '@stdlib/math-base-special-gammainc';
import { item } from '../errors.js';
import { normalTail } from '../inference/distributions.js';

export { type Accel, type AccelOptions, parseAccel } from './accelOptions.js';

export interface GpdFit {
  /** Threshold u: the fitted tail is x > u. */
  threshold: number;
  /** Hosking's parameterisation: survival (1 - k y / a)^(1/k), y = x - u. */
  scale: number;
  shape: number;
  /** Fraction of the null distribution above u. */
  tailFraction: number;
  /** Number of null values in the fitted tail, and the percentile the threshold was chosen at. */
  tailCount: number;
  percentile: number;
  /** Anderson-Darling statistic and its 5% critical value for this shape. */
  ad: number;
  adCritical: number;
}

/** GPD survival function (Hosking's shape k; k = 0 is the exponential). */
export function gpdSurvival(y: number, scale: number, shape: number): number {
  if (y <= 0) return 1;
  if (Math.abs(shape) < 1e-12) return Math.exp(-y / scale);
  const base = 1 - (shape * y) / scale;
  if (base <= 0) return 0;
  return Math.pow(base, 1 / shape);
}

// Choulakian and Stephens (2001), Table 2 (case 3: scale and shape estimated): 5% critical
// values of A^2 by shape k (Hosking's sign: k > 0 bounded tails).
const AD_K = [0.9, 0.5, 0.2, 0.1, 0, -0.1, -0.2, -0.3, -0.4, -0.5];
const AD_05 = [0.771, 0.83, 0.903, 0.935, 0.974, 1.02, 1.074, 1.14, 1.221, 1.321];

/** 5% critical value of the Anderson-Darling statistic for a fitted GPD of shape k (clamped to the table). */
export function adCritical05(k: number): number {
  const kk = Math.min(0.9, Math.max(-0.5, k));
  for (let i = 0; i < AD_K.length - 1; i++) {
    const hi = item(AD_K, i);
    const lo = item(AD_K, i + 1);
    if (kk <= hi && kk >= lo) {
      const t = (hi - kk) / (hi - lo);
      return item(AD_05, i) + t * (item(AD_05, i + 1) - item(AD_05, i));
    }
  }
  return item(AD_05, AD_05.length - 1);
}

/** Fit a GPD to the upper tail of `sortedAsc` (the null values, ascending); null when no fit passes. */
export function fitTail(sortedAsc: Float64Array, startPercentile = 85): GpdFit | null {
  const N = sortedAsc.length;
  for (let pct = startPercentile; pct <= 98; pct++) {
    const i0 = Math.ceil((pct / 100) * N);
    const n = N - i0;
    if (i0 < 1 || n < 10) break;
    // 1 <= i0 < N here, and every index below is in [i0, N): the `?? NaN` reads are never taken
    const u = (item(sortedAsc, i0 - 1) + item(sortedAsc, i0)) / 2;
    if (!(item(sortedAsc, i0) > u)) continue; // ties across the threshold: try the next one
    let mean = 0;
    for (let i = i0; i < N; i++) mean += (sortedAsc[i] ?? NaN) - u;
    mean /= n;
    let s2 = 0;
    for (let i = i0; i < N; i++) s2 += ((sortedAsc[i] ?? NaN) - u - mean) ** 2;
    s2 /= n - 1;
    if (!(s2 > 0 && mean > 0)) continue;
    const r = (mean * mean) / s2;
    let scale = (mean * (r + 1)) / 2;
    let shape = (r - 1) / 2;
    if (shape > 0) {
      // a bounded tail: null maxima of T, F and TFCE maps have unbounded (Gumbel-type) tails, and
      // a bounded fit from a few hundred values reports p ~ 0 beyond its end (anticonservative):
      // use the exponential tail (shape 0, scale = mean excess) instead
      shape = 0;
      scale = mean;
    }
    // Anderson-Darling on the fitted CDF at the tail values (ascending)
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const Fj = 1 - gpdSurvival((sortedAsc[i0 + j] ?? NaN) - u, scale, shape);
      const Fr = 1 - gpdSurvival((sortedAsc[N - 1 - j] ?? NaN) - u, scale, shape);
      const a = Math.log(Math.max(Fj, 1e-300));
      const b = Math.log(Math.max(1 - Fr, 1e-300));
      sum += (2 * j + 1) * (a + b);
    }
    const ad = -n - sum / n;
    const crit = adCritical05(shape);
    if (ad <= crit)
      return { threshold: u, scale, shape, tailFraction: n / N, tailCount: n, percentile: pct, ad, adCritical: crit };
  }
  return null;
}

/** Smallest p-value the tail reports (beyond a bounded tail's end the fit says 0). */
export const TAIL_P_FLOOR = 1e-16;

/**
 * p-values of `x` against the null values `sortedAsc` (ascending; the observed rearrangement
 * among them when `countsIncludeObserved`): counted, then replaced by the GPD tail where the
 * counted p-value is below pThreshold and x lies above the fitted threshold. The fit uses the
 * null values without the observed one (index `observedIndex` of the unsorted distribution is
 * passed as its value, `observedValue`, and left out once).
 */
export function tailPValues(
  nullUnsorted: Float64Array,
  observedIndex: number,
  xs: ArrayLike<number>,
  pThreshold = 0.1,
): { p: Float64Array; fit: GpdFit | null } {
  const N = nullUnsorted.length;
  const all = Float64Array.from(nullUnsorted).sort();
  const others = new Float64Array(N - 1);
  for (let i = 0, k = 0; i < N; i++) if (i !== observedIndex) others[k++] = nullUnsorted[i] ?? NaN; // i < N
  others.sort();
  const fit = fitTail(others);
  const p = new Float64Array(xs.length);
  for (let v = 0; v < xs.length; v++) {
    const x = xs[v] ?? NaN; // v < xs.length
    const counted = countAtLeast(all, x) / N;
    if (fit && counted < pThreshold && x > fit.threshold) {
      p[v] = Math.max(TAIL_P_FLOOR, fit.tailFraction * gpdSurvival(x - fit.threshold, fit.scale, fit.shape));
    } else p[v] = counted;
  }
  return { p, fit };
}

export interface GammaFit {
  /** Unbiased sample mean, standard deviation and skewness of the null values (observed left out). */
  mean: number;
  sd: number;
  skewness: number;
  count: number;
}

/** Moments of the null values for the gamma approximation; null when they have no spread. */
export function fitGamma(values: ArrayLike<number>): GammaFit | null {
  const n = values.length;
  if (n < 3) return null;
  let mean = 0;
  // i < n, the length: the `?? NaN` reads are never taken
  for (let i = 0; i < n; i++) mean += values[i] ?? NaN;
  mean /= n;
  let m2 = 0;
  let m3 = 0;
  for (let i = 0; i < n; i++) {
    const d = (values[i] ?? NaN) - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  if (!(m2 > 0)) return null;
  const sd = Math.sqrt(m2 / (n - 1));
  // sample skewness m3 / m2^1.5 (central moments over n), with the usual small-sample correction
  const g1 = m3 / n / Math.pow(m2 / n, 1.5);
  const skewness = (g1 * Math.sqrt(n * (n - 1))) / (n - 2);
  return { mean, sd, skewness, count: n };
}

/**
 * Upper tail P(X >= x) of the Pearson type III (shifted gamma) distribution with the fit's mean,
 * standard deviation and skewness g: standardised, z = (x - mean) / sd is distributed as
 * c + theta * Gamma(k) with k = 4 / g^2, theta = g / 2, c = -2 / g (mean 0, variance 1,
 * skewness g). Beyond the end of a bounded support the probability is 0 or 1.
 */
export function gammaSurvival(x: number, fit: GammaFit): number {
  const z = (x - fit.mean) / fit.sd;
  const g = fit.skewness;
  if (Math.abs(g) < 1e-6) return normalTail(z);
  const k = 4 / (g * g);
  const theta = g / 2;
  const c = -2 / g;
  const u = (z - c) / theta;
  if (g > 0) return u <= 0 ? 1 : gammainc(u, k, true, true);
  // negative skew: the support ends at z = c above; P(X >= z) = P(Gamma(k) <= u)
  return u <= 0 ? 0 : gammainc(u, k, true, false);
}

/**
 * FWE p-values of `xs` from the gamma approximation of the null values `nullUnsorted` (the
 * observed rearrangement, index `observedIndex`, left out of the moments, as tailPValues does).
 */
export function gammaPValues(
  nullUnsorted: Float64Array,
  observedIndex: number,
  xs: ArrayLike<number>,
): { p: Float64Array; fit: GammaFit | null } {
  const others: number[] = [];
  nullUnsorted.forEach((x, i) => {
    if (i !== observedIndex) others.push(x);
  });
  const fit = fitGamma(others);
  const p = new Float64Array(xs.length);
  if (!fit) {
    // no spread: count
    const all = Float64Array.from(nullUnsorted).sort();
    for (let v = 0; v < xs.length; v++) p[v] = countAtLeast(all, xs[v] ?? NaN) / all.length; // v < xs.length
    return { p, fit };
  }
  for (let v = 0; v < xs.length; v++) p[v] = Math.min(1, Math.max(TAIL_P_FLOOR, gammaSurvival(xs[v] ?? NaN, fit)));
  return { p, fit };
}

/** Number of entries of `sortedAsc` that are >= x. */
export function countAtLeast(sortedAsc: Float64Array, x: number): number {
  let lo = 0;
  let hi = sortedAsc.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sortedAsc[mid] ?? NaN) >= x)
      hi = mid; // mid < length
    else lo = mid + 1;
  }
  return sortedAsc.length - lo;
}

/**
 * The stopping rule for one peak: `exceed` of `done` null maxima (the observed one included) are
 * >= the observed peak. True when P(Binomial(done, alpha) >= exceed) < 0.001, i.e. the peak's
 * FWE p-value is above alpha beyond reasonable doubt (and at least 10 exceedances were seen).
 */
export function peakClearlyNotSignificant(exceed: number, done: number, alpha: number): boolean {
  if (exceed < 10 || done < 1) return false;
  if (exceed >= done) return true;
  // upper tail of the binomial: P(X >= c) = I_alpha(c, n - c + 1)
  return betainc(alpha, exceed, done - exceed + 1, true, false) < 0.001;
}

/** Growth of the waves between the points where the stopping rule is decided. */
export const STOP_GROWTH = 1.5;

/**
 * The numbers of rearrangements after which sequential stopping is decided, ascending, the last
 * being `total` (where the run ends anyway): the first multiple of `chunk` at or above
 * `minPermutations`, then each about STOP_GROWTH times the one before, rounded up to whole chunks.
 * Tasks run the rearrangements between two points as one wave.
 */
export function stopSchedule(total: number, chunk: number, minPermutations: number): number[] {
  const points: number[] = [];
  let at = Math.max(chunk, Math.ceil(minPermutations / chunk) * chunk);
  while (at < total) {
    points.push(at);
    at = Math.max(at + chunk, Math.ceil((at * STOP_GROWTH) / chunk) * chunk);
  }
  points.push(total);
  return points;
}

/**
 * The stopping rule at a point of the schedule: true when, for every family of null maxima given
 * (statistic, TFCE, cluster extent, cluster mass; index 0 the observed rearrangement, whose value
 * is the observed peak), the first `upTo` maxima clear the peak so often that
 * `peakClearlyNotSignificant` holds. Reads only the maxima, so the merge of tasks decides as one
 * process does.
 */
export function stopReached(families: readonly (ArrayLike<number> | null)[], upTo: number, alpha: number): boolean {
  let any = false;
  for (const maxima of families) {
    if (!maxima) continue;
    any = true;
    const peak = maxima[0] ?? NaN;
    if (!(peak === peak)) return false;
    let exceed = 0;
    for (let i = 0; i < upTo; i++) if ((maxima[i] ?? -Infinity) >= peak) exceed++;
    if (!peakClearlyNotSignificant(exceed, upTo, alpha)) return false;
  }
  return any;
}
