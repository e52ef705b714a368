import { parentPort, workerData } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import { type FitJob, runFitJob } from './fitJob.js';

/** Worker entry: sums each chunk of scans it is sent from zero and sends the sums back (transferred). */
const base = workerData as Omit<FitJob, 'scans'>;
parentPort?.on('message', (msg: { type: 'chunk'; index: number; scans: FitJob['scans'] }) => {
  try {
    const sums = runFitJob({ ...base, scans: msg.scans }, (r) => parentPort?.postMessage({ type: 'scan', report: r }));
    parentPort?.postMessage({ type: 'done', index: msg.index, sums }, [
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
});
