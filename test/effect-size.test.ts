import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNifti } from '../src/node/nifti/write.js';
import { readVolume } from '../src/node/nifti/read.js';
import { mniLikeAffine } from '../src/synth/phantom.js';
import { Rng } from '../src/synth/random.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runResults } from '../src/pipeline/results.js';
import { partialR2, signedLogP, twoGroupContrast } from '../src/inference/effectSize.js';
import { tTail } from '../src/inference/distributions.js';
import { VbmError } from '../src/errors.js';
import { tempDir } from './helpers.js';

const dims: [number, number, number] = [8, 8, 8];
const NV = 512;
/** Voxels 0..255 (z < 4) carry the planted effects; the rest is noise. */
const planted = (v: number): boolean => v < 256;
const D_TRUE = 0.8;
const AGE_PER_YEAR = 0.04;

/** Two groups of 14, ages 20-80; y = 10 + 0.8 group + perYear age + N(0, 1) in the planted half. */
function makeStudy(dir: string, perYear = AGE_PER_YEAR): { group: number[]; age: number[]; Y: Float64Array[] } {
  const rng = new Rng(77);
  const n = 28;
  const group = Array.from({ length: n }, (_, i) => (i % 2 ? 1 : 0));
  const age = Array.from({ length: n }, () => Math.round((20 + 60 * rng.uniform()) * 10) / 10);
  const affine = mniLikeAffine(dims, 4);
  mkdirSync(join(dir, 'scans'), { recursive: true });
  const lines = ['scan,group,age'];
  const Y: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const data = new Float32Array(NV);
    for (let v = 0; v < NV; v++) data[v] = 10 + rng.normal() + (planted(v) ? D_TRUE * group[i] + perYear * age[i] : 0);
    writeFileSync(join(dir, 'scans', `s${i}.nii`), encodeNifti({ dims, affine, data }));
    lines.push(`scans/s${i}.nii,${group[i]},${age[i]}`);
    Y.push(Float64Array.from(data));
  }
  writeFileSync(join(dir, 'design.csv'), lines.join('\n') + '\n');
  return { group, age, Y };
}

