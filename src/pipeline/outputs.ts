import { join } from 'node:path';
import type { StagedFiles } from '../io/atomic.js';
import { DT } from '../io/nifti/datatypes.js';
import { encodeNifti } from '../io/nifti/write.js';
import type { FittedModel } from '../estimation/fit.js';
import type { ContrastMaps } from '../estimation/contrastMaps.js';

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
  const n = fit.dims[0] * fit.dims[1] * fit.dims[2];
  const out = kind === 'f32' ? new Float32Array(n) : new Float64Array(n);
  if (outside !== 0) out.fill(outside);
  for (let k = 0; k < fit.vox.length; k++) out[fit.vox[k]] = values[k];
  return out;
}

/** Estimation outputs, as SPM writes them: betas float32 NaN outside, ResMS/RPV float64, mask uint8. */
export function stageModelImages(dir: string, fit: FittedModel, columns: string[], staged: StagedFiles): void {
  const { dims, affine } = fit;
  const m = fit.vox.length;
  for (let j = 0; j < fit.p; j++) {
    const b = new Float64Array(m);
    for (let k = 0; k < m; k++) b[k] = fit.beta[k * fit.p + j];
    staged.write(
      join(dir, imageName.beta(j + 1)),
      encodeNifti(
        { dims, affine, data: toGrid(fit, b, NaN) },
        { descrip: `spm_spm:beta (${pad(j + 1)}) - ${columns[j]}` },
      ),
    );
  }
  staged.write(
    join(dir, imageName.ResMS),
    encodeNifti(
      { dims, affine, data: toGrid(fit, fit.resMS, NaN, 'f64') },
      { datatype: DT.FLOAT64, descrip: 'spm_spm:Residual sum-of-squares' },
    ),
  );
  staged.write(
    join(dir, imageName.mask),
    encodeNifti({ dims, affine, data: fit.mask }, { datatype: DT.UINT8, descrip: 'spm_spm:resultant analysis mask' }),
  );
  staged.write(
    join(dir, imageName.RPV),
    encodeNifti(
      { dims, affine, data: toGrid(fit, fit.smoothness.rpv, NaN, 'f64') },
      { datatype: DT.FLOAT64, descrip: 'spm_spm: resels per voxel' },
    ),
  );
}

/** Contrast outputs: con/ess float32 NaN outside; spmT/spmF float32 0 outside, with NIfTI intent codes. */
export function stageContrastImages(
  dir: string,
  fit: FittedModel,
  maps: ContrastMaps,
  staged: StagedFiles,
): { effect: string; stat: string } {
  const { dims, affine } = fit;
  const c = maps.contrast;
  const isT = c.type === 'T';
  const effect = isT ? imageName.con(c.index) : imageName.ess(c.index);
  const stat = isT ? imageName.spmT(c.index) : imageName.spmF(c.index);
  staged.write(
    join(dir, effect),
    encodeNifti(
      { dims, affine, data: toGrid(fit, maps.effect, NaN) },
      { descrip: `SPM contrast - ${c.index}: ${c.name}`.slice(0, 79) },
    ),
  );
  staged.write(
    join(dir, stat),
    encodeNifti(
      { dims, affine, data: toGrid(fit, maps.stat, 0) },
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
    ),
  );
  return { effect, stat };
}
