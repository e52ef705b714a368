/**
 * The fit's SIMD accumulator (accumulateWasm.ts, accumulate.wat) against a plain float64
 * reference written here voxel by voxel and scan by scan, and against the JavaScript kernel
 * (addScans). Every sum is the same IEEE float64 operations in the same order of scans, so the
 * tolerance is zero: the sums must be the same bits. Only the per-scan sum of values (used for
 * the scans' means in warnings) is added in another order: 1e-12 relative.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type FitLayout,
  type FitSums,
  type ScanContribution,
  RYY_TERMS,
  addScans,
  createScratch,
  createSums,
} from '../src/estimation/accumulate.js';
import { createSumAccumulator } from '../src/estimation/accumulateWasm.js';
import { createMergeOrder, mergeInTurn } from '../src/estimation/chunkMerge.js';
import { makeCohort, templateMask, writeCohort } from '../src/synth/phantom.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { tempDir } from './helpers.js';
import { pieceHashReference } from './support/xxh3.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { openNifti, readVolume } from '../src/node/nifti/read.js';
import { DT } from '../src/io/nifti/datatypes.js';
import { smallStudy } from './support/study.js';

const dims: [number, number, number] = [13, 11, 9];
const nvox = dims[0] * dims[1] * dims[2];

function rng(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

/** Odd number of candidates, including voxels on the grid's last x, y and z planes. */
function layoutOf(p: number): FitLayout {
  const cand: number[] = [];
  for (let i = 0; i < nvox; i++) if (i % 3 !== 1 || i > nvox - 40) cand.push(i);
  if (cand.length % 2 === 0) cand.pop();
  return { dims, cand: new Int32Array(cand), p, smoothness: true };
}

function scansOf(count: number, p: number, seed: number): ScanContribution[] {
  const r = rng(seed);
  return Array.from({ length: count }, (_, k) => {
    const data = new Float32Array(nvox);
    for (let i = 0; i < nvox; i++) {
      const u = r();
      data[i] = u < 0.02 ? 0 : u < 0.03 ? NaN : u < 0.04 ? -0.5 : 0.1 + 3 * r();
    }
    const x = Array.from({ length: p }, (_, j) => (j === 0 ? 1 : (k + j) % 4 === 0 ? 0 : r() - 0.5));
    return {
      data,
      x,
      inResidualSubset: k % 3 !== 1,
      threshold: k % 4 === 2 ? 0.4 : -Infinity,
      zeroIsMissing: k % 5 === 0,
      scale: k % 6 === 3 ? 1.37 : undefined,
      stats: { removed: 0, nonZero: 0, sum: 0, finite: 0 },
    };
  });
}

/** The sums as their definitions say, one voxel at a time, scans in order. */
function reference(layout: FitLayout, scans: ScanContribution[]): FitSums & { stats: number[][] } {
  const { cand, p } = layout;
  const [nx, ny, nz] = dims;
  const n = cand.length;
  const s = createSums(layout);
  const stats = scans.map(() => [0, 0, 0, 0]);
  const at = (d: Float32Array, sc: number, i: number, ok: boolean): number => (ok ? d[i] * sc : NaN);
  for (let c = 0; c < n; c++) {
    const i = cand[c];
    const xi = i % nx;
    const yi = Math.floor(i / nx) % ny;
    const zi = Math.floor(i / (nx * ny));
    scans.forEach((sc, k) => {
      const scale = sc.scale ?? 1;
      const v = sc.data[i] * scale;
      if (!(v > sc.threshold) || (sc.zeroIsMissing && v === 0)) {
        s.ok[c] = 0;
        stats[k][0]++;
      }
      if (v !== 0) stats[k][1]++;
      if (Number.isFinite(v)) {
        stats[k][2]++;
        stats[k][3] += v;
      }
      if (v < s.vmin[c]) s.vmin[c] = v;
      if (v > s.vmax[c]) s.vmax[c] = v;
      s.yy[c] += v * v;
      for (let j = 0; j < p; j++) if (sc.x[j] !== 0) s.xty[j * n + c] += sc.x[j] * v;
      if (!sc.inResidualSubset) return;
      const gx = at(sc.data, scale, i + 1, xi + 1 < nx);
      const gy = at(sc.data, scale, i + nx, yi + 1 < ny);
      const gz = at(sc.data, scale, i + nx * ny, zi + 1 < nz);
      const prods = [v * v, v * gx, v * gy, v * gz, gx * gy, gx * gz, gy * gz];
      for (let t = 0; t < RYY_TERMS; t++) s.ryy[t * n + c] += prods[t];
      for (let j = 0; j < p; j++) if (sc.x[j] !== 0) s.rxty[j * n + c] += sc.x[j] * v;
    });
  }
  return { ...s, stats };
}

