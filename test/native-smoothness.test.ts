/**
 * The smoothness estimate's voxel loop in C (native/vbm_fit.c) against smoothness.ts's JavaScript
 * loop, on random sums over a small grid with a ragged mask (voxels on the grid's last planes,
 * voxels whose forward neighbours are missing, negative and tiny residual products). Both do the
 * same float64 operations in the same order: the tolerance is zero (the same bits), for every RPV
 * and for the five sums the FWHM is made from.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RYY_TERMS } from '../src/estimation/accumulate.js';
import { nativeSmoothnessLoop, nativeSmoothnessLoopAsync } from '../src/estimation/nativeFit.js';
import {
  type SmoothnessInput,
  estimateSmoothness,
  estimateSmoothnessAsync,
  smoothnessLoop,
} from '../src/estimation/smoothness.js';

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function input(seed: number): SmoothnessInput {
  const r = rng(seed);
  const dims: [number, number, number] = [11, 9, 8];
  const nvox = dims[0] * dims[1] * dims[2];
  const p = 3;
  // candidates: most voxels; in the mask: most candidates
  const cand: number[] = [];
  for (let i = 0; i < nvox; i++) if (r() < 0.9) cand.push(i);
  const vox: number[] = [];
  const candOf: number[] = [];
  cand.forEach((v, c) => {
    if (r() < 0.85) {
      vox.push(v);
      candOf.push(c);
    }
  });
  const m = vox.length;
  const maskIndex = new Int32Array(nvox).fill(-1);
  vox.forEach((v, k) => (maskIndex[v] = k));
  const nCand = cand.length;
  const beta = Float64Array.from({ length: m * p }, () => r() - 0.5);
  const rss = Float64Array.from({ length: m }, () => 0.5 + r());
  const ryy = Float64Array.from({ length: RYY_TERMS * nCand }, (_, i) =>
    i < nCand ? (r() < 0.02 ? 1e-12 : 2 + r()) : r() - 0.3,
  );
  const rxty = Float64Array.from({ length: p * nCand }, () => 0.2 * (r() - 0.5));
  const G = [
    [3, 0.2, -0.1],
    [0.2, 2, 0.3],
    [-0.1, 0.3, 1.5],
  ];
  return {
    dims,
    vox: Int32Array.from(vox),
    candOf: Int32Array.from(candOf),
    maskIndex,
    p,
    nCand,
    beta,
    rss,
    ryy,
    rxty,
    G,
    nScans: 40,
    nResiduals: 12,
    df: 37,
  };
}

test('the native smoothness loop gives the same bits as the JavaScript one (RPV and the sums behind the FWHM)', (t) => {
  const native = nativeSmoothnessLoop();
  if (!native) {
    t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
    return;
  }
  for (const seed of [1, 2, 3]) {
    const inp = input(seed);
    const scale = inp.nScans / inp.df / inp.nResiduals;
    const log2x4 = 4 * Math.log(2);
    const a = new Float64Array(inp.vox.length);
    const b = new Float64Array(inp.vox.length);
    const sa = smoothnessLoop(inp, scale, log2x4, a);
    const sb = native(inp, scale, log2x4, b);
    for (let k = 0; k < a.length; k++)
      if (!Object.is(a[k], b[k])) assert.fail(`seed ${seed}: RPV ${k}: ${a[k]} (JavaScript) vs ${b[k]} (native)`);
    assert.deepEqual(sb, sa, `seed ${seed}: the sums`);
    // the data exercise what they should: voxels in and out of the average, RPV NaN and finite
    assert.ok(a.some(Number.isNaN) && a.some(Number.isFinite), `seed ${seed}: NaN and finite RPV`);
    assert.ok(sa[4] > 10 && sa[4] < a.length, `seed ${seed}: ${sa[4]} voxels in the average`);
    assert.deepEqual(estimateSmoothness(inp, native).fwhmVox, estimateSmoothness(inp).fwhmVox);
  }
});

test('the native smoothness loop refuses arrays of the wrong sizes', (t) => {
  const native = nativeSmoothnessLoop();
  if (!native) {
    t.skip('no native fit kernel in this build');
    return;
  }
  const inp = input(4);
  assert.throws(
    () => native({ ...inp, rss: inp.rss.subarray(1) }, 1, 4 * Math.log(2), new Float64Array(inp.vox.length)),
    /wrong sizes/,
  );
  const bad = Int32Array.from(inp.candOf);
  bad[0] = inp.nCand;
  assert.throws(() => native({ ...inp, candOf: bad }, 1, 4 * Math.log(2), new Float64Array(inp.vox.length)), /outside/);
});

test('the native smoothness loop on its own thread gives the same bits as the JavaScript one, and refuses bad arrays', async (t) => {
  const native = nativeSmoothnessLoopAsync();
  if (!native) {
    t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
    return;
  }
  for (const seed of [1, 2]) {
    const inp = input(seed);
    const scale = inp.nScans / inp.df / inp.nResiduals;
    const log2x4 = 4 * Math.log(2);
    const a = new Float64Array(inp.vox.length);
    const b = new Float64Array(inp.vox.length).fill(7); // every RPV written by the loop
    const sa = smoothnessLoop(inp, scale, log2x4, a);
    const sb = await native(inp, scale, log2x4, b);
    // the loop split between threads: part 0 sums as it goes, the others' terms are summed after it in
    // voxel order, so the same bits for any number
    for (const threads of [2, 3, 5]) {
      const split = nativeSmoothnessLoopAsync(threads);
      assert.ok(split);
      const c = new Float64Array(inp.vox.length).fill(7);
      const sc = await split(inp, scale, log2x4, c);
      assert.ok(Buffer.from(c.buffer).equals(Buffer.from(a.buffer)), `seed ${seed}: RPV, ${threads} threads`);
      assert.deepEqual(sc, sa, `seed ${seed}: the sums, ${threads} threads`);
    }
    for (let k = 0; k < a.length; k++)
      if (!Object.is(a[k], b[k]))
        assert.fail(`seed ${seed}: RPV ${k}: ${a[k]} (JavaScript) vs ${b[k]} (native thread)`);
    assert.deepEqual(sb, sa, `seed ${seed}: the sums`);
    assert.deepEqual((await estimateSmoothnessAsync(inp, native)).fwhmVox, estimateSmoothness(inp).fwhmVox);
  }
  // the arguments are checked before any thread starts: wrong sizes reject
  const inp = input(4);
  await assert.rejects(
    native({ ...inp, rss: inp.rss.subarray(1) }, 1, 4 * Math.log(2), new Float64Array(inp.vox.length)),
    /wrong sizes/,
  );
});

test('a Worker terminated while its smoothness runs on a native thread leaves the process running', (t) => {
  if (!nativeSmoothnessLoopAsync()) {
    t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
    return;
  }
  // in a child process (a crash must not take the test runner with it): a worker starts a ~0.1 s loop of
  // 10^6 voxels on the addon's thread and is terminated at once; its environment's teardown must wait for
  // the thread (which writes into the worker's arrays and runs the addon's code) before freeing them
  const worker = `
    const { parentPort } = require('node:worker_threads');
    const a = require(process.env.VBM_TEST_ADDON);
    const n = 100, m = n * n * n, id = Int32Array.from({ length: m }, (_, i) => i);
    const ryy = new Float64Array(7 * m).fill(0.1).fill(2, 0, m);
    a.smoothnessAsync(Int32Array.from([n, n, n]), id, id, id, 1, m, new Float64Array(m),
      new Float64Array(m).fill(1), ryy, new Float64Array(m), Float64Array.from([1]), 1, 10, 4 * Math.log(2),
      new Float64Array(m), new Float64Array(5), 1);
    parentPort.postMessage('started');`;
  const main = `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(${JSON.stringify(worker)}, { eval: true });
    w.on('message', async () => {
      await w.terminate();
      const junk = [];
      for (let k = 0; k < 40; k++) junk.push(new Float64Array(1 << 20).fill(k));
      setTimeout(() => console.log('survived', junk.length), 300);
    });`;
  const addon = fileURLToPath(new URL('../native/vbm_kernel.node', import.meta.url));
  const r = spawnSync(process.execPath, ['-e', main], {
    env: { ...process.env, VBM_TEST_ADDON: addon },
    encoding: 'utf8',
  });
  assert.equal(r.signal, null, `the process was killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /survived 40/);
});
