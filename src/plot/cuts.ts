/**
 * Where to cut a row of slices so the picture shows the result (what nilearn's find_cut_slices
 * aims at): first through the clusters, strongest first (the order of SPM's table: by peak
 * height), each at its peak's plane or the nearest plane of the cluster that keeps the spacing;
 * a cluster already crossed by a cut is not cut again. The remaining cuts fill the range, each
 * as far as possible from the cuts already placed. No two cuts are closer than `minSeparationMm`
 * (the smoothness FWHM: closer cuts show the same blob twice), so fewer cuts than asked may be
 * drawn when the range is short. Everything is in world mm along the cut axis; planes are voxel
 * centres of the statistic grid, so a cut through a cluster's plane always shows its voxels.
 */
import { item } from '../errors.js';
import { affineRows, applyAffine } from '../io/nifti/affine.js';
import { type Volume, grid3 } from '../io/nifti/volume.js';
import { labelClusters } from '../inference/clusters.js';
import { type StatScale, isShown } from './colours.js';
import { AXIS_INDEX, type CutAxis } from './views.js';

/** A displayed cluster as the cut finder sees it. */
export interface CutCluster {
  /** Peak |value| (the ranking) and the peak's mm position. */
  peak: number;
  peakMm: [number, number, number];
  voxels: number;
  /** The planes (mm along the cut axis) the cluster has voxels in. */
  planes: number[];
}

const same = (a: number, b: number): boolean => Math.abs(a - b) < 1e-3;

/**
 * The clusters of displayed voxels (18-connectivity, each sign on its own), strongest first;
 * `planes` along `axis`. Ties of peak height go to the larger cluster.
 */
export function displayedClusters(stat: Volume, scale: StatScale, axis: CutAxis): CutCluster[] {
  const a = AXIS_INDEX[axis];
  const [nx, ny] = grid3(stat.dims);
  const out: CutCluster[] = [];
  for (const sign of [1, -1]) {
    if ((sign > 0 && scale.sign === 'neg') || (sign < 0 && scale.sign === 'pos')) continue;
    const inSet = new Uint8Array(stat.data.length);
    for (let i = 0; i < inSet.length; i++) {
      const v = stat.data[i] ?? NaN; // never shown
      inSet[i] = isShown(v, scale) && Math.sign(v) === sign ? 1 : 0;
    }
    const cl = labelClusters(inSet, stat.dims);
    const m = cl.sizes.length;
    const peak = new Float64Array(m).fill(-Infinity);
    const peakAt = new Int32Array(m);
    const planes: Set<number>[] = Array.from({ length: m }, () => new Set<number>());
    for (let i = 0; i < cl.label.length; i++) {
      const c = (cl.label[i] ?? 0) - 1;
      if (c < 0) continue;
      const v = sign * item(stat.data, i, 'statistic');
      const mm = applyAffine(stat.affine, i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny)));
      item(planes, c, 'cluster planes').add(Math.round(mm[a] * 1000) / 1000);
      if (v > item(peak, c, 'cluster peaks')) {
        peak[c] = v;
        peakAt[c] = i;
      }
    }
    planes.forEach((inPlanes, c) => {
      const i = item(peakAt, c, 'cluster peaks');
      out.push({
        peak: item(peak, c, 'cluster peaks'),
        peakMm: applyAffine(stat.affine, i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))),
        voxels: item(cl.sizes, c, 'cluster sizes'),
        planes: [...inPlanes].sort((x, y) => x - y),
      });
    });
  }
  return out.sort((p, q) => q.peak - p.peak || q.voxels - p.voxels);
}

/** Where slices are cut: the planes available, those through the clusters (strongest first) and those filling the rest of the brain. */
export interface CutPlan {
  /** Available planes (mm, voxel centres of the statistic grid) within the range to fill. */
  planes: number[];
  clusters: CutCluster[];
  axis: CutAxis;
  n: number;
  minSeparationMm: number;
}

/** The cut positions (mm, ascending). */
export function findCuts(p: CutPlan): number[] {
  const a = AXIS_INDEX[p.axis];
  const cuts: number[] = [];
  const spaced = (z: number): boolean => cuts.every((c) => Math.abs(c - z) >= p.minSeparationMm - 1e-6);
  for (const c of p.clusters) {
    if (cuts.length >= p.n) break;
    if (c.planes.some((z) => cuts.some((k) => same(k, z)))) continue;
    const peakZ = c.peakMm[a];
    const byNearness = [...c.planes].sort((x, y) => Math.abs(x - peakZ) - Math.abs(y - peakZ) || x - y);
    const z = byNearness.find(spaced);
    if (z !== undefined) cuts.push(z);
  }
  const planes = [...p.planes].sort((x, y) => x - y);
  const middle = planes[Math.floor((planes.length - 1) / 2)];
  if (cuts.length === 0 && middle !== undefined && p.n > 0) cuts.push(middle);
  while (cuts.length < p.n) {
    let best: number | undefined;
    let bestD = -1;
    for (const z of planes) {
      const d = Math.min(...cuts.map((c) => Math.abs(c - z)));
      if (d > bestD + 1e-9) {
        bestD = d;
        best = z;
      }
    }
    if (best === undefined || bestD < p.minSeparationMm - 1e-6) break;
    cuts.push(best);
  }
  return cuts.sort((x, y) => x - y);
}

/** The planes (mm along `axis`) of the statistic grid's voxel centres inside [lo, hi]. */
export function gridPlanes(stat: Volume, axis: CutAxis, lo: number, hi: number): number[] {
  const a = AXIS_INDEX[axis];
  const set = new Set<number>();
  const dims = grid3(stat.dims);
  const row = affineRows(stat.affine)[a];
  // the grid's planes along the axis: walk each voxel axis from the origin (axis-aligned grids give exact planes; oblique ones a close set)
  for (const d of [0, 1, 2] as const) {
    if (Math.abs(row[d]) < 1e-6) continue;
    for (let t = 0; t < dims[d]; t++) {
      const idx: [number, number, number] = [0, 0, 0];
      idx[d] = t;
      const z = Math.round(applyAffine(stat.affine, idx[0], idx[1], idx[2])[a] * 1000) / 1000;
      if (z >= lo - 1e-6 && z <= hi + 1e-6) set.add(z);
    }
  }
  return [...set].sort((x, y) => x - y);
}
