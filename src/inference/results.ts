import { defaultOf } from '../settings/setting.js';
import { RESULTS } from '../settings/vocabulary.js';
import { VbmError, item } from '../errors.js';
import { type Affine, applyAffine, voxelSizes } from '../io/nifti/affine.js';
import { type StatType, statFromTail, statTail, zFromTail } from './distributions.js';
import { labelClusters, localMaxima } from './clusters.js';
import { bhQ, clusterFdr, peakFdr, peakP, voxelFdrThreshold } from './fdr.js';
import { fweThreshold, pCorrected, pUncorrected } from './randomField.js';

/** Height correction: none (uncorrected), fwe (random-field family-wise error) or fdr (SPM's voxel-wise FDR). */
export type Correction = 'none' | 'fwe' | 'fdr';

/** Thresholds of SPM's results table: height threshold and its correction, extent, peaks per cluster and their distance. */
export interface ResultsOptions {
  /** Height threshold: a p-value (<= 1) or, with correction 'none', a statistic value (> 1). */
  threshold: number;
  correction: Correction;
  /** Extent threshold in voxels. */
  extent: number;
  /** Local maxima listed per cluster (`--peaks`, `results: peaks`; SPM: 3). */
  peaks?: number;
  /** Minimum distance between listed maxima of a cluster, mm (`--peak-distance`; SPM: 8). */
  peakDistance?: number;
  /** Level of the FWE/FDR critical heights and extents in the footer (SPM: 0.05). */
  alpha?: number;
}

/** What SPM needs to know of the search volume. */
export interface SearchVolume {
  dims: [number, number, number];
  affine: Affine;
  /** Analysis mask on the grid. */
  mask: ArrayLike<number>;
  /** Resel counts [R0 R1 R2 R3]. */
  R: number[];
  /** Voxels in the search volume. */
  S: number;
  fwhmVox: [number, number, number];
}

export interface PeakRow {
  cluster: number;
  /** Whether this row opens its cluster (carries the cluster-level columns). */
  first: boolean;
  clusterK: number;
  clusterPFWE: number;
  clusterQFDR: number;
  clusterPUnc: number;
  stat: number;
  z: number;
  peakPFWE: number;
  peakQFDR: number;
  peakPUnc: number;
  /** Voxel-wise FDR q of the peak. */
  peakQFDRVoxel: number;
  mm: [number, number, number];
  voxel: [number, number, number];
}

/** SPM's results table of one contrast: set-, cluster- and peak-level p-values (random field, FDR, uncorrected) with coordinates in mm, and the footer. */
export interface ResultsTable {
  stat: StatType;
  df: [number, number];
  /** Height threshold (statistic) and its p-values. */
  height: { u: number; pUnc: number; pFWE: number; correction: Correction; threshold: number };
  extent: { k: number; pUnc: number; pFWE: number };
  set: { p: number; c: number };
  expectedVoxelsPerCluster: number;
  expectedClusters: number;
  /** SPM's footer line: FWE and FDR critical heights and extents at alpha. */
  critical: { alpha: number; FWEp: number; FDRp: number; FWEc: number; FDRc: number };
  fwhmVox: number[];
  fwhmMm: number[];
  volume: { mm3: number; voxels: number; resels: number };
  voxelSizeMm: number[];
  reselSizeVox: number;
  R: number[];
  rows: PeakRow[];
  /** Number of voxels above the height and extent thresholds. */
  suprathreshold: number;
  /** Grid mask of the voxels that survive both thresholds. */
  survivors: Uint8Array;
  /** Grid map of the table's cluster numbers (1 = first cluster listed), 0 elsewhere. */
  clusterIndex: Int32Array;
}

/**
 * SPM's results for one statistic map (spm_getSPM + spm_list): height and extent thresholds,
 * clusters and up to `peaks` maxima each, with FWE (random field), FDR (topological
 * and voxel-wise) and uncorrected p-values, set-level inference and the footer facts.
 */
