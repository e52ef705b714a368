/**
 * Permutation inference with variance groups (Winkler et al. 2014; PALM's -vg):
 * - the observed statistic against textbook formulas computed here: Welch's t for two groups
 *   (t = (m1 - m2) / sqrt(s1^2/n1 + s2^2/n2)) and Welch's (1951) heteroscedastic one-way ANOVA F
 *   for three groups, which Winkler's G reduces to for a group-mean design;
 * - the FWE rate of max-v on 200 null studies whose two groups have very different variances
 *   (small group sd 3, large group sd 1: the case where the pooled-variance t is too liberal)
 *   must be binomial(200, 0.05): between 2 and 20 (the bounds test/permutation.test.ts uses,
 *   ~3 SD either side of 10). The variance groups are the exchangeability blocks (Winkler et
 *   al. 2014: exchangeability needs equal variances), so vbm sign-flips by default; permuting
 *   the labels across groups measured 28 of 200 with v, 67 with the pooled T.
 * Tolerance on statistics: 2e-6 relative (the permutation engine stores data and maps as float32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { permutationTest } from '../src/permutation/permute.js';
import { Rng } from '../src/synth/random.js';

const IDENTITY = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

function groupDesign(groups: number[], k: number): number[][] {
  return groups.map((g) => Array.from({ length: k }, (_, j) => (j === g ? 1 : 0)));
}

function simulate(rng: Rng, groups: number[], sd: number[], V: number, mean: number[] = sd.map(() => 0)): Float32Array {
  const n = groups.length;
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++) for (let v = 0; v < V; v++) Y[i * V + v] = mean[groups[i]] + sd[groups[i]] * rng.normal();
  return Y;
}

function groupStats(
  Y: Float32Array,
  groups: number[],
  V: number,
  v: number,
  g: number,
): { n: number; mean: number; var: number } {
  const y = groups.map((x, i) => (x === g ? Y[i * V + v] : NaN)).filter((x) => !Number.isNaN(x));
  const mean = y.reduce((a, b) => a + b, 0) / y.length;
  return { n: y.length, mean, var: y.reduce((a, b) => a + (b - mean) ** 2, 0) / (y.length - 1) };
}

test("Welch's v equals Welch's t, and G equals Welch's heteroscedastic ANOVA F", async () => {
  const rng = new Rng(21);
  const V = 12;
  // two groups
  const g2 = [...new Array<number>(7).fill(0), ...new Array<number>(11).fill(1)];
  const Y2 = simulate(rng, g2, [2, 0.5], V, [1, 0]);
  const r2 = await permutationTest(
    {
      X: groupDesign(g2, 2),
      weights: [[1, -1]],
      type: 'T',
      contrast: { index: 1, name: 'a > b' },
      Y: Float32Array.from(Y2),
      voxels: Int32Array.from({ length: V }, (_, i) => i),
      dims: [V, 1, 1],
      affine: IDENTITY,
      varianceGroups: g2,
    },
    { permutations: 50, seed: 1, workers: 0, kernel: 'js' },
  );
  assert.equal(r2.varianceGroups, 2);
  for (let v = 0; v < V; v++) {
    const a = groupStats(Y2, g2, V, v, 0);
    const b = groupStats(Y2, g2, V, v, 1);
    const t = (a.mean - b.mean) / Math.sqrt(a.var / a.n + b.var / b.n);
    assert.ok(
      Math.abs(r2.stat[v] - t) < 2e-6 * Math.max(1, Math.abs(t)),
      `voxel ${v}: v ${r2.stat[v]} vs Welch t ${t}`,
    );
  }
  // three groups, F over the group differences
  const g3 = [...new Array<number>(6).fill(0), ...new Array<number>(9).fill(1), ...new Array<number>(8).fill(2)];
  const Y3 = simulate(rng, g3, [1, 3, 0.7], V, [0.5, 0, 0]);
  const r3 = await permutationTest(
    {
      X: groupDesign(g3, 3),
      weights: [
        [1, -1, 0],
        [0, 1, -1],
      ],
      type: 'F',
      contrast: { index: 1, name: 'groups' },
      Y: Float32Array.from(Y3),
      voxels: Int32Array.from({ length: V }, (_, i) => i),
      dims: [V, 1, 1],
      affine: IDENTITY,
      varianceGroups: g3,
    },
    { permutations: 50, seed: 2, workers: 0, kernel: 'js' },
  );
  for (let v = 0; v < V; v++) {
    const s = [0, 1, 2].map((g) => groupStats(Y3, g3, V, v, g));
    const w = s.map((x) => x.n / x.var);
    const W = w.reduce((a, b) => a + b, 0);
    const mw = s.reduce((a, x, g) => a + w[g] * x.mean, 0) / W;
    const k = 3;
    const num = s.reduce((a, x, g) => a + w[g] * (x.mean - mw) ** 2, 0) / (k - 1);
    const lambda = 1 + ((2 * (k - 2)) / (k * k - 1)) * s.reduce((a, x, g) => a + (1 - w[g] / W) ** 2 / (x.n - 1), 0);
    const F = num / lambda;
    assert.ok(Math.abs(r3.stat[v] - F) < 2e-6 * Math.max(1, F), `voxel ${v}: G ${r3.stat[v]} vs Welch F ${F}`);
  }
});

test('FWE rate of max-v on null studies with unequal group variances stays near 5%', async () => {
  const studies = 200;
  const V = 20;
  const groups = [...new Array<number>(8).fill(0), ...new Array<number>(16).fill(1)];
  const X = groupDesign(groups, 2);
  let hits = 0;
  let pooledHits = 0;
  for (let s = 0; s < studies; s++) {
    const rng = new Rng(1000 + s);
    const Y = simulate(rng, groups, [3, 1], V);
    const input = {
      X,
      weights: [[1, -1]],
      type: 'T' as const,
      contrast: { index: 1, name: 'a > b' },
      voxels: Int32Array.from({ length: V }, (_, i) => i),
      dims: [V, 1, 1] as [number, number, number],
      affine: IDENTITY,
    };
    const r = await permutationTest(
      { ...input, Y: Float32Array.from(Y), varianceGroups: groups },
      { permutations: 100, seed: s + 1, workers: 0, kernel: 'js' },
    );
    // with variance groups the default is sign flipping
    assert.equal(r.scheme, 'signflip');
    if (r.pFwe.some((p) => p <= 0.05)) hits++;
    // for contrast: the pooled-variance T with the group labels permuted is far too liberal here
    const pooled = await permutationTest(
      { ...input, Y: Float32Array.from(Y) },
      { permutations: 100, seed: s + 1, workers: 0, kernel: 'js' },
    );
    if (pooled.pFwe.some((p) => p <= 0.05)) pooledHits++;
  }
  assert.ok(hits >= 2 && hits <= 20, `${hits} of ${studies} null studies had an FWE-significant voxel`);
  assert.ok(
    pooledHits > 30,
    `pooled T with permuted labels: ${pooledHits} of ${studies} (expected well above 5%: the test can tell)`,
  );
});

test('with variance groups: sign flips by default, permutations only within groups when asked for', async () => {
  const rng = new Rng(8);
  const groups = [...new Array<number>(10).fill(0), ...new Array<number>(12).fill(1)];
  const age = groups.map(() => 60 + 8 * rng.normal());
  const X = groups.map((g, i) => [g === 0 ? 1 : 0, g === 1 ? 1 : 0, age[i] - 60]);
  const V = 6;
  const Y = simulate(rng, groups, [2, 1], V);
  const input = {
    X,
    weights: [[0, 0, 1]],
    type: 'T' as const,
    contrast: { index: 1, name: 'age' },
    voxels: Int32Array.from({ length: V }, (_, i) => i),
    dims: [V, 1, 1] as [number, number, number],
    affine: IDENTITY,
    varianceGroups: groups,
  };
  const flips = await permutationTest(
    { ...input, Y: Float32Array.from(Y) },
    { permutations: 200, seed: 3, workers: 0, kernel: 'js' },
  );
  assert.equal(flips.scheme, 'signflip');
  const within = await permutationTest(
    { ...input, Y: Float32Array.from(Y) },
    { permutations: 200, seed: 3, workers: 0, kernel: 'js', scheme: 'permute' },
  );
  assert.equal(within.scheme, 'permute');
  // the observed statistic does not depend on the scheme
  for (let v = 0; v < V; v++) assert.equal(within.stat[v], flips.stat[v]);
  assert.ok(within.pUnc.every((p) => p > 0 && p <= 1) && flips.pUnc.every((p) => p > 0 && p <= 1));
});
