import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Affine, applyAffine } from '../io/nifti/affine.js';
import { encodeNifti } from '../node/nifti/write.js';
import { DT } from '../io/nifti/datatypes.js';
import type { Volume } from '../io/nifti/volume.js';
import { Rng } from './random.js';
import { gaussianSmooth } from './smooth.js';

/** A planted effect: a Gaussian blob at a world position whose height follows a covariate. */
export interface PlantedEffect {
  covariate: string;
  centreMm: [number, number, number];
  sigmaMm: number;
  /** Change of the scan value per standard deviation of the covariate, at the blob's centre. */
  perSd: number;
}

export interface CohortOptions {
  n: number;
  dims: [number, number, number];
  voxelMm: number;
  /** 'LAS' stores x decreasing along i (as SPM writes), 'RAS' increasing. */
  storage?: 'LAS' | 'RAS';
  /** Smoothness of the subject noise, mm. */
  noiseFwhmMm?: number;
  noiseSd?: number;
  effects?: PlantedEffect[];
  seed?: number;
  /** File type of the scans; 'mixed' alternates .nii.gz and .nii. */
  format?: 'nii' | 'nii.gz' | 'mixed';
  /** Noise fields are drawn from a pool of this size and mixed in pairs (fast for big cohorts). */
  noisePool?: number;
}

export interface Cohort {
  affine: Affine;
  dims: [number, number, number];
  /** Brain-shaped template (grey-matter-like values in [0, 1]). */
  template: Float32Array;
  covariates: Record<string, number[]>;
  /** Returns subject i's scan. */
  scan(i: number): Float32Array;
}

/** An MNI-like grid: origin so that world (0,0,0) falls near the grid centre, as SPM's templates. */
export function mniLikeAffine(dims: readonly number[], voxelMm: number, storage: 'LAS' | 'RAS' = 'LAS'): Affine {
  const cx = ((dims[0] - 1) / 2) * voxelMm;
  const cy = ((dims[1] - 1) / 2) * voxelMm + 18;
  const cz = ((dims[2] - 1) / 2) * voxelMm - 18;
  return storage === 'LAS'
    ? [
        [-voxelMm, 0, 0, cx],
        [0, voxelMm, 0, -cy],
        [0, 0, voxelMm, -cz],
        [0, 0, 0, 1],
      ]
    : [
        [voxelMm, 0, 0, -cx],
        [0, voxelMm, 0, -cy],
        [0, 0, voxelMm, -cz],
        [0, 0, 0, 1],
      ];
}

/** A brain-like phantom: an ellipsoid with a bright cortical rim and a darker core, smooth edges. */
export function brainTemplate(dims: [number, number, number], affine: Affine): Float32Array {
  const out = new Float32Array(dims[0] * dims[1] * dims[2]);
  let i = 0;
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++, i++) {
        const [wx, wy, wz] = applyAffine(affine, x, y, z);
        const r = Math.sqrt((wx / 68) ** 2 + ((wy + 18) / 88) ** 2 + ((wz - 14) / 62) ** 2);
        const brain = 1 / (1 + Math.exp((r - 1) * 30));
        const rim = Math.exp(-(((r - 0.86) / 0.09) ** 2));
        const deep = Math.exp(-((wx / 20) ** 2 + ((wy + 10) / 25) ** 2 + (wz / 18) ** 2));
        out[i] = brain * (0.25 + 0.55 * rim + 0.4 * deep);
      }
  return out;
}

