/**
 * The voxel part of a permutation test's input for synthetic data: every voxel of a box analysed,
 * in storage order, on isotropic voxels of `mm` with the first voxel at the origin.
 */
import type { PermutationInput } from '../../src/permutation/types.js';

export function wholeBox(dims: [number, number, number], mm = 1): Pick<PermutationInput, 'voxels' | 'dims' | 'affine'> {
  const V = dims[0] * dims[1] * dims[2];
  return {
    voxels: Int32Array.from({ length: V }, (_, i) => i),
    dims,
    affine: [
      [mm, 0, 0, 0],
      [0, mm, 0, 0],
      [0, 0, mm, 0],
      [0, 0, 0, 1],
    ],
  };
}
