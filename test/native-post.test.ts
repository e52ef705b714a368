/**
 * The loops after the fit in C (native/vbm_post.c, through nativePostKernel) against the
 * JavaScript loops they replace: the solve from the sums (solveFromSums), the T and F contrast maps
 * (contrastMaps) and the spreading of values onto the grid (spreadStrided). Both do the same
 * float64 operations in the same order, so the tolerance is zero: the same bits, compared as
 * bytes, on random sums for several numbers of columns, with voxels whose ResSS comes out negative
 * (clamped to 0), voxels with ResMS 0 (T and F infinite, or 0/0 = NaN where the effect is 0), a
 * rank-deficient F contrast, and a spread into buffers holding garbage. The resel counts' mask loop
 * (whole numbers) against the JavaScript loop on random masks touching the grid's faces, and
 * against the closed form of a box (R0 = 1, its edges, faces and cubes). A whole run with the native
 * loops and one with the JavaScript loops (VBM_FIT_KERNEL=js) then write the same image bytes, and
 * the run's maps (computed when read) are its contrast images' values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import {
  adviseHugePages,
  loadNativeFit,
  nativeMaskCounter,
  nativePageToucher,
  nativePostKernel,
} from '../src/estimation/nativeFit.js';
import { loadAddon } from '../src/node/addon.js';
import { reselCounts } from '../src/inference/resels.js';
import { solveFromSums } from '../src/estimation/nonSphericity.js';
import { contrastMaps } from '../src/estimation/contrastMaps.js';
import { spreadStrided } from '../src/estimation/images.js';
import type { FittedModel } from '../src/estimation/fitSolve.js';
import type { Contrast } from '../src/model/contrasts.js';
import { pinv, matmul, transpose } from '../src/model/linalg.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { Rng } from '../src/random.js';
import type { Affine } from '../src/io/nifti/affine.js';

const IDENTITY: Affine = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];
const NO_ADDON = 'no native post-fit loops in this build (VBM_NATIVE=0, or no C compiler)';

function bytesOf(a: Float64Array | Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A random p-column design (intercept first) and its pinv(X'X). */
function designB(rng: Rng, n: number, p: number): number[][] {
  const X = Array.from({ length: n }, () => Array.from({ length: p }, (_, j) => (j === 0 ? 1 : rng.normal())));
  return pinv(matmul(transpose(X), X));
}

/** Sums over nCand candidates: X'y term-major, y'y; some voxels' y'y below the fit (ResSS clamped to 0). */
function sumsFor(rng: Rng, p: number, nCand: number): { xty: Float64Array; yy: Float64Array } {
  const xty = Float64Array.from({ length: p * nCand }, () => 10 * rng.normal());
  const yy = Float64Array.from({ length: nCand }, (_, c) => (c % 7 === 3 ? 0 : 50 + 1000 * rng.uniform()));
  return { xty, yy };
}

test('the native solve gives the JavaScript solve bits (p = 1, 2, 5, 9; ResSS clamped at 0)', (t) => {
  const kernel = nativePostKernel();
  if (!kernel) {
    t.skip(NO_ADDON);
    return;
  }
  const rng = new Rng(5);
  for (const p of [1, 2, 5, 9]) {
    const nCand = 300;
    const B = designB(rng, 30, p);
    const sums = sumsFor(rng, p, nCand);
    // the analysed voxels: a subset of the candidates, ascending
    const candOf = Int32Array.from({ length: nCand }, (_, c) => c).filter((c) => c % 5 !== 1);
    const js = solveFromSums(B, sums, candOf, nCand, p, 30 - p);
    const c = solveFromSums(B, sums, candOf, nCand, p, 30 - p, undefined, kernel);
    assert.ok(
      js.rss.some((r) => r === 0),
      'some voxels clamp ResSS to 0',
    );
    // Math.max(0, d) turns -0 into +0 and a NaN into V8's NaN (sign bit set; C's fmax would give 0)
    const planted = sumsFor(rng, p, 3);
    for (let j = 0; j < p; j++) planted.xty[j * 3 + 1] = 0;
    planted.yy[0] = NaN;
    planted.yy[1] = -0; // X'y 0: beta 0, fitted 0, -0 - 0 = -0
    const idx = Int32Array.of(0, 1, 2);
    const jsP = solveFromSums(B, planted, idx, 3, p, 30 - p);
    const cP = solveFromSums(B, planted, idx, 3, p, 30 - p, undefined, kernel);
    assert.ok(Number.isNaN(jsP.rss[0]) && Object.is(jsP.rss[1], 0), 'NaN kept, -0 made +0 (JavaScript)');
    assert.ok(bytesOf(cP.rss).equals(bytesOf(jsP.rss)), `ResSS with a NaN and a -0, p = ${p}`);
    assert.ok(bytesOf(cP.resMS).equals(bytesOf(jsP.resMS)), `ResMS with a NaN and a -0, p = ${p}`);
    assert.ok(bytesOf(c.beta).equals(bytesOf(js.beta)), `betas, p = ${p}`);
    assert.ok(bytesOf(c.rss).equals(bytesOf(js.rss)), `ResSS, p = ${p}`);
    assert.ok(bytesOf(c.resMS).equals(bytesOf(js.resMS)), `ResMS, p = ${p}`);
  }
});

