/**
 * Reading an image at world (mm) positions. Every picture is drawn on a grid of mm positions,
 * and each image is looked up through the inverse of its own affine, so orientation (LAS, RAS,
 * oblique) and voxel size never change what is drawn where.
 */
import { type Affine, applyAffine, invertAffine } from '../io/nifti/affine.js';
import type { Volume } from '../io/nifti/volume.js';

export type Interpolation = 'nearest' | 'linear';

/** A function from mm to the image's value there (NaN outside the grid). */
export type WorldSampler = (x: number, y: number, z: number) => number;

export function worldSampler(vol: Volume, interpolation: Interpolation): WorldSampler {
  const M = invertAffine(vol.affine);
  const [nx, ny, nz] = vol.dims;
  const nxy = nx * ny;
  const d = vol.data;
  const [m00, m01, m02, m03] = M[0];
  const [m10, m11, m12, m13] = M[1];
  const [m20, m21, m22, m23] = M[2];
  if (interpolation === 'nearest') {
    return (x, y, z) => {
      const i = Math.round(m00 * x + m01 * y + m02 * z + m03);
      const j = Math.round(m10 * x + m11 * y + m12 * z + m13);
      const k = Math.round(m20 * x + m21 * y + m22 * z + m23);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return NaN;
      return d[i + nx * j + nxy * k];
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
      return Number.isFinite(x0) ? x0 : 0;
    };
    const c00 = v(i0, j0, k0) * (1 - fa) + v(i1, j0, k0) * fa;
    const c10 = v(i0, j1, k0) * (1 - fa) + v(i1, j1, k0) * fa;
    const c01 = v(i0, j0, k1) * (1 - fa) + v(i1, j0, k1) * fa;
    const c11 = v(i0, j1, k1) * (1 - fa) + v(i1, j1, k1) * fa;
    return (c00 * (1 - fb) + c10 * fb) * (1 - fc) + (c01 * (1 - fb) + c11 * fb) * fc;
  };
}

/** World-space box, mm: [min, max] along x, y, z. */
export type Box = [[number, number], [number, number], [number, number]];

/** The mm box around the voxels where `inSet` is true (voxel centres, widened by half a voxel and `marginMm`). */
export function worldBox(vol: Volume, inSet: (v: number) => boolean, marginMm = 0): Box | undefined {
  const [nx, ny, nz] = vol.dims;
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        if (!inSet(vol.data[n])) continue;
        const p = applyAffine(vol.affine, i, j, k);
        for (let a = 0; a < 3; a++) {
          if (p[a] < lo[a]) lo[a] = p[a];
          if (p[a] > hi[a]) hi[a] = p[a];
        }
      }
  if (lo[0] === Infinity) return undefined;
  const half = voxelHalfExtent(vol.affine);
  return [0, 1, 2].map((a) => [lo[a] - half[a] - marginMm, hi[a] + half[a] + marginMm]) as Box;
}

/** Half the mm extent of one voxel along each world axis. */
function voxelHalfExtent(A: Affine): number[] {
  return [0, 1, 2].map((r) => (Math.abs(A[r][0]) + Math.abs(A[r][1]) + Math.abs(A[r][2])) / 2);
}

/** The smallest voxel edge, mm. */
export function minVoxelMm(A: Affine): number {
  let m = Infinity;
  for (let c = 0; c < 3; c++) m = Math.min(m, Math.hypot(A[0][c], A[1][c], A[2][c]));
  return m;
}
