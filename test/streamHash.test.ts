/**
 * A first `vbm run` into a new folder reads each scan once: the stage record's content hashes
 * come from the fit's stream, and must equal the content hash (piecewise XXH3) of each file
 * computed here by another implementation (hash-wasm);
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
import { tempDir } from './helpers.js';
import { pieceHashReference } from './support/xxh3.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readVolume } from '../src/node/nifti/read.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;
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
      scans: Record<string, { hash: string; ino?: number }>;
    };
    const files = readFileSync(design, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => join(dir, l.split(',')[0]));
    for (const f of files) {
      assert.equal(stages.scans[f]?.hash, pieceHashReference(readFileSync(f)), f);
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

test('a folder whose records an earlier vbm wrote with SHA-256 stays cached, and permute still checks its scans', () => {
  const { dir, cleanup } = tempDir();
  try {
    const { design } = writeStudy(dir, { n: 8, dims: [12, 14, 12], voxelMm: 10, noiseFwhmMm: 16, seed: 6 });
    const out = join(dir, 'out');
    const args = ['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age'];
    assert.equal(vbm(...args).status, 0);
    // the records as vbm wrote them before XXH3: SHA-256 digests, model.json format 1 with `sha256`
    const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');
    const stagesPath = join(out, 'vbm-stages.json');
    const stages = JSON.parse(readFileSync(stagesPath, 'utf8')) as {
      stages: Record<string, { outputs: Record<string, string> }>;
    };
    for (const st of Object.values(stages.stages))
      for (const f of Object.keys(st.outputs)) if (f !== 'model.json') st.outputs[f] = sha(join(out, f));
    const modelPath = join(out, 'model.json');
    const model = JSON.parse(readFileSync(modelPath, 'utf8')) as {
      formatVersion: number;
      scans: { path: string; hash?: string; sha256?: string }[];
    };
    model.formatVersion = 1;
    for (const s of model.scans) {
      delete s.hash;
      s.sha256 = sha(s.path);
    }
    writeFileSync(modelPath, JSON.stringify(model, null, 1) + '\n');
    stages.stages.contrasts.outputs['model.json'] = sha(modelPath);
    writeFileSync(stagesPath, JSON.stringify(stages, null, 1) + '\n');
    const again = vbm(...args);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /^estimate: cached/m);
    assert.match(again.stderr, /^contrasts: cached/m);
    assert.match(vbm('show', out).stdout, / sha256 [0-9a-f]{12}/);
    const permute = ['permute', out, '--contrast', '1', '--permutations', '20', '--workers', '0'];
    const ok = vbm(...permute);
    assert.equal(ok.status, 0, ok.stderr);
    // a scan changed after the fit: its SHA-256 no longer matches model.json, and permute says so
    const files = model.scans.map((s) => s.path);
    const v = readVolume(files[2]);
    v.data[v.data.length >> 1] += 0.5;
    writeFileSync(files[2], encodeNifti(v));
    const refused = vbm(...permute);
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /changed since the analysis was estimated/);
  } finally {
    cleanup();
  }
});
