/**
 * The uncorrected tail's kept values merged by the computing threads (tailMerge.ts) and kept when
 * the data are streamed from a scratch file: the ranges' merge equals one reservoir fed every value
 * (brute force), merging a rearrangement twice changes nothing, and a streamed run, threads, and a
 * run interrupted and resumed from its checkpoint give the in-memory run's p-values bit for bit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, readFileSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fewBlocksBudget } from './support/budgets.js';
import { fitAgeModel, smallStudy, writeStudy } from './support/study.js';
import { distributedPermute, planPermutationJob } from '../src/backend/permuteTasks.js';
import { permutationFileNames, runPermute } from '../src/pipeline/permute.js';
import { join } from 'node:path';
import { tempDir } from './helpers.js';
import { wholeBox } from './support/box.js';
import { type PermutationInput, type PermutationResult, permutationTest } from '../src/permutation/permute.js';
import { evenRanges, mergeAllRanges, mergeRange, sharedTails, withAllRanges } from '../src/permutation/tailMerge.js';
import { type MemoryNeeds, inMemoryBytes, planVoxelBlocks } from '../src/permutation/voxelBlocks.js';
import { TAIL_KEEP, mergeTop, topValues } from '../src/permutation/voxelTail.js';
import { Rng } from '../src/synth/random.js';
import { gaussianSmooth } from '../src/synth/smooth.js';
import { VbmError } from '../src/errors.js';

/** Voxel v's kept values, sorted (the multiset the tail fit reads). */
const kept = (h: Float32Array, keep: number, v: number): number[] =>
  Array.from(h.subarray(v * keep, (v + 1) * keep)).sort((a, b) => a - b);

test('kept values merged by ranges, in any order and twice over, equal one reservoir fed every value (brute force)', () => {
  const rng = new Rng(3);
  const V = 37;
  const N = 48;
  const keep = 10;
  // values with ties (rounded) and NaN, map-major (a kernel batch's layout)
  const all = Float32Array.from({ length: N * V }, () =>
    rng.uniform() < 0.02 ? NaN : Math.round(rng.normal() * 8) / 4,
  );
  const ref = topValues(V, keep);
  // the reference: one reservoir fed the values voxel by voxel, as mergeTop does (voxel-major)
  const voxelMajor = new Float32Array(V * N);
  for (let k = 0; k < N; k++) for (let v = 0; v < V; v++) voxelMajor[v * N + k] = all[k * V + v];
  mergeTop(ref, { keep: N, values: voxelMajor });
  for (const starts of [evenRanges(V), evenRanges(V, 1), [0, 5, 6, 30]]) {
    const t = sharedTails(V, N, keep, false, starts);
    // batches of 8 rearrangements in a shuffled order, each from a different first range
    const order = [3, 0, 5, 1, 4, 2];
    for (const [i, j] of order.entries())
      mergeAllRanges(t, 'stat', j * 8, 8, { vals: all, base: j * 8 * V, vs: 1, ks: V }, i);
    // merged again (a resumed run computing a rearrangement once more): nothing changes
    const before = Float32Array.from(t.stat);
    mergeAllRanges(t, 'stat', 8, 16, { vals: all, base: 8 * V, vs: 1, ks: V });
    mergeRange(t, 'stat', starts.length - 1, 40, 8, { vals: all, base: 40 * V, vs: 1, ks: V });
    assert.deepEqual(Array.from(t.stat), Array.from(before));
    for (let v = 0; v < V; v++) assert.deepEqual(kept(t.stat, keep, v), kept(ref.values, keep, v), `voxel ${v}`);
    assert.ok(t.mergedStat.every((f) => f === 1));
    // every lock is free again, and can all be held at once
    assert.equal(
      withAllRanges(t, () => Array.from(t.locks).every((l) => l === 1)),
      true,
    );
    assert.ok(Array.from(t.locks).every((l) => l === 0));
  }
});

