/**
 * Uncorrected p-values below the counting floor (accel tail and gamma): a generalised Pareto tail
 * fitted to each voxel's own permutation distribution, as PALM's -accel tail does per voxel
 * (Winkler et al. 2016, NeuroImage 141:502) and as Gaser's TFCE toolbox does for its uncorrected
 * p-values.
 *
 * - Memory is bounded: PALM keeps every voxel's null values (voxels x permutations). Only a
 *   voxel's largest values enter its tail fit, so vbm keeps, per voxel and map (statistic, TFCE),
 *   the TAIL_KEEP largest values of the rearrangements done in a min-heap (`TopValues`: 4 bytes
 *   x TAIL_KEEP per voxel, 400 bytes; 247 MB per map for 617k voxels), whatever the number of
 *   permutations or scans. The top values of the union of shares are the top values of their top
 *   values, so blocks, threads and tasks merge exactly, in any order.
 * - Counted where counting is precise: a voxel whose observed value was reached by at least
 *   TAIL_COUNTED_FROM (25) rearrangements keeps its count (relative standard error 20% or less);
 *   only the others are fitted (Gaser's rule).
 * - The fit: the identity's value is left out (as for the FWE tail); for tail sizes m = 20, 30, ...
 *   (up to TAIL_KEEP - 10 and 15% of the null draws) the threshold u lies between the m-th and
 *   (m+1)-th largest value. The shape is the heavier of two probability-weighted-moment estimates
 *   (Hosking and Wallis 1987): the voxel's own, and one pooled across voxels (the median over up to
 *   2000 voxels spread evenly over the mask: every voxel carries the same statistic under the same
 *   design, Gaser's argument for pooling); a bounded shape (> 0) becomes the exponential tail, as
 *   for the FWE tail (accel.ts), because a too-light tail is what makes p too small. The scale
 *   follows from the mean excess; p = (m / draws) x survival(x - u). The median of p over the tail
 *   sizes whose fit holds (Anderson-Darling A^2 < 5: a guard against fits gone wrong, not a test)
 *   is used: on graded planted data it was both less biased and less scattered than the single
 *   best-A^2 fit, and than the pooled shape alone (BENCHMARKS.md). A voxel with no such fit, or
 *   whose observed value lies below every threshold, is counted.
 * Pure: typed arrays in, p-values out.
 */
import { gpdSurvival, TAIL_P_FLOOR } from './accel.js';

/** Largest null values kept per voxel and map for the uncorrected tail. */
export const TAIL_KEEP = 100;
/** Bytes of the kept values of V voxels: TAIL_KEEP float32 per voxel for the statistic, and as many for TFCE. */
export function tailKeepBytes(V: number, tfce: boolean): number {
  return V * TAIL_KEEP * 4 * (tfce ? 2 : 1);
}

/** Whether a memory budget keeps the tail: its values may take at most a quarter of it (else p-values are counted). */
export function tailFitsBudget(tailBytes: number, budget: number | undefined): boolean {
  return budget === undefined || tailBytes <= budget / 4;
}

/** Voxels reached at least this often are counted, not fitted. */
export const TAIL_COUNTED_FROM = 25;
/** Largest A^2 of a fit that is used. */
const AD_LIMIT = 5;
/** Voxels the shape is pooled over, at most. */
const SHAPE_SAMPLE = 2000;

/**
 * The `keep` largest values seen at each of V voxels: voxel v's slots are values[v * keep ...
 * (v + 1) * keep): the kept values first, a min-heap (slot 0 the smallest kept), then -Infinity in
 * the empty slots (offerMany). A batch's own
 * values (all of them, keep = the batch's rearrangements) are a TopValues too, not a heap.
 */
export interface TopValues {
  keep: number;
  values: Float32Array;
}

/** An empty reservoir of `keep` values per voxel. */
export function topValues(V: number, keep: number): TopValues {
  return { keep, values: new Float32Array(V * keep).fill(-Infinity) };
}

/**
 * Offer values to the heap of `keep` slots at `base`: vals[at + off[j]] for j < n (NaN and -Infinity
 * are ignored). The kept values fill the slots from the start as a min-heap of their own (slot 0
 * their smallest), the empty slots after them are -Infinity: while there is room a value is added at
 * the end and sifted up (a step or two for values in random order, where sifting down from the root
 * through the empty slots took ~log2(keep)); once full, a value above the root replaces it and is
 * sifted down.
 */