/** A model's fields that contrastMaps reads: random betas and ResMS, some ResMS 0 and some betas 0. */
function model(rng: Rng, p: number, m: number): Omit<FittedModel, 'smoothness'> {
  const beta = Float64Array.from({ length: m * p }, (_, i) => (Math.floor(i / p) % 11 === 4 ? 0 : rng.normal()));
  const resMS = Float64Array.from({ length: m }, (_, k) => (k % 13 === 4 || k % 11 === 4 ? 0 : 0.1 + rng.uniform()));
  const X = Array.from({ length: 40 }, () => Array.from({ length: p }, (_, j) => (j === 0 ? 1 : rng.normal())));
  return {
    dims: [m, 1, 1],
    affine: IDENTITY,
    mask: new Uint8Array(m).fill(1),
    vox: Int32Array.from({ length: m }, (_, k) => k),
    n: 40,
    p,
    beta,
    resMS,
    trRV: 40 - p,
    df: 40 - p,
    Bcov: pinv(matmul(transpose(X), X)),
    scans: [],
    timings: {},
    warnings: [],
  };
}

test('the native contrast loops give the JavaScript contrast bits (T, F, rank-deficient F, ResMS 0)', (t) => {
  const kernel = nativePostKernel();
  if (!kernel) {
    t.skip(NO_ADDON);
    return;
  }
  const rng = new Rng(9);
  for (const p of [2, 4, 6]) {
    const fit = model(rng, p, 500);
    const e = (j: number): number[] => Array.from({ length: p }, (_, i) => (i === j ? 1 : 0));
    const contrasts: Contrast[] = [
      { index: 1, name: 't1', type: 'T', weights: [e(1)] },
      { index: 2, name: 't2', type: 'T', weights: [e(1).map((v, i) => v - (i === p - 1 ? 0.5 : 0))] },
      { index: 3, name: 'f1', type: 'F', weights: [e(1)] },
      { index: 4, name: 'f2', type: 'F', weights: [e(0), e(p - 1)] },
      // rank 2 of 3 rows: pinv and the rank enter as in the JavaScript loop
      { index: 5, name: 'f3', type: 'F', weights: [e(1), e(p - 1), e(1).map((v, i) => v + (i === p - 1 ? 1 : 0))] },
    ];
    for (const c of contrasts) {
      const js = contrastMaps(fit, c);
      const nat = contrastMaps(fit, c, kernel);
      assert.ok(bytesOf(nat.effect).equals(bytesOf(js.effect)), `${c.name} effect, p = ${p}`);
      assert.ok(bytesOf(nat.stat).equals(bytesOf(js.stat)), `${c.name} statistic, p = ${p}`);
      assert.deepEqual(nat.df, js.df);
      // the planted cases are there: an infinite or NaN statistic where ResMS is 0
      assert.ok(
        js.stat.some((v) => !Number.isFinite(v)),
        `${c.name}: ResMS 0 gives a non-finite statistic`,
      );
    }
  }
});