const dims: [number, number, number] = [20, 20, 20];
const V = dims[0] * dims[1] * dims[2];
/** Many scans, so that the data (n x V floats) outweigh the kept values (V x 100 floats per map) four times over. */
const n = 1700;

/** A study with a planted effect of x on one side of the box. */
function study(): PermutationInput {
  const rng = new Rng(21);
  const X = Array.from({ length: n }, () => [1, rng.normal()]);
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++) {
    const f = gaussianSmooth(
      Float32Array.from({ length: V }, () => rng.normal()),
      dims,
      [1, 1, 1],
    );
    for (let v = 0; v < V; v++) Y[i * V + v] = 10 + f[v] + (v % dims[0] < 5 ? 0.08 * X[i][1] : 0);
  }
  return { X, weights: [[0, 1]], type: 'T', contrast: { index: 1, name: 'x' }, Y, ...wholeBox(dims, 2) };
}

/** A budget under which the data are streamed in several blocks and the kept values (a quarter of it at most) still fit. */
function streamingBudget(m: MemoryNeeds): number {
  const tail = V * TAIL_KEEP * 4 * (m.tfce ? 2 : 1);
  for (let b = inMemoryBytes(m); b >= 4 * tail; b = Math.floor(b * 0.97)) {
    try {
      const p = planVoxelBlocks(m, b - tail);
      if (planVoxelBlocks(m, b) && p && p.blocks.length >= 2) return b;
    } catch (e) {
      if (!(e instanceof VbmError)) throw e;
    }
  }
  throw new Error('no budget streams the data with room for the kept values');
}

function sameP(a: PermutationResult, b: PermutationResult, what: string): void {
  for (const k of ['pUnc', 'tfcePUnc', 'pFwe', 'tfcePFwe'] as const) {
    const x = a[k];
    const y = b[k];
    assert.equal(!x, !y, `${what}: ${k} in one only`);
    if (!x || !y) continue;
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i])) assert.fail(`${what}: ${k}[${i}] ${x[i]} vs ${y[i]}`);
  }
}

test('--accel tail with the data streamed from a scratch file, on threads, and resumed from a checkpoint: the in-memory p-values, bit for bit', async () => {
  const input = study();
  const { dir, cleanup } = tempDir('vbm-tail-stream-');
  try {
    const base = { permutations: 208, seed: 4, tfce: true, accel: { tail: true } };
    const ref = await permutationTest(input, { ...base, workers: 0 });
    const u = ref.accel?.uncorrected;
    assert.ok(u?.stat && u.stat.fitted > 0 && u.tfce && u.tfce.fitted > 0, 'voxels of both maps were fitted');
    for (const workers of [0, 2]) {
      const what = `streamed, ${workers} worker threads`;
      const budget = streamingBudget({ n, V, rows: 2, threads: Math.max(1, workers), tfce: true, cluster: false });
      const notes: string[] = [];
      const streamed = await permutationTest(input, {
        ...base,
        workers,
        memory: budget,
        scratch: join(dir, 'perm'),
        onNote: (s) => notes.push(s),
      });
      assert.ok(
        notes.some((s) => /streamed from a scratch file .* in [2-9]\d* voxel blocks/.test(s)),
        notes.join(' | '),
      );
      assert.ok(!notes.some((s) => /uncorrected p-values are counted/.test(s)), notes.join(' | '));
      assert.equal(streamed.accel?.note, ref.accel?.note);
      sameP(ref, streamed, what);
      assert.deepEqual(readdirSync(dir), [], `${what}: the scratch file is removed`);
    }
    // in memory on two threads (each merges its blocks as it computes them)
    sameP(ref, await permutationTest(input, { ...base, workers: 2 }), 'in memory, 2 threads');
    // a checkpoint written while the other thread's block is under way (its values merged, its counts
    // not yet back), kept as a killed process would leave it, then resumed: nothing is merged twice
    const checkpoint = join(dir, 'ck');
    const kept = (i: number): string => join(dir, `kept${i}`);
    const points = [3, 4, 5, 6];
    const ac = new AbortController();
    let seen = 0;
    await assert.rejects(
      permutationTest(input, {
        ...base,
        workers: 2,
        checkpoint,
        checkpointEvery: 0,
        signal: ac.signal,
        onProgress: () => {
          seen++;
          if (points.includes(seen))
            for (const x of ['json', 'bin']) copyFileSync(`${checkpoint}.${x}`, `${kept(seen)}.${x}`);
          if (seen === 7) ac.abort();
        },
      }),
      (e: unknown) => e instanceof VbmError && /interrupted after \d+ of 208/.test(e.message),
    );
    // (onProgress comes before the checkpoint, the first with 0 done; several such checkpoints: whether the other thread had merged its values is a matter of timing)
    for (const i of points) {
      for (const x of ['json', 'bin']) copyFileSync(`${kept(i)}.${x}`, `${checkpoint}.${x}`);
      const notes: string[] = [];
      const resumed = await permutationTest(input, { ...base, workers: 2, checkpoint, onNote: (s) => notes.push(s) });
      assert.ok(resumed.resumedFrom > 0, notes.join(' | '));
      sameP(ref, resumed, `resumed from the checkpoint after block ${i - 2}`);
    }
  } finally {
    cleanup();
  }
});

