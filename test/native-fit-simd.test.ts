/**
 * Each of the native fit's block kernels (native/vbm_fit.c: fit_avx512, fit_avx2, fit_scalar, forced
 * with the addon's fitSimd) against the WebAssembly kernel (accumulate.wat) and the JavaScript one
 * (addScans), on a layout made to reach every path of the vector kernels: runs of consecutive
 * candidates of many lengths (one voxel, shorter and longer than a register), runs that go on across
 * the end of a grid row (consecutive indices whose +x neighbour is off the grid), voxels on the
 * grid's last x, y and z planes (neighbour -1), a candidate count that is not a multiple of 8, more
 * than one block; scans with NaN, infinite, zero and below-threshold values, implicit-mask zeros, a
 * scale that is not 1, residual products on and off, and designs with fewer and more terms than the
 * AVX-512 kernel unrolls (6). Every sum is the same float64 operations in the same order in every
 * kernel: the tolerance is zero (the same bits; with infinite values, NaNs of either sign between
 * the native and the portable kernels, see below). The per-scan counts must be equal; the per-scan sum
 * of values (only for the scans' means in warnings) is added in another order: 1e-12 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  type FitLayout,
  type FitSums,
  type ScanContribution,
  addScans,
  createScratch,
  createSums,
} from '../src/estimation/accumulate.js';
import { createSumAccumulator } from '../src/estimation/accumulateWasm.js';
import { loadAddon } from '../src/node/addon.js';

type Simd = { fitSimd?(name: string): string; fitLevel?(): string };

const dims: [number, number, number] = [37, 11, 9];
const nvox = dims[0] * dims[1] * dims[2];

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

/**
 * Runs of 1 to 40 consecutive grid indices with gaps of 1 to 30 between them, walking the grid in
 * index order (so runs go on across row and slice ends), and the grid's last 45 voxels (its last
 * row, on the last y and z planes).
 */
function layoutOf(p: number): FitLayout {
  const runs = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 40, 1, 4];
  const gaps = [1, 2, 3, 8, 30, 1, 5];
  const cand: number[] = [];
  let i = 0;
  for (let k = 0; i < nvox - 45; k++) {
    for (let j = 0; j < runs[k % runs.length] && i < nvox - 45; j++) cand.push(i++);
    i += gaps[k % gaps.length];
  }
  for (let j = Math.max(i, nvox - 45); j < nvox; j++) cand.push(j);
  if (cand.length % 8 === 0) cand.splice(5, 1);
  return { dims, cand: new Int32Array(cand), p, smoothness: true };
}

/** `infinite`: some values +-Infinity too (0 * Infinity and Infinity - Infinity make NaNs). */
function scansOf(count: number, p: number, seed: number, infinite: boolean): ScanContribution[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, k) => {
    const data = new Float32Array(nvox);
    for (let i = 0; i < nvox; i++) {
      const u = r();
      const inf = infinite && u > 0.06 && u < 0.064 ? (u < 0.062 ? Infinity : -Infinity) : undefined;
      data[i] = inf ?? (u < 0.03 ? 0 : u < 0.05 ? NaN : u < 0.06 ? -0.5 : 0.1 + 3 * r());
    }
    // some design terms zero (the kernels get only the others): from one term to all of them
    // (every fourth scan all p: with p = 8 more than the AVX-512 kernel unrolls)
    const x = Array.from({ length: p }, (_, j) => (j === 0 ? 1 : k % 4 && (k + j) % 3 === 0 ? 0 : r() - 0.5));
    return {
      data,
      x,
      inResidualSubset: k % 3 !== 1,
      threshold: k % 4 === 2 ? 0.4 : -Infinity,
      zeroIsMissing: k % 5 === 0,
      scale: k % 6 === 3 ? 1.37 : k % 6 === 5 ? 1 / 3 : undefined,
      stats: { removed: 0, nonZero: 0, sum: 0, finite: 0 },
    };
  });
}

const FIELDS = ['ok', 'vmin', 'vmax', 'yy', 'xty', 'ryy', 'rxty'] as const;

/** The same bytes; `anyNaN`: or both NaN (any sign and payload). */
function sameBits(name: string, a: ArrayLike<number> & { buffer: ArrayBufferLike }, b: typeof a, anyNaN = false): void {
  const size = (a as Float64Array).BYTES_PER_ELEMENT;
  const x = new Uint8Array(a.buffer as ArrayBuffer, 0, a.length * size);
  const y = new Uint8Array(b.buffer as ArrayBuffer, 0, b.length * size);
  assert.equal(x.length, y.length, `${name}: lengths`);
  const word = (u: Uint8Array, i: number): string =>
    Buffer.from(u.subarray(i - (i % size), i - (i % size) + size))
      .reverse()
      .toString('hex');
  for (let i = 0; i < x.length; i++) {
    if (x[i] === y[i]) continue;
    const e = Math.floor(i / size);
    if (anyNaN && Number.isNaN(a[e]) && Number.isNaN(b[e])) continue;
    assert.fail(`${name}: byte ${i} differs (${word(x, i)} vs ${word(y, i)})`);
  }
}