test('the native spread gives the JavaScript spread bytes (float32 and float64, strided, NaN and 0 outside)', (t) => {
  const kernel = nativePostKernel();
  if (!kernel) {
    t.skip(NO_ADDON);
    return;
  }
  const rng = new Rng(3);
  const nvox = 4000;
  const vox = Int32Array.from({ length: nvox }, (_, i) => i).filter(() => rng.uniform() < 0.3);
  const m = vox.length;
  const p = 5;
  // values with a NaN, infinities, a -0 and values float32 rounds (ties and overflow)
  const values = Float64Array.from({ length: m * p }, () => 1e3 * rng.normal());
  values[7] = NaN;
  values[8] = Infinity;
  values[9] = -0;
  values[10] = 1 + 2 ** -24;
  values[11] = 1e300;
  for (const [stride, offset] of [
    [1, 0],
    [p, 0],
    [p, 3],
  ]) {
    for (const outside of [NaN, 0]) {
      for (const make of [(n: number) => new Float32Array(n), (n: number) => new Float64Array(n)]) {
        const a = make(nvox).fill(123.25);
        const b = make(nvox).fill(-7);
        spreadStrided(vox, values, stride, offset, outside, a);
        spreadStrided(vox, values, stride, offset, outside, b, kernel);
        assert.ok(bytesOf(b).equals(bytesOf(a)), `stride ${stride}, offset ${offset}, outside ${outside}`);
      }
    }
  }
});

test('the native loops refuse sizes past their arrays (a product that wraps round too), and spread with stride 0 as JavaScript does', (t) => {
  const addon = loadAddon() as {
    postMaskCounts?: (mask: Uint8Array, nx: number, ny: number, nz: number, out: Float64Array) => void;
  } | null;
  const kernel = nativePostKernel();
  if (!kernel || !addon?.postMaskCounts) {
    t.skip(NO_ADDON);
    return;
  }
  // 2^22 cubed is 2^66 voxels: 0 in 64 bits, so a product check would let the loop read past 8 bytes
  assert.throws(
    () => addon.postMaskCounts?.(new Uint8Array(8), 2 ** 22, 2 ** 22, 2 ** 22, new Float64Array(8)),
    /postMaskCounts: arrays of the wrong size/,
  );
  assert.throws(
    () => addon.postMaskCounts?.(new Uint8Array(7), 2, 2, 2, new Float64Array(8)),
    /postMaskCounts: arrays of the wrong size/,
  );
  // a stride and an offset past the values (C's check divides: no product to wrap round)
  const vox = new Int32Array(3);
  const out = new Float64Array(4);
  assert.throws(() => kernel.spread(vox, new Float64Array(4), 2 ** 32 - 1, 2 ** 32 - 1, 0, out), /one value per/);
  assert.throws(() => kernel.spread(vox, new Float64Array(4), 1, 4, 0, out), /one value per/);
  // stride 0: every voxel takes values[offset], as the JavaScript loop gives it
  const a = new Float32Array(5).fill(9);
  const b = new Float32Array(5).fill(-9);
  spreadStrided(Int32Array.of(0, 2, 4), Float64Array.of(1.5, 2.5), 0, 1, NaN, a);
  spreadStrided(Int32Array.of(0, 2, 4), Float64Array.of(1.5, 2.5), 0, 1, NaN, b, kernel);
  assert.deepEqual([...a], [2.5, NaN, 2.5, NaN, 2.5]);
  assert.ok(bytesOf(b).equals(bytesOf(a)), 'stride 0');
});

