/**
 * The contrasts stage on its own: when only the contrasts changed, compute them from the
 * estimated model on disk (betas, ResMS, mask) instead of reading the scans again, and rewrite
 * the contrast images and model.json.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { StagedFiles } from '../node/atomic.js';
import { type Design } from '../model/designMatrix.js';
import { type Contrast, type ContrastSpec, buildContrasts } from '../model/contrasts.js';
import { matmul, pinv, transpose } from '../model/linalg.js';
import { contrastMaps } from '../estimation/contrastMaps.js';
import { whitenedDesign } from '../estimation/nonSphericity.js';
import type { FittedModel } from '../estimation/fit.js';
import { MODEL_FILE, MODEL_FORMAT_VERSION, type ModelRecord } from './modelRecord.js';
import { type Analysis, openAnalysis } from './analysis.js';
import { stageContrastImages } from './outputs.js';

/** The estimated model as saved in an analysis folder (enough for contrasts). */
export function loadFittedModel(dir: string | Analysis): FittedModel {
  const a = typeof dir === 'string' ? openAnalysis(dir) : dir;
  const rec = a.record;
  const mask = a.image(rec.images.mask);
  const nvox = mask.data.length;
  const m8 = new Uint8Array(nvox);
  let count = 0;
  for (let i = 0; i < nvox; i++)
    if (mask.data[i] > 0) {
      m8[i] = 1;
      count++;
    }
  const vox = new Int32Array(count);
  for (let i = 0, k = 0; i < nvox; i++) if (m8[i]) vox[k++] = i;
  const p = rec.design.columns.length;
  const beta = new Float64Array(count * p);
  rec.images.beta.forEach((name, j) => {
    const b = a.image(name).data;
    for (let k = 0; k < count; k++) beta[k * p + j] = b[vox[k]];
  });
  const rms = a.image64(rec.images.ResMS).data;
  const resMS = Float64Array.from(vox, (g) => rms[g]);
  const X = rec.design.matrix;
  const ns = rec.nonSphericity;
  return {
    dims: rec.grid.dims,
    affine: rec.grid.affine,
    mask: m8,
    vox,
    n: rec.design.n,
    p,
    beta,
    resMS,
    trRV: rec.design.trRV,
    df: ns ? ns.erdf : rec.design.df,
    Bcov: ns ? whitenedDesign(X, ns.W, ns.V).Bcov : pinv(matmul(transpose(X), X)),
    smoothness: {
      fwhmVox: rec.smoothness.FWHM_vox,
      rpv: new Float64Array(0),
      nResiduals: rec.smoothness.nResiduals,
      nValid: rec.smoothness.nValidVoxels,
    } as unknown as FittedModel['smoothness'],
    scans: rec.scans,
    timings: {},
    warnings: [],
  };
}

/**
 * Recompute the contrasts of an analysis folder from its saved model; returns the files written.
 * `built`: the contrasts already built from `specs` on `design` (the pipeline builds them once).
 */
export function updateContrasts(
  dir: string,
  design: Design,
  specs: ContrastSpec[],
  command?: string,
  built?: Contrast[],
): string[] {
  const a = openAnalysis(dir);
  const fit = loadFittedModel(a);
  const contrasts = built ?? buildContrasts(specs, design);
  const maps = contrasts.map((c) => contrastMaps(fit, c));
  const staged = new StagedFiles();
  try {
    const images = maps.map((m) => stageContrastImages(a.dir, fit, m, staged));
    const record: ModelRecord = {
      ...a.record,
      formatVersion: MODEL_FORMAT_VERSION, // the shape written is today's (scans' hashes as `hash`)
      ...(command
        ? {
            commands: {
              ...(a.record.commands ?? (a.record.command ? { estimate: a.record.command } : {})),
              contrasts: command,
            },
          }
        : {}),
      contrasts: maps.map((m, i) => ({
        index: m.contrast.index,
        name: m.contrast.name,
        type: m.contrast.type,
        weights: m.contrast.weights,
        df: m.df,
        images: images[i],
      })),
    };
    staged.write(join(a.dir, MODEL_FILE), JSON.stringify(record, null, 1) + '\n');
    const written = new Set(staged.commit());
    for (const c of a.record.contrasts)
      for (const f of [c.images.effect, c.images.stat])
        if (!written.has(join(a.dir, f))) rmSync(join(a.dir, f), { force: true });
    return [...images.flatMap((i) => [i.effect, i.stat]), MODEL_FILE];
  } catch (e) {
    staged.abort();
    throw e;
  }
}
