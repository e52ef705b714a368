/**
 * The fit's work module (src/work.ts): a thread (or process) gets the fit's settings once and
 * then sums each chunk of scans it is handed from zero, sending a note per scan read; the sums
 * are moved back, not copied.
 */
import type { WorkModule } from '../work.js';
import type { FitSums } from './accumulate.js';
import { type FitJob, type ScanReport, runFitJob } from './fitJob.js';

/** What every thread of the fit shares: the job without its scans. */
export type FitChunkShared = Omit<FitJob, 'scans'>;

/** Sums of one chunk of scans (items are the chunk's scans). */
export const work: WorkModule<FitChunkShared, FitJob['scans'], FitSums, ScanReport> = {
  start: (base) => (scans, note) => runFitJob({ ...base, scans }, note),
  transfer: (sums) =>
    [sums.ok, sums.vmin, sums.vmax, sums.yy, sums.xty, sums.ryy, sums.rxty].map((a) => a.buffer as ArrayBuffer),
};
