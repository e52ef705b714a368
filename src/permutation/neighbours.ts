/**
 * Neighbours of the analysed voxels, by masked-voxel index, in compressed rows (no per-voxel
 * objects): the neighbours of voxel v are list[start[v] .. start[v + 1]).
 */
import { type Connectivity, neighbourOffsets } from '../inference/clusters.js';

export interface Neighbours {
  start: Int32Array;
  list: Int32Array;
  connectivity: Connectivity;
}

/** `gridIndex[v]` is the grid index of masked voxel v (ascending). */
export function maskedNeighbours(gridIndex: Int32Array, dims: readonly number[], connectivity: Connectivity): Neighbours {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const toMasked = new Int32Array(nx * ny * nz).fill(-1);
  for (let v = 0; v < gridIndex.length; v++) toMasked[gridIndex[v]] = v;
  const offs = neighbourOffsets(connectivity);
  const start = new Int32Array(gridIndex.length + 1);
  const tmp = new Int32Array(gridIndex.length * offs.length);
  let n = 0;
  for (let v = 0; v < gridIndex.length; v++) {
    start[v] = n;
    const g = gridIndex[v];
    const x = g % nx;
    const y = ((g - x) / nx) % ny;
    const z = (g - x - y * nx) / nxy;
    for (const [dx, dy, dz] of offs) {
      const xx = x + dx;
      const yy = y + dy;
      const zz = z + dz;
      if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
      const w = toMasked[xx + nx * yy + nxy * zz];
      if (w >= 0) tmp[n++] = w;
    }
  }
  start[gridIndex.length] = n;
  return { start, list: tmp.slice(0, n), connectivity };
}
