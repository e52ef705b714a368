/**
 * The work around the fit's threads, checked against the plain paths it replaces:
 * - the smoothness estimate (and the resel counts) on a worker thread, while the main thread
 *   writes the estimates' images and the contrasts, against the same estimate on the main thread
 *   (`workers: 0`), bit for bit, on a study with a hole in the mask (a NaN voxel), a constant
 *   voxel and mask voxels on every face of the grid (no forward neighbour there: RPV NaN);
 * - the explicit mask read voxel for voxel when it lies on the scans' grid, against a brute-force
 *   nearest-voxel lookup in mm, LAS and RAS, for masks on the grid, a hair off it, and half a voxel
 *   or a voxel size away from it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { encodeNifti } from '../src/node/nifti/write.js';
import { runAnalysis } from '../src/pipeline/run.js';
import { FIT_CHUNK } from '../src/estimation/fitChunks.js';
import { resampleMaskNearest } from '../src/estimation/masking.js';
import { type Affine, applyAffine, invertAffine } from '../src/io/nifti/affine.js';
import { Rng } from '../src/random.js';

const DIMS: [number, number, number] = [9, 8, 7];
const NV = DIMS[0] * DIMS[1] * DIMS[2];
const LAS: Affine = [
  [-3, 0, 0, 12],
  [0, 3, 0, -10],
  [0, 0, 3, -9],
  [0, 0, 0, 1],
];

/** Scans of smooth noise plus an age effect; voxel 100 NaN in one scan, voxel 200 constant. */
function writeScans(dir: string, n: number): string {
  const rng = new Rng(11);
  const lines = ['scan,age'];
  for (let i = 0; i < n; i++) {
    const raw = Float64Array.from({ length: NV }, () => rng.normal());
    const y = new Float32Array(NV);
    for (let v = 0; v < NV; v++) {
      // neighbours along x and y averaged: some smoothness to estimate
      const l = v % DIMS[0] > 0 ? raw[v - 1] : raw[v];
      const u = v >= DIMS[0] ? raw[v - DIMS[0]] : raw[v];
      y[v] = 50 + raw[v] + l + u + 0.02 * i * (v % 5);
    }
    if (i === 3) y[100] = NaN;
    y[200] = 7;
    writeFileSync(join(dir, `s${i}.nii`), encodeNifti({ dims: DIMS, affine: LAS, data: y }));
    lines.push(`s${i}.nii,${20 + i}`);
  }
  writeFileSync(join(dir, 'design.csv'), lines.join('\n'));
  return join(dir, 'design.csv');
}

test('the smoothness and resel counts on a worker thread are the bits of the main thread estimate (mask hole, constant voxel, grid faces)', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const design = writeScans(dir, 2 * FIT_CHUNK + 5); // three chunks: the fit runs on threads
    const outs: string[] = [];
    const rpvShared: boolean[] = [];
    for (const workers of [0, 2, 1]) {
      const out = join(dir, `w${workers}`);
      const res = await runAnalysis({
        design,
        out,
        covariates: ['age'],
        contrasts: [
          { name: 'age', type: 'T', columns: ['age'], weights: [1] },
          { name: 'F', type: 'F', columns: ['age'] },
        ],
        workers,
      });
      outs.push(out);
      rpvShared.push(res.fit.smoothness.rpv.buffer instanceof SharedArrayBuffer);
      // the mask keeps the grid's faces and loses the NaN and the constant voxel
      assert.equal(res.fit.vox.length, NV - 2);
      assert.ok(res.fit.mask[0] === 1 && res.fit.mask[NV - 1] === 1);
      // voxels on the last x, y or z face have no forward neighbour: RPV NaN there, finite inside
      const rpv = res.fit.smoothness.rpv;
      const last = res.fit.vox.length - 1;
      assert.ok(Number.isNaN(rpv[last]), 'the last voxel has no forward neighbours');
      assert.ok(Number.isFinite(rpv[0]), 'the first voxel has all seven forward corners');
    }
    // workers 0 estimates on the main thread; 1 and 2 on a worker thread (its RPV on shared memory)
    assert.deepEqual(rpvShared, [false, true, true]);
    const files = readdirSync(outs[0]).filter((f) => /\.nii$|^smoothness\.json$/.test(f));
    assert.ok(files.includes('RPV.nii') && files.includes('smoothness.json') && files.length === 10);
    for (const out of outs.slice(1)) {
      for (const f of files)
        assert.ok(readFileSync(join(outs[0], f)).equals(readFileSync(join(out, f))), `${f} in ${out}`);
      const model = (o: string): unknown =>
        (JSON.parse(readFileSync(join(o, 'model.json'), 'utf8')) as { smoothness: unknown }).smoothness;
      assert.deepEqual(model(out), model(outs[0]), 'FWHM, resel counts and voxel counts in model.json');
    }
  } finally {
    cleanup();
  }
});

