/**
 * NIfTI-1 encoding to bytes (pure: no node:*; gzip by fflate). `write.ts` is the Node shell's
 * encoder, the same bytes with gzip by node:zlib.
 */
import { type DeflateOptions, gzipSync } from 'fflate';
import { affineRows, affineToQform } from './affine.js';
import { invariant } from '../../errors.js';
import { DT, datatypeInfo } from './datatypes.js';
import type { Volume } from './volume.js';
import { voxelCount } from './volume.js';

export interface EncodeOptions {
  /** NIfTI datatype code of the stored voxels (default float32). */
  datatype?: number;
  descrip?: string;
  /** gzip the result (for .nii.gz). */
  gzip?: boolean;
  /** zlib level when gzipping (default 6). */
  gzipLevel?: number;
  /** Store big-endian (for tests of readers; vbm writes little-endian). */
  bigEndian?: boolean;
  /** Intent code and name (e.g. 3 = t-test with its df) for viewers that show them. */
  intent?: { code: number; p1?: number; p2?: number; name?: string };
  /** Scale factors to store (raw = (value - inter) / slope for integer types). */
  slope?: number;
  inter?: number;
}

/** A NIfTI-1 file's buffer for `vol`'s grid with its header written, the voxels still zero. */
function niftiBuffer(
  vol: Pick<Volume, 'dims' | 'affine'>,
  opts: EncodeOptions,
  alloc: (bytes: number) => ArrayBuffer = (bytes) => new ArrayBuffer(bytes),
): {
  buf: ArrayBuffer;
  v: DataView;
  dtCode: number;
  dt: NonNullable<ReturnType<typeof datatypeInfo>>;
  le: boolean;
  nvox: number;
  offset: number;
} {
  const dtCode = opts.datatype ?? DT.FLOAT32;
  const dt = datatypeInfo(dtCode);
  if (!dt) throw new Error(`cannot write datatype ${dtCode}`);
  const le = !opts.bigEndian;
  const nvox = voxelCount(vol.dims);
  const offset = NIFTI_OFFSET;
  const buf = alloc(offset + nvox * dt.bytes);
  invariant(buf.byteLength === offset + nvox * dt.bytes, 'a NIfTI buffer of the size asked for');
  const v = new DataView(buf);
  writeHeader(v, vol, opts, dtCode, dt.bytes, le);
  return { buf, v, dtCode, dt, le, nvox, offset };
}

/** Where a .nii file's voxels begin: the 348-byte header and 4 zero extension bytes before them. */
const NIFTI_OFFSET = 352;

/**
 * The first NIFTI_OFFSET bytes of encodeNiftiWith's file for `vol` and `opts` (little-endian): the header
 * and extension bytes, for a writer that adds the voxels itself.
 */
export function niftiHeader(
  vol: Pick<Volume, 'dims' | 'affine'>,
  opts: Omit<EncodeOptions, 'gzip' | 'gzipLevel' | 'bigEndian' | 'slope' | 'inter'> & { datatype: number },
): Uint8Array {
  const dt = datatypeInfo(opts.datatype);
  if (!dt) throw new Error(`cannot write datatype ${opts.datatype}`);
  const bytes = new Uint8Array(NIFTI_OFFSET);
  writeHeader(new DataView(bytes.buffer), vol, opts, opts.datatype, dt.bytes, true);
  return bytes;
}

/** The header of a NIfTI-1 file with voxels from NIFTI_OFFSET into v's first NIFTI_OFFSET bytes. */
function writeHeader(
  v: DataView,
  vol: Pick<Volume, 'dims' | 'affine'>,
  opts: EncodeOptions,
  dtCode: number,
  dtBytes: number,
  le: boolean,
): void {
  const offset = NIFTI_OFFSET;
  // the header's unset fields are zero whatever the buffer held; the voxels are the writer's to set
  new Uint8Array(v.buffer, v.byteOffset, offset).fill(0);
  v.setInt32(0, 348, le);
  v.setUint8(38, 'r'.charCodeAt(0)); // regular = 'r' (legacy Analyze field)
  v.setInt16(40, 3, le);
  v.setInt16(42, vol.dims[0], le);
  v.setInt16(44, vol.dims[1], le);
  v.setInt16(46, vol.dims[2], le);
  for (let i = 4; i <= 7; i++) v.setInt16(40 + 2 * i, 1, le);
  if (opts.intent) {
    v.setFloat32(56, opts.intent.p1 ?? 0, le);
    v.setFloat32(60, opts.intent.p2 ?? 0, le);
    v.setInt16(68, opts.intent.code, le);
    const name = (opts.intent.name ?? '').slice(0, 15);
    for (let i = 0; i < name.length; i++) v.setUint8(328 + i, name.charCodeAt(i) & 0x7f);
  }
  v.setInt16(70, dtCode, le);
  v.setInt16(72, dtBytes * 8, le);
  const q = affineToQform(vol.affine);
  v.setFloat32(76, q.qfac, le);
  q.pixdim.forEach((z, i) => v.setFloat32(80 + 4 * i, z, le));
  for (let i = 4; i <= 7; i++) v.setFloat32(76 + 4 * i, 1, le);
  v.setFloat32(108, offset, le);
  v.setFloat32(112, opts.slope ?? 1, le);
  v.setFloat32(116, opts.inter ?? 0, le);
  v.setUint8(123, 10); // xyzt_units: mm and seconds
  const descrip = (opts.descrip ?? '').slice(0, 79);
  for (let i = 0; i < descrip.length; i++) v.setUint8(148 + i, descrip.charCodeAt(i) & 0x7f);
  v.setInt16(252, 2, le);
  v.setInt16(254, 2, le);
  v.setFloat32(256, q.quatern_b, le);
  v.setFloat32(260, q.quatern_c, le);
  v.setFloat32(264, q.quatern_d, le);
  v.setFloat32(268, q.qoffset_x, le);
  v.setFloat32(272, q.qoffset_y, le);
  v.setFloat32(276, q.qoffset_z, le);
  affineRows(vol.affine).forEach((row, r) =>
    row.slice(0, 4).forEach((x, c) => v.setFloat32(280 + (r * 4 + c) * 4, x, le)),
  );
  v.setUint8(344, 'n'.charCodeAt(0));
  v.setUint8(345, '+'.charCodeAt(0));
  v.setUint8(346, '1'.charCodeAt(0));
  v.setUint8(347, 0);
}

