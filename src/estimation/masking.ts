import { VbmError } from '../errors.js';
import type { Affine } from '../io/nifti/affine.js';
import { nearestSourceIndex } from '../io/nifti/resample.js';
import type { Volume } from '../io/nifti/volume.js';

/** SPM's threshold masking: none, an absolute value, or a fraction of each scan's global mean. */
export type ThresholdMasking = { type: 'none' } | { type: 'absolute'; value: number } | { type: 'relative'; value: number };

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
  const src = nearestSourceIndex(mask, dims, affine);
  const out = new Uint8Array(src.length);
  for (let i = 0; i < src.length; i++) if (src[i] >= 0 && mask.data[src[i]] > 0) out[i] = 1;
  return out;
}

/**
 * SPM's global mean of a scan (spm_global): the mean of all voxels, then the mean of the
 * voxels above one eighth of that. NaN and infinite voxels are ignored.
 */
export function globalMean(data: Float32Array): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v === 0) {
      s += v;
      n++;
    }
  }
  const cut = s / (8 * n);
  s = 0;
  n = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
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
export function globalThresholds(th: ThresholdMasking, globals?: { raw: number[]; gSF: number[] }): number[] | undefined {
  if (th.type !== 'relative' || !globals || globals.raw.length === 0) return undefined;
  return globals.raw.map((g, i) => th.value * (g * globals.gSF[i]));
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
