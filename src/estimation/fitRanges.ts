/**
 * The fit's threads split by VOXELS, not scans, where the native kernel can read the scans in place:
 * the candidate voxels are cut into contiguous ranges (whole blocks of BLOCK, at shares of a measured
 * cost: rangeCost) that the addon's own threads take in turn (guidedRanges, runRangesNative); a range
 * reads the part of each scan's file that its voxels and their +x, +y, +z neighbours need (pread into
 * slots that stay in cache, span by span; or, with VBM_FIT_READ=map or a very sparse mask, mapped:
 * native/vbm_map.c), and sums its voxels only, straight into the shared totals (native/vbm_fit.c
 * fitRange). Per voxel the chunk semantics stay: each chunk of FIT_CHUNK consecutive scans is summed
 * from zero and added to the total in chunk order, so the totals are the same bits as the chunks summed
 * by any number of threads (fitChunks.ts) and as this with any number of ranges; but there is no copy
 * of the scans in memory, no thread waiting for another's chunk, no full-size accumulator to reset or merge.
 *
 * Each scan's content hash (node/contentHash.ts: XXH3-128 of its 64 KiB pieces' XXH3-64) is computed
 * from the bytes the fit reads: each range hashes the pieces that begin in its part of the file, block
 * by block while the bytes are in cache (native fitRange, where the addon has XXH3: fitRangeHashes),
 * into a shared array of piece digests that rangeReports combines; so every byte is read once, and the
 * digest is the one any other reader of the file gives, for any number of ranges. With an addon
 * built without XXH3, the calling thread reads each file through once more (a small reused buffer),
 * while the native threads sum.
 * A scan's counts for warnings are kept per block, and added up here in block order, so they do not
 * depend on the number of threads.
 *
 * Only plain single-file scans qualify (uncompressed .nii, float32 in this machine's byte order, one
 * volume, no scaling, threshold known beforehand); otherwise, or with VBM_FIT_STREAM=read, the scans
 * are read and folded in chunks (fitChunks.ts), with the same bytes.
 */
import { statSync } from 'node:fs';
import { PIECE_BYTES, digestOfPieces, fileContentHash } from '../node/contentHash.js';
import { VbmError } from '../errors.js';
import { type NiftiHeader, isPlainFloat32 } from '../io/nifti/header.js';
import { BLOCK, type FitSums } from './accumulate.js';
import { scanSummary } from './masking.js';
import { type NativeFit, loadNativeFit } from './nativeFit.js';
import { FIT_CHUNK, type FitJob, type ScanReport } from './scanFold.js';

/** One job (group of scans) as the native voxel-range driver takes it. */
export interface RangeJob {
  /** The scans' files, and where their voxels start. */
  paths: string[];
  voxOffset: Float64Array;
  /** Per scan: scale, threshold, zeroIsMissing (0/1), residual subset (0/1). */
  desc: Float64Array;
  /** The design rows, p per scan. */
  x: Float64Array;
  cand: Int32Array;
  dims: Int32Array;
  /** Shared totals (every range writes its own voxels). */
  totals: FitSums;
  /** Per scan and block: removed, nonZero, finite, sum (shared). */
  stats: Float64Array;
  /** The scans' rows, datatype names and scales (for the reports). */
  rows: number[];
  datatype: string[];
  /**
   * Where the native fit hashes the scans as it reads them: each file's size when the fit began, its
   * first piece's number (m + 1 entries), and the pieces' digests (8 bytes each, shared).
   */
  hashing?: { sizes: Float64Array; pieceAt: Float64Array; digests: Uint8Array };
}

/** A scan's content hash, computed whole in JavaScript (an addon without XXH3): scan i of job g. */
export interface RangeNote {
  g: number;
  i: number;
  hash: string;
}

