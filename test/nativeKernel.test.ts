/**
 * The native product kernel (native/vbm_kernel.c, optional): its products against a brute-force
 * float64 product within the rounding bound of float32 accumulation, bit for bit the fused
 * WebAssembly kernel's (the same fused multiply-adds in the same order), and whole permutation
 * tests with it (threads, streamed data) giving exactly the WebAssembly kernel's results. Skips,
 * saying so, where the addon was not built or this CPU has neither AVX2 with FMA nor AVX-512.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadNativeKernel } from '../src/permutation/nativeKernel.js';
import { type NativeLevel, levelCode } from '../src/permutation/nativeProduct.js';
import { CHUNK, allocateDataMatrix, instantiateGemm } from '../src/permutation/dataMatrix.js';
import {
  type PermutationInput,
  type PermutationResult,
  gemmKernel,
  permutationTest,
} from '../src/permutation/permute.js';
import { Rng } from '../src/synth/random.js';
import { inMemoryBytes, planVoxelBlocks } from '../src/permutation/voxelBlocks.js';
import { removeNuisance } from '../src/permutation/nuisance.js';

const native = loadNativeKernel();
const skip = native
  ? false
  : 'the native kernel was not built (dist/native/vbm_kernel.node) or this CPU lacks AVX2+FMA';
const levels: NativeLevel[] = native?.level === 'avx512' ? ['avx2', 'avx512'] : ['avx2'];

/** n scans x V voxels of data in a kernel's memory, m coefficient rows, both random. */
function problem(n: number, V: number, m: number, seed: number) {
  const rng = new Rng(seed);
  const dm = allocateDataMatrix(n, V, { slots: 1, maxRows: m, gemm: gemmKernel().module });
  const w = dm.wasm!;
  for (let i = 0; i < dm.R.length; i++) dm.R[i] = rng.normal();
  const A = Float32Array.from({ length: m * n }, () => rng.normal()); // row-major m x n
  const aPtr = w.scratchPtr;
  const wPtr = aPtr + m * n * 4;
  const tPtr = wPtr + m * CHUNK * 4;
  return { dm, w, A, aPtr, wPtr, tPtr, W: new Float32Array(w.memory.buffer, wPtr, m * CHUNK) };
}

test('native products are within float32 accumulation error of the float64 product', { skip }, () => {
  const n = 379;
  for (const level of levels)
    for (const [V, m] of [
      [1000, 4],
      [520, 8],
      [24, 64],
      [1536, 12],
    ] as const) {
      const p = problem(n, V, m, V + m);
      const u8 = new Uint8Array(p.w.memory.buffer);
      const av = new Float32Array(p.w.memory.buffer, p.aPtr, m * n);
      for (let r = 0; r < m; r++) for (let i = 0; i < n; i++) av[((r >> 2) * n + i) * 4 + (r & 3)] = p.A[r * n + i];
      // chunks of 512, then a last one of V % 512 (a multiple of 8, not always of 16)
      for (let v0 = 0; v0 < V; v0 += CHUNK) {
        const c = Math.min(CHUNK, V - v0);
        native!.product(levelCode(level), u8, p.aPtr, m, p.w.rPtr, p.dm.stride, n, v0, c, p.tPtr, p.wPtr, CHUNK);
        for (let r = 0; r < m; r++)
          for (let t = 0; t < c; t++) {
            let exact = 0;
            let abs = 0;
            for (let i = 0; i < n; i++) {
              const x = p.A[r * n + i] * p.dm.R[i * p.dm.stride + v0 + t];
              exact += x;
              abs += Math.abs(x);
            }
            // recursive summation with one rounding per fused multiply-add: |error| <= gamma_n sum |a x|, gamma_n = n u / (1 - n u), u = 2^-24
            const u = 2 ** -24;
            const bound = ((n * u) / (1 - n * u)) * abs + 1e-12;
            const got = p.W[r * CHUNK + t];
            if (!(Math.abs(got - exact) <= bound))
              assert.fail(`${level} V=${V} m=${m}: W[${r}][${v0 + t}] = ${got}, float64 ${exact}, bound ${bound}`);
          }
      }
    }
});

