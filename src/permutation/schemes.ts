/**
 * Permutation and sign-flip schemes: how many distinct rearrangements a design allows, the
 * exhaustive list when it is small, and seeded random draws otherwise. The first rearrangement
 * is always the identity (the observed data), as in FSL randomise.
 */
import gammaln from '@stdlib/math-base-special-gammaln';
import { item } from '../errors.js';
import { Rng } from '../random.js';

export type Scheme = 'permute' | 'signflip';

/** One rearrangement: the source row of each row (permutations) or the sign of each row (sign flips). */
export interface Rearrangements {
  scheme: Scheme;
  n: number;
  count: number;
  exhaustive: boolean;
  /** count x n: for 'permute' the source row index; for 'signflip' +1 or -1. */
  table: Int32Array;
}

/** Rows that are identical in the product rows give identical statistics when swapped. */
function rowClasses(rows: readonly Float64Array[], n: number): Int32Array {
  const key = new Map<string, number>();
  const cls = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = rows.map((r) => item(r, i, 'product row').toPrecision(12)).join(',');
    let c = key.get(k);
    if (c === undefined) key.set(k, (c = key.size));
    cls[i] = c;
  }
  return cls;
}

/** log of the number of distinct rearrangements. */
export function logDistinct(
  scheme: Scheme,
  rows: readonly Float64Array[],
  n: number,
  blocks?: readonly number[],
): number {
  if (scheme === 'signflip') return n * Math.LN2;
  const cls = rowClasses(rows, n);
  const byBlock = new Map<number, Map<number, number>>();
  for (let i = 0; i < n; i++) {
    const b = blocks ? item(blocks, i, 'blocks') : 0;
    const c = item(cls, i, 'row classes');
    let m = byBlock.get(b);
    if (!m) byBlock.set(b, (m = new Map<number, number>()));
    m.set(c, (m.get(c) ?? 0) + 1);
  }
  let lg = 0;
  for (const m of byBlock.values()) {
    let size = 0;
    for (const c of m.values()) {
      size += c;
      lg -= gammaln(c + 1);
    }
    lg += gammaln(size + 1);
  }
  return lg;
}

/** Next permutation of a multiset in lexicographic order (in place); false after the last. */
function nextPermutation(a: Int32Array): boolean {
  const at = (i: number): number => item(a, i, 'labels');
  let i = a.length - 2;
  while (i >= 0 && at(i) >= at(i + 1)) i--;
  if (i < 0) return false;
  let j = a.length - 1;
  while (at(j) <= at(i)) j--;
  [a[i], a[j]] = [at(j), at(i)];
  for (let l = i + 1, r = a.length - 1; l < r; l++, r--) [a[l], a[r]] = [at(r), at(l)];
  return true;
}

export interface SchemeOptions {
  scheme: Scheme;
  requested: number;
  seed: number;
  blocks?: readonly number[];
}

/**
 * The rearrangements to run: all of them when there are no more than requested (and no blocks
 * for permutations), else `requested` draws, the first being the identity.
 */
export function rearrangements(rows: readonly Float64Array[], n: number, opts: SchemeOptions): Rearrangements {
  const lg = logDistinct(opts.scheme, rows, n, opts.blocks);
  const distinct = Math.exp(lg);
  const canEnumerate = distinct <= opts.requested + 0.5 && (opts.scheme === 'signflip' || !opts.blocks);
  if (canEnumerate) {
    const count = Math.round(distinct);
    const table = new Int32Array(count * n);
    if (opts.scheme === 'signflip') {
      for (let k = 0; k < count; k++) for (let i = 0; i < n; i++) table[k * n + i] = (k >> i) & 1 ? -1 : 1;
    } else {
      // distinct arrangements of the row classes; scans of a class are taken in their order
      const cls = rowClasses(rows, n);
      const members = new Map<number, number[]>();
      for (let i = 0; i < n; i++) {
        const c = item(cls, i, 'row classes');
        const m = members.get(c) ?? [];
        m.push(i);
        members.set(c, m);
      }
      const labels = Int32Array.from([...cls].sort((a, b) => a - b));
      const identity = cls;
      let k = 0;
      const emit = (lab: Int32Array): void => {
        const next = new Map<number, number>();
        for (let i = 0; i < n; i++) {
          const c = item(lab, i, 'labels');
          const m = members.get(c)!;
          const used = next.get(c) ?? 0;
          table[k * n + i] = item(m, used, 'class members');
          next.set(c, used + 1);
        }
        k++;
      };
      emit(identity);
      do {
        if (labels.every((v, i) => v === identity[i])) continue;
        emit(labels);
      } while (nextPermutation(labels));
    }
    return { scheme: opts.scheme, n, count, exhaustive: true, table };
  }
  const count = opts.requested;
  const table = new Int32Array(count * n);
  const rng = new Rng(opts.seed);
  const perm = new Int32Array(n);
  const blockMembers = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const b = opts.blocks ? item(opts.blocks, i, 'blocks') : 0;
    const m = blockMembers.get(b) ?? [];
    m.push(i);
    blockMembers.set(b, m);
  }
  for (let k = 0; k < count; k++) {
    if (opts.scheme === 'signflip') {
      for (let i = 0; i < n; i++) table[k * n + i] = k === 0 || rng.uniform() < 0.5 ? 1 : -1;
      continue;
    }
    for (let i = 0; i < n; i++) perm[i] = i;
    if (k > 0) {
      for (const m of blockMembers.values()) {
        // Fisher-Yates within the block
        for (let a = m.length - 1; a > 0; a--) {
          const b = rng.int(a + 1);
          const ma = item(m, a, 'block members');
          const mb = item(m, b, 'block members');
          const t = item(perm, ma, 'permutation');
          perm[ma] = item(perm, mb, 'permutation');
          perm[mb] = t;
        }
      }
    }
    table.set(perm, k * n);
  }
  return { scheme: opts.scheme, n, count, exhaustive: false, table };
}