/**
 * Where the scans are mapped (not read): bytes of scan files each thread keeps mapped at once behind the
 * voxels being summed: a window per scan
 * of a pass (mappedWindow). On top of it each scan has the bytes the current span reads mapped (its
 * voxels and their +z neighbours' slice), as the kernel faults them in (in pieces of up to the page
 * cache's folios).
 */
export const MAPPED_BUDGET = 128 << 20;
/** The longest scan path (bytes of UTF-8) the native driver takes; a longer one takes the read path. */
const MAX_PATH_BYTES = 4095;
/**
 * Voxels summed over a chunk of scans at a time (whole blocks): their sums stay in cache, each scan is
 * read in runs. 16 blocks: a span then covers about a slice or more of the seed-size grid, so its +z
 * neighbours' slice mostly joins its own bytes (read once) instead of being read apart (8 blocks: 1.59x
 * the scans' bytes read, 16: 1.32x, 32: 1.18x but the kernel slower with the sums out of cache).
 */
export const SPAN = 16 * BLOCK;

/** Why the scans of `jobs` cannot be split by voxels here (undefined: they can), e.g. for a test's message. */
export function rangeRefusal(
  jobs: FitJob[],
  headers: ReadonlyMap<string, NiftiHeader> | undefined,
): string | undefined {
  if (process.env.VBM_FIT_STREAM === 'read') return 'VBM_FIT_STREAM=read';
  const k = process.env.VBM_FIT_KERNEL;
  if (k === 'wasm' || k === 'js') return `VBM_FIT_KERNEL=${k}`;
  if (Number(process.env.VBM_TEST_SCAN_DELAY_MS ?? 0) > 0) return 'VBM_TEST_SCAN_DELAY_MS';
  const native = loadNativeFit();
  if (!native?.fitRange || !native.fitRangeAsync) return 'no native fit kernel';
  if (!headers) return 'no headers';
  for (const job of jobs)
    for (const s of job.scans) {
      const h = headers.get(s.ref.path);
      if (!h) return `no header for ${s.ref.path}`;
      const plain = h.imagePath === h.path && !/\.gz$/i.test(h.path) && isPlainFloat32(h) && !s.ref.volume;
      if (!plain) return `${s.ref.path} is not a plain float32 .nii`;
      // the driver takes paths of up to 4095 bytes (Linux's PATH_MAX less the terminating zero)
      if (Buffer.byteLength(s.ref.path) > MAX_PATH_BYTES)
        return `${s.ref.path.slice(0, 40)}... is a path over 4095 bytes`;
      if (s.threshold === undefined && job.threshold.type === 'relative') return 'a relative threshold';
    }
  return undefined;
}

/** The jobs as the driver takes them, with zeroed shared counts; `totals`: one shared set of sums per job. */
export function rangeJobs(jobs: FitJob[], headers: ReadonlyMap<string, NiftiHeader>, totals: FitSums[]): RangeJob[] {
  return jobs.map((job, g) => {
    const { layout } = job;
    const m = job.scans.length;
    const p = layout.p;
    const nBlocks = Math.ceil(layout.cand.length / BLOCK);
    const voxOffset = new Float64Array(m);
    const desc = new Float64Array(4 * m);
    const x = new Float64Array(p * m);
    const datatype: string[] = [];
    job.scans.forEach((s, i) => {
      const h = headers.get(s.ref.path) as NiftiHeader;
      voxOffset[i] = h.voxOffset;
      const th = job.threshold;
      const thr = s.threshold ?? (th.type === 'absolute' ? th.value : -Infinity);
      desc.set([s.scale ?? 1, thr, job.implicit && !h.datatype.isFloat && th.type === 'none' ? 1 : 0], 4 * i);
      desc[4 * i + 3] = layout.smoothness && s.inResidualSubset ? 1 : 0;
      for (let j = 0; j < p; j++) x[p * i + j] = s.x[j];
      datatype.push(h.datatype.name);
    });
    return {
      paths: job.scans.map((s) => s.ref.path),
      voxOffset,
      desc,
      x,
      cand: layout.cand,
      dims: Int32Array.from(layout.dims),
      totals: totals[g],
      stats: new Float64Array(new SharedArrayBuffer(8 * 4 * m * Math.max(1, nBlocks))),
      rows: job.scans.map((s) => s.ref.row),
      datatype,
      hashing: loadNativeFit()?.fitRangeHashes ? pieceDigests(job.scans.map((s) => s.ref.path)) : undefined,
    };
  });
}

