/**
 * The one worker pool (src/node/threadPool.ts) and what runs on it: results are the closed form
 * of each item, delivered in item order when asked with at most `width` items outstanding, stop
 * ends a batch early, failures keep their kind (VbmError with hint, bug with stack, a thread that
 * ends itself); and the permutation test gives the same bytes for 0, 1, 2 and 3 worker threads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ThreadPool } from '../src/node/threadPool.js';
import { VbmError } from '../src/errors.js';
import { permutationTest } from '../src/permutation/permute.js';
import type { PermutationResult } from '../src/permutation/types.js';
import { Rng } from '../src/random.js';
import type { PoolShared } from './support/poolWork.js';
import { wholeBox } from './support/box.js';

const MODULE = new URL('./support/poolWork.js', import.meta.url).href;
type Out = { value: number; thread: number };

test('thread pool: ordered delivery is item order, with at most width items outstanding; values are i*i + offset', async () => {
  for (const width of [1, 2, 3]) {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const got: number[] = [];
    const threads = new Set<number>();
    let started = -1;
    let outstanding = 0;
    await new ThreadPool(width).run<PoolShared, number, Out, number>({
      module: MODULE,
      shared: { offset: 5 },
      items,
      ordered: true,
      onNote: (i) => {
        started = Math.max(started, i);
        outstanding = Math.max(outstanding, started + 1 - got.length);
      },
      onResult: (r, i) => {
        assert.equal(r.value, i * i + 5);
        threads.add(r.thread);
        got.push(i);
      },
    });
    assert.deepEqual(got, items, `width ${width}: every item once, in order`);
    assert.ok(outstanding <= width, `width ${width}: ${outstanding} items were outstanding`);
    assert.ok(
      [...threads].every((t) => t >= 1 && t <= width),
      `threads ${[...threads].join(',')}`,
    );
  }
});

test('thread pool: stop ends a batch early; items handed out are delivered once each', async () => {
  const seen = new Map<number, number>();
  let asked = 0;
  await new ThreadPool(2).run<PoolShared, number, Out, number>({
    module: MODULE,
    shared: { offset: 0 },
    items: Array.from({ length: 50 }, (_, i) => i),
    stop: () => {
      asked++;
      return seen.size >= 6;
    },
    onResult: (r, i) => {
      assert.equal(r.value, i * i);
      seen.set(i, (seen.get(i) ?? 0) + 1);
    },
  });
  assert.ok(seen.size >= 6 && seen.size <= 8, `${seen.size} items ran (6 before stopping, at most 2 in flight)`);
  assert.ok([...seen.values()].every((c) => c === 1));
  assert.ok(asked >= 7, 'stop was asked before each item handed out');
});

test('thread pool: a VbmError keeps its message and hint, a bug its stack, and a thread that ends itself fails the batch', async () => {
  const run = (how: 'user' | 'bug' | 'exit'): Promise<void> =>
    new ThreadPool(2).run<PoolShared, number, Out, number>({
      module: MODULE,
      shared: { offset: 0, failAt: { item: 3, how } },
      items: [0, 1, 2, 3, 4, 5],
      onResult: () => {},
      label: 'test worker',
    });
  await assert.rejects(
    run('user'),
    (e: unknown) =>
      e instanceof VbmError && e.message === 'scan 3 is not a NIfTI file' && e.hint === 'convert it first',
  );
  await assert.rejects(
    run('bug'),
    (e: unknown) =>
      !(e instanceof VbmError) &&
      /^test worker failed: cannot read property of item 3\n/.test((e as Error).message) &&
      /poolWork\.js/.test((e as Error).message),
  );
  await assert.rejects(run('exit'), /test worker \d exited \(code 7\) before its work was done/);
});

function study(seed: number): { X: number[][]; Y: Float32Array; dims: [number, number, number] } {
  const rng = new Rng(seed);
  const n = 18;
  const dims: [number, number, number] = [9, 8, 7];
  const V = dims[0] * dims[1] * dims[2];
  const X = Array.from({ length: n }, () => [1, rng.normal(), rng.normal()]);
  const Y = new Float32Array(n * V);
  for (let i = 0; i < n; i++)
    for (let v = 0; v < V; v++) {
      const x = v % dims[0];
      Y[i * V + v] = (x > 2 && x < 6 ? 0.9 * X[i][1] : 0) + rng.normal();
    }
  return { X, Y, dims };
}

const bytes = (a: ArrayBufferView | null): string =>
  a ? Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex') : 'null';

function fingerprint(r: PermutationResult): string[] {
  return [
    bytes(r.stat),
    bytes(r.maxima.stat),
    bytes(r.maxima.tfce),
    bytes(r.maxima.extent),
    bytes(r.maxima.mass),
    bytes(r.pUnc),
    bytes(r.pFwe),
    bytes(r.tfceMap),
    bytes(r.tfcePUnc),
    bytes(r.tfcePFwe),
    JSON.stringify(r.clusters && { ...r.clusters, label: bytes(r.clusters.label) }),
  ];
}

test('permutation test: the same bytes for 0, 1, 2 and 3 worker threads (max-T, TFCE, clusters; wasm and js kernels)', async () => {
  const { X, Y, dims } = study(3);
  for (const kernel of ['wasm', 'js'] as const) {
    let ref: string[] | undefined;
    for (const workers of [0, 1, 2, 3]) {
      const r = await permutationTest(
        {
          X,
          weights: [[0, 1, 0]],
          type: 'T',
          contrast: { index: 1, name: 'x1' },
          Y,
          ...wholeBox(dims, 2),
        },
        // 150 rearrangements: 10 blocks, some of them run by each thread
        { permutations: 150, seed: 9, workers, kernel, tfce: true, clusterThreshold: 0.01 },
      );
      assert.equal(r.permutations, 150);
      assert.ok(r.clusters && r.clusters.extent.length > 0, 'the planted effect forms a cluster');
      const f = fingerprint(r);
      if (!ref) ref = f;
      else assert.deepEqual(f, ref, `${kernel} kernel, ${workers} workers differ from 0 workers`);
    }
  }
});
