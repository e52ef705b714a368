import { parentPort, workerData } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import { type FitJob, runFitJob } from './fitJob.js';

/** Worker entry: run one share of the fit and send the sums back (transferred, not copied). */
const job = workerData as FitJob;
try {
  const sums = runFitJob(job, (r) => parentPort?.postMessage({ type: 'scan', report: r }));
  parentPort?.postMessage({ type: 'done', sums }, [
    sums.ok.buffer,
    sums.vmin.buffer,
    sums.vmax.buffer,
    sums.yy.buffer,
    sums.xty.buffer,
    sums.ryy.buffer,
    sums.rxty.buffer,
  ] as ArrayBuffer[]);
} catch (e) {
  const err = e as Error;
  parentPort?.postMessage({
    type: 'error',
    message: err.message,
    hint: e instanceof VbmError ? e.hint : undefined,
    stack: e instanceof VbmError ? undefined : err.stack,
  });
}