/** Plain least squares at one voxel: coefficients and residual sum of squares (Gauss-Jordan on X'X). */
function ols(X: number[][], y: number[]): { b: number[]; rss: number } {
  const p = X[0].length;
  const A = Array.from({ length: p }, (_, a) => [
    ...Array.from({ length: p }, (__, c) => X.reduce((s, r) => s + r[a] * r[c], 0)),
    X.reduce((s, r, i) => s + r[a] * y[i], 0),
  ]);
  for (let c = 0; c < p; c++) {
    let piv = c;
    for (let r = c + 1; r < p; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    const d = A[c][c];
    for (let k = 0; k <= p; k++) A[c][k] /= d;
    for (let r = 0; r < p; r++)
      if (r !== c) {
        const f = A[r][c];
        for (let k = 0; k <= p; k++) A[r][k] -= f * A[c][k];
      }
  }
  const b = A.map((r) => r[p]);
  const rss = y.reduce((s, yi, i) => s + (yi - X[i].reduce((t, x, k) => t + x * b[k], 0)) ** 2, 0);
  return { b, rss };
}

// float32 maps: 2e-5 absolute + relative covers the rounding of T and of the map values
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 2e-5 * (1 + Math.abs(b));

test("two-sample design: Cohen's d equals the textbook pooled-SD d; r, signed -log10 p, and planted d recovered", async () => {
  const t = tempDir('vbm-effect-');
  try {
    const { group, Y } = makeStudy(t.dir, 0);
    const out = join(t.dir, 'res');
    await runAnalysis({
      design: join(t.dir, 'design.csv'),
      out,
      covariates: ['group'],
      contrasts: [
        { name: 'group 1 > 0', type: 'T', columns: ['group'], weights: [1] },
        { name: 'group 0 > 1', type: 'T', columns: ['group'], weights: [-1] },
      ],
      workers: 0,
    });
    const res = runResults(out, {
      contrast: 1,
      threshold: 0.001,
      correction: 'none',
      extent: 0,
      maps: ['d', 'r', 'logp'],
    });
    assert.deepEqual(res.files.filter((f) => /_(d|r|mlog10p)\.nii$/.test(f)).sort(), [
      'spmT_0001_d.nii',
      'spmT_0001_mlog10p.nii',
      'spmT_0001_r.nii',
    ]);
    const d = readVolume(join(out, 'spmT_0001_d.nii')).data;
    const r = readVolume(join(out, 'spmT_0001_r.nii')).data;
    const lp = readVolume(join(out, 'spmT_0001_mlog10p.nii')).data;
    const n1 = group.filter((g) => g === 1).length;
    const n0 = group.length - n1;
    let sumD = 0;
    let sumNull = 0;
    for (let v = 0; v < NV; v++) {
      const y1 = Y.filter((_, i) => group[i] === 1).map((s) => s[v]);
      const y0 = Y.filter((_, i) => group[i] === 0).map((s) => s[v]);
      const m1 = y1.reduce((a, b) => a + b, 0) / n1;
      const m0 = y0.reduce((a, b) => a + b, 0) / n0;
      const ss = y1.reduce((a, b) => a + (b - m1) ** 2, 0) + y0.reduce((a, b) => a + (b - m0) ** 2, 0);
      const sp = Math.sqrt(ss / (n1 + n0 - 2));
      const dText = (m1 - m0) / sp;
      assert.ok(close(d[v], dText), `voxel ${v}: d ${d[v]} vs pooled-SD d ${dText}`);
      // r: the point-biserial correlation of y with group
      const all = Y.map((s) => s[v]);
      const my = all.reduce((a, b) => a + b, 0) / all.length;
      const mg = group.reduce((a, b) => a + b, 0) / group.length;
      let sxy = 0;
      let sxx = 0;
      let syy = 0;
      all.forEach((yv, i) => {
        sxy += (yv - my) * (group[i] - mg);
        sxx += (group[i] - mg) ** 2;
        syy += (yv - my) ** 2;
      });
      assert.ok(close(r[v], sxy / Math.sqrt(sxx * syy)), `voxel ${v}: r`);
      // signed -log10 p: the two-sample t from the textbook formula, its tail by direction
      const tt = (m1 - m0) / (sp * Math.sqrt(1 / n1 + 1 / n0));
      const expect = tt >= 0 ? -Math.log10(tTail(tt, n1 + n0 - 2)) : Math.log10(tTail(-tt, n1 + n0 - 2));
      assert.ok(close(lp[v], expect), `voxel ${v}: signed log p ${lp[v]} vs ${expect}`);
      if (planted(v)) sumD += dText;
      else sumNull += dText;
    }
    // planted d = 0.8: the mean over 256 independent voxels has SE about sqrt(1/14 + 1/14)/16 = 0.024
    // (4 SE), plus 0.05 for d's small-sample upward bias (Hedges' factor 1 - 3/(4 df - 1) = 0.97)
    assert.ok(Math.abs(sumD / 256 - D_TRUE) < 4 * 0.024 + 0.05, `mean d in the planted region ${sumD / 256}`);
    assert.ok(Math.abs(sumNull / 256) < 4 * 0.024, `mean d where nothing is planted ${sumNull / 256}`);
    assert.ok(lp.some((x) => x < -1) && lp.some((x) => x > 1), 'both signs appear in the signed -log10 p map');
    // the reversed contrast has the opposite d
    runResults(out, { contrast: 2, threshold: 0.5, correction: 'none', extent: 0, maps: ['d'] });
    const d2 = readVolume(join(out, 'spmT_0002_d.nii')).data;
    for (let v = 0; v < NV; v++) assert.ok(close(d2[v], -d[v]));
    // the table: r and d at each peak, equal to the maps at the peak voxels
    const csv = readFileSync(join(out, 'table_0001.csv'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(','));
    const h = csv[0];
    assert.ok(h.includes('peak_r') && h.includes('peak_d'));
    assert.ok(csv.length > 1, 'the planted effect gives peaks');
    for (const row of csv.slice(1)) {
      const [i, j, k] = ['i_vox0', 'j_vox0', 'k_vox0'].map((c) => Number(row[h.indexOf(c)]));
      const v = i + 8 * (j + 8 * k);
      assert.ok(close(Number(row[h.indexOf('peak_d')]), d[v]));
      assert.ok(close(Number(row[h.indexOf('peak_r')]), r[v]));
    }
    assert.match(res.text, /Cohen's d = [\d.]+ x T/);
    assert.match(res.text, /\s r\s+d\s/);
  } finally {
    t.cleanup();
  }
});

test('with a covariate: d is the adjusted difference over the residual SD, r the partial correlation, R2 of F the partial R2', async () => {
  const t = tempDir('vbm-effect2-');
  try {
    const { group, age, Y } = makeStudy(t.dir);
    const out = join(t.dir, 'res');
    await runAnalysis({
      design: join(t.dir, 'design.csv'),
      out,
      contrasts: [
        { name: 'group', type: 'T', columns: ['group'], weights: [1] },
        { name: 'age', type: 'T', columns: ['age'], weights: [1] },
        { name: 'group or age', type: 'F', columns: ['group', 'age'] },
      ],
      workers: 0,
    });
    runResults(out, { contrast: 1, threshold: 0.001, correction: 'none', extent: 0, maps: ['d', 'r'] });
    const ageRes = runResults(out, {
      contrast: 2,
      threshold: 0.001,
      correction: 'none',
      extent: 0,
      maps: ['d', 'r', 'R2'],
    });
    runResults(out, { contrast: 3, threshold: 0.001, correction: 'none', extent: 0, maps: ['R2', 'r'] });
    // age has no d (continuous) and no R2 (a T contrast): notes, no files; asked by name, refused
    assert.equal(ageRes.notes.length, 2);
    assert.match(
      ageRes.notes.join('\n'),
      /no d map: d is defined for a two-group contrast only: its column 'age' takes \d+ values/,
    );
    assert.ok(!ageRes.files.includes('spmT_0002_d.nii') && ageRes.files.includes('spmT_0002_r.nii'));
    assert.throws(
      () =>
        runResults(out, {
          contrast: 2,
          threshold: 0.001,
          correction: 'none',
          extent: 0,
          maps: ['d'],
          strictMaps: true,
        }),
      (e: unknown) => e instanceof VbmError && /two-group/.test(e.message),
    );
    const d = readVolume(join(out, 'spmT_0001_d.nii')).data;
    const rg = readVolume(join(out, 'spmT_0001_r.nii')).data;
    const ra = readVolume(join(out, 'spmT_0002_r.nii')).data;
    const R2 = readVolume(join(out, 'spmF_0003_R2.nii')).data;
    const n = group.length;
    const Xfull = group.map((g, i) => [1, g, age[i]]);
    const Xage = age.map((a) => [1, a]);
    const Xgroup = group.map((g) => [1, g]);
    const X1 = group.map(() => [1]);
    const resid = (X: number[][], y: number[]): number[] => {
      const { b } = ols(X, y);
      return y.map((yi, i) => yi - X[i].reduce((s, x, k) => s + x * b[k], 0));
    };
    const corr = (a: number[], b: number[]): number => {
      const dot = a.reduce((s, x, i) => s + x * b[i], 0);
      return dot / Math.sqrt(a.reduce((s, x) => s + x * x, 0) * b.reduce((s, x) => s + x * x, 0));
    };
    let sumD = 0;
    for (let v = 0; v < NV; v++) {
      const y = Y.map((s) => s[v]);
      const full = ols(Xfull, y);
      const sigma = Math.sqrt(full.rss / (n - 3));
      assert.ok(close(d[v], full.b[1] / sigma), `voxel ${v}: d`);
      if (planted(v)) sumD += d[v];
      // partial correlation: residuals of y and of the tested column on the other columns
      assert.ok(close(rg[v], corr(resid(Xage, y), resid(Xage, group))), `voxel ${v}: partial r of group`);
      assert.ok(close(ra[v], corr(resid(Xgroup, y), resid(Xgroup, age))), `voxel ${v}: partial r of age`);
      // partial R2 of (group, age) against the constant-only model
      const red = ols(X1, y);
      assert.ok(close(R2[v], (red.rss - full.rss) / red.rss), `voxel ${v}: partial R2`);
    }
    // the planted difference is 0.8 SD whatever age does: same tolerance as above
    assert.ok(Math.abs(sumD / 256 - D_TRUE) < 4 * 0.025 + 0.05, `adjusted d in the planted region ${sumD / 256}`);
    const csv = readFileSync(join(out, 'table_0003.csv'), 'utf8').split('\n')[0];
    assert.match(csv, /peak_R2/);
  } finally {
    t.cleanup();
  }
});

test('two-group contrasts recognised: group indicator columns and a two-valued column; closed forms', () => {
  // cell-means design: columns A, B (indicators), c = [1 -1]: factor sqrt(1/nA + 1/nB)
  const X = [1, 1, 1, 0, 0].map((a) => [a, 1 - a]);
  const g = twoGroupContrast(X, ['group[A]', 'group[B]'], [1, -1]);
  assert.ok(g.twoGroup && Math.abs(g.factor - Math.sqrt(1 / 3 + 1 / 2)) < 1e-12 && g.n.join() === '3,2');
  // weights of 0.5 / -0.5 describe the same difference: the factor doubles so d is the same
  const h = twoGroupContrast(X, ['group[A]', 'group[B]'], [0.5, -0.5]);
  assert.ok(
    h.twoGroup && Math.abs(h.factor - Math.sqrt(1 / 3 + 1 / 2)) < 1e-12,
    'd does not depend on the scale of the weights',
  );
  // a -1/+1 coded column with an intercept: the group difference is 2 slopes, d = T sqrt(1/n1 + 1/n2)
  const Xs = [1, 1, -1, -1, -1].map((s) => [1, s]);
  const s = twoGroupContrast(Xs, ['mean', 'sex'], [0, 1]);
  assert.ok(s.twoGroup && Math.abs(s.factor - Math.sqrt(1 / 2 + 1 / 3)) < 1e-12);
  const c = twoGroupContrast(
    [1, 2, 3, 4].map((a) => [1, a]),
    ['mean', 'age'],
    [0, 1],
  );
  assert.ok(!c.twoGroup && /takes 4 values/.test(c.reason));
  // closed forms of the other transforms
  assert.ok(Math.abs(partialR2(4, 2, 20) - 8 / 28) < 1e-15);
  assert.ok(Math.abs(signedLogP(-2.5, 20) + signedLogP(2.5, 20)) < 1e-12);
});
