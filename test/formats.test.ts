/**
 * Issue 14, cases 12-13: CIFTI files are refused with what they are; Analyze 7.5 pairs are read
 * as SPM12 reads them (mayo2nifti1.m, nifti.m): orientation from SPM's .mat file beside the
 * image (`mat` as it is, SPM99's `M` flipped in x), else from the voxel sizes and the
 * "originator" field with x flipped; SPM's matrices map 1-based voxels. Every file is built
 * byte by byte here; expected affines are written out by hand from those rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readHeaderOnly, readVolume } from '../src/node/nifti/read.js';
import { analyzeWarning } from '../src/io/nifti/analyze.js';
import { VbmError } from '../src/errors.js';
import { makeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';

/** A 4x4x1 float32 image whose header declares NIfTI intent `code` (CIFTI-2 uses 3001-3099). */
const withIntent = (code: number): Uint8Array =>
  encodeNifti(
    {
      dims: [4, 4, 1],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      data: new Float32Array(16),
    },
    { intent: { code } },
  );

test('case 12: CIFTI-2 files (intent 3001-3099) are refused, saying what they are', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'sub.dconn.nii');
    writeFileSync(p, withIntent(3002));
    const check = (e: unknown): boolean =>
      e instanceof VbmError &&
      /sub\.dconn\.nii: a CIFTI-2 dense connectivity file \(\.dconn\.nii\), not a volume/.test(e.message) &&
      /volumetric/.test(e.hint ?? '');
    assert.throws(() => readVolume(p), check);
    await assert.rejects(readHeaderOnly(p), check);
    const q = join(dir, 'x.nii');
    writeFileSync(q, withIntent(3099));
    assert.throws(() => readVolume(q), /CIFTI-2 file \(intent code 3099\)/);
  } finally {
    cleanup();
  }
});

interface AnalyzeSpec {
  dims: [number, number, number];
  vox: [number, number, number];
  origin: [number, number, number];
  datatype: number;
  bitpix: number;
  scale?: number;
  inter?: number;
  littleEndian?: boolean;
}

/** An Analyze 7.5 header (SPM's variant: originator as int16 x 5 at byte 253). */
function analyzeHeader(s: AnalyzeSpec): Buffer {
  const h = Buffer.alloc(348);
  const le = s.littleEndian ?? true;
  const i32 = (o: number, v: number): number => (le ? h.writeInt32LE(v, o) : h.writeInt32BE(v, o));
  const i16 = (o: number, v: number): number => (le ? h.writeInt16LE(v, o) : h.writeInt16BE(v, o));
  const f32 = (o: number, v: number): number => (le ? h.writeFloatLE(v, o) : h.writeFloatBE(v, o));
  i32(0, 348);
  h.write('dsr', 4);
  i32(32, 16384);
  h.write('r', 38);
  [3, ...s.dims, 1, 0, 0, 0].forEach((d, i) => i16(40 + 2 * i, d));
  i16(70, s.datatype);
  i16(72, s.bitpix);
  [0, ...s.vox].forEach((v, i) => f32(76 + 4 * i, v));
  f32(108, 0);
  f32(112, s.scale ?? 1);
  f32(116, s.inter ?? 0);
  h.write('built byte by byte', 148);
  s.origin.forEach((o, i) => i16(253 + 2 * i, o));
  return h;
}

/** A MATLAB level 5 file holding one 4x4 double matrix (name of up to 4 bytes in the small-element form); optionally compressed. */
function matV5(name: string, m: number[][], compressed = false): Buffer {
  const head = Buffer.alloc(128, 0x20);
  head.write('MATLAB 5.0 MAT-file, built byte by byte', 0);
  head.fill(0, 116, 124);
  head.writeUInt16LE(0x0100, 124);
  head.write('IM', 126);
  const flags = Buffer.alloc(16);
  flags.writeUInt32LE(6, 0);
  flags.writeUInt32LE(8, 4);
  flags.writeUInt32LE(6, 8); // mxDOUBLE_CLASS
  const dims = Buffer.alloc(16);
  dims.writeUInt32LE(5, 0);
  dims.writeUInt32LE(8, 4);
  dims.writeInt32LE(4, 8);
  dims.writeInt32LE(4, 12);
  const nameEl = Buffer.alloc(8);
  nameEl.writeUInt32LE((name.length << 16) | 1, 0);
  nameEl.write(name, 4);
  const real = Buffer.alloc(8 + 128);
  real.writeUInt32LE(9, 0);
  real.writeUInt32LE(128, 4);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) real.writeDoubleLE(m[r][c], 8 + 8 * (c * 4 + r));
  const body = Buffer.concat([flags, dims, nameEl, real]);
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(14, 0);
  tag.writeUInt32LE(body.length, 4);
  const element = Buffer.concat([tag, body]);
  if (!compressed) return Buffer.concat([head, element]);
  const z = deflateSync(element);
  const ctag = Buffer.alloc(8);
  ctag.writeUInt32LE(15, 0);
  ctag.writeUInt32LE(z.length, 4);
  return Buffer.concat([head, ctag, z]);
}

