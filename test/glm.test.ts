/**
 * The estimation against closed forms computed here, independently of vbm's linear algebra:
 * textbook simple regression, a planted exact model y = Xb + e with e orthogonal to X (so the
 * true b and ResSS are known), the F test as a comparison of nested models, and a collinear
 * design. Tolerance 1e-5 relative: inputs are stored as float32 (7 digits); the arithmetic is float64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readVolume } from '../src/node/nifti/read.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { Rng } from '../src/synth/random.js';

const DIMS: [number, number, number] = [4, 3, 2];
const NV = 24;
const AFFINE = [
  [-3, 0, 0, 10],
  [0, 3, 0, -5],
  [0, 0, 3, 2],
  [0, 0, 0, 1],
];

/** Write scans (rows of voxel values) and a CSV; returns its path. */
function writeStudy(dir: string, Y: Float32Array[], covs: Record<string, number[]>): string {
  const names = Object.keys(covs);
  const lines = [['scan', ...names].join(',')];
  Y.forEach((y, i) => {
    writeFileSync(join(dir, `s${i}.nii`), encodeNifti({ dims: DIMS, affine: AFFINE, data: y }));
    lines.push([`s${i}.nii`, ...names.map((n) => covs[n][i])].join(','));
  });
  writeFileSync(join(dir, 'design.csv'), lines.join('\n'));
  return join(dir, 'design.csv');
}

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(1e-9, Math.abs(b));

test('simple regression: beta, ResMS and T equal the textbook formulas', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(7);
    const n = 14;
    const age = Array.from({ length: n }, () => 20 + Math.round(600 * rng.uniform()) / 10);
    const Y = Array.from({ length: n }, () => new Float32Array(NV));
    for (let v = 0; v < NV; v++)
      for (let i = 0; i < n; i++) Y[i][v] = 0.5 + 0.01 * v * age[i] * (v % 3 === 0 ? -1 : 1) + 0.2 * rng.normal();
    const design = writeStudy(dir, Y, { age });
    const out = join(dir, 'out');
    await runAnalysis({
      design,
      out,
      contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
      workers: 0,
    });
    const [b1, b2, rms, t] = ['beta_0001.nii', 'beta_0002.nii', 'ResMS.nii', 'spmT_0001.nii'].map(
      (f) => readVolume(join(out, f)).data,
    );
    const mx = age.reduce((s, a) => s + a, 0) / n;
    for (let v = 0; v < NV; v++) {
      const y = Y.map((s) => s[v]);
      const my = y.reduce((s, a) => s + a, 0) / n;
      let sxx = 0;
      let sxy = 0;
      for (let i = 0; i < n; i++) {
        sxx += (age[i] - mx) ** 2;
        sxy += (age[i] - mx) * (y[i] - my);
      }
      const slope = sxy / sxx;
      let sse = 0;
      for (let i = 0; i < n; i++) sse += (y[i] - my - slope * (age[i] - mx)) ** 2;
      const s2 = sse / (n - 2);
      assert.ok(rel(b1[v], my) < 1e-5, `intercept = mean of y (centred age), voxel ${v}`);
      assert.ok(rel(b2[v], slope) < 1e-5, `slope voxel ${v}`);
      assert.ok(rel(rms[v], s2) < 1e-5, `ResMS voxel ${v}`);
      assert.ok(rel(t[v], slope / Math.sqrt(s2 / sxx)) < 1e-5, `T voxel ${v}`);
    }
  } finally {
    cleanup();
  }
});

/** Gram-Schmidt: make e orthogonal to the columns of X (the test's own, minimal algebra). */
function orthogonalise(e: number[], X: number[][]): number[] {
  const p = X[0].length;
  const Q: number[][] = [];
  for (let j = 0; j < p; j++) {
    let q = X.map((r) => r[j]);
    for (const u of Q) {
      const d = q.reduce((s, x, i) => s + x * u[i], 0);
      q = q.map((x, i) => x - d * u[i]);
    }
    const nrm = Math.sqrt(q.reduce((s, x) => s + x * x, 0));
    Q.push(q.map((x) => x / nrm));
  }
  let out = e.slice();
  for (const u of Q) {
    const d = out.reduce((s, x, i) => s + x * u[i], 0);
    out = out.map((x, i) => x - d * u[i]);
  }
  return out;
}

