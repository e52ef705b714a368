import { VbmError, item } from '../errors.js';
import { type Affine, affineRows, composeAffines, invertAffine } from '../io/nifti/affine.js';
import { nearestSourceIndex } from '../io/nifti/resample.js';
import { type Volume, voxelCount } from '../io/nifti/volume.js';
import { type NiftiFile, decodeVolume } from '../io/nifti/decode.js';
import { DT } from '../io/nifti/datatypes.js';
import type { ScanStats } from './accumulate.js';

/** SPM's threshold masking: none, an absolute value, or a fraction of each scan's global mean. */
export type ThresholdMasking =
  { type: 'none' } | { type: 'absolute'; value: number } | { type: 'relative'; value: number };

/** Which voxels are analysed: an explicit mask, SPM's implicit mask, and absolute or relative threshold masking. */
export interface MaskingOptions {
  /** Explicit mask image: voxels with value > 0 are analysed (nearest neighbour in mm space). */
  explicitMask?: string;
  /** SPM's implicit mask (default on): for integer scans, 0 means "no data". NaN always means no data. */
  implicit?: boolean;
  threshold?: ThresholdMasking;
}

/**
 * Explicit mask sampled on the scans' grid: for every scan voxel, the mask voxel nearest to the
 * same world (mm) position; a voxel is in when that mask value is > 0. Outside the mask's grid
 * counts as out.
 */
export function resampleMaskNearest(mask: Volume, dims: [number, number, number], affine: Affine): Uint8Array {
  if (onSameGrid(mask.dims, mask.affine, mask.data.length, dims, affine)) {
    // every scan voxel's nearest mask voxel is the one of the same index (see onSameGrid): the
    // same result as the lookup below, without computing it per voxel
    const out = new Uint8Array(mask.data.length);
    const data = mask.data;
    for (let i = 0; i < out.length; i++) if ((data[i] ?? 0) > 0) out[i] = 1;
    return out;
  }
  const src = nearestSourceIndex(mask, dims, affine);
  const out = new Uint8Array(src.length);
  // a source index is inside the mask's grid (or -1); a mask shorter than its grid counts as out there
  for (let i = 0; i < src.length; i++) {
    const s = src[i] ?? -1;
    if (s >= 0 && (mask.data[s] ?? 0) > 0) out[i] = 1;
  }
  return out;
}

/**
 * resampleMaskNearest of an opened mask file's first volume (what it gives for the volume
 * decodeVolume makes of it). A uint8 or int8 mask without scaling on the scans' own grid (the
 * usual brain mask) is read from its bytes, a voxel in where its byte is above 0 as its float32
 * value would be, without decoding it to float32 first.
 */
export function maskFileOnGrid(file: NiftiFile, dims: [number, number, number], affine: Affine): Uint8Array {
  const h = file.header;
  const nvox = voxelCount(h.dims);
  const code = h.datatype.code;
  const start = h.voxOffset;
  if (
    (code === DT.UINT8 || code === DT.INT8) &&
    h.slope === 1 &&
    h.inter === 0 &&
    start + nvox <= file.data.length &&
    onSameGrid(h.dims, h.affine, nvox, dims, affine)
  ) {
    const out = new Uint8Array(nvox);
    const data = file.data;
    // (indexed loops over typed arrays of length nvox from `start`: `?? 0` is never taken)
    if (code === DT.UINT8) for (let i = 0; i < nvox; i++) out[i] = (data[start + i] ?? 0) > 0 ? 1 : 0;
    else {
      const signed = new Int8Array(data.buffer, data.byteOffset + start, nvox);
      for (let i = 0; i < nvox; i++) out[i] = (signed[i] ?? 0) > 0 ? 1 : 0;
    }
    return out;
  }
  return resampleMaskNearest({ dims: h.dims, affine: h.affine, data: decodeVolume(file, 0) }, dims, affine);
}

/**
 * True when the mask's voxel (x, y, z) is the one nearest to the scans' voxel (x, y, z) for every
 * voxel of the scans' grid (same dimensions, a full mask): the scan-to-mask voxel mapping that
 * nearestSourceIndex rounds differs from the identity by less than 0.49 of a voxel anywhere on
 * the grid (a bound on |M - I| times the largest coordinates; rounding errors of the products are
 * ~1e-13 here), so each rounded source voxel is the scan voxel itself. Masks on the scans' own
 * grid (the usual case) pass; any real difference in position or voxel size does not.
 */
