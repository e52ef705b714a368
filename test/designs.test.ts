/**
 * Designs: closed forms (design matrices written out by hand from the spreadsheet), every bad
 * input of issue 13 (a VbmError naming the column, row or level and how to fix it), global
 * scaling inside the streaming fit checked against fitting scans scaled beforehand, and the
 * design keys from an analysis file and the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import type { Table } from '../src/node/spreadsheet.js';
import { type DesignOptions, designMatrix } from '../src/model/designMatrix.js';
import { buildContrasts, parseInlineContrast } from '../src/model/contrasts.js';
import { VbmError } from '../src/errors.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { readVolume } from '../src/node/nifti/read.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { runPipeline } from '../src/pipeline/pipeline.js';
import type { ModelRecord } from '../src/pipeline/modelRecord.js';
import { VBM_CLI } from './support/cli.js';

/** An in-memory spreadsheet: header, then rows; rows numbered from 2 as a user sees them. */
function table(header: string[], rows: (string | number | null)[][]): Table {
  return { path: 'design.csv', header, rows, rowNumbers: rows.map((_, i) => i + 2) };
}

function expectError(f: () => unknown, ...patterns: RegExp[]): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof VbmError, `expected a VbmError, got ${String(e)}`);
    for (const re of patterns) assert.match(`${e.message}\n${e.hint ?? ''}`, re);
    return;
  }
  assert.fail('expected an error');
}

const STUDY = table(
  ['scan', 'subject', 'group', 'visit', 'age', 'sex', 'tiv'],
  [
    ['a1.nii', 's1', 'CN', 'bl', 70, 'F', 1400],
    ['a2.nii', 's2', 'AD', 'bl', 72, 'M', 1500],
    ['a3.nii', 's3', 'CN', 'bl', 68, 'M', 1450],
    ['a4.nii', 's4', 'AD', 'bl', 80, 'F', 1350],
    ['b1.nii', 's1', 'CN', 'fu', 72, 'F', 1400],
    ['b2.nii', 's2', 'AD', 'fu', 74, 'M', 1500],
    ['b3.nii', 's3', 'CN', 'fu', 70, 'M', 1450],
    ['b4.nii', 's4', 'AD', 'fu', 82, 'F', 1350],
  ],
);
const col = (name: string): (string | number | null)[] => STUDY.rows.map((r) => r[STUDY.header.indexOf(name)]);
const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

test('multiple regression: a text covariate is coded 0/1 against its first level and centred; mean is H, covariates C', () => {
  const d = designMatrix(STUDY, { covariates: ['age', 'sex'] });
  assert.deepEqual(d.columns, ['mean', 'age', 'sex[M]']);
  assert.deepEqual(d.roles, ['H', 'C', 'C']);
  const age = col('age') as number[];
  const male = (col('sex') as string[]).map((s) => (s === 'M' ? 1 : 0));
  d.X.forEach((row, i) => {
    assert.equal(row[0], 1);
    assert.ok(Math.abs(row[1] - (age[i] - mean(age))) < 1e-12);
    assert.ok(Math.abs(row[2] - (male[i] - 0.5)) < 1e-12);
  });
  assert.deepEqual(d.rows, [2, 3, 4, 5, 6, 7, 8, 9], 'spreadsheet order');
  assert.equal(d.columnInfo[2].spmName, null, 'SPM has no coded factor in a multiple regression');
  // the default covariates: every column but those the design uses; text columns become factors
  const all = designMatrix(
    table(
      ['scan', 'group', 'age'],
      [
        ['x', 'A', 1],
        ['y', 'B', 2],
        ['z', 'A', 4],
        ['w', 'B', 3],
      ],
    ),
  );
  assert.deepEqual(all.columns, ['mean', 'group[B]', 'age']);
});

