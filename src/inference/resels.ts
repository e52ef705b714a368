import { invariant } from '../errors.js';
import { grid3 } from '../io/nifti/volume.js';

/**
 * Resel counts of a search volume (Worsley et al. 1996), as SPM's spm_resels_vol counts them:
 * points P, edges E (along x, y, z), faces F (xy, xz, yz) and cubes C of the mask lattice,
 * each element counted at its last (+x, +y, +z) corner, combined into the intrinsic volumes
 * in units of the FWHM (in voxels) along each axis:
 *   R0 = P - (Ex+Ey+Ez) + (Fxy+Fxz+Fyz) - C        (the Euler characteristic)
 *   R1 = (Ex - Fxy - Fxz + C)/fx + (Ey - Fxy - Fyz + C)/fy + (Ez - Fxz - Fyz + C)/fz
 *   R2 = (Fxy - C)/(fx fy) + (Fxz - C)/(fx fz) + (Fyz - C)/(fy fz)
 *   R3 = C/(fx fy fz)
 */
export type ReselCounts = [number, number, number, number];

/**
 * A mask's voxels, edges, faces and cubes as reselCounts' loop counts them: [P, Ex, Ey, Ez, Fxy,
 * Fxz, Fyz, C] (the native addon has one; whole numbers, the same wherever they are counted).
 */
export type MaskCounter = (mask: Uint8Array, nx: number, ny: number, nz: number) => MaskCounts;

/** [P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C]: see MaskCounter. */
export type MaskCounts = [number, number, number, number, number, number, number, number];

/**
 * The resel counts R0-R3 of a mask (1 = in) on a grid, given the smoothness in voxels (see
 * ReselCounts); `counter` counts a Uint8Array mask's elements instead of the loop below.
 */
export function reselCounts(
  mask: ArrayLike<number>,
  dims: readonly number[],
  fwhmVox: readonly number[],
  counter?: MaskCounter,
): ReselCounts {
  const [nx, ny, nz] = grid3(dims);
  const nxy = nx * ny;
  invariant(mask.length >= nxy * nz, 'the mask covers the grid');
  if (counter && mask instanceof Uint8Array) {
    const [P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C] = counter(mask, nx, ny, nz);
    return fromCounts(P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C, fwhmVox);
  }
  let P = 0;
  let Ex = 0;
  let Ey = 0;
  let Ez = 0;
  let Fxy = 0;
  let Fxz = 0;
  let Fyz = 0;
  let C = 0;
  // every index below lies on the grid, which the mask covers (checked once, not per voxel)
  const on = (i: number): boolean => (mask[i] ?? 0) > 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const o = x + nx * y + nxy * z;
        if (!on(o)) continue;
        P++;
        const mx = x > 0 && on(o - 1);
        const my = y > 0 && on(o - nx);
        const mz = z > 0 && on(o - nxy);
        const mxy = x > 0 && y > 0 && on(o - 1 - nx);
        const mxz = x > 0 && z > 0 && on(o - 1 - nxy);
        const myz = y > 0 && z > 0 && on(o - nx - nxy);
        const mxyz = x > 0 && y > 0 && z > 0 && on(o - 1 - nx - nxy);
        if (mx) Ex++;
        if (my) Ey++;
        if (mz) Ez++;
        if (mx && my && mxy) Fxy++;
        if (mx && mz && mxz) Fxz++;
        if (my && mz && myz) Fyz++;
        if (mx && my && mz && mxy && mxz && myz && mxyz) C++;
      }
  return fromCounts(P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C, fwhmVox);
}

/** R0-R3 from the mask's counts (Euler characteristic and its edges, faces, cubes weighted by 1 / FWHM). */
function fromCounts(
  P: number,
  Ex: number,
  Ey: number,
  Ez: number,
  Fxy: number,
  Fxz: number,
  Fyz: number,
  C: number,
  fwhmVox: readonly number[],
): ReselCounts {
  const [rx, ry, rz] = grid3(fwhmVox).map((f) => 1 / f) as [number, number, number];
  return [
    P - (Ex + Ey + Ez) + (Fxy + Fxz + Fyz) - C,
    (Ex - Fxy - Fxz + C) * rx + (Ey - Fxy - Fyz + C) * ry + (Ez - Fxz - Fyz + C) * rz,
    (Fxy - C) * rx * ry + (Fxz - C) * rx * rz + (Fyz - C) * ry * rz,
    C * rx * ry * rz,
  ];
}
