import { parentPort, workerData } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import { type FitSums, sumsBuffers } from './accumulate.js';
import { type FitJob, runFitJob } from './fitJob.js';

/** Worker entry: sums each chunk of scans it is sent from zero and sends the sums back (transferred). */
const base = workerData as Omit<FitJob, 'scans'>;
/** `spare`: a finished chunk's arrays, sent back by the main thread to be reused. */
parentPort?.on('message', (msg: { type: 'chunk'; index: number; scans: FitJob['scans']; spare?: FitSums }) => {
  try {
    const sums = runFitJob(
      { ...base, scans: msg.scans },
      (r) => parentPort?.postMessage({ type: 'scan', report: r }),
      undefined,
      msg.spare,
    );
    parentPort?.postMessage({ type: 'done', index: msg.index, sums }, sumsBuffers(sums));
  } catch (e) {
    const err = e as Error;
    parentPort?.postMessage({
      type: 'error',
      message: err.message,
      hint: e instanceof VbmError ? e.hint : undefined,
      stack: e instanceof VbmError ? undefined : err.stack,
    });
  }
});
