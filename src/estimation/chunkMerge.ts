/**
 * The fit's chunk sums added in chunk order by the worker threads themselves, into totals that all
 * threads share (SharedArrayBuffers). The thread that summed chunk k of a group waits until chunks
 * 0..k-1 of that group are in its total, adds its own (chunk 0 is copied), and says so: the
 * additions happen in the same order and with the same operations as when the calling thread added
 * the chunks one by one (fitChunks.ts), so the totals are the same bytes for any number of threads;
 * but the chunk's sums never leave the thread that made them (no copy out of the kernel's memory,
 * no transfer, no merge on the calling thread while the workers wait for it).
 */
import { invariant } from '../errors.js';
import { type FitLayout, type FitSums, RYY_TERMS } from './accumulate.js';

/** The totals of each group and, per group, how many of its chunks are in them (Int32 on shared memory). */
export interface MergeOrder {
  totals: FitSums[];
  merged: Int32Array;
}

/** A zeroed set of sums for `layout` on one SharedArrayBuffer (every thread sees the same bytes). */
export function createSharedSums(layout: FitLayout): FitSums {
  const n = layout.cand.length;
  const p = layout.p;
  const nR = layout.smoothness ? n * RYY_TERMS : 0;
  const nRX = layout.smoothness ? n * p : 0;
  const f64 = n + n * p + nR + nRX;
  // float64 arrays first (8-byte aligned), then float32, then bytes
  const sab = new SharedArrayBuffer(8 * f64 + 8 * n + n);
  let at = 0;
  const d = (len: number): Float64Array => {
    const a = new Float64Array(sab, at, len);
    at += 8 * len;
    return a;
  };
  const yy = d(n);
  const xty = d(n * p);
  const ryy = d(nR);
  const rxty = d(nRX);
  const vmin = new Float32Array(sab, at, n);
  at += 4 * n;
  const vmax = new Float32Array(sab, at, n);
  at += 4 * n;
  const ok = new Uint8Array(sab, at, n);
  return { nCand: n, p, ok, vmin, vmax, yy, xty, ryy, rxty };
}

/** Shared totals for `groups` groups of chunks, none merged yet. */
export function createMergeOrder(layouts: FitLayout[]): MergeOrder {
  return {
    totals: layouts.map(createSharedSums),
    merged: new Int32Array(new SharedArrayBuffer(4 * Math.max(1, layouts.length))),
  };
}

/** How long one wait lasts before the count is looked at again (a lost wake-up costs at most this). */
const WAIT_MS = 200;

/**
 * Add chunk `k` of group `g` to the group's total once chunks 0..k-1 are in: `merge(total, first)`
 * does the adding (`first`: chunk 0, whose sums are copied). Blocks the calling thread while it
 * waits for its turn (a worker thread; the chunk before is being summed by another thread).
 */
export function mergeInTurn(
  order: MergeOrder,
  g: number,
  k: number,
  merge: (total: FitSums, first: boolean) => void,
): void {
  const total = order.totals[g];
  invariant(total !== undefined && g < order.merged.length, 'a chunk of a known group');
  for (;;) {
    const done = Atomics.load(order.merged, g);
    if (done === k) break;
    invariant(done < k, 'chunks of a group are merged once each, in order');
    Atomics.wait(order.merged, g, done, WAIT_MS);
  }
  merge(total, k === 0);
  Atomics.store(order.merged, g, k + 1);
  Atomics.notify(order.merged, g);
}

/** Copy `from` into `into` (arrays of the same sizes): the first chunk's sums become the total. */
export function copySums(into: FitSums, from: FitSums): void {
  invariant(into.nCand === from.nCand && into.xty.length === from.xty.length, 'sums of the same layout');
  into.ok.set(from.ok);
  into.vmin.set(from.vmin);
  into.vmax.set(from.vmax);
  into.yy.set(from.yy);
  into.xty.set(from.xty);
  into.ryy.set(from.ryy);
  into.rxty.set(from.rxty);
}