test("--backend local, data over a task's --memory (a shared scratch file, max-T split by voxel blocks), --accel tail: the one-process run's files", async () => {
  const { dir, cleanup } = tempDir('vbm-tail-tasks-');
  try {
    // enough scans that the data outweigh the kept values four times over (a task keeps them within its budget)
    const { design } = writeStudy(dir, smallStudy({ n: 600, seed: 9, perSd: 0.05 }));
    const res = join(dir, 'res');
    await fitAgeModel(dir, design, res);
    const req = { contrast: 1, permutations: 208, seed: 4, accel: { tail: true } };
    const plain = join(dir, 'plain');
    cpSync(res, plain, { recursive: true });
    const ref = await runPermute(plain, { ...req, workers: 0 });
    assert.ok(ref.result.accel?.uncorrected?.stat?.fitted, 'voxels were fitted in one process');
    const Vm = ref.result.voxels.length;
    const tail = Vm * TAIL_KEEP * 4;
    // the largest budget with several voxel blocks whose kept values are at most a quarter of it
    const memory = fewBlocksBudget({ n: 600, V: Vm, rows: 3, threads: 1, tfce: false, cluster: false }, 4 * tail);
    assert.ok(memory > 0, 'a budget streams the data and leaves room for the kept values');
    const cores = availableParallelism();
    const probe = planPermutationJob(res, { ...req, memory }, cores, { type: 'local', jobs: cores });
    assert.ok(probe.scratch, 'the data exceed the task budget: a shared scratch file');
    const nb = probe.scratch.task.work.plan.blocks.length;
    const settings = { type: 'local' as const, jobs: Math.max(2 * nb, cores) };
    const dist = join(dir, 'tasks');
    cpSync(res, dist, { recursive: true });
    await distributedPermute(dist, { ...req, memory }, settings);
    const { tasks } = planPermutationJob(dist, { ...req, memory }, settings.jobs, settings);
    assert.ok(new Set(tasks.map((t) => t.work.shared!.v0)).size >= 2, 'tasks own voxel ranges');
    for (const f of ref.files)
      assert.ok(readFileSync(join(dist, f)).equals(readFileSync(join(plain, f))), `${f} differs`);
    const json = JSON.parse(readFileSync(join(dist, permutationFileNames(1).summary), 'utf8')) as {
      accel: { note: string };
    };
    assert.match(json.accel.note, /uncorrected p-values of voxels that fewer than 25/);
  } finally {
    cleanup();
  }
});
