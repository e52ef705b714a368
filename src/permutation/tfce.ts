/**
 * Threshold-free cluster enhancement (Smith and Nichols 2009), computed exactly:
 *   TFCE(v) = integral from 0 to s(v) of e(h)^E h^H dh,
 * with e(h) the size of the cluster holding v among voxels with s >= h. Between two
 * consecutive voxel values a cluster's size is constant, so the integral is a sum of
 * e^E (a^(H+1) - b^(H+1)) / (H + 1) terms. Voxels are added in descending order into a
 * union-find whose roots carry the running integral of their cluster (each node stores its
 * value relative to its parent), so the whole map costs one sort and near-linear merging:
 * no fixed number of height steps.
 */
import type { Neighbours } from '../inference/neighbours.js';

export interface TfceParams {
  E: number;
  H: number;
}

export const FSL_TFCE: TfceParams = { E: 0.5, H: 2 };

export class TfceWorkspace {
  /** parent and cluster size, interleaved (one cache line serves both). */
  readonly ps: Int32Array;
  /** value relative to the parent, and the height down to which a root's integral is done, interleaved. */
  readonly dl: Float64Array;
  readonly keys: Float64Array;
  readonly path: Int32Array;
  constructor(readonly V: number) {
    this.ps = new Int32Array(2 * V);
    this.dl = new Float64Array(2 * V);
    this.keys = new Float64Array(V);
    this.path = new Int32Array(V);
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const KEY = 2097152; // 2^21: voxel index bits in a sort key

/**
 * TFCE of the positive part of `stat` (masked voxels) into `out`; returns its maximum (as stored
 * in `out`). `nb` gives each voxel's neighbours. `ws` is reused between calls.
 */
export function tfce(stat: ArrayLike<number>, nb: Neighbours, params: TfceParams, out: Float32Array | Float64Array, ws: TfceWorkspace): number {
  const V = ws.V;
  if (V > KEY) throw new Error('tfce: more than 2^21 voxels');
  const { ps, dl, keys, path } = ws;
  const E = params.E;
  const H1 = params.H + 1;
  const sqrtE = E === 0.5;
  const cube = params.H === 2;
  // sort positive voxels by value: key = float32 bits (monotone for positives) * 2^21 + index
  let m = 0;
  for (let v = 0; v < V; v++) {
    const s = stat[v];
    out[v] = 0;
    ps[2 * v] = -1;
    if (s > 0) {
      f32[0] = s;
      keys[m++] = u32[0] * KEY + v;
    }
  }
  const sorted = keys.subarray(0, m).sort();
  const { start, list } = nb;
  for (let k = m - 1; k >= 0; k--) {
    const v = sorted[k] % KEY;
    const h = stat[v];
    const Fh = cube ? (h * h * h) / 3 : Math.pow(h, H1) / H1;
    ps[2 * v] = v;
    ps[2 * v + 1] = 1;
    dl[2 * v] = 0;
    dl[2 * v + 1] = h;
    let rv = v;
    for (let q = start[v], qe = start[v + 1]; q < qe; q++) {
      const w = list[q];
      let r = ps[2 * w];
      if (r < 0 || r === rv) continue;
      // root of w, compressing the path (each node keeps its value relative to the root)
      if (ps[2 * r] !== r) {
        let len = 0;
        path[len++] = w;
        while (ps[2 * r] !== r) {
          path[len++] = r;
          r = ps[2 * r];
        }
        let acc = 0;
        for (let j = len - 1; j >= 0; j--) {
          const node = path[j];
          acc += dl[2 * node];
          dl[2 * node] = acc;
          ps[2 * node] = r;
        }
      }
      if (r === rv) continue;
      // bring both clusters' integrals down to h, then merge the smaller into the larger
      let lh = dl[2 * rv + 1];
      if (lh !== h) {
        const size = ps[2 * rv + 1];
        dl[2 * rv] += (sqrtE ? Math.sqrt(size) : Math.pow(size, E)) * ((cube ? (lh * lh * lh) / 3 : Math.pow(lh, H1) / H1) - Fh);
        dl[2 * rv + 1] = h;
      }
      lh = dl[2 * r + 1];
      if (lh !== h) {
        const size = ps[2 * r + 1];
        dl[2 * r] += (sqrtE ? Math.sqrt(size) : Math.pow(size, E)) * ((cube ? (lh * lh * lh) / 3 : Math.pow(lh, H1) / H1) - Fh);
        dl[2 * r + 1] = h;
      }
      let big = rv;
      let small = r;
      if (ps[2 * r + 1] > ps[2 * rv + 1]) {
        big = r;
        small = rv;
      }
      dl[2 * small] -= dl[2 * big];
      ps[2 * small] = big;
      ps[2 * big + 1] += ps[2 * small + 1];
      rv = big;
    }
  }
  // finish every cluster's integral down to 0, then sum each voxel's path
  for (let v = 0; v < V; v++) {
    if (ps[2 * v] === v) {
      const lh = dl[2 * v + 1];
      const size = ps[2 * v + 1];
      dl[2 * v] += (sqrtE ? Math.sqrt(size) : Math.pow(size, E)) * (cube ? (lh * lh * lh) / 3 : Math.pow(lh, H1) / H1);
      dl[2 * v + 1] = 0;
    }
  }
  let max = 0;
  for (let v = 0; v < V; v++) {
    let r = ps[2 * v];
    if (r < 0) continue;
    let val = dl[2 * v];
    while (r !== ps[2 * r]) {
      val += dl[2 * r];
      r = ps[2 * r];
    }
    if (r !== v) val += dl[2 * r];
    out[v] = val;
    // the maximum as stored (float32 maps round), so that it compares exactly with the map
    if (out[v] > max) max = out[v];
  }
  return max;
}

/**
 * TFCE by the stepped sum FSL and nilearn use: heights dh, 2dh, ... up to the map's maximum,
 * each adding e(h)^E h^H dh. For tests (it converges to the exact integral as dh shrinks).
 */
export function tfceStepped(stat: ArrayLike<number>, nb: Neighbours, params: TfceParams, dh: number): Float64Array {
  const V = stat.length;
  const out = new Float64Array(V);
  let max = 0;
  for (let v = 0; v < V; v++) if (stat[v] > max) max = stat[v];
  const label = new Int32Array(V);
  const stack = new Int32Array(V);
  for (let h = dh; h <= max; h += dh) {
    label.fill(0);
    let count = 0;
    for (let s = 0; s < V; s++) {
      if (!(stat[s] >= h) || label[s]) continue;
      count++;
      let top = 0;
      const members: number[] = [];
      stack[top++] = s;
      label[s] = count;
      while (top) {
        const v = stack[--top];
        members.push(v);
        for (let q = nb.start[v]; q < nb.start[v + 1]; q++) {
          const w = nb.list[q];
          if (stat[w] >= h && !label[w]) {
            label[w] = count;
            stack[top++] = w;
          }
        }
      }
      const add = Math.pow(members.length, params.E) * Math.pow(h, params.H) * dh;
      for (const v of members) out[v] += add;
    }
  }
  return out;
}