test('the native loops and the JavaScript loops write the same images for a whole run', async (t) => {
  if (!nativePostKernel()) {
    t.skip(NO_ADDON);
    return;
  }
  const { dir, cleanup } = tempDir('vbm-native-post-');
  t.after(cleanup);
  const dims: [number, number, number] = [7, 6, 5];
  const nv = dims[0] * dims[1] * dims[2];
  const rng = new Rng(21);
  const lines = ['scan,age,group'];
  for (let i = 0; i < 16; i++) {
    const y = Float32Array.from({ length: nv }, (_, v) => 40 + rng.normal() + 0.05 * i * (v % 3) + (i % 2) * 0.3);
    if (i === 2) y[17] = NaN;
    y[30] = 5;
    writeFileSync(join(dir, `s${i}.nii`), encodeNifti({ dims, affine: IDENTITY, data: y }));
    lines.push(`s${i}.nii,${20 + i},${i % 2}`);
  }
  writeFileSync(join(dir, 'design.csv'), lines.join('\n'));
  const run = (out: string) =>
    runAnalysis({
      design: join(dir, 'design.csv'),
      out: join(dir, out),
      covariates: ['age', 'group'],
      contrasts: [
        { name: 'age+', type: 'T', columns: ['age'], weights: [1] },
        { name: 'group-', type: 'T', columns: ['group'], weights: [-1] },
        { name: 'both', type: 'F', columns: ['age', 'group'] },
      ],
      workers: 0,
    });
  const res = await run('native');
  // the result's maps (computed when read; the run reused two arrays for all contrasts) are the images' values
  assert.equal(res.maps.length, 3);
  for (const [i, map] of res.maps.entries()) {
    const names = res.record.contrasts[i]?.images;
    assert.ok(names);
    for (const [name, values] of [
      [names.effect, map.effect],
      [names.stat, map.stat],
    ] as const) {
      const bytes = readFileSync(join(dir, 'native', name));
      const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset + 352, bytes.byteOffset + bytes.length));
      res.fit.vox.forEach((v, k) => assert.ok(Object.is(data[v], Math.fround(values[k] ?? NaN)), `${name} voxel ${v}`));
    }
  }
  const saved = process.env.VBM_FIT_KERNEL;
  process.env.VBM_FIT_KERNEL = 'js';
  try {
    await run('js');
  } finally {
    if (saved === undefined) delete process.env.VBM_FIT_KERNEL;
    else process.env.VBM_FIT_KERNEL = saved;
  }
  const images = readdirSync(join(dir, 'native')).filter((f) => f.endsWith('.nii'));
  assert.equal(images.length, 3 + 3 + 3 * 2);
  for (const f of images)
    assert.ok(readFileSync(join(dir, 'native', f)).equals(readFileSync(join(dir, 'js', f))), `${f}: the same bytes`);
});

test('the native mask counts give the JavaScript resel counts (random masks, a box in closed form)', (t) => {
  const counter = nativeMaskCounter();
  if (!counter) {
    t.skip(NO_ADDON);
    return;
  }
  const rng = new Rng(17);
  const dims: [number, number, number] = [13, 11, 9];
  const nv = dims[0] * dims[1] * dims[2];
  const fwhm = [2.5, 3, 1.75];
  for (const density of [0.3, 0.7, 0.95, 1]) {
    const mask = Uint8Array.from({ length: nv }, () => (rng.uniform() < density ? 1 : 0));
    assert.deepEqual(reselCounts(mask, dims, fwhm, counter), reselCounts(mask, dims, fwhm), `density ${density}`);
  }
  // a 5 x 4 x 3 box inside the grid: P = 60, E = (4*4*3, 5*3*3, 5*4*2), F = (4*3*3, 4*4*2, 5*3*2), C = 4*3*2
  const box = new Uint8Array(nv);
  for (let z = 2; z < 5; z++) for (let y = 1; y < 5; y++) for (let x = 3; x < 8; x++) box[x + 13 * (y + 11 * z)] = 1;
  const [rx, ry, rz] = fwhm.map((f) => 1 / f);
  const [R0, R1, R2, R3] = reselCounts(box, dims, fwhm, counter);
  assert.equal(R0, 1, 'the Euler characteristic of a box');
  assert.equal(R1, (48 - 36 - 32 + 24) * rx + (45 - 36 - 30 + 24) * ry + (40 - 32 - 30 + 24) * rz);
  assert.equal(R2, (36 - 24) * rx * ry + (32 - 24) * rx * rz + (30 - 24) * ry * rz);
  assert.equal(R3, 24 * rx * ry * rz);
});

