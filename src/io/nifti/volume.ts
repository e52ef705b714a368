import { invariant } from '../../errors.js';
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

/** A grid's three dimensions, checked: dims without three entries are a bug upstream (headers always give three). */
export function grid3(dims: readonly number[]): [number, number, number] {
  const [nx, ny, nz] = dims;
  invariant(
    nx !== undefined && ny !== undefined && nz !== undefined,
    `a grid has three dimensions (got ${dims.length})`,
  );
  return [nx, ny, nz];
}

/** Voxels of a grid: nx ny nz (the first three of dims). */
export function voxelCount(dims: readonly number[]): number {
  const [nx, ny, nz] = grid3(dims);
  return nx * ny * nz;
}
