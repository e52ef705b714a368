import { join } from 'node:path';
import type { StagedFiles } from '../node/atomic.js';
import type { FittedModel } from '../estimation/fit.js';
import type { ContrastMaps } from '../estimation/contrastMaps.js';
import { contrastImages, estimateImages, modelImages, rpvImage } from '../estimation/images.js';

// the images' names and bytes are made by the pure estimation/images.ts; these names stay importable from here
export { imageName, pad, toGrid } from '../estimation/images.js';

/** Estimation outputs, as SPM writes them: betas float32 NaN outside, ResMS/RPV float64, mask uint8. */
export function stageModelImages(dir: string, fit: FittedModel, columns: string[], staged: StagedFiles): void {
  for (const im of modelImages(fit, columns)) staged.write(join(dir, im.name), im.bytes);
}

/** The estimates' images (betas, ResMS, mask), which need no smoothness: the model's images but RPV. */
export function stageEstimateImages(
  dir: string,
  fit: Omit<FittedModel, 'smoothness'>,
  columns: string[],
  staged: StagedFiles,
): void {
  for (const im of estimateImages(fit, columns)) staged.write(join(dir, im.name), im.bytes);
}

/** RPV.nii, the resels per voxel (the model's last image). */
export function stageRpvImage(dir: string, fit: FittedModel, staged: StagedFiles): void {
  const im = rpvImage(fit);
  staged.write(join(dir, im.name), im.bytes);
}

/** Contrast outputs: con/ess float32 NaN outside; spmT/spmF float32 0 outside, with NIfTI intent codes. */
export function stageContrastImages(
  dir: string,
  fit: Omit<FittedModel, 'smoothness'>,
  maps: ContrastMaps,
  staged: StagedFiles,
): { effect: string; stat: string } {
  const { effect, stat } = contrastImages(fit, maps);
  staged.write(join(dir, effect.name), effect.bytes);
  staged.write(join(dir, stat.name), stat.bytes);
  return { effect: effect.name, stat: stat.name };
}
