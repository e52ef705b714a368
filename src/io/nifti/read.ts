import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { closeSync, openSync, readSync } from 'node:fs';
import { constants as zc, gunzipSync } from 'node:zlib';
import { VbmError } from '../../errors.js';
import { type NiftiHeader, NIFTI2_HEADER_BYTES, parseHeader } from './header.js';
import { DT } from './datatypes.js';
import type { Volume } from './volume.js';

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === GZIP_MAGIC[0] && buf[1] === GZIP_MAGIC[1];
}

/** For a path, the header file and the image file (.nii: both the same; .hdr/.img: a pair). */
export function niftiFiles(path: string): { headerPath: string; imagePath: string } {
  const m = /^(.*)\.(hdr|img)(\.gz)?$/i.exec(path);
  if (!m) return { headerPath: path, imagePath: path };
  const gz = m[3] ?? '';
  const hdrExt = m[2] === 'HDR' || m[2] === 'IMG' ? 'HDR' : 'hdr';
  const imgExt = hdrExt === 'HDR' ? 'IMG' : 'img';
  return { headerPath: `${m[1]}.${hdrExt}${gz}`, imagePath: `${m[1]}.${imgExt}${gz}` };
}

function readWhole(path: string, what: string, hash?: ReturnType<typeof createHash>): Uint8Array {
  if (!existsSync(path)) {
    throw new VbmError(`${what} not found: ${path}`, 'check the path (relative paths are relative to the spreadsheet\'s folder)');
  }
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new VbmError(`${path}: cannot read (${(e as Error).message})`);
  }
  hash?.update(raw);
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw new VbmError(
      `${path}: the gzip stream is corrupt or truncated (${(e as Error).message})`,
      'the file was damaged in copying or writing; re-create or re-copy it',
    );
  }
}

/** Read only the header, decompressing no more of a .nii.gz than needed. */
export async function readHeaderOnly(path: string): Promise<NiftiHeader> {
  const { headerPath, imagePath } = niftiFiles(path);
  if (!existsSync(headerPath)) {
    throw new VbmError(`image not found: ${headerPath}`, "check the path (relative paths are relative to the spreadsheet's folder)");
  }
  const bytes = await readPrefix(headerPath, NIFTI2_HEADER_BYTES);
  return parseHeader(bytes, headerPath, imagePath);
}

async function readPrefix(path: string, n: number): Promise<Uint8Array> {
  // The header sits in the first bytes; for gzip, the first 64 KiB of the stream are plenty
  // (inflated with a sync flush, so a partial stream is not an error).
  const fd = openSync(path, 'r');
  try {
    let out: Uint8Array = new Uint8Array(0);
    for (const size of [4096, 65536]) {
      const buf = Buffer.alloc(size);
      const got = readSync(fd, buf, 0, size, 0);
      const head = buf.subarray(0, got);
      if (!isGzip(head)) return head.subarray(0, Math.min(got, n));
      try {
        out = gunzipSync(head, { finishFlush: zc.Z_SYNC_FLUSH });
      } catch (e) {
        throw new VbmError(`${path}: cannot decompress (${(e as Error).message})`, 'the file is corrupt; re-create it');
      }
      if (out.length >= n || got < size) break;
    }
    return out.subarray(0, Math.min(out.length, n));
  } finally {
    closeSync(fd);
  }
}

/** A decoded image file: header plus the raw bytes that hold the voxels. */
export interface NiftiFile {
  header: NiftiHeader;
  data: Uint8Array;
  /** SHA-256 of the bytes on disk (header file, then image file), when asked for. */
  sha256?: string;
}

export function openNifti(path: string, opts: { hash?: boolean } = {}): NiftiFile {
  const { headerPath, imagePath } = niftiFiles(path);
  const hash = opts.hash ? createHash('sha256') : undefined;
  const hbytes = readWhole(headerPath, 'image', hash);
  const header = parseHeader(hbytes, headerPath, imagePath);
  const data = imagePath === headerPath ? hbytes : readWhole(imagePath, 'image data (.img)', hash);
  const nvox = header.dims[0] * header.dims[1] * header.dims[2];
  const need = header.voxOffset + nvox * header.nVolumes * header.datatype.bytes;
  if (data.length < need) {
    throw new VbmError(
      `${imagePath}: the header describes ${header.dims.join('x')}x${header.nVolumes} ${header.datatype.name} voxels ` +
        `(${need} bytes from offset ${header.voxOffset}) but the file holds only ${data.length} bytes`,
      'the file is truncated, or its header is wrong; re-create it',
    );
  }
  return { header, data, sha256: hash?.digest('hex') };
}

