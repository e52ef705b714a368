/**
 * SPM's "mean" global calculation (spm_global) for a design's scans: one pass over the scans
 * before the fit, since grand mean scaling and ANCOVA need every scan's global before the first
 * scan can be scaled. One scan in memory at a time.
 */
import { VbmError } from '../errors.js';
import { decodeVolume, openNifti, readHeaderOnly, type NiftiFile } from '../node/nifti/read.js';
import { globalMean } from './masking.js';
import { parseScanRefs } from './scanList.js';

/** The global of each scan (`file.nii,K` names volume K of a 4-D file), in the order given. */
export async function computeScanGlobals(
  scans: string[],
  onProgress?: (done: number, total: number) => void,
): Promise<number[]> {
  const files = [...new Set(scans.map((s) => s.replace(/,(\d+)$/, '')))];
  const volumes = new Map<string, number>();
  for (const f of files) volumes.set(f, (await readHeaderOnly(f)).nVolumes);
  const refs = parseScanRefs(scans, (p) => volumes.get(p) ?? 1);
  const out: number[] = new Array<number>(refs.length);
  let open: { path: string; file: NiftiFile } | undefined;
  refs.forEach((r, k) => {
    if (!open || open.path !== r.path) open = { path: r.path, file: openNifti(r.path) };
    const g = globalMean(decodeVolume(open.file, r.volume));
    if (!Number.isFinite(g))
      throw new VbmError(`${r.path}: no finite voxel, so it has no global mean`, 'check the scan');
    out[r.row] = g;
    onProgress?.(k + 1, refs.length);
  });
  return out;
}
