/**
 * The scans folded into the fit's sums in fixed chunks of FIT_CHUNK consecutive scans: each chunk
 * is summed from zero (in-process or by whichever worker thread is free), and the chunks' sums
 * are added in chunk order. Floating-point addition is not associative, so this fixed order is
 * what makes beta, ResMS and RPV the same bytes for any number of workers (and, later, tasks).
 * At most `workers` chunks are in flight or waiting for their turn, so memory holds
 * workers + 1 sets of sums.
 */
import { Worker } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import { type FitSums, mergeSums } from './accumulate.js';
import { type FitJob, type ScanReport, runFitJob } from './fitJob.js';

import { FIT_CHUNK } from './scanFold.js';

/** Scans per chunk (declared in scanFold.ts, which the browser's fit shares). */
export { FIT_CHUNK } from './scanFold.js';

export function fitChunks(job: FitJob): FitJob[] {
  const out: FitJob[] = [];
  for (let i = 0; i < job.scans.length; i += FIT_CHUNK) out.push({ ...job, scans: job.scans.slice(i, i + FIT_CHUNK) });
  return out;
}

/** The sums over all of `job`'s scans, chunk by chunk, with `workers` threads (0: in this thread). */
export async function streamSums(job: FitJob, workers: number, onScan: (r: ScanReport) => void): Promise<FitSums> {
  return (await streamGroupSums([job], workers, onScan))[0];
}

/**
 * One set of sums per job (e.g. per variance group; the jobs differ only in their scans): every
 * job's fixed chunks go through one pool of `workers` threads, and each job's chunks are added in
 * chunk order, so each set of sums is the same bytes for any number of workers.
 */
export async function streamGroupSums(
  jobs: FitJob[],
  workers: number,
  onScan: (r: ScanReport) => void,
): Promise<FitSums[]> {
  const chunks = jobs.flatMap((j, g) => fitChunks(j).map((c) => ({ g, job: c })));
  const totals: (FitSums | undefined)[] = jobs.map(() => undefined);
  const add = (g: number, s: FitSums): void => {
    const t = totals[g];
    if (t) mergeSums(t, s);
    else totals[g] = s;
  };
  if (workers === 0 || chunks.length === 1) {
    for (const c of chunks) add(c.g, runFitJob(c.job, onScan));
    return totals.map((t) => t!);
  }
  const { scans: _all, ...base } = jobs[0];
  void _all;
  const url = new URL('./fitChunkWorker.js', import.meta.url);
  const nWorkers = Math.min(workers, chunks.length);
  return new Promise((resolve, reject) => {
    const ready = new Map<number, FitSums>();
    let merged = 0;
    let assigned = 0;
    let failed = false;
    const idle: Worker[] = [];
    const pool: Worker[] = [];
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      for (const w of pool) void w.terminate();
      reject(e);
    };
    const dispatch = (): void => {
      // a chunk is handed out only while fewer than nWorkers chunks are unmerged
      while (!failed && idle.length && assigned < chunks.length && assigned - merged < nWorkers) {
        const w = idle.pop()!;
        w.postMessage({ type: 'chunk', index: assigned, scans: chunks[assigned].job.scans });
        assigned++;
      }
      if (merged === chunks.length) {
        for (const w of pool) void w.terminate();
        resolve(totals.map((t) => t!));
      }
    };
    for (let k = 0; k < nWorkers; k++) {
      const w = new Worker(url, { workerData: base });
      pool.push(w);
      idle.push(w);
      w.on(
        'message',
        (msg: {
          type: string;
          index?: number;
          report?: ScanReport;
          sums?: FitSums;
          message?: string;
          hint?: string;
          stack?: string;
        }) => {
          if (msg.type === 'scan' && msg.report) onScan(msg.report);
          else if (msg.type === 'done' && msg.sums && msg.index !== undefined) {
            ready.set(msg.index, msg.sums);
            while (ready.has(merged)) {
              const s = ready.get(merged)!;
              ready.delete(merged);
              add(chunks[merged].g, s);
              merged++;
            }
            idle.push(w);
            dispatch();
          } else if (msg.type === 'error')
            fail(
              msg.stack
                ? new Error(`${msg.message}\n${msg.stack}`)
                : new VbmError(msg.message ?? 'worker failed', msg.hint),
            );
        },
      );
      w.on('error', fail);
    }
    dispatch();
  });
}
