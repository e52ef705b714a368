/**
 * TFCE test cases: an independent brute force (a flood fill per distinct value: for each distinct
 * positive value u_j, ascending, u_0 = 0, every voxel of a cluster of {s >= u_j} of size e gains
 * e^E (u_j^(H+1) - u_(j-1)^(H+1)) / (H+1); between consecutive values the clusters do not change,
 * so this sum is the TFCE integral itself) and smooth random maps on ragged masks.
 */
import { neighbourOffsets } from '../../src/inference/neighbours.js';
import type { TfceParams } from '../../src/permutation/tfce.js';
import { Rng } from '../../src/synth/random.js';
import { gaussianSmooth } from '../../src/synth/smooth.js';

export type Dims = [number, number, number];

export function bruteForceTfce(
  values: Float32Array,
  voxels: Int32Array,
  dims: Dims,
  conn: 6 | 18 | 26,
  p: TfceParams,
): Float64Array {
  const [nx, ny, nz] = dims;
  const V = voxels.length;
  const at = new Int32Array(nx * ny * nz).fill(-1);
  for (let v = 0; v < V; v++) at[voxels[v]] = v;
  const offs = neighbourOffsets(conn);
  const levels = [...new Set(Array.from(values).filter((x) => x > 0))].sort((a, b) => a - b);
  const out = new Float64Array(V);
  const label = new Int32Array(V);
  let below = 0;
  for (const u of levels) {
    label.fill(0);
    let next = 0;
    const gain = (u ** (p.H + 1) - below ** (p.H + 1)) / (p.H + 1);
    for (let s = 0; s < V; s++) {
      if (values[s] < u || label[s]) continue;
      label[s] = ++next;
      const members = [s];
      for (let i = 0; i < members.length; i++) {
        const g = voxels[members[i]];
        const x = g % nx;
        const y = Math.floor(g / nx) % ny;
        const z = Math.floor(g / (nx * ny));
        for (const [dx, dy, dz] of offs) {
          const xx = x + dx;
          const yy = y + dy;
          const zz = z + dz;
          if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
          const w = at[xx + nx * (yy + ny * zz)];
          if (w >= 0 && !label[w] && values[w] >= u) {
            label[w] = next;
            members.push(w);
          }
        }
      }
      const add = members.length ** p.E * gain;
      for (const w of members) out[w] += add;
    }
    below = u;
  }
  return out;
}

/** A smooth random map on a ragged mask (a smooth field's upper 70%), touching the grid's faces. */
export function randomCase(seed: number, dims: Dims): { values: Float32Array; voxels: Int32Array } {
  const rng = new Rng(seed);
  const n = dims[0] * dims[1] * dims[2];
  const smooth = (): Float32Array =>
    gaussianSmooth(
      Float32Array.from({ length: n }, () => rng.normal()),
      dims,
      [2, 2, 2],
    );
  const maskField = smooth();
  const sorted = Float32Array.from(maskField).sort();
  const cut = sorted[Math.floor(0.3 * n)];
  const idx: number[] = [];
  for (let i = 0; i < n; i++) if (maskField[i] > cut) idx.push(i);
  const voxels = Int32Array.from(idx);
  const field = smooth();
  let ss = 0;
  for (const g of voxels) ss += field[g] * field[g];
  const sd = Math.sqrt(ss / voxels.length);
  // unit variance and a shift, so that both large clusters and isolated peaks occur
  const values = Float32Array.from(voxels, (g) => (field[g] / sd) * 1.3 + 0.2);
  return { values, voxels };
}
