/**
 * The fit's images as SPM12 writes them, encoded to NIfTI bytes (pure: the Node shell writes
 * them to files, a browser offers them for download): names, types and values outside the mask.
 */
import { invariant } from '../errors.js';
import { DT } from '../io/nifti/datatypes.js';
import { type EncodeOptions, encodeNifti, encodeNiftiWith, niftiHeader } from '../io/nifti/encode.js';
import { voxelCount } from '../io/nifti/volume.js';
import type { ContrastMaps } from './contrastMaps.js';
import type { FittedModel } from './fitSolve.js';
import type { PostKernel } from './postKernel.js';

/** SPM12's output names. */
export const imageName = {
  beta: (j: number): string => `beta_${pad(j)}.nii`,
  con: (k: number): string => `con_${pad(k)}.nii`,
  ess: (k: number): string => `ess_${pad(k)}.nii`,
  spmT: (k: number): string => `spmT_${pad(k)}.nii`,
  spmF: (k: number): string => `spmF_${pad(k)}.nii`,
  ResMS: 'ResMS.nii',
  mask: 'mask.nii',
  RPV: 'RPV.nii',
};

/** SPM's four-digit numbering: 1 -> '0001'. */
export function pad(k: number): string {
  return String(k).padStart(4, '0');
}

/** Spread values over the analysed voxels onto the full grid, `outside` elsewhere. */
export function toGrid(
  fit: FittedModel,
  values: ArrayLike<number>,
  outside: number,
  kind: 'f32' | 'f64' = 'f32',
): Float32Array | Float64Array {
  const n = voxelCount(fit.dims);
  const out = kind === 'f32' ? new Float32Array(n) : new Float64Array(n);
  fillGrid(fit, values, outside, out);
  return out;
}

/** toGrid into a zeroed full-grid array. */
function fillGrid(
  fit: Pick<FittedModel, 'vox'>,
  values: ArrayLike<number>,
  outside: number,
  out: Float32Array | Float64Array,
): void {
  // the fit's float64 values take spreadStrided's typed loop; any other array-like the loop below
  if (values instanceof Float64Array) {
    spreadStrided(fit.vox, values, 1, 0, outside, out);
    return;
  }
  if (outside !== 0) out.fill(outside);
  invariant(values.length >= fit.vox.length, 'one value per masked voxel');
  for (let k = 0; k < fit.vox.length; k++) out[fit.vox[k] ?? -1] = values[k] ?? NaN;
}

/**
 * out[vox[k]] = values[k * stride + offset] for every masked voxel k, `outside` at every other
 * voxel of `out`, whatever it held (e.g. one column of the voxel-major betas into a reused buffer).
 * `kernel`, when given, does it (the native addon's loop: the same bytes).
 */
export function spreadStrided(
  vox: Int32Array,
  values: Float64Array,
  stride: number,
  offset: number,
  outside: number,
  out: Float32Array | Float64Array,
  kernel?: PostKernel,
): void {
  const m = vox.length;
  invariant(values.length >= (m - 1) * stride + offset + 1 || m === 0, 'one value per masked voxel');
  if (kernel) {
    kernel.spread(vox, values, stride, offset, outside, out);
    return;
  }
  out.fill(outside);
  for (let k = 0; k < m; k++) out[vox[k] ?? -1] = values[k * stride + offset] ?? NaN;
}

/**
 * An image still to be encoded: `encode` makes its bytes, in a buffer from `alloc` when given
 * (of the size asked for, any contents; see encodeNiftiWith), so a caller that writes images one at
 * a time can hand a written image's buffer to the next. `grid`, for an image of values spread over
 * the analysed voxels, says what its bytes are made of, for a writer that makes them itself.
 */
export interface ImageJob {
  name: string;
  encode(alloc?: (bytes: number) => ArrayBuffer): Uint8Array;
  grid?: () => GridImageParts;
}

/**
 * An image's bytes as a writer makes them: `header`, then `nvox` little-endian float32 (`f32`) or
 * float64 voxels, `outside` everywhere but voxel vox[k], which is values[k * stride + offset] (as
 * float32: rounded as a Float32Array rounds). encode()'s bytes exactly.
 */
export interface GridImageParts {
  header: Uint8Array;
  vox: Int32Array;
  values: Float64Array;
  stride: number;
  offset: number;
  outside: number;
  f32: boolean;
  nvox: number;
}

/**
 * Writes an image's file at `path` from its parts (a native writer: estimation/nativeFit.ts
 * nativeImageWriter), resolving to the file's content hash (node/contentHash.ts).
 */
export type ImageWriter = (path: string, parts: GridImageParts) => Promise<string>;

/**
 * An image job of values spread over the analysed voxels, with its parts: encode() gives encodeNifti of
 * toGrid(fit, values, outside, kind), the values spread straight into the file's buffer (no grid-sized
 * array per image). With `stride`, the values are values[k * stride + offset] (one column of the
 * voxel-major betas); `kernel`, when given, spreads them (see spreadStrided).
 */
