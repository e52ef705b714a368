import type { Contrast } from '../model/contrasts.js';
import { invariant, item } from '../errors.js';
import { type Matrix, entry, matmul, pinv, rank, transpose } from '../model/linalg.js';
import type { FittedModel } from './fitSolve.js';
import type { PostKernel } from './postKernel.js';

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
 * `kernel`, when given, runs the voxel loops (the native addon's: the same bits). `into`, when
 * given, receives the maps (one value per analysed voxel each; e.g. arrays reused from contrast to
 * contrast once the previous one's images are encoded); otherwise they are new arrays.
 */
export function contrastMaps(
  fit: Omit<FittedModel, 'smoothness'>,
  contrast: Contrast,
  kernel?: PostKernel,
  into?: { effect: Float64Array; stat: Float64Array },
): ContrastMaps {
  const { p, beta, resMS } = fit;
  const m = fit.vox.length;
  const C = contrast.weights;
  invariant(!into || (into.effect.length === m && into.stat.length === m), 'contrast maps: one value per voxel');
  const effect = into?.effect ?? new Float64Array(m);
  const stat = into?.stat ?? new Float64Array(m);
  // sizes checked once; the per-voxel reads say `?? NaN` for the type checker only
  invariant(beta.length === m * p && resMS.length === m, 'contrast maps: p betas and a ResMS per voxel');
  invariant(
    C.every((row) => row.length === p),
    `contrast ${contrast.name}: one weight per column of the design`,
  );
  if (contrast.type === 'T') {
    const c = item(C, 0, 'T contrast rows');
    const varFactor = entry(matmul(matmul([c], fit.Bcov), transpose([c])), 0, 0);
    if (kernel) {
      kernel.contrastT(beta, resMS, p, Float64Array.from(c), varFactor, effect, stat);
      return { contrast, effect, stat, df: [1, fit.df] };
    }
    for (let k = 0; k < m; k++) {
      let con = 0;
      for (let j = 0; j < p; j++) con += (c[j] ?? NaN) * Math.fround(beta[k * p + j] ?? NaN);
      effect[k] = con;
      stat[k] = con / Math.sqrt((resMS[k] ?? NaN) * varFactor);
    }
    return { contrast, effect, stat, df: [1, fit.df] };
  }
  const M: Matrix = matmul(matmul(C, fit.Bcov), transpose(C));
  const Minv = pinv(M);
  const r = rank(M);
  const h = new Float64Array(C.length);
  invariant(Minv.length === C.length && Minv.every((row) => row.length === C.length), "pinv(C B C') is square");
  const q = C.length;
  const Cf = Float64Array.from(C.flat());
  const Mf = Float64Array.from(Minv.flat());
  if (kernel) {
    kernel.contrastF(beta, resMS, p, q, Cf, Mf, r, effect, stat);
    return { contrast, effect, stat, df: [r, fit.df] };
  }
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < q; i++) {
      let s = 0;
      for (let j = 0; j < p; j++) s += (Cf[i * p + j] ?? NaN) * Math.fround(beta[k * p + j] ?? NaN);
      h[i] = s;
    }
    let ess = 0;
    for (let i = 0; i < q; i++) {
      let t = 0;
      for (let j = 0; j < q; j++) t += (Mf[i * q + j] ?? NaN) * (h[j] ?? NaN);
      ess += (h[i] ?? NaN) * t;
    }
    effect[k] = ess;
    stat[k] = ess / r / (resMS[k] ?? NaN);
  }
  return { contrast, effect, stat, df: [r, fit.df] };
}
