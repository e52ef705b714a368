/**
 * Permutation inference: exact TFCE against hand-computed cases and the stepped sum, the
 * Freedman-Lane statistic against a brute-force refit, enumeration counts, FWE error on null
 * data, planted effects found, and interrupt-and-resume giving the uninterrupted answer.
 */
import { writeStudy } from './support/study.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { maskedNeighbours } from '../src/inference/neighbours.js';
import { FSL_TFCE, TfceWorkspace, tfce, tfceStepped } from '../src/permutation/tfce.js';
import { partitionDesign, productRows } from '../src/permutation/partition.js';
import { logDistinct, rearrangements } from '../src/permutation/schemes.js';
import { permutationTest } from '../src/permutation/permute.js';
import { Rng } from '../src/synth/random.js';
import { gaussianSmooth } from '../src/synth/smooth.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { runPermute, permutationFileNames } from '../src/pipeline/permute.js';
import { readVolume } from '../src/node/nifti/read.js';
import { VbmError } from '../src/errors.js';
import { fullGrid, wholeBox } from './support/box.js';

function exactTfce(values: number[], dims: [number, number, number], conn: 6 | 18 | 26 = 26): Float64Array {
  const nb = maskedNeighbours(fullGrid(dims), dims, conn);
  const out = new Float64Array(values.length);
  tfce(Float32Array.from(values), nb, FSL_TFCE, out, new TfceWorkspace(values.length));
  return out;
}

test('exact TFCE equals the integral worked by hand on small maps', () => {
  // one voxel of height 3: integral of 1^0.5 h^2 from 0 to 3 = 9
  let t = exactTfce([0, 3, 0, 0], [4, 1, 1]);
  assert.ok(Math.abs(t[1] - 9) < 1e-9, String(t[1]));
  assert.equal(t[0], 0);
  // two neighbours a = 3 > b = 2: above 2 the cluster is {a}; below 2 it is {a, b}
  const a = 3;
  const b = 2;
  t = exactTfce([a, b, 0], [3, 1, 1]);
  const both = (Math.SQRT2 * b ** 3) / 3;
  assert.ok(Math.abs(t[0] - ((a ** 3 - b ** 3) / 3 + both)) < 1e-9, `${t[0]}`);
  assert.ok(Math.abs(t[1] - both) < 1e-9, `${t[1]}`);
  // a chain 4, 1, 2: the cluster of the first voxel is {4} above 2, {4} between 1 and 2 (the 2 is not yet connected), {all 3} below 1
  t = exactTfce([4, 1, 2], [3, 1, 1]);
  assert.ok(Math.abs(t[0] - ((4 ** 3 - 1) / 3 + (Math.sqrt(3) * 1) / 3)) < 1e-9, `${t[0]}`);
  assert.ok(Math.abs(t[2] - ((8 - 1) / 3 + Math.sqrt(3) / 3)) < 1e-9, `${t[2]}`);
  // diagonal neighbours: joined under 26-connectivity, separate under 6
  const d26 = exactTfce([2, 0, 0, 2], [2, 2, 1], 26);
  const d6 = exactTfce([2, 0, 0, 2], [2, 2, 1], 6);
  assert.ok(Math.abs(d26[0] - (Math.SQRT2 * 8) / 3) < 1e-9);
  assert.ok(Math.abs(d6[0] - 8 / 3) < 1e-9);
});

test('the stepped TFCE sum converges to the exact integral as the step shrinks', () => {
  const dims: [number, number, number] = [14, 12, 10];
  const rng = new Rng(3);
  const raw = Float32Array.from({ length: 14 * 12 * 10 }, () => rng.normal());
  const field = gaussianSmooth(raw, dims, [1.5, 1.5, 1.5]);
  let sd = 0;
  for (const v of field) sd += v * v;
  sd = Math.sqrt(sd / field.length);
  const values = Array.from(field, (v) => (v / sd) * 1.5 + 0.5);
  const nb = maskedNeighbours(fullGrid(dims), dims, 26);
  const exact = exactTfce(values, dims);
  let prev = Infinity;
  for (const dh of [0.1, 0.02, 0.004]) {
    const st = tfceStepped(Float32Array.from(values), nb, FSL_TFCE, dh);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < values.length; i++) {
      err = Math.max(err, Math.abs(st[i] - exact[i]));
      scale = Math.max(scale, exact[i]);
    }
    // the stepped sum misses at most one step per voxel: its error shrinks with dh
    assert.ok(err < prev, `error ${err} at dh ${dh} did not shrink (was ${prev})`);
    prev = err;
    if (dh === 0.004) assert.ok(err / scale < 0.01, `relative error ${err / scale} at dh = 0.004`);
  }
});

