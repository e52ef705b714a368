/**
 * The permutation test's work module (src/work.ts): a thread builds an engine over the shared
 * data once (its own scratch slot: the thread number) and runs each block of rearrangements it is
 * handed; the maxima and counts are moved back, not copied. Pure: it runs wherever the runner
 * puts it.
 */
import type { WorkModule } from '../work.js';
import { type BatchResult, Engine, type EngineSetup } from './engine.js';

/** What every thread shares: the engine's setup (data in shared memory) and the rearrangements per kernel call. */
export interface BlockShared {
  setup: EngineSetup;
  batchSize: number;
}

/** A block of rearrangements: [first, first + count). */
export interface Block {
  first: number;
  count: number;
}

/** The maxima and exceedance counts of one block. */
export const work: WorkModule<BlockShared, Block, BatchResult> = {
  start: ({ setup, batchSize }, thread) => {
    const engine = new Engine(setup, batchSize, thread);
    return ({ first, count }) => engine.run(first, count);
  },
  transfer: (r) => {
    const out = [r.maxStat, r.maxTfce, r.maxExtent, r.maxMass, r.countStat].map((a) => a.buffer as ArrayBuffer);
    if (r.countTfce) out.push(r.countTfce.buffer as ArrayBuffer);
    return out;
  },
};