test('the native analysis mask and voxel index: the voxels that stay and where they are, planted by hand', (t) => {
  const { mask: postMask, index: postIndex } = nativePostKernel() ?? {};
  if (!postMask || !postIndex) {
    t.skip(NO_ADDON);
    return;
  }
  // ten candidates on a grid of 40: kept where ok and vmax > vmin (a NaN, an equal pair, ok = 0 drop out)
  const cand = Int32Array.from([1, 3, 4, 8, 9, 15, 20, 21, 30, 39]);
  const ok = Uint8Array.from([1, 1, 0, 1, 1, 1, 1, 1, 1, 1]);
  const vmin = Float32Array.from([0, 2, 0, NaN, 1, 1, 0, -1, 3, 0]);
  const vmax = Float32Array.from([1, 2, 1, 5, 1.5, NaN, 0.5, 0, 4, 1e-30]);
  const kept = [0, 6, 7, 8, 9, 4]; // by hand from the rule, then sorted below
  kept.sort((a, b) => a - b);
  const mask = new Uint8Array(40);
  const candOf = new Int32Array(cand.length).fill(-7);
  const m = postMask(cand, ok, vmin, vmax, mask, candOf);
  assert.equal(m, kept.length);
  assert.deepEqual([...candOf.subarray(0, m)], kept);
  assert.deepEqual(
    [...mask].flatMap((v, i) => (v ? [i] : [])),
    kept.map((c) => cand[c]),
  );
  const vox = new Int32Array(m);
  const maskIndex = new Int32Array(40).fill(123);
  postIndex(cand, candOf.subarray(0, m), vox, maskIndex);
  assert.deepEqual(
    [...vox],
    kept.map((c) => cand[c]),
  );
  maskIndex.forEach((v, i) => assert.equal(v, kept.map((c) => cand[c]).indexOf(i), `maskIndex[${i}]`));
  // a candidate off the grid, or an index past the candidates, is refused before anything is written
  assert.throws(
    () =>
      postMask(
        Int32Array.from([40]),
        ok.subarray(0, 1),
        vmin.subarray(0, 1),
        vmax.subarray(0, 1),
        mask,
        new Int32Array(1),
      ),
    /outside the grid/,
  );
  assert.throws(() => postIndex(cand, Int32Array.from([10]), new Int32Array(1), maskIndex), /outside/);
});

test('the native loops split between 1, 2 and 3 threads give the JavaScript bits (solve, T, F, spread)', (t) => {
  if (!nativePostKernel()) {
    t.skip(NO_ADDON);
    return;
  }
  // over 65,536 voxels, so that the C loops split them (fewer stay in one thread)
  const rng = new Rng(31);
  const p = 5;
  const m = 70001;
  const nCand = m + 37;
  const B = designB(rng, 60, p);
  const sums = sumsFor(rng, p, nCand);
  const candOf = Int32Array.from({ length: m }, (_, k) => k + (k % 3 === 0 ? 0 : 1)).map((c, k) =>
    Math.min(c + (k >> 12), nCand - 1),
  );
  const js = solveFromSums(B, sums, candOf, nCand, p, 60 - p);
  const fit = model(rng, p, m);
  const e = (j: number): number[] => Array.from({ length: p }, (_, i) => (i === j ? 1 : 0));
  const tc: Contrast = { index: 1, name: 't', type: 'T', weights: [e(2)] };
  const fc: Contrast = { index: 2, name: 'f', type: 'F', weights: [e(1), e(3)] };
  const jsT = contrastMaps(fit, tc);
  const jsF = contrastMaps(fit, fc);
  const vox = Int32Array.from({ length: m }, (_, k) => 2 * k + (k % 7 === 0 ? 1 : 0));
  const jsSpread = new Float32Array(2 * m + 5);
  spreadStrided(vox, jsT.stat, 1, 0, NaN, jsSpread);
  for (const threads of [1, 2, 3]) {
    const kernel = nativePostKernel(threads);
    assert.ok(kernel);
    const c = solveFromSums(B, sums, candOf, nCand, p, 60 - p, undefined, kernel);
    assert.ok(bytesOf(c.beta).equals(bytesOf(js.beta)), `betas, ${threads} threads`);
    assert.ok(bytesOf(c.rss).equals(bytesOf(js.rss)), `ResSS, ${threads} threads`);
    assert.ok(bytesOf(c.resMS).equals(bytesOf(js.resMS)), `ResMS, ${threads} threads`);
    for (const [con, want] of [
      [tc, jsT],
      [fc, jsF],
    ] as const) {
      const got = contrastMaps(fit, con, kernel);
      assert.ok(bytesOf(got.effect).equals(bytesOf(want.effect)), `${con.name} effect, ${threads} threads`);
      assert.ok(bytesOf(got.stat).equals(bytesOf(want.stat)), `${con.name} statistic, ${threads} threads`);
    }
    const out = new Float32Array(2 * m + 5).fill(7);
    kernel.spread(vox, jsT.stat, 1, 0, NaN, out);
    assert.ok(bytesOf(out).equals(bytesOf(jsSpread)), `spread, ${threads} threads`);
  }
});

