/**
 * A max-priority queue of distinct integer ranks 0..n-1 as a tree of 32-bit bitsets: level 0 has a
 * bit per rank, each higher level a bit per nonzero word of the level below, and the top level one
 * word. Push sets at most one bit per level, taking the highest is one count-leading-zeros per
 * level (5 levels cover 33 million ranks), and the whole queue is n/8 bytes: for the ~600k voxels
 * of a brain it stays in the first-level cache, where a binary heap would chase its entries.
 */
export class RankQueue {
  private readonly bits: Int32Array;
  /** Start of each level's words in `bits`, level 0 first. */
  private readonly base: Int32Array;
  private readonly top: number;

  constructor(readonly n: number) {
    const sizes: number[] = [];
    let words = Math.max(1, Math.ceil(n / 32));
    for (;;) {
      sizes.push(words);
      if (words === 1) break;
      words = Math.ceil(words / 32);
    }
    this.base = new Int32Array(sizes.length);
    let at = 0;
    sizes.forEach((s, l) => {
      this.base[l] = at;
      at += s;
    });
    this.bits = new Int32Array(at);
    this.top = (this.base[sizes.length - 1] ?? 0) | 0;
  }

  /** Whether no rank is queued. */
  empty(): boolean {
    return this.bits[this.top] === 0;
  }

  /** Queue rank r (0 <= r < n, not already queued). */
  push(r: number): void {
    const { bits, base } = this;
    let i = r;
    for (let l = 0; l < base.length; l++) {
      const at = (base[l] ?? 0) + (i >>> 5);
      const w = bits[at] ?? 0;
      bits[at] = w | (1 << (i & 31));
      if (w !== 0) return; // the levels above already have this word's bit
      i >>>= 5;
    }
  }

  /** Take the highest queued rank out (the queue must not be empty). */
  popMax(): number {
    const { bits, base } = this;
    let i = 0;
    for (let l = base.length - 1; l >= 0; l--) i = (i << 5) | (31 - Math.clz32(bits[(base[l] ?? 0) + i] ?? 0));
    const r = i;
    for (let l = 0; l < base.length; l++) {
      const at = (base[l] ?? 0) + (i >>> 5);
      const w = (bits[at] ?? 0) & ~(1 << (i & 31));
      bits[at] = w;
      if (w !== 0) break; // this word still has ranks: the levels above keep their bit
      i >>>= 5;
    }
    return r;
  }
}
