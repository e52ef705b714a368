import { type ContentHash, contentHash } from '../contentHash.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync } from 'node:fs';
import { constants as zc, gunzipSync, inflateSync } from 'node:zlib';
import { VbmError } from '../../errors.js';
import {
  type NiftiHeader,
  NIFTI2_HEADER_BYTES,
  checkSaneSize,
  claimedBytes,
  parseHeader,
} from '../../io/nifti/header.js';
import type { AnalyzeMat } from '../../io/nifti/analyze.js';
import { readMatVariables } from '../../io/matlab.js';
import type { Volume } from '../../io/nifti/volume.js';
import {
  type NiftiFile,
  TRAILING_BYTES_ALLOWED,
  decodeVolume,
  decodeVolume64,
  isGzip,
  tooLittleData,
  tooMuchData,
} from '../../io/nifti/decode.js';

// the pure decoding lives in decode.ts; these names stay importable from here
export { type NiftiFile, TRAILING_BYTES_ALLOWED, decodeNifti, decodeVolume } from '../../io/nifti/decode.js';

/** For a path, the header file and the image file (.nii: both the same; .hdr/.img: a pair). */
export function niftiFiles(path: string): { headerPath: string; imagePath: string } {
  const m = /^(.*)\.(hdr|img)(\.gz)?$/i.exec(path);
  if (!m) return { headerPath: path, imagePath: path };
  const gz = m[3] ?? '';
  const hdrExt = m[2] === 'HDR' || m[2] === 'IMG' ? 'HDR' : 'hdr';
  const imgExt = hdrExt === 'HDR' ? 'IMG' : 'img';
  return { headerPath: `${m[1]}.${hdrExt}${gz}`, imagePath: `${m[1]}.${imgExt}${gz}` };
}

/** deflate's largest possible expansion (a run of equal bytes): about 1032 output bytes per input byte. */
const DEFLATE_MAX_RATIO = 1032;

/**
 * Check, from the file sizes alone, that the files can hold what the header claims: an
 * uncompressed image exactly (up to trailing bytes), a gzip one within deflate's largest
 * expansion. Nothing is allocated for the claimed size before this passes.
 */
export function checkClaimedSize(h: NiftiHeader): void {
  const size = statSync(h.imagePath).size;
  let gz: boolean;
  const fd = openSync(h.imagePath, 'r');
  try {
    const magic = Buffer.alloc(2);
    gz = readSync(fd, magic, 0, 2, 0) === 2 && isGzip(magic);
  } finally {
    closeSync(fd);
  }
  checkSizeAgainst(h, size, gz);
}

/** checkClaimedSize's checks, given the image file's size and whether it starts as gzip. */
function checkSizeAgainst(h: NiftiHeader, size: number, gz: boolean): void {
  const need = claimedBytes(h);
  if (!gz) {
    if (size < need) throw tooLittleData(h.imagePath, h, need, size);
    if (size > need + TRAILING_BYTES_ALLOWED) throw tooMuchData(h.imagePath, need, `${size} bytes`);
  } else if (need > size * DEFLATE_MAX_RATIO + NIFTI2_HEADER_BYTES) {
    throw tooLittleData(h.imagePath, h, need, `at most ${size * DEFLATE_MAX_RATIO} (it is ${size} bytes of gzip)`);
  }
  checkSaneSize(h, gz ? `${size} bytes of gzip` : `${size} bytes`);
}

