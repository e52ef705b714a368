/**
 * A first `vbm run` into a new folder reads each scan once: the stage record's content hashes
 * come from the fit's stream, and must equal the content hash (piecewise XXH3) of each file
 * computed here by another implementation (hash-wasm);
 * a later run decides from size, mtime and inode (cached), hashes a scan whose mtime changed but
 * content did not (still cached), and re-estimates when a scan's content changed. Folders whose records an
 * earlier vbm wrote (SHA-256, or the whole-file XXH3-64 of the vbm before the piecewise hash) keep their
 * cached stages, and permute still checks their scans against them.
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { pieceHashReference, xxh3Reference } from './support/xxh3.js';
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

/**
 * A folder whose records an earlier vbm wrote with another content hash (`digestOf`, computed here by
 * node:crypto or hash-wasm): its outputs are still checked against those digests (the stages stay cached),
 * `vbm show` names the hash, and permute checks the scans against model.json's digests (a changed scan
 * is refused). `format1`: model.json of format 1, whose scans carry `sha256`.
 */
function oldRecordsStayValid(digestOf: (bytes: Uint8Array) => string, format1: boolean, shown: RegExp): void {
  const { dir, cleanup } = tempDir();
  try {
    const { design } = writeStudy(dir, { n: 8, dims: [12, 14, 12], voxelMm: 10, noiseFwhmMm: 16, seed: 6 });
    const out = join(dir, 'out');
    const args = ['run', design, '--mask', join(dir, 'mask.nii'), '--out', out, '--contrast', 'T:age'];
    assert.equal(vbm(...args).status, 0);
    // the records as the earlier vbm wrote them: its digests of the outputs and of the scans
    const old = (p: string): string => digestOf(readFileSync(p));
    const stagesPath = join(out, 'vbm-stages.json');
    const stages = JSON.parse(readFileSync(stagesPath, 'utf8')) as {
      stages: Record<string, { outputs: Record<string, string> }>;
    };
    for (const st of Object.values(stages.stages))
      for (const f of Object.keys(st.outputs)) if (f !== 'model.json') st.outputs[f] = old(join(out, f));
    const modelPath = join(out, 'model.json');
    const model = JSON.parse(readFileSync(modelPath, 'utf8')) as {
      formatVersion: number;
      scans: { path: string; hash?: string; sha256?: string }[];
    };
    if (format1) model.formatVersion = 1;
    for (const s of model.scans) {
      delete s.hash;
      if (format1) s.sha256 = old(s.path);
      else s.hash = old(s.path);
    }
    writeFileSync(modelPath, JSON.stringify(model, null, 1) + '\n');
    stages.stages.contrasts.outputs['model.json'] = old(modelPath);
    writeFileSync(stagesPath, JSON.stringify(stages, null, 1) + '\n');
    const again = vbm(...args);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /^estimate: cached/m);
    assert.match(again.stderr, /^contrasts: cached/m);
    assert.match(vbm('show', out).stdout, shown);
    const permute = ['permute', out, '--contrast', '1', '--permutations', '20', '--workers', '0'];
    const ok = vbm(...permute);
    assert.equal(ok.status, 0, ok.stderr);
    // a scan changed after the fit: its digest no longer matches model.json, and permute says so
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
}

test('a folder whose records an earlier vbm wrote with SHA-256 stays cached, and permute still checks its scans', () =>
  oldRecordsStayValid((b) => createHash('sha256').update(b).digest('hex'), true, / sha256 [0-9a-f]{12}/));

test('a folder whose records vbm wrote with whole-file XXH3-64 stays cached, and permute still checks its scans', () =>
  oldRecordsStayValid(
    (b) => {
      const d = xxh3Reference(b);
      assert.equal(d.length, 16);
      return d;
    },
    false,
    / xxh3 [0-9a-f]{12}/,
  ));
