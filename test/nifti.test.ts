/**
 * NIfTI reading against real files written by SPM, FSL/nilearn tooling (../shared/data) whose
 * header facts are documented independently in data/SOURCES.md, and against files built byte by
 * byte here (NIfTI-2, .hdr/.img pairs, damaged files).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { needShared, sharedDir, tempDir } from './helpers.js';
import {
  openNifti,
  decodeVolume,
  readVolume,
  readHeaderOnly,
  readHeadersOnly,
  readPlainHeaders,
} from '../src/node/nifti/read.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT, datatypeInfo } from '../src/io/nifti/datatypes.js';
import { axisCodes } from '../src/io/nifti/affine.js';
import { VbmError } from '../src/errors.js';

const data = (f: string): string => join(sharedDir, 'data', f);

test(
  'grey.nii: big-endian, uint8 scaled by 1/255, qform with qfac = -1 and sform agree (LAS)',
  { skip: needShared },
  () => {
    const f = openNifti(data('templates/grey.nii'));
    assert.equal(f.header.littleEndian, false);
    assert.equal(f.header.datatype.name, 'uint8');
    assert.deepEqual(f.header.dims, [91, 109, 91]);
    assert.deepEqual(f.header.affine, [
      [-2, 0, 0, 90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
      [0, 0, 0, 1],
    ]);
    assert.equal(axisCodes(f.header.affine), 'LAS');
    // value = raw byte / 255, raw read straight from the file at vox_offset 352
    const raw = readFileSync(data('templates/grey.nii'));
    const v = decodeVolume(f);
    for (const idx of [0, 12345, 45 + 91 * (54 + 109 * 45), 400000]) {
      assert.ok(Math.abs(v[idx] - raw[352 + idx] / 255) < 1e-6, `voxel ${idx}`);
    }
    // The same file with its sform switched off must give the same affine from the qform:
    // that needs qfac (pixdim[0] = -1) honoured, or the z axis (and with it the handedness) flips.
    const { dir, cleanup } = tempDir();
    try {
      const copy = Buffer.from(raw);
      copy.writeInt16BE(0, 254); // sform_code = 0
      writeFileSync(join(dir, 'qonly.nii'), copy);
      const q = openNifti(join(dir, 'qonly.nii')).header.affine;
      for (let r = 0; r < 3; r++)
        for (let c = 0; c < 4; c++) assert.ok(Math.abs(q[r][c] - f.header.affine[r][c]) < 1e-5, `qform [${r}][${c}]`);
    } finally {
      cleanup();
    }
  },
);

test('ICBM152 .nii.gz: sform only (qform_code 0), RAS, uint8 without scaling', { skip: needShared }, async () => {
  const p = data('templates/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz');
  const h = await readHeaderOnly(p);
  assert.equal(h.qformCode, 0);
  assert.equal(h.sformCode, 2);
  assert.deepEqual(h.dims, [197, 233, 189]);
  assert.equal(axisCodes(h.affine), 'RAS');
  assert.deepEqual(h.affine[0], [1, 0, 0, -98]);
  const vol = readVolume(p);
  let max = 0;
  for (const x of vol.data) max = Math.max(max, x);
  assert.ok(max > 200 && max <= 255, `probability x255 without scaling, max ${max}`);
});

test(
  'mask_ICV.nii and the AAL/Harvard-Oxford atlases: CAT12 grid, uint16 labels, 4-D volumes',
  { skip: needShared },
  () => {
    const icv = openNifti(data('templates/mask_ICV.nii')).header;
    assert.deepEqual(icv.dims, [121, 145, 121]);
    assert.deepEqual(icv.affine[0], [-1.5, 0, 0, 90]);
    assert.deepEqual(icv.affine[1], [0, 1.5, 0, -126]);
    const aal = openNifti(data('atlases/atlas_aal.nii.gz'));
    assert.equal(aal.header.datatype.name, 'uint16');
    const labels = new Set(decodeVolume(aal));
    assert.ok(labels.has(4101), 'AAL2 code 4101 (Hippocampus_L) present');
    const ho = openNifti(data('atlases/atlas_harvard_oxford.nii.gz'));
    assert.equal(ho.header.nVolumes, 113);
    const last = decodeVolume(ho, 112);
    assert.equal(last.length, 151 * 194 * 159);
    assert.throws(() => decodeVolume(ho, 113), /holds 113/);
  },
);

test('round trip: every writable datatype, both byte orders, gzip, an oblique affine', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dims: [number, number, number] = [5, 4, 3];
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const affine = [
      [-2 * c, 2 * s, 0, 91.5],
      [2 * s, 2 * c, 0, -126.25],
      [0, 0, 2.5, -72],
      [0, 0, 0, 1],
    ];
    const values = Float32Array.from({ length: 60 }, (_, i) => (i % 7) * 3 - 1 + (i === 5 ? 0.5 : 0));
    for (const dt of [DT.FLOAT32, DT.FLOAT64, DT.INT16, DT.INT32, DT.INT8, DT.UINT16]) {
      for (const bigEndian of [false, true]) {
        for (const gzip of [false, true]) {
          const name = join(dir, `t${dt}${bigEndian ? 'be' : 'le'}.nii${gzip ? '.gz' : ''}`);
          const vals = dt === DT.UINT16 ? values.map((v) => Math.abs(v)) : values;
          writeFileSync(name, encodeNifti({ dims, affine, data: vals }, { datatype: dt, bigEndian, gzip }));
          const back = openNifti(name);
          assert.equal(back.header.littleEndian, !bigEndian);
          const got = decodeVolume(back);
          const isInt = dt !== DT.FLOAT32 && dt !== DT.FLOAT64;
          for (let i = 0; i < 60; i++)
            assert.equal(got[i], isInt ? Math.round(vals[i]) : vals[i], `dt ${dt} voxel ${i}`);
          for (let r = 0; r < 3; r++)
            for (let k = 0; k < 4; k++) assert.ok(Math.abs(back.header.affine[r][k] - affine[r][k]) < 1e-5);
          // the qform written beside the sform encodes the same geometry (what FSL reads first)
          const raw = gzip ? gunzipSync(readFileSync(name)) : readFileSync(name);
          if (bigEndian) raw.writeInt16BE(0, 254);
          else raw.writeInt16LE(0, 254);
          writeFileSync(name + '.q.nii', raw);
          const q = openNifti(name + '.q.nii').header.affine;
          for (let r = 0; r < 3; r++)
            for (let k = 0; k < 4; k++)
              assert.ok(Math.abs(q[r][k] - affine[r][k]) < 1e-4, `qform ${r},${k}: ${q[r][k]} vs ${affine[r][k]}`);
        }
      }
    }
    // scaled int16: stored raw = (v - inter)/slope
    const name = join(dir, 'scaled.nii');
    writeFileSync(name, encodeNifti({ dims, affine, data: values }, { datatype: DT.INT16, slope: 0.5, inter: 10 }));
    const got = readVolume(name).data;
    for (let i = 0; i < 60; i++) assert.equal(got[i], values[i]);
  } finally {
    cleanup();
  }
});

/** A NIfTI-2 file built field by field from the NIfTI-2 specification (independent of vbm's writer). */
function nifti2Bytes(dims: number[], affine: number[][], values: Float64Array): Buffer {
  const b = Buffer.alloc(544 + values.length * 8);
  b.writeInt32LE(540, 0);
  Buffer.from([0x6e, 0x2b, 0x32, 0x00, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 4);
  b.writeInt16LE(64, 12); // datatype float64
  b.writeInt16LE(64, 14);
  const dim = [3, ...dims, 1, 1, 1, 1];
  dim.forEach((d, i) => b.writeBigInt64LE(BigInt(d), 16 + 8 * i));
  [1, 2, 2, 2, 1, 1, 1, 1].forEach((v, i) => b.writeDoubleLE(v, 104 + 8 * i));
  b.writeBigInt64LE(544n, 168); // vox_offset
  b.writeDoubleLE(0, 176); // scl_slope 0 = no scaling
  b.writeInt32LE(0, 344); // qform_code
  b.writeInt32LE(4, 348); // sform_code
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) b.writeDoubleLE(affine[r][c], 400 + 8 * (r * 4 + c));
  values.forEach((v, i) => b.writeDoubleLE(v, 544 + 8 * i));
  return b;
}