/** The sums and per-scan stats of `scans` (in batches of `batch`) with one kernel. */
function sumsWith(
  kernel: 'native' | 'wasm' | 'js',
  layout: FitLayout,
  scans: ScanContribution[],
  batch: number,
): { sums: FitSums; stats: number[][] } {
  const fresh = scans.map((s) => ({ ...s, stats: { removed: 0, nonZero: 0, sum: 0, finite: 0 } }));
  let sums: FitSums;
  if (kernel === 'js') {
    sums = createSums(layout);
    const scratch = createScratch(layout);
    for (let b = 0; b < fresh.length; b += batch) addScans(sums, layout, scratch, fresh.slice(b, b + batch));
  } else {
    const acc = createSumAccumulator(layout, batch, { kernel });
    assert.ok(acc, 'no WebAssembly SIMD in this Node');
    assert.equal(acc.kernel.startsWith('native'), kernel === 'native', `${kernel}: got ${acc.kernel}`);
    for (let b = 0; b < fresh.length; b += batch) acc.add(fresh.slice(b, b + batch));
    sums = acc.copyOut();
  }
  return { sums, stats: fresh.map((s) => [s.stats.removed, s.stats.nonZero, s.stats.finite, s.stats.sum]) };
}

const addon = loadAddon() as Simd | null;
const LEVELS = ['avx512', 'avx2', 'scalar'] as const;

for (const level of LEVELS)
  for (const p of [3, 8])
    test(`native ${level} kernel: the same bits as the WebAssembly and JavaScript kernels (${p} design columns)`, (t) => {
      if (!addon?.fitSimd) {
        t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
        return;
      }
      const got = addon.fitSimd(level);
      try {
        if (got !== level) {
          t.skip(`this CPU has no ${level} (the widest it has: ${got})`);
          return;
        }
        const layout = layoutOf(p);
        // more than one block of candidates (accumulate.ts BLOCK), not a multiple of 8
        assert.ok(layout.cand.length > 1024 && layout.cand.length % 8 !== 0);
        const scans = scansOf(13, p, 11 + p, false);
        // with 8 columns, scans with more terms than the AVX-512 and AVX2 loops unroll (6)
        assert.equal(
          scans.some((s) => s.x.filter((v) => v !== 0).length > 6),
          p > 6,
        );
        const native = sumsWith('native', layout, scans, 8);
        assert.equal(addon.fitLevel?.(), level);
        const wasm = sumsWith('wasm', layout, scans, 8);
        const js = sumsWith('js', layout, scans, 8);
        for (const f of FIELDS) {
          sameBits(`${f} (native ${level} vs WebAssembly)`, native.sums[f], wasm.sums[f]);
          sameBits(`${f} (native ${level} vs JavaScript)`, native.sums[f], js.sums[f]);
        }
        // the data reach what they should: voxels dropped, NaN products, finite ones
        assert.ok(native.sums.ok.includes(0) && native.sums.ok.includes(1));
        assert.ok(native.sums.ryy.some(Number.isNaN) && native.sums.ryy.some(Number.isFinite));
        native.stats.forEach(([removed, nonZero, finite, sum], k) => {
          const [r2, n2, f2, s2] = js.stats[k];
          assert.deepEqual([removed, nonZero, finite], [r2, n2, f2], `scan ${k}: counts`);
          assert.ok(Math.abs(sum - s2) <= 1e-12 * Math.abs(s2), `scan ${k}: sum ${sum} vs ${s2}`);
        });
        // infinite values too: the native kernels the same bits as each other; against the
        // WebAssembly and JavaScript kernels every NaN may have another sign (which of two NaNs an
        // addition keeps depends on its operands' order, the machine code's choice), all else the same
        const withInf = scansOf(13, p, 21 + p, true);
        const nativeInf = sumsWith('native', layout, withInf, 8);
        addon.fitSimd('scalar');
        const scalarInf = sumsWith('native', layout, withInf, 8);
        addon.fitSimd(level);
        const wasmInf = sumsWith('wasm', layout, withInf, 8);
        for (const f of FIELDS) {
          sameBits(`${f} with infinities (native ${level} vs native scalar)`, nativeInf.sums[f], scalarInf.sums[f]);
          sameBits(`${f} with infinities (native ${level} vs WebAssembly)`, nativeInf.sums[f], wasmInf.sums[f], true);
        }
        assert.ok(nativeInf.sums.yy.includes(Infinity));
        nativeInf.stats.forEach(([removed, nonZero, finite], k) =>
          assert.deepEqual([removed, nonZero, finite], wasmInf.stats[k].slice(0, 3), `scan ${k} with infinities`),
        );
      } finally {
        addon.fitSimd('avx512'); // the widest this CPU has, again
      }
    });

test('VBM_FIT_SIMD picks a narrower kernel; a wider one than the CPU has, or another word, leaves the widest', (t) => {
  if (!addon?.fitSimd || !addon.fitLevel) {
    t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
    return;
  }
  const widest = addon.fitSimd('avx512');
  const file = fileURLToPath(new URL('../native/vbm_kernel.node', import.meta.url));
  const levelWith = (value: string): string => {
    const r = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(file)}).fitLevel())`], {
      env: { ...process.env, VBM_FIT_SIMD: value },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  assert.equal(levelWith('scalar'), 'scalar');
  assert.equal(levelWith('avx2'), widest === 'scalar' ? 'scalar' : 'avx2');
  assert.equal(levelWith('avx512'), widest);
  assert.equal(levelWith('sse9'), widest);
  assert.throws(() => addon.fitSimd!('sse9'), /a kernel's name expected/);
});