/** A MATLAB level 4 file (as SPM99 wrote): one little-endian double matrix. */
function matV4(name: string, m: number[][]): Buffer {
  const h = Buffer.alloc(20);
  h.writeInt32LE(0, 0);
  h.writeInt32LE(4, 4);
  h.writeInt32LE(4, 8);
  h.writeInt32LE(0, 12);
  h.writeInt32LE(name.length + 1, 16);
  const d = Buffer.alloc(128);
  for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) d.writeDoubleLE(m[r][c], 8 * (c * 4 + r));
  return Buffer.concat([h, Buffer.from(`${name}\0`), d]);
}

const DIMS: [number, number, number] = [4, 5, 6];
/** Voxel (i, j, k) 0-based holds i + 10 j + 100 k (int16 on disk). */
function imgInt16(le = true, flipX = false): Buffer {
  const b = Buffer.alloc(2 * 120);
  for (let k = 0; k < 6; k++)
    for (let j = 0; j < 5; j++)
      for (let i = 0; i < 4; i++) {
        const v = (flipX ? 3 - i : i) + 10 * j + 100 * k;
        const o = 2 * (i + 4 * (j + 5 * k));
        if (le) b.writeInt16LE(v, o);
        else b.writeInt16BE(v, o);
      }
  return b;
}

/** SPM's 1-based matrix as vbm's 0-based affine, by hand: the translation plus one of each column. */
const shift = (m: number[][]): number[][] => m.map((r) => [r[0], r[1], r[2], r[3] + r[0] + r[1] + r[2]]);

function assertAffine(actual: number[][], expected: number[][]): void {
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++)
      assert.ok(
        Math.abs(actual[r][c] - expected[r][c]) < 1e-9,
        `affine[${r}][${c}] = ${actual[r][c]}, expected ${expected[r][c]}`,
      );
}

test('case 13: Analyze 7.5 without a .mat: voxel sizes, originator, x flipped (SPM default), scaling; both byte orders; a warning', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (const le of [true, false]) {
      const base = join(dir, le ? 'le' : 'be');
      writeFileSync(
        `${base}.hdr`,
        analyzeHeader({
          dims: DIMS,
          vox: [2, 3, 4],
          origin: [2, 3, 4],
          datatype: 4,
          bitpix: 16,
          scale: 0.5,
          inter: 1,
          littleEndian: le,
        }),
      );
      writeFileSync(`${base}.img`, imgInt16(le));
      const v = readVolume(`${base}.img`);
      assert.deepEqual(v.dims, DIMS);
      // SPM: mat = diag(-1,1,1,1) * [vox, -vox .* origin], 1-based; world of voxel (origin - 1) is 0
      assertAffine(
        v.affine,
        shift([
          [-2, 0, 0, 4],
          [0, 3, 0, -9],
          [0, 0, 4, -16],
          [0, 0, 0, 1],
        ]),
      );
      assert.equal(v.data[1 + 4 * (2 + 5 * 3)], (1 + 20 + 300) * 0.5 + 1, 'roi_scale and funused1 scale the values');
      const h = await readHeaderOnly(`${base}.hdr`);
      assert.equal(h.format, 'analyze');
      assert.match(analyzeWarning(h) ?? '', /left and right cannot be known from an Analyze header alone/);
    }
    // no originator: the centre of the volume, (dim + 1) / 2 in 1-based voxels
    writeFileSync(
      join(dir, 'c.hdr'),
      analyzeHeader({ dims: DIMS, vox: [2, 2, 2], origin: [0, 0, 0], datatype: 4, bitpix: 16 }),
    );
    writeFileSync(join(dir, 'c.img'), imgInt16());
    assertAffine(
      readVolume(join(dir, 'c.hdr')).affine,
      shift([
        [-2, 0, 0, 5],
        [0, 2, 0, -6],
        [0, 0, 2, -7],
        [0, 0, 0, 1],
      ]),
    );
  } finally {
    cleanup();
  }
});

