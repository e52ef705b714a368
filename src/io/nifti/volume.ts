import type { Affine } from './affine.js';

/**
 * The one image type: a 3-D grid, its affine (0-based voxel -> mm), and the voxels in
 * NIfTI order (x fastest). Plain data, so it crosses worker boundaries as it is.
 */
export interface Volume {
  dims: [number, number, number];
  affine: Affine;
  data: Float32Array | Float64Array | Uint8Array;
}

export function voxelCount(dims: readonly number[]): number {
  return dims[0] * dims[1] * dims[2];
}
