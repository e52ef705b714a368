/**
 * The voxel part of a permutation test's input for synthetic data: every voxel of a box analysed,
 * in storage order, on isotropic voxels of `mm` with the first voxel at the origin.
 */
import type { PermutationInput } from '../../src/permutation/types.js';

/** Every voxel index of a box of `dims`, in storage order. */
export function fullGrid(dims: [number, number, number]): Int32Array {
  return Int32Array.from({ length: dims[0] * dims[1] * dims[2] }, (_, i) => i);
}

/** The voxels, grid and affine of a whole box of `dims`, voxels of `mm` with the first at the origin. */
export function wholeBox(dims: [number, number, number], mm = 1): Pick<PermutationInput, 'voxels' | 'dims' | 'affine'> {
  return {
    voxels: fullGrid(dims),
    dims,
    affine: [
      [mm, 0, 0, 0],
      [0, mm, 0, 0],
      [0, 0, mm, 0],
      [0, 0, 0, 1],
    ],
  };
}
