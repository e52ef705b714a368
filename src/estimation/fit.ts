import type { PostKernel } from './postKernel.js';
import {
  adviseHugePages,
  nativeMaskCounter,
  nativePageToucher,
  nativePostKernel,
  nativeSmoothnessLoop,
  nativeSmoothnessLoopAsync,
} from './nativeFit.js';
import { availableParallelism } from 'node:os';
import { readHeadersOnly } from '../node/nifti/read.js';
import type { NiftiHeader } from '../io/nifti/header.js';
import { openNifti } from '../node/nifti/read.js';
import type { Design } from '../model/designMatrix.js';
import type { FitSums } from './accumulate.js';
import { type FitJob, type ScanReport, checkGrid } from './fitJob.js';
import { streamGroupSums, streamSums } from './fitChunks.js';
import { type FittedModel, type PostArena, planFit, solveSummed, withSmoothness } from './fitSolve.js';
import {
  type SmoothnessEstimate,
  type SmoothnessInput,
  estimateSmoothness,
  estimateSmoothnessAsync,
} from './smoothness.js';
import type { SmoothnessResult, SmoothnessShared } from './smoothnessWork.js';
import { type ReselCounts, reselCounts } from '../inference/resels.js';
import { invariant } from '../errors.js';
import { type MaskingOptions, maskFileOnGrid } from './masking.js';
import { analyzeWarning } from '../io/nifti/analyze.js';
import { type ScanRef, parseScanRefs } from './scanList.js';

// the model's type lives with the pure solve (fitSolve.ts); it stays importable from here
export type { FittedModel } from './fitSolve.js';

/** Settings of the streaming model fit: masking, worker threads, progress and cancellation. */
export interface FitOptions {
  masking?: MaskingOptions;
  /** Worker threads (default: the machine's cores, at most the number of scans); 0 runs in-process. */
  workers?: number;
  /** Residual images used for smoothness (SPM's stats.maxres, 64). */
  maxResiduals?: number;
  /** Called after each scan is read. */
  onProgress?: (done: number, total: number) => void;
  /** Non-sphericity: upper-tail p of the effects-of-interest F selecting the pooled voxels (SPM: 0.001). */
  UFp?: number;
  /**
   * Fold the scans into the sums elsewhere (as tasks, src/backend/fitTasks.ts): one set of sums
   * per job (one job, or one per variance group), each job's fixed chunks added in chunk order;
   * default: fixed chunks on worker threads.
   */
  sums?: (jobs: FitJob[], onScan: (r: ScanReport) => void) => Promise<FitSums[]>;
  /** The scans' headers by path (without ",N"), when the caller has read them already; default: read here. */
  headers?: ReadonlyMap<string, NiftiHeader>;
}

/** Estimate the model voxel by voxel, streaming over the scans once. */
export async function fitModel(design: Design, opts: FitOptions = {}): Promise<FittedModel> {
  const staged = await fitModelStaged(design, opts);
  return withSmoothness(staged.model, (await staged.smoothness).smoothness);
}

/** The smoothness estimate and the analysis mask's resel counts (SPM's R0-R3 at that FWHM). */
export interface FitSmoothness {
  smoothness: SmoothnessEstimate;
  resels: ReselCounts;
}

/** A fitted model whose smoothness may still be under way (on other threads). */
export interface StagedFit {
  model: Omit<FittedModel, 'smoothness'>;
  smoothness: Promise<FitSmoothness>;
  /**
   * The loops after the fit the solve used (the native addon's, on the fit's threads; undefined without
   * it): for the caller's images and contrasts.
   */
  postKernel?: PostKernel;
}

/**
 * fitModel, returning as soon as the estimates are solved: the smoothness estimate (and the resel
 * counts) then runs on other threads (smoothnessOnThread) while the caller writes images and
 * computes contrasts, when the fit ran on threads (its sums are then on shared memory); otherwise
 * on this thread before returning. The same bits either way.
 */