test('NIfTI-2 (.nii and .nii.gz) and NIfTI-1 .hdr/.img pairs', () => {
  const { dir, cleanup } = tempDir();
  try {
    const affine = [
      [2, 0, 0, -10],
      [0, 2, 0, -20],
      [0, 0, 2, -30],
      [0, 0, 0, 1],
    ];
    const vals = Float64Array.from({ length: 24 }, (_, i) => i / 3);
    writeFileSync(join(dir, 'n2.nii'), nifti2Bytes([4, 3, 2], affine, vals));
    writeFileSync(join(dir, 'n2.nii.gz'), gzipSync(nifti2Bytes([4, 3, 2], affine, vals)));
    for (const f of ['n2.nii', 'n2.nii.gz']) {
      const v = readVolume(join(dir, f));
      assert.deepEqual(v.dims, [4, 3, 2]);
      assert.deepEqual(v.affine, affine);
      for (let i = 0; i < 24; i++) assert.ok(Math.abs(v.data[i] - vals[i]) < 1e-6);
    }
    // pair: header with magic 'ni1' and vox_offset 0; the voxels in the .img
    const single = Buffer.from(encodeNifti({ dims: [4, 3, 2], affine, data: Float32Array.from(vals) }));
    const hdr = Buffer.from(single.subarray(0, 348));
    hdr.write('ni1\0', 344, 'latin1');
    hdr.writeFloatLE(0, 108);
    writeFileSync(join(dir, 'pair.hdr'), hdr);
    writeFileSync(join(dir, 'pair.img'), single.subarray(352));
    for (const f of ['pair.hdr', 'pair.img']) {
      const v = readVolume(join(dir, f));
      assert.deepEqual(v.affine, affine);
      assert.ok(Math.abs(v.data[23] - vals[23]) < 1e-6);
    }
  } finally {
    cleanup();
  }
});

