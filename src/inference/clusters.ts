/**
 * Connected components and local maxima on the voxel grid, with SPM's conventions: clusters
 * are 18-connected (faces and edges), and a voxel is a local maximum when none of its 18
 * neighbours in the set is strictly higher (spm_bwlabel, spm_max, spm_get_lm).
 */
export type Connectivity = 6 | 18 | 26;

/** Neighbour offsets (dx, dy, dz) for a connectivity. */
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

export interface Clusters {
  /** Cluster number (1..count) of each grid voxel, 0 outside the set. */
  label: Int32Array;
  /** Voxel count of cluster i at sizes[i - 1]. */
  sizes: number[];
  count: number;
}

/** Label the connected components of a set of grid voxels (`inSet[i]` nonzero). */
export function labelClusters(inSet: ArrayLike<number>, dims: readonly number[], conn: Connectivity = 18): Clusters {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const label = new Int32Array(nx * ny * nz);
  const offs = neighbourOffsets(conn);
  const stack = new Int32Array(nx * ny * nz);
  const sizes: number[] = [];
  let count = 0;
  for (let start = 0; start < label.length; start++) {
    if (!inSet[start] || label[start]) continue;
    count++;
    let top = 0;
    stack[top++] = start;
    label[start] = count;
    let size = 0;
    while (top > 0) {
      const v = stack[--top];
      size++;
      const x = v % nx;
      const y = ((v - x) / nx) % ny;
      const z = (v - x - y * nx) / nxy;
      for (const [dx, dy, dz] of offs) {
        const xx = x + dx;
        const yy = y + dy;
        const zz = z + dz;
        if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
        const w = xx + nx * yy + nxy * zz;
        if (inSet[w] && !label[w]) {
          label[w] = count;
          stack[top++] = w;
        }
      }
    }
    sizes.push(size);
  }
  return { label, sizes, count };
}

/**
 * Local maxima of `values` over the voxels of a set: those with no strictly higher neighbour
 * in the set. Returns grid indices in ascending order.
 */
export function localMaxima(values: ArrayLike<number>, inSet: ArrayLike<number>, dims: readonly number[], conn: Connectivity = 18): number[] {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  const offs = neighbourOffsets(conn);
  const out: number[] = [];
  for (let v = 0; v < nx * ny * nz; v++) {
    if (!inSet[v]) continue;
    const x = v % nx;
    const y = ((v - x) / nx) % ny;
    const z = (v - x - y * nx) / nxy;
    const cv = values[v];
    let isMax = true;
    for (const [dx, dy, dz] of offs) {
      const xx = x + dx;
      const yy = y + dy;
      const zz = z + dz;
      if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
      const w = xx + nx * yy + nxy * zz;
      if (inSet[w] && values[w] > cv) {
        isMax = false;
        break;
      }
    }
    if (isMax) out.push(v);
  }
  return out;
}
