import { item } from '../errors.js';
import type { StatType } from './distributions.js';
import { statFromTail, statTail } from './distributions.js';
import { pRF } from './randomField.js';

/**
 * False discovery rate, Benjamini & Hochberg (1995), in SPM12's forms: voxel-wise (spm_uc_FDR,
 * spm_P_FDR) and topological, over peaks and clusters of a random field (Chumbley & Friston
 * 2009; Chumbley et al. 2010: spm_uc_peakFDR, spm_P_peakFDR, spm_uc_clusterFDR, spm_P_clusterFDR).
 */

/** The BH critical index: the last i (1-based) with p_(i) <= i/S q, or 0. `sorted` ascending. */
export function bhIndex(sorted: readonly number[] | Float64Array, q: number): number {
  const S = sorted.length;
  for (let i = S; i >= 1; i--) if (item(sorted, i - 1) <= (i / S) * q) return i;
  return 0;
}

/**
 * q-value of an observed p (spm_P_FDR): min over j >= I of p_(j) S / j, where I is the first
 * index with p_(I) >= p; 1 when none.
 */
export function bhQ(p: number, sorted: readonly number[] | Float64Array): number {
  const S = sorted.length;
  // first index with sorted[i] >= p (binary search)
  let lo = 0;
  let hi = S;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (item(sorted, mid) >= p) hi = mid;
    else lo = mid + 1;
  }
  if (lo >= S) return 1;
  let q = Infinity;
  for (let j = S - 1; j >= lo; j--) q = Math.min(q, (item(sorted, j) * S) / (j + 1));
  return q;
}

/** Voxel-wise FDR critical height over the search volume's statistic values. */
export function voxelFdrThreshold(
  q: number,
  values: ArrayLike<number>,
  stat: StatType,
  df: readonly number[],
): { u: number; sortedP: Float64Array } {
  const p = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) p[i] = statTail(stat, item(values, i, 'values'), df);
  p.sort();
  const I = bhIndex(p, q);
  return { u: I ? statFromTail(stat, item(p, I - 1), df) : Infinity, sortedP: p };
}

/** Peak FDR: the p-value of each peak height z is E[EC](z) / E[EC](ui), the expected fraction of peaks above ui that exceed z. */
export function peakP(z: number, ui: number, df: readonly number[], stat: StatType, R: readonly number[]): number {
  return pRF(1, 0, z, df, stat, R).Ec / pRF(1, 0, ui, df, stat, R).Ec;
}

/** Peak FDR (Chumbley et al. 2010, as SPM): the height above which peaks are FDR-significant at q, and the peaks' sorted p-values. */
export function peakFdr(
  q: number,
  peakHeights: number[],
  ui: number,
  df: readonly number[],
  stat: StatType,
  R: readonly number[],
): { u: number; sortedP: number[] } {
  const ps = peakHeights.map((z) => ({ z, p: peakP(z, ui, df, stat, R) })).sort((a, b) => a.p - b.p);
  const sortedP = ps.map((x) => x.p);
  const I = bhIndex(sortedP, q);
  return { u: I ? item(ps, I - 1).z : Infinity, sortedP };
}

/** Cluster FDR and the FWE extent threshold over the clusters (sizes in voxels) at height ui. */
export function clusterFdr(
  q: number,
  sizesVox: number[],
  v2r: number,
  ui: number,
  df: readonly number[],
  stat: StatType,
  R: readonly number[],
): { k: number; kFWE: number; sortedP: number[] } {
  const rows = sizesVox.map((n) => {
    const r = pRF(1, n * v2r, ui, df, stat, R);
    return { n, p: r.p, P: r.P };
  });
  const byP = [...rows].sort((a, b) => a.p - b.p);
  const sortedP = byP.map((r) => r.p);
  const I = bhIndex(sortedP, q);
  const fwe = rows.filter((r) => r.P <= q).map((r) => r.n);
  return { k: I ? item(byP, I - 1).n : Infinity, kFWE: fwe.length ? Math.min(...fwe) : Infinity, sortedP };
}