test('damaged files are refused with the file named and a way out', () => {
  const { dir, cleanup } = tempDir();
  try {
    const good = encodeNifti({
      dims: [10, 10, 10],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
      data: new Float32Array(1000),
    });
    writeFileSync(join(dir, 'short.nii'), good.subarray(0, 2000));
    const gz = gzipSync(good);
    writeFileSync(join(dir, 'cut.nii.gz'), gz.subarray(0, Math.floor(gz.length / 2)));
    writeFileSync(join(dir, 'text.nii'), Buffer.from('this is not an image'.repeat(30)));
    const expectErr = (f: string, re: RegExp): void =>
      assert.throws(
        () => readVolume(join(dir, f)),
        (e: unknown) => e instanceof VbmError && re.test(e.message) && e.message.includes(f) && !!e.hint,
      );
    expectErr('short.nii', /holds only 2000 bytes/);
    expectErr('cut.nii.gz', /corrupt or truncated/);
    expectErr('text.nii', /not a NIfTI/);
    assert.throws(() => readVolume(join(dir, 'missing.nii')), /not found: .*missing\.nii/);
  } finally {
    cleanup();
  }
});

test('decodeVolume: each stored value as float32 (Math.fround), every datatype and byte order, aligned or not', () => {
  // the values stored by DataView here (not by vbm's writer); the expected float32 is Math.fround of
  // the stored value (exact for the small integers, rounded to nearest for 2^24 + 1, 2^31 - 1, 0.1...)
  const candidates = [0, 1, -1, 127, -128, 255, 32767, -32768, 65535, 16777217, 2147483647, -2147483648, 4294967295];
  const types: [number, (v: number) => boolean, (d: DataView, o: number, v: number, le: boolean) => void][] = [
    [DT.UINT8, (v) => v >= 0 && v <= 255, (d, o, v) => d.setUint8(o, v)],
    [DT.INT8, (v) => v >= -128 && v <= 127, (d, o, v) => d.setInt8(o, v)],
    [DT.INT16, (v) => v >= -32768 && v <= 32767, (d, o, v, le) => d.setInt16(o, v, le)],
    [DT.UINT16, (v) => v >= 0 && v <= 65535, (d, o, v, le) => d.setUint16(o, v, le)],
    [DT.INT32, (v) => v >= -(2 ** 31) && v < 2 ** 31, (d, o, v, le) => d.setInt32(o, v, le)],
    [DT.UINT32, (v) => v >= 0 && v < 2 ** 32, (d, o, v, le) => d.setUint32(o, v, le)],
    [DT.FLOAT64, () => true, (d, o, v, le) => d.setFloat64(o, v, le)],
    [DT.INT64, (v) => Number.isInteger(v), (d, o, v, le) => d.setBigInt64(o, BigInt(v), le)],
  ];
  const voxOffset = 352;
  for (const [code, fits, set] of types) {
    const info = datatypeInfo(code)!;
    const values = [...candidates.filter(fits), ...(code === DT.FLOAT64 ? [0.1, -2.5e-7, 1e300] : [])];
    for (const littleEndian of [true, false])
      for (const shift of [0, 1]) {
        // `shift` puts the voxels at an odd address: the decoder must not view them as a typed array there
        const bytes = new Uint8Array(shift + voxOffset + values.length * info.bytes);
        const view = new DataView(bytes.buffer, shift);
        values.forEach((v, i) => set(view, voxOffset + i * info.bytes, v, littleEndian));
        const header = {
          ...openNiftiHeader(),
          dims: [values.length, 1, 1] as [number, number, number],
          nVolumes: 1,
          datatype: info,
          littleEndian,
          voxOffset,
          slope: 1,
          inter: 0,
        };
        const got = decodeVolume({ header, data: bytes.subarray(shift) });
        assert.deepEqual(
          [...got],
          values.map((v) => Math.fround(v)),
          `${info.name} ${littleEndian ? 'le' : 'be'} shift ${shift}`,
        );
      }
  }
});