test('native products are the fused WebAssembly kernel’s bit for bit', { skip }, (t) => {
  if (!gemmKernel().fused) {
    t.skip('this Node has no relaxed SIMD: no fused WebAssembly kernel to compare with');
    return;
  }
  const n = 211;
  const V = 2000; // 3 full chunks and one of 464 (a multiple of 16) ...
  for (const V2 of [V, V + 8])
    // ... and one of 472 (not a multiple of 16)
    for (const level of levels) {
      const m = 16;
      const p = problem(n, V2, m, 5);
      const { pack, gemm } = instantiateGemm(p.w);
      const u8 = new Uint8Array(p.w.memory.buffer);
      const av = new Float32Array(p.w.memory.buffer, p.aPtr, m * n);
      const wasmOut = new Float32Array(m * V2);
      for (let r = 0; r < m; r++) for (let i = 0; i < n; i++) av[i * m + r] = p.A[r * n + i];
      for (let v0 = 0; v0 < V2; v0 += CHUNK) {
        const c = Math.min(CHUNK, V2 - v0);
        pack(p.w.rPtr, p.dm.stride, n, v0, c, p.tPtr);
        gemm(p.aPtr, m, p.tPtr, n, c, p.wPtr, CHUNK);
        for (let r = 0; r < m; r++) wasmOut.set(p.W.subarray(r * CHUNK, r * CHUNK + c), r * V2 + v0);
      }
      for (let r = 0; r < m; r++) for (let i = 0; i < n; i++) av[((r >> 2) * n + i) * 4 + (r & 3)] = p.A[r * n + i];
      for (let v0 = 0; v0 < V2; v0 += CHUNK) {
        const c = Math.min(CHUNK, V2 - v0);
        native!.product(levelCode(level), u8, p.aPtr, m, p.w.rPtr, p.dm.stride, n, v0, c, p.tPtr, p.wPtr, CHUNK);
        for (let r = 0; r < m; r++)
          for (let t2 = 0; t2 < c; t2++)
            if (!Object.is(p.W[r * CHUNK + t2], wasmOut[r * V2 + v0 + t2]))
              assert.fail(
                `${level} V=${V2}: W[${r}][${v0 + t2}] native ${p.W[r * CHUNK + t2]} vs WebAssembly ${wasmOut[r * V2 + v0 + t2]}`,
              );
      }
    }
});

test('the native nuisance reduction gives the JavaScript one’s residuals and sums of squares exactly', { skip }, () => {
  const rng = new Rng(9);
  for (const [n, V, stride, q] of [
    [50, 1000, 1000, 0],
    [50, 1003, 1008, 1],
    [379, 2100, 2104, 3],
  ] as const) {
    // an orthonormal nuisance basis (Gram-Schmidt of random columns)
    const G: Float64Array[] = [];
    for (let j = 0; j < q; j++) {
      const g = Float64Array.from({ length: n }, () => rng.normal());
      for (const h of G) {
        const d = g.reduce((a, x, i) => a + x * h[i], 0);
        for (let i = 0; i < n; i++) g[i] -= d * h[i];
      }
      const norm = Math.hypot(...g);
      G.push(g.map((x) => x / norm));
    }
    const R = Float32Array.from({ length: (n - 1) * stride + V }, () => 3 + rng.normal());
    const Rn = R.slice();
    const ssJs = removeNuisance(R, n, V, stride, G);
    const ssNative = removeNuisance(Rn, n, V, stride, G, native);
    for (let v = 0; v < V; v++)
      if (!Object.is(ssJs[v], ssNative[v])) assert.fail(`n=${n} q=${q}: ss[${v}] ${ssJs[v]} vs ${ssNative[v]}`);
    for (let i = 0; i < R.length; i++)
      if (!Object.is(R[i], Rn[i])) assert.fail(`n=${n} q=${q}: R[${i}] ${R[i]} vs ${Rn[i]}`);
    if (q > 0) {
      // the residuals are orthogonal to the basis (to float32 rounding of n values ~ 1 in size: 1e-4 relative to their norm)
      for (let v = 0; v < V; v += 97) {
        let dot = 0;
        let norm = 0;
        for (let i = 0; i < n; i++) {
          dot += G[0][i] * Rn[i * stride + v];
          norm += Rn[i * stride + v] ** 2;
        }
        assert.ok(Math.abs(dot) <= 1e-4 * Math.sqrt(norm), `residual ${v} orthogonal to the nuisance basis`);
      }
    }
  }
});

test('the native kernel refuses arguments outside the memory', { skip }, () => {
  const p = problem(16, 64, 4, 1);
  const u8 = new Uint8Array(p.w.memory.buffer);
  assert.throws(() => native!.product(1, u8, p.aPtr, 4, p.w.rPtr, 1e9, 16, 0, 64, p.tPtr, p.wPtr, CHUNK), /outside/);
  assert.throws(
    () => native!.product(1, u8, p.aPtr, 4, p.w.rPtr, p.dm.stride, 16, 0, 12, p.tPtr, p.wPtr, CHUNK),
    /outside/,
  );
});

/** A study with a planted effect in the first 300 voxels and a nuisance covariate (F and T contrasts run the same kernel). */
function study(n: number, V: number): PermutationInput {
  const rng = new Rng(11);
  const X = Array.from({ length: n }, () => [1, rng.normal(), rng.normal()]);
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++)
    for (let v = 0; v < V; v++) Y[i * V + v] = 5 + rng.normal() + (v < 300 ? 0.7 * X[i][1] : 0);
  const dims: [number, number, number] = [20, 20, Math.ceil(V / 400)];
  return {
    X,
    weights: [[0, 1, 0]],
    type: 'T',
    contrast: { index: 1, name: 'x' },
    Y,
    voxels: Int32Array.from({ length: V }, (_, i) => i),
    dims,
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
  };
}