/**
 * Decode volume `index` (0-based) of an opened file to float32, applying scl_slope/scl_inter.
 * `out` may be given to reuse a buffer.
 */
export function decodeVolume(file: NiftiFile, index = 0, out?: Float32Array): Float32Array {
  const { header, data } = file;
  const nvox = header.dims[0] * header.dims[1] * header.dims[2];
  if (index < 0 || index >= header.nVolumes) {
    throw new VbmError(`${header.path}: volume ${index + 1} requested but the file holds ${header.nVolumes}`);
  }
  const bytes = header.datatype.bytes;
  const start = header.voxOffset + index * nvox * bytes;
  const le = header.littleEndian;
  const code = header.datatype.code;
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const dst = out && out.length === nvox ? out : new Float32Array(nvox);
  if (code === DT.FLOAT32 && le === hostLE) {
    if (!out && (data.byteOffset + start) % 4 === 0 && header.slope === 1 && header.inter === 0) {
      // no copy: a view on the file's bytes
      return new Float32Array(data.buffer, data.byteOffset + start, nvox);
    }
    new Uint8Array(dst.buffer, dst.byteOffset, nvox * 4).set(data.subarray(start, start + nvox * 4));
  } else {
    const view = new DataView(data.buffer, data.byteOffset + start, nvox * bytes);
    switch (code) {
      case DT.UINT8:
        for (let i = 0; i < nvox; i++) dst[i] = view.getUint8(i);
        break;
      case DT.INT8:
        for (let i = 0; i < nvox; i++) dst[i] = view.getInt8(i);
        break;
      case DT.INT16:
        for (let i = 0; i < nvox; i++) dst[i] = view.getInt16(2 * i, le);
        break;
      case DT.UINT16:
        for (let i = 0; i < nvox; i++) dst[i] = view.getUint16(2 * i, le);
        break;
      case DT.INT32:
        for (let i = 0; i < nvox; i++) dst[i] = view.getInt32(4 * i, le);
        break;
      case DT.UINT32:
        for (let i = 0; i < nvox; i++) dst[i] = view.getUint32(4 * i, le);
        break;
      case DT.FLOAT32:
        for (let i = 0; i < nvox; i++) dst[i] = view.getFloat32(4 * i, le);
        break;
      case DT.FLOAT64:
        for (let i = 0; i < nvox; i++) dst[i] = view.getFloat64(8 * i, le);
        break;
      case DT.INT64:
        for (let i = 0; i < nvox; i++) dst[i] = Number(view.getBigInt64(8 * i, le));
        break;
      case DT.UINT64:
        for (let i = 0; i < nvox; i++) dst[i] = Number(view.getBigUint64(8 * i, le));
        break;
      default:
        throw new VbmError(`${header.path}: datatype ${header.datatype.name} cannot be decoded`);
    }
  }
  if (header.slope !== 1 || header.inter !== 0) {
    const s = header.slope;
    const c = header.inter;
    if (code === DT.FLOAT64) {
      // scale in float64 before rounding to float32
      const view = new DataView(data.buffer, data.byteOffset + start, nvox * bytes);
      for (let i = 0; i < nvox; i++) dst[i] = view.getFloat64(8 * i, le) * s + c;
    } else {
      for (let i = 0; i < nvox; i++) dst[i] = dst[i] * s + c;
    }
  }
  return dst;
}

/** Read one 3-D volume (volume `index` of a 4-D file) as float32. */
export function readVolume(path: string, index = 0): Volume {
  const file = openNifti(path);
  return { dims: file.header.dims, affine: file.header.affine, data: decodeVolume(file, index) };
}

/** Read one volume at float64: exact for FLOAT64 files (SPM's ResMS, RPV), widened otherwise. */
export function readVolume64(path: string, index = 0): { dims: [number, number, number]; affine: number[][]; data: Float64Array } {
  const file = openNifti(path);
  const h = file.header;
  if (h.datatype.code !== DT.FLOAT64) return { dims: h.dims, affine: h.affine, data: Float64Array.from(decodeVolume(file, index)) };
  const nvox = h.dims[0] * h.dims[1] * h.dims[2];
  const start = h.voxOffset + index * nvox * 8;
  if (file.data.byteLength < start + nvox * 8) throw new VbmError(`${h.path}: the file holds less data than its header claims`);
  const view = new DataView(file.data.buffer, file.data.byteOffset + start, nvox * 8);
  const le = h.littleEndian;
  const out = new Float64Array(nvox);
  for (let i = 0; i < nvox; i++) out[i] = view.getFloat64(8 * i, le) * h.slope + h.inter;
  return { dims: h.dims, affine: h.affine, data: out };
}
