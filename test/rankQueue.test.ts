/**
 * The bitset priority queue of the TFCE flood against a plain set: random pushes and pops,
 * sizes on both sides of each level's 32-fold boundary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RankQueue } from '../src/permutation/rankQueue.js';
import { Rng } from '../src/synth/random.js';

test('RankQueue pops the highest queued rank, whatever the size and the mix of pushes and pops', () => {
  const rng = new Rng(5);
  for (const n of [1, 2, 31, 32, 33, 1024, 1025, 32768, 32769, 100000]) {
    const q = new RankQueue(n);
    const held = new Set<number>();
    assert.ok(q.empty());
    for (let step = 0; step < 4 * Math.min(n, 5000); step++) {
      if (held.size < n && (held.size === 0 || rng.uniform() < 0.55)) {
        let r = Math.floor(rng.uniform() * n);
        while (held.has(r)) r = (r + 1) % n;
        q.push(r);
        held.add(r);
      } else {
        const want = Math.max(...held);
        assert.equal(q.popMax(), want, `n = ${n}`);
        held.delete(want);
      }
      assert.equal(q.empty(), held.size === 0);
    }
    while (held.size) {
      const want = Math.max(...held);
      assert.equal(q.popMax(), want);
      held.delete(want);
    }
    assert.ok(q.empty());
  }
});
