/**
 * The exact TFCE (radix sort, union-find on the padded bounding box) against an independent
 * brute force written here: for each distinct positive value u_j (ascending, u_0 = 0) a flood
 * fill finds the clusters of {s >= u_j}, and every voxel of a cluster of size e gains
 * e^E (u_j^(H+1) - u_(j-1)^(H+1)) / (H+1). Between consecutive values the clusters do not change,
 * so this sum is the TFCE integral itself, not an approximation of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedNeighbours, neighbourOffsets } from '../src/inference/neighbours.js';
import { TfceWorkspace, tfce, type TfceParams } from '../src/permutation/tfce.js';
import { Rng } from '../src/synth/random.js';
import { gaussianSmooth } from '../src/synth/smooth.js';

type Dims = [number, number, number];

function bruteForceTfce(
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
function randomCase(seed: number, dims: Dims): { values: Float32Array; voxels: Int32Array } {
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

// Tolerance: the brute force sums in float64 in another order; the map is float32, so the
// two agree to float32 rounding (relative 6e-8) plus summation error: 2e-6 relative to the
// map's maximum leaves room for both and would catch any misplaced merge or height.
const TOL = 2e-6;

for (const conn of [6, 26] as const) {
  test(`exact TFCE matches a brute-force flood-fill integral on random smooth maps (${conn}-connectivity, grid and list modes)`, () => {
    for (let seed = 1; seed <= 4; seed++) {
      const dims: Dims = seed % 2 ? [13, 11, 9] : [9, 14, 10];
      const { values, voxels } = randomCase(seed * 17 + conn, dims);
      const params: TfceParams = seed === 4 ? { E: 2 / 3, H: 2.5 } : { E: 0.5, H: 2 };
      const want = bruteForceTfce(values, voxels, dims, conn, params);
      const scale = Math.max(...want);
      assert.ok(scale > 0 && voxels.length > 500);
      const nb = maskedNeighbours(voxels, dims, conn);
      const grid = new TfceWorkspace(voxels.length, { voxels, dims, connectivity: conn });
      const list = new TfceWorkspace(voxels.length);
      for (const [mode, ws] of [
        ['grid', grid],
        ['list', list],
      ] as const) {
        // twice with the same workspace: the second call must not see the first's state
        for (let rep = 0; rep < 2; rep++) {
          const out = new Float32Array(voxels.length);
          const max = tfce(values, nb, params, out, ws);
          let err = 0;
          for (let v = 0; v < voxels.length; v++) err = Math.max(err, Math.abs(out[v] - want[v]));
          assert.ok(err <= TOL * scale, `${mode} mode, seed ${seed}: max |error| ${err} vs max ${scale}`);
          assert.equal(max, Math.max(...out));
        }
      }
    }
  });
}

test('exact TFCE matches the brute force on maps with many ties (values on a 0.25 grid: plateaus and equal peaks)', () => {
  for (let seed = 1; seed <= 3; seed++) {
    const dims: Dims = [12, 10, 11];
    const { values, voxels } = randomCase(seed * 31, dims);
    // quantised: whole plateaus share a height, and separate clusters peak at the same height
    const stepped = Float32Array.from(values, (x) => Math.round(x * 4) / 4);
    const params: TfceParams = { E: 0.5, H: 2 };
    for (const conn of [6, 18, 26] as const) {
      const want = bruteForceTfce(stepped, voxels, dims, conn, params);
      const scale = Math.max(...want);
      const ties = stepped.length - new Set(stepped).size;
      assert.ok(scale > 0 && ties > stepped.length / 2);
      const nb = maskedNeighbours(voxels, dims, conn);
      for (const ws of [
        new TfceWorkspace(voxels.length, { voxels, dims, connectivity: conn }),
        new TfceWorkspace(voxels.length),
      ]) {
        const out = new Float32Array(voxels.length);
        tfce(stepped, nb, params, out, ws);
        let err = 0;
        for (let v = 0; v < voxels.length; v++) err = Math.max(err, Math.abs(out[v] - want[v]));
        assert.ok(err <= TOL * scale, `seed ${seed}, ${conn}-connectivity: max |error| ${err} vs max ${scale}`);
      }
    }
  }
});
