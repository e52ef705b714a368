import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { columnCorrelations, orthogonalityWarnings } from '../src/model/orthogonality.js';
import { makeCohort, writeCohort } from '../src/synth/phantom.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { runPipeline } from '../src/pipeline/pipeline.js';
import { openAnalysis } from '../src/pipeline/analysis.js';
import { describeAnalysis } from '../src/pipeline/show.js';
import { tempDir } from './helpers.js';

// A design worked by hand, repeated twice (8 scans): a = 1 2 3 4, b = 1 0 1 0, c = 2 1 1 2.
// Centred: a = (-1.5 -0.5 0.5 1.5), b = (0.5 -0.5 0.5 -0.5), c = (0.5 -0.5 -0.5 0.5).
// a.b = -1, |a| = sqrt(5), |b| = 1: |r(a,b)| = 1/sqrt(5) = 0.4472; a.c = 0; b.c = 0.
const a = [1, 2, 3, 4, 1, 2, 3, 4];
const b = [1, 0, 1, 0, 1, 0, 1, 0];
const c = [2, 1, 1, 2, 2, 1, 1, 2];
const X = a.map((_, i) => [1, a[i], b[i], c[i]]);
const columns = ['mean', 'a', 'b', 'c'];

test('column correlations of a hand-worked design', () => {
  const C = columnCorrelations(X);
  // closed forms; 1e-12 for rounding
  assert.ok(Math.abs(C[1][2] - 1 / Math.sqrt(5)) < 1e-12);
  assert.ok(Math.abs(C[2][1] - 1 / Math.sqrt(5)) < 1e-12);
  assert.ok(Math.abs(C[1][3]) < 1e-12 && Math.abs(C[2][3]) < 1e-12);
  for (let j = 1; j < 4; j++) assert.ok(Math.abs(C[j][j] - 1) < 1e-12);
  for (let j = 0; j < 4; j++) assert.ok(Number.isNaN(C[0][j]), 'the constant column has no direction');
  const w = orthogonalityWarnings(columns, X, [
    { index: 1, name: 'a up', weights: [[0, 1, 0, 0]] },
    { index: 2, name: 'c up', weights: [[0, 0, 0, 1]] },
    {
      index: 3,
      name: 'a or b',
      weights: [
        [0, 1, 0, 0],
        [0, 0, 1, 0],
      ],
    },
  ]);
  assert.equal(w.length, 1);
  assert.deepEqual(w[0].columns, ['a']);
  assert.equal(w[0].other, 'b');
  assert.match(w[0].message, /contrast 1 'a up'.*'a' correlates with 'b' \(\|r\| = 0\.45 > 0\.3\).*global scaling/);
});

test('a two-sample difference whose group columns both correlate with a covariate gives one warning', () => {
  // g2 = 1 - g1, so after centring g2 = -g1 and |r(g1, t)| = |r(g2, t)|; t = [1,2,3,4,5,6] against
  // g1 = [1,1,1,0,0,0]: closed form |r| = |sum (g - 0.5)(t - 3.5)| / sqrt(1.5 sum (t - 3.5)^2) = 0.878
  const g1 = [1, 1, 1, 0, 0, 0];
  const tv = [1, 2, 3, 4, 5, 6];
  const X2 = g1.map((g, i) => [g, 1 - g, tv[i]]);
  const mt = 3.5;
  const sgt = g1.reduce((s, g, i) => s + (g - 0.5) * (tv[i] - mt), 0);
  const r = Math.abs(sgt) / Math.sqrt(1.5 * tv.reduce((s, v) => s + (v - mt) ** 2, 0));
  const w = orthogonalityWarnings(['group[CN]', 'group[AD]', 'tiv'], X2, [
    { index: 1, name: 'CN > AD', weights: [[1, -1, 0]] },
  ]);
  assert.equal(w.length, 1, w.map((x) => x.message).join('\n'));
  assert.deepEqual(w[0].columns, ['group[CN]', 'group[AD]']);
  assert.equal(w[0].other, 'tiv');
  // 1e-12: rounding of the sums
  for (const c of w[0].cos) assert.ok(Math.abs(c - r) < 1e-12);
  assert.match(
    w[0].message,
    /its columns 'group\[CN\]', 'group\[AD\]' correlate with 'tiv' \(\|r\| = 0\.88, 0\.88 > 0\.3\)/,
  );
});

test('vbm run warns, vbm show prints the matrix, the report has the table', async () => {
  const t = tempDir('vbm-ortho-');
  try {
    const cohort = makeCohort({ n: 8, dims: [12, 14, 12], voxelMm: 10, seed: 3 });
    const design = writeCohort(t.dir, cohort);
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    writeFileSync(
      design,
      ['scan,a,b,c', ...lines.slice(1).map((l, i) => `${l.split(',')[0]},${a[i]},${b[i]},${c[i]}`)].join('\n') + '\n',
    );
    const logs: string[] = [];
    const spec = parseAnalysisSpec(
      {
        design,
        out: join(t.dir, 'res'),
        contrasts: [{ name: 'a up', type: 'T', columns: ['a'], weights: [1] }],
        report: { viewer: false },
      },
      t.dir,
      'test',
    );
    await runPipeline(spec, { workers: 0, log: (m) => logs.push(m) });
    assert.ok(
      logs.some((l) => /^warning: contrast 1 'a up': its column 'a' correlates with 'b' \(\|r\| = 0\.45/.test(l)),
      logs.join('\n'),
    );
    const shown = describeAnalysis(openAnalysis(join(t.dir, 'res')));
    assert.match(shown, /Orthogonality/);
    assert.match(shown, /\n\s+a\s+1\.00\s+0\.45\s+0\.00\n/);
    const page = readFileSync(join(t.dir, 'res', 'report.html'), 'utf8');
    assert.match(page, /<table id="orthogonality">/);
    assert.match(page, />0\.45</);
    assert.match(page, /global scaling/);
  } finally {
    t.cleanup();
  }
});
