import { join } from 'node:path';
import type { StagedFiles } from '../node/atomic.js';
import type { FittedModel } from '../estimation/fit.js';
import type { ContrastMaps } from '../estimation/contrastMaps.js';
import { contrastImages, modelImages } from '../estimation/images.js';

// the images' names and bytes are made by the pure estimation/images.ts; these names stay importable from here
export { imageName, pad, toGrid } from '../estimation/images.js';

/** Estimation outputs, as SPM writes them: betas float32 NaN outside, ResMS/RPV float64, mask uint8. */
export function stageModelImages(dir: string, fit: FittedModel, columns: string[], staged: StagedFiles): void {
  for (const im of modelImages(fit, columns)) staged.write(join(dir, im.name), im.bytes);
}

/** Contrast outputs: con/ess float32 NaN outside; spmT/spmF float32 0 outside, with NIfTI intent codes. */
export function stageContrastImages(
  dir: string,
  fit: FittedModel,
  maps: ContrastMaps,
  staged: StagedFiles,
): { effect: string; stat: string } {
  const { effect, stat } = contrastImages(fit, maps);
  staged.write(join(dir, effect.name), effect.bytes);
  staged.write(join(dir, stat.name), stat.bytes);
  return { effect: effect.name, stat: stat.name };
}
