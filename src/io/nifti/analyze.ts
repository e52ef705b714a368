/**
 * Analyze 7.5 headers (.hdr/.img without NIfTI magic, as SPM2-era studies have them), read as
 * SPM12 reads them (@nifti/private/mayo2nifti1.m and nifti.m): voxel sizes and SPM's
 * "originator" field give the orientation, with x flipped (SPM's default: Analyze images are
 * stored left-handed), unless a .mat file beside the image holds `mat` (SPM's own voxel-to-mm
 * matrix) or `M` (SPM99's, flipped like the header). SPM's matrices map 1-based voxels; vbm's
 * affine maps 0-based voxels. Pure: bytes in, header out.
 */
import { VbmError, invariant, item } from '../../errors.js';
import type { Affine } from './affine.js';
import { datatypeInfo } from './datatypes.js';
import type { NiftiHeader } from './header.js';

/** What a .mat file beside an Analyze image may hold (4x4, row-major, 1-based voxel to mm). */
export interface AnalyzeMat {
  path: string;
  mat?: number[][];
  M?: number[][];
}

/** Analyze datatype codes SPM maps onto NIfTI's (signed char, unsigned short, unsigned int). */
const ANALYZE_TO_NIFTI: Record<number, number> = { 130: 256, 132: 512, 136: 768 };

/** sizeof_hdr is 348 in one byte order or the other, and there is no NIfTI magic. */
export function isAnalyzeHeader(bytes: Uint8Array): boolean {
  if (bytes.length < 348) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return v.getInt32(0, true) === 348 || v.getInt32(0, false) === 348;
}

/** SPM's 1-based matrix to a 0-based affine: A = mat * [I 1; 0 1]. */
export function oneBasedToAffine(mat: number[][]): Affine {
  return [0, 1, 2, 3].map((r) => {
    const [a, b, c, d] = item(mat, r, "SPM's matrix");
    invariant(a !== undefined && b !== undefined && c !== undefined && d !== undefined, "SPM's matrix is 4x4");
    return [a, b, c, d + a + b + c];
  });
}

const FLIP_X = (m: number[][]): number[][] => m.map((row, r) => (r === 0 ? row.map((x) => -x) : [...row]));

export function parseAnalyzeHeader(
  bytes: Uint8Array,
  path: string,
  imagePath: string,
  extras?: AnalyzeMat,
): NiftiHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = v.getInt32(0, true) === 348;
  const i16 = (o: number): number => v.getInt16(o, le);
  const f32 = (o: number): number => v.getFloat32(o, le);
  const dim = Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i));
  let rank = item(dim, 0, 'dim');
  if (rank < 1) {
    // SPM: the rank is the count of leading non-zero dims
    const firstZero = dim.slice(1).findIndex((d) => d === 0);
    rank = firstZero < 0 ? 7 : firstZero;
  }
  if (!(rank >= 1 && rank <= 7)) {
    throw new VbmError(
      `${path}: Analyze header dim[0] = ${dim[0]} is not between 1 and 7`,
      'the header is corrupt; re-export the image as NIfTI',
    );
  }
  const dims: [number, number, number] = [1, 1, 1];
  for (let i = 0; i < 3; i++) dims[i] = i < rank ? Math.max(1, item(dim, i + 1, 'dim')) : 1;
  let nVolumes = 1;
  for (let i = 4; i <= rank; i++) nVolumes *= Math.max(1, item(dim, i, 'dim'));
  const code = i16(70);
  const datatype = datatypeInfo(ANALYZE_TO_NIFTI[code] ?? code);
  if (!datatype) {
    throw new VbmError(
      `${path}: Analyze datatype ${code} is not supported (vbm reads integer and real scalar types)`,
      'convert the image to float32 NIfTI',
    );
  }
  const pixdim: [number, number, number] = [f32(80), f32(84), f32(88)];
  const voxOffset = f32(108);
  if (!(voxOffset >= 0) || !Number.isFinite(voxOffset)) {
    throw new VbmError(
      `${path}: Analyze header vox_offset ${voxOffset} is invalid`,
      'the header is corrupt; re-export the image',
    );
  }
  let slope = f32(112); // roi_scale
  let inter = f32(116); // funused1
  if (!Number.isFinite(inter)) inter = 0;
  if (!Number.isFinite(slope) || slope === 0) slope = 1;
  let mat: number[][] | undefined;
  let orientationFrom: 'mat-file' | 'header' = 'header';
  const okMatrix = (m: number[][] | undefined): m is number[][] =>
    !!m &&
    m.length === 4 &&
    m.every((r) => r.length === 4 && r.every(Number.isFinite)) &&
    m.some((r) => r.some((x) => x !== 0));
  if (extras && okMatrix(extras.mat)) {
    mat = extras.mat;
    orientationFrom = 'mat-file';
  } else if (extras && okMatrix(extras.M)) {
    mat = FLIP_X(extras.M); // SPM99's M, flipped as SPM12 does for Analyze images
    orientationFrom = 'mat-file';
  } else {
    const origin: [number, number, number] = [i16(253), i16(255), i16(257)];
    const o: [number, number, number] = origin.some((x) => x !== 0)
      ? origin
      : [(dims[0] + 1) / 2, (dims[1] + 1) / 2, (dims[2] + 1) / 2];
    const finite = (x: number): number => (Number.isFinite(x) ? x : 0);
    let vox: [number, number, number] = [finite(pixdim[0]), finite(pixdim[1]), finite(pixdim[2])];
    if (vox.every((x) => x === 0)) vox = [1, 1, 1];
    const flip = !(vox[0] < 0); // a negative x size: FSL's orientation, not flipped again
    mat = [
      [vox[0], 0, 0, -vox[0] * o[0]],
      [0, vox[1], 0, -vox[1] * o[1]],
      [0, 0, vox[2], -vox[2] * o[2]],
      [0, 0, 0, 1],
    ];
    if (flip) mat = FLIP_X(mat);
  }
  const descripBytes = bytes.subarray(148, 228);
  const end = descripBytes.indexOf(0);
  const descrip = new TextDecoder('latin1').decode(end < 0 ? descripBytes : descripBytes.subarray(0, end));
  return {
    path,
    imagePath,
    version: 1,
    dims,
    nVolumes,
    datatype,
    littleEndian: le,
    voxOffset,
    slope,
    inter,
    qformCode: 0,
    sformCode: 0,
    affine: oneBasedToAffine(mat),
    pixdim: [Math.abs(pixdim[0]) || 1, Math.abs(pixdim[1]) || 1, Math.abs(pixdim[2]) || 1],
    descrip,
    format: 'analyze',
    orientationFrom,
  };
}

/** The warning vbm gives for an Analyze image whose orientation came from its header alone. */
export function analyzeWarning(h: NiftiHeader): string | undefined {
  if (h.format !== 'analyze') return undefined;
  if (h.orientationFrom === 'mat-file')
    return `${h.path} is an Analyze 7.5 image; its orientation was taken from the .mat file beside it, as SPM does`;
  return (
    `${h.path} is an Analyze 7.5 image: left and right cannot be known from an Analyze header alone; ` +
    "vbm assumed SPM's default (stored left-handed: x flipped, origin from the header). Check the orientation, or convert the images to NIfTI with their true orientation"
  );
}