test('one-sample: mean (H) and covariates; two-sample level by level in the given level order', () => {
  const one = designMatrix(STUDY, { model: 'one_sample', covariates: ['age'] });
  assert.deepEqual(one.columns, ['mean', 'age']);
  assert.equal(one.df, 6);
  const two = designMatrix(STUDY, { model: 'two_sample', factor: 'group', levels: ['AD', 'CN'], variance: 'unequal' });
  assert.deepEqual(two.columns, ['group[AD]', 'group[CN]']);
  assert.deepEqual(
    two.rows,
    [3, 5, 7, 9, 2, 4, 6, 8],
    'AD scans first (levels order), spreadsheet order within a level',
  );
  assert.deepEqual(two.X, [
    [1, 0],
    [1, 0],
    [1, 0],
    [1, 0],
    [0, 1],
    [0, 1],
    [0, 1],
    [0, 1],
  ]);
  assert.deepEqual([...two.varianceGroups!], [0, 0, 0, 0, 1, 1, 1, 1]);
  assert.equal(two.variance, 'unequal');
  const firstSeen = designMatrix(STUDY, { model: 'two_sample', factor: 'group' });
  assert.deepEqual(firstSeen.columns, ['group[CN]', 'group[AD]'], 'default: order of first appearance');
});

test('interaction with centring within levels: per-level columns, each centred on its level mean (ANOVA)', () => {
  const d = designMatrix(STUDY, {
    model: 'anova',
    factor: 'group',
    covariates: ['age', 'tiv'],
    interactions: { age: 'group' },
    centring: { age: 'factor', tiv: 'none' },
  });
  assert.deepEqual(d.columns, ['group[CN]', 'group[AD]', 'age:group[CN]', 'age:group[AD]', 'tiv']);
  assert.deepEqual(
    d.columnInfo.map((c) => c.spmName),
    ['group_{1}', 'group_{2}', 'age@sF2_{1}', 'age@sF2_{2}', 'tiv'],
  );
  const cn = [70, 68, 72, 70];
  const ad = [72, 80, 74, 82];
  const expectCN = cn.map((a) => a - mean(cn));
  const expectAD = ad.map((a) => a - mean(ad));
  assert.deepEqual(d.X.map((r) => r[2]).slice(0, 4), expectCN);
  assert.deepEqual(d.X.map((r) => r[3]).slice(4), expectAD);
  assert.deepEqual(d.X.map((r) => r[3]).slice(0, 4), [0, 0, 0, 0]);
  assert.deepEqual(
    d.X.map((r) => r[4]),
    [1400, 1450, 1400, 1450, 1500, 1350, 1500, 1350],
    'tiv not centred',
  );
  // centring on the overall mean, then interaction: not centred within levels
  const o = designMatrix(STUDY, {
    model: 'anova',
    factor: 'group',
    covariates: ['age'],
    interactions: { age: 'group' },
  });
  const all = [...cn, ...ad];
  assert.deepEqual(
    o.X.map((r) => r[2]).slice(0, 4),
    cn.map((a) => a - mean(all)),
  );
});

test('paired: pair by pair, conditions in the given order, subjects as block columns', () => {
  const d = designMatrix(STUDY, { model: 'paired', subject: 'subject', condition: 'visit', levels: ['fu', 'bl'] });
  assert.deepEqual(d.columns, ['visit[fu]', 'visit[bl]', 'subject[s1]', 'subject[s2]', 'subject[s3]', 'subject[s4]']);
  assert.deepEqual(d.rows, [6, 2, 7, 3, 8, 4, 9, 5]);
  assert.deepEqual(d.roles, ['H', 'H', 'B', 'B', 'B', 'B']);
  assert.deepEqual(d.X[2], [1, 0, 0, 1, 0, 0]);
  assert.equal(d.varianceGroups, undefined);
  assert.equal(d.df, 3);
});