export function offerMany(
  h: Float32Array,
  base: number,
  keep: number,
  vals: Float32Array,
  at: number,
  off: Int32Array,
  n: number,
): void {
  let j = 0;
  if (!((h[base + keep - 1] ?? NaN) > -Infinity)) {
    // room left: the first empty slot (the filled ones come first)
    let lo = 0;
    let hi = keep - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((h[base + mid] ?? NaN) > -Infinity) lo = mid + 1;
      else hi = mid;
    }
    let k = lo;
    for (; j < n && k < keep; j++) {
      const x = vals[at + (off[j] ?? 0)] ?? NaN;
      if (!(x > -Infinity)) continue;
      let i = k++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        const hp = h[base + p] ?? NaN;
        if (!(hp > x)) break;
        h[base + i] = hp;
        i = p;
      }
      h[base + i] = x;
    }
  }
  for (; j < n; j++) {
    const x = vals[at + (off[j] ?? 0)] ?? NaN;
    if (!(x > (h[base] ?? Infinity))) continue;
    // sift down from the root, the new value replacing the smallest
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= keep) break;
      const r = l + 1;
      let c = l;
      if (r < keep && (h[base + r] ?? NaN) < (h[base + l] ?? NaN)) c = r;
      const hc = h[base + c] ?? NaN;
      if (!(hc < x)) break;
      h[base + i] = hc;
      i = c;
    }
    h[base + i] = x;
  }
}

/** Add every value of `from` (a batch's values or another reservoir) to the reservoir `into`. */
export function mergeTop(into: TopValues, from: TopValues): void {
  const V = into.values.length / into.keep;
  const k = into.keep;
  const fk = from.keep;
  const h = into.values;
  const f = from.values;
  if (f.length !== V * fk) throw new Error(`mergeTop: ${f.length} values for ${V} voxels x ${fk}`);
  const off = Int32Array.from({ length: fk }, (_, j) => j);
  for (let v = 0; v < V; v++) offerMany(h, v * k, k, f, v * fk, off, fk);
}

/** Voxel v's kept values, largest first, without one instance of `leaveOut` (the observed value). */
function sortedTail(top: TopValues, v: number, leaveOut: number, out: Float64Array): number {
  let n = 0;
  const k = top.keep;
  for (let j = v * k; j < (v + 1) * k; j++) {
    const x = top.values[j] ?? NaN;
    if (x > -Infinity) out[n++] = x;
  }
  const s = out.subarray(0, n).sort().reverse();
  const at = s.indexOf(leaveOut);
  if (at < 0) return n;
  s.copyWithin(at, at + 1);
  return n - 1;
}

/** Hosking and Wallis's probability-weighted-moment shape of exceedances y (ascending); NaN when degenerate. */
function pwmShape(yAsc: Float64Array, m: number): number {
  let a0 = 0;
  let a1 = 0;
  for (let j = 0; j < m; j++) {
    const y = yAsc[j] ?? NaN;
    a0 += y;
    a1 += (y * (m - 1 - j)) / (m - 1);
  }
  a0 /= m;
  a1 /= m;
  const d = a0 - 2 * a1;
  return d > 0 ? a0 / d - 2 : NaN;
}

/** Anderson-Darling A^2 of exceedances y (ascending) against the GPD of that scale and shape. */
function andersonDarling(yAsc: Float64Array, m: number, scale: number, shape: number): number {
  let sum = 0;
  for (let j = 0; j < m; j++) {
    const F = 1 - gpdSurvival(yAsc[j] ?? NaN, scale, shape);
    const Fr = 1 - gpdSurvival(yAsc[m - 1 - j] ?? NaN, scale, shape);
    sum +=
      (2 * j + 1) *
      (Math.log(Math.min(Math.max(F, 1e-12), 1 - 1e-12)) + Math.log(1 - Math.min(Math.max(Fr, 1e-12), 1 - 1e-12)));
  }
  return -m - sum / m;
}

/** A fitted shape as used: bounded tails (k > 0) and undefined fits become the exponential (0); at most 0.5 heavy. */
function unbounded(k: number): number {
  return Number.isFinite(k) && k < 0 ? Math.max(k, -0.5) : 0;
}

