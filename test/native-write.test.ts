/**
 * The images' native writer (native/vbm_write.c through nativeImageWriter) against the JavaScript
 * encoder it stands in for (images.ts ImageJob.encode, node/contentHash.ts bytesContentHash): the file
 * it writes must be encode()'s bytes exactly and its digest the bytes' content hash, for float32 and
 * float64 images, NaN or 0 outside the mask, one column of voxel-major values (stride, offset), values
 * that float32 rounds, NaN, -0 and infinities among them, grids smaller and larger than the writer's
 * slab (runs of masked voxels across its edges) and an empty mask. Tolerance: none (bytes). A file
 * that cannot be opened or written rejects with the system's code and the path, which errors.ts turns
 * into a vbm message (or, for a code it does not know, shows with the path in the message); a full disk
 * (a 64 KiB tmpfs, root only) likewise. Voxels that do not ascend, or one past the grid, are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onSmallDisk, tempDir } from './helpers.js';
import { loadNativeFit, nativeImageWriter } from '../src/estimation/nativeFit.js';
import { contrastImageJobs, estimateImageJobs, type ImageJob } from '../src/estimation/images.js';
import type { FittedModel } from '../src/estimation/fitSolve.js';
import type { ContrastMaps } from '../src/estimation/contrastMaps.js';
import { bytesContentHash } from '../src/node/contentHash.js';
import { VbmError, fileErrorAsVbmError } from '../src/errors.js';
import { Rng } from '../src/random.js';

const NO_WRITER = 'no native image writer in this build (VBM_NATIVE=0, no C compiler, or no XXH3 header)';

test("an addon that hashes the fit's pieces has the image writer too (so the end-to-end runs compare it with the JavaScript path)", (t) => {
  const native = loadNativeFit();
  if (!native?.fitRangeHashes) return t.skip(NO_WRITER);
  assert.ok(nativeImageWriter(), 'nativeImageWriter() where the addon was built with XXH3');
  process.env.VBM_FIT_KERNEL = 'wasm';
  try {
    assert.equal(nativeImageWriter(), undefined, 'VBM_FIT_KERNEL=wasm turns the writer off');
  } finally {
    delete process.env.VBM_FIT_KERNEL;
  }
});

/** A fitted model's fields the images read: a random mask of about `fill` of the grid, p betas per voxel. */
function model(rng: Rng, dims: [number, number, number], p: number, fill: number): Omit<FittedModel, 'smoothness'> {
  const nvox = dims[0] * dims[1] * dims[2];
  const vox: number[] = [];
  // runs of masked voxels (as a brain's rows are), some crossing the writer's slab edges
  for (let i = 0; i < nvox;) {
    const run = 1 + Math.floor(rng.uniform() * 300);
    if (rng.uniform() < fill) for (let j = i; j < Math.min(nvox, i + run); j++) vox.push(j);
    i += run;
  }
  const m = vox.length;
  const special = [NaN, -0, Infinity, -Infinity, 3.4028235677973366e38, 1e-310, 1 / 3];
  const value = (k: number): number => (k % 97 === 5 ? special[k % special.length] : 1e3 * rng.normal());
  const mask = new Uint8Array(nvox);
  for (const v of vox) mask[v] = 1;
  return {
    dims,
    affine: [
      [-1.5, 0, 0, 90],
      [0, 1.5, 0, -126],
      [0, 0, 1.5, -72],
      [0, 0, 0, 1],
    ],
    vox: Int32Array.from(vox),
    p,
    mask,
    beta: Float64Array.from({ length: m * p }, (_, i) => value(i)),
    resMS: Float64Array.from({ length: m }, (_, k) => value(k)),
  } as unknown as Omit<FittedModel, 'smoothness'>;
}

/** Each job written by the native writer into dir: its bytes equal encode()'s and its digest their content hash. */
async function assertSameAsEncode(dir: string, jobs: ImageJob[]): Promise<number> {
  const writer = nativeImageWriter();
  assert.ok(writer);
  let checked = 0;
  for (const job of jobs) {
    if (!job.grid) continue;
    const path = join(dir, job.name);
    const digest = await writer(path, job.grid());
    const want = job.encode();
    const got = readFileSync(path);
    assert.equal(got.length, want.length, `${job.name}: size`);
    assert.ok(got.equals(want), `${job.name}: the bytes of encode()`);
    assert.equal(digest, bytesContentHash(want), `${job.name}: the content hash of its bytes`);
    checked++;
  }
  return checked;
}

