/**
 * The nuisance projection of a Freedman-Lane permutation test: the data rows are replaced by
 * their residuals under the nuisance model, once, before any rearrangement.
 */
import { invariant, item } from '../errors.js';
import type { NativeKernel } from './nativeProduct.js';

/**
 * Replace the n x V data (scan-major rows `stride` floats apart) by the residuals of the nuisance
 * model, (I - G G') Y, where G holds orthonormal nuisance columns (each of length n), and return
 * each voxel's residual sum of squares (float64, in a SharedArrayBuffer for the threads). Voxels
 * are taken 1024 at a time in float64; the residuals are rounded to float32 once. With `native`
 * (nativeProduct.ts), the same operations run in C (the same values, several times faster).
 */
export function removeNuisance(
  R: Float32Array,
  n: number,
  V: number,
  stride: number,
  G: Float64Array[],
  native?: NativeKernel | null,
): Float64Array {
  const ss = new Float64Array(new SharedArrayBuffer(V * 8));
  if (native) {
    const flat = new Float64Array(G.length * n);
    G.forEach((g, j) => flat.set(g.subarray(0, n), j * n));
    native.residualise(R, n, V, stride, flat, G.length, ss);
    return ss;
  }
  const CH = 1024;
  const q = G.length;
  const coef = new Float64Array(q * CH);
  const col = new Float64Array(n * CH);
  invariant(
    R.length >= (n - 1) * stride + V && G.every((g) => g.length >= n),
    'residuals and nuisance basis cover n scans',
  );
  // so the reads below `?? NaN` / `?? 0` are never taken
  for (let v0 = 0; v0 < V; v0 += CH) {
    const c = Math.min(CH, V - v0);
    for (let i = 0; i < n; i++) for (let v = 0; v < c; v++) col[i * CH + v] = R[i * stride + v0 + v] ?? NaN;
    coef.fill(0);
    for (let j = 0; j < q; j++) {
      const g = item(G, j, 'nuisance basis');
      for (let i = 0; i < n; i++) {
        const gi = g[i] ?? NaN;
        for (let v = 0; v < c; v++) coef[j * CH + v] = (coef[j * CH + v] ?? NaN) + gi * (col[i * CH + v] ?? NaN);
      }
    }
    for (let j = 0; j < q; j++) {
      const g = item(G, j, 'nuisance basis');
      for (let i = 0; i < n; i++) {
        const gi = g[i] ?? NaN;
        for (let v = 0; v < c; v++) col[i * CH + v] = (col[i * CH + v] ?? NaN) - gi * (coef[j * CH + v] ?? NaN);
      }
    }
    for (let i = 0; i < n; i++) {
      for (let v = 0; v < c; v++) {
        const x = Math.fround(col[i * CH + v] ?? NaN);
        R[i * stride + v0 + v] = x;
        ss[v0 + v] = (ss[v0 + v] ?? NaN) + x * x;
      }
    }
  }
  return ss;
}