function onSameGrid(
  md: [number, number, number],
  maskAffine: Affine,
  maskLength: number,
  dims: [number, number, number],
  affine: Affine,
): boolean {
  if (md[0] !== dims[0] || md[1] !== dims[1] || md[2] !== dims[2]) return false;
  if (maskLength !== dims[0] * dims[1] * dims[2]) return false;
  const rows = affineRows(composeAffines(invertAffine(maskAffine), affine));
  const far = [dims[0] - 1, dims[1] - 1, dims[2] - 1, 1];
  for (let r = 0; r < 3; r++) {
    let bound = 0;
    for (let c = 0; c < 4; c++) {
      const m = item(item(rows, r, 'affine rows'), c, 'affine row');
      const dev = Math.abs(c === r ? m - 1 : m);
      if (!Number.isFinite(dev)) return false;
      bound += dev * item(far, c, 'grid corner');
    }
    if (!(bound < 0.49)) return false;
  }
  return true;
}

/**
 * SPM's global mean of a scan (spm_global): the mean of all voxels, then the mean of the
 * voxels above one eighth of that. NaN and infinite voxels are ignored.
 */
export function globalMean(data: Float32Array): number {
  let s = 0;
  let n = 0;
  // (an indexed loop: for-of over a typed array is ten times slower here; `?? NaN` is never taken)
  for (let i = 0; i < data.length; i++) {
    const v = data[i] ?? NaN;
    if (v - v === 0) {
      s += v;
      n++;
    }
  }
  const cut = s / (8 * n);
  s = 0;
  n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] ?? NaN;
    if (v > cut && v !== Infinity) {
      s += v;
      n++;
    }
  }
  return n ? s / n : NaN;
}

/**
 * SPM's analysis thresholds when the design has globals (xM.TH = fraction x rg x gSF for
 * relative masking, compared with the scaled data); undefined when each scan's threshold comes
 * from its own data (scanThreshold) or is a constant.
 */
export function globalThresholds(
  th: ThresholdMasking,
  globals?: { raw: number[]; gSF: number[] },
): number[] | undefined {
  if (th.type !== 'relative' || !globals || globals.raw.length === 0) return undefined;
  return globals.raw.map((g, i) => th.value * (g * item(globals.gSF, i, 'gSF')));
}

/** The threshold a voxel of this scan must exceed (SPM's xM.TH(j)). */
export function scanThreshold(th: ThresholdMasking, data: Float32Array): number {
  switch (th.type) {
    case 'none':
      return -Infinity;
    case 'absolute':
      return th.value;
    case 'relative': {
      const g = globalMean(data);
      if (!Number.isFinite(g)) throw new VbmError('relative threshold masking: a scan has no finite voxels');
      return th.value * g;
    }
  }
}

/** What one scan did to the mask and what it looks like, from the values already in memory. */
export interface ScanSummary {
  /** Candidate voxels this scan excludes (NaN, not above its threshold, or zero when zero means missing). */
  removed: number;
  /** Every candidate voxel is exactly zero. */
  allZero: boolean;
  /** Mean of the finite values over the candidate voxels; NaN when none is finite. */
  mean: number;
}

/**
 * A scan's summary from the counts the fit made while summing it. The mean is of the scan's own
 * values (the outlying-scan warning compares scans, not their gSF-scaled versions, which
 * proportional scaling makes alike); the counts are on the scaled data, as the mask is.
 */
export function scanSummary(stats: ScanStats, scale = 1): ScanSummary {
  return {
    removed: stats.removed,
    allZero: stats.nonZero === 0,
    mean: stats.finite ? stats.sum / stats.finite / scale : NaN,
  };
}

/**
 * Scans whose mean lies more than `k` standard deviations from the mean of the other
 * scans' (leave-one-out, so the odd scan does not widen its own yardstick), and by more than
 * 1% of that mean. Indices into `means`.
 */
export function outlyingGlobalMeans(means: number[], k = 4): number[] {
  const n = means.length;
  if (n < 5) return [];
  let s = 0;
  let ss = 0;
  let m = 0;
  for (const g of means)
    if (Number.isFinite(g)) {
      s += g;
      ss += g * g;
      m++;
    }
  const out: number[] = [];
  means.forEach((g, i) => {
    if (!Number.isFinite(g) || m - 1 < 4) return;
    const mean = (s - g) / (m - 1);
    const variance = Math.max(0, (ss - g * g - (m - 1) * mean * mean) / (m - 2));
    const d = Math.abs(g - mean);
    if (d > k * Math.sqrt(variance) && d > 0.01 * Math.abs(mean)) out.push(i);
  });
  return out;
}
