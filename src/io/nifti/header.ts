import * as nifti from 'nifti-reader-js';
import { VbmError, item } from '../../errors.js';
import { type Affine, identityAffine, qformToAffine } from './affine.js';
import { DT, type DatatypeInfo, datatypeInfo } from './datatypes.js';
import { type AnalyzeMat, isAnalyzeHeader, parseAnalyzeHeader } from './analyze.js';

/** What vbm needs from a NIfTI-1 or NIfTI-2 header, already decoded. */
export interface NiftiHeader {
  /** File the header was read from. */
  path: string;
  /** File that holds the voxel data (the same file, or the .img of a pair). */
  imagePath: string;
  version: 1 | 2;
  /** Spatial dimensions. */
  dims: [number, number, number];
  /** Number of volumes (dim[4..7] multiplied), at least 1. */
  nVolumes: number;
  datatype: DatatypeInfo;
  littleEndian: boolean;
  voxOffset: number;
  /** Effective scaling: value = raw * slope + inter (slope 1, inter 0 when the header says none). */
  slope: number;
  inter: number;
  qformCode: number;
  sformCode: number;
  /** Voxel (0-based) to world (mm); sform when sform_code > 0, else qform, else a default. */
  affine: Affine;
  pixdim: [number, number, number];
  descrip: string;
  /** 'analyze' for an Analyze 7.5 .hdr/.img pair (no NIfTI magic), read as SPM reads it. */
  format?: 'nifti' | 'analyze';
  /** Where an Analyze image's orientation came from: a .mat file beside it, or the header alone. */
  orientationFrom?: 'mat-file' | 'header';
}

/**
 * Largest image vbm accepts: 2^28 voxels per volume (a 0.25 mm whole-brain grid is about
 * 2.5e8) and 2^34 bytes of voxel data in a file. A header claiming more is refused before
 * anything is allocated.
 */
export const MAX_VOXELS_PER_VOLUME = 2 ** 28;
export const MAX_IMAGE_BYTES = 2 ** 34;

/** Bytes of voxel data a header describes, from the start of the file: vox_offset + voxels x volumes x bytes. */
export function claimedBytes(h: Pick<NiftiHeader, 'dims' | 'nVolumes' | 'voxOffset' | 'datatype'>): number {
  return h.voxOffset + h.dims[0] * h.dims[1] * h.dims[2] * h.nVolumes * h.datatype.bytes;
}

const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Whether the voxel data is one volume of float32 in this machine's byte order, unscaled, at an
 * offset a Float32Array can view: the fit's kernels then read the file's bytes as they are.
 */
export function isPlainFloat32(
  h: Pick<NiftiHeader, 'datatype' | 'littleEndian' | 'slope' | 'inter' | 'nVolumes' | 'voxOffset'>,
): boolean {
  return (
    h.datatype.code === DT.FLOAT32 &&
    h.littleEndian === HOST_LE &&
    h.slope === 1 &&
    h.inter === 0 &&
    h.nVolumes === 1 &&
    h.voxOffset % 4 === 0
  );
}
/** CIFTI-2 intent codes (NIFTI_INTENT_CONNECTIVITY_*) and what the files hold. */
const CIFTI_KINDS: Record<number, string> = {
  3001: 'CIFTI-2 file of unknown kind',
  3002: 'CIFTI-2 dense connectivity file (.dconn.nii)',
  3003: 'CIFTI-2 dense data series (.dtseries.nii)',
  3004: 'CIFTI-2 parcellated connectivity file (.pconn.nii)',
  3005: 'CIFTI-2 parcellated data series (.ptseries.nii)',
  3006: 'CIFTI-2 dense scalar file (.dscalar.nii)',
  3007: 'CIFTI-2 dense label file (.dlabel.nii)',
  3008: 'CIFTI-2 parcellated scalar file (.pscalar.nii)',
  3009: 'CIFTI-2 parcellated-dense connectivity file (.pdconn.nii)',
  3010: 'CIFTI-2 dense-parcellated connectivity file (.dpconn.nii)',
};

/** A size that cannot be represented exactly is refused here; files are compared with the claim by the reader. */
function checkSize(h: NiftiHeader): void {
  if (!Number.isSafeInteger(claimedBytes(h))) {
    throw new VbmError(
      `${h.path}: the header claims ${h.dims.join('x')}x${h.nVolumes} ${h.datatype.name} voxels, more bytes than can be counted exactly`,
      'the header is corrupt or the file is not a brain image; re-export it',
    );
  }
}

/**
 * Refuse a header that claims more than any brain image holds (MAX_VOXELS_PER_VOLUME,
 * MAX_IMAGE_BYTES), saying the claimed size and the file's.
 */
export function checkSaneSize(h: NiftiHeader, fileBytes: string): void {
  const bytes = claimedBytes(h);
  if (h.dims[0] * h.dims[1] * h.dims[2] > MAX_VOXELS_PER_VOLUME || bytes > MAX_IMAGE_BYTES) {
    throw new VbmError(
      `${h.path}: the header claims ${h.dims.join('x')}x${h.nVolumes} ${h.datatype.name} voxels (${bytes} bytes) and the file holds ${fileBytes}: ` +
        `more than vbm accepts (${MAX_VOXELS_PER_VOLUME} voxels per volume, ${MAX_IMAGE_BYTES} bytes)`,
      'the header is corrupt or the file is not a brain image; re-export it',
    );
  }
}

