/**
 * The ReML routine and the unequal-variance fit against closed forms and planted variances,
 * computed here independently of vbm's estimation code:
 * - group-mean design: the ReML optimum (with SPM's weak hyperprior) is the root of a cubic per
 *   group, (n_g - 1) h - S_g + 2 hP h^3 = 0 with S_g the within-group sum of squares of Cy;
 * - planted: many voxels, two groups with variances 1 and 3; h recovers them;
 * - intercept-only study with two variance groups: weighted least squares has a closed form
 *   (the weighted mean; ResMS = sum w^2 (y - b)^2 / (n - 1)); the pooled covariance is
 *   recomputed here from the data with SPM's selection and weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { reml } from '../src/model/reml.js';
import { fitModel } from '../src/estimation/fit.js';
import type { Design } from '../src/model/designMatrix.js';
import { contrastMaps } from '../src/estimation/contrastMaps.js';
import { VbmError } from '../src/errors.js';
import { Rng } from '../src/synth/random.js';

const rel = (a: number, b: number): number => Math.abs(a - b) / Math.abs(b);

function indicator(groups: number[], g: number): Float64Array {
  return Float64Array.from(groups, (v) => (v === g ? 1 : 0));
}

test('ReML on a group-mean design converges to the closed-form optimum (cubic per group)', () => {
  const rng = new Rng(11);
  const groups = [...new Array<number>(6).fill(0), ...new Array<number>(9).fill(1)];
  const n = groups.length;
  const sd = [1, 2.5];
  // Cy: average of y y' over 40 samples with group means and group variances
  const Cy = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const S = 40;
  for (let s = 0; s < S; s++) {
    const mu = [3 * rng.normal(), 3 * rng.normal()];
    const y = groups.map((g) => mu[g] + sd[g] * rng.normal());
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) Cy[a][b] += (y[a] * y[b]) / S;
  }
  const X = groups.map((g) => [g === 0 ? 1 : 0, g === 1 ? 1 : 0]);
  const hP = Math.exp(-8);
  const fit = reml(Cy, X, [indicator(groups, 0), indicator(groups, 1)], { tolerance: 1e-14, maxIterations: 256 });
  for (const g of [0, 1]) {
    const idx = groups.map((v, i) => (v === g ? i : -1)).filter((i) => i >= 0);
    const ng = idx.length;
    // S_g = tr(R_g Cy_gg), R_g the within-group centring matrix
    let tr = 0;
    let sum = 0;
    for (const a of idx) {
      tr += Cy[a][a];
      for (const b of idx) sum += Cy[a][b];
    }
    const Sg = tr - sum / ng;
    // Newton on (ng - 1) h - Sg + 2 hP h^3 = 0 from the hyperprior-free root
    let h = Sg / (ng - 1);
    for (let k = 0; k < 50; k++) h -= ((ng - 1) * h - Sg + 2 * hP * h ** 3) / (ng - 1 + 6 * hP * h * h);
    assert.ok(rel(fit.h[g], h) < 1e-9, `group ${g}: h ${fit.h[g]} vs closed form ${h}`);
  }
  // SPM's own stopping rule (predicted change < 0.1) stops short of the optimum but near it
  const spm = reml(Cy, X, [indicator(groups, 0), indicator(groups, 1)]);
  spm.h.forEach((h, g) => assert.ok(rel(h, fit.h[g]) < 0.1, `SPM stopping: h ${h} vs optimum ${fit.h[g]}`));
});

test('ReML recovers planted group variances (1 and 3) from many voxels, with covariates', () => {
  const rng = new Rng(5);
  const groups = [...new Array<number>(10).fill(0), ...new Array<number>(14).fill(1)];
  const n = groups.length;
  const age = groups.map(() => 60 + 10 * rng.normal());
  const X = groups.map((g, i) => [1, g, age[i] - 60]);
  const variance = [1, 3];
  const Cy = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const V = 4000;
  for (let v = 0; v < V; v++) {
    const b = [5 + rng.normal(), rng.normal(), 0.05 * rng.normal()];
    const y = X.map((x, i) => x[0] * b[0] + x[1] * b[1] + x[2] * b[2] + Math.sqrt(variance[groups[i]]) * rng.normal());
    for (let a = 0; a < n; a++) for (let c = 0; c < n; c++) Cy[a][c] += (y[a] * y[c]) / V;
  }
  const fit = reml(Cy, X, [indicator(groups, 0), indicator(groups, 1)]);
  // sampling error of a variance from ~4000 x 9 residual df is ~0.7 %; 4 % allows 5 SE plus
  // SPM's loose stopping rule
  assert.ok(rel(fit.h[0], 1) < 0.04, `h1 ${fit.h[0]}`);
  assert.ok(rel(fit.h[1], 3) < 0.04, `h2 ${fit.h[1]}`);
  assert.ok(rel(fit.h[1] / fit.h[0], 3) < 0.05, `ratio ${fit.h[1] / fit.h[0]}`);
  assert.ok(!fit.unidentified);
});

const DIMS: [number, number, number] = [5, 4, 3];
const NV = 60;
const AFFINE = [
  [-2, 0, 0, 10],
  [0, 2, 0, -5],
  [0, 0, 2, 2],
  [0, 0, 0, 1],
];

function writeScans(dir: string, Y: Float32Array[]): string[] {
  return Y.map((y, i) => {
    const p = join(dir, `s${i}.nii`);
    writeFileSync(p, encodeNifti({ dims: DIMS, affine: AFFINE, data: y }));
    return p;
  });
}

function interceptDesign(scans: string[], groups?: Int32Array): Design {
  const n = scans.length;
  return {
    scans,
    scanLabels: scans,
    columns: ['mean'],
    X: scans.map(() => [1]),
    covariates: [],
    intercept: true,
    n,
    p: 1,
    rank: 1,
    df: n - 1,
    collinear: [],
    rows: scans.map((_, i) => i + 2),
    model: 'one_sample',
    columnInfo: [],
    factors: [],
    roles: ['H'],
    ...(groups ? { varianceGroups: groups } : {}),
  };
}

test('two variance groups, intercept only: pooled covariance, weighted mean, ResMS and T as closed forms', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(3);
    const groups = Int32Array.from([0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1]);
    const n = groups.length;
    const sd = [1, 3];
    const Y = Array.from({ length: n }, (_, i) =>
      Float32Array.from({ length: NV }, (__, v) => 10 + 0.1 * v + sd[groups[i]] * rng.normal()),
    );
    const scans = writeScans(dir, Y);
    const fit = await fitModel(interceptDesign(scans, groups), { workers: 0 });
    const ns = fit.nonSphericity;
    assert.ok(ns);
    assert.equal(fit.vox.length, NV);
    // the pooled covariance, recomputed: OLS F = n ybar^2 / (ResSS / (n - 1)) against F(1, n-1)
    // at p < 0.001 (40.3 to 4 digits for df 11, from tables), each selected voxel weighted by
    // (n - 1) / ResSS
    const Cy = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    let s = 0;
    for (let v = 0; v < NV; v++) {
      const y = Y.map((scan) => scan[v]);
      const m = y.reduce((a, b) => a + b, 0) / n;
      const rss = y.reduce((a, b) => a + (b - m) ** 2, 0);
      const F = (n * m * m) / (rss / (n - 1));
      if (!(F > 19.69)) continue; // F(1, 11) upper 0.001 point is 19.69
      s++;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) Cy[a][b] += ((n - 1) / rss) * y[a] * y[b];
    }
    assert.ok(Math.abs(ns.UF - 19.69) < 0.01, `F threshold ${ns.UF}`);
    assert.equal(ns.voxelsPooled, s);
    for (const row of Cy) for (let b = 0; b < n; b++) row[b] /= s;
    const X = scans.map(() => [1]);
    const h = reml(Cy, X, [indicator([...groups], 0), indicator([...groups], 1)]).h;
    assert.ok(rel(ns.h[0], h[0]) < 1e-10 && rel(ns.h[1], h[1]) < 1e-10, `h ${String(ns.h)} vs ${String(h)}`);
    // V scaled to trace n, W = V^-1/2
    const vg = h.map(
      (x) => (x * n) / (h[0] * groups.filter((g) => g === 0).length + h[1] * groups.filter((g) => g === 1).length),
    );
    for (let i = 0; i < n; i++) {
      assert.ok(rel(ns.V[i], vg[groups[i]]) < 1e-12);
      assert.ok(rel(ns.W[i], 1 / Math.sqrt(vg[groups[i]])) < 1e-12);
    }
    assert.ok(Math.abs(ns.erdf - (n - 1)) < 1e-9 && Math.abs(ns.trRV - (n - 1)) < 1e-9);
    // weighted least squares: b = sum w^2 y / sum w^2, ResMS = sum w^2 (y - b)^2 / (n - 1),
    // T = b / sqrt(ResMS / sum w^2)
    const t = contrastMaps(fit, { index: 1, name: 'mean', type: 'T', weights: [[1]] });
    const w2 = Array.from({ length: n }, (_, i) => 1 / vg[groups[i]]);
    const sw2 = w2.reduce((a, b) => a + b, 0);
    for (let k = 0; k < NV; k++) {
      const v = fit.vox[k];
      const y = Y.map((scan) => scan[v]);
      const b = y.reduce((a, yi, i) => a + w2[i] * yi, 0) / sw2;
      const rms = y.reduce((a, yi, i) => a + w2[i] * (yi - b) ** 2, 0) / (n - 1);
      assert.ok(rel(fit.beta[k], b) < 1e-10, `beta at ${k}`);
      assert.ok(rel(fit.resMS[k], rms) < 1e-8, `ResMS at ${k}: ${fit.resMS[k]} vs ${rms}`);
      // T uses the float32 beta, as SPM's contrasts read beta images
      assert.ok(rel(t.stat[k], Math.fround(b) / Math.sqrt(rms / sw2)) < 1e-8, `T at ${k}`);
    }
    assert.ok(Math.abs(t.df[1] - (n - 1)) < 1e-9);
  } finally {
    cleanup();
  }
});

test('one variance group is the i.i.d. model, bit for bit; no selected voxel is a clear error', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rng = new Rng(9);
    const n = 8;
    const Y = Array.from({ length: n }, () => Float32Array.from({ length: NV }, () => 2 + rng.normal()));
    const scans = writeScans(dir, Y);
    const iid = await fitModel(interceptDesign(scans), { workers: 0 });
    const one = await fitModel(interceptDesign(scans, new Int32Array(n)), { workers: 0 });
    assert.equal(one.nonSphericity, undefined);
    assert.deepEqual(one.beta, iid.beta);
    assert.deepEqual(one.resMS, iid.resMS);
    const groups = Int32Array.from({ length: n }, (_, i) => i % 2);
    await assert.rejects(
      fitModel(interceptDesign(scans, groups), { workers: 0, UFp: 1e-300 }),
      (e: unknown) => e instanceof VbmError && /effects-of-interest F/.test(e.message),
    );
    // workers and in-process give the same whitened fit
    const a = await fitModel(interceptDesign(scans, groups), { workers: 0 });
    const b = await fitModel(interceptDesign(scans, groups), { workers: 2 });
    assert.ok(a.nonSphericity && b.nonSphericity);
    a.nonSphericity.h.forEach((h, g) => assert.ok(rel(h, b.nonSphericity?.h[g] ?? NaN) < 1e-12));
    for (let k = 0; k < a.beta.length; k++) assert.ok(rel(a.beta[k], b.beta[k]) < 1e-12);
  } finally {
    cleanup();
  }
});

test('effects-of-interest selection: F against the nested model without the B/G columns, at the F(2, 12) p < 0.001 point', async () => {
  const { selectVoxels, solveFromSums } = await import('../src/estimation/nonSphericity.js');
  const { pinv, matmul, transpose } = await import('../src/model/linalg.js');
  const rng = new Rng(17);
  const n = 15;
  const x1 = Array.from({ length: n }, () => rng.normal());
  const x2 = Array.from({ length: n }, () => rng.normal());
  // column 1 is a nuisance (global) column: only x1 and x2 are of interest
  const X = x1.map((_, i) => [1, x1[i], x2[i]]);
  const V = 300;
  const xty = new Float64Array(3 * V);
  const yy = new Float64Array(V);
  const Ys: number[][] = [];
  for (let v = 0; v < V; v++) {
    const effect = v % 3 === 0 ? 1.5 : 0;
    const y = X.map((r) => 4 + effect * r[1] + rng.normal());
    Ys.push(y);
    for (let i = 0; i < n; i++) {
      yy[v] += y[i] * y[i];
      for (let j = 0; j < 3; j++) xty[j * V + v] += X[i][j] * y[i];
    }
  }
  const design: Design = {
    scans: [],
    scanLabels: [],
    columns: ['g', 'x1', 'x2'],
    X,
    covariates: [],
    intercept: false,
    n,
    p: 3,
    rank: 3,
    df: n - 3,
    collinear: [],
    roles: ['G', 'C', 'C'],
    rows: X.map((_, i) => i + 2),
    model: 'multiple_regression',
    columnInfo: [],
    factors: [],
  };
  const candOf = Int32Array.from({ length: V }, (_, i) => i);
  const ols = solveFromSums(pinv(matmul(transpose(X), X)), { xty, yy }, candOf, V, 3, n - 3);
  const { statFromTail } = await import('../src/inference/distributions.js');
  const pick = selectVoxels(design, { xty }, candOf, V, ols, 0.001, (p, df) => statFromTail('F', p, df));
  assert.ok(Math.abs(pick.UF - 12.97) < 0.01, `F threshold ${pick.UF} (tables: 12.97)`);
  assert.deepEqual(pick.df, [2, 12]);
  const expected: number[] = [];
  for (let v = 0; v < V; v++) {
    const y = Ys[v];
    const m = y.reduce((a, b) => a + b, 0) / n;
    const rss0 = y.reduce((a, b) => a + (b - m) ** 2, 0);
    // the full model's residuals, from its betas
    const b = [0, 1, 2].map((j) => ols.beta[v * 3 + j]);
    const rss = y.reduce((a, yi, i) => a + (yi - X[i][0] * b[0] - X[i][1] * b[1] - X[i][2] * b[2]) ** 2, 0);
    const F = (rss0 - rss) / 2 / (rss / (n - 3));
    if (F > pick.UF) expected.push(v);
    const k = [...pick.selected].indexOf(v);
    if (k >= 0) assert.ok(rel(pick.weight[k], (n - 3) / rss) < 1e-9, `weight at ${v}`);
  }
  assert.deepEqual([...pick.selected], expected);
  assert.ok(expected.length > 50 && expected.length < V, `${expected.length} voxels selected`);
});
