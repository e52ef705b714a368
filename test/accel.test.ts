/**
 * Accelerated permutation p-values: the generalised Pareto tail against closed-form tails, the
 * tail and sequential stopping against exact runs with 10x more permutations (null and planted
 * data), and the FWE error rate of both on null studies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitTail, gpdSurvival, parseAccel, peakClearlyNotSignificant, tailPValues } from '../src/permutation/accel.js';
import { permutationTest, type PermuteOptions } from '../src/permutation/permute.js';
import { Rng } from '../src/synth/random.js';
import { gaussianSmooth } from '../src/synth/smooth.js';
import { VbmError } from '../src/errors.js';
import { parseAnalysisSpec } from '../src/pipeline/analysisFile.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

type Dims = [number, number, number];
const AFFINE = [
  [2, 0, 0, 0],
  [0, 2, 0, 0],
  [0, 0, 2, 0],
  [0, 0, 0, 1],
];
const fullGrid = (d: Dims): Int32Array => Int32Array.from({ length: d[0] * d[1] * d[2] }, (_, i) => i);

test('the GPD tail fitted to 1000 draws recovers closed-form tail probabilities far beyond 1/1000', () => {
  const rng = new Rng(11);
  // exponential: survival exp(-x), a GPD with shape 0 above any threshold
  const N = 1000;
  const exp = Float64Array.from({ length: N }, () => -Math.log(1 - rng.uniform()));
  const { p, fit } = tailPValues(exp, -1, [-Math.log(0.01), -Math.log(0.001), -Math.log(1e-4)]);
  assert.ok(fit, 'an exponential tail must pass the goodness-of-fit test');
  // Tolerance: with ~100-250 tail points the fitted scale has ~7-10% sampling error, which grows
  // to about x/scale * 10% in log p at x = 9.2 (p = 1e-4): a factor of 2.5 covers 2-3 SE there.
  for (const [k, want] of [
    [0, 0.01],
    [1, 0.001],
    [2, 1e-4],
  ] as const) {
    const ratio = p[k] / want;
    assert.ok(ratio > 1 / 2.5 && ratio < 2.5, `p ${p[k]} for true ${want}`);
  }
  // a heavy tail (Hosking shape k = -0.2, survival (1 - k y)^(1/k)): shape and survival far out
  const k = -0.2;
  const g = Float64Array.from({ length: 5000 }, () => (1 - Math.pow(1 - rng.uniform(), k)) / k).sort();
  const f = fitTail(g);
  assert.ok(f && Math.abs(f.shape - k) < 0.15, `shape ${f?.shape}`);
  const y = 30; // true survival (1 + 0.2 * 30)^-5 = 5.9e-5
  const est = f.tailFraction * gpdSurvival(y - f.threshold, f.scale, f.shape);
  const truth = Math.pow(1 - k * y, 1 / k);
  // tolerance: a factor 2 at 1/85 of the smallest counted p-value (1/5000)
  assert.ok(est / truth > 0.5 && est / truth < 2, `survival at 30: ${est} vs ${truth}`);
  // a bounded fit is replaced by the exponential tail (shape 0)
  const b = Float64Array.from({ length: 5000 }, () => (1 - Math.pow(1 - rng.uniform(), 0.3)) / 0.3).sort();
  const fb = fitTail(b);
  assert.ok(fb === null || fb.shape === 0);
});

test('the stopping rule and the --accel parser', () => {
  // 30 of 100 null maxima above the peak: p ~ 0.3, far above 0.05
  assert.equal(peakClearlyNotSignificant(30, 100, 0.05), true);
  // 6 of 100: could still be <= 0.05
  assert.equal(peakClearlyNotSignificant(6, 100, 0.05), false);
  // too few exceedances to judge
  assert.equal(peakClearlyNotSignificant(9, 9, 0.05), false);
  assert.deepEqual(parseAccel('tail,stop', '--accel'), { tail: true, stop: true });
  assert.throws(
    () => parseAccel('gamma', '--accel'),
    (e: unknown) => e instanceof VbmError && /--accel: 'gamma'/.test(e.message),
  );
  // in an analysis file: a list or a string under permute:, errors naming the key
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'd.csv'), 'scan,age\na.nii,1\n');
    const spec = parseAnalysisSpec({ design: 'd.csv', out: 'o', permute: { accel: ['tail', 'stop'] } }, dir, 'a.yaml');
    assert.deepEqual(spec.permute?.accel, { tail: true, stop: true });
    assert.throws(
      () => parseAnalysisSpec({ design: 'd.csv', out: 'o', permute: { accel: 'negbin' } }, dir, 'a.yaml'),
      /a\.yaml: permute\.accel: 'negbin'/,
    );
  } finally {
    cleanup();
  }
});

function study(seed: number, dims: Dims, n: number, planted: number): { X: number[][]; Y: Float32Array } {
  const rng = new Rng(seed);
  const V = dims[0] * dims[1] * dims[2];
  const X = Array.from({ length: n }, () => [1, rng.normal(), rng.normal()]);
  const Y = new Float32Array(n * V);
  const [cx, cy, cz] = dims.map((d) => (d - 1) / 2);
  for (let i = 0; i < n; i++) {
    const f = gaussianSmooth(
      Float32Array.from({ length: V }, () => rng.normal()),
      dims,
      [1.5, 1.5, 1.5],
    );
    for (let g = 0; g < V; g++) {
      const x = g % dims[0];
      const y = Math.floor(g / dims[0]) % dims[1];
      const z = Math.floor(g / (dims[0] * dims[1]));
      const blob = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / 4);
      f[g] += planted * blob * X[i][1] + 0.3 * X[i][2];
    }
    Y.set(f, i * V);
  }
  return { X, Y };
}

async function run(s: { X: number[][]; Y: Float32Array }, dims: Dims, opts: Omit<PermuteOptions, 'contrast'>) {
  return permutationTest(
    {
      X: s.X,
      weights: [[0, 1, 0]],
      type: 'T',
      contrast: { index: 1, name: 'x' },
      Y: s.Y,
      voxels: fullGrid(dims),
      dims,
      affine: AFFINE,
    },
    { workers: 0, ...opts },
  );
}

test('tail-approximated FWE p-values from 1000 permutations against exact ones from 10,000 (null and planted data)', async () => {
  const dims: Dims = [10, 10, 8];
  const qs = [0.05, 0.01, 0.001];
  for (const [label, planted] of [
    ['null', 0],
    ['planted', 0.9],
  ] as const) {
    const s = study(label === 'null' ? 5 : 6, dims, 40, planted);
    const exact = await run(s, dims, { permutations: 10000, seed: 1, tfce: true });
    // five independent 1000-permutation runs with the tail approximation
    const fast = [];
    for (let seed = 2; seed <= 6; seed++)
      fast.push(await run(s, dims, { permutations: 1000, seed, tfce: true, accel: { tail: true } }));
    for (const f of fast)
      assert.ok(
        f.accel?.tail?.stat && /generalised Pareto/.test(f.accel.note),
        `${label}: the max-T tail must be fitted`,
      );
    for (const family of ['stat', 'tfce'] as const) {
      // thresholds where the exact run's FWE p is 0.05, 0.01, 0.001; each fast run's tail p there
      const sorted = Float64Array.from(exact.maxima[family]!).sort();
      const xs = qs.map((q) => sorted[Math.floor((1 - q) * sorted.length)]);
      const logErr = qs.map(() => [] as number[]);
      for (const f of fast)
        tailPValues(f.maxima[family]!, 0, xs).p.forEach((p, i) => logErr[i].push(Math.log(p / qs[i])));
      const gm = logErr.map((e) => Math.exp(e.reduce((x, y) => x + y, 0) / e.length));
      const rms = logErr.map((e) => Math.sqrt(e.reduce((x, y) => x + y * y, 0) / e.length));
      process.stdout.write(
        `# ${label} ${family}: tail p from 1000 permutations / exact p from 10,000 (geometric mean over 5 runs, rms log error): ${qs.map((q, i) => `at ${q}: ${gm[i].toFixed(2)}x, ${rms[i].toFixed(2)}`).join('; ')}\n`,
      );
      // Tolerance: the exact reference has a binomial relative SE of 4%, 10%, 32% at 0.05, 0.01,
      // 0.001, and counting 1000 permutations would have 14%, 31%, 100%. The mean over 5 runs must
      // be within 25%, 50% and a factor 2.5 of the exact p (the reference's own error at 0.001,
      // +-32%, compounds the tail's); single runs within a factor 5 at 0.001 (one of 20 here was 4.2x low).
      assert.ok(gm[0] > 0.8 && gm[0] < 1.25, `${label} ${family} at 0.05: ${gm[0]}`);
      assert.ok(gm[1] > 0.67 && gm[1] < 1.5, `${label} ${family} at 0.01: ${gm[1]}`);
      assert.ok(gm[2] > 0.4 && gm[2] < 2.5, `${label} ${family} at 0.001: ${gm[2]}`);
      assert.ok(
        logErr[2].every((e) => Math.abs(e) < Math.log(5)),
        `${label} ${family} at 0.001: ${logErr[2].map(Math.exp).join(',')}`,
      );
    }
    // the run's own FWE p-values are the tail function of its null maxima
    const again = tailPValues(fast[0].maxima.stat, 0, fast[0].stat).p;
    assert.deepEqual(Array.from(fast[0].pFwe), Array.from(again));
    if (label === 'planted') {
      // the planted peak: the exact run says p <= 0.001, and so does every tail run
      let best = 0;
      for (let v = 1; v < exact.stat.length; v++) if (exact.stat[v] > exact.stat[best]) best = v;
      assert.ok(
        exact.pFwe[best] <= 0.001 && fast.every((f) => f.pFwe[best] <= 0.001),
        `peak: exact ${exact.pFwe[best]}, tail ${fast.map((f) => f.pFwe[best]).join(',')}`,
      );
    }
  }
});

test('sequential stopping: stops early on null data, runs to the end when an effect is planted, same conclusions', async () => {
  const dims: Dims = [10, 10, 8];
  const nul = study(7, dims, 30, 0);
  const stopped = await run(nul, dims, {
    permutations: 2000,
    seed: 3,
    tfce: true,
    clusterThreshold: 0.01,
    accel: { stop: true },
  });
  assert.ok(
    stopped.accel?.stop?.stoppedEarly && stopped.permutations < 2000,
    `null data used ${stopped.permutations} permutations`,
  );
  assert.ok(stopped.pFwe.every((p) => p > 0.05) && stopped.tfcePFwe!.every((p) => p > 0.05));
  assert.ok(/sequential stopping ended the run after/.test(stopped.accel.note));
  process.stdout.write(`# null study: stopped after ${stopped.permutations} of 2000 permutations\n`);
  const planted = study(8, dims, 30, 1);
  const full = await run(planted, dims, { permutations: 600, seed: 3, tfce: true, accel: { stop: true } });
  assert.equal(full.permutations, 600);
  assert.equal(full.accel?.stop?.stoppedEarly, false);
  assert.ok(Math.min(...full.pFwe) <= 0.05);
});

test('FWE error on 200 null studies stays within binomial limits with --accel tail and with --accel stop', async () => {
  // 200 null studies; the count with any FWE p <= 0.05 must be Binomial(200, 0.05): mean 10,
  // sd 3.1; accepted 2..20 (about +-3 sd), for max-T and TFCE under each acceleration
  const dims: Dims = [8, 8, 6];
  const studies = 200;
  const hits = { tailStat: 0, tailTfce: 0, stopStat: 0, stopTfce: 0 };
  let used = 0;
  for (let k = 0; k < studies; k++) {
    const s = study(1000 + k, dims, 16, 0);
    const t = await run(s, dims, { permutations: 200, seed: k + 1, tfce: true, accel: { tail: true } });
    const st = await run(s, dims, { permutations: 500, seed: k + 1, tfce: true, accel: { stop: true } });
    if (t.pFwe.some((p) => p <= 0.05)) hits.tailStat++;
    if (t.tfcePFwe!.some((p) => p <= 0.05)) hits.tailTfce++;
    if (st.pFwe.some((p) => p <= 0.05)) hits.stopStat++;
    if (st.tfcePFwe!.some((p) => p <= 0.05)) hits.stopTfce++;
    used += st.permutations;
  }
  process.stdout.write(
    `# null studies with an FWE hit: ${JSON.stringify(hits)}; sequential stopping used ${(used / studies).toFixed(0)} of 500 permutations on average\n`,
  );
  for (const [k, h] of Object.entries(hits)) assert.ok(h >= 2 && h <= 20, `${k}: ${h} of ${studies}`);
});
