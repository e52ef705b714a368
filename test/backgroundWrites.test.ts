/**
 * `vbm run` writes the images of a new analysis on the addon's threads (native/vbm_write.c, through
 * pipeline/outputs.ts ImageWrites) or on libuv's (StagedFiles' background mode): a full disk there is
 * still a vbm message naming the file, and nothing half-written is left (the temporary files are
 * removed only once every background write has finished).
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { onSmallDisk, repoRoot, tempDir } from './helpers.js';
import { assertRefused, runCli } from './support/cli.js';

const FAULTS = join(repoRoot, 'dist', 'test', 'support', 'fsFaults.js');

test('a full disk while a new analysis writes its images: a vbm message, and no file left behind', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { design } = writeStudy(dir, { n: 8, dims: [12, 14, 12], voxelMm: 10, noiseFwhmMm: 16, seed: 9 });
    const out = join(dir, 'new');
    const full = runCli(['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age', '-q'], {
      preload: [FAULTS],
      env: { VBM_TEST_FS_FAULT: `ENOSPC:${out}` },
    });
    assertRefused(full, /no space left on the device that holds .*new/, /nothing half-written was kept/);
    // the folder this run created goes again when it is left empty
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
    // and the same command with room on the disk writes the analysis
    const ok = runCli(['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age', '-q']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(existsSync(join(out, 'spmT_0001.nii')) && existsSync(join(out, 'model.json')));
  } finally {
    cleanup();
  }
});

test('a background write that throws before it starts still calls onWritten, and flushed() throws its error', async () => {
  const fs = (await import('node:fs')).default;
  const { syncBuiltinESMExports } = await import('node:module');
  const { StagedFiles } = await import('../src/node/atomic.js');
  const { dir, cleanup } = tempDir();
  const original = fs.writeFile;
  try {
    // fs.writeFile throws synchronously on bad arguments, before any callback is set up
    fs.writeFile = (() => {
      throw new TypeError('simulated: bad arguments');
    }) as unknown as typeof fs.writeFile;
    syncBuiltinESMExports();
    const staged = new StagedFiles({ background: true });
    let written = 0;
    // an image waiting for a buffer waits for this call (pipeline/outputs.ts ImageBuffers)
    staged.write(join(dir, 'a.nii'), new Uint8Array(10), () => written++);
    assert.equal(written, 1, 'onWritten called once');
    await assert.rejects(staged.flushed(), /simulated: bad arguments/);
    staged.abort();
  } finally {
    fs.writeFile = original;
    syncBuiltinESMExports();
    cleanup();
  }
});

test(
  "images written by a writer of their own (vbm run's native one): one fails while others wait for a slot; the others are written, at most IMAGES_IN_FLIGHT at once, flushed() throws the failure and abort() leaves nothing",
  { timeout: 60_000 },
  async () => {
    const { writeFileSync } = await import('node:fs');
    const { StagedFiles } = await import('../src/node/atomic.js');
    const { ImageWrites, IMAGES_IN_FLIGHT } = await import('../src/pipeline/outputs.js');
    const { dir, cleanup } = tempDir();
    try {
      const staged = new StagedFiles({ background: true, hashes: true });
      let running = 0;
      let most = 0;
      const calls: string[] = [];
      let settled = 0;
      // a writer that takes a few ms per file, and finds the disk full at the second image
      const writes = new ImageWrites(dir, staged, async (tmp, parts) => {
        const nth = calls.push(tmp);
        most = Math.max(most, ++running);
        try {
          await new Promise((r) => setTimeout(r, 5));
          if (nth === 2) {
            writeFileSync(tmp, parts.header.subarray(0, 100)); // half a file, as a full disk leaves it
            throw Object.assign(new Error('write: No space left on device'), { code: 'ENOSPC', path: tmp });
          }
          writeFileSync(tmp, parts.header);
          return '0'.repeat(32);
        } finally {
          running--;
          settled++;
        }
      });
      const grid = () => ({
        header: new Uint8Array(352),
        vox: new Int32Array(0),
        values: new Float64Array(0),
        stride: 1,
        offset: 0,
        outside: 0,
        f32: true,
        nvox: 0,
      });
      const jobs = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ name: `${n}.nii`, encode: () => new Uint8Array(8), grid }));
      // one without parts (the mask) is encoded and staged as stageImageJobs stages it
      jobs.push({ name: 'mask.nii', encode: () => new Uint8Array(8), grid: undefined as unknown as typeof grid });
      await writes.add(jobs);
      assert.equal(settled, 5, 'add() resolves once every write is over, the failed one too');
      assert.equal(calls.length, 5, 'the writes queued behind the failed one are still made');
      assert.ok(most <= IMAGES_IN_FLIGHT && most > 1, `at most IMAGES_IN_FLIGHT at once (${most})`);
      await assert.rejects(staged.flushed(), (e: Error & { code?: string }) => e.code === 'ENOSPC');
      assert.equal(readdirSync(dir).length, 6, 'five temporaries (one half-written) and the mask staged');
      staged.abort();
      assert.deepEqual(readdirSync(dir), [], 'no temporary file left');
    } finally {
      cleanup();
    }
  },
);

test('vbm run onto a full disk (a 32 KiB tmpfs; root) with and without the native image writer: a vbm message, and nothing left', async (t) => {
  const skipped = await onSmallDisk('32k', (small, dir) => {
    const { design } = writeStudy(dir, { n: 8, dims: [12, 14, 12], voxelMm: 10, noiseFwhmMm: 16, seed: 9 });
    // images of 8-16 KB each: the first two or three fit, the writes of the others fail while more wait
    for (const kernel of ['default', 'wasm']) {
      const out = join(small, kernel);
      const env: Record<string, string> = kernel === 'wasm' ? { VBM_FIT_KERNEL: 'wasm' } : {};
      const args = ['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age', '-q'];
      const full = runCli(args, { env });
      assertRefused(full, /no space left on the device that holds .*small[\\/]/, /nothing half-written was kept/);
      assert.deepEqual(existsSync(out) ? readdirSync(out) : [], [], `${kernel}: nothing left in ${out}`);
    }
  });
  if (skipped) t.skip(skipped);
});