/** A header to vary (the fields decodeVolume reads are overwritten by the caller). */
function openNiftiHeader() {
  const bytes = encodeNifti({
    dims: [1, 1, 1],
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    data: new Float32Array(1),
  });
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'one.nii'), bytes);
    return openNifti(join(dir, 'one.nii')).header;
  } finally {
    cleanup();
  }
}

test('readPlainHeaders: the headers readHeadersOnly gives, or undefined when a file is not a plain .nii', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const affine = [
      [-1.5, 0, 0, 90],
      [0, 1.5, 0, -126],
      [0, 0, 1.5, -72],
      [0, 0, 0, 1],
    ];
    const img = (dt: number, gzip = false): Uint8Array =>
      encodeNifti({ dims: [5, 6, 7], affine, data: new Float32Array(210).fill(3) }, { datatype: dt, gzip });
    const path = (f: string): string => join(dir, f);
    writeFileSync(path('a.nii'), img(DT.FLOAT32));
    writeFileSync(path('b.NII'), img(DT.INT16));
    writeFileSync(path('c.nii.gz'), img(DT.FLOAT32, true));
    writeFileSync(path('gz-named.nii'), img(DT.FLOAT32, true));
    writeFileSync(path('short.nii'), img(DT.FLOAT32).subarray(0, 600));
    writeFileSync(path('text.nii'), 'not an image'.repeat(40));
    mkdirSync(path('folder.nii'));
    // a2 and a3 share a's header bytes (parsed once, each its own header); b's differ
    writeFileSync(path('a2.nii'), img(DT.FLOAT32));
    writeFileSync(path('a3.nii'), img(DT.FLOAT32));
    const plain = [path('a.nii'), path('a2.nii'), path('b.NII'), path('a.nii'), path('a3.nii')];
    const got = readPlainHeaders(plain);
    assert.ok(got);
    assert.deepEqual([...got.keys()], [path('a.nii'), path('a2.nii'), path('b.NII'), path('a3.nii')]);
    assert.deepEqual(got, await readHeadersOnly(plain));
    assert.equal(got.get(path('a2.nii'))?.path, path('a2.nii'));
    got.get(path('a2.nii'))!.affine[0][3] = 1;
    got.get(path('a2.nii'))!.dims[0] = 1;
    assert.deepEqual(got.get(path('a.nii')), (await readHeadersOnly([path('a.nii')])).get(path('a.nii')));
    assert.equal(got.get(path('b.NII'))?.datatype.name, 'int16');
    // anything else: undefined, and readHeadersOnly (which the pipeline then calls) says what is wrong
    for (const f of ['c.nii.gz', 'gz-named.nii', 'short.nii', 'text.nii', 'folder.nii', 'missing.nii'])
      assert.equal(readPlainHeaders([path('a.nii'), path(f)]), undefined, f);
    await assert.rejects(readHeadersOnly([path('short.nii')]), /holds only 600 bytes/);
    await assert.rejects(readHeadersOnly([path('folder.nii')]), /is not a file/);
    await assert.rejects(readHeadersOnly([path('missing.nii')]), /image not found/);
    // a FIFO named as a scan: no wait for a writer, and the checked path refuses it
    if (spawnSync('mkfifo', [path('pipe.nii')]).status === 0) {
      assert.equal(readPlainHeaders([path('a.nii'), path('pipe.nii')]), undefined);
      await assert.rejects(readHeadersOnly([path('pipe.nii')]), /is not a file/);
    }
    // a gzip stream named .nii is still read, by the checked path
    assert.equal((await readHeadersOnly([path('gz-named.nii')])).size, 1);
  } finally {
    cleanup();
  }
});