/** Inflate a gzip stream, stopping at `limit` bytes (memory never exceeds the limit). */
function gunzipBounded(raw: Uint8Array, path: string, limit: number, need: number): Uint8Array {
  try {
    return gunzipSync(raw, { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooMuchData(path, need, `more than ${limit} bytes once decompressed`);
    throw new VbmError(
      `${path}: the gzip stream is corrupt or truncated (${(e as Error).message})`,
      'the file was damaged in copying or writing; re-create or re-copy it',
    );
  }
}

/** A file that exists and is a regular file (not a folder or a device), or a VbmError. */
function requireFile(path: string, what: string): void {
  if (!existsSync(path)) {
    throw new VbmError(
      `${what} not found: ${path}`,
      what === 'image'
        ? "check the path (relative paths are relative to the spreadsheet's folder)"
        : 'an .hdr needs its .img beside it, with the same name',
    );
  }
  if (!statSync(path).isFile())
    throw new VbmError(`${path} is not a file (a folder or a device)`, 'name an image file (.nii, .nii.gz, .hdr/.img)');
}

/** The .mat file SPM keeps beside an Analyze image (same name), when there is one. */
function analyzeSidecar(headerPath: string): AnalyzeMat | undefined {
  const base = headerPath.replace(/\.(hdr|img)(\.gz)?$/i, '');
  const upper = /\.(HDR|IMG)(\.gz)?$/.test(headerPath);
  for (const p of upper ? [`${base}.MAT`, `${base}.mat`] : [`${base}.mat`]) {
    if (!existsSync(p)) continue;
    const st = statSync(p);
    if (st.size > 1 << 20)
      throw new VbmError(
        `${p}: ${st.size} bytes is too large for SPM's orientation file beside an Analyze image`,
        'move it away, or convert the image to NIfTI',
      );
    const vars = readMatVariables(readFileSync(p), p, ['mat', 'M'], (b) =>
      inflateSync(b, { maxOutputLength: 1 << 22 }),
    );
    return { path: p, ...vars };
  }
  return undefined;
}

function readWhole(
  path: string,
  what: string,
  hash?: ContentHash,
  into?: (bytes: number) => Uint8Array | undefined,
): Uint8Array {
  if (!existsSync(path)) {
    throw new VbmError(
      `${what} not found: ${path}`,
      "check the path (relative paths are relative to the spreadsheet's folder)",
    );
  }
  let raw: Uint8Array;
  try {
    const target = into?.(statSync(path).size);
    raw = target ? readInto(path, target) : readFileSync(path);
  } catch (e) {
    throw new VbmError(`${path}: cannot read (${(e as Error).message})`);
  }
  hash?.update(raw);
  return raw;
}

/** Read only the header, decompressing no more of a .nii.gz than needed. */
export async function readHeaderOnly(path: string): Promise<NiftiHeader> {
  const { headerPath, imagePath } = niftiFiles(path);
  requireFile(headerPath, 'image');
  const bytes = await readPrefix(headerPath, NIFTI2_HEADER_BYTES);
  const h = parseHeader(bytes, headerPath, imagePath, () => analyzeSidecar(headerPath));
  requireFile(imagePath, 'image data (.img)');
  checkClaimedSize(h);
  return h;
}

/** The headers of `paths` by path, each file read once (readHeaderOnly). */
export async function readHeadersOnly(paths: Iterable<string>): Promise<Map<string, NiftiHeader>> {
  const out = new Map<string, NiftiHeader>();
  for (const p of paths) if (!out.has(p)) out.set(p, await readHeaderOnly(p));
  return out;
}

/**
 * readHeadersOnly's headers of single-file, uncompressed .nii scans, each file opened, stat'd and
 * read once (readHeaderOnly looks at a file five times: exists, stat, read, exists, stat and read
 * again). Undefined as soon as a file is anything else (missing, not a regular file, gzip, an
 * Analyze pair, a header or size that readHeaderOnly would refuse): the caller then takes
 * readHeadersOnly, whose checks and messages say what is wrong. The same headers when it gives them.
 */
export function readPlainHeaders(paths: Iterable<string>): Map<string, NiftiHeader> | undefined {
  const out = new Map<string, NiftiHeader>();
  // (a Uint8Array, not a Buffer: Buffer's subarray costs more than the read, cold)
  const buf = new Uint8Array(4096);
  // a study's scans often share their header, byte for byte: parsed once (a .nii header is a
  // function of its bytes and its path)
  let last: { bytes: Uint8Array; header: NiftiHeader } | undefined;
  for (const path of paths) {
    if (out.has(path)) continue;
    if (!/\.nii$/i.test(path)) return undefined;
    let fd: number;
    try {
      // non-blocking: a FIFO named as a scan must not wait for a writer (fstat then sends it to the
      // checked path, which refuses it as not a file); nothing changes for a regular file
      fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    } catch {
      return undefined;
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return undefined;
      const got = readSync(fd, buf, 0, buf.length, 0);
      if (isGzip(buf.subarray(0, got))) return undefined;
      const bytes = buf.subarray(0, Math.min(got, NIFTI2_HEADER_BYTES));
      let h: NiftiHeader;
      if (last && sameBytes(last.bytes, bytes)) h = withPath(last.header, path);
      else {
        h = parseHeader(bytes, path, path, () => analyzeSidecar(path));
        last = { bytes: bytes.slice(), header: h };
      }
      checkSizeAgainst(h, st.size, false);
      out.set(path, h);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The header parsed from another .nii's identical bytes, as parseHeader gives it for `path` (its own arrays). */
function withPath(h: NiftiHeader, path: string): NiftiHeader {
  return {
    ...h,
    path,
    imagePath: path,
    dims: [...h.dims],
    affine: h.affine.map((row) => row.slice()),
    pixdim: [...h.pixdim],
  };
}

/** The first bytes of an in-memory (maybe gzip) file: enough for a header, nothing inflated beyond. */
function prefixOf(raw: Uint8Array, path: string, n: number): Uint8Array {
  if (!isGzip(raw)) return raw.subarray(0, Math.min(raw.length, n));
  try {
    // 4 KiB of gzip inflate to at most ~4 MB; 64 KiB only when a long gzip header needs it
    let out = gunzipSync(raw.subarray(0, 4096), { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: 1 << 24 });
    if (out.length < n && raw.length > 4096)
      out = gunzipSync(raw.subarray(0, 65536), { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: 1 << 27 });
    if (out.length < 348) {
      throw new VbmError(
        `${path}: the gzip stream is corrupt or truncated (it decompresses to only ${out.length} bytes, less than a header)`,
        'the file was damaged in copying or writing; re-create or re-copy it',
      );
    }
    return out.subarray(0, Math.min(out.length, n));
  } catch (e) {
    if (e instanceof VbmError) throw e;
    throw new VbmError(`${path}: cannot decompress (${(e as Error).message})`, 'the file is corrupt; re-create it');
  }
}

function readPrefix(path: string, n: number): Promise<Uint8Array> {
  // The header sits in the first bytes; for gzip, the first KiB of the stream are plenty
  // (inflated with a sync flush, so a partial stream is not an error).
  // (a plain file's header needs only its first n bytes: 4 KiB are read, 64 KiB only for gzip)
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.allocUnsafe(Math.max(4096, n));
    let got = readSync(fd, buf, 0, buf.length, 0);
    if (got === buf.length && isGzip(buf)) {
      buf = Buffer.allocUnsafe(65536);
      got = readSync(fd, buf, 0, buf.length, 0);
    }
    return Promise.resolve(prefixOf(buf.subarray(0, got), path, n));
  } finally {
    closeSync(fd);
  }
}

/** The whole file into `target` (at least the file's size; the file is read to its end). */
function readInto(path: string, target: Uint8Array): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    let n = 0;
    for (let got = 1; got > 0 && n < target.length; n += got) got = readSync(fd, target, n, target.length - n, n);
    return target.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read a NIfTI-1 or Analyze image (.nii, .nii.gz, .hdr/.img): its header and raw voxel bytes, and
 * optionally the content hash of the bytes on disk (`hash`: true for vbm's content hash, or the hash to
 * use, e.g. node/contentHash.ts hashLike(a recorded digest)). `into`: where to read a single-file image (given its header and size; undefined: a new buffer),
 * e.g. so that the voxels land where a kernel reads them.
 */
export function openNifti(
  path: string,
  opts: { hash?: boolean | ContentHash; into?: (header: NiftiHeader, bytes: number) => Uint8Array | undefined } = {},
): NiftiFile {
  const { headerPath, imagePath } = niftiFiles(path);
  const hash = opts.hash === true ? contentHash() : opts.hash || undefined;
  requireFile(headerPath, 'image');
  // the header first, from the first bytes: the claimed size is checked against the file before
  // anything of that size is read, inflated or allocated
  const fd = openSync(headerPath, 'r');
  let head: Uint8Array;
  try {
    const buf = Buffer.alloc(65536);
    head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
  const header = parseHeader(prefixOf(head, headerPath, NIFTI2_HEADER_BYTES), headerPath, imagePath, () =>
    analyzeSidecar(headerPath),
  );
  requireFile(imagePath, 'image data (.img)');
  checkClaimedSize(header);
  const need = claimedBytes(header);
  const into = opts.into && imagePath === headerPath ? opts.into : undefined;
  const raw = readWhole(headerPath, 'image', hash, into && ((bytes) => into(header, bytes)));
  const rawData = imagePath === headerPath ? raw : readWhole(imagePath, 'image data (.img)', hash);
  const data = isGzip(rawData) ? gunzipBounded(rawData, imagePath, need + TRAILING_BYTES_ALLOWED, need) : rawData;
  if (data.length < need) throw tooLittleData(imagePath, header, need, data.length);
  return { header, data, hash: hash?.digest() };
}

/** Read one 3-D volume (volume `index` of a 4-D file) as float32. */
export function readVolume(path: string, index = 0): Volume {
  const file = openNifti(path);
  return { dims: file.header.dims, affine: file.header.affine, data: decodeVolume(file, index) };
}

/** Read one volume at float64: exact for FLOAT64 files (SPM's ResMS, RPV), widened otherwise. */
export function readVolume64(
  path: string,
  index = 0,
): { dims: [number, number, number]; affine: number[][]; data: Float64Array } {
  const file = openNifti(path);
  return { dims: file.header.dims, affine: file.header.affine, data: decodeVolume64(file, index) };
}