/** What the uncorrected tail did to one map. */
export interface VoxelTailReport {
  /** Values kept per voxel, voxels counted below TAIL_COUNTED_FROM exceedances and above, voxels fitted. */
  keep: number;
  countedFrom: number;
  fitted: number;
  /** The pooled shape per tail size tried (Hosking's sign; > 0 replaced by 0 in the fit). */
  shapes: { tailSize: number; shape: number }[];
}

/** The tail sizes tried for `draws` null draws with `keep` values kept. */
export function tailSizes(draws: number, keep: number): number[] {
  const out: number[] = [];
  for (let m = 20; m <= keep - 10 && m <= 0.15 * draws; m += 10) out.push(m);
  return out;
}

/**
 * Uncorrected p-values of the `observed` map: counted (counts over `done` rearrangements, the
 * identity included) where a voxel was reached at least TAIL_COUNTED_FROM times, else from its
 * generalised Pareto tail (see the module's comment). Null when too few rearrangements were done
 * for any tail size (fewer than about 134): then every p-value is counted.
 */
export function voxelTailPValues(
  top: TopValues,
  observed: ArrayLike<number>,
  counts: ArrayLike<number>,
  done: number,
): { p: Float64Array; report: VoxelTailReport } | null {
  const V = observed.length;
  const draws = done - 1;
  const sizes = tailSizes(draws, top.keep);
  if (!sizes.length) return null;
  const buf = new Float64Array(top.keep);
  const y = new Float64Array(top.keep);
  // the shape per tail size, pooled over voxels spread evenly across the whole mask
  const nSample = Math.min(SHAPE_SAMPLE, V);
  const perSize = sizes.map(() => [] as number[]);
  for (let s = 0; s < nSample; s++) {
    const v = nSample > 1 ? Math.round((s * (V - 1)) / (nSample - 1)) : 0;
    const n = sortedTail(top, v, observed[v] ?? NaN, buf);
    sizes.forEach((m, i) => {
      if (n < m + 1) return;
      const u = ((buf[m - 1] ?? NaN) + (buf[m] ?? NaN)) / 2;
      for (let j = 0; j < m; j++) y[j] = (buf[m - 1 - j] ?? NaN) - u;
      const k = pwmShape(y, m);
      if (Number.isFinite(k)) perSize[i]?.push(k);
    });
  }
  const shapes = sizes.map((m, i) => {
    const ks = (perSize[i] ?? []).sort((a, b) => a - b);
    const med = ks.length ? ((ks[(ks.length - 1) >> 1] ?? NaN) + (ks[ks.length >> 1] ?? NaN)) / 2 : NaN;
    return { tailSize: m, shape: med };
  });
  const p = new Float64Array(V);
  let fitted = 0;
  for (let v = 0; v < V; v++) {
    const c = counts[v] ?? NaN;
    const x = observed[v] ?? NaN;
    p[v] = c / done;
    if (!(c < TAIL_COUNTED_FROM) || !Number.isFinite(x)) continue;
    const n = sortedTail(top, v, x, buf);
    // p from every tail size whose fit holds, with the heavier of the pooled and the voxel's own
    // shape (bounded shapes replaced by the exponential); the median of them is used
    const ps: number[] = [];
    for (const { tailSize: m, shape: pooled } of shapes) {
      if (n < m + 1) continue;
      const u = ((buf[m - 1] ?? NaN) + (buf[m] ?? NaN)) / 2;
      if (!(x >= u)) continue;
      let mean = 0;
      for (let j = 0; j < m; j++) {
        y[j] = (buf[m - 1 - j] ?? NaN) - u;
        mean += y[j] ?? NaN;
      }
      mean /= m;
      const k = Math.min(unbounded(pwmShape(y, m)), unbounded(pooled));
      const scale = mean * (1 + k);
      if (!(scale > 0) || !(andersonDarling(y, m, scale, k) < AD_LIMIT)) continue;
      ps.push((m / draws) * gpdSurvival(x - u, scale, k));
    }
    ps.sort((a, b) => a - b);
    const bestP = ps.length ? ((ps[(ps.length - 1) >> 1] ?? NaN) + (ps[ps.length >> 1] ?? NaN)) / 2 : NaN;
    if (bestP === bestP) {
      p[v] = Math.min(1, Math.max(TAIL_P_FLOOR, bestP));
      fitted++;
    }
  }
  return { p, report: { keep: top.keep, countedFrom: TAIL_COUNTED_FROM, fitted, shapes } };
}