/**
 * encodeNifti for a float32 or float64 volume whose voxels `write` puts straight into the file's
 * buffer (e.g. values spread over a mask): the same bytes as encodeNifti of the volume `write`
 * would fill, without a volume-sized array of its own. Little-endian, no scaling, no gzip.
 * `write` sets every voxel. `alloc` gives the file's buffer of the size asked for, with any
 * contents (e.g. one already written, which saves fresh pages); default: a new one.
 */
export function encodeNiftiWith(
  vol: Pick<Volume, 'dims' | 'affine'>,
  opts: Omit<EncodeOptions, 'gzip' | 'gzipLevel' | 'bigEndian' | 'slope' | 'inter'> & { datatype: number },
  write: (data: Float32Array | Float64Array) => void,
  alloc?: (bytes: number) => ArrayBuffer,
): Uint8Array {
  const f64 = opts.datatype === DT.FLOAT64;
  invariant(f64 || opts.datatype === DT.FLOAT32, 'encodeNiftiWith writes float32 or float64');
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (!hostLE) {
    // a big-endian host: the volume first, then the usual encoding (which swaps the bytes)
    const n = voxelCount(vol.dims);
    const data = f64 ? new Float64Array(n) : new Float32Array(n);
    write(data);
    return encodeNifti({ ...vol, data }, opts);
  }
  const { buf, nvox, offset } = niftiBuffer(vol, opts, alloc);
  write(f64 ? new Float64Array(buf, offset, nvox) : new Float32Array(buf, offset, nvox));
  return new Uint8Array(buf);
}

/**
 * Encode a volume as a single-file NIfTI-1 (.nii): 348-byte header, 4 zero extension bytes,
 * data at offset 352. Both qform and sform hold the affine (codes 2, "aligned", as SPM writes),
 * so SPM, FSL and nibabel all read back the same geometry.
 */
export function encodeNifti(vol: Volume, opts: EncodeOptions = {}): Uint8Array {
  const { buf, v, dtCode, dt, le, nvox, offset } = niftiBuffer(vol, opts);
  const src = vol.data;
  invariant(src.length === nvox, `a volume holds one value per voxel (${nvox}), not ${src.length}`);
  const slope = opts.slope ?? 1;
  const inter = opts.inter ?? 0;
  const enc = (x: number): number => (slope === 1 && inter === 0 ? x : (x - inter) / slope);
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const plain = slope === 1 && inter === 0 && le === hostLE;
  switch (dtCode) {
    case DT.FLOAT32:
      if (plain) new Float32Array(buf, offset, nvox).set(src);
      else src.forEach((x, i) => v.setFloat32(offset + 4 * i, x, le));
      break;
    case DT.FLOAT64:
      if (plain && offset % 8 === 0) new Float64Array(buf, offset, nvox).set(src);
      else src.forEach((x, i) => v.setFloat64(offset + 8 * i, x, le));
      break;
    case DT.UINT8:
      // bytes as they are (a mask): each is already an integer in 0..255, so the same bytes as below
      if (slope === 1 && inter === 0 && src instanceof Uint8Array) new Uint8Array(buf, offset, nvox).set(src);
      else src.forEach((x, i) => v.setUint8(offset + i, clampRound(enc(x), 0, 255)));
      break;
    case DT.INT8:
      src.forEach((x, i) => v.setInt8(offset + i, clampRound(enc(x), -128, 127)));
      break;
    case DT.INT16:
      src.forEach((x, i) => v.setInt16(offset + 2 * i, clampRound(enc(x), -32768, 32767), le));
      break;
    case DT.UINT16:
      src.forEach((x, i) => v.setUint16(offset + 2 * i, clampRound(enc(x), 0, 65535), le));
      break;
    case DT.INT32:
      src.forEach((x, i) => v.setInt32(offset + 4 * i, clampRound(enc(x), -2147483648, 2147483647), le));
      break;
    default:
      throw new Error(`cannot write datatype ${dt.name}`);
  }
  const out = new Uint8Array(buf);
  return opts.gzip
    ? gzipSync(out, { level: Math.min(9, Math.max(0, Math.round(opts.gzipLevel ?? 6))) as DeflateOptions['level'] })
    : out;
}

function clampRound(x: number, lo: number, hi: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.min(hi, Math.max(lo, Math.round(x)));
}
