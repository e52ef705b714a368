/**
 * The fit's work module when the threads split the voxels (fitRanges.ts): a thread is handed one
 * range and sums its voxels over all the scans into the shared totals, hashing its pieces of the
 * scans' files into the shared digests as it reads them; only with an addon built without XXH3 does
 * it first read and hash its share of the files whole (a note per file). Nothing but the notes goes
 * back to the calling thread.
 */
import type { WorkModule } from '../work.js';
import { type RangeJob, runRange } from './fitRanges.js';

/** What every thread shares: the jobs (with their shared totals and counts) and the number of ranges. */
export interface FitRangeShared {
  jobs: RangeJob[];
  ranges: number;
}

/** A scan's content hash: scan i of job g. */
export interface FitRangeNote {
  g: number;
  i: number;
  hash: string;
}

/** Range `t` of the voxels; the result is the range's number. */
export const work: WorkModule<FitRangeShared, { t: number }, number, FitRangeNote> = {
  start:
    ({ jobs, ranges }) =>
    (item, note) => {
      runRange(jobs, item.t, ranges, note);
      return item.t;
    },
};