export async function fitModelStaged(design: Design, opts: FitOptions = {}): Promise<StagedFit> {
  const timings: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string): void => {
    const t = performance.now();
    timings[name] = t - t0;
    t0 = t;
  };
  const masking = opts.masking ?? {};
  const threshold = masking.threshold ?? { type: 'none' };
  const implicit = masking.implicit ?? true;
  // 1. headers: every file exists, is NIfTI, and all share one grid (checked before any heavy work)
  const stripped = design.scans.map((s) => s.replace(/,(\d+)$/, ''));
  const headers = opts.headers ?? (await readHeadersOnly(stripped));
  const refs: ScanRef[] = parseScanRefs(design.scans, (p) => headers.get(p)?.nVolumes ?? 1);
  const first = headers.get(refs[0].path) as NiftiHeader;
  const reference = { dims: first.dims, affine: first.affine, path: refs[0].path };
  for (const r of refs) {
    const h = headers.get(r.path) as NiftiHeader;
    checkGrid(h.dims, h.affine, r.path, reference);
  }
  const warnings: string[] = [];
  for (const h of headers.values()) {
    const w = analyzeWarning(h);
    if (w) warnings.push(w);
  }
  lap('headers');
  const [nx, ny, nz] = first.dims;
  const nvox = nx * ny * nz;
  // 2. candidate voxels: the explicit mask on the scans' grid
  let explicit: Uint8Array;
  if (masking.explicitMask) {
    explicit = maskFileOnGrid(openNifti(masking.explicitMask), first.dims, first.affine);
  } else explicit = new Uint8Array(nvox).fill(1);
  const plan = planFit(
    design,
    refs,
    reference,
    explicit,
    { threshold, implicit, maskName: masking.explicitMask, maxResiduals: opts.maxResiduals },
    (n) => new Int32Array(new SharedArrayBuffer(n * 4)),
  );
  // 3. stream the scans through workers, each summing its share
  const nWorkers = Math.max(0, Math.min(opts.workers ?? availableParallelism(), plan.items.length));
  // the solve's arrays made now and their pages faulted in on a thread of the addon's while the fit
  // starts, not by the loops after it (which wait for new pages: ~15 ms of the solve and the index here)
  const post = nWorkers > 0 && !plan.groups ? postArena(plan.nCand, design.p, nvox) : undefined;
  const reports: ScanReport[] = [];
  const onScan = (r: ScanReport): void => {
    reports.push(r);
    opts.onProgress?.(reports.length, plan.items.length);
  };
  // fixed chunks added in a fixed order: the same bytes for any number of workers or tasks
  let sums: FitSums | FitSums[];
  if (!plan.groups) {
    const fitJob = plan.jobs[0];
    sums = opts.sums ? (await opts.sums([fitJob], onScan))[0] : await streamSums(fitJob, nWorkers, onScan, headers);
  } else {
    // one set of sums per variance group (each group's scans in their own fixed chunks, all
    // through one pool, or as tasks), so any per-group weighting of the fit follows without another read
    sums = opts.sums ? await opts.sums(plan.jobs, onScan) : await streamGroupSums(plan.jobs, nWorkers, onScan, headers);
  }
  lap('stream');
  // 4-5. the analysis mask and the estimates from the sums (pure: fitSolve.ts)
  const all = Array.isArray(sums) ? sums : [sums];
  const onThreads = nWorkers > 0 && all.every((s) => isShared(s.ryy) && isShared(s.rxty));
  // the distributions (for the non-sphericity's F threshold) only for a design with variance groups
  const fQuantile = plan.groups
    ? await import('../inference/distributions.js').then(
        ({ statFromTail }) =>
          (p: number, df: [number, number]): number =>
            statFromTail('F', p, df),
      )
    : undefined;
  const postKernel = nativePostKernel(Math.max(1, nWorkers));
  await post?.ready;
  const solved = solveSummed({
    design,
    plan,
    sums,
    reports,
    refs,
    dims: first.dims,
    affine: first.affine,
    warnings,
    timings,
    UFp: opts.UFp,
    fQuantile,
    lap,
    shared: onThreads,
    postKernel,
    arena: post?.arena,
  });
  // 6. the smoothness, on other threads when every array it reads is shared
  const input = solved.smoothness;
  const arrays = [input.vox, input.candOf, input.maskIndex, input.beta, input.rss, input.ryy, input.rxty];
  if (!onThreads || !arrays.every(isShared) || !isShared(solved.model.mask)) {
    const smoothness = estimateSmoothness(input, nativeSmoothnessLoop());
    lap('smoothness');
    const resels = reselCounts(solved.model.mask, first.dims, smoothness.fwhmVox, nativeMaskCounter());
    return { model: solved.model, smoothness: Promise.resolve({ smoothness, resels }), postKernel };
  }
  return {
    model: solved.model,
    smoothness: smoothnessOnThread(input, solved.model.mask, timings, nWorkers),
    postKernel,
  };
}

