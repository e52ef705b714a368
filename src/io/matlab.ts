/**
 * Just enough of MATLAB's MAT-file formats (level 5, and level 4 as SPM99 wrote) to read a
 * small real double matrix by name, as SPM keeps a voxel-to-mm matrix (`mat`, `M`) beside an
 * Analyze image. Pure: bytes in; compressed (miCOMPRESSED) elements are inflated by the given
 * function. Anything else in the file is skipped; a malformed file gives a VbmError.
 */
import { VbmError } from '../errors.js';

/** Matrices found, by name: rows of numbers (row-major). */
export type MatVariables = Record<string, number[][]>;

const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;
const ELEMENT_BYTES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };
/** Matrices larger than this are skipped (SPM's are 4x4, or 4x4xN for 4-D images). */
const MAX_ELEMENTS = 4096;

/** Read the small real matrices of a MATLAB .mat file (level 4 or 5) by name, as SPM keeps an image's voxel-to-mm matrix. */
export function readMatVariables(
  bytes: Uint8Array,
  path: string,
  wanted: string[],
  inflate: (b: Uint8Array) => Uint8Array,
): MatVariables {
  const bad = (why: string): VbmError =>
    new VbmError(
      `${path}: not a readable MATLAB .mat file (${why})`,
      'delete or re-save the .mat file (SPM: spm_get_space), or convert the image to NIfTI',
    );
  if (bytes.length >= 128) {
    const ver =
      bytes[126] === 0x49 && bytes[127] === 0x4d ? 'le' : bytes[126] === 0x4d && bytes[127] === 0x49 ? 'be' : null;
    if (ver) return readV5(bytes, ver === 'le', wanted, inflate, bad);
  }
  return readV4(bytes, wanted, bad);
}

function readV5(
  bytes: Uint8Array,
  le: boolean,
  wanted: string[],
  inflate: (b: Uint8Array) => Uint8Array,
  bad: (w: string) => VbmError,
): MatVariables {
  const out: MatVariables = {};
  const walk = (buf: Uint8Array, start: number, depth: number): void => {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let o = start;
    while (o + 8 <= buf.length) {
      const type = v.getUint32(o, le);
      const size = v.getUint32(o + 4, le);
      const end = o + 8 + size;
      if (end > buf.length) throw bad('an element runs past the end of the file');
      if (type === MI.COMPRESSED && depth === 0) {
        let inner: Uint8Array;
        try {
          inner = inflate(buf.subarray(o + 8, end));
        } catch (e) {
          throw bad(`a compressed element cannot be inflated: ${(e as Error).message}`);
        }
        walk(inner, 0, 1);
      } else if (type === MI.MATRIX) {
        const m = readMatrix(buf.subarray(o + 8, end), le, bad);
        if (m && wanted.includes(m.name)) out[m.name] = m.rows;
      }
      o = end + ((8 - (size % 8)) % 8) * (type === MI.COMPRESSED ? 0 : 1);
    }
  };
  walk(bytes, 128, 0);
  return out;
}

/** One data element inside a matrix: its type, and its payload (small-element format handled). */
function subElement(
  buf: Uint8Array,
  o: number,
  le: boolean,
  bad: (w: string) => VbmError,
): { type: number; data: Uint8Array; next: number } {
  if (o + 8 > buf.length) throw bad('a matrix is truncated');
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const first = v.getUint32(o, le);
  if (first >>> 16 !== 0) {
    // small data element: size in the upper half, data in the next four bytes
    const size = first >>> 16;
    if (size > 4) throw bad('a small data element claims more than 4 bytes');
    return { type: first & 0xffff, data: buf.subarray(o + 4, o + 4 + size), next: o + 8 };
  }
  const size = v.getUint32(o + 4, le);
  if (o + 8 + size > buf.length) throw bad('a matrix element runs past its matrix');
  return { type: first, data: buf.subarray(o + 8, o + 8 + size), next: o + 8 + size + ((8 - (size % 8)) % 8) };
}