test('distinct permutations are counted and enumerated; the first is the identity', () => {
  // a two-group design of 3 + 3 scans: 6! / (3! 3!) = 20 distinct relabellings
  const X = [0, 0, 0, 1, 1, 1].map((g) => [1, g]);
  const part = partitionDesign(X, [[0, 1]], 'T');
  const { rows } = productRows(part, 'permute');
  assert.ok(Math.abs(Math.exp(logDistinct('permute', rows, 6)) - 20) < 1e-9);
  const all = rearrangements(rows, 6, { scheme: 'permute', requested: 1000, seed: 1 });
  assert.equal(all.exhaustive, true);
  assert.equal(all.count, 20);
  assert.deepEqual(Array.from(all.table.subarray(0, 6)), [0, 1, 2, 3, 4, 5]);
  const groups = new Set<string>();
  for (let k = 0; k < 20; k++)
    groups.add(Array.from(all.table.subarray(k * 6, k * 6 + 6), (src) => X[src][1]).join(''));
  assert.equal(groups.size, 20, 'every enumerated permutation gives a different group labelling');
  // a one-sample design is sign-flipped: 2^n
  const one = partitionDesign(
    X.map(() => [1]),
    [[1]],
    'T',
  );
  assert.equal(one.effectConstantWithinBlocks, true);
  assert.ok(Math.abs(logDistinct('signflip', productRows(one, 'signflip').rows, 6) - 6 * Math.LN2) < 1e-12);
});

/** OLS t for contrast c, by the normal equations (Gauss-Jordan), independent of vbm's code. */
function olsT(X: number[][], y: number[], c: number[]): number {
  const n = X.length;
  const p = X[0].length;
  const M = Array.from({ length: p }, (_, i) => [
    ...Array.from({ length: p }, (_, j) => X.reduce((s, r) => s + r[i] * r[j], 0)),
    ...Array.from({ length: p }, (_, j) => (i === j ? 1 : 0)),
  ]);
  for (let i = 0; i < p; i++) {
    let piv = i;
    for (let r = i + 1; r < p; r++) if (Math.abs(M[r][i]) > Math.abs(M[piv][i])) piv = r;
    [M[i], M[piv]] = [M[piv], M[i]];
    const d = M[i][i];
    for (let j = 0; j < 2 * p; j++) M[i][j] /= d;
    for (let r = 0; r < p; r++)
      if (r !== i) {
        const f = M[r][i];
        for (let j = 0; j < 2 * p; j++) M[r][j] -= f * M[i][j];
      }
  }
  const inv = M.map((r) => r.slice(p));
  const Xty = Array.from({ length: p }, (_, j) => X.reduce((s, r, i) => s + r[j] * y[i], 0));
  const beta = inv.map((r) => r.reduce((s, v, j) => s + v * Xty[j], 0));
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (y[i] - X[i].reduce((s, v, j) => s + v * beta[j], 0)) ** 2;
  const s2 = rss / (n - p);
  const cb = c.reduce((s, v, j) => s + v * beta[j], 0);
  const cvc = c.reduce((s, ci, i) => s + ci * c.reduce((t, cj, j) => t + inv[i][j] * cj, 0), 0);
  return cb / Math.sqrt(s2 * cvc);
}

test('each permutation statistic equals a brute-force Freedman-Lane refit: full model on P R_z y + H_z y', async () => {
  const rng = new Rng(11);
  const n = 15;
  const X = Array.from({ length: n }, () => [1, rng.normal(), rng.normal(), rng.uniform() < 0.5 ? 1 : 0]);
  const V = 7;
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++)
    for (let v = 0; v < V; v++) Y[i * V + v] = 0.5 * X[i][2] + rng.normal() + (v === 3 ? 0.8 * X[i][1] : 0);
  const Ycopy = Float32Array.from(Y);
  const c = [0, 1, 0, 0];
  for (const kernel of ['wasm', 'js'] as const) {
    const res = await permutationTest(
      {
        X,
        weights: [c],
        type: 'T',
        contrast: { index: 1, name: 'x1' },
        Y: Float32Array.from(Y),
        ...wholeBox([V, 1, 1]),
      },
      { permutations: 40, seed: 5, workers: kernel === 'wasm' ? 2 : 0, kernel },
    );
    // the observed T is the ordinary OLS t
    for (let v = 0; v < V; v++) {
      const y = Array.from({ length: n }, (_, i) => Ycopy[i * V + v]);
      const tv = olsT(X, y, c);
      assert.ok(Math.abs(res.stat[v] - tv) < 1e-4 * Math.max(1, Math.abs(tv)), `voxel ${v}: ${res.stat[v]} vs ${tv}`);
    }
    // maxima: recompute by brute force for the same permutations
    const part = partitionDesign(X, [c], 'T');
    const arr = rearrangements(productRows(part, 'permute').rows, n, { scheme: 'permute', requested: 40, seed: 5 });
    const Z = X.map((r) => [r[0], r[2], r[3]]);
    for (let k = 0; k < 40; k++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        const y = Array.from({ length: n }, (_, i) => Ycopy[i * V + v]);
        // nuisance fit and residuals by the normal equations
        const g = olsFit(Z, y);
        const rz = y.map((yi, i) => yi - g.fitted[i]);
        const ystar = Array.from({ length: n }, (_, i) => rz[arr.table[k * n + i]] + g.fitted[i]);
        max = Math.max(max, olsT(X, ystar, c));
      }
      // float32 data and (WebAssembly) float32 sums over 15 scans: 1e-4 relative is ample
      assert.ok(
        Math.abs(res.maxima.stat[k] - max) < 1e-4 * Math.max(1, Math.abs(max)),
        `${kernel} permutation ${k}: ${res.maxima.stat[k]} vs ${max}`,
      );
    }
  }
});

