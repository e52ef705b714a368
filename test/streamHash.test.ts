/**
 * A first `vbm run` into a new folder reads each scan once: the stage record's content hashes
 * come from the fit's stream, and must equal SHA-256 of each file computed here independently;
 * a later run decides from size, mtime and inode (cached), hashes a scan whose mtime changed but
 * content did not (still cached), and re-estimates when a scan's content changed.
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readVolume } from '../src/node/nifti/read.js';

const CLI = join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const vbm = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
const estimate = (stderr: string): string | undefined => /^estimate: (cached|ran)/m.exec(stderr)?.[1];

test('vbm run hashes scans while the fit streams them; later runs decide from size, mtime and inode', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { design } = writeStudy(dir, { n: 10, dims: [14, 16, 14], voxelMm: 10, noiseFwhmMm: 16, seed: 5 });
    const out = join(dir, 'out');
    const args = ['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age'];
    const first = vbm(...args);
    assert.equal(first.status, 0, first.stderr);
    assert.equal(estimate(first.stderr), 'ran');
    const stages = JSON.parse(readFileSync(join(out, 'vbm-stages.json'), 'utf8')) as {
      scans: Record<string, { sha256: string; ino?: number }>;
    };
    const files = readFileSync(design, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => join(dir, l.split(',')[0]));
    for (const f of files) {
      assert.equal(stages.scans[f]?.sha256, createHash('sha256').update(readFileSync(f)).digest('hex'), f);
      assert.equal(typeof stages.scans[f]?.ino, 'number');
    }
    // unchanged: cached
    assert.equal(estimate(vbm(...args).stderr), 'cached');
    // touched, same bytes: the changed mtime calls for the hash, which matches: still cached
    const later = new Date(Date.now() + 5000);
    utimesSync(files[0], later, later);
    assert.equal(estimate(vbm(...args).stderr), 'cached');
    // new content: re-estimated
    const v = readVolume(files[1]);
    v.data[v.data.length >> 1] += 0.5;
    writeFileSync(files[1], encodeNifti(v));
    const changed = vbm(...args);
    assert.equal(changed.status, 0, changed.stderr);
    assert.equal(estimate(changed.stderr), 'ran');
  } finally {
    cleanup();
  }
});
