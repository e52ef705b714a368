/**
 * Backgrounds for statistic maps: a real template (the default: Debian mricron-data's ch2bet
 * when installed, else the ICBM152 2009a grey-matter template vbm ships) or any image the user
 * gives, on any grid; the mean of an analysis's scans is pipeline/background.ts's (it reads the
 * analysis folder). Every background is read through its own affine and sampled at each pixel's
 * mm position.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VbmError } from '../errors.js';
import { readVolume } from '../node/nifti/read.js';
import type { Volume } from '../io/nifti/volume.js';
import { atlasDirs } from '../atlas/registry.js';
import { worldSampler } from './sampling.js';
import { applyAffine } from '../io/nifti/affine.js';

/** Templates found by name in the atlas folders (mricron-data first). */
export const TEMPLATE_NAMES: Record<string, string[]> = {
  ch2bet: ['ch2bet.nii.gz', 'ch2bet.nii'],
  ch2: ['ch2.nii.gz', 'ch2.nii'],
  ch2better: ['ch2better.nii.gz', 'ch2better.nii'],
};

/** The grey-matter template shipped in the package (ICBM152 2009a, 2 mm; data/templates/NOTICE.icbm152.txt). */
export const SHIPPED_TEMPLATE = 'icbm152';

/** Path of the shipped template: data/templates/ at the package root (from src/plot or dist/src/plot). */
export function shippedTemplatePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../..', '../../..']) {
    const p = resolve(here, up, 'data', 'templates', 'icbm152_2009a_gm_2mm.nii.gz');
    if (existsSync(p)) return p;
  }
  throw new VbmError(
    'the template shipped with vbm (data/templates/icbm152_2009a_gm_2mm.nii.gz) is missing from the installation',
    'reinstall vbm, or give --background mean or an image path',
  );
}

let shipped: Volume | undefined;
/** The shipped template (grey-matter probability, 0..1), read once. */
export function shippedTemplate(): Volume {
  shipped ??= readVolume(shippedTemplatePath());
  return shipped;
}

/** The default background: ch2bet when mricron-data is installed, else the shipped template. */
export function defaultTemplate(env: NodeJS.ProcessEnv = process.env): { path: string; name: string } {
  const ch2 = findTemplate('ch2bet', env);
  return ch2 ? { path: ch2, name: 'ch2bet' } : { path: shippedTemplatePath(), name: 'ICBM152 2009a grey matter' };
}

export function findTemplate(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (name.toLowerCase() === SHIPPED_TEMPLATE) return shippedTemplatePath();
  const files = TEMPLATE_NAMES[name.toLowerCase()];
  if (!files) return undefined;
  for (const { dir } of atlasDirs(env)) for (const f of files) if (existsSync(join(dir, f))) return join(dir, f);
  return undefined;
}

/** What the background argument names: 'template' (default), 'mean', 'none', a template name ('icbm152', 'ch2bet', ...), or a path. */
export type BackgroundSpec = string;

export interface ResolvedBackground {
  volume?: Volume;
  /** Said in captions: "mean of 379 scans", "ch2bet (/usr/share/...)", a path. */
  description: string;
}

/**
 * A copy of a background small enough to embed in a report's viewer: images of more than 2
 * million voxels (a 1 mm template) are resampled (trilinear, in mm) onto a grid of twice the
 * voxel size over the same field of view; smaller ones are returned as they are.
 */
export function viewerCopy(vol: Volume, maxVoxels = 2_000_000): Volume {
  if (vol.data.length <= maxVoxels) return vol;
  const sample = worldSampler(vol, 'linear');
  const dims: [number, number, number] = [0, 1, 2].map((a) => Math.ceil(vol.dims[a] / 2)) as [number, number, number];
  // voxel i' of the copy sits where voxel 2i' + 0.5 of the original is
  const A = vol.affine.map((row, r) =>
    r === 3 ? [...row] : [2 * row[0], 2 * row[1], 2 * row[2], row[3] + 0.5 * (row[0] + row[1] + row[2])],
  );
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let n = 0;
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++, n++) {
        const p = applyAffine(A, i, j, k);
        const v = sample(p[0], p[1], p[2]);
        data[n] = Number.isFinite(v) ? v : 0;
      }
  return { dims, affine: A, data };
}
