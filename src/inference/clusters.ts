/**
 * Connected components and local maxima on the voxel grid, with SPM's conventions: clusters
 * are 18-connected (faces and edges), and a voxel is a local maximum when none of its 18
 * neighbours in the set is strictly higher (spm_bwlabel, spm_max, spm_get_lm). Suprathreshold
 * clusters with extent and mass, on masked voxels, for permutation tests.
 */
import { item } from '../errors.js';
import { type Connectivity, type Neighbours, maskedNeighbours, setIndices } from './neighbours.js';

export { type Connectivity, neighbourOffsets } from './neighbours.js';

export interface Clusters {
  /** Cluster number (1..count) of each grid voxel, 0 outside the set. */
  label: Int32Array;
  /** Voxel count of cluster i at sizes[i - 1]. */
  sizes: number[];
  count: number;
}

/**
 * Label the connected components of a set of grid voxels (`inSet[i]` nonzero). Clusters are
 * numbered in the order of their first voxel on the grid.
 */
export function labelClusters(inSet: ArrayLike<number>, dims: readonly number[], conn: Connectivity = 18): Clusters {
  const vox = setIndices(inSet);
  const nb = maskedNeighbours(vox, dims, conn);
  // every voxel of the set is above 0.5; the set's voxels are in grid order, so is the numbering
  const cl = suprathresholdClusters(new Uint8Array(vox.length).fill(1), 0.5, nb, clusterWorkspace(vox.length));
  const label = new Int32Array(inSet.length);
  for (let v = 0; v < vox.length; v++) label[item(vox, v, 'set voxels')] = item(cl.label, v, 'cluster labels');
  return { label, sizes: cl.extent, count: cl.extent.length };
}

/**
 * Local maxima of `values` over the voxels of a set: those with no strictly higher neighbour
 * in the set. Returns grid indices in ascending order.
 */
export function localMaxima(
  values: ArrayLike<number>,
  inSet: ArrayLike<number>,
  dims: readonly number[],
  conn: Connectivity = 18,
): number[] {
  const vox = setIndices(inSet);
  const nb = maskedNeighbours(vox, dims, conn);
  const out: number[] = [];
  // every set voxel and neighbour is an index into values
  const valueAt = (v: number): number => item(values, item(vox, v, 'set voxels'), 'values');
  for (let v = 0; v < vox.length; v++) {
    const cv = valueAt(v);
    let isMax = true;
    for (let q = item(nb.start, v), end = item(nb.start, v + 1); q < end; q++) {
      if (valueAt(item(nb.list, q, 'neighbours')) > cv) {
        isMax = false;
        break;
      }
    }
    if (isMax) out.push(item(vox, v));
  }
  return out;
}

/** Scratch arrays of the flood fill over V masked voxels (reused from one map to the next). */
export interface ClusterWorkspace {
  label: Int32Array;
  stack: Int32Array;
}

/** A workspace for maps of V masked voxels. */
export function clusterWorkspace(V: number): ClusterWorkspace {
  return { label: new Int32Array(V), stack: new Int32Array(V) };
}

/** The clusters of one map: labels, and extent and mass of each (numbered in the order of their first voxel). */
export interface ClusterSummary {
  /** Cluster number (1..) of each masked voxel, 0 below threshold. */
  label: Int32Array;
  extent: number[];
  mass: number[];
  maxExtent: number;
  maxMass: number;
}

/**
 * The one flood fill of vbm: clusters of masked voxels with stat > u, connected through `nb`
 * (from maskedNeighbours). Extent is the voxel count, mass the sum of the statistic's excess over
 * u (as nilearn and Bullmore et al. 1999). Used for SPM's tables (labelClusters) and for every
 * rearrangement of a permutation test. The returned label array is the workspace's (reused).
 */
export function suprathresholdClusters(
  stat: ArrayLike<number>,
  u: number,
  nb: Neighbours,
  ws: ClusterWorkspace,
): ClusterSummary {
  const V = ws.label.length;
  const { label, stack } = ws;
  label.fill(0);
  const extent: number[] = [];
  const mass: number[] = [];
  let maxExtent = 0;
  let maxMass = 0;
  for (let s = 0; s < V; s++) {
    // NaN (never above u) stands for a voxel beyond the statistic's end: a bug, caught below
    if (!((stat[s] ?? NaN) > u) || label[s]) continue;
    const id = extent.length + 1;
    let top = 0;
    stack[top++] = s;
    label[s] = id;
    let k = 0;
    let sum = 0;
    while (top) {
      const v = item(stack, --top, 'stack');
      k++;
      sum += item(stat, v, 'statistic') - u;
      for (let q = item(nb.start, v, 'neighbour starts'), qe = item(nb.start, v + 1, 'neighbour starts'); q < qe; q++) {
        const w = item(nb.list, q, 'neighbours');
        if (!label[w] && item(stat, w, 'statistic') > u) {
          label[w] = id;
          stack[top++] = w;
        }
      }
    }
    extent.push(k);
    mass.push(sum);
    if (k > maxExtent) maxExtent = k;
    if (sum > maxMass) maxMass = sum;
  }
  return { label, extent, mass, maxExtent, maxMass };
}
