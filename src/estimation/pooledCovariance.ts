import { decodeVolume, openNifti } from '../io/nifti/read.js';
import type { Matrix } from '../model/linalg.js';
import type { ScanRef } from './scanList.js';

/** Default memory for the selected voxels' values of all scans: 256 MiB. */
export const POOLED_CACHE_BYTES = 256 * 2 ** 20;

/**
 * SPM's pooled covariance of the selected voxels, Cy = (1/s) sum_v w_v y_v y_v' (n x n, design
 * row order), from a second read of the scans. The values of the selected voxels are gathered
 * scan by scan into a float32 cache of at most `cacheBytes` (n x block voxels); when all selected
 * voxels do not fit, they are taken in blocks, each block costing one more read of the scans.
 * Scans are multiplied by their global scaling factor (gSF) when one is given, as in the fit.
 */
export function pooledCovariance(
  refs: ScanRef[],
  selectedVox: Int32Array,
  weight: Float64Array,
  globalScale?: Float64Array,
  cacheBytes = POOLED_CACHE_BYTES,
  onScan?: () => void,
): { Cy: Matrix; reads: number } {
  const n = refs.length;
  const s = selectedVox.length;
  const block = Math.max(1, Math.min(s, Math.floor(cacheBytes / 4 / n)));
  const Cy: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  const cache = new Float32Array(block * n);
  const rowOf = new Int32Array(n);
  const col = new Float64Array(n);
  let reads = 0;
  for (let v0 = 0; v0 < s; v0 += block) {
    const v1 = Math.min(s, v0 + block);
    const nb = v1 - v0;
    let open: { path: string; file: ReturnType<typeof openNifti> } | undefined;
    refs.forEach((ref, i) => {
      if (!open || open.path !== ref.path) open = { path: ref.path, file: openNifti(ref.path) };
      const data = decodeVolume(open.file, ref.volume);
      rowOf[i] = ref.row;
      // voxel-major: the n values of one voxel are contiguous
      for (let k = 0; k < nb; k++) cache[k * n + i] = data[selectedVox[v0 + k]];
      onScan?.();
    });
    reads++;
    for (let k = 0; k < nb; k++) {
      const w = weight[v0 + k];
      for (let i = 0; i < n; i++) {
        const g = globalScale ? globalScale[rowOf[i]] : 1;
        col[i] = cache[k * n + i] * g;
      }
      for (let i = 0; i < n; i++) {
        const wi = w * col[i];
        const Ci = Cy[rowOf[i]];
        for (let j = 0; j <= i; j++) Ci[rowOf[j]] += wi * col[j];
      }
    }
  }
  // fill the other triangle and average
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const a = rowOf[i];
      const b = rowOf[j];
      const v = Cy[a][b] / s;
      Cy[a][b] = v;
      Cy[b][a] = v;
    }
  }
  return { Cy, reads };
}