/** The sizes of the files, where their pieces begin, and a shared array for the pieces' digests. */
function pieceDigests(paths: string[]): NonNullable<RangeJob['hashing']> {
  const sizes = new Float64Array(paths.length);
  const pieceAt = new Float64Array(paths.length + 1);
  paths.forEach((path, i) => {
    try {
      sizes[i] = statSync(path).size;
    } catch (e) {
      throw new VbmError(
        `${path}: cannot read (${(e as Error).message})`,
        'check that the file exists and is readable',
      );
    }
    pieceAt[i + 1] = pieceAt[i] + Math.ceil(sizes[i] / PIECE_BYTES);
  });
  return { sizes, pieceAt, digests: new Uint8Array(new SharedArrayBuffer(8 * pieceAt[paths.length])) };
}

/**
 * What a range costs, per scan, relative to a voxel of the grid: each byte of its part of every file is
 * mapped or read and hashed, and each candidate voxel is summed besides. Measured on the bench cohort
 * (379 scans of 121x145x121, 5 columns, eight ranges of equal grid timed alone): 5.1 ms per slice of
 * the grid plus 0.74 ms per thousand candidates, i.e. ~0.77 ns per grid voxel and ~1.95 ns per
 * candidate per scan. The two parts differ in the slices outside the brain (bytes only) and the widest
 * slices (most candidates), so halves of the voxels or of the grid alone are not halves of the time.
 */
const CANDIDATE_COST = 2.5;

/** The cost (as above) of candidates [0, c): the grid up to candidate c's voxel and the candidates before it. */
function rangeCost(cand: Int32Array, nvox: number, c: number): number {
  return (c >= cand.length ? nvox : cand[c]) + CANDIDATE_COST * c;
}

/**
 * The first candidate of the range that begins at `share` of the whole cost (rangeCost): a block's
 * first, or cand.length; 0 at share 0, every candidate at 1. Ranges between edges at rising shares are
 * whole blocks, in order, of costs as near those shares as whole blocks allow.
 */
export function rangeEdge(cand: Int32Array, nvox: number, share: number): number {
  const n = cand.length;
  if (share <= 0) return 0;
  if (share >= 1) return n;
  // the first block b in [1, nBlocks] whose first voxel's cost reaches the share (nBlocks: none does)
  const edge = share * rangeCost(cand, nvox, n);
  let lo = 1;
  let hi = Math.ceil(n / BLOCK);
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rangeCost(cand, nvox, mid * BLOCK) >= edge) hi = mid;
    else lo = mid + 1;
  }
  return Math.min(n, lo * BLOCK);
}

/**
 * The ranges the fit's `threads` threads take in turn, in the order they are handed out, each to the next
 * thread free (guided): first one each of 70% of the cost (rangeCost), then of 20%, then of 10%, so a
 * thread slowed by another program idles at the end for at most a small range (on the bench cohort one of
 * two threads, slowed, had finished 150 ms before the other with halves). The range that ends the grid
 * is one of the large ones, at the grid's end: it also hashes every file's bytes after the last candidate
 * (the slices above the brain, ~9% of the cost), which would make a small range large. Each range costs
 * the files' mapping once more (~4% of the fit for 8 ranges instead of 2, measured): one range for one
 * thread. Whole blocks, covering every candidate once.
 */