test("the native image writer writes encode()'s bytes and their content hash (float32 and float64, slab edges, special values)", async (t) => {
  if (!nativeImageWriter()) return t.skip(NO_WRITER);
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(31);
    // grids smaller than the writer's slab of 2^17 voxels, and several slabs with a partial last one
    for (const [dims, fill] of [
      [[3, 5, 7], 0.6],
      [[61, 73, 61], 0.5],
      [[70, 60, 40], 0.9],
    ] as [[number, number, number], number][]) {
      const fit = model(rng, dims, 3, fill);
      const m = fit.vox.length;
      // betas: float32 NaN outside, one column of voxel-major values each; ResMS: float64 NaN outside
      const checked = await assertSameAsEncode(dir, estimateImageJobs(fit, ['a', 'b', 'c']));
      assert.equal(checked, 4, 'three betas and ResMS');
      // a T contrast's images: con float32 NaN outside, spmT float32 0 outside
      const maps = {
        contrast: { index: 1, name: 'a', type: 'T', weights: [1, 0, 0] },
        effect: Float64Array.from({ length: m }, () => rng.normal()),
        stat: Float64Array.from({ length: m }, (_, k) => (k % 50 === 0 ? NaN : 5 * rng.normal())),
        df: [1, 30],
      } as unknown as ContrastMaps;
      const { effect, stat } = contrastImageJobs(fit, maps);
      assert.equal(await assertSameAsEncode(dir, [effect, stat]), 2);
    }
    // an empty mask: all outside
    const empty = model(rng, [4, 4, 4], 1, 0);
    assert.equal(empty.vox.length, 0);
    assert.equal(await assertSameAsEncode(dir, estimateImageJobs(empty, ['a'])), 2);
  } finally {
    cleanup();
  }
});

test('the native image writer refuses voxels that do not ascend, and names the file it cannot write', async (t) => {
  const writer = nativeImageWriter();
  if (!writer) return t.skip(NO_WRITER);
  const { dir, cleanup } = tempDir();
  try {
    const fit = model(new Rng(4), [10, 10, 10], 1, 0.5);
    const job = estimateImageJobs(fit, ['a'])[0];
    const parts = job.grid!();
    const swapped = Int32Array.from(parts.vox);
    [swapped[0], swapped[1]] = [swapped[1], swapped[0]];
    await assert.rejects(writer(join(dir, 'x.nii'), { ...parts, vox: swapped }), /voxels must ascend/);
    // a voxel past the grid's last one (checked as the slabs reach it, on the writer's thread)
    const past = Int32Array.from(parts.vox);
    past[past.length - 1] = parts.nvox;
    await assert.rejects(writer(join(dir, 'y.nii'), { ...parts, vox: past }), /voxels must ascend within the grid/);
    // a folder that does not exist: ENOENT from open, with the path
    const missing = join(dir, 'no-such-folder', '.beta_0001.nii.tmp-1-abc');
    const err = await writer(missing, parts).then(
      () => assert.fail('wrote into a missing folder'),
      (e: unknown) => e as Error & { code?: string; path?: string; syscall?: string },
    );
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.path, missing);
    assert.equal(err.syscall, 'open');
    const shown = fileErrorAsVbmError(err);
    assert.ok(shown instanceof VbmError);
    assert.match(shown.message, /no-such-folder[\\/]beta_0001\.nii: no such file or folder/);
    // a code errors.ts has no message for (a name longer than a folder entry may be): the code, and the path
    // in the message, as Node's fs errors have them
    const long = join(dir, `.${'b'.repeat(300)}.nii.tmp-1-abc`);
    const tooLong = await writer(long, parts).then(
      () => assert.fail('wrote a file of a 300-byte name'),
      (e: unknown) => e as Error & { code?: string; path?: string; syscall?: string },
    );
    assert.equal(tooLong.code, 'ENAMETOOLONG');
    assert.equal(tooLong.syscall, 'open');
    assert.ok(tooLong.message.includes(long), tooLong.message);
    assert.equal(fileErrorAsVbmError(tooLong), tooLong);
  } finally {
    cleanup();
  }
});

test('the native image writer on a full disk: ENOSPC with the path, as a vbm message (a 64 KiB tmpfs; root)', async (t) => {
  const writer = nativeImageWriter();
  if (!writer) return t.skip(NO_WRITER);
  const skipped = await onSmallDisk('64k', async (small) => {
    const fit = model(new Rng(5), [40, 40, 40], 1, 0.5); // 256 KB of float32: more than the disk holds
    const job = estimateImageJobs(fit, ['a'])[0];
    const path = join(small, '.beta_0001.nii.tmp-1-abc');
    const err = await writer(path, job.grid!()).then(
      () => assert.fail('wrote 256 KB onto a 64 KiB disk'),
      (e: unknown) => e as Error & { code?: string; path?: string; syscall?: string },
    );
    assert.equal(err.code, 'ENOSPC');
    assert.equal(err.syscall, 'write');
    const shown = fileErrorAsVbmError(err);
    assert.ok(shown instanceof VbmError);
    assert.match(shown.message, /no space left on the device that holds .*small[\\/]beta_0001\.nii/);
  });
  if (skipped) t.skip(skipped);
});
