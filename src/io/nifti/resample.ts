import { type Affine, applyAffine, composeAffines, invertAffine } from './affine.js';

/**
 * Nearest-neighbour correspondence between two grids through world (mm) space: for every voxel
 * of the target grid, the linear index of the source voxel nearest to the same mm position, or
 * -1 when that falls outside the source grid. Used to bring masks and atlases onto the
 * statistics' grid whatever their orientation and voxel size.
 */
export function nearestSourceIndex(source: { dims: readonly number[]; affine: Affine }, dims: readonly number[], affine: Affine): Int32Array {
  const toSource = composeAffines(invertAffine(source.affine), affine);
  const [sx, sy, sz] = source.dims;
  const [nx, ny, nz] = dims;
  const out = new Int32Array(nx * ny * nz);
  let n = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, n++) {
        const [a, b, c] = applyAffine(toSource, x, y, z);
        const i = Math.round(a);
        const j = Math.round(b);
        const k = Math.round(c);
        out[n] = i < 0 || j < 0 || k < 0 || i >= sx || j >= sy || k >= sz ? -1 : i + sx * (j + sy * k);
      }
  return out;
}
