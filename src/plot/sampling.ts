/**
 * Reading an image at world (mm) positions. Every picture is drawn on a grid of mm positions,
 * and each image is looked up through the inverse of its own affine, so orientation (LAS, RAS,
 * oblique) and voxel size never change what is drawn where.
 */
import { type Affine, applyAffine } from '../io/nifti/affine.js';
import type { Volume } from '../io/nifti/volume.js';

// Reading an image at mm positions lives with the other grid look-ups (io/nifti/resample.ts), where
// the synthetic cohorts can use it too; re-exported here for the pictures.
export { type Interpolation, type WorldSampler, worldSampler } from '../io/nifti/resample.js';

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
