/**
 * The uncorrected tail's kept values (voxelTail.ts) merged by the threads that compute the
 * rearrangements, not by the coordinating thread: the voxels' heaps are in shared memory, cut into
 * voxel ranges (the in-memory test: TAIL_RANGES even ranges; data streamed from a scratch file: its
 * voxel blocks), each with a lock. A thread merges a batch of rearrangements into a range while
 * holding its lock. The top values of a union are the same whatever order its parts come in, so the
 * p-values are those of one thread merging every block (the heaps' layout may differ, their
 * contents do not).
 *
 * Checkpoints: a flag per (rearrangement, range) and map says the rearrangement's values are in
 * that range's heaps; it is set under the same lock as the merge, and the coordinating thread holds
 * every lock while it copies the heaps and flags. A rearrangement computed again after a resume (its
 * counts and maxima were not saved) is then not merged twice into a range that already holds it.
 * Pure: typed arrays and Atomics.
 */
import { offerMany } from './voxelTail.js';

/** Even voxel ranges of the in-memory test: enough that two threads rarely wait for one lock. */
export const TAIL_RANGES = 16;

export interface SharedTails {
  keep: number;
  /** The voxels' heaps (voxelTail.ts's TopValues layout), in shared memory. */
  stat: Float32Array;
  tfce: Float32Array | null;
  /** First voxel of each range, and V at the end (ranges + 1 entries). */
  starts: Int32Array;
  /** One lock per range (0 free, 1 held). */
  locks: Int32Array;
  /** Rearrangement i's values are in range r's heaps: merged[i * ranges + r] (one array per map). */
  mergedStat: Uint8Array;
  mergedTfce: Uint8Array | null;
}

const sharedArray = <T>(make: new (b: SharedArrayBuffer) => T, bytes: number): T =>
  new make(new SharedArrayBuffer(Math.max(8, Math.ceil(bytes / 8) * 8)));

/** Empty heaps for V voxels and `rearrangements` flags per range, the ranges starting at `starts` (ascending, from 0). */
export function sharedTails(
  V: number,
  rearrangements: number,
  keep: number,
  tfce: boolean,
  starts: readonly number[],
): SharedTails {
  const R = starts.length;
  if (R < 1 || starts[0] !== 0) throw new Error('sharedTails: the ranges start at voxel 0');
  const heap = (): Float32Array => {
    const h = new Float32Array(new SharedArrayBuffer(Math.max(8, V * keep * 4)), 0, V * keep);
    return h.fill(-Infinity);
  };
  const flags = (): Uint8Array =>
    new Uint8Array(new SharedArrayBuffer(Math.max(8, rearrangements * R)), 0, rearrangements * R);
  const s = sharedArray(Int32Array, (R + 1) * 4).subarray(0, R + 1);
  s.set(starts);
  s[R] = V;
  return {
    keep,
    stat: heap(),
    tfce: tfce ? heap() : null,
    starts: s,
    locks: sharedArray(Int32Array, R * 4).subarray(0, R),
    mergedStat: flags(),
    mergedTfce: tfce ? flags() : null,
  };
}

/** Evenly cut voxel ranges (their starts) for V voxels. */
export function evenRanges(V: number, ranges = TAIL_RANGES): number[] {
  const R = Math.max(1, Math.min(ranges, V));
  return Array.from({ length: R }, (_, r) => Math.floor((r * V) / R));
}

function lock(locks: Int32Array, r: number): void {
  while (Atomics.compareExchange(locks, r, 0, 1) !== 0) Atomics.wait(locks, r, 1, 1);
}

function unlock(locks: Int32Array, r: number): void {
  Atomics.store(locks, r, 0);
  Atomics.notify(locks, r);
}

/** Run `f` with every range locked (the coordinating thread's checkpoint: a consistent copy). */
export function withAllRanges<T>(t: SharedTails | null, f: () => T): T {
  if (!t) return f();
  const R = t.locks.length;
  for (let r = 0; r < R; r++) lock(t.locks, r);
  try {
    return f();
  } finally {
    for (let r = R - 1; r >= 0; r--) unlock(t.locks, r);
  }
}

/** Where a batch's values are: voxel v's value of its k-th rearrangement is vals[base + v * vs + k * ks]. */
export interface BatchValues {
  vals: Float32Array;
  base: number;
  vs: number;
  ks: number;
}

/**
 * Merge rearrangements [first, first + count) of range r (values of every voxel of the range in
 * `b`) into the map's heaps, skipping the rearrangements already merged there.
 */
export function mergeRange(
  t: SharedTails,
  map: 'stat' | 'tfce',
  r: number,
  first: number,
  count: number,
  b: BatchValues,
): void {
  const heap = map === 'stat' ? t.stat : t.tfce;
  const merged = map === 'stat' ? t.mergedStat : t.mergedTfce;
  if (!heap || !merged) return;
  const R = t.locks.length;
  const v0 = t.starts[r] ?? 0;
  const v1 = t.starts[r + 1] ?? 0;
  const keep = t.keep;
  const { vals, base, vs, ks } = b;
  lock(t.locks, r);
  try {
    const todo: number[] = [];
    for (let k = 0; k < count; k++) if (!merged[(first + k) * R + r]) todo.push(k);
    if (!todo.length) return;
    const off = Int32Array.from(todo, (k) => k * ks);
    for (let v = v0; v < v1; v++) offerMany(heap, v * keep, keep, vals, base + v * vs, off, off.length);
    for (const k of todo) merged[(first + k) * R + r] = 1;
  } finally {
    unlock(t.locks, r);
  }
}

/** Merge a batch holding every voxel into all ranges, starting at range `from` (threads start apart). */
export function mergeAllRanges(
  t: SharedTails,
  map: 'stat' | 'tfce',
  first: number,
  count: number,
  b: BatchValues,
  from = 0,
): void {
  const R = t.locks.length;
  for (let i = 0; i < R; i++) mergeRange(t, map, (from + i) % R, first, count, b);
}

/** The range that starts at voxel v0 (a voxel block of the streamed test). */
export function rangeAt(t: SharedTails, v0: number): number {
  const R = t.locks.length;
  for (let r = 0; r < R; r++) if (t.starts[r] === v0) return r;
  throw new Error(`tailMerge: no voxel range starts at ${v0}`);
}
