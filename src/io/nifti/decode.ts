/**
 * NIfTI from bytes (pure: no file system, no node:*): the header and the voxels of a .nii or
 * .nii.gz held in memory, and the decoding of one volume to float32. `read.ts` is the Node
 * shell that reads files (and inflates with node:zlib) into the same `NiftiFile`.
 */
import { Gunzip } from 'fflate';
import { VbmError } from '../../errors.js';
import { DT } from './datatypes.js';
import { voxelCount } from './volume.js';
import { type NiftiHeader, NIFTI2_HEADER_BYTES, checkSaneSize, claimedBytes, parseHeader } from './header.js';

/** A decoded image file: header plus the raw bytes that hold the voxels. */
export interface NiftiFile {
  header: NiftiHeader;
  data: Uint8Array;
  /** Content hash of the bytes on disk (header file, then image file), when asked for (node/contentHash.ts). */
  hash?: string;
}

/** Whether bytes start with gzip's magic number. */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Bytes a file may hold beyond what its header describes (NIfTI allows trailing bytes, e.g.
 * padding); more is refused, and a .nii.gz is never inflated further than this.
 */
export const TRAILING_BYTES_ALLOWED = 1 << 20;

export function tooMuchData(path: string, need: number, got: number | string): VbmError {
  return new VbmError(
    `${path}: the file holds more data than its header describes (the header describes ${need} bytes; the file holds ${got})`,
    'the header is wrong, or other data were appended to the image; re-create the file',
  );
}

export function tooLittleData(path: string, h: NiftiHeader, need: number, got: number | string): VbmError {
  return new VbmError(
    `${path}: the header describes ${h.dims.join('x')}x${h.nVolumes} ${h.datatype.name} voxels ` +
      `(${need} bytes from offset ${h.voxOffset}) but the file holds only ${got} bytes`,
    'the file is truncated, or its header is wrong; re-create it',
  );
}

/** Input bytes handed to the inflater at a time: output can outgrow the limit by at most ~1032x this. */
const GUNZIP_STEP = 16384;

/**
 * Inflate a .nii.gz held in memory (fflate), never further than its header's claim plus
 * TRAILING_BYTES_ALLOWED: the header is parsed from the first inflated bytes, and inflation stops
 * with a VbmError once the output passes the limit.
 */
function gunzipNifti(raw: Uint8Array, name: string): { header: NiftiHeader; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  let total = 0;
  let header: NiftiHeader | undefined;
  let need = 0;
  let limit = Infinity;
  const joined = (): Uint8Array => {
    if (parts.length === 1 && parts[0]) return parts[0];
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    parts.length = 0;
    parts.push(out);
    return out;
  };
  const g = new Gunzip((chunk) => {
    parts.push(chunk);
    total += chunk.length;
    if (total > limit) throw tooMuchData(name, need, `more than ${limit} bytes once decompressed`);
  });
  try {
    for (let i = 0; i < raw.length; i += GUNZIP_STEP) {
      g.push(raw.subarray(i, i + GUNZIP_STEP), i + GUNZIP_STEP >= raw.length);
      if (!header && total >= NIFTI2_HEADER_BYTES) {
        header = parseHeader(joined(), name, name);
        checkSaneSize(header, `${raw.length} bytes of gzip`);
        need = claimedBytes(header);
        limit = need + TRAILING_BYTES_ALLOWED;
        if (total > limit) throw tooMuchData(name, need, `more than ${limit} bytes once decompressed`);
      }
    }
  } catch (e) {
    if (e instanceof VbmError) throw e;
    throw new VbmError(
      `${name}: the gzip stream is corrupt or truncated (${(e as Error).message})`,
      'the file was damaged in copying or writing; re-create or re-copy it',
    );
  }
  const data = joined();
  header ??= parseHeader(data, name, name);
  return { header, data };
}

/**
 * Decode a single-file NIfTI-1 or NIfTI-2 image (.nii, or .nii.gz) held in memory: its header,
 * and its voxel bytes checked against the header's claim. `name` is used in messages (and as
 * the header's path). Analyze .hdr/.img pairs need two files: read them with `openNifti`.
 */