test("the native scans' stats over the fit's blocks give the sums in block order (bits), and refuse wrong sizes", (t) => {
  const scanStats = loadNativeFit()?.scanStats;
  if (!scanStats) return t.skip(NO_ADDON);
  const rng = new Rng(77);
  for (const [m, nBlocks] of [
    [1, 1],
    [3, 7],
    [379, 603],
  ]) {
    // counts (whole numbers) and sums of values whose order of addition changes the last bits
    const stats = Float64Array.from({ length: 4 * m * nBlocks }, (_, i) =>
      i % 4 === 3 ? 1e6 * rng.normal() + rng.uniform() / 3 : Math.floor(1000 * rng.uniform()),
    );
    const got = new Float64Array(4 * m);
    scanStats(stats, m, got);
    // the documented order: for each scan and field, from 0, block 0 first
    const want = new Float64Array(4 * m);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let b = 0; b < nBlocks; b++) s += stats[4 * (i * nBlocks + b) + j];
        want[4 * i + j] = s;
      }
    assert.ok(bytesOf(got).equals(bytesOf(want)), `m ${m}, ${nBlocks} blocks`);
  }
  assert.throws(() => scanStats(new Float64Array(10), 3, new Float64Array(12)), /wrong sizes/);
  assert.throws(() => scanStats(new Float64Array(12), 3, new Float64Array(8)), /wrong sizes/);
});

test('postTouchAsync faults arrays in without changing a value (shared and plain, offset views, odd lengths)', async (t) => {
  const touch = nativePageToucher();
  if (!touch) return t.skip(NO_ADDON);
  const rng = new Rng(8);
  const f64 = Float64Array.from({ length: 300_001 }, () => rng.normal());
  const shared = new Int32Array(new SharedArrayBuffer(4 * 100_003));
  for (let i = 0; i < shared.length; i++) shared[i] = (i * 2654435761) | 0;
  const u8 = Uint8Array.from({ length: 9_999 }, (_, i) => (i * 37) & 255);
  const view = u8.subarray(1_001, 9_000);
  const copies = [f64, shared, u8].map((a) => Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
  await touch(f64, shared, u8, view, new Float32Array(0));
  [f64, shared, u8].forEach((a, i) =>
    assert.ok(
      Buffer.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).equals(copies[i]),
      `array ${i} unchanged`,
    ),
  );
  await assert.rejects(
    Promise.resolve().then(() => touch(...Array.from({ length: 17 }, () => new Uint8Array(1)))),
    /at most 16/,
  );
  await assert.rejects(
    Promise.resolve().then(() => touch({} as ArrayBufferView)),
    /typed arrays expected/,
  );
});

test('adviseHugePages advises the whole 2 MiB pages inside each array and changes no value', (t) => {
  const addon = loadAddon() as { adviseHugePages?: (...a: ArrayBufferView[]) => number } | null;
  if (!addon?.adviseHugePages) return t.skip(NO_ADDON);
  // a kernel built without transparent huge pages (no such file) refuses the advice; one with them takes it
  // even where they are set to `never` (the advice is kept, only no huge page is faulted in then)
  let thp = true;
  try {
    readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    thp = false;
  }
  const rng = new Rng(9);
  const big = Float64Array.from({ length: (9 << 20) / 8 + 3 }, () => rng.normal());
  const copy = Buffer.from(big.buffer).toString('base64');
  const small = new Float32Array(1000);
  const bytes = adviseHugePages(big, small, new Uint8Array(0));
  // 9 MiB and 24 bytes hold 3 or 4 whole 2 MiB pages however they are aligned (4 when it starts on one)
  if (!thp) assert.equal(bytes, 0, 'nothing advised without huge pages');
  else assert.ok(bytes === 6 << 20 || bytes === 8 << 20, `advised ${bytes} bytes`);
  assert.equal(adviseHugePages(small), 0, 'an array smaller than a huge page holds none');
  assert.equal(Buffer.from(big.buffer).toString('base64'), copy, 'values unchanged');
  assert.throws(() => addon.adviseHugePages?.({} as ArrayBufferView), /typed arrays expected/);
  assert.throws(() => addon.adviseHugePages?.(...Array.from({ length: 17 }, () => new Uint8Array(1))), /at most 16/);
});
