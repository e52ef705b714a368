/** The command line as a user types it: vbm run, vbm show, exit codes and messages. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasShared, sharedDir, tempDir } from './helpers.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { VBM_CLI } from './support/cli.js';

const CLI = VBM_CLI;
const vbm = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('vbm run with inline and file contrasts, then vbm show and show --json', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 10, dims: [16, 18, 16], voxelMm: 9, noiseFwhmMm: 16, seed: 5 });
    const design = writeCohort(dir, cohort, { format: 'mixed' });
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    writeFileSync(
      join(dir, 'contrasts.yaml'),
      '- name: Effect of age (+)\n  type: T\n  columns: [age]\n  weights: [1]\n',
    );
    const out = join(dir, 'results');
    const r = vbm(
      'run',
      design,
      '--mask',
      join(dir, 'mask.nii'),
      '--contrasts',
      join(dir, 'contrasts.yaml'),
      '--contrast',
      'age or apoe4:F:age,apoe4',
      '--out',
      out,
      '--workers',
      '2',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /reading scans: 10\/10/);
    assert.match(r.stdout, /Effect of age \(\+\)\s+T\s+\[0 1 0 0\]/);
    assert.match(r.stdout, /age or apoe4\s+F\s+\[0 1 0 0; 0 0 0 1\]\s+\[2, 6\]\s+ess_0002\.nii spmF_0002\.nii/);
    const s = vbm('show', out);
    assert.equal(s.status, 0);
    assert.match(s.stdout, /Scans: 10/);
    assert.match(s.stdout, /Design: 4 columns, rank 4, df 6/);
    const j = JSON.parse(vbm('show', out, '--json').stdout) as { contrasts: { name: string }[]; scans: unknown[] };
    assert.deepEqual(
      j.contrasts.map((c) => c.name),
      ['Effect of age (+)', 'age or apoe4'],
    );
    assert.equal(j.scans.length, 10);
    // a user error: exit code 2, the message and a hint, no stack trace
    const bad = vbm('run', design, '--contrast', 'T:tiv', '--out', join(dir, 'bad'));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /vbm: error: contrast 1 'T: tiv' names column 'tiv', which is not in the design/);
    assert.match(bad.stderr, /hint: the design's columns are: mean, age, sex, apoe4/);
    assert.doesNotMatch(bad.stderr, /at .*\.js:\d+/);
    // results from the command line: SPM's footer and the files
    const res = vbm('results', out, '--contrast', '1', '--threshold', '0.001', '--extent', '5');
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /Contrast 1 'Effect of age \(\+\)': SPM\{T_\[6\.0\]\}, uncorrected p < 0\.001, k >= 5/);
    assert.match(res.stdout, /Height threshold: T = 5\.21, p = 0\.001/);
    assert.match(res.stdout, /wrote spmT_0001_thresh\.nii, spmT_0001_clusters\.nii, table_0001\.csv, table_0001\.json/);
    if (hasShared) {
      const atlas = join(sharedDir, 'data', 'atlases', 'atlas_aal.nii.gz');
      const lab = vbm(
        'label',
        out,
        '--contrast',
        '1',
        '--atlas',
        atlas,
        '--mode',
        'clusters,peaks',
        '--threshold',
        '0.05',
      );
      assert.equal(lab.status, 0, lab.stderr);
      assert.match(lab.stdout, /Cluster labelling/);
      assert.match(lab.stdout, /wrote labels_0001_atlas_aal_peaks\.csv, labels_0001_atlas_aal_clusters\.csv/);
      const withAtlas = vbm('results', out, '--contrast', '1', '--threshold', '0.05', '--atlas', atlas);
      assert.equal(withAtlas.status, 0, withAtlas.stderr);
      assert.match(withAtlas.stdout, /label/);
      const bad = vbm('label', out, '--atlas', 'nonexistent-atlas');
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /atlas 'nonexistent-atlas' not found; looked in/);
    }
    const fwe = vbm(
      'run',
      design,
      '--mask',
      join(dir, 'mask.nii'),
      '--contrast',
      'T:age',
      '--out',
      join(dir, 'r2'),
      '--results',
      '--correction',
      'fwe',
      '--threshold',
      '0.05',
      '-q',
    );
    assert.equal(fwe.status, 0, fwe.stderr);
    assert.match(fwe.stdout, /FWE p < 0\.05, k >= 0/);
    // pictures and the report from the command line
    const plot = vbm(
      'plot',
      out,
      '--contrast',
      '1',
      '--threshold',
      '3.10',
      '--display',
      'z',
      '--cuts',
      '8',
      '--out',
      join(dir, 'age.png'),
      '-q',
    );
    assert.equal(plot.status, 0, plot.stderr);
    assert.match(
      plot.stdout,
      /wrote .*age\.png \((\d+ voxels shown, T > 3\.10, both signs|no voxel survives the thresholds)\)/,
    );
    assert.deepEqual(
      [...readFileSync(join(dir, 'age.png')).subarray(0, 8)],
      [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
    );
    for (const kind of ['glass', 'design'])
      assert.equal(vbm('plot', out, '--contrast', '2', '--kind', kind, '-q').status, 0, kind);
    assert.ok(existsSync(join(out, 'glass_0002.png')) && existsSync(join(out, 'design.png')));
    const noContrast = vbm('plot', out, '--contrast', '9');
    assert.equal(noContrast.status, 2);
    assert.match(noContrast.stderr, /no contrast "9"|no contrast 9/);
    assert.match(noContrast.stderr, /hint: the contrasts are: 1 'Effect of age \(\+\)', 2 'age or apoe4'/);
    const badSign = vbm('plot', out, '--contrast', '2', '--sign', 'both');
    assert.equal(badSign.status, 2);
    assert.match(badSign.stderr, /is an F contrast: only positive values exist/);
    const rep = vbm('report', out, '--no-viewer', '-q');
    assert.equal(rep.status, 0, rep.stderr);
    assert.match(rep.stdout, /wrote .*report\.html/);
    assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /<h3>Contrast 2: age or apoe4/);
    const missing = vbm('show', join(dir, 'nowhere'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /holds no vbm analysis/);
  } finally {
    cleanup();
  }
});
