/**
 * encodeNiftiWith (voxels written straight into the file's buffer, as the fit's images are) gives
 * the same bytes as encodeNifti of the filled volume: float32 and float64, NaN and 0 outside,
 * descrip and intent, on an LAS grid. Byte equality: no tolerance.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DT } from '../src/io/nifti/datatypes.js';
import { encodeNifti, encodeNiftiWith } from '../src/io/nifti/encode.js';
import type { Affine } from '../src/io/nifti/affine.js';

test('encodeNiftiWith gives encodeNifti bytes for float32 and float64 volumes', () => {
  const dims: [number, number, number] = [7, 6, 5];
  const affine: Affine = [
    [-2, 0, 0, 6],
    [0, 2, 0, -5],
    [0, 0, 2.5, -4],
    [0, 0, 0, 1],
  ];
  const n = 7 * 6 * 5;
  const fill = (out: Float32Array | Float64Array, outside: number): void => {
    out.fill(outside);
    for (let i = 0; i < n; i += 3) out[i] = Math.sin(i) * 1e3 + 1 / 3;
  };
  for (const [datatype, outside] of [
    [DT.FLOAT32, NaN],
    [DT.FLOAT32, 0],
    [DT.FLOAT64, NaN],
  ] as const) {
    const data = datatype === DT.FLOAT32 ? new Float32Array(n) : new Float64Array(n);
    fill(data, outside);
    const opts = { datatype, descrip: 'a test image', intent: { code: 3, p1: 12, name: 'spmT' } };
    const want = encodeNifti({ dims, affine, data }, opts);
    const got = encodeNiftiWith({ dims, affine }, opts, (out) => fill(out, outside));
    assert.equal(got.length, want.length);
    assert.ok(Buffer.from(got).equals(Buffer.from(want)), `datatype ${datatype}, outside ${outside}`);
    // into a buffer that held other bytes (a written image's, reused): the header's unset fields are still zero
    const dirty = (bytes: number): ArrayBuffer => new Uint8Array(bytes).fill(0xa5).buffer;
    const reused = encodeNiftiWith({ dims, affine }, opts, (out) => fill(out, outside), dirty);
    assert.ok(Buffer.from(reused).equals(Buffer.from(want)), `reused buffer, datatype ${datatype}, outside ${outside}`);
  }
  assert.throws(() => encodeNiftiWith({ dims, affine }, { datatype: DT.INT16 }, () => undefined), /float32 or float64/);
});