function olsFit(X: number[][], y: number[]): { fitted: number[] } {
  // fitted values by Gram-Schmidt projection onto the columns
  const n = X.length;
  const basis: number[][] = [];
  for (let j = 0; j < X[0].length; j++) {
    let col = X.map((r) => r[j]);
    for (const b of basis) {
      const d = col.reduce((s, v, i) => s + v * b[i], 0);
      col = col.map((v, i) => v - d * b[i]);
    }
    const norm = Math.sqrt(col.reduce((s, v) => s + v * v, 0));
    if (norm > 1e-10) basis.push(col.map((v) => v / norm));
  }
  const fitted = new Array<number>(n).fill(0);
  for (const b of basis) {
    const d = y.reduce((s, v, i) => s + v * b[i], 0);
    for (let i = 0; i < n; i++) fitted[i] += d * b[i];
  }
  return { fitted };
}

test('FWE error on null data stays near 5% (max-T, TFCE, cluster extent)', async () => {
  // 200 null studies of smooth noise; the rate of any FWE p <= 0.05 must be binomial(200, 0.05):
  // mean 10, sd 3.1; the test accepts 2..20 (about +-3 sd), for each of the three corrections
  const dims: [number, number, number] = [12, 12, 8];
  const V = 12 * 12 * 8;
  const n = 16;
  const rng = new Rng(2024);
  const hits = { stat: 0, tfce: 0, extent: 0 };
  const studies = 200;
  for (let s = 0; s < studies; s++) {
    const X = Array.from({ length: n }, () => [1, rng.normal()]);
    const Y = new Float32Array(n * V);
    for (let i = 0; i < n; i++) {
      const f = gaussianSmooth(
        Float32Array.from({ length: V }, () => rng.normal()),
        dims,
        [1, 1, 1],
      );
      Y.set(f, i * V);
    }
    const r = await permutationTest(
      {
        X,
        weights: [[0, 1]],
        type: 'T',
        contrast: { index: 1, name: 'x' },
        Y,
        ...wholeBox(dims, 2),
      },
      { permutations: 100, seed: s + 1, workers: 0, tfce: true, clusterThreshold: 0.01 },
    );
    if (r.pFwe.some((p) => p <= 0.05)) hits.stat++;
    if (r.tfcePFwe?.some((p) => p <= 0.05)) hits.tfce++;
    if (r.clusters?.pExtent.some((p) => p <= 0.05)) hits.extent++;
  }
  for (const [k, h] of Object.entries(hits))
    assert.ok(h >= 2 && h <= 20, `${k}: ${h} of ${studies} null studies had an FWE-significant result`);
});