/** A synthetic cohort of grey-matter-like scans with known covariate effects and smooth noise (for tests and benchmarks). */
export function makeCohort(o: CohortOptions): Cohort {
  const rng = new Rng(o.seed ?? 1);
  const affine = mniLikeAffine(o.dims, o.voxelMm, o.storage ?? 'LAS');
  const template = brainTemplate(o.dims, affine);
  const n = o.n;
  const covariates: Record<string, number[]> = {
    age: Array.from({ length: n }, () => Math.round((20 + 60 * rng.uniform()) * 10) / 10),
    sex: Array.from({ length: n }, () => rng.int(2)),
    apoe4: Array.from({ length: n }, () => [0, 0, 0, 1, 1, 2][rng.int(6)]),
  };
  const fwhmVox = (o.noiseFwhmMm ?? 8) / o.voxelMm;
  const sd = o.noiseSd ?? 0.05;
  const nvox = template.length;
  const poolSize = Math.min(o.noisePool ?? n, n);
  const pool: Float32Array[] = [];
  const noiseField = (): Float32Array => {
    const white = new Float32Array(nvox);
    for (let k = 0; k < nvox; k++) white[k] = rng.normal();
    const sm = gaussianSmooth(white, o.dims, [fwhmVox, fwhmVox, fwhmVox]);
    // rescale to unit variance
    let s2 = 0;
    for (let k = 0; k < nvox; k++) s2 += sm[k] * sm[k];
    const f = 1 / Math.sqrt(s2 / nvox);
    for (let k = 0; k < nvox; k++) sm[k] *= f;
    return sm;
  };
  for (let k = 0; k < poolSize; k++) pool.push(noiseField());
  const mix = Array.from({ length: n }, (_, i) =>
    poolSize === n
      ? { a: i, b: -1, w: 1 }
      : { a: rng.int(poolSize), b: rng.int(poolSize), w: rng.uniform() * 2 * Math.PI },
  );
  // effect maps: blob(x) for each planted effect
  const blobs = (o.effects ?? []).map((e) => {
    const vals = covariates[e.covariate];
    if (!vals) throw new Error(`planted effect on unknown covariate ${e.covariate}`);
    const mean = vals.reduce((s, v) => s + v, 0) / n;
    const sdv = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1)) || 1;
    const map = new Float32Array(nvox);
    let i = 0;
    for (let z = 0; z < o.dims[2]; z++)
      for (let y = 0; y < o.dims[1]; y++)
        for (let x = 0; x < o.dims[0]; x++, i++) {
          const [wx, wy, wz] = applyAffine(affine, x, y, z);
          const d2 = (wx - e.centreMm[0]) ** 2 + (wy - e.centreMm[1]) ** 2 + (wz - e.centreMm[2]) ** 2;
          map[i] = Math.exp(-d2 / (2 * e.sigmaMm * e.sigmaMm));
        }
    return { map, vals, mean, sdv, perSd: e.perSd };
  });
  return {
    affine,
    dims: o.dims,
    template,
    covariates,
    scan(i: number): Float32Array {
      const m = mix[i];
      const out = new Float32Array(nvox);
      const A = pool[m.a];
      const B = m.b >= 0 ? pool[m.b] : undefined;
      const ca = B ? Math.cos(m.w) : 1;
      const cb = B ? Math.sin(m.w) : 0;
      for (let k = 0; k < nvox; k++) {
        const t = template[k];
        if (t < 0.01) continue;
        const noise = B ? ca * A[k] + cb * B[k] : A[k];
        let v = t + sd * noise * Math.min(1, t * 4);
        for (const b of blobs) v += b.map[k] * b.perSd * ((b.vals[i] - b.mean) / b.sdv) * Math.min(1, t * 4);
        out[k] = v;
      }
      return out;
    },
  };
}

/** Write a cohort as scan files plus design.csv; returns the spreadsheet's path. */
export function writeCohort(
  dir: string,
  cohort: Cohort,
  o: { format?: 'nii' | 'nii.gz' | 'mixed'; onScan?: (i: number) => void; gzipLevel?: number } = {},
): string {
  mkdirSync(join(dir, 'scans'), { recursive: true });
  const n = cohort.covariates.age.length;
  const lines = ['scan,age,sex,apoe4'];
  for (let i = 0; i < n; i++) {
    const fmt = o.format === 'mixed' ? (i % 2 ? 'nii' : 'nii.gz') : (o.format ?? 'nii');
    const name = `scans/smwc1sub-${String(i + 1).padStart(4, '0')}.${fmt}`;
    const vol: Volume = { dims: cohort.dims, affine: cohort.affine, data: cohort.scan(i) };
    writeFileSync(
      join(dir, name),
      encodeNifti(vol, {
        datatype: DT.FLOAT32,
        gzip: fmt === 'nii.gz',
        gzipLevel: o.gzipLevel,
        descrip: 'vbm synthetic grey matter',
      }),
    );
    lines.push(`${name},${cohort.covariates.age[i]},${cohort.covariates.sex[i]},${cohort.covariates.apoe4[i]}`);
    o.onScan?.(i);
  }
  const design = join(dir, 'design.csv');
  writeFileSync(design, lines.join('\n') + '\n');
  return design;
}

/** A mask of the phantom's brain (template > threshold), as uint8 NIfTI bytes. */
export function templateMask(cohort: Cohort, threshold = 0.1): Uint8Array {
  const data = new Uint8Array(cohort.template.length);
  for (let k = 0; k < data.length; k++) data[k] = cohort.template[k] > threshold ? 1 : 0;
  return encodeNifti(
    { dims: cohort.dims, affine: cohort.affine, data },
    { datatype: DT.UINT8, descrip: 'vbm phantom brain mask' },
  );
}
