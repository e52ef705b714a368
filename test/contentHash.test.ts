/**
 * vbm's content hash (node/contentHash.ts: XXH3-128 of the XXH3-64 of each 64 KiB piece) against its
 * definition computed with an independent implementation (hash-wasm, one piece at a time) and against
 * published XXH3 values, fed in uneven updates that straddle pieces; and the check of a file against
 * digests recorded by an earlier vbm (whole-file XXH3-64, SHA-256).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIECE_BYTES, contentHash, fileContentHash, fileHasDigest, hashLike } from '../src/node/contentHash.js';
import { Rng } from '../src/random.js';
import { tempDir } from './helpers.js';
import { pieceHashReference, xxh128Reference, xxh3Reference } from './support/xxh3.js';

const P = 65_536;

function randomBytes(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(rng.uniform() * 256);
  return bytes;
}

test('pieces are 64 KiB', () => assert.equal(PIECE_BYTES, P));

test('no bytes: no pieces, so the digest is XXH3-128 of nothing, the published 99aa06d3014798d86001c324468d497f', () => {
  assert.equal(contentHash().digest(), '99aa06d3014798d86001c324468d497f');
});

test('"abc": one piece; XXH3-64("abc") is the published 78af5f94892f3950, its 8 bytes little-endian hashed', () => {
  assert.equal(xxh3Reference(new TextEncoder().encode('abc')), '78af5f94892f3950');
  const h = contentHash();
  h.update(new TextEncoder().encode('abc'));
  assert.equal(h.digest(), xxh128Reference(Uint8Array.from([0x50, 0x39, 0x2f, 0x89, 0x94, 0x5f, 0xaf, 0x78])));
});

test('the digest equals the pieces hashed one by one (hash-wasm), for updates of any size straddling pieces', () => {
  // sizes: under, at and over a piece and a multiple of pieces; XXH3's length classes within a piece
  const sizes = [1, 3, 17, 129, 241, 1025, P - 1, P, P + 1, 2 * P, 3 * P - 7, 5 * P + 123, 1_000_003];
  // update sizes: one byte at a time is too slow for the big ones; growing, a piece, and uneven
  const schedules: ((k: number) => number)[] = [(k) => 3 ** k + k, () => P, () => P - 3, () => 2 * P + 5, () => 1e9];
  for (const n of sizes) {
    const bytes = randomBytes(n, n);
    const want = pieceHashReference(bytes);
    assert.equal(want.length, 32);
    for (const [si, size] of schedules.entries()) {
      const h = contentHash();
      for (let at = 0, k = 0; at < n; k++) {
        const take = Math.max(1, Math.min(size(k), n - at));
        h.update(bytes.subarray(at, at + take));
        at += take;
      }
      assert.equal(h.digest(), want, `${n} bytes, schedule ${si}`);
    }
  }
});

test('the pieces matter: one byte changed in any piece, or the same bytes one longer, changes the digest', () => {
  const bytes = randomBytes(3 * P + 10, 5);
  const digest = (b: Uint8Array): string => {
    const h = contentHash();
    h.update(b);
    return h.digest();
  };
  const d0 = digest(bytes);
  for (const at of [0, P - 1, P, 2 * P + 7, 3 * P + 9]) {
    const b = bytes.slice();
    b[at] ^= 1;
    assert.notEqual(digest(b), d0, `byte ${at}`);
  }
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assert.notEqual(digest(longer), d0);
});

test('a file is checked against its digest, or a whole-file XXH3-64 or SHA-256 one recorded by an earlier vbm', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'a.bin');
    const bytes = new Uint8Array(5_000_000).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(f, bytes);
    const digest = fileContentHash(f);
    const xxh64 = xxh3Reference(bytes);
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal(digest, pieceHashReference(bytes));
    for (const d of [digest, xxh64, sha]) {
      assert.ok(fileHasDigest(f, d), `${d.length} hex digits`);
      // streamed as permute's check streams it (hashLike picks the hash by the digest's length)
      const h = hashLike(d);
      for (let at = 0; at < bytes.length; at += 777_777) h.update(bytes.subarray(at, at + 777_777));
      assert.equal(h.digest(), d);
    }
    bytes[4_999_999] ^= 1;
    writeFileSync(f, bytes);
    for (const d of [digest, xxh64, sha]) assert.ok(!fileHasDigest(f, d), `${d.length} hex digits`);
  } finally {
    cleanup();
  }
});