function readMatrix(
  buf: Uint8Array,
  le: boolean,
  bad: (w: string) => VbmError,
): { name: string; rows: number[][] } | null {
  const flags = subElement(buf, 0, le, bad);
  if (flags.data.length < 4) throw bad('matrix flags are truncated');
  const fv = new DataView(flags.data.buffer, flags.data.byteOffset, flags.data.byteLength);
  const cls = fv.getUint32(0, le) & 0xff;
  const complex = (fv.getUint32(0, le) & 0x800) !== 0;
  const dimsEl = subElement(buf, flags.next, le, bad);
  const dv = new DataView(dimsEl.data.buffer, dimsEl.data.byteOffset, dimsEl.data.byteLength);
  const dims: number[] = [];
  for (let i = 0; i + 4 <= dimsEl.data.length; i += 4) dims.push(dv.getInt32(i, le));
  const nameEl = subElement(buf, dimsEl.next, le, bad);
  const name = new TextDecoder('latin1').decode(nameEl.data);
  // numeric classes only (mxDOUBLE_CLASS = 6 ... mxUINT64_CLASS = 15), real, 2-D or 3-D
  if (cls < 6 || cls > 15 || complex || dims.length < 2 || dims.some((d) => d < 0)) return null;
  const count = dims.reduce((a, b) => a * b, 1);
  if (count === 0 || count > MAX_ELEMENTS) return null;
  const re = subElement(buf, nameEl.next, le, bad);
  const values = decodeNumbers(re.type, re.data, le, count, bad);
  // column-major; of a 3-D array the first slice
  const [r, c] = dims;
  return { name, rows: Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => values[i + j * r])) };
}

function decodeNumbers(
  type: number,
  data: Uint8Array,
  le: boolean,
  count: number,
  bad: (w: string) => VbmError,
): number[] {
  const size = ELEMENT_BYTES[type];
  if (!size) throw bad(`numeric data of unknown type ${type}`);
  if (data.length < count * size) throw bad('a matrix holds fewer numbers than its dimensions say');
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (type) {
      case MI.INT8:
        out[i] = v.getInt8(o);
        break;
      case MI.UINT8:
        out[i] = v.getUint8(o);
        break;
      case MI.INT16:
        out[i] = v.getInt16(o, le);
        break;
      case MI.UINT16:
        out[i] = v.getUint16(o, le);
        break;
      case MI.INT32:
        out[i] = v.getInt32(o, le);
        break;
      case MI.UINT32:
        out[i] = v.getUint32(o, le);
        break;
      case MI.SINGLE:
        out[i] = v.getFloat32(o, le);
        break;
      case MI.DOUBLE:
        out[i] = v.getFloat64(o, le);
        break;
      case MI.INT64:
        out[i] = Number(v.getBigInt64(o, le));
        break;
      case MI.UINT64:
        out[i] = Number(v.getBigUint64(o, le));
        break;
    }
  }
  return out;
}

/**
 * Level 4: a sequence of matrices, each a 20-byte header (type MOPT, rows, columns, imaginary
 * flag, name length), the name, then the real part column-major. M (thousands digit) 0 =
 * little-endian, 1 = big-endian; P (tens) the number type; T (units) 0 = full numeric.
 */
function readV4(bytes: Uint8Array, wanted: string[], bad: (w: string) => VbmError): MatVariables {
  const out: MatVariables = {};
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const P_BYTES = [8, 4, 4, 2, 2, 1];
  let o = 0;
  while (o + 20 <= bytes.length) {
    // the byte order is the one in which the type word reads as a valid MOPT
    let le = true;
    let mopt = v.getInt32(o, true);
    if (mopt < 0 || mopt > 4052) {
      mopt = v.getInt32(o, false);
      le = false;
    }
    if (mopt < 0 || mopt > 4052) throw bad('neither a level 5 nor a level 4 MAT file');
    const M = Math.floor(mopt / 1000);
    const P = Math.floor((mopt % 100) / 10);
    const T = mopt % 10;
    if (M > 1) throw bad('a level 4 matrix uses a number format other than IEEE little- or big-endian');
    const rows = v.getInt32(o + 4, le);
    const cols = v.getInt32(o + 8, le);
    const imag = v.getInt32(o + 12, le);
    const nameLen = v.getInt32(o + 16, le);
    if (rows < 0 || cols < 0 || nameLen < 1 || nameLen > 4096 || P > 5) throw bad('a level 4 matrix header is invalid');
    const size = P_BYTES[P];
    const count = rows * cols;
    const dataStart = o + 20 + nameLen;
    const dataBytes = count * size * (imag ? 2 : 1);
    if (dataStart + dataBytes > bytes.length) throw bad('a level 4 matrix runs past the end of the file');
    const nameBytes = bytes.subarray(o + 20, o + 20 + nameLen - 1);
    const name = new TextDecoder('latin1').decode(nameBytes);
    if (T === 0 && !imag && count > 0 && count <= MAX_ELEMENTS && wanted.includes(name)) {
      const values: number[] = [];
      for (let i = 0; i < count; i++) {
        const q = dataStart + i * size;
        values.push(
          P === 0
            ? v.getFloat64(q, le)
            : P === 1
              ? v.getFloat32(q, le)
              : P === 2
                ? v.getInt32(q, le)
                : P === 3
                  ? v.getInt16(q, le)
                  : P === 4
                    ? v.getUint16(q, le)
                    : v.getUint8(q),
        );
      }
      out[name] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => values[i + j * rows]));
    }
    o = dataStart + dataBytes;
  }
  return out;
}
