/**
 * Reading an image at world (mm) positions. Every picture is drawn on a grid of mm positions,
 * and each image is looked up through the inverse of its own affine, so orientation (LAS, RAS,
 * oblique) and voxel size never change what is drawn where.
 */
import { type Affine, affineRows, applyAffine } from '../io/nifti/affine.js';
import { type Volume, grid3 } from '../io/nifti/volume.js';

// Reading an image at mm positions lives with the other grid look-ups (io/nifti/resample.ts), where
// the synthetic cohorts can use it too; re-exported here for the pictures.
export { type Interpolation, type WorldSampler, worldSampler } from '../io/nifti/resample.js';

/** World-space box, mm: [min, max] along x, y, z. */
export type Box = [[number, number], [number, number], [number, number]];

/** The mm box around the voxels where `inSet` is true (voxel centres, widened by half a voxel and `marginMm`). */
export function worldBox(vol: Volume, inSet: (v: number) => boolean, marginMm = 0): Box | undefined {
  const [nx, ny, nz] = grid3(vol.dims);
  const lo: Point = [Infinity, Infinity, Infinity];
  const hi: Point = [-Infinity, -Infinity, -Infinity];
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        // a volume shorter than its grid has nothing in the set there
        const v = vol.data[n];
        if (v === undefined || !inSet(v)) continue;
        const p = applyAffine(vol.affine, i, j, k);
        for (const a of AXES) {
          if (p[a] < lo[a]) lo[a] = p[a];
          if (p[a] > hi[a]) hi[a] = p[a];
        }
      }
  if (lo[0] === Infinity) return undefined;
  const half = voxelHalfExtent(vol.affine);
  const side = (a: 0 | 1 | 2): [number, number] => [lo[a] - half[a] - marginMm, hi[a] + half[a] + marginMm];
  return [side(0), side(1), side(2)];
}

type Point = [number, number, number];
const AXES = [0, 1, 2] as const;

/** Half the mm extent of one voxel along each world axis. */
function voxelHalfExtent(A: Affine): Point {
  const half = ([a, b, c]: [number, number, number, number]): number => (Math.abs(a) + Math.abs(b) + Math.abs(c)) / 2;
  const [r0, r1, r2] = affineRows(A);
  return [half(r0), half(r1), half(r2)];
}

/** The smallest voxel edge, mm. */
export function minVoxelMm(A: Affine): number {
  let m = Infinity;
  const [r0, r1, r2] = affineRows(A);
  for (const c of AXES) m = Math.min(m, Math.hypot(r0[c], r1[c], r2[c]));
  return m;
}
