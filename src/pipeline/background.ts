/**
 * The background of an analysis's pictures: a template or image (plot/background.ts), or the mean
 * of the analysed scans (always on the analysis grid, cached in the folder as mean_scans.nii,
 * recomputed when the scans' contents change).
 */
import { sha256Hex } from '../node/contentHash.js';
import { existsSync } from 'node:fs';
import { VbmError } from '../errors.js';
import { writeFileAtomic } from '../node/atomic.js';
import { decodeVolume, type NiftiFile, openNifti, readHeaderOnly, readVolume } from '../node/nifti/read.js';
import type { Volume } from '../io/nifti/volume.js';
import { encodeNifti } from '../node/nifti/write.js';
import { atlasDirs } from '../atlas/registry.js';
import {
  type BackgroundSpec,
  type ResolvedBackground,
  defaultTemplate,
  findTemplate,
  SHIPPED_TEMPLATE,
  shippedTemplatePath,
  TEMPLATE_NAMES,
} from '../plot/background.js';
import type { Analysis } from './analysis.js';

export const MEAN_IMAGE = 'mean_scans.nii';

/** The background image of a picture: a shipped or installed template, the mean of the analysed scans (computed once, kept in the folder), none, or an image path. */
export async function resolveBackground(
  a: Analysis,
  spec: BackgroundSpec = 'template',
  onProgress?: (done: number, total: number) => void,
): Promise<ResolvedBackground> {
  const s = spec.trim();
  if (s === 'none') return { description: 'no background' };
  if (s === 'template') {
    const t = defaultTemplate();
    return { volume: readVolume(t.path), description: `the ${t.name} template (${t.path})` };
  }
  if (s.toLowerCase() === SHIPPED_TEMPLATE) {
    const p = shippedTemplatePath();
    return { volume: readVolume(p), description: `the ICBM152 2009a grey-matter template (${p})` };
  }
  if (s === 'mean')
    return {
      volume: await meanOfScans(a, onProgress),
      description: `mean of the ${a.record.scans.length} analysed scans`,
    };
  if (TEMPLATE_NAMES[s.toLowerCase()]) {
    const p = findTemplate(s);
    if (!p) {
      throw new VbmError(
        `template '${s}' not found in ${atlasDirs()
          .map((d) => d.dir)
          .join(', ')}`,
        "install Debian's templates with `apt-get install mricron-data`, give an image path, or use --background mean",
      );
    }
    return { volume: readVolume(p), description: `${s} (${p})` };
  }
  if (!existsSync(s))
    throw new VbmError(
      `background image not found: ${s}`,
      "give an existing NIfTI path, 'template', 'icbm152', 'mean' (the mean of the scans), 'ch2bet' or 'none'",
    );
  return { volume: readVolume(s), description: s };
}

/**
 * The voxel-wise mean of the analysed scans, on their grid. Computed once (one scan in memory
 * at a time) and kept as mean_scans.nii, tagged with the scans' recorded hashes so changed
 * scans recompute it.
 */
export async function meanOfScans(a: Analysis, onProgress?: (done: number, total: number) => void): Promise<Volume> {
  const path = a.path(MEAN_IMAGE);
  // tagged with the scans' contents (their content hashes as recorded at estimation), not just their names
  const contents = sha256Hex(a.record.scans.map((s) => `${s.hash}:${s.volume}`).join('\n')).slice(0, 16);
  const tag = `vbm mean of ${a.record.scans.length} scans ${contents}`;
  if (existsSync(path)) {
    const h = await readHeaderOnly(path);
    // a cached mean that differs from what vbm recorded (damaged, replaced) is computed again
    const intact = (): boolean => {
      try {
        a.verify(MEAN_IMAGE);
        return true;
      } catch {
        return false;
      }
    };
    if (h.descrip === tag && intact()) return readVolume(path);
  }
  const { dims, affine } = a.record.grid;
  const n = dims[0] * dims[1] * dims[2];
  const sum = new Float64Array(n);
  const scans = a.record.scans;
  let open: { path: string; file: NiftiFile } | undefined;
  scans.forEach((s, i) => {
    if (!existsSync(s.path)) {
      throw new VbmError(
        `scan ${i + 1} (${s.path}) is no longer there, so the mean of the scans cannot be computed`,
        'restore the scans, or draw over another background: --background ch2bet or --background /path/to/template.nii',
      );
    }
    if (!open || open.path !== s.path) open = { path: s.path, file: openNifti(s.path) };
    const v = decodeVolume(open.file, s.volume);
    if (v.length !== n)
      throw new VbmError(
        `${s.path} is no longer on the analysis grid (${dims.join('x')})`,
        'give another background with --background',
      );
    for (let k = 0; k < n; k++) {
      const x = v[k];
      if (Number.isFinite(x)) sum[k] += x;
    }
    onProgress?.(i + 1, scans.length);
  });
  const mean = new Float32Array(n);
  for (let k = 0; k < n; k++) mean[k] = sum[k] / scans.length;
  const vol: Volume = { dims: [dims[0], dims[1], dims[2]], affine, data: mean };
  writeFileAtomic(path, encodeNifti(vol, { descrip: tag }));
  return vol;
}