export function computeResults(
  stat: ArrayLike<number>,
  statType: StatType,
  df: [number, number],
  vol: SearchVolume,
  o: ResultsOptions,
): ResultsTable {
  const { dims, affine, mask, R, S } = vol;
  const nv = dims[0] * dims[1] * dims[2];
  const alpha = o.alpha ?? 0.05;
  const peaks = o.peaks ?? defaultOf(RESULTS.peaks);
  const peakDistance = o.peakDistance ?? defaultOf(RESULTS.peakDistance);
  if (!(o.threshold > 0))
    throw new VbmError(
      `threshold ${o.threshold} must be positive`,
      'give a p-value such as 0.001, or (uncorrected only) a statistic value such as 3.1',
    );
  if (o.correction !== 'none' && o.threshold >= 1) {
    throw new VbmError(
      `threshold ${o.threshold} is not a p-value; ${o.correction.toUpperCase()} correction needs a level below 1`,
      'e.g. --correction fwe --threshold 0.05',
    );
  }
  if (!(o.extent >= 0) || !Number.isInteger(o.extent))
    throw new VbmError(`extent ${o.extent} must be a whole number of voxels (>= 0)`);
  // mask and statistic hold one value per voxel of the grid
  const statAt = (i: number): number => item(stat, i, 'statistic');
  const inMask: number[] = [];
  for (let i = 0; i < nv; i++) if (item(mask, i, 'mask') > 0) inMask.push(i);
  const maskValues = Float64Array.from(inMask, statAt);
  const fwhm = vol.fwhmVox;
  const V2R = 1 / (fwhm[0] * fwhm[1] * fwhm[2]);
  // height threshold
  const vfdr = voxelFdrThreshold(o.threshold < 1 ? o.threshold : alpha, maskValues, statType, df);
  let u: number;
  if (o.correction === 'fwe') u = fweThreshold(o.threshold, df, statType, R, S);
  else if (o.correction === 'fdr') u = vfdr.u;
  else u = o.threshold <= 1 ? statFromTail(statType, o.threshold, df) : o.threshold;
  // voxels above u, their clusters, and the extent threshold
  const above = new Uint8Array(nv);
  for (const i of inMask) if (statAt(i) > u) above[i] = 1;
  const all = labelClusters(above, dims, 18);
  const survivors = new Uint8Array(nv);
  let suprathreshold = 0;
  for (let i = 0; i < nv; i++) {
    const l = all.label[i];
    if (l && item(all.sizes, l - 1, 'cluster sizes') >= o.extent) {
      survivors[i] = 1;
      suprathreshold++;
    }
  }
  // topological FDR at the height threshold (peaks and clusters of the whole excursion set)
  const atOrAbove = new Uint8Array(nv);
  for (const i of inMask) if (statAt(i) >= u) atOrAbove[i] = 1;
  const allPeaks = localMaxima(stat, atOrAbove, dims, 18).map(statAt);
  const pf = Number.isFinite(u) ? peakFdr(alpha, allPeaks, u, df, statType, R) : { u: Infinity, sortedP: [] };
  const cf = Number.isFinite(u)
    ? clusterFdr(alpha, labelClusters(atOrAbove, dims, 18).sizes, V2R, u, df, statType, R)
    : { k: Infinity, kFWE: Infinity, sortedP: [] };
  const FWEp = fweThreshold(alpha, df, statType, R, S);
  // footer
  const kRes = o.extent * V2R;
  const ext = pCorrected(1, kRes, u, df, statType, R, S);
  const height = {
    u,
    pUnc: pUncorrected(u, df, statType),
    pFWE: pCorrected(1, 0, u, df, statType, R, S).P,
    correction: o.correction,
    threshold: o.threshold,
  };
  // clusters that survive, and their maxima
  const surv = labelClusters(survivors, dims, 18);
  const c = surv.count;
  const set = { p: c > 0 ? pCorrected(c, kRes, u, df, statType, R, S).P : NaN, c };
  const maxima = localMaxima(stat, survivors, dims, 18);
  const vs = voxelSizes(affine);
  const mmOf = (i: number): [number, number, number] => {
    const x = i % dims[0];
    const y = ((i - x) / dims[0]) % dims[1];
    const z = (i - x - y * dims[0]) / (dims[0] * dims[1]);
    return applyAffine(affine, x, y, z);
  };
  const voxOf = (i: number): [number, number, number] => {
    const x = i % dims[0];
    const y = ((i - x) / dims[0]) % dims[1];
    return [x, y, (i - x - y * dims[0]) / (dims[0] * dims[1])];
  };
  const peakStats = (
    i: number,
  ): Omit<PeakRow, 'cluster' | 'first' | 'clusterK' | 'clusterPFWE' | 'clusterQFDR' | 'clusterPUnc'> => {
    const U = statAt(i);
    const pz = pUncorrected(U, df, statType);
    return {
      stat: U,
      z: zFromTail(pz),
      peakPFWE: pCorrected(1, 0, U, df, statType, R, S).P,
      peakQFDR: bhQ(peakP(U, u, df, statType, R), pf.sortedP),
      peakPUnc: pz,
      peakQFDRVoxel: bhQ(statTail(statType, U, df), vfdr.sortedP),
      mm: mmOf(i),
      voxel: voxOf(i),
    };
  };
  // SPM's listing: the highest remaining maximum opens a cluster; then that cluster's other
  // maxima in descending order, each more than peakDistance mm from all listed ones, up to peaks (SPM's Dis and Num)
  const byCluster = new Map<number, number[]>();
  for (const i of maxima) {
    const l = item(surv.label, i, 'cluster labels');
    byCluster.set(l, [...(byCluster.get(l) ?? []), i]);
  }
  // ties (plateaus) are broken in world space (x, then y, then z), so the listing does not
  // depend on how the image is stored (LAS or RAS)
  const byMm = (a: number, b: number): number => {
    const ma = mmOf(a);
    const mb = mmOf(b);
    return ma[0] - mb[0] || ma[1] - mb[1] || ma[2] - mb[2];
  };
  // each cluster's maxima, highest first: a cluster in byCluster has at least one
  const order = [...byCluster.entries()]
    .map(([l, idx]) => {
      const sorted = idx.sort((a, b) => statAt(b) - statAt(a) || byMm(a, b));
      return { l, idx: sorted, top: item(sorted, 0, 'maxima') };
    })
    .sort((a, b) => statAt(b.top) - statAt(a.top) || byMm(a.top, b.top));
  const rows: PeakRow[] = [];
  const renumber = new Int32Array(surv.count + 1);
  order.forEach(({ l }, ci) => (renumber[l] = ci + 1));
  const clusterIndex = new Int32Array(nv);
  surv.label.forEach((l, i) => {
    if (l) clusterIndex[i] = item(renumber, l, 'cluster numbers');
  });
  order.forEach(({ l, idx, top }, ci) => {
    const N = item(surv.sizes, l - 1, 'cluster sizes');
    const K = N * V2R;
    const cr = pCorrected(1, K, u, df, statType, R, S);
    const cluster = { clusterK: N, clusterPFWE: cr.P, clusterQFDR: bhQ(cr.p, cf.sortedP), clusterPUnc: cr.p };
    const listed: number[] = [top];
    rows.push({ cluster: ci + 1, first: true, ...cluster, ...peakStats(top) });
    for (const d of idx.slice(1)) {
      if (listed.length >= peaks) break;
      const md = mmOf(d);
      const far = listed.every((j) => {
        const mj = mmOf(j);
        return Math.hypot(mj[0] - md[0], mj[1] - md[1], mj[2] - md[2]) > peakDistance;
      });
      if (far) {
        listed.push(d);
        rows.push({ cluster: ci + 1, first: false, ...cluster, ...peakStats(d) });
      }
    }
  });
  return {
    stat: statType,
    df,
    height,
    extent: { k: o.extent, pUnc: ext.p, pFWE: ext.P },
    set,
    expectedVoxelsPerCluster: ext.Ek / V2R,
    expectedClusters: ext.Ec * ext.p,
    critical: { alpha, FWEp, FDRp: pf.u, FWEc: cf.kFWE, FDRc: cf.k },
    fwhmVox: [...fwhm],
    fwhmMm: fwhm.map((f, i) => f * item(vs, i)),
    volume: { mm3: S * vs[0] * vs[1] * vs[2], voxels: S, resels: item(R, 3, 'resels') },
    voxelSizeMm: vs,
    reselSizeVox: 1 / V2R,
    R: [...R],
    rows,
    suprathreshold,
    survivors,
    clusterIndex,
  };
}