test("case 13: Analyze 7.5 with SPM's .mat beside it (level 5 `mat`, compressed `M`, level 4 `M`); LAS and RAS storage agree in world space", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ras = [
      [2, 0, 0, -10],
      [0, 3, 0, -20],
      [0, 0, 4, -30],
      [0, 0, 0, 1],
    ];
    // `mat` is used as it is
    writeFileSync(
      join(dir, 'a.hdr'),
      analyzeHeader({ dims: DIMS, vox: [9, 9, 9], origin: [1, 1, 1], datatype: 4, bitpix: 16 }),
    );
    writeFileSync(join(dir, 'a.img'), imgInt16());
    writeFileSync(join(dir, 'a.mat'), matV5('mat', ras));
    const a = readVolume(join(dir, 'a.img'));
    assertAffine(a.affine, shift(ras));
    assert.equal((await readHeaderOnly(join(dir, 'a.hdr'))).orientationFrom, 'mat-file');
    // SPM99's `M` is flipped in x, as SPM12 does: compressed level 5, and level 4
    const flipped = [
      [-2, 0, 0, 10],
      [0, 3, 0, -20],
      [0, 0, 4, -30],
      [0, 0, 0, 1],
    ];
    for (const [name, mat] of [
      ['b', matV5('M', ras, true)],
      ['c', matV4('M', ras)],
    ] as const) {
      writeFileSync(
        join(dir, `${name}.hdr`),
        analyzeHeader({ dims: DIMS, vox: [9, 9, 9], origin: [1, 1, 1], datatype: 4, bitpix: 16 }),
      );
      writeFileSync(join(dir, `${name}.img`), imgInt16());
      writeFileSync(join(dir, `${name}.mat`), mat);
      assertAffine(readVolume(join(dir, `${name}.hdr`)).affine, shift(flipped));
    }
    // the same image stored LAS (x reversed on disk, `mat` saying so) reads to the same world values
    const las = [
      [-2, 0, 0, 2 * 5 - 10 - 2 * 0],
      [0, 3, 0, -20],
      [0, 0, 4, -30],
      [0, 0, 0, 1],
    ];
    // 1-based voxel i' = 5 - i maps to the same x: x = 2 (5 - i') - 10 + ... => mat row 0 = [-2, 0, 0, 2 * 5 - 10]
    writeFileSync(
      join(dir, 'l.hdr'),
      analyzeHeader({ dims: DIMS, vox: [2, 3, 4], origin: [0, 0, 0], datatype: 4, bitpix: 16 }),
    );
    writeFileSync(join(dir, 'l.img'), imgInt16(true, true));
    writeFileSync(join(dir, 'l.mat'), matV5('mat', las));
    const l = readVolume(join(dir, 'l.img'));
    const world = (aff: number[][], i: number, j: number, k: number): number[] =>
      [0, 1, 2].map((r) => aff[r][0] * i + aff[r][1] * j + aff[r][2] * k + aff[r][3]);
    for (let k = 0; k < 6; k++)
      for (let j = 0; j < 5; j++)
        for (let i = 0; i < 4; i++) {
          const li = 3 - i; // where the LAS file keeps RAS voxel i
          assert.deepEqual(world(l.affine, li, j, k), world(a.affine, i, j, k));
          assert.equal(l.data[li + 4 * (j + 5 * k)], a.data[i + 4 * (j + 5 * k)]);
        }
    // a damaged .mat is a vbm message naming it
    writeFileSync(join(dir, 'a.mat'), Buffer.concat([matV5('mat', ras).subarray(0, 150)]));
    assert.throws(
      () => readVolume(join(dir, 'a.img')),
      (e: unknown) => e instanceof VbmError && /a\.mat: not a readable MATLAB \.mat file/.test(e.message),
    );
  } finally {
    cleanup();
  }
});

test('case 13: a study of Analyze scans is analysed, with the left-right warning', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 6, dims: [10, 12, 10], voxelMm: 12, noiseFwhmMm: 20, seed: 9 });
    const lines = ['scan,age'];
    for (let s = 0; s < 6; s++) {
      writeFileSync(
        join(dir, `s${s}.hdr`),
        analyzeHeader({ dims: cohort.dims, vox: [12, 12, 12], origin: [6, 7, 5], datatype: 16, bitpix: 32 }),
      );
      const data = cohort.scan(s);
      writeFileSync(join(dir, `s${s}.img`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      lines.push(`s${s}.img,${cohort.covariates.age[s]}`);
    }
    writeFileSync(join(dir, 'design.csv'), lines.join('\n') + '\n');
    const logs: string[] = [];
    const res = await runAnalysis({
      design: join(dir, 'design.csv'),
      out: join(dir, 'out'),
      log: (m) => logs.push(m),
      workers: 0,
    });
    assert.ok(res.fit.vox.length > 0);
    assert.ok(
      logs.some((l) => /^warning: .*s0\.hdr is an Analyze 7\.5 image: left and right cannot be known/.test(l)),
      logs.join('\n'),
    );
    assertAffine(
      res.record.grid.affine,
      shift([
        [-12, 0, 0, 72],
        [0, 12, 0, -84],
        [0, 0, 12, -60],
        [0, 0, 0, 1],
      ]),
    );
  } finally {
    cleanup();
  }
});
