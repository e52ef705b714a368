/**
 * The scans folded into the fit's sums in fixed chunks of FIT_CHUNK consecutive scans: each chunk
 * is summed from zero (in-process or by whichever worker thread is free), and the chunks' sums
 * are added in chunk order. Floating-point addition is not associative, so this fixed order is
 * what makes beta, ResMS and RPV the same bytes for any number of workers (and, later, tasks).
 * With worker threads, each thread adds its chunk to the shared total itself when the chunk
 * before it is in (chunkMerge.ts), so memory holds one set of sums per thread (in its kernel)
 * and one total per group. The chunks run on the one thread pool (node/threadPool.ts, behind the
 * WorkRunner seam of src/work.ts); fitChunkWorker.ts is their work module.
 */
import { invariant } from '../errors.js';
import { type FitSums, mergeSums } from './accumulate.js';
import { createMergeOrder, createSharedSums } from './chunkMerge.js';
import { type FitJob, type ScanReport, runFitJob } from './fitJob.js';
import type { FitChunkItem, FitChunkShared } from './fitChunkWorker.js';

import { FIT_CHUNK } from './scanFold.js';
import { adviseHugePages } from './nativeFit.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { type RangeNote, rangeJobs, rangeRefusal, rangeReports, runRange, runRangesNative } from './fitRanges.js';

/** Scans per chunk (declared in scanFold.ts, which the browser's fit shares). */
export { FIT_CHUNK } from './scanFold.js';

/** The job cut into consecutive chunks of FIT_CHUNK scans (the last may be shorter). */
export function fitChunks(job: FitJob): FitJob[] {
  const out: FitJob[] = [];
  for (let i = 0; i < job.scans.length; i += FIT_CHUNK) out.push({ ...job, scans: job.scans.slice(i, i + FIT_CHUNK) });
  return out;
}

/** The sums over all of `job`'s scans, chunk by chunk, with `workers` threads (0: in this thread). */
export async function streamSums(
  job: FitJob,
  workers: number,
  onScan: (r: ScanReport) => void,
  headers?: ReadonlyMap<string, NiftiHeader>,
): Promise<FitSums> {
  return (await streamGroupSums([job], workers, onScan, headers))[0];
}

/**
 * One set of sums per job (e.g. per variance group; the jobs differ only in their scans): every
 * job's fixed chunks go through one pool of `workers` threads, and each job's chunks are added in
 * chunk order, so each set of sums is the same bytes for any number of workers. `headers` (the
 * scans' headers by path) let plain float32 scans be split between the threads by voxels instead
 * (fitRanges.ts), with the same bytes.
 */
export async function streamGroupSums(
  jobs: FitJob[],
  workers: number,
  onScan: (r: ScanReport) => void,
  headers?: ReadonlyMap<string, NiftiHeader>,
): Promise<FitSums[]> {
  // plain float32 scans with the native kernel: the threads split the voxels (fitRanges.ts)
  if (headers && !rangeRefusal(jobs, headers)) return streamRangeSums(jobs, workers, onScan, headers);
  const perJob = jobs.map(fitChunks);
  if (workers === 0 || perJob.flat().length === 1) {
    // in this thread: each chunk's sums added to its group's total in chunk order; a chunk's
    // arrays, once added, are reused for a later chunk (no fresh pages per chunk)
    const spares: FitSums[] = [];
    return perJob.map((chunks) => {
      let total: FitSums | undefined;
      for (const c of chunks) {
        const s = runFitJob(c, onScan, undefined, spares.pop());
        if (total) {
          mergeSums(total, s);
          spares.push(s);
        } else total = s;
      }
      return total!;
    });
  }
  // on the pool: each thread adds the chunks it sums to their group's shared total, in chunk
  // order (chunkMerge.ts); the pool hands chunks out in order, so chunk k-1 is always being
  // summed or already added when chunk k waits for it
  const order = createMergeOrder(jobs.map((j) => j.layout));
  const { scans: _all, ...base } = jobs[0];
  void _all;
  const items = perJob.flatMap((chunks, g) => chunks.map((c, k) => ({ scans: c.scans, g, k })));
  // the pool (node:worker_threads) loaded only for this path: the native ranges need neither
  const { ThreadPool } = await import('../node/threadPool.js');
  await new ThreadPool(workers).run<FitChunkShared, FitChunkItem, number, ScanReport>({
    module: new URL('./fitChunkWorker.js', import.meta.url).href,
    shared: { ...base, order },
    items,
    onResult: () => undefined,
    onNote: (report) => onScan(report),
    label: 'fit worker',
  });
  for (let g = 0; g < jobs.length; g++)
    invariant(Atomics.load(order.merged, g) === perJob[g].length, 'every chunk of the fit added to its total');
  return order.totals;
}

/**
 * The sums with the threads splitting the voxels (fitRanges.ts): `workers` of the addon's native threads
 * taking the ranges of guidedRanges in turn (one range in this thread for 0), each summing its voxels
 * into the shared totals and hashing its pieces of the files (with an addon built without XXH3, this
 * thread hashes the files whole meanwhile); then each scan's report, in scan order.
 */
async function streamRangeSums(
  jobs: FitJob[],
  workers: number,
  onScan: (r: ScanReport) => void,
  headers: ReadonlyMap<string, NiftiHeader>,
): Promise<FitSums[]> {
  const totals = jobs.map((j) => createSharedSums(j.layout));
  // ~150 bytes per voxel, new: their first touch (by the fit's threads) a fault per 2 MiB, not per page
  for (const t of totals) adviseHugePages(new Uint8Array(t.yy.buffer));
  const rj = rangeJobs(jobs, headers, totals);
  const hashes = rj.map((j) => new Array<string>(j.paths.length).fill(''));
  const onNote = (n: RangeNote): void => void (hashes[n.g][n.i] = n.hash);
  if (workers === 0) runRange(rj, onNote);
  else await runRangesNative(rj, workers, onNote);
  rj.forEach((j, g) => rangeReports(j, hashes[g]).forEach(onScan));
  return totals;
}
