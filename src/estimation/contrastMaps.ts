import type { Contrast } from '../model/contrasts.js';
import { type Matrix, matmul, pinv, rank, transpose } from '../model/linalg.js';
import type { FittedModel } from './fitSolve.js';

/** The estimated contrast maps over the analysed voxels. */
export interface ContrastMaps {
  contrast: Contrast;
  /** 'T': con = c'b; 'F': ess = extra sum of squares. */
  effect: Float64Array;
  /** T or F statistic. */
  stat: Float64Array;
  /** [df1, df2] as SPM reports them ([1, df] for T). */
  df: [number, number];
}

/**
 * Contrasts read the fitted model; nothing is refitted. As SPM (spm_contrasts reads the float32
 * beta images), the betas enter at float32 precision, so contrasts computed now and contrasts
 * recomputed later from the saved beta_*.nii are identical.
 *   T = c'b / sqrt(ResMS * c'Bc),  B = pinv(X'X)
 *   F = (ESS / r) / ResMS,  ESS = (Cb)' pinv(C B C') (Cb),  r = rank(C B C')
 */
export function contrastMaps(fit: FittedModel, contrast: Contrast): ContrastMaps {
  const { p, beta, resMS } = fit;
  const m = fit.vox.length;
  const C = contrast.weights;
  const effect = new Float64Array(m);
  const stat = new Float64Array(m);
  if (contrast.type === 'T') {
    const c = C[0];
    const varFactor = matmul(matmul([c], fit.Bcov), transpose([c]))[0][0];
    for (let k = 0; k < m; k++) {
      let con = 0;
      for (let j = 0; j < p; j++) con += c[j] * Math.fround(beta[k * p + j]);
      effect[k] = con;
      stat[k] = con / Math.sqrt(resMS[k] * varFactor);
    }
    return { contrast, effect, stat, df: [1, fit.df] };
  }
  const M: Matrix = matmul(matmul(C, fit.Bcov), transpose(C));
  const Minv = pinv(M);
  const r = rank(M);
  const h = new Float64Array(C.length);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < C.length; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += C[i][j] * Math.fround(beta[k * p + j]);
      h[i] = s;
    }
    let ess = 0;
    for (let i = 0; i < C.length; i++) {
      let t = 0;
      for (let j = 0; j < C.length; j++) t += Minv[i][j] * h[j];
      ess += h[i] * t;
    }
    effect[k] = ess;
    stat[k] = ess / r / resMS[k];
  }
  return { contrast, effect, stat, df: [r, fit.df] };
}