test('vbm permute finds a planted effect where it is, resumes an interrupted run to the same answer, and refuses bad requests', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { design } = writeStudy(dir, {
      n: 24,
      dims: [24, 28, 24],
      voxelMm: 7,
      noiseFwhmMm: 12,
      seed: 21,
      effects: [{ covariate: 'age', centreMm: [35, -20, 10], sigmaMm: 9, perSd: 0.12 }],
    });
    const out = join(dir, 'res');
    await runAnalysis({
      design,
      out,
      covariates: ['age', 'sex'],
      contrasts: [
        { name: 'age +', type: 'T', columns: ['age'], weights: [1] },
        { name: 'mean', type: 'T', columns: ['mean'], weights: [1] },
      ],
      masking: { explicitMask: join(dir, 'mask.nii') },
      workers: 2,
    });
    const full = await runPermute(out, {
      contrast: 1,
      permutations: 300,
      seed: 7,
      tfce: true,
      clusterThreshold: 0.001,
      workers: 2,
    });
    // the planted blob: the most significant cluster is on the right (x > 0) at the planted centre
    assert.ok(full.clusters.length >= 1, full.text);
    const c = full.clusters[0];
    assert.ok(Math.hypot(c.mm[0] - 35, c.mm[1] + 20, c.mm[2] - 10) < 15, `peak at ${String(c.mm)}`);
    assert.ok((c.pFweExtent ?? 1) <= 0.05 && (c.peakTfcePFwe ?? 1) <= 0.05);
    // the observed data are one of the 300 rearrangements: no p-value below 1/300
    for (const p of [full.result.pFwe, full.result.pUnc, full.result.tfcePFwe ?? [], full.result.tfcePUnc ?? []])
      assert.ok(Math.min(...p) >= 1 / 300 - 1e-12);
    const names = permutationFileNames(1);
    const tf = readVolume(join(out, names.tfcePFwe));
    const far = tf.data.filter((p, i) => {
      if (Number.isNaN(p)) return false;
      const x = i % 24;
      return x > 16 && p <= 0.05; // voxels with x index > 16 lie on the left (the grid is LAS)
    });
    assert.equal(far.length, 0, 'nothing significant in the other hemisphere');
    // interrupt after the first batches, then resume: the same p-values as the uninterrupted run
    const ac = new AbortController();
    let seen = 0;
    await assert.rejects(
      runPermute(out, {
        contrast: 1,
        permutations: 300,
        seed: 7,
        tfce: true,
        clusterThreshold: 0.001,
        workers: 0,
        signal: ac.signal,
        onProgress: (d) => {
          if (++seen === 4) ac.abort();
          void d;
        },
      }),
      (e: unknown) => e instanceof VbmError && /interrupted after \d+ of 300/.test(e.message),
    );
    assert.ok(existsSync(join(out, `${names.checkpoint}.json`)));
    const notes: string[] = [];
    const resumed = await runPermute(out, {
      contrast: 1,
      permutations: 300,
      seed: 7,
      tfce: true,
      clusterThreshold: 0.001,
      workers: 2,
      onNote: (m) => notes.push(m),
    });
    assert.ok(
      notes.some((m) => /resuming from a checkpoint: \d+ of 300/.test(m)),
      notes.join('; '),
    );
    assert.ok(resumed.result.resumedFrom > 0);
    assert.deepEqual(Array.from(resumed.result.pFwe), Array.from(full.result.pFwe));
    assert.deepEqual(Array.from(resumed.result.tfcePFwe ?? []), Array.from(full.result.tfcePFwe ?? []));
    assert.deepEqual(Array.from(resumed.result.pUnc), Array.from(full.result.pUnc));
    assert.ok(!existsSync(join(out, `${names.checkpoint}.json`)), 'the checkpoint is removed when the run completes');
    // a damaged checkpoint is detected and ignored
    const ac2 = new AbortController();
    let seen2 = 0;
    await assert.rejects(
      runPermute(out, {
        contrast: 1,
        permutations: 300,
        seed: 7,
        workers: 0,
        signal: ac2.signal,
        onProgress: () => {
          if (++seen2 === 3) ac2.abort();
        },
      }),
    );
    const bin = readFileSync(join(out, `${names.checkpoint}.bin`));
    bin[10] ^= 0xff;
    writeFileSync(join(out, `${names.checkpoint}.bin`), bin);
    const notes2: string[] = [];
    await runPermute(out, { contrast: 1, permutations: 300, seed: 7, workers: 2, onNote: (m) => notes2.push(m) });
    assert.ok(
      notes2.some((m) => /damaged/.test(m)),
      notes2.join('; '),
    );
    // the mean is sign-flipped automatically; forcing permutations is refused with the reason
    await assert.rejects(
      runPermute(out, { contrast: 2, permutations: 50, scheme: 'permute', workers: 0 }),
      /permuting the scans cannot change its statistic/,
    );
    // too few distinct rearrangements
    const tiny = await import('../src/permutation/permute.js');
    await assert.rejects(
      tiny.permutationTest(
        {
          X: [
            [1, 0],
            [1, 1],
            [1, 2],
          ],
          weights: [[0, 1]],
          type: 'T',
          contrast: { index: 1, name: 'x' },
          Y: new Float32Array(3),
          voxels: Int32Array.from([0]),
          dims: [1, 1, 1],
          affine: [
            [1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
          ],
        },
        { permutations: 1000 },
      ),
      /only 6 distinct permutations exist for 3 scans with this design, so no p-value could go below 0\.167/,
    );
  } finally {
    cleanup();
  }
});
