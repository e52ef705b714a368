/**
 * Connected components and local maxima on the voxel grid, with SPM's conventions: clusters
 * are 18-connected (faces and edges), and a voxel is a local maximum when none of its 18
 * neighbours in the set is strictly higher (spm_bwlabel, spm_max, spm_get_lm).
 */
import { item } from '../errors.js';
import { type Connectivity, maskedNeighbours, setIndices } from './neighbours.js';

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
  const label = new Int32Array(inSet.length);
  const local = new Int32Array(vox.length);
  const stack = new Int32Array(vox.length);
  const sizes: number[] = [];
  for (let s = 0; s < vox.length; s++) {
    if (local[s]) continue;
    const id = sizes.length + 1;
    let top = 0;
    stack[top++] = s;
    local[s] = id;
    let size = 0;
    while (top > 0) {
      const v = item(stack, --top, 'stack');
      size++;
      label[item(vox, v, 'set voxels')] = id;
      for (let q = item(nb.start, v), end = item(nb.start, v + 1); q < end; q++) {
        const w = item(nb.list, q, 'neighbours');
        if (!local[w]) {
          local[w] = id;
          stack[top++] = w;
        }
      }
    }
    sizes.push(size);
  }
  return { label, sizes, count: sizes.length };
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