test("globals: SPM's grand mean scaling (one factor), proportional (GM / global; 50 when 'no'), ANCOVA column", () => {
  const tiv = (col('tiv') as number[]).slice();
  const gm = designMatrix(STUDY, {
    covariates: ['age'],
    globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 100 },
  });
  gm.globals!.gSF.forEach((f) => assert.ok(Math.abs(f - 100 / mean(tiv)) < 1e-15));
  assert.deepEqual(gm.columns, ['mean', 'age']);
  const prop = designMatrix(STUDY, {
    covariates: ['age'],
    globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 'no', normalisation: 'proportional' },
  });
  prop.globalScale!.forEach((f, i) => assert.equal(f, 50 / tiv[i]));
  const anc = designMatrix(STUDY, {
    covariates: ['age'],
    globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 50, normalisation: 'ancova' },
  });
  assert.deepEqual(anc.columns, ['mean', 'age', 'global']);
  assert.deepEqual(anc.roles, ['H', 'C', 'G']);
  const f = 50 / mean(tiv);
  anc.X.forEach((r, i) => assert.ok(Math.abs(r[2] - (tiv[i] * f - 50)) < 1e-10));
  const noScale = designMatrix(STUDY, {
    covariates: ['age'],
    globals: { calculation: 'user', values: 'tiv', normalisation: 'ancova' },
  });
  assert.equal(noScale.globalScale, undefined, 'ANCOVA without grand mean scaling leaves the data as they are');
  noScale.X.forEach((r, i) => assert.ok(Math.abs(r[2] - (tiv[i] - mean(tiv))) < 1e-10));
});

test('bad input: factors with one level or a single-scan level, paired gaps and duplicates, globals, interactions, text in numbers', () => {
  const t = (rows: (string | number | null)[][]): Table =>
    table(['scan', 'subject', 'group', 'visit', 'age', 'tiv'], rows);
  expectError(
    () =>
      designMatrix(
        t([
          ['a', 's1', 'CN', 'bl', 1, 1],
          ['b', 's2', 'CN', 'bl', 2, 1],
        ]),
        { model: 'two_sample', factor: 'group' },
      ),
    /factor 'group' has only one level \('CN'\)/,
    /at least two/,
  );
  expectError(
    () =>
      designMatrix(
        t([
          ['a', 's1', 'CN', 'bl', 1, 1],
          ['b', 's2', 'CN', 'bl', 2, 1],
          ['c', 's3', 'AD', 'bl', 3, 1],
        ]),
        { model: 'two_sample', factor: 'group' },
      ),
    /level 'AD' of factor 'group' has a single scan/,
    /add scans of 'AD'/,
  );
  expectError(
    () => designMatrix(STUDY, { model: 'two_sample', factor: 'group', levels: ['CN', 'MCI'] }),
    /row 3 .*column 'group': 'AD' is not one of the levels listed for 'group' \(CN, MCI\)/,
  );
  const paired = t([
    ['a', 's1', 'CN', 'bl', 1, 1],
    ['b', 's1', 'CN', 'fu', 2, 1],
    ['c', 's2', 'CN', 'bl', 3, 1],
    ['d', 's3', 'CN', 'bl', 3, 1],
    ['e', 's3', 'CN', 'fu', 3, 1],
  ]);
  expectError(
    () => designMatrix(paired, { model: 'paired', subject: 'subject', condition: 'visit' }),
    /subject 's2' \(column 'subject'\) has no scan for condition 'fu'/,
    /add the missing scan or drop subject 's2'/,
  );
  const twice = t([
    ['a', 's1', 'CN', 'bl', 1, 1],
    ['b', 's1', 'CN', 'fu', 2, 1],
    ['c', 's2', 'CN', 'bl', 3, 1],
    ['d', 's2', 'CN', 'bl', 3, 1],
    ['e', 's2', 'CN', 'fu', 3, 1],
  ]);
  expectError(
    () => designMatrix(twice, { model: 'paired', subject: 'subject', condition: 'visit' }),
    /subject 's2' has 2 scans for condition 'bl' \(rows 4, 5\)/,
  );
  const g = (tiv: (number | null)[]): Table => t(tiv.map((v, i) => [`s${i}`, `s${i}`, 'CN', 'bl', i, v]));
  const prop: DesignOptions = {
    covariates: ['age'],
    globals: { calculation: 'user', values: 'tiv', normalisation: 'proportional' },
  };
  expectError(() => designMatrix(g([1400, null, 1500, 1300]), prop), /row 3 \(s1\), column 'tiv' is empty/);
  expectError(() => designMatrix(g([1400, 0, 1500, 1300]), prop), /global of row 3 \(s1\) is 0/, /must be positive/);
  expectError(() => designMatrix(g([1400, 1500, -2, 1300]), prop), /global of row 4 \(s2\) is -2/);
  expectError(
    () =>
      designMatrix(g([1400, 1500, 1200, 1300]), {
        covariates: ['age'],
        globals: { calculation: 'omit', normalisation: 'ancova' },
      }),
    /normalisation 'ancova' needs a global value per scan, but calculation is 'omit'/,
    /'mean'.*'user'/,
  );
  expectError(
    () => designMatrix(STUDY, { covariates: ['age'], interactions: { age: 'tiv' } }),
    /interaction age:tiv: 'tiv' is not a factor/,
    /factors:/,
  );
  const text = t([
    ['a', 's1', 'CN', 'bl', 70, 1],
    ['b', 's2', 'AD', 'bl', 'n/a', 1],
    ['c', 's3', 'CN', 'bl', 71, 1],
    ['d', 's4', 'AD', 'bl', 72, 1],
  ]);
  expectError(
    () => designMatrix(text, { covariates: ['age'] }),
    /row 3 \(b\), column 'age': 'n\/a' is not a number/,
    /numeric/,
  );
  expectError(
    () =>
      designMatrix(STUDY, {
        covariates: ['age'],
        globals: { calculation: 'user', values: 'group', normalisation: 'proportional' },
      }),
    /column 'group': 'CN' is not a number, and the column is used as a numeric global value/,
  );
});

