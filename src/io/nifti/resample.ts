import { type Affine, affineRows, composeAffines, invertAffine } from './affine.js';
import { type Volume, grid3 } from './volume.js';

/**
 * Nearest-neighbour correspondence between two grids through world (mm) space: for every voxel
 * of the target grid, the linear index of the source voxel nearest to the same mm position, or
 * -1 when that falls outside the source grid. Used to bring masks and atlases onto the
 * statistics' grid whatever their orientation and voxel size.
 */
export function nearestSourceIndex(
  source: { dims: readonly number[]; affine: Affine },
  dims: readonly number[],
  affine: Affine,
): Int32Array {
  const toSource = composeAffines(invertAffine(source.affine), affine);
  const [sx, sy, sz] = grid3(source.dims);
  const [nx, ny, nz] = grid3(dims);
  const out = new Int32Array(nx * ny * nz);
  // applyAffine's arithmetic written out (the same operations in the same order, no array per voxel)
  const [[m00, m01, m02, m03], [m10, m11, m12, m13], [m20, m21, m22, m23]] = affineRows(toSource);
  let n = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, n++) {
        const a = m00 * x + m01 * y + m02 * z + m03;
        const b = m10 * x + m11 * y + m12 * z + m13;
        const c = m20 * x + m21 * y + m22 * z + m23;
        const i = Math.round(a);
        const j = Math.round(b);
        const k = Math.round(c);
        out[n] = i < 0 || j < 0 || k < 0 || i >= sx || j >= sy || k >= sz ? -1 : i + sx * (j + sy * k);
      }
  return out;
}

/**
 * Reading an image at world (mm) positions: each position is looked up through the inverse of the
 * image's own affine, so orientation (LAS, RAS, oblique) and voxel size never change what is read
 * where. Nearest neighbour, or trilinear (the outer half voxel repeats the edge value).
 */
export type Interpolation = 'nearest' | 'linear';

/** A function from mm to the image's value there (NaN outside the grid). */
export type WorldSampler = (x: number, y: number, z: number) => number;

/** A volume read at mm positions through its affine, by nearest neighbour or trilinear interpolation. */
export function worldSampler(vol: Volume, interpolation: Interpolation): WorldSampler {
  const M = invertAffine(vol.affine);
  const [nx, ny, nz] = vol.dims;
  const nxy = nx * ny;
  const d = vol.data;

  const [[m00, m01, m02, m03], [m10, m11, m12, m13], [m20, m21, m22, m23]] = affineRows(M);
  if (interpolation === 'nearest') {
    return (x, y, z) => {
      const i = Math.round(m00 * x + m01 * y + m02 * z + m03);
      const j = Math.round(m10 * x + m11 * y + m12 * z + m13);
      const k = Math.round(m20 * x + m21 * y + m22 * z + m23);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return NaN;
      // inside the grid; a volume shorter than its grid has no value there
      return d[i + nx * j + nxy * k] ?? NaN;
    };
  }
  return (x, y, z) => {
    const a = m00 * x + m01 * y + m02 * z + m03;
    const b = m10 * x + m11 * y + m12 * z + m13;
    const c = m20 * x + m21 * y + m22 * z + m23;
    if (a < -0.5 || b < -0.5 || c < -0.5 || a > nx - 0.5 || b > ny - 0.5 || c > nz - 0.5) return NaN;
    // clamp to the grid so the outer half voxel repeats the edge value
    const i0 = Math.min(Math.max(Math.floor(a), 0), nx - 1);
    const j0 = Math.min(Math.max(Math.floor(b), 0), ny - 1);
    const k0 = Math.min(Math.max(Math.floor(c), 0), nz - 1);
    const i1 = Math.min(i0 + 1, nx - 1);
    const j1 = Math.min(j0 + 1, ny - 1);
    const k1 = Math.min(k0 + 1, nz - 1);
    const fa = Math.min(Math.max(a - i0, 0), 1);
    const fb = Math.min(Math.max(b - j0, 0), 1);
    const fc = Math.min(Math.max(c - k0, 0), 1);
    const v = (i: number, j: number, k: number): number => {
      const x0 = d[i + nx * j + nxy * k];
      return x0 !== undefined && Number.isFinite(x0) ? x0 : 0;
    };
    const c00 = v(i0, j0, k0) * (1 - fa) + v(i1, j0, k0) * fa;
    const c10 = v(i0, j1, k0) * (1 - fa) + v(i1, j1, k0) * fa;
    const c01 = v(i0, j0, k1) * (1 - fa) + v(i1, j0, k1) * fa;
    const c11 = v(i0, j1, k1) * (1 - fa) + v(i1, j1, k1) * fa;
    return (c00 * (1 - fb) + c10 * fb) * (1 - fc) + (c01 * (1 - fb) + c11 * fb) * fc;
  };
}