export function guidedRanges(cand: Int32Array, nvox: number, threads: number): [number, number][] {
  if (threads <= 1) return [[0, cand.length]];
  const large = 0.7 / threads;
  // in grid order: the large ranges but one, the medium and small ones, the last large one
  const widths = [
    ...Array<number>(threads - 1).fill(large),
    ...Array<number>(threads).fill(0.2 / threads),
    ...Array<number>(threads).fill(0.1 / threads),
    large,
  ];
  const inGridOrder: [number, number][] = [];
  let share = 0;
  widths.forEach((w, i) => {
    const r0 = rangeEdge(cand, nvox, share);
    share = i === widths.length - 1 ? 1 : share + w;
    inGridOrder.push([r0, rangeEdge(cand, nvox, share)]);
  });
  // handed out the large ones first, then the medium, then the small ones
  const order = [...inGridOrder.keys()].sort((a, b) => (widths[b] ?? 0) - (widths[a] ?? 0) || a - b);
  return order.map((i) => inGridOrder[i]).filter(([r0, r1]) => r1 > r0);
}

/**
 * Scans summed in one pass over a range (whole chunks): the files open at once (read) or mapped, and
 * so the memory a pass maps (a window and the +z neighbours' slice per scan), stay bounded for any
 * number of scans.
 */
export const PASS_SCANS = 16 * FIT_CHUNK;

/**
 * Bytes of each file kept mapped behind the voxels being summed, in a pass of `scans` scans: the budget
 * shared between them (so a pass's windows add up to at most MAPPED_BUDGET), at least 64 KiB and at
 * most 8 MiB. The native driver releases a file's bytes below the window all scans at once (one TLB
 * flush, native/vbm_map.c vbm_release_below).
 */
export function mappedWindow(scans: number): number {
  return Math.min(8 << 20, Math.max(64 << 10, Math.floor(MAPPED_BUDGET / scans)));
}

/** The native driver's arguments for one pass (fitRange's, in native/vbm_fit.c's order). */
type PassArgs = Parameters<NonNullable<NativeFit['fitRange']>>;

/**
 * The passes of candidates [r0, r1) over the job's scans (at most `passScans` scans each, whole chunks,
 * each continuing the totals in chunk order): the driver's arguments for each. `window`: bytes of each
 * file kept mapped behind the voxels being summed (mappedWindow's; a test's smaller one makes the driver
 * release bytes at every span).
 */
function rangePasses(job: RangeJob, r0: number, r1: number, passScans: number, window?: number): PassArgs[] {
  if (r0 >= r1) return [];
  const s = job.totals;
  const m = job.paths.length;
  const p = job.x.length / m;
  const nBlocks = job.stats.length / (4 * m);
  const pass = Math.max(FIT_CHUNK, Math.floor(passScans / FIT_CHUNK) * FIT_CHUNK);
  const hs = job.hashing;
  const out: PassArgs[] = [];
  for (let p0 = 0; p0 < m; p0 += pass) {
    const p1 = Math.min(m, p0 + pass);
    const paths = job.paths.slice(p0, p1);
    out.push([
      paths,
      job.voxOffset.subarray(p0, p1),
      job.desc.subarray(4 * p0, 4 * p1),
      job.x.subarray(p * p0, p * p1),
      job.cand,
      job.dims,
      r0,
      r1,
      BLOCK,
      FIT_CHUNK,
      s.ok,
      s.vmin,
      s.vmax,
      s.yy,
      s.xty,
      s.ryy,
      s.rxty,
      job.stats.subarray(4 * nBlocks * p0, 4 * nBlocks * p1),
      window ?? mappedWindow(paths.length),
      SPAN,
      p0 > 0,
      hs?.sizes.subarray(p0, p1),
      hs?.digests.subarray(8 * hs.pieceAt[p0], 8 * hs.pieceAt[p1]),
    ]);
  }
  return out;
}

