import { grid3 } from '../io/nifti/volume.js';

/**
 * Voxel neighbourhoods on a grid, for clusters, local maxima and TFCE: the offsets of a
 * connectivity, and the neighbours of a set of voxels by index within the set, in compressed
 * rows (no per-voxel objects): the neighbours of voxel v are list[start[v] .. start[v + 1]).
 */
export type Connectivity = 6 | 18 | 26;

/** Neighbour offsets (dx, dy, dz) for a connectivity: faces (6), + edges (18), + corners (26). */
export function neighbourOffsets(conn: Connectivity): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let dz = -1; dz <= 1; dz++)
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++) {
        const n = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (n === 0) continue;
        if (conn === 6 && n > 1) continue;
        if (conn === 18 && n > 2) continue;
        out.push([dx, dy, dz]);
      }
  return out;
}

export interface Neighbours {
  start: Int32Array;
  list: Int32Array;
  connectivity: Connectivity;
}

/** `gridIndex[v]` is the grid index of set voxel v (ascending). */
export function maskedNeighbours(
  gridIndex: Int32Array,
  dims: readonly number[],
  connectivity: Connectivity,
): Neighbours {
  const [nx, ny, nz] = grid3(dims);
  const nxy = nx * ny;
  const toMasked = new Int32Array(nx * ny * nz).fill(-1);
  gridIndex.forEach((g, v) => (toMasked[g] = v));
  const offs = neighbourOffsets(connectivity);
  const start = new Int32Array(gridIndex.length + 1);
  const tmp = new Int32Array(gridIndex.length * offs.length);
  let n = 0;
  gridIndex.forEach((g, v) => {
    start[v] = n;
    const x = g % nx;
    const y = ((g - x) / nx) % ny;
    const z = (g - x - y * nx) / nxy;
    for (const [dx, dy, dz] of offs) {
      const xx = x + dx;
      const yy = y + dy;
      const zz = z + dz;
      if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
      // inside the grid, so toMasked has the entry (-1: not in the set)
      const w = toMasked[xx + nx * yy + nxy * zz] ?? -1;
      if (w >= 0) tmp[n++] = w;
    }
  });
  start[gridIndex.length] = n;
  return { start, list: tmp.slice(0, n), connectivity };
}

/** Grid indices (ascending) of the voxels with inSet[i] nonzero. */
export function setIndices(inSet: ArrayLike<number>): Int32Array {
  let n = 0;
  for (let i = 0; i < inSet.length; i++) if (inSet[i]) n++;
  const out = new Int32Array(n);
  for (let i = 0, k = 0; i < inSet.length; i++) if (inSet[i]) out[k++] = i;
  return out;
}
