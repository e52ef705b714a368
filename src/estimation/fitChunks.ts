/**
 * The scans folded into the fit's sums in fixed chunks of FIT_CHUNK consecutive scans: each chunk
 * is summed from zero (in-process or by whichever worker thread is free), and the chunks' sums
 * are added in chunk order. Floating-point addition is not associative, so this fixed order is
 * what makes beta, ResMS and RPV the same bytes for any number of workers (and, later, tasks).
 * At most `workers` chunks are in flight or waiting for their turn, so memory holds
 * workers + 1 sets of sums. The chunks run on the one thread pool (node/threadPool.ts, behind the
 * WorkRunner seam of src/work.ts); fitChunkWorker.ts is their work module.
 */
import { ThreadPool } from '../node/threadPool.js';
import { type FitSums, mergeSums, sumsBuffers } from './accumulate.js';
import { type FitJob, type ScanReport, runFitJob } from './fitJob.js';
import type { FitChunkItem, FitChunkShared } from './fitChunkWorker.js';

import { FIT_CHUNK } from './scanFold.js';

/** Scans per chunk (declared in scanFold.ts, which the browser's fit shares). */
export { FIT_CHUNK } from './scanFold.js';

/** The job cut into consecutive chunks of FIT_CHUNK scans (the last may be shorter). */
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
  // a chunk's arrays, once added, are reused for a later chunk (no fresh pages per chunk)
  const spares: FitSums[] = [];
  const add = (g: number, s: FitSums): void => {
    const t = totals[g];
    if (t) {
      mergeSums(t, s);
      spares.push(s);
    } else totals[g] = s;
  };
  if (workers === 0 || chunks.length === 1) {
    for (const c of chunks) add(c.g, runFitJob(c.job, onScan, undefined, spares.pop()));
    return totals.map((t) => t!);
  }
  const { scans: _all, ...base } = jobs[0];
  void _all;
  // a chunk is handed out only while fewer than `workers` chunks are unmerged
  await new ThreadPool(workers).run<FitChunkShared, FitChunkItem, FitSums, ScanReport>({
    module: new URL('./fitChunkWorker.js', import.meta.url).href,
    shared: base,
    items: chunks.map((c) => ({ scans: c.job.scans })),
    handOut: (item) => {
      const spare = spares.pop();
      return spare ? { item: { ...item, spare }, transfer: sumsBuffers(spare) } : { item };
    },
    ordered: true,
    onResult: (sums, i) => add(chunks[i].g, sums),
    onNote: (report) => onScan(report),
    label: 'fit worker',
  });
  return totals.map((t) => t!);
}
