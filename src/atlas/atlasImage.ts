/**
 * Atlases from a decoded image (pure: no files): region codes per voxel, names from a label
 * table, and lookups in world (mm) coordinates. `atlas.ts` is the Node shell that finds and reads
 * the files.
 */
import { type Affine, applyAffine, invertAffine } from '../io/nifti/affine.js';
import { type NiftiFile, decodeVolume } from '../io/nifti/decode.js';
import { nearestSourceIndex } from '../io/nifti/resample.js';
import { grid3 } from '../io/nifti/volume.js';
import { item } from '../errors.js';
import { knownRegionNames } from './knownNames.js';
import type { LabelTable } from './labelText.js';

/**
 * An atlas as vbm uses it: one code per voxel on the atlas's own grid (for a probabilistic
 * atlas, the most probable region above a threshold), region names by code, and the warnings
 * met while loading. Lookups always go through world (mm) coordinates.
 */
export interface Atlas {
  name: string;
  path: string;
  labelsPath?: string;
  kind: 'label' | 'probabilistic';
  dims: [number, number, number];
  affine: Affine;
  /** Region code per atlas voxel (0 = no region). Probabilistic: volume index + 1. */
  codes: Int32Array;
  names: Map<number, string>;
  warnings: string[];
}

export interface AtlasOptions {
  /** Label table path (CSV/TSV index,name; mricron .txt; FSL XML). Default: found beside the image. */
  labels?: string;
  /** Probabilistic atlases: minimum probability for a voxel to take a region, percent (default 0: plain maximum probability). */
  probThreshold?: number;
  /** A name to show (default: the file's base name). */
  name?: string;
}

const SPACE_NAMES: Record<number, string> = {
  0: 'unknown',
  1: 'scanner',
  2: 'aligned',
  3: 'Talairach',
  4: 'MNI152',
  5: 'template',
};

/**
 * An atlas from its decoded image and label table: a 3-D image of region codes, or a 4-D
 * probabilistic atlas (each voxel takes its most probable region, above `probThreshold`).
 * `name` is shown in warnings; `path` and `labelsPath` are recorded and named in warnings.
 */
export function atlasFromImage(
  file: NiftiFile,
  table: LabelTable | undefined,
  opts: { name: string; path: string; labelsPath?: string; probThreshold?: number },
): Atlas {
  const { name, path, labelsPath } = opts;
  const warnings: string[] = [];
  const h = file.header;
  const space = h.sformCode > 0 ? h.sformCode : h.qformCode;
  if (space === 3)
    warnings.push(
      `${name}: the atlas declares Talairach space (sform/qform code 3), not MNI; coordinates were used as they are, so labels may be displaced`,
    );
  else if (space !== 2 && space !== 4 && space !== 5) {
    warnings.push(
      `${name}: the atlas's space is '${SPACE_NAMES[space] ?? space}' (sform/qform code ${space}), not MNI; assumed to be MNI`,
    );
  }
  const nvox = h.dims[0] * h.dims[1] * h.dims[2];
  const codes = new Int32Array(nvox);
  let kind: Atlas['kind'] = 'label';
  const names = new Map<number, string>();
  if (h.nVolumes > 1) {
    kind = 'probabilistic';
    if (!table) {
      warnings.push(`${name}: a 4-D (probabilistic) atlas without a label list; regions are named by volume number`);
    }
    // maximum probability over volumes, above the threshold
    const best = new Float32Array(nvox);
    let scaleMax = 0;
    for (let v = 0; v < h.nVolumes; v++) {
      // a decoded volume holds one value per voxel
      decodeVolume(file, v).forEach((pv, i) => {
        if (pv > scaleMax) scaleMax = pv;
        if (pv > item(best, i, 'best')) {
          best[i] = pv;
          codes[i] = v + 1;
        }
      });
      const nm = table?.names.get(v) ?? `${name} volume ${v + 1}`;
      names.set(v + 1, nm);
    }
    const thr = opts.probThreshold ?? 0;
    const cut = scaleMax <= 1 ? thr / 100 : thr;
    if (cut > 0)
      best.forEach((b, i) => {
        if (b < cut) codes[i] = 0;
      });
    if (table)
      for (const code of table.names.keys())
        if (code >= h.nVolumes)
          warnings.push(
            `${name}: label ${code} ('${table.names.get(code)}') has no volume in the 4-D atlas (it has ${h.nVolumes})`,
          );
  } else {
    if (opts.probThreshold !== undefined) warnings.push(`${name}: a 3-D label atlas; --prob-threshold ignored`);
    const vol = decodeVolume(file, 0);
    const fslLabel = table?.format === 'fsl-xml';
    vol.forEach((x, i) => (codes[i] = Math.round(x)));
    const present = new Set<number>(codes);
    present.delete(0);
    if (table) {
      for (const [code, nm] of table.names) {
        // FSL label atlases store index + 1 in the image
        const c = fslLabel ? code + 1 : code;
        if (c !== 0) names.set(c, nm);
      }
      const unnamed = [...present].filter((c) => !names.has(c)).sort((a, b) => a - b);
      if (unnamed.length) {
        warnings.push(
          `${name}: ${unnamed.length} code(s) in the image have no name in ${labelsPath} (${unnamed.slice(0, 5).join(', ')}${unnamed.length > 5 ? ', ...' : ''}); shown as 'code N'`,
        );
        for (const c of unnamed) names.set(c, `code ${c}`);
      }
      const empty = [...names.keys()].filter((c) => !present.has(c));
      if (empty.length) {
        warnings.push(
          `${name}: ${empty.length} name(s) in ${labelsPath} have no voxel in the image (${empty
            .slice(0, 3)
            .map((c) => `${c} '${names.get(c)}'`)
            .join(', ')}${empty.length > 3 ? ', ...' : ''})`,
        );
      }
    } else {
      const known = knownRegionNames(name, present);
      if (known) for (const [c, nm] of known.names) names.set(c, nm);
      else
        warnings.push(
          `${name}: no label table found beside ${path}; regions are named by code (give one with --labels)`,
        );
      for (const c of present) if (!names.has(c)) names.set(c, `code ${c}`);
    }
  }
  return { name, path, labelsPath, kind, dims: h.dims, affine: h.affine, codes, names, warnings };
}

/** The atlas's region code at a world position (nearest voxel); 0 outside the atlas. */
export function codeAt(atlas: Atlas, mm: readonly number[]): number {
  const [x, y, z] = grid3(mm);
  const [a, b, c] = applyAffine(invertAffine(atlas.affine), x, y, z);
  const i = Math.round(a);
  const j = Math.round(b);
  const k = Math.round(c);
  const [nx, ny, nz] = atlas.dims;
  if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return 0;
  return item(atlas.codes, i + nx * (j + ny * k), 'atlas codes');
}

/** The atlas resampled onto another grid by nearest neighbour in world space. */
export function codesOnGrid(atlas: Atlas, dims: readonly number[], affine: Affine): Int32Array {
  const src = nearestSourceIndex(atlas, dims, affine);
  const out = new Int32Array(src.length);
  src.forEach((si, i) => {
    if (si >= 0) out[i] = item(atlas.codes, si, 'atlas codes');
  });
  return out;
}

/** The name of a region code: 'OUTSIDE' for 0, `code N` for a code the label table does not name. */
export function regionName(atlas: Atlas, code: number): string {
  return code === 0 ? 'OUTSIDE' : (atlas.names.get(code) ?? `code ${code}`);
}