test('contrasts name levels (vbm or SPM names); a level that does not exist lists the levels', () => {
  const d = designMatrix(STUDY, {
    model: 'two_sample',
    factor: 'group',
    covariates: ['tiv'],
    interactions: { tiv: 'group' },
  });
  const [c1, c2, c3] = buildContrasts(
    [
      { name: 'AD < CN', type: 'T', columns: ['group[AD]', 'group[CN]'], weights: [-1, 1] },
      { name: 'same by SPM name', type: 'T', columns: ['Group_{2}', 'Group_{1}'], weights: [-1, 1] },
      parseInlineContrast('slopes:F:tiv:group[CN],tiv:group[AD]'),
    ],
    d,
  );
  assert.deepEqual(c1.weights, [[1, -1, 0, 0]]);
  assert.deepEqual(c2.weights, c1.weights);
  assert.deepEqual(c3.weights, [
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ]);
  expectError(
    () => buildContrasts([{ name: 'x', type: 'T', columns: ['group[MCI]'], weights: [1] }], d),
    /'MCI' is not a level of 'group'/,
    /the levels of 'group' are: CN, AD/,
  );
});

test('analysis file keys and CLI flags give the same design options; unknown values name the key', () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'd.csv'), 'scan\n');
    const raw = {
      design: 'd.csv',
      out: 'o',
      model: 'two_sample',
      factor: 'group',
      levels: ['CN', 'AD'],
      variance: 'unequal',
      covariates: ['age', 'tiv'],
      interactions: { tiv: 'group' },
      centring: { age: 'mean', tiv: 'factor' },
      globals: { calculation: 'user', values: 'tiv', grand_mean_scaling: 50, normalisation: 'proportional' },
    };
    const spec = parseAnalysisSpec(raw, dir, 'analysis.yaml');
    assert.deepEqual(spec.designOptions, {
      model: 'two_sample',
      factor: 'group',
      levels: ['CN', 'AD'],
      variance: 'unequal',
      interactions: { tiv: 'group' },
      globals: { calculation: 'user', values: 'tiv', grandMeanScaling: 50, normalisation: 'proportional' },
    });
    assert.deepEqual(spec.centring?.perColumn, { age: 'mean', tiv: 'factor' });
    assert.throws(
      () => parseAnalysisSpec({ ...raw, model: 'three_sample' }, dir, 'a.yaml'),
      /model 'three_sample' is not one of/,
    );
    assert.throws(
      () => parseAnalysisSpec({ ...raw, globals: { normalisation: 'ratio' } }, dir, 'a.yaml'),
      /globals.normalisation: 'ratio' is not one of none, proportional, ancova/,
    );
    assert.throws(
      () => parseAnalysisSpec({ ...raw, variance: 'different' }, dir, 'a.yaml'),
      /variance: must be equal or unequal/,
    );
  } finally {
    cleanup();
  }
});

