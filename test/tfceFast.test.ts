/**
 * The exact TFCE in JavaScript (radix sort, then the max-tree flood on the bricked box or the
 * union-find on neighbour lists) against an independent brute force (test/support/tfceCases.ts): for each distinct positive value u_j (ascending, u_0 = 0) a flood
 * fill finds the clusters of {s >= u_j}, and every voxel of a cluster of size e gains
 * e^E (u_j^(H+1) - u_(j-1)^(H+1)) / (H+1). Between consecutive values the clusters do not change,
 * so this sum is the TFCE integral itself, not an approximation of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskedNeighbours } from '../src/inference/neighbours.js';
import { TfceWorkspace, tfce, type TfceParams } from '../src/permutation/tfce.js';
import { type Dims, bruteForceTfce, randomCase } from './support/tfceCases.js';

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
