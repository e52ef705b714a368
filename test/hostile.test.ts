/**
 * Hostile files (issue 14, cases 1-4): a small file must not cost gigabytes. Each case builds
 * its file in a temporary folder, runs the CLI in a child process, and reads the child's peak
 * resident set size (getrusage maxRSS, all threads, reported by test/support/rssProbe.ts).
 * Required: exit code 2 (a vbm message, no stack trace), the file named, the claimed and the
 * actual sizes said, peak RSS under 300 MB, and no lock or output folder left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDeflateRaw, gzipSync } from 'node:zlib';
import { tempDir } from './helpers.js';
import { assertRefused, runCli } from './support/cli.js';
import { encodeNifti } from '../src/node/nifti/write.js';

/** The bound on peak memory for every hostile case. */
const RSS_LIMIT_MB = 300;

/** A 2x2x2 float32 NIfTI-1 whose header is then made to claim other dimensions. */
function niftiClaiming(dims: [number, number, number]): Uint8Array {
  const bytes = encodeNifti({
    dims: [2, 2, 2],
    affine: [
      [2, 0, 0, 0],
      [0, 2, 0, 0],
      [0, 0, 2, 0],
      [0, 0, 0, 1],
    ],
    data: new Float32Array(8),
  });
  const head = Uint8Array.from(bytes.subarray(0, 352));
  const v = new DataView(head.buffer);
  dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  return head;
}

function designCsv(dir: string, scans: string[]): string {
  const p = join(dir, 'design.csv');
  writeFileSync(p, ['scan,age', ...scans.map((s, i) => `${s},${20 + ((i * 7) % 50)}`)].join('\n') + '\n');
  return p;
}

test('case 1: a 352-byte .nii claiming 1000^3 (and 2000^3) float32 is refused from its size, under 300 MB', (t) => {
  const { dir, cleanup } = tempDir('vbm-hostile-');
  try {
    for (const n of [1000, 2000]) {
      // one such file per row (as a study of ten subjects would have them)
      for (let s = 0; s < 10; s++) writeFileSync(join(dir, `big${n}_${s}.nii`), niftiClaiming([n, n, n]));
      const design = designCsv(
        dir,
        Array.from({ length: 10 }, (_, s) => `big${n}_${s}.nii`),
      );
      const out = join(dir, `out${n}`);
      const r = runCli(['run', design, '--out', out, '-q']);
      t.diagnostic(`1: header claims ${n}^3 float32 in a 352-byte file: peak RSS ${r.rssMb.toFixed(0)} MB`);
      assertRefused(r, new RegExp(`big${n}_\\d\\.nii`), n === 1000 ? /4000000352 bytes/ : /claims|bytes/, /352 bytes/);
      assert.ok(r.rssMb < RSS_LIMIT_MB, `peak RSS ${r.rssMb} MB`);
      assert.equal(existsSync(out), false, 'no output folder (and no lock) left');
    }
  } finally {
    cleanup();
  }
});

test('case 2: a .nii.gz whose valid header is followed by 1 GB of zeros stops at the size the header describes, under 300 MB', (t) => {
  const { dir, cleanup } = tempDir('vbm-hostile-');
  try {
    const good = encodeNifti({
      dims: [20, 20, 20],
      affine: [
        [2, 0, 0, 0],
        [0, 2, 0, 0],
        [0, 0, 2, 0],
        [0, 0, 0, 1],
      ],
      data: new Float32Array(8000).fill(1),
    });
    // gzip members concatenate into one stream: the image, then 16 x 64 MB of zeros (4.7 MB on disk)
    const zeros = gzipSync(Buffer.alloc(64 << 20), { level: 1 });
    const bomb = Buffer.concat([gzipSync(good), ...Array.from({ length: 16 }, () => zeros)]);
    writeFileSync(join(dir, 'bomb1.nii.gz'), bomb);
    writeFileSync(join(dir, 'bomb2.nii.gz'), bomb);
    writeFileSync(join(dir, 'ok.nii'), good);
    const design = designCsv(dir, ['bomb1.nii.gz', 'bomb2.nii.gz', 'ok.nii']);
    const out = join(dir, 'out');
    const r = runCli(['run', design, '--out', out, '--workers', '2', '-q']);
    t.diagnostic(
      `2: .nii.gz with 1 GB of zeros after the image (${(bomb.length / 1e6).toFixed(1)} MB on disk), 2 workers: peak RSS ${r.rssMb.toFixed(0)} MB`,
    );
    assertRefused(r, /bomb[12]\.nii\.gz/, /holds more data than its header describes/, /32352 bytes/);
    assert.ok(r.rssMb < RSS_LIMIT_MB, `peak RSS ${r.rssMb} MB`);
    assert.equal(existsSync(join(out, '.vbm-lock')), false, 'no lock left');
  } finally {
    cleanup();
  }
});

