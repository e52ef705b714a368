/**
 * A stage's outputs are hashed from the bytes written (StagedFiles with `hashes`), not read back:
 * the remembered hash must be the file's content hash (piecewise XXH3, compared with hash-wasm's,
 * an independent implementation), and a file changed after it was written (another size, or the same size with
 * another mtime) must be read and hashed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StagedFiles } from '../src/node/atomic.js';
import { writtenFileContentHash } from '../src/node/contentHash.js';
import { tempDir } from './helpers.js';
import { pieceHashReference } from './support/xxh3.js';

test('hashes of staged outputs are remembered at commit and checked against the file before use', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bin = join(dir, 'a.nii');
    const txt = join(dir, 'b.json');
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) & 255);
    for (const background of [false, true]) {
      const staged = new StagedFiles({ background, hashes: true });
      staged.write(bin, bytes);
      staged.write(txt, '{"x": "é"}\n');
      await staged.flushed();
      staged.commit();
      assert.equal(writtenFileContentHash(bin), pieceHashReference(readFileSync(bin)));
      assert.equal(writtenFileContentHash(txt), pieceHashReference(readFileSync(txt)));
    }
    // changed after it was written: another size
    let staged = new StagedFiles({ hashes: true });
    staged.write(bin, bytes);
    staged.commit();
    writeFileSync(bin, bytes.subarray(1));
    assert.equal(writtenFileContentHash(bin), pieceHashReference(bytes.subarray(1)));
    // the same size, another mtime
    staged = new StagedFiles({ hashes: true });
    staged.write(bin, bytes);
    staged.commit();
    const other = bytes.map((b) => b ^ 1);
    writeFileSync(bin, other);
    utimesSync(bin, new Date(2001, 1, 1), new Date(2001, 1, 1));
    assert.equal(writtenFileContentHash(bin), pieceHashReference(other));
  } finally {
    cleanup();
  }
});