/** The mask sampled by brute force: for every scan voxel, round(inv(mask affine) * scan affine * voxel). */
function bruteForce(mask: Float32Array, maskDims: number[], maskAffine: Affine, affine: Affine): Uint8Array {
  const inv = invertAffine(maskAffine);
  const out = new Uint8Array(NV);
  let n = 0;
  for (let z = 0; z < DIMS[2]; z++)
    for (let y = 0; y < DIMS[1]; y++)
      for (let x = 0; x < DIMS[0]; x++, n++) {
        const [wx, wy, wz] = applyAffine(affine, x, y, z);
        const [i, j, k] = applyAffine(inv, wx, wy, wz).map(Math.round);
        const inside = i >= 0 && j >= 0 && k >= 0 && i < maskDims[0] && j < maskDims[1] && k < maskDims[2];
        out[n] = inside && mask[i + maskDims[0] * (j + maskDims[1] * k)] > 0 ? 1 : 0;
      }
  return out;
}

test('an explicit mask on the scans grid is read voxel for voxel: the brute-force nearest voxels, LAS and RAS', () => {
  const rng = new Rng(5);
  const data = Float32Array.from({ length: NV }, () => (rng.uniform() < 0.6 ? 1 : 0));
  const RAS: Affine = LAS.map((r, i) => (i === 0 ? [3, 0, 0, -12] : [...r]));
  const moved = (A: Affine, dx: number, scale = 1): Affine =>
    A.map((r, i) => (i < 3 ? [r[0] * scale, r[1] * scale, r[2] * scale, r[3] + (i === 0 ? dx : 0)] : [...r]));
  for (const scans of [LAS, RAS]) {
    const cases: [string, Affine][] = [
      ['the same affine', scans],
      ['a hair off (1e-9 mm)', moved(scans, 1e-9)],
      ['a third of a voxel off', moved(scans, 1)],
      ['half a voxel off', moved(scans, 1.5)],
      ['voxels 0.3% larger', moved(scans, 0, 1.003)],
      ['voxels 10% larger', moved(scans, 0, 1.1)],
    ];
    for (const [what, maskAffine] of cases) {
      const got = resampleMaskNearest({ dims: DIMS, affine: maskAffine, data }, DIMS, scans);
      assert.deepEqual(got, bruteForce(data, DIMS, maskAffine, scans), `${what} (${scans[0][0] < 0 ? 'LAS' : 'RAS'})`);
    }
  }
  // a mask grid of other dimensions never reads voxel for voxel
  const small = Float32Array.from({ length: 8 * 8 * 7 }, (_, i) => i % 2);
  const got = resampleMaskNearest({ dims: [8, 8, 7], affine: LAS, data: small }, DIMS, LAS);
  assert.deepEqual(got, bruteForce(small, [8, 8, 7], LAS, LAS));
  assert.equal(got[8], 0, 'x = 8 lies outside the 8-wide mask');
});

