/**
 * Content hashes of files (scans, a stage's outputs): what vbm's caches use to tell whether a
 * file is still the one a stage read or wrote. This is identity, not security, so it is XXH3
 * (@node-rs/xxhash: ~24 GB/s of CPU here against 1.7 GB/s for SHA-256 with the CPU's SHA extensions).
 *
 * The digest is defined over fixed pieces, so threads that each read part of a file can hash their
 * parts (the fit's voxel ranges, native/vbm_fit.c fitRange) and give the digest a single pass gives:
 * the file is cut into pieces of PIECE_BYTES (64 KiB) at offsets k * PIECE_BYTES (the last piece
 * shorter; an empty file has none); each piece has its XXH3-64 (seed 0); the digest is XXH3-128
 * (seed 0) of the pieces' digests written as little-endian 64-bit words in order, as 32 lowercase
 * hex digits. Records made before hold XXH3-64 of the whole file (16 hex digits) or SHA-256 (64):
 * `hashLike` picks the hash by the digest's length, so older analysis folders stay readable and
 * cached (a scan's recorded digest is reused while its size, mtime and inode match, pipeline/stages.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

// required, not imported: an ES import of this CommonJS package first scans its 29 kB loader for
// named exports (cjs-module-lexer), a few ms of every start
const xxhash = createRequire(import.meta.url)('@node-rs/xxhash') as typeof import('@node-rs/xxhash');

/** A streaming content hash: `update` with the bytes in order, then `digest` once. */
export interface ContentHash {
  update(bytes: Uint8Array): void;
  /** 32 hex digits (vbm's piecewise XXH3), or 16 (XXH3-64) or 64 (SHA-256) for older records. */
  digest(): string;
}

/** The name of the content hash vbm records, for messages and the README. */
export const CONTENT_HASH_NAME = 'XXH3-128 of 64 KiB XXH3-64 pieces';

/** The bytes of a piece of a file whose XXH3-64 goes into its content hash. */
export const PIECE_BYTES = 1 << 16;

/** The content hash from the pieces' digests, 8 bytes each (little-endian XXH3-64), in order. */
export function digestOfPieces(pieceDigests: Uint8Array): string {
  return xxhash.xxh3.xxh128(pieceDigests).toString(16).padStart(32, '0');
}

/** A new content hash (vbm's piecewise XXH3, see above). */
export function contentHash(): ContentHash {
  let digests = new Uint8Array(8 * 64);
  let view = new DataView(digests.buffer);
  let count = 0;
  // @node-rs/xxhash's streaming XXH3 is vectorised (~20 GB/s here), its one-shot xxh3.xxh64 is not (2 GB/s)
  const part = xxhash.xxh3.Xxh3.withSeed();
  let inPart = 0;
  const push = (d: bigint): void => {
    if (8 * count === digests.length) {
      const more = new Uint8Array(2 * digests.length);
      more.set(digests);
      digests = more;
      view = new DataView(digests.buffer);
    }
    view.setBigUint64(8 * count++, d, true);
  };
  return {
    update: (bytes) => {
      for (let at = 0; at < bytes.length;) {
        const take = Math.min(PIECE_BYTES - inPart, bytes.length - at);
        part.update(bytes.subarray(at, at + take));
        inPart += take;
        at += take;
        if (inPart === PIECE_BYTES) {
          push(part.digest());
          part.reset();
          inPart = 0;
        }
      }
    },
    digest: () => {
      if (inPart > 0) push(part.digest());
      return digestOfPieces(digests.subarray(0, 8 * count));
    },
  };
}

/** XXH3-64 of the whole file: the content hash of records made by vbm before the piecewise one. */
function wholeXxh3(): ContentHash {
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

/** The hash that made `digest` (vbm's piecewise XXH3: 32 hex digits; whole-file XXH3-64: 16; SHA-256: 64). */
export function hashLike(digest: string): ContentHash {
  return digest.length === 64 ? sha256Hash() : digest.length === 16 ? wholeXxh3() : contentHash();
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

/** The content hash of a file, read through `buf` when given (a caller hashing many files reuses one). */
export function fileContentHash(path: string, buf?: Uint8Array): string {
  return hashFile(path, contentHash(), buf);
}

/** Whether a file's bytes have this recorded digest (vbm's piecewise XXH3, or XXH3-64 or SHA-256 from an earlier vbm). */
export function fileHasDigest(path: string, digest: string): boolean {
  return hashFile(path, hashLike(digest)) === digest;
}

/** The content hash of bytes in memory. */
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