/** A zip holding one deflated entry of `bytes` zeros, built by hand (CRC left 0: the bound is checked first). */
async function zipBomb(bytes: number): Promise<Buffer> {
  const deflated = await new Promise<Buffer>((resolve, reject) => {
    const d = createDeflateRaw({ level: 1 });
    const parts: Buffer[] = [];
    d.on('data', (c: Buffer) => parts.push(c));
    d.on('end', () => resolve(Buffer.concat(parts)));
    d.on('error', reject);
    const chunk = Buffer.alloc(64 << 20);
    for (let done = 0; done < bytes; done += chunk.length) d.write(chunk);
    d.end();
  });
  const name = Buffer.from('xl/worksheets/sheet1.xml');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(deflated.length, 18);
  local.writeUInt32LE(bytes >>> 0, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(deflated.length, 20);
  // the declared size lies (1 KB): only inflating tells the truth
  central.writeUInt32LE(1024, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length + name.length + deflated.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, deflated, central, name, end]);
}

test('case 3: an .xlsx inflating to 512 MB (declaring 1 KB) is refused before it is read, under 300 MB, leaving no lock', async (t) => {
  const { dir, cleanup } = tempDir('vbm-hostile-');
  try {
    const bomb = await zipBomb(512 << 20);
    writeFileSync(join(dir, 'design.xlsx'), bomb);
    const out = join(dir, 'out');
    const r = runCli(['run', join(dir, 'design.xlsx'), '--out', out, '-q']);
    t.diagnostic(
      `3: .xlsx of ${(bomb.length / 1e6).toFixed(1)} MB inflating to 512 MB: peak RSS ${r.rssMb.toFixed(0)} MB`,
    );
    assertRefused(r, /design\.xlsx/, /inflates to more than 64 MB/, /sheet1\.xml/);
    assert.ok(r.rssMb < RSS_LIMIT_MB, `peak RSS ${r.rssMb} MB`);
    assert.equal(existsSync(out), false, 'no output folder and no lock left');
  } finally {
    cleanup();
  }
});

test(
  'case 4: 100,000 rows naming one 3-volume 4-D file: the right error, in linear time, under 300 MB',
  { timeout: 60_000 },
  (t) => {
    // before: 92 s (the scan list was copied for every row); the 60 s timeout is a generous
    // guard against the quadratic path coming back, not a measurement
    const { dir, cleanup } = tempDir('vbm-hostile-');
    try {
      const vol = encodeNifti({
        dims: [4, 4, 4],
        affine: [
          [2, 0, 0, 0],
          [0, 2, 0, 0],
          [0, 0, 2, 0],
          [0, 0, 0, 1],
        ],
        data: new Float32Array(64),
      });
      // make it 4-D: dim[0] = 4, dim[4] = 3, and append two more volumes
      const four = Buffer.concat([Buffer.from(vol), Buffer.alloc(2 * 64 * 4)]);
      four.writeInt16LE(4, 40);
      four.writeInt16LE(3, 48);
      writeFileSync(join(dir, 'series.nii'), four);
      const design = designCsv(
        dir,
        Array.from({ length: 100_000 }, () => 'series.nii'),
      );
      const r = runCli(['run', design, '--out', join(dir, 'out'), '-q']);
      t.diagnostic(`4: 100,000 rows naming one 4-D file: peak RSS ${r.rssMb.toFixed(0)} MB`);
      assertRefused(r, /series\.nii holds 3 volumes but 100000 row\(s\)/);
      assert.ok(r.rssMb < RSS_LIMIT_MB, `peak RSS ${r.rssMb} MB`);
    } finally {
      cleanup();
    }
  },
);
