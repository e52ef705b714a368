/** Memory budgets for tests of the streamed permutation test (voxelBlocks.ts's plans). */
import { type MemoryNeeds, inMemoryBytes, planVoxelBlocks } from '../../src/permutation/voxelBlocks.js';

/**
 * The largest budget, stepping down by 3% from the in-memory need while above `above`, whose plan
 * has several voxel blocks; 0 when there is none.
 */
export function fewBlocksBudget(m: MemoryNeeds, above = 0): number {
  for (let b = inMemoryBytes(m); b > above; b = Math.floor(b * 0.97)) {
    const p = planVoxelBlocks(m, b);
    if (p && p.blocks.length >= 2) return b;
  }
  return 0;
}
