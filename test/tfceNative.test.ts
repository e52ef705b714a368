/**
 * The native exact TFCE (native/vbm_tfce.c, optional) against the JavaScript flood (tfceFlood.ts)
 * and the brute force (test/support/tfceCases.ts): the same maps bit for bit with the default
 * exponents (the same float64 operations in the same order), within the brute force's tolerance
 * with others, and whole permutation tests (in-process, threads, streamed) whose TFCE outputs are
 * the JavaScript flood's exactly. Skips, saying so, where the addon was not built (VBM_NATIVE=0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedNeighbours } from '../src/inference/neighbours.js';
import { loadNativeTfce } from '../src/permutation/nativeKernel.js';
import {
  type PermutationInput,
  type PermutationResult,
  gemmKernel,
  permutationTest,
} from '../src/permutation/permute.js';
import { TfceWorkspace, tfce, type TfceParams } from '../src/permutation/tfce.js';
import { inMemoryBytes, planVoxelBlocks } from '../src/permutation/voxelBlocks.js';
import { Rng } from '../src/synth/random.js';
import { type Dims, bruteForceTfce, randomCase } from './support/tfceCases.js';

const native = loadNativeTfce();
const skip = native ? false : 'the native addon was not built (dist/native/vbm_kernel.node; VBM_NATIVE=0 builds)';

// Tolerance against the brute force, as in tfceFast.test.ts: float32 maps and float64 sums in
// another order agree to 2e-6 of the map's maximum.
const TOL = 2e-6;

/** The first index where two arrays differ as bits (Object.is), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function maxError(out: ArrayLike<number>, want: Float64Array): number {
  let err = 0;
  for (let v = 0; v < want.length; v++) err = Math.max(err, Math.abs((out[v] ?? NaN) - (want[v] ?? NaN)));
  return err;
}

test(
  'native TFCE gives the JavaScript flood’s maps bit for bit and matches the brute force (6, 18, 26-connectivity, ties)',
  { skip },
  () => {
    const k = native!;
    const params: TfceParams = { E: 0.5, H: 2 };
    for (const conn of [6, 18, 26] as const) {
      for (let seed = 1; seed <= 4; seed++) {
        const dims: Dims = seed % 2 ? [13, 11, 9] : [9, 14, 10];
        const { values, voxels } = randomCase(seed * 23 + conn, dims);
        // seeds 3 and 4: values on a 0.25 grid (plateaus, tied peaks)
        const map = seed >= 3 ? Float32Array.from(values, (x) => Math.round(x * 4) / 4) : values;
        const want = bruteForceTfce(map, voxels, dims, conn, params);
        const scale = Math.max(...want);
        assert.ok(scale > 0 && voxels.length > 500);
        const nb = maskedNeighbours(voxels, dims, conn);
        const js = new TfceWorkspace(voxels.length, { voxels, dims, connectivity: conn }, null);
        const c = new TfceWorkspace(voxels.length, { voxels, dims, connectivity: conn }, k);
        assert.ok(c.native && !js.native, 'one workspace of each kind');
        const outJs = new Float32Array(voxels.length);
        const maxJs = tfce(map, nb, params, outJs, js);
        // twice with the same native workspace: the second call must not see the first's state
        for (let rep = 0; rep < 2; rep++) {
          const out = new Float32Array(voxels.length).fill(-1);
          const max = tfce(map, nb, params, out, c);
          const at = firstDifference(out, outJs);
          assert.equal(at, -1, `${conn}-conn, seed ${seed}: voxel ${at}: native ${out[at]} vs JS ${outJs[at]}`);
          assert.equal(max, maxJs);
          assert.ok(
            maxError(out, want) <= TOL * scale,
            `${conn}-conn, seed ${seed}: max |error| ${maxError(out, want)}`,
          );
        }
      }
    }
  },
);

test(
  'native TFCE on float64 maps and outputs, with zeros, negatives and NaN: the JavaScript flood’s values bit for bit',
  { skip },
  () => {
    const k = native!;
    const dims: Dims = [12, 10, 11];
    const { values, voxels } = randomCase(5, dims);
    const V = voxels.length;
    const rng = new Rng(9);
    // float64 values (not float32-representable: both sorts round them to float32 heights), some
    // exactly 0, one NaN, one positive value below float32's smallest (rounds to height 0)
    const map = Float64Array.from(values, (x) => x + 1e-9 * rng.normal());
    map[3] = 0;
    map[10] = NaN;
    map[20] = 1e-50;
    const nb = maskedNeighbours(voxels, dims, 26);
    const params: TfceParams = { E: 0.5, H: 2 };
    const outJs = new Float64Array(V);
    const maxJs = tfce(map, nb, params, outJs, new TfceWorkspace(V, { voxels, dims, connectivity: 26 }, null));
    const out = new Float64Array(V).fill(-1);
    const max = tfce(map, nb, params, out, new TfceWorkspace(V, { voxels, dims, connectivity: 26 }, k));
    assert.equal(firstDifference(out, outJs), -1);
    assert.equal(max, maxJs);
    assert.equal(out[10], 0, 'NaN is not positive');
    assert.equal(out[3], 0);
    // a map with no positive voxel: all zero, maximum 0
    const none = new Float32Array(V).fill(-1);
    const outNone = new Float32Array(V).fill(7);
    assert.equal(tfce(none, nb, params, outNone, new TfceWorkspace(V, { voxels, dims, connectivity: 26 }, k)), 0);
    assert.ok(outNone.every((x) => x === 0));
  },
);

test('native TFCE with other exponents matches the brute force and the JavaScript flood to rounding', { skip }, () => {
  const k = native!;
  const dims: Dims = [13, 11, 9];
  const { values, voxels } = randomCase(41, dims);
  const nb = maskedNeighbours(voxels, dims, 26);
  for (const params of [
    { E: 2 / 3, H: 2.5 },
    { E: 1, H: 1 },
    { E: 0.5, H: 3 },
  ]) {
    const want = bruteForceTfce(values, voxels, dims, 26, params);
    const scale = Math.max(...want);
    const out = new Float64Array(voxels.length);
    tfce(values, nb, params, out, new TfceWorkspace(voxels.length, { voxels, dims, connectivity: 26 }, k));
    assert.ok(maxError(out, want) <= TOL * scale, `E ${params.E}, H ${params.H}: ${maxError(out, want)}`);
    // pow() of the C library and V8's Math.pow may round differently in the last bit: a few
    // float64 ulps of the largest sum (1e-14 of the maximum) bound the difference
    const outJs = new Float64Array(voxels.length);
    tfce(values, nb, params, outJs, new TfceWorkspace(voxels.length, { voxels, dims, connectivity: 26 }, null));
    let d = 0;
    for (let v = 0; v < out.length; v++) d = Math.max(d, Math.abs(out[v] - outJs[v]));
    assert.ok(d <= 1e-14 * scale, `E ${params.E}, H ${params.H}: native vs JS ${d}`);
  }
});

test('native TFCE refuses a workspace whose voxels or neighbours fall outside its box', { skip }, () => {
  const k = native!;
  const entries = new Int32Array(64 * 24);
  const count = new Uint8Array(64);
  count[0] = 1;
  entries[0] = 2; // the next brick's words: past a one-brick box
  assert.throws(() => k.tfceWorkspace(64, 1, Int32Array.of(0), entries, count), /neighbour outside the box/);
  assert.throws(
    () => k.tfceWorkspace(64, 1, Int32Array.of(64), new Int32Array(64 * 24), new Uint8Array(64)),
    /voxel outside the box/,
  );
});

function study(n: number, V: number): PermutationInput {
  const rng = new Rng(12);
  const X = Array.from({ length: n }, () => [1, rng.normal()]);
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++)
    for (let v = 0; v < V; v++) Y[i * V + v] = 5 + rng.normal() + (v % 400 < 60 && v < 2000 ? 0.5 * X[i][1] : 0);
  return {
    X,
    weights: [[0, 1]],
    type: 'T',
    contrast: { index: 1, name: 'x' },
    Y,
    voxels: Int32Array.from({ length: V }, (_, i) => i),
    dims: [20, 20, Math.ceil(V / 400)],
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
  };
}

function sameTfce(a: PermutationResult, b: PermutationResult, what: string): void {
  for (const key of ['tfceMap', 'tfcePUnc', 'tfcePFwe'] as const) {
    const x = a[key];
    const y = b[key];
    assert.ok(x && y, `${what}: ${key}`);
    const at = firstDifference(x, y);
    assert.equal(at, -1, `${what}: ${key}[${at}] ${x[at]} vs ${y[at]}`);
  }
  assert.deepEqual(Array.from(a.maxima.tfce ?? []), Array.from(b.maxima.tfce ?? []), `${what}: TFCE maxima`);
}

test(
  'a TFCE permutation test with the native TFCE gives the JavaScript flood’s results exactly (threads, streamed)',
  { skip },
  async (t) => {
    if (!gemmKernel().fused) {
      t.skip('this Node has no relaxed SIMD: the addon is not used');
      return;
    }
    const input = study(60, 8000);
    const opts = { permutations: 40, seed: 5, tfce: true };
    // the WebAssembly kernel's run uses the JavaScript flood; the default run the addon's
    const js = await permutationTest(input, { ...opts, workers: 0, kernel: 'wasm' });
    assert.ok(
      js.tfcePFwe && js.tfcePFwe[0] < 0.05 && js.tfcePFwe[7999] > 0.05,
      'the planted effect is significant, the rest not',
    );
    const k = native!;
    const run = k.tfce;
    let calls = 0;
    k.tfce = (...args) => {
      calls++;
      return run(...args);
    };
    try {
      sameTfce(js, await permutationTest(input, { ...opts, workers: 0 }), 'native, in-process');
    } finally {
      k.tfce = run;
    }
    assert.ok(calls >= 41, `the native TFCE ran (${calls} maps)`);
    sameTfce(js, await permutationTest(input, { ...opts, workers: 2 }), 'native, 2 threads');
    const needs = { n: 60, V: 8000, rows: 2, threads: 2, tfce: true, cluster: false };
    let budget = inMemoryBytes(needs);
    while ((planVoxelBlocks(needs, budget)?.blocks.length ?? 0) < 3) budget = Math.floor(budget * 0.9);
    sameTfce(js, await permutationTest(input, { ...opts, workers: 2, memory: budget }), 'native, streamed');
  },
);