function same(a: PermutationResult, b: PermutationResult, what: string): void {
  for (const k of ['stat', 'pUnc', 'pFwe'] as const)
    for (let i = 0; i < a[k].length; i++)
      if (!Object.is(a[k][i], b[k][i])) assert.fail(`${what}: ${k}[${i}] ${a[k][i]} vs ${b[k][i]}`);
  assert.deepEqual(Array.from(a.maxima.stat), Array.from(b.maxima.stat), `${what}: null maxima`);
}

test(
  'a permutation test with the native kernel gives the WebAssembly kernel’s results exactly (threads, streamed)',
  { skip },
  async (t) => {
    if (!gemmKernel().fused) {
      t.skip('this Node has no relaxed SIMD: the native kernel is not used');
      return;
    }
    const input = study(160, 12000);
    const opts = { permutations: 64, seed: 3, tfce: true };
    // a budget under which the data are streamed in several voxel blocks (stepped down from the in-memory need)
    const needs = { n: 160, V: 12000, rows: 2, threads: 2, tfce: true, cluster: false };
    let budget = inMemoryBytes(needs);
    while ((planVoxelBlocks(needs, budget)?.blocks.length ?? 0) < 3) budget = Math.floor(budget * 0.9);
    const wasm = await permutationTest(input, { ...opts, workers: 0, kernel: 'wasm' });
    // a planted effect is found (the test is not vacuous)
    assert.ok(wasm.pFwe[0] < 0.05 && wasm.pFwe[3000] > 0.05, 'the planted effect is significant, the rest not');
    // the in-process run does call the native kernel (counted through this thread's loaded addon)
    const k = native!;
    const product = k.product;
    let calls = 0;
    k.product = (...args) => {
      calls++;
      product(...args);
    };
    try {
      same(wasm, await permutationTest(input, { ...opts, workers: 0 }), 'native, in-process');
    } finally {
      k.product = product;
    }
    assert.ok(calls >= (65 * Math.ceil(12000 / CHUNK)) / 16, `the native kernel ran (${calls} calls)`);
    same(wasm, await permutationTest(input, { ...opts, workers: 2 }), 'native, 2 threads');
    // an F contrast (two effect rows: the statistic's other branch)
    const inputF: PermutationInput = {
      ...input,
      weights: [
        [0, 1, 0],
        [0, 0, 1],
      ],
      type: 'F',
    };
    same(
      await permutationTest(inputF, { permutations: 32, seed: 4, workers: 0, kernel: 'wasm' }),
      await permutationTest(inputF, { permutations: 32, seed: 4, workers: 0 }),
      'native, F',
    );
    same(wasm, await permutationTest(input, { ...opts, workers: 2, memory: budget }), 'native, streamed');
  },
);

test(
  'Welch’s v and G with the native kernel are the JavaScript kernel’s exactly (sign flips, permutations within groups)',
  { skip },
  async (t) => {
    if (!gemmKernel().fused) {
      t.skip('this Node has no relaxed SIMD: the native kernel is not used');
      return;
    }
    const base = study(40, 900);
    // two variance groups of unequal spread
    const varianceGroups = Int32Array.from({ length: 40 }, (_, i) => (i < 15 ? 0 : 1));
    const Y = (base.Y as Float32Array).slice();
    for (let i = 0; i < 15; i++) for (let v = 0; v < 900; v++) Y[i * 900 + v] = 5 + 3 * (Y[i * 900 + v] - 5);
    const inputs: [string, PermutationInput, 'signflip' | 'permute'][] = [
      ['v, sign flips', { ...base, Y, varianceGroups }, 'signflip'],
      ['v, permutations', { ...base, Y, varianceGroups }, 'permute'],
      [
        'G (F, 2 rows)',
        {
          ...base,
          Y,
          varianceGroups,
          weights: [
            [0, 1, 0],
            [0, 0, 1],
          ],
          type: 'F',
        },
        'signflip',
      ],
    ];
    for (const [what, input, scheme] of inputs) {
      const opts = { permutations: 48, seed: 2, workers: 0, scheme };
      const js = await permutationTest(input, { ...opts, kernel: 'wasm' });
      assert.equal(js.varianceGroups, 2, `${what}: the Welch statistic ran`);
      const k = native!;
      const welch = k.welch;
      let calls = 0;
      k.welch = (...args) => {
        calls++;
        welch(...args);
      };
      try {
        same(js, await permutationTest(input, opts), `${what}: native`);
      } finally {
        k.welch = welch;
      }
      assert.ok(calls >= 48, `${what}: the native Welch kernel ran (${calls} maps)`);
    }
  },
);