/**
 * Candidates [r0, r1) of the job summed into its totals in this thread (native fitRange, in passes of at
 * most PASS_SCANS scans), naming a short or odd file. `window`: as rangePasses'.
 */
export function sumRange(
  native: NativeFit,
  job: RangeJob,
  r0: number,
  r1: number,
  passScans = PASS_SCANS,
  window?: number,
): void {
  if (!native.fitRange) return;
  for (const args of rangePasses(job, r0, r1, passScans, window)) {
    try {
      native.fitRange(...args);
    } catch (e) {
      throw mapError(e, args[0]);
    }
  }
}

/** The voxels of the job's grid. */
function nvoxOf(job: RangeJob): number {
  return job.dims[0] * job.dims[1] * job.dims[2];
}

/**
 * Candidates [r0, r1) of the job summed on a native thread of the addon's own (fitRangeAsync: no
 * JavaScript isolate to start, this thread free meanwhile): sumRange's passes, the same sums.
 */
export async function sumRangeAsync(
  native: NativeFit,
  job: RangeJob,
  r0: number,
  r1: number,
  passScans = PASS_SCANS,
  window?: number,
): Promise<void> {
  const run = native.fitRangeAsync;
  if (!run) throw new Error('the native fit kernel has no fitRangeAsync');
  for (const args of rangePasses(job, r0, r1, passScans, window)) {
    try {
      await run(...args);
    } catch (e) {
      throw mapError(e, args[0]);
    }
  }
}

/** The driver's error about scan i as a VbmError naming its file (others unchanged). */
function mapError(e: unknown, paths: string[]): unknown {
  const code = (e as { code?: string }).code;
  const m = /^(\d+):(.*)$/s.exec((e as Error).message ?? '');
  if (!m || !code?.startsWith('VBM_')) return e;
  const path = paths[Number(m[1])] ?? '(unknown scan)';
  if (code === 'VBM_SHORT_FILE')
    return new VbmError(
      `${path}: ${m[2]}; the file is shorter than its header says (truncated, or changed while vbm ran)`,
      're-create or re-copy the scan, and do not change scans while vbm reads them',
    );
  if (code === 'VBM_CHANGED_FILE')
    return new VbmError(`${path}: ${m[2]}; it changed while vbm read it`, 'do not change scans while vbm reads them');
  if (code === 'VBM_GZIP_FILE')
    return new VbmError(`${path}: ${m[2]}`, 'rename it to end in .nii.gz (or decompress it with gunzip)');
  return new VbmError(`${path}: ${m[2]}`, 'check that the file is readable');
}

/** The content hash of a whole file (node/contentHash.ts), read through one reused buffer (kept small, so it stays in cache). */
export function hashWholeFile(path: string, buf: Uint8Array): string {
  try {
    return fileContentHash(path, buf);
  } catch (e) {
    throw new VbmError(
      `${path}: cannot read (${(e as Error).message})`,
      'check that the file exists and is readable, and do not change scans while vbm reads them',
    );
  }
}

/**
 * The scans' reports once every range is summed: each scan's counts added over the blocks in block
 * order (the same numbers for any number of ranges), with its content hash: from its pieces' digests
 * where the native fit hashed them, else `hashes[i]`.
 */
