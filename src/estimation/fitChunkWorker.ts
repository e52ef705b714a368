/**
 * The fit's work module (src/work.ts): a thread gets the fit's settings and the shared totals
 * once, then sums each chunk of scans it is handed from zero, sending a note per scan read, and
 * adds the chunk to its group's total in chunk order itself (chunkMerge.ts): nothing but the
 * notes goes back to the calling thread.
 */
import type { WorkModule } from '../work.js';
import type { MergeOrder } from './chunkMerge.js';
import { type FitJob, type ScanReport, mergeFitJob } from './fitJob.js';

/** What every thread of the fit shares: the job without its scans, and the totals to add chunks to. */
export type FitChunkShared = Omit<FitJob, 'scans'> & { order: MergeOrder };

/** One chunk: its scans, its group `g` and its place `k` among the group's chunks. */
export interface FitChunkItem {
  scans: FitJob['scans'];
  g: number;
  k: number;
}

/** Sums of one chunk of scans, added to the shared total of its group; the result is its number of scans. */
export const work: WorkModule<FitChunkShared, FitChunkItem, number, ScanReport> = {
  start:
    ({ order, ...base }) =>
    (item, note) => {
      mergeFitJob({ ...base, scans: item.scans }, note, order, item.g, item.k);
      return item.scans.length;
    },
};
