import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VbmError } from '../errors.js';
import { openNifti } from '../node/nifti/read.js';
import { type Atlas, type AtlasOptions, atlasFromImage } from './atlasImage.js';
import { type LabelTable, readLabelTable } from './labelTable.js';

// the atlas itself and its lookups are pure (atlasImage.ts); these names stay importable from here
export { type Atlas, type AtlasOptions, codeAt, codesOnGrid, regionName } from './atlasImage.js';

/** The label table that sits beside an atlas image, by the conventions of mricron and atlasreader. */
export function findLabelTable(imagePath: string): string | undefined {
  const dir = dirname(imagePath);
  const base = basename(imagePath).replace(/\.(nii|hdr|img)(\.gz)?$/i, '');
  const candidates = [
    `${base}.nii.txt`,
    `${base}.txt`,
    `${base}.csv`,
    `${base}.tsv`,
    `labels_${base.replace(/^atlas_/, '')}.csv`,
    `${base}.xml`,
  ];
  for (const c of candidates) if (existsSync(join(dir, c))) return join(dir, c);
  return undefined;
}

/** Load a label or probabilistic atlas image and its label table (CSV/TSV, mricron .txt or FSL XML). */
export function loadAtlas(path: string, opts: AtlasOptions = {}): Atlas {
  if (!existsSync(path)) throw new VbmError(`atlas image not found: ${path}`);
  const labelsPath = opts.labels ?? findLabelTable(path);
  let table: LabelTable | undefined;
  if (labelsPath) table = readLabelTable(labelsPath);
  const file = openNifti(path);
  const name = opts.name ?? basename(path).replace(/\.(nii|hdr|img)(\.gz)?$/i, '');
  return atlasFromImage(file, table, { name, path, labelsPath, probThreshold: opts.probThreshold });
}