export function rangeReports(job: RangeJob, hashes: readonly string[]): ScanReport[] {
  const hs = job.hashing;
  const m = job.paths.length;
  const nBlocks = job.stats.length / (4 * m);
  const out: ScanReport[] = [];
  const st = job.stats;
  // each scan's sums over its blocks: the addon's loop where it has it (the same additions: 7-12 ms of
  // the main thread between the fit and the solve here, the loop running once, mostly unoptimised)
  const totals = new Float64Array(4 * m);
  const native = loadNativeFit()?.scanStats;
  if (native && m > 0) native(st, m, totals);
  else
    for (let i = 0; i < m; i++) {
      // in locals, not an object's fields (~15 ms more with fields, for 379 scans of 603 blocks)
      let removed = 0;
      let nonZero = 0;
      let finite = 0;
      let sum = 0;
      for (let at = 4 * i * nBlocks, end = at + 4 * nBlocks; at < end; at += 4) {
        removed += st[at];
        nonZero += st[at + 1];
        finite += st[at + 2];
        sum += st[at + 3];
      }
      totals.set([removed, nonZero, finite, sum], 4 * i);
    }
  for (let i = 0; i < m; i++) {
    const stats = {
      removed: totals[4 * i],
      nonZero: totals[4 * i + 1],
      finite: totals[4 * i + 2],
      sum: totals[4 * i + 3],
    };
    out.push({
      row: job.rows[i],
      hash: hs ? digestOfPieces(hs.digests.slice(8 * hs.pieceAt[i], 8 * hs.pieceAt[i + 1])) : (hashes[i] ?? ''),
      datatype: job.datatype[i],
      isFloat: true,
      ...scanSummary(stats, job.desc[4 * i]),
    });
  }
  return out;
}

/**
 * The fit in this thread (`--workers 0`): every job's voxels summed (hashing the files' pieces as they are
 * read), or where the addon cannot hash, the files read and hashed whole first (a note per file).
 */
export function runRange(jobs: RangeJob[], note: (n: RangeNote) => void): void {
  const native = loadNativeFit();
  if (!native?.fitRange) throw new Error('the native fit kernel has no fitRange');
  hashUnhashed(jobs, note);
  for (const job of jobs) sumRange(native, job, 0, job.cand.length);
}

/** The files of jobs the addon does not hash, each read and hashed whole (a note per file). */
function hashUnhashed(jobs: RangeJob[], note: (n: RangeNote) => void): void {
  // a read buffer only where some file is hashed here (not where the addon hashes as it reads)
  let buf: Uint8Array | undefined;
  jobs.forEach((job, g) => {
    if (job.hashing) return;
    buf ??= new Uint8Array(1 << 18);
    for (let i = 0; i < job.paths.length; i++) note({ g, i, hash: hashWholeFile(job.paths[i], buf) });
  });
}

/**
 * The jobs' voxels summed on `threads` of the addon's native threads (fitRangeAsync), each taking the next
 * range of guidedRanges' when it is free. Where the addon hashes as it reads, that is all; with one built
 * without XXH3, this thread meanwhile reads and hashes each file whole (a note per file). Returns once
 * every range begun has ended, even when one fails (no thread is left writing the totals; none is begun
 * after a failure).
 */
export async function runRangesNative(jobs: RangeJob[], threads: number, note: (n: RangeNote) => void): Promise<void> {
  const native = loadNativeFit();
  if (!native?.fitRangeAsync) throw new Error('the native fit kernel has no fitRangeAsync');
  // every job's ranges, handed to whichever thread is free, in order
  const work = jobs.flatMap((job) => guidedRanges(job.cand, nvoxOf(job), threads).map(([r0, r1]) => ({ job, r0, r1 })));
  let next = 0;
  // set by the first failure: no thread takes another range then (an unreadable scan is reported when the
  // ranges under way end, not after every range of the fit)
  let stop = false;
  // each thread's first range starts before this goes on (an async function runs to its first await)
  const running = Promise.allSettled(
    Array.from({ length: Math.max(1, threads) }, async () => {
      try {
        for (let w = next++; w < work.length && !stop; w = next++)
          await sumRangeAsync(native, work[w].job, work[w].r0, work[w].r1);
      } catch (e) {
        stop = true;
        throw e;
      }
    }),
  );
  let failed: Error | undefined;
  try {
    hashUnhashed(jobs, note);
  } catch (e) {
    failed = e as Error;
    stop = true;
  }
  for (const r of await running) if (r.status === 'rejected') failed ??= r.reason as Error;
  if (failed) throw failed;
}
