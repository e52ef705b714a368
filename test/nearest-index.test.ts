/**
 * nearestSourceIndex (masks and atlases onto the statistics' grid) against a brute-force reference
 * written here: each target voxel's centre taken to mm by the target affine, back to the source's
 * voxel coordinates by the inverse of the source affine (applyAffine twice), rounded. Exact
 * agreement is expected away from rounding ties; the grids below (LAS and RAS, another voxel size,
 * an oblique rotation, a shift) put no centre within 1e-6 voxel of a tie (asserted), so the tolerance
 * is zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Affine, applyAffine, invertAffine } from '../src/io/nifti/affine.js';
import { nearestSourceIndex } from '../src/io/nifti/resample.js';

function reference(src: { dims: number[]; affine: Affine }, dims: number[], affine: Affine): Int32Array {
  const inv = invertAffine(src.affine);
  const out = new Int32Array(dims[0] * dims[1] * dims[2]);
  let n = 0;
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++, n++) {
        const [X, Y, Z] = applyAffine(affine, x, y, z);
        const v = applyAffine(inv, X, Y, Z);
        for (const t of v) assert.ok(Math.abs(t - Math.floor(t) - 0.5) > 1e-6, 'no centre at a rounding tie');
        const [a, b, c] = v.map(Math.round);
        const inside = a >= 0 && b >= 0 && c >= 0 && a < src.dims[0] && b < src.dims[1] && c < src.dims[2];
        out[n] = inside ? a + src.dims[0] * (b + src.dims[1] * c) : -1;
      }
  return out;
}

test('nearest source voxels match a brute-force mm round trip (LAS and RAS, other voxel size, oblique)', () => {
  const target: Affine = [
    [-2, 0, 0, 40],
    [0, 2, 0, -50],
    [0, 0, 2, -30],
    [0, 0, 0, 1],
  ];
  const c = Math.cos(0.1);
  const s = Math.sin(0.1);
  const sources: { dims: number[]; affine: Affine }[] = [
    { dims: [30, 36, 28], affine: target }, // the same grid: the identity
    {
      dims: [50, 60, 45],
      affine: [
        [1.5, 0, 0, -37.3],
        [0, 1.5, 0, -61.1],
        [0, 0, 1.5, -35.2],
        [0, 0, 0, 1],
      ],
    }, // RAS, 1.5 mm
    {
      dims: [26, 31, 24],
      affine: [
        [2.3 * c, -2.3 * s, 0, -28.1],
        [2.3 * s, 2.3 * c, 0, -47.3],
        [0, 0, 2.3, -26.9],
        [0, 0, 0, 1],
      ],
    }, // oblique, partly outside
  ];
  const dims = [30, 36, 28];
  for (const src of sources) {
    const got = nearestSourceIndex(src, dims, target);
    const want = reference(src, dims, target);
    assert.ok(want.includes(-1) || src.affine === target, 'some voxels outside the source grid');
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) assert.fail(`voxel ${i}: ${got[i]} vs ${want[i]}`);
  }
});
