/**
 * The fit's work module (src/work.ts): a thread (or process) gets the fit's settings once and
 * then sums each chunk of scans it is handed from zero, sending a note per scan read; the sums
 * are moved back, not copied, and a merged chunk's arrays may come with a chunk to be reused.
 */
import type { WorkModule } from '../work.js';
import { type FitSums, sumsBuffers } from './accumulate.js';
import { type FitJob, type ScanReport, runFitJob } from './fitJob.js';

/** What every thread of the fit shares: the job without its scans. */
export type FitChunkShared = Omit<FitJob, 'scans'>;

/** One chunk: its scans, and (`spare`) a merged chunk's arrays to sum into instead of fresh ones. */
export interface FitChunkItem {
  scans: FitJob['scans'];
  spare?: FitSums;
}

/** Sums of one chunk of scans. */
export const work: WorkModule<FitChunkShared, FitChunkItem, FitSums, ScanReport> = {
  start: (base) => (item, note) => runFitJob({ ...base, scans: item.scans }, note, undefined, item.spare),
  transfer: sumsBuffers,
};
