/**
 * `vbm run` writes the images of a new analysis on libuv's threads (StagedFiles' background
 * mode): a full disk there is still a vbm message, and nothing half-written is left (the
 * temporary files are removed only once every background write has finished).
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
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
