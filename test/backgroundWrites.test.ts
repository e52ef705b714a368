/**
 * `vbm run` writes the images of a new analysis on the addon's threads (native/vbm_write.c, through
 * pipeline/outputs.ts ImageWrites) or on libuv's (StagedFiles' background mode): a full disk there is
 * still a vbm message naming the file, and nothing half-written is left (the temporary files are
 * removed only once every background write has finished).
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from './helpers.js';
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

test('vbm run onto a full disk (a 32 KiB tmpfs; root) with and without the native image writer: a vbm message, and nothing left', (t) => {
  if (process.getuid?.() !== 0) return t.skip('mounting a small tmpfs needs root');
  const { dir, cleanup } = tempDir();
  const small = join(dir, 'small');
  mkdirSync(small);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32k', 'tmpfs', small], { stdio: 'ignore' });
  } catch {
    cleanup();
    return t.skip('cannot mount a tmpfs here');
  }
  try {
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
  } finally {
    try {
      execFileSync('umount', [small], { stdio: 'ignore' });
    } finally {
      cleanup();
    }
  }
});
