/**
 * Content hashes of files (scans, a stage's outputs): what vbm's caches use to tell whether a
 * file is still the one a stage read or wrote. This is identity, not security, so it is XXH3
 * (64-bit, seed 0; @node-rs/xxhash: ~24 GB/s of CPU here against 1.7 GB/s for SHA-256 with the
 * CPU's SHA extensions), written as 16 lowercase hex digits. Records made before (model.json,
 * vbm-stages.json) hold SHA-256 digests (64 hex digits): `fileHasDigest` checks a file against
 * either, by the digest's length, so older analysis folders stay readable and cached.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import xxhash from '@node-rs/xxhash';

/** A streaming content hash: `update` with the bytes in order, then `digest` once. */
export interface ContentHash {
  update(bytes: Uint8Array): void;
  /** 16 hex digits (XXH3-64), or 64 for SHA-256. */
  digest(): string;
}

/** The name of the content hash vbm records, for messages and the README. */
export const CONTENT_HASH_NAME = 'XXH3-64';

/** A new XXH3-64 hash (seed 0). */
export function contentHash(): ContentHash {
  const h = xxhash.xxh3.Xxh3.withSeed();
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => h.digest().toString(16).padStart(16, '0'),
  };
}

/** SHA-256 of bytes or UTF-8 text, as 64 hex digits (stage keys are made from it). */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256, for checking a file against a digest recorded by an earlier vbm. */
function sha256Hash(): ContentHash {
  const h = createHash('sha256');
  return { update: (bytes) => void h.update(bytes), digest: () => h.digest('hex') };
}

/** The hash that made `digest` (XXH3-64: 16 hex digits; SHA-256: 64). */
export function hashLike(digest: string): ContentHash {
  return digest.length === 64 ? sha256Hash() : contentHash();
}

/** Hash a file's bytes with `h`, reading it in pieces of `buf` (default: a new 4 MiB one). */
function hashFile(path: string, h: ContentHash, buf: Uint8Array = Buffer.allocUnsafe(1 << 22)): string {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest();
}

/** SHA-256 of a file's bytes, streamed (task files name their inputs by it). */
export function fileSha256(path: string): string {
  return hashFile(path, sha256Hash());
}

/** The content hash (XXH3-64) of a file, read through `buf` when given (a caller hashing many files reuses one). */
export function fileContentHash(path: string, buf?: Uint8Array): string {
  return hashFile(path, contentHash(), buf);
}

/** Whether a file's bytes have this recorded digest (XXH3-64, or SHA-256 from an earlier vbm). */
export function fileHasDigest(path: string, digest: string): boolean {
  return hashFile(path, hashLike(digest)) === digest;
}

/** The content hash (XXH3-64) of bytes in memory. */
export function bytesContentHash(bytes: Uint8Array): string {
  const h = contentHash();
  h.update(bytes);
  return h.digest();
}

/** Hashes of files this process has just written, with each file's size, mtime and inode right after. */
const justWritten = new Map<string, { hash: string; size: number; mtimeMs: number; ino: number }>();

/** Remember the content hash of the bytes this process has just written to `path` (renamed into place). */
export function rememberWrittenHash(path: string, hash: string): void {
  const st = statSync(path);
  justWritten.set(path, { hash, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
}

/**
 * fileContentHash of a file this process has just written: the hash remembered from its bytes
 * (rememberWrittenHash) while the file's size, mtime and inode are still those it had then, else
 * the file is read and hashed. A remembered hash is used once (a stage's outputs, hashed right
 * after they are committed, are not read back).
 */
export function writtenFileContentHash(path: string): string {
  const w = justWritten.get(path);
  justWritten.delete(path);
  if (w) {
    const st = statSync(path);
    if (st.size === w.size && st.mtimeMs === w.mtimeMs && st.ino === w.ino) return w.hash;
  }
  return fileContentHash(path);
}