function gridJob(
  name: string,
  fit: Pick<FittedModel, 'dims' | 'affine' | 'vox'>,
  values: Float64Array,
  outside: number,
  kind: 'f32' | 'f64',
  opts: Omit<EncodeOptions, 'datatype' | 'gzip' | 'gzipLevel' | 'bigEndian' | 'slope' | 'inter'>,
  stride = 1,
  offset = 0,
  kernel?: PostKernel,
): ImageJob {
  return {
    name,
    encode: (alloc) =>
      encodeNiftiWith(
        { dims: fit.dims, affine: fit.affine },
        { ...opts, datatype: kind === 'f32' ? DT.FLOAT32 : DT.FLOAT64 },
        (out) => spreadStrided(fit.vox, values, stride, offset, outside, out, kernel),
        alloc,
      ),
    grid: () => ({
      header: niftiHeader(
        { dims: fit.dims, affine: fit.affine },
        { ...opts, datatype: kind === 'f32' ? DT.FLOAT32 : DT.FLOAT64 },
      ),
      vox: fit.vox,
      values,
      stride,
      offset,
      outside,
      f32: kind === 'f32',
      nvox: voxelCount(fit.dims),
    }),
  };
}

/** A named image file's bytes. */
export interface ImageBytes {
  name: string;
  bytes: Uint8Array;
}

/** Estimation outputs, as SPM writes them: betas float32 NaN outside, ResMS/RPV float64, mask uint8. */
export function modelImages(fit: FittedModel, columns: string[]): ImageBytes[] {
  return [...estimateImages(fit, columns), rpvImage(fit)];
}

/** modelImages but RPV: the betas, ResMS and the mask, which the smoothness estimate is not needed for. */
export function estimateImages(fit: Omit<FittedModel, 'smoothness'>, columns: string[]): ImageBytes[] {
  return estimateImageJobs(fit, columns).map((job) => ({ name: job.name, bytes: job.encode() }));
}

/** estimateImages, each image encoded when asked (see ImageJob); `kernel` spreads the values (see spreadStrided). */
export function estimateImageJobs(
  fit: Omit<FittedModel, 'smoothness'>,
  columns: string[],
  kernel?: PostKernel,
): ImageJob[] {
  const { dims, affine } = fit;
  const m = fit.vox.length;
  invariant(fit.beta.length === m * fit.p, 'p betas per masked voxel');
  const out: ImageJob[] = [];
  for (let j = 0; j < fit.p; j++) {
    out.push(
      gridJob(
        imageName.beta(j + 1),
        fit,
        fit.beta,
        NaN,
        'f32',
        { descrip: `spm_spm:beta (${pad(j + 1)}) - ${columns[j]}` },
        fit.p,
        j,
        kernel,
      ),
    );
  }
  out.push(
    gridJob(imageName.ResMS, fit, fit.resMS, NaN, 'f64', { descrip: 'spm_spm:Residual sum-of-squares' }, 1, 0, kernel),
  );
  out.push({
    name: imageName.mask,
    encode: () =>
      encodeNifti({ dims, affine, data: fit.mask }, { datatype: DT.UINT8, descrip: 'spm_spm:resultant analysis mask' }),
  });
  return out;
}

/** RPV.nii: the resels per voxel, float64, NaN outside (and where derivatives are missing). */
export function rpvImage(fit: FittedModel): ImageBytes {
  const job = rpvImageJob(fit);
  return { name: job.name, bytes: job.encode() };
}

/** rpvImage, encoded when asked (see ImageJob); `kernel` spreads the values (see spreadStrided). */
export function rpvImageJob(fit: FittedModel, kernel?: PostKernel): ImageJob {
  return gridJob(
    imageName.RPV,
    fit,
    fit.smoothness.rpv,
    NaN,
    'f64',
    { descrip: 'spm_spm: resels per voxel' },
    1,
    0,
    kernel,
  );
}

/** Contrast outputs: con/ess float32 NaN outside; spmT/spmF float32 0 outside, with NIfTI intent codes. */
export function contrastImages(
  fit: Omit<FittedModel, 'smoothness'>,
  maps: ContrastMaps,
): { effect: ImageBytes; stat: ImageBytes } {
  const { effect, stat } = contrastImageJobs(fit, maps);
  return { effect: { name: effect.name, bytes: effect.encode() }, stat: { name: stat.name, bytes: stat.encode() } };
}

/** contrastImages, each encoded when asked (see ImageJob); `kernel` spreads the values (see spreadStrided). */
export function contrastImageJobs(
  fit: Omit<FittedModel, 'smoothness'>,
  maps: ContrastMaps,
  kernel?: PostKernel,
): { effect: ImageJob; stat: ImageJob } {
  const c = maps.contrast;
  const isT = c.type === 'T';
  const effect = gridJob(
    isT ? imageName.con(c.index) : imageName.ess(c.index),
    fit,
    maps.effect,
    NaN,
    'f32',
    { descrip: `SPM contrast - ${c.index}: ${c.name}`.slice(0, 79) },
    1,
    0,
    kernel,
  );
  const stat = gridJob(
    isT ? imageName.spmT(c.index) : imageName.spmF(c.index),
    fit,
    maps.stat,
    0,
    'f32',
    {
      descrip:
        `SPM{${isT ? 'T' : 'F'}_[${isT ? maps.df[1].toFixed(1) : `${maps.df[0].toFixed(1)},${maps.df[1].toFixed(1)}`}]} - contrast ${c.index}: ${c.name}`.slice(
          0,
          79,
        ),
      intent: isT
        ? { code: 3, p1: maps.df[1], name: 'spmT' }
        : { code: 4, p1: maps.df[0], p2: maps.df[1], name: 'spmF' },
    },
    1,
    0,
    kernel,
  );
  return { effect, stat };
}