test('global scaling in the streaming fit equals fitting scans scaled beforehand; threshold masking sees the scaled data', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 10, dims: [12, 14, 12], voxelMm: 12, noiseFwhmMm: 20, seed: 5 });
    const design = writeCohort(join(dir, 'raw'), cohort, { format: 'nii' });
    const tiv = [1400, 1520, 1330, 1610, 1450, 1380, 1555, 1490, 1300, 1640];
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    writeFileSync(design, [`${lines[0]},tiv`, ...lines.slice(1).map((l, i) => `${l},${tiv[i]}`)].join('\n') + '\n');
    // the same scans multiplied by 50 / tiv (vbm reads any datatype as float32, so these copies carry float32 rounding: ~6e-8 relative)
    const scaledLines = ['scan,age,sex,apoe4'];
    lines.slice(1).forEach((l, i) => {
      const [scan, ...rest] = l.split(',');
      const v = readVolume(join(dir, 'raw', scan));
      const data = Float64Array.from(v.data, (x) => x * (50 / tiv[i]));
      writeFileSync(
        join(dir, `scaled${i}.nii`),
        encodeNifti({ dims: v.dims, affine: v.affine, data }, { datatype: DT.FLOAT64 }),
      );
      scaledLines.push([`scaled${i}.nii`, ...rest].join(','));
    });
    writeFileSync(join(dir, 'scaled.csv'), scaledLines.join('\n') + '\n');
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    // an absolute threshold that cuts differently into the raw (about 0.25-1.2) and the scaled (x 50/tiv, about 0.01-0.04) data
    const threshold = { type: 'absolute' as const, value: 0.02 };
    const a = await runAnalysis({
      design,
      out: join(dir, 'a'),
      covariates: ['age'],
      globals: { calculation: 'user', values: 'tiv', normalisation: 'proportional' },
      masking: { threshold },
      workers: 0,
    });
    const b = await runAnalysis({
      design: join(dir, 'scaled.csv'),
      out: join(dir, 'b'),
      covariates: ['age'],
      masking: { threshold },
      workers: 0,
    });
    assert.ok(a.fit.vox.length > 50, `voxels above the threshold in the scaled data: ${a.fit.vox.length}`);
    assert.deepEqual([...a.fit.vox], [...b.fit.vox], 'same analysis mask');
    // tolerance 1e-5 of each map's largest value: float32 rounding of the copies, amplified a little by the fit
    const p = a.design.p;
    for (let j = 0; j < p; j++) {
      let top = 0;
      for (let k = j; k < b.fit.beta.length; k += p) top = Math.max(top, Math.abs(b.fit.beta[k]));
      for (let k = j; k < a.fit.beta.length; k += p)
        assert.ok(
          Math.abs(a.fit.beta[k] - b.fit.beta[k]) <= 1e-5 * top,
          `beta ${j + 1}: ${a.fit.beta[k]} vs ${b.fit.beta[k]}`,
        );
    }
    for (let k = 0; k < a.fit.resMS.length; k++)
      assert.ok(Math.abs(a.fit.resMS[k] - b.fit.resMS[k]) <= 1e-5 * b.fit.resMS[k]);
    a.fit.smoothness.fwhmVox.forEach((x, i) => assert.ok(Math.abs(x - b.fit.smoothness.fwhmVox[i]) < 1e-5 * x));
    // on the raw data the same threshold keeps other voxels: the test tells the two apart
    const c = await runAnalysis({
      design,
      out: join(dir, 'c'),
      covariates: ['age'],
      masking: { threshold },
      workers: 0,
    });
    assert.ok(c.fit.vox.length > a.fit.vox.length + 10, `raw ${c.fit.vox.length} vs scaled ${a.fit.vox.length} voxels`);
    const rec = JSON.parse(readFileSync(join(dir, 'a', 'model.json'), 'utf8')) as ModelRecord;
    assert.deepEqual(
      rec.design.globals?.gSF,
      tiv.map((t) => 50 / t),
    );
  } finally {
    cleanup();
  }
});