test('images encoded into the buffer of an image already written are the bytes of a fresh encoding', async () => {
  const { ImageBuffers } = await import('../src/pipeline/outputs.js');
  const { contrastImageJobs, estimateImageJobs } = await import('../src/estimation/images.js');
  const { contrastMaps } = await import('../src/estimation/contrastMaps.js');
  const { dir, cleanup } = tempDir();
  try {
    const design = writeScans(dir, 12);
    const res = await runAnalysis({
      design,
      out: join(dir, 'out'),
      covariates: ['age'],
      contrasts: [{ name: 'age', type: 'T', columns: ['age'], weights: [1] }],
      workers: 0,
    });
    const fit = res.fit;
    const maps = contrastMaps(fit, res.contrasts[0]);
    const { effect, stat } = contrastImageJobs(fit, maps);
    const jobs = [...estimateImageJobs(fit, ['mean', 'age']), effect, stat];
    const buffers = new ImageBuffers();
    const released = new Set<ArrayBufferLike>();
    let reused = 0;
    // every image, in order, in a buffer an earlier one left (NaN outside before 0 outside, float64 between float32)
    for (const job of jobs) {
      const bytes = job.encode(buffers.alloc);
      assert.ok(Buffer.from(bytes).equals(Buffer.from(job.encode())), `${job.name} in a used buffer`);
      assert.ok(readFileSync(join(dir, 'out', job.name)).equals(Buffer.from(bytes)), `${job.name} as vbm run wrote it`);
      if (released.has(bytes.buffer)) reused++;
      buffers.release(bytes.buffer);
      released.add(bytes.buffer);
    }
    // beta_0002 in beta_0001's buffer, con_0001 in that one again (after ResMS and the mask), spmT_0001 in con's
    assert.equal(reused, 3);
  } finally {
    cleanup();
  }
});

test('images are staged with at most IMAGES_IN_FLIGHT writes at once, buffers going round, the same bytes', async () => {
  const { ImageBuffers, IMAGES_IN_FLIGHT, stageImageJobs } = await import('../src/pipeline/outputs.js');
  const { estimateImageJobs } = await import('../src/estimation/images.js');
  const { dir, cleanup } = tempDir();
  try {
    const design = writeScans(dir, 12);
    const res = await runAnalysis({
      design,
      out: join(dir, 'out'),
      covariates: ['age'],
      contrasts: [],
      workers: 0,
    });
    const jobs = estimateImageJobs(res.fit, ['mean', 'age']);
    // a stand-in for StagedFiles whose writes finish later: counts the writes under way
    let writing = 0;
    let most = 0;
    const written = new Map<string, Buffer>();
    const buffersSeen = new Set<ArrayBufferLike>();
    const staged = {
      write(path: string, bytes: Uint8Array, onWritten: () => void): void {
        writing++;
        most = Math.max(most, writing);
        written.set(path, Buffer.from(bytes));
        buffersSeen.add(bytes.buffer);
        setTimeout(() => {
          writing--;
          onWritten();
        }, 5);
      },
    };
    await stageImageJobs(
      join(dir, 'staged'),
      jobs,
      staged as unknown as import('../src/node/atomic.js').StagedFiles,
      new ImageBuffers(),
    );
    assert.equal(written.size, jobs.length);
    assert.ok(most <= IMAGES_IN_FLIGHT && most >= 1, `at most ${IMAGES_IN_FLIGHT} writes at once (saw ${most})`);
    // beta_0001, beta_0002 (float32), ResMS (float64), mask: with 2 writes at once the mask's encoder
    // allocates its own, and only the betas share a size; with fewer writes at once buffers go round
    assert.ok(buffersSeen.size <= jobs.length);
    for (const job of jobs)
      assert.ok(written.get(join(dir, 'staged', job.name))?.equals(Buffer.from(job.encode())), `${job.name} bytes`);
  } finally {
    cleanup();
  }
});