export function decodeNifti(bytes: Uint8Array, name = 'image.nii'): NiftiFile {
  let header: NiftiHeader;
  let data: Uint8Array;
  if (isGzip(bytes)) ({ header, data } = gunzipNifti(bytes, name));
  else {
    header = parseHeader(bytes.subarray(0, NIFTI2_HEADER_BYTES), name, name);
    checkSaneSize(header, `${bytes.length} bytes`);
    data = bytes;
  }
  if (header.format === 'analyze')
    throw new VbmError(
      `${name}: an Analyze .hdr header, whose voxels are in a separate .img file`,
      'convert the pair to a single .nii (or read the pair from files with openNifti)',
    );
  const need = claimedBytes(header);
  if (data.length < need) throw tooLittleData(name, header, need, data.length);
  if (data.length > need + TRAILING_BYTES_ALLOWED) throw tooMuchData(name, need, `${data.length} bytes`);
  return { header, data };
}

/**
 * Decode volume `index` (0-based) of an opened file to float32, applying scl_slope/scl_inter.
 * `out` may be given to reuse a buffer.
 */
export function decodeVolume(file: NiftiFile, index = 0, out?: Float32Array): Float32Array {
  const { header, data } = file;
  const nvox = voxelCount(header.dims);
  if (index < 0 || index >= header.nVolumes) {
    throw new VbmError(`${header.path}: volume ${index + 1} requested but the file holds ${header.nVolumes}`);
  }
  const bytes = header.datatype.bytes;
  const start = header.voxOffset + index * nvox * bytes;
  const le = header.littleEndian;
  const code = header.datatype.code;
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (
    code === DT.FLOAT32 &&
    le === hostLE &&
    !out &&
    (data.byteOffset + start) % 4 === 0 &&
    header.slope === 1 &&
    header.inter === 0
  ) {
    // no copy: a view on the file's bytes (and no new array)
    return new Float32Array(data.buffer, data.byteOffset + start, nvox);
  }
  const dst = out && out.length === nvox ? out : new Float32Array(nvox);
  // the voxels as a typed array of their own type, when in this machine's byte order, aligned and all there
  const typed =
    le === hostLE && (data.byteOffset + start) % bytes === 0 && start + nvox * bytes <= data.length
      ? typedView(code, data, start, nvox)
      : undefined;
  if (code === DT.FLOAT32 && le === hostLE) {
    new Uint8Array(dst.buffer, dst.byteOffset, nvox * 4).set(data.subarray(start, start + nvox * 4));
  } else if (typed) {
    // set() converts each value to float32 as the loops below do (integers exactly, float64
    // rounded to nearest), without a DataView call per voxel
    dst.set(typed);
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
      dst.forEach((x, i) => (dst[i] = x * s + c));
    }
  }
  return dst;
}

/** Volume bytes as a typed array of their datatype (integer and float64 types; undefined for the others). */
function typedView(code: number, data: Uint8Array, start: number, n: number): ArrayLike<number> | undefined {
  const at = data.byteOffset + start;
  switch (code) {
    case DT.UINT8:
      return data.subarray(start, start + n);
    case DT.INT8:
      return new Int8Array(data.buffer, at, n);
    case DT.INT16:
      return new Int16Array(data.buffer, at, n);
    case DT.UINT16:
      return new Uint16Array(data.buffer, at, n);
    case DT.INT32:
      return new Int32Array(data.buffer, at, n);
    case DT.UINT32:
      return new Uint32Array(data.buffer, at, n);
    case DT.FLOAT64:
      return new Float64Array(data.buffer, at, n);
    default:
      return undefined;
  }
}

/**
 * Decode volume `index` of an opened file at float64: exact for FLOAT64 files (SPM's ResMS, RPV),
 * float32-decoded and widened otherwise.
 */
export function decodeVolume64(file: NiftiFile, index = 0): Float64Array {
  const h = file.header;
  if (h.datatype.code !== DT.FLOAT64) return Float64Array.from(decodeVolume(file, index));
  const nvox = voxelCount(h.dims);
  const start = h.voxOffset + index * nvox * 8;
  if (file.data.byteLength < start + nvox * 8)
    throw new VbmError(`${h.path}: the file holds less data than its header claims`);
  const view = new DataView(file.data.buffer, file.data.byteOffset + start, nvox * 8);
  const le = h.littleEndian;
  const out = new Float64Array(nvox);
  for (let i = 0; i < nvox; i++) out[i] = view.getFloat64(8 * i, le) * h.slope + h.inter;
  return out;
}