/**
 * Shared memory for solveSummed's arrays without variance groups (the betas, ResSS and ResMS: p + 2
 * float64 per candidate; the candidates kept, the voxel list and the grid's index: 3 int32 per
 * candidate and one per voxel; the mask: a byte per voxel), its pages touched by the addon on a thread
 * of its own (postTouchAsync); undefined without that function.
 */
function postArena(nCand: number, p: number, nvox: number): { arena: PostArena; ready: Promise<void> } | undefined {
  const touch = nativePageToucher();
  if (!touch) return undefined;
  const f64 = new Float64Array(new SharedArrayBuffer(8 * nCand * (p + 2)));
  const i32 = new Int32Array(new SharedArrayBuffer(4 * (3 * nCand + nvox)));
  const u8 = new Uint8Array(new SharedArrayBuffer(nvox));
  adviseHugePages(f64, i32);
  const ready = touch(f64, i32, u8);
  // a failure only leaves the pages to be faulted in later
  const settled = ready.catch(() => undefined);
  const taken = { f64: 0, i32: 0, u8: 0 };
  const take = <T extends Float64Array | Int32Array | Uint8Array>(
    pool: T,
    key: keyof typeof taken,
    n: number,
  ): T | undefined => {
    if (taken[key] + n > pool.length) return undefined;
    const a = pool.subarray(taken[key], taken[key] + n) as T;
    taken[key] += n;
    return a;
  };
  return {
    arena: { f64: (n) => take(f64, 'f64', n), i32: (n) => take(i32, 'i32', n), u8: (n) => take(u8, 'u8', n) },
    ready: settled,
  };
}

/** Whether a typed array lies on shared memory (a worker thread reads it without a copy). */
function isShared(a: { buffer: ArrayBufferLike }): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/**
 * estimateSmoothness and reselCounts off this thread: the voxel loop on native threads of the addon's
 * own where it has them (no isolate to start; split between `threads`, the same bits; the resel counts'
 * mask walk then follows here, a few ms), else both on one worker thread of the pool (smoothnessWork.ts).
 */
function smoothnessOnThread(
  input: SmoothnessInput,
  mask: Uint8Array,
  timings: Record<string, number>,
  threads: number,
): Promise<FitSmoothness> {
  const t0 = performance.now();
  const rpv = new Float64Array(new SharedArrayBuffer(input.vox.length * 8));
  adviseHugePages(rpv);
  const loop = nativeSmoothnessLoopAsync(threads);
  let done: Promise<FitSmoothness>;
  if (loop)
    done = estimateSmoothnessAsync(input, loop, rpv).then((smoothness) => {
      timings.smoothness = performance.now() - t0;
      return { smoothness, resels: reselCounts(mask, input.dims, smoothness.fwhmVox, nativeMaskCounter()) };
    });
  else {
    let result: SmoothnessResult | undefined;
    // the pool (node:worker_threads) loaded only for this fallback: the native path needs neither
    done = import('../node/threadPool.js')
      .then(({ ThreadPool }) =>
        new ThreadPool(1).run<SmoothnessShared, number, SmoothnessResult>({
          module: new URL('./smoothnessWork.js', import.meta.url).href,
          shared: { input, rpv, mask },
          items: [0],
          onResult: (r) => (result = r),
          label: 'smoothness worker',
        }),
      )
      .then(() => {
        invariant(result !== undefined, 'the smoothness worker gave its estimate');
        timings.smoothness = performance.now() - t0;
        return { smoothness: { ...result.estimate, rpv }, resels: result.resels };
      });
  }
  // a caller that fails before awaiting it must not leave an unhandled rejection behind
  done.catch(() => undefined);
  return done;
}