test('vbm run with design flags, then vbm show: columns, SPM names, roles, levels, how each column was made', () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 12, dims: [12, 14, 12], voxelMm: 12, noiseFwhmMm: 20, seed: 7 });
    const design = writeCohort(dir, cohort, { format: 'nii' });
    const lines = readFileSync(design, 'utf8').trim().split('\n');
    writeFileSync(
      design,
      [`${lines[0]},group`, ...lines.slice(1).map((l, i) => `${l},${i % 3 === 0 ? 'AD' : 'CN'}`)].join('\n') + '\n',
    );
    const cli = VBM_CLI;
    const out = join(dir, 'out');
    execFileSync(process.execPath, [
      cli,
      'run',
      design,
      '-o',
      out,
      '-q',
      '--model',
      'two-sample',
      '--factor',
      'group',
      '--levels',
      'CN,AD',
      '--variance',
      'equal',
      '--covariates',
      'age',
      '--interaction',
      'age:group',
      '--centring',
      'age=factor',
      '--contrast',
      'AD<CN:T:group[CN]=1,group[AD]=-1',
      '--workers',
      '0',
    ]);
    const show = execFileSync(process.execPath, [cli, 'show', out], { encoding: 'utf8' });
    assert.match(show, /Design: 4 columns, rank 4, df 8 \(two sample\)/);
    assert.match(show, /group\[CN\]\s+Group_\{1\}\s+H\s+group = CN/);
    assert.match(show, /age:group\[AD\]\s+age@sF2_\{2\}\s+C\s+age x \(group = AD\)\s+within group/);
    assert.match(show, /factor group \(factor\): CN \(8\), AD \(4\)/);
    const rec = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as ModelRecord;
    assert.deepEqual(rec.design.roles, ['H', 'H', 'C', 'C']);
    assert.equal(rec.design.model, 'two_sample');
    assert.deepEqual(
      rec.scans.map((s) => s.row),
      [3, 4, 6, 7, 9, 10, 12, 13, 2, 5, 8, 11],
    );
    const bad = spawnSync(process.execPath, [
      cli,
      'run',
      design,
      '-o',
      join(dir, 'bad'),
      '-q',
      '--model',
      'two-sample',
      '--factor',
      'group',
      '--contrast',
      'T:group[MCI]',
    ]);
    assert.equal(bad.status, 2);
    assert.match(
      bad.stderr.toString(),
      /'MCI' is not a level of 'group'.*\n?.*CN, AD|levels of 'group' are: AD, CN|levels of 'group' are: CN, AD/,
    );
  } finally {
    cleanup();
  }
});

test("pipeline with calculation 'mean': SPM's globals computed once, remembered, and a re-run is cached", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort({ n: 8, dims: [12, 14, 12], voxelMm: 12, noiseFwhmMm: 20, seed: 9 });
    const design = writeCohort(dir, cohort, { format: 'nii.gz' });
    const spec = parseAnalysisSpec(
      {
        design,
        out: join(dir, 'out'),
        covariates: ['age'],
        globals: { calculation: 'mean', normalisation: 'ancova', grand_mean_scaling: 50 },
      },
      dir,
      'test',
    );
    const first = await runPipeline(spec);
    assert.equal(first[0].stages.find((s) => s.stage === 'estimate')?.status, 'ran');
    const stages = JSON.parse(readFileSync(join(dir, 'out', 'vbm-stages.json'), 'utf8')) as {
      globals: Record<string, number>;
    };
    const rec = JSON.parse(readFileSync(join(dir, 'out', 'model.json'), 'utf8')) as ModelRecord;
    // SPM's spm_global written out: mean of the finite voxels, then mean of those above 1/8 of it
    const expected = Array.from({ length: 8 }, (_, i) => {
      const v = cohort.scan(i);
      let s = 0;
      for (const x of v) s += x;
      const cut = s / v.length / 8;
      let t = 0;
      let k = 0;
      for (const x of v) {
        if (x > cut) {
          t += x;
          k++;
        }
      }
      return t / k;
    });
    rec.design.globals!.raw.forEach((g: number, i: number) =>
      assert.ok(Math.abs(g - expected[i]) < 1e-9 * expected[i], `global ${i}: ${g} vs ${expected[i]}`),
    );
    assert.equal(Object.keys(stages.globals).length, 8);
    assert.deepEqual(rec.design.columns, ['mean', 'age', 'global']);
    const again = await runPipeline(spec);
    assert.ok(again[0].stages.filter((s) => s.status !== 'not requested').every((s) => s.status === 'cached'));
  } finally {
    cleanup();
  }
});
