/**
 * XXH3-64 (seed 0) by hash-wasm, an implementation independent of the one vbm uses
 * (@node-rs/xxhash, Rust): what the tests compare vbm's recorded content hashes with.
 */
import { createXXHash3 } from 'hash-wasm';

const hasher = await createXXHash3();

/** XXH3-64 of the bytes, as 16 lowercase hex digits. */
export function xxh3Reference(bytes: Uint8Array): string {
  hasher.init();
  hasher.update(bytes);
  return hasher.digest('hex');
}
