/**
 * SPM12's masking rules (../shared/SPM12-NOTES.md, spm_spm.m): explicit mask sampled by nearest
 * neighbour in mm, implicit mask (zero = missing for integer data; NaN always), voxels constant
 * over scans dropped, absolute and relative threshold masking. Expected masks are computed
 * here voxel by voxel from those rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { readVolume } from '../src/node/nifti/read.js';
import { decodeNifti, decodeVolume } from '../src/io/nifti/decode.js';
import { maskFileOnGrid, resampleMaskNearest } from '../src/estimation/masking.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { Rng } from '../src/synth/random.js';

const DIMS: [number, number, number] = [6, 5, 4];
const NV = 120;
const AFFINE = [
  [-2, 0, 0, 6],
  [0, 2, 0, -4],
  [0, 0, 2, -3],
  [0, 0, 0, 1],
];

function study(dir: string, Y: Float32Array[], datatype: number = DT.FLOAT32): string {
  const lines = ['scan,age'];
  Y.forEach((y, i) => {
    writeFileSync(join(dir, `s${i}.nii`), encodeNifti({ dims: DIMS, affine: AFFINE, data: y }, { datatype }));
    lines.push(`s${i}.nii,${20 + 3 * i + (i % 3)}`);
  });
  writeFileSync(join(dir, 'design.csv'), lines.join('\n'));
  return join(dir, 'design.csv');
}

function maskOf(dir: string): Uint8Array {
  return Uint8Array.from(readVolume(join(dir, 'mask.nii')).data);
}

test('implicit mask: zeros are missing in integer scans, kept in float scans; NaN always missing; constants dropped', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(1);
    const n = 8;
    const Y = Array.from({ length: n }, () =>
      Float32Array.from({ length: NV }, () => 100 + Math.round(20 * rng.normal())),
    );
    Y[3][10] = 0; // a zero in one scan
    Y[5][20] = 0;
    for (let i = 0; i < n; i++) Y[i][30] = 42; // constant over scans
    const intDesign = study(dir, Y, DT.INT16);
    await runAnalysis({ design: intDesign, out: join(dir, 'int'), workers: 0 });
    let m = maskOf(join(dir, 'int'));
    assert.equal(m[10], 0);
    assert.equal(m[20], 0);
    assert.equal(m[30], 0);
    assert.equal(
      m.reduce((s, x) => s + x, 0),
      NV - 3,
    );
    await runAnalysis({
      design: intDesign,
      out: join(dir, 'int-noimplicit'),
      masking: { implicit: false },
      workers: 0,
    });
    m = maskOf(join(dir, 'int-noimplicit'));
    assert.equal(m[10], 1);
    assert.equal(m[30], 0, 'constant voxels go whatever the implicit mask');
    // float scans: zeros stay, NaN goes
    const { dir: d2, cleanup: c2 } = tempDir();
    try {
      Y[2][40] = NaN;
      const floatDesign = study(d2, Y, DT.FLOAT32);
      await runAnalysis({ design: floatDesign, out: join(d2, 'f'), workers: 0 });
      m = maskOf(join(d2, 'f'));
      assert.equal(m[10], 1, 'zero in float data is data');
      assert.equal(m[40], 0, 'NaN is missing');
      assert.equal(
        m.reduce((s, x) => s + x, 0),
        NV - 2,
      );
    } finally {
      c2();
    }
  } finally {
    cleanup();
  }
});

test('threshold masking: absolute (every scan above the value) and relative (fraction of each global mean)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(2);
    const n = 6;
    const Y = Array.from({ length: n }, () =>
      Float32Array.from({ length: NV }, (_, v) => (v < 60 ? 0.05 : 0.6) + 0.1 * Math.abs(rng.normal())),
    );
    const design = study(dir, Y);
    await runAnalysis({
      design,
      out: join(dir, 'abs'),
      masking: { threshold: { type: 'absolute', value: 0.2 } },
      workers: 0,
    });
    const m = maskOf(join(dir, 'abs'));
    for (let v = 0; v < NV; v++) assert.equal(m[v], Y.every((y) => y[v] > 0.2) ? 1 : 0, `voxel ${v}`);
    // relative: TH_i = 0.8 * global_i, global = mean of voxels above (mean of all)/8
    await runAnalysis({
      design,
      out: join(dir, 'rel'),
      masking: { threshold: { type: 'relative', value: 0.8 } },
      workers: 0,
    });
    const mr = maskOf(join(dir, 'rel'));
    const th = Y.map((y) => {
      const mean = y.reduce((s, x) => s + x, 0) / NV;
      const above = [...y].filter((x) => x > mean / 8);
      return (0.8 * above.reduce((s, x) => s + x, 0)) / above.length;
    });
    for (let v = 0; v < NV; v++) assert.equal(mr[v], Y.every((y, i) => y[v] > th[i]) ? 1 : 0, `voxel ${v}`);
  } finally {
    cleanup();
  }
});

test('explicit mask on another grid is sampled by nearest neighbour in world coordinates', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(4);
    const Y = Array.from({ length: 6 }, () => Float32Array.from({ length: NV }, () => 1 + rng.normal()));
    const design = study(dir, Y);
    // a 1 mm RAS mask (the scans are 2 mm LAS), shifted by half a voxel; value = 1 where world x > 0.7 and z < 0.2
    const md: [number, number, number] = [20, 16, 14];
    const mAff = [
      [1, 0, 0, -9.5],
      [0, 1, 0, -6.5],
      [0, 0, 1, -5],
      [0, 0, 0, 1],
    ];
    const mdata = new Float32Array(md[0] * md[1] * md[2]);
    for (let k = 0; k < md[2]; k++)
      for (let j = 0; j < md[1]; j++)
        for (let i = 0; i < md[0]; i++) {
          const x = i - 9.5;
          const z = k - 5;
          mdata[i + md[0] * (j + md[1] * k)] = x > 0.7 && z < 0.2 ? 1 : 0;
        }
    writeFileSync(join(dir, 'mask.nii'), encodeNifti({ dims: md, affine: mAff, data: mdata }, { datatype: DT.UINT8 }));
    await runAnalysis({ design, out: join(dir, 'o'), masking: { explicitMask: join(dir, 'mask.nii') }, workers: 0 });
    const m = maskOf(join(dir, 'o'));
    let v = 0;
    for (let k = 0; k < DIMS[2]; k++)
      for (let j = 0; j < DIMS[1]; j++)
        for (let i = 0; i < DIMS[0]; i++, v++) {
          // world position of the scan voxel, then the nearest mask voxel
          const x = -2 * i + 6;
          const y = 2 * j - 4;
          const z = 2 * k - 3;
          const mi = Math.round(x + 9.5);
          const mj = Math.round(y + 6.5);
          const mk = Math.round(z + 5);
          const inside = mi >= 0 && mj >= 0 && mk >= 0 && mi < md[0] && mj < md[1] && mk < md[2];
          const expected = inside && mi - 9.5 > 0.7 && mk - 5 < 0.2 ? 1 : 0;
          assert.equal(m[v], expected, `voxel ${i},${j},${k} at (${x},${y},${z})`);
        }
  } finally {
    cleanup();
  }
});

test('an explicit mask file on the scans grid: in where its value is above 0, read from its bytes or decoded alike', () => {
  // planted values: the expected mask is value > 0, voxel by voxel; an int8 and a uint8 file of
  // the same values, a scaled one (decoded: slope -1 flips them), a float32 one, and another grid
  const rng = new Rng(21);
  const values = Float32Array.from({ length: NV }, () => rng.int(5) - 2);
  const expect = (v: Float32Array): number[] => [...v].map((x) => (x > 0 ? 1 : 0));
  const vol = { dims: DIMS, affine: AFFINE, data: values };
  const nonNegative = Float32Array.from(values, (x) => Math.max(0, x));
  const cases: [string, Uint8Array, number[]][] = [
    ['int8', encodeNifti(vol, { datatype: DT.INT8 }), expect(values)],
    ['uint8', encodeNifti({ ...vol, data: nonNegative }, { datatype: DT.UINT8 }), expect(nonNegative)],
    ['float32', encodeNifti(vol, { datatype: DT.FLOAT32 }), expect(values)],
    ['int16 scaled by -1', encodeNifti(vol, { datatype: DT.INT16, slope: -1, inter: 0 }), expect(values)],
  ];
  for (const [what, bytes, want] of cases) {
    const file = decodeNifti(bytes, `${what}.nii`);
    assert.deepEqual([...maskFileOnGrid(file, DIMS, AFFINE)], want, what);
    // the same as resampleMaskNearest of the decoded volume
    const decoded = { dims: file.header.dims, affine: file.header.affine, data: decodeVolume(file, 0) };
    assert.deepEqual(maskFileOnGrid(file, DIMS, AFFINE), resampleMaskNearest(decoded, DIMS, AFFINE), what);
  }
  // a uint8 mask shifted by one voxel in x: sampled, not read byte for byte
  const shifted = AFFINE.map((r) => r.slice());
  shifted[0][3] -= 2;
  const file = decodeNifti(encodeNifti({ ...vol, affine: shifted, data: nonNegative }, { datatype: DT.UINT8 }));
  const got = maskFileOnGrid(file, DIMS, AFFINE);
  const [nx, ny] = DIMS;
  for (let i = 0; i < NV; i++) {
    const x = i % nx;
    // scan voxel x sits at mask voxel x - 1 (x = 0 falls outside the mask's grid)
    const want = x === 0 ? 0 : (nonNegative[i - 1] ?? 0) > 0 ? 1 : 0;
    assert.equal(got[i], want, `voxel ${i} (x ${x}, y ${Math.floor(i / nx) % ny})`);
  }
});