test('planted exact model: betas are the planted ones, ResMS is |e|^2/df, F is the nested-model F', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(99);
    const n = 11;
    const age = Array.from({ length: n }, (_, i) => 30 + 3 * i + (i % 2));
    const sex: number[] = Array.from({ length: n }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const ma = age.reduce((s, a) => s + a, 0) / n;
    const ms = sex.reduce((s, a) => s + a, 0) / n;
    const X = age.map((a, i) => [1, a - ma, sex[i] - ms]);
    const planted: number[][] = [];
    const eNorm2: number[] = [];
    const Y = Array.from({ length: n }, () => new Float32Array(NV));
    for (let v = 0; v < NV; v++) {
      const b = [1 + v / 10, (v - 12) / 200, (v % 5) / 10 - 0.2];
      const e = orthogonalise(
        Array.from({ length: n }, () => 0.05 * rng.normal()),
        X,
      );
      for (let i = 0; i < n; i++) Y[i][v] = X[i][0] * b[0] + X[i][1] * b[1] + X[i][2] * b[2] + e[i];
      planted.push(b);
      // residual of the float32-stored data: recompute e from the stored values
      const yStored = Y.map((s) => s[v]);
      eNorm2.push(orthogonalise(yStored, X).reduce((s, x) => s + x * x, 0));
    }
    const design = writeStudy(dir, Y, { age, sex });
    const out = join(dir, 'out');
    await runAnalysis({
      design,
      out,
      contrasts: [
        { name: 'age', type: 'T', columns: ['age'], weights: [1] },
        { name: 'age or sex', type: 'F', columns: ['age', 'sex'] },
      ],
      workers: 0,
    });
    const beta = [1, 2, 3].map((j) => readVolume(join(out, `beta_000${j}.nii`)).data);
    const rms = readVolume(join(out, 'ResMS.nii')).data;
    const F = readVolume(join(out, 'spmF_0002.nii')).data;
    const df = n - 3;
    for (let v = 0; v < NV; v++) {
      for (let j = 0; j < 3; j++)
        assert.ok(
          Math.abs(beta[j][v] - planted[v][j]) < 2e-5 * Math.max(1, Math.abs(planted[v][j])),
          `beta ${j + 1} voxel ${v}: ${beta[j][v]} vs ${planted[v][j]}`,
        );
      assert.ok(rel(rms[v], eNorm2[v] / df) < 1e-5, `ResMS voxel ${v}`);
      // F for the joint test = ((RSS_reduced - RSS_full) / 2) / (RSS_full / df); the reduced model is the mean only
      const y = Y.map((s) => s[v]);
      const my = y.reduce((s, a) => s + a, 0) / n;
      const rssReduced = y.reduce((s, a) => s + (a - my) ** 2, 0);
      const fExpected = (rssReduced - eNorm2[v]) / 2 / (eNorm2[v] / df);
      assert.ok(rel(F[v], fExpected) < 1e-4, `F voxel ${v}: ${F[v]} vs ${fExpected}`);
    }
  } finally {
    cleanup();
  }
});

test('collinear design: columns named, pseudo-inverse fit, only estimable contrasts allowed', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(3);
    const n = 10;
    const age = Array.from({ length: n }, (_, i) => 20 + 5 * i);
    const months = age.map((a) => a * 12);
    const sex = Array.from({ length: n }, (_, i) => i % 2);
    const Y = Array.from({ length: n }, (_, i) =>
      Float32Array.from({ length: NV }, () => 1 + 0.01 * age[i] + 0.1 * rng.normal()),
    );
    const design = writeStudy(dir, Y, { age, months, sex });
    const logs: string[] = [];
    await assert.rejects(
      runAnalysis({
        design,
        out: join(dir, 'a'),
        contrasts: [{ name: 'age alone', type: 'T', columns: ['age'], weights: [1] }],
        log: (m) => logs.push(m),
        workers: 0,
      }),
      /not estimable/,
    );
    assert.ok(
      logs.some((l) => /collinear columns: age ~ months/.test(l)),
      logs.join('\n'),
    );
    // age + 12 * months is estimable: it is the age slope in years of the reduced model, spread over both columns
    const res = await runAnalysis({
      design,
      out: join(dir, 'b'),
      contrasts: [{ name: 'age', type: 'T', columns: ['age', 'months'], weights: [1, 12] }],
      workers: 0,
    });
    assert.equal(res.record.design.rank, 3);
    assert.equal(res.record.design.df, n - 3);
    const reduced = await runAnalysis({
      design,
      out: join(dir, 'c'),
      covariates: ['age', 'sex'],
      contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
      workers: 0,
    });
    const t1 = readVolume(join(dir, 'b', 'spmT_0001.nii')).data;
    const t2 = readVolume(join(dir, 'c', 'spmT_0001.nii')).data;
    for (let v = 0; v < NV; v++) assert.ok(rel(t1[v], t2[v]) < 1e-4, `T voxel ${v}: ${t1[v]} vs ${t2[v]}`);
    assert.equal(reduced.record.design.df, n - 3);
  } finally {
    cleanup();
  }
});

test('centring options and no intercept change the design as SPM would', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(5);
    const n = 8;
    const age = Array.from({ length: n }, (_, i) => 40 + i);
    const tiv = Array.from({ length: n }, (_, i) => 1400 + 17 * i - (i % 3) * 9);
    const Y = Array.from({ length: n }, () => Float32Array.from({ length: NV }, () => 1 + rng.normal()));
    const design = writeStudy(dir, Y, { age, tiv });
    const a = await runAnalysis({ design, out: join(dir, 'a'), centring: { tiv: 'none' }, workers: 0 });
    assert.deepEqual(a.record.design.columns, ['mean', 'age', 'tiv']);
    assert.deepEqual(
      a.record.design.matrix.map((r) => r[2]),
      tiv,
      'tiv uncentred',
    );
    assert.ok(Math.abs(a.record.design.matrix.reduce((s, r) => s + r[1], 0)) < 1e-9, 'age centred on its mean');
    const b = await runAnalysis({ design, out: join(dir, 'b'), intercept: false, defaultCentring: 'none', workers: 0 });
    assert.deepEqual(b.record.design.columns, ['age', 'tiv']);
    assert.deepEqual(b.record.design.matrix[0], [age[0], tiv[0]]);
  } finally {
    cleanup();
  }
});
