/**
 * XXH3-64 and XXH3-128 (seed 0) by hash-wasm, an implementation independent of the one vbm uses
 * (@node-rs/xxhash, Rust; libxxhash in the addon): what the tests compare vbm's recorded content
 * hashes with. `pieceHashReference` is vbm's content hash written out from its definition
 * (node/contentHash.ts), one 64 KiB piece at a time.
 */
import { createXXHash128, createXXHash3 } from 'hash-wasm';

const hasher = await createXXHash3();
const hasher128 = await createXXHash128();

/** XXH3-64 of the bytes, as 16 lowercase hex digits (the whole-file content hash of earlier vbm). */
export function xxh3Reference(bytes: Uint8Array): string {
  hasher.init();
  hasher.update(bytes);
  return hasher.digest('hex');
}

/** XXH3-128 of the bytes, as 32 lowercase hex digits. */
export function xxh128Reference(bytes: Uint8Array): string {
  hasher128.init();
  hasher128.update(bytes);
  return hasher128.digest('hex');
}

/**
 * vbm's content hash by its definition: XXH3-128 of the XXH3-64 of each 65,536-byte piece at offsets
 * k * 65,536 (the last shorter, none for no bytes), written as little-endian 64-bit words in order.
 */
export function pieceHashReference(bytes: Uint8Array): string {
  const piece = 65_536;
  const n = Math.ceil(bytes.length / piece);
  const words = new Uint8Array(8 * n);
  for (let k = 0; k < n; k++) {
    const hex = xxh3Reference(bytes.subarray(k * piece, (k + 1) * piece));
    // the hex digits are big-endian: byte j of the little-endian word is hex pair 7 - j
    for (let j = 0; j < 8; j++) words[8 * k + j] = parseInt(hex.slice(2 * (7 - j), 2 * (8 - j)), 16);
  }
  return xxh128Reference(words);
}
