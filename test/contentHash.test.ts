/**
 * vbm's content hash (XXH3-64, node/contentHash.ts) against a published test vector and an
 * independent implementation (hash-wasm), fed in uneven pieces; and the check of a file against
 * a digest recorded by an earlier vbm (SHA-256, node:crypto).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentHash, fileContentHash, fileHasDigest } from '../src/node/contentHash.js';
import { Rng } from '../src/random.js';
import { tempDir } from './helpers.js';
import { xxh3Reference } from './support/xxh3.js';

test('XXH3-64 of no bytes is the published value 2d06800538d394c2', () => {
  assert.equal(contentHash().digest(), '2d06800538d394c2');
});

test('XXH3-64 in uneven pieces equals hash-wasm on whole buffers, for every length class of XXH3', () => {
  const rng = new Rng(7);
  // XXH3 has separate paths for 0, 1-3, 4-8, 9-16, 17-128, 129-240 bytes and longer (stripes, blocks)
  for (const n of [1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 1025, 65_537, 1_000_003]) {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = Math.floor(rng.uniform() * 256);
    const h = contentHash();
    for (let at = 0, piece = 1; at < n; at += piece, piece = piece * 3 + 1) h.update(bytes.subarray(at, at + piece));
    assert.equal(h.digest(), xxh3Reference(bytes), `${n} bytes`);
  }
});

test('a file is checked against an XXH3-64 digest, or a SHA-256 one recorded by an earlier vbm', () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'a.bin');
    const bytes = new Uint8Array(5_000_000).map((_, i) => (i * 2654435761) >>> 24);
    writeFileSync(f, bytes);
    const xxh = fileContentHash(f);
    const sha = createHash('sha256').update(bytes).digest('hex');
    assert.equal(xxh, xxh3Reference(bytes));
    assert.ok(fileHasDigest(f, xxh));
    assert.ok(fileHasDigest(f, sha));
    bytes[4_999_999] ^= 1;
    writeFileSync(f, bytes);
    assert.ok(!fileHasDigest(f, xxh));
    assert.ok(!fileHasDigest(f, sha));
  } finally {
    cleanup();
  }
});