export const NIFTI1_HEADER_BYTES = 348;
export const NIFTI2_HEADER_BYTES = 540;

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** Parse a header from the first bytes of a (decompressed) .nii or .hdr file. */
export function parseHeader(
  bytes: Uint8Array,
  path: string,
  imagePath: string,
  analyzeMat?: () => AnalyzeMat | undefined,
): NiftiHeader {
  const ab = toArrayBuffer(bytes.subarray(0, Math.min(bytes.length, NIFTI2_HEADER_BYTES)));
  if (bytes.length < NIFTI1_HEADER_BYTES) {
    throw new VbmError(
      `${path}: file is only ${bytes.length} bytes, shorter than a NIfTI header (348 bytes)`,
      'the file is truncated or is not a NIfTI image; re-export it',
    );
  }
  const pairOk = /\.hdr(\.gz)?$/i.test(path);
  if (!nifti.isNIFTI(ab, pairOk) && pairOk && isAnalyzeHeader(bytes)) {
    const h = parseAnalyzeHeader(bytes, path, imagePath, analyzeMat?.());
    checkSize(h);
    return h;
  }
  if (!nifti.isNIFTI(ab, pairOk)) {
    throw new VbmError(
      `${path}: not a NIfTI-1 or NIfTI-2 file (no 'n+1', 'ni1' or 'n+2' magic in the header)`,
      'vbm reads NIfTI (.nii, .nii.gz, .hdr/.img) and Analyze 7.5 (.hdr/.img); convert other formats to NIfTI first',
    );
  }
  let h: nifti.NIFTI1 | nifti.NIFTI2;
  try {
    h = nifti.readHeader(ab, pairOk);
  } catch (e) {
    throw new VbmError(
      `${path}: unreadable NIfTI header (${(e as Error).message})`,
      'the file is corrupt; re-export it',
    );
  }
  const version: 1 | 2 = h instanceof nifti.NIFTI2 ? 2 : 1;
  if (h.intent_code >= 3001 && h.intent_code <= 3099) {
    throw new VbmError(
      `${path}: a ${CIFTI_KINDS[h.intent_code] ?? `CIFTI-2 file (intent code ${h.intent_code})`}, not a volume: its data are surface vertices, parcels or connectivity, not voxels`,
      'vbm analyses volumetric images; use the volumetric (.nii) outputs of your pipeline, or a CIFTI tool (Connectome Workbench) for CIFTI data',
    );
  }
  const rank = h.dims[0] ?? NaN;
  if (!(rank >= 1 && rank <= 7)) {
    throw new VbmError(
      `${path}: header dim[0] = ${rank} is not between 1 and 7`,
      'the header is corrupt or byte-swapped wrongly',
    );
  }
  const dims: [number, number, number] = [1, 1, 1];
  for (let i = 0; i < 3; i++) dims[i] = i < rank ? Math.max(1, item(h.dims, i + 1, 'dim')) : 1;
  let nVolumes = 1;
  for (let i = 4; i <= rank; i++) nVolumes *= Math.max(1, item(h.dims, i, 'dim'));
  const datatype = datatypeInfo(h.datatypeCode);
  if (!datatype) {
    throw new VbmError(
      `${path}: NIfTI datatype ${h.datatypeCode} is not supported (vbm reads integer and real scalar types)`,
      'convert the image to float32 (e.g. with fslmaths -odt float or nibabel)',
    );
  }
  let slope = h.scl_slope;
  let inter = h.scl_inter;
  if (!Number.isFinite(slope) || slope === 0) {
    slope = 1;
    inter = 0;
  }
  if (!Number.isFinite(inter)) inter = 0;
  const pixdim: [number, number, number] = [h.pixDims[1] || 1, h.pixDims[2] || 1, h.pixDims[3] || 1];
  const view = new DataView(ab);
  let affine: Affine;
  if (h.sform_code > 0) {
    affine = identityAffine();
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < 4; c++) {
        item(affine, r)[c] =
          version === 1
            ? view.getFloat32(280 + (r * 4 + c) * 4, h.littleEndian)
            : view.getFloat64(400 + (r * 4 + c) * 8, h.littleEndian);
      }
  } else if (h.qform_code > 0) {
    affine = qformToAffine({
      quatern_b: h.quatern_b,
      quatern_c: h.quatern_c,
      quatern_d: h.quatern_d,
      qoffset_x: h.qoffset_x,
      qoffset_y: h.qoffset_y,
      qoffset_z: h.qoffset_z,
      qfac: (h.pixDims[0] ?? 0) < 0 ? -1 : 1,
      pixdim,
    });
  } else {
    // No orientation at all (old Analyze-style NIfTI): SPM12's default, voxel sizes on the
    // diagonal and the origin at the centre of the volume, no left-right flip.
    const [px, py, pz] = pixdim;
    const [dx, dy, dz] = dims;
    affine = [
      [px, 0, 0, (-px * (dx - 1)) / 2],
      [0, py, 0, (-py * (dy - 1)) / 2],
      [0, 0, pz, (-pz * (dz - 1)) / 2],
      [0, 0, 0, 1],
    ];
  }
  const voxOffset = h.vox_offset;
  if (!(voxOffset >= 0)) {
    throw new VbmError(
      `${path}: header vox_offset ${voxOffset} is invalid`,
      'the header is corrupt; re-export the image',
    );
  }
  const header: NiftiHeader = {
    path,
    imagePath,
    version,
    dims,
    nVolumes,
    datatype,
    littleEndian: h.littleEndian,
    voxOffset,
    slope,
    inter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    affine,
    pixdim,
    descrip: h.description ?? '',
    format: 'nifti',
  };
  checkSize(header);
  return header;
}