function sameBits(name: string, a: ArrayLike<number> & { buffer: ArrayBufferLike }, b: typeof a): void {
  const x = new Uint8Array(a.buffer as ArrayBuffer);
  const y = new Uint8Array(b.buffer as ArrayBuffer);
  assert.equal(x.length, y.length, `${name}: lengths`);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${name}: byte ${i} differs`);
}

const FIELDS = ['ok', 'vmin', 'vmax', 'yy', 'xty', 'ryy', 'rxty'] as const;

/** The WebAssembly kernel and the native one (vbm_fit.c, on the same memory), each against the references. */
const KERNELS = ['wasm', 'native'] as const;

/** An accumulator with `kernel`, or undefined (the test skipped, saying why) where this build has none. */
function accumulator(
  t: { skip(why: string): void },
  layout: FitLayout,
  batch: number,
  kernel: (typeof KERNELS)[number],
): ReturnType<typeof createSumAccumulator> {
  const acc = createSumAccumulator(layout, batch, { kernel });
  if (!acc) t.skip('no WebAssembly SIMD in this Node');
  else if (kernel === 'native' && acc.kernel === 'wasm') {
    t.skip('no native fit kernel in this build (VBM_NATIVE=0, or no C compiler)');
    return undefined;
  }
  return acc;
}

for (const kernel of KERNELS)
  test(`${kernel} sums are the same bits as a float64 reference and as the JavaScript kernel`, (t) => {
    const p = 4;
    const layout = layoutOf(p);
    const acc = accumulator(t, layout, 4, kernel);
    if (!acc) return;
    const scans = scansOf(11, p, 7);
    // batches of 4, 4, 3 (as the fit's batches), after a chunk that must not leak into this one
    acc.add(scansOf(3, p, 99).map((s) => ({ ...s, stats: undefined })));
    acc.reset();
    for (let b = 0; b < scans.length; b += 4) acc.add(scans.slice(b, b + 4));
    const reused = createSums(layout);
    reused.yy.fill(123); // a recycled chunk's arrays: every value must be overwritten
    const simd = acc.copyOut(reused);
    assert.equal(simd, reused);
    const ref = reference(layout, scans);
    const js = createSums(layout);
    const jsScans = scans.map((s) => ({ ...s, stats: { removed: 0, nonZero: 0, sum: 0, finite: 0 } }));
    const scratch = createScratch(layout);
    for (let b = 0; b < scans.length; b += 4) addScans(js, layout, scratch, jsScans.slice(b, b + 4));
    for (const f of FIELDS) {
      sameBits(`${f} (SIMD vs reference)`, simd[f], ref[f]);
      sameBits(`${f} (SIMD vs addScans)`, simd[f], js[f]);
    }
    // the data exercise what they should: some voxels masked, some NaN products, some kept
    assert.ok(simd.ok.includes(0) && simd.ok.includes(1));
    assert.ok(simd.ryy.some(Number.isNaN) && simd.ryy.some(Number.isFinite));
    scans.forEach((s, k) => {
      const [removed, nonZero, finite, sum] = ref.stats[k];
      assert.deepEqual([s.stats!.removed, s.stats!.nonZero, s.stats!.finite], [removed, nonZero, finite], `scan ${k}`);
      assert.ok(Math.abs(s.stats!.sum - sum) <= 1e-12 * Math.abs(sum), `scan ${k}: sum ${s.stats!.sum} vs ${sum}`);
    });
  });

test('a scan not in a slot is copied in; a batch larger than the slots is refused', (t) => {
  const layout = layoutOf(2);
  const acc = createSumAccumulator(layout, 2);
  if (!acc) {
    t.skip('no WebAssembly SIMD in this Node');
    return;
  }
  const scans = scansOf(2, 2, 5);
  acc.slots[0].set(scans[0].data);
  acc.add([{ ...scans[0], data: acc.slots[0] }, scans[1]]);
  const ref = reference(layout, scans);
  const out = acc.copyOut();
  for (const f of FIELDS) sameBits(f, out[f], ref[f]);
  assert.throws(() => acc.add(scansOf(3, 2, 1)), /at most 2 scans/);
});

test('vbm run gives the same bytes with the native, WebAssembly SIMD and JavaScript kernels (float32 and int16 scans)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort(smallStudy({ n: 40, seed: 5, perSd: 0.1, sigmaMm: 9 }));
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    const floatDesign = writeCohort(join(dir, 'float32'), cohort, { format: 'nii' });
    // the same cohort stored as int16 with a scale factor (as some pipelines write grey matter)
    const intDesign = writeCohort(join(dir, 'int16'), cohort, { format: 'nii' });
    for (const name of readdirSync(join(dir, 'int16', 'scans'))) {
      const path = join(dir, 'int16', 'scans', name);
      writeFileSync(path, encodeNifti(readVolume(path), { datatype: DT.INT16, slope: 1e-4 }));
    }
    assert.equal(
      openNifti(join(dir, 'int16', 'scans', readdirSync(join(dir, 'int16', 'scans'))[0])).header.datatype.name,
      'int16',
    );
    for (const [format, design] of [
      ['float32', floatDesign],
      ['int16', intDesign],
    ]) {
      const outs: string[] = [];
      // the default (the native kernel where the addon has it), WebAssembly, JavaScript
      for (const kernel of ['default', 'wasm', 'js']) {
        if (kernel !== 'default') process.env.VBM_FIT_KERNEL = kernel;
        else delete process.env.VBM_FIT_KERNEL;
        const out = join(dir, `${format}-${kernel}`);
        try {
          await runAnalysis({
            design,
            out,
            covariates: ['age', 'sex'],
            contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
            masking: { explicitMask: join(dir, 'mask.nii') },
            workers: 0,
          });
        } finally {
          delete process.env.VBM_FIT_KERNEL;
        }
        outs.push(out);
      }
      // the scans' content hashes (of files read into the SIMD slots, or as usual) agree with another XXH3
      const recorded = (out: string): string[] =>
        (
          JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { scans: { path: string; hash: string }[] }
        ).scans.map((s) => s.hash);
      const direct = (
        JSON.parse(readFileSync(join(outs[0], 'model.json'), 'utf8')) as { scans: { path: string }[] }
      ).scans.map((s) => pieceHashReference(readFileSync(s.path)));
      assert.deepEqual(recorded(outs[0]), direct);
      assert.deepEqual(recorded(outs[1]), direct);
      assert.deepEqual(recorded(outs[2]), direct);
      const images = readdirSync(outs[0]).filter((f) => f.endsWith('.nii'));
      assert.ok(images.includes('RPV.nii') && images.includes('spmT_0001.nii'));
      for (const f of images) {
        for (const o of outs.slice(1))
          assert.ok(readFileSync(join(outs[0], f)).equals(readFileSync(join(o, f))), `${format}: ${f} differs in ${o}`);
      }
    }
  } finally {
    cleanup();
  }
});

test('vbm run on 2 threads: the smoothness on native threads, or on a worker thread (WebAssembly fit), gives the bytes of one thread', async () => {
  // workers 0: the smoothness in this thread before the images; workers 2: after the fit on threads, on the
  // addon's native threads (its loop split between them) or, with VBM_FIT_KERNEL=wasm, the JavaScript loop
  // on a worker thread (smoothnessWork.ts) while the images are written. With the addon the images are
  // written by its writer (native/vbm_write.c), the contrasts' maps taking turns in two pairs of arrays
  // (three contrasts: the first pair is reused); with VBM_FIT_KERNEL=wasm each is encoded in JavaScript
  const { dir, cleanup } = tempDir();
  try {
    const cohort = makeCohort(smallStudy({ n: 70, seed: 6, perSd: 0.1, sigmaMm: 9 }));
    writeFileSync(join(dir, 'mask.nii'), templateMask(cohort));
    const design = writeCohort(join(dir, 'scans'), cohort, { format: 'nii' });
    const outs: string[] = [];
    for (const [workers, kernel] of [
      [0, 'default'],
      [2, 'default'],
      [2, 'wasm'],
    ] as const) {
      if (kernel !== 'default') process.env.VBM_FIT_KERNEL = kernel;
      const out = join(dir, `${kernel}-${workers}`);
      try {
        await runAnalysis({
          design,
          out,
          covariates: ['age', 'sex'],
          contrasts: [
            { name: 'age', type: 'T', columns: ['age'], weights: [1] },
            { name: 'sex', type: 'T', columns: ['sex'], weights: [-1] },
            { name: 'age or sex', type: 'F', columns: ['age', 'sex'] },
          ],
          masking: { explicitMask: join(dir, 'mask.nii') },
          workers,
        });
      } finally {
        delete process.env.VBM_FIT_KERNEL;
      }
      outs.push(out);
    }
    const files = readdirSync(outs[0]).filter((f) => f.endsWith('.nii') || f === 'smoothness.json');
    assert.ok(files.includes('RPV.nii') && files.includes('smoothness.json') && files.includes('spmF_0003.nii'));
    for (const f of files)
      for (const o of outs.slice(1))
        assert.ok(readFileSync(join(outs[0], f)).equals(readFileSync(join(o, f))), `${f} differs in ${o}`);
  } finally {
    cleanup();
  }
});

for (const kernel of KERNELS)
  test(`${kernel}: chunks added to a shared total in turn (mergeOut) are the same bits as chunk sums from zero added in order, and the kernel starts the next chunk from zero`, (t) => {
    const p = 3;
    const layout = layoutOf(p);
    const acc = accumulator(t, layout, 4, kernel);
    if (!acc) return;
    const chunks = [scansOf(5, p, 11), scansOf(4, p, 12), scansOf(6, p, 13)];
    const order = createMergeOrder([layout]);
    chunks.forEach((scans, k) => {
      acc.reset();
      for (let b = 0; b < scans.length; b += 4) acc.add(scans.slice(b, b + 4));
      mergeInTurn(order, 0, k, (total, first) => acc.mergeOut(total, first));
    });
    assert.equal(Atomics.load(order.merged, 0), 3);
    // independently: each chunk summed from zero by the float64 reference, then added in chunk order
    // as the definitions say (sums add, masks AND, extremes combine)
    const refs = chunks.map((c) => reference(layout, c));
    const want = createSums(layout);
    for (let i = 0; i < want.nCand; i++) {
      want.ok[i] = refs.every((r) => r.ok[i] === 1) ? 1 : 0;
      want.vmin[i] = Math.min(...refs.map((r) => r.vmin[i]));
      want.vmax[i] = Math.max(...refs.map((r) => r.vmax[i]));
    }
    for (const f of ['yy', 'xty', 'ryy', 'rxty'] as const)
      for (let i = 0; i < want[f].length; i++) want[f][i] = refs[0][f][i] + refs[1][f][i] + refs[2][f][i];
    const total = order.totals[0];
    // the shared total's arrays are views on one buffer: compare element by element (bits of float64 via Object.is)
    for (const f of FIELDS)
      for (let i = 0; i < want[f].length; i++)
        if (!Object.is(total[f][i], want[f][i])) assert.fail(`${f}[${i}]: ${total[f][i]} vs ${want[f][i]}`);
    // after mergeOut the kernel is at zero: one more chunk alone gives that chunk's sums
    acc.reset();
    acc.add(chunks[1].slice(0, 4));
    const again = acc.copyOut();
    const ref1 = reference(layout, chunks[1].slice(0, 4));
    for (const f of FIELDS) sameBits(`${f} (after mergeOut)`, again[f], ref1[f]);
    // a chunk whose turn has passed is refused
    assert.throws(() => mergeInTurn(order, 0, 1, () => undefined), /in order/);
  });
