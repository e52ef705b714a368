/**
 * The Node entry of the permutation test (the analysis-folder entry points, permuteContrast and
 * permuteContrastShare, are in pipeline/permuteInput.ts): it loads the SIMD kernel (gemm.wasm)
 * once, runs the blocks of rearrangements on the thread pool (node/threadPool.ts), keeps
 * checkpoints in files (checkpoint.ts), data larger than the memory budget in a scratch file
 * (scratchMatrix.ts; the budget's default from memoryBudget.ts), then hands these to the pure test
 * of permutationTest.ts.
 * The pieces, one job each: types (settings, input, result), schemePlan (partition, scheme,
 * refusals), nuisance (the Freedman-Lane reduction), permutationTest (the loop over blocks),
 * engine + blockWork (a block of rearrangements), pValues, checkpoint; larger than memory:
 * voxelBlocks (the plan), streamed (the loop), blockEngine + streamWork (a unit over the blocks).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { ThreadPool } from '../node/threadPool.js';
import type { BatchResult } from './engine.js';
import { fileCheckpoint } from './checkpoint.js';
import { machineMemoryBudget } from './memoryBudget.js';
import { loadNativeKernel, loadNativeTfce } from './nativeKernel.js';
import { provideNativeTfce } from './tfceNative.js';
import { fileScratch } from './scratchMatrix.js';
import { type PermutationServices, runPermutationTest } from './permutationTest.js';
import type { PermutationInput, PermutationResult, PermuteOptions, PreparedScratch, SharedScratch } from './types.js';

export type {
  AccelReport,
  PermutationInput,
  PermutationResult,
  PermuteOptions,
  PreparedScratch,
  SharedScratch,
} from './types.js';
export { PERMUTATION_CHUNK } from './permutationTest.js';
export { planScheme, withVarianceGroups, type SchemePlan } from './schemePlan.js';

let gemm: { module: WebAssembly.Module; fused: boolean } | undefined;

/**
 * The compiled SIMD kernel (assembled from gemm.wat by `npm run build`), once per process: the copy
 * whose multiply-adds are fused (relaxed SIMD's f32x4.relaxed_madd, one rounding instead of two;
 * ~1.3x faster on x86 with FMA, see BENCHMARKS.md) when the engine accepts it, else the plain one.
 * Node 20 accepts relaxed SIMD behind V8's --experimental-wasm-relaxed-simd, set here (it only adds
 * instructions the validator accepts; a V8 without the flag keeps the plain kernel).
 */
export function gemmKernel(): { module: WebAssembly.Module; fused: boolean } {
  if (gemm) return gemm;
  const fma = readFileSync(new URL('./gemm-fma.wasm', import.meta.url));
  if (!WebAssembly.validate(fma)) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // no such flag: the plain kernel below
    }
  }
  gemm = WebAssembly.validate(fma)
    ? { module: new WebAssembly.Module(fma), fused: true }
    : { module: new WebAssembly.Module(readFileSync(new URL('./gemm.wasm', import.meta.url))), fused: false };
  return gemm;
}

/** The compiled SIMD kernel the permutation test is handed (see gemmKernel). */
export function gemmModule(): WebAssembly.Module {
  return gemmKernel().module;
}

/** The Node services of a test: the kernel (unless the JavaScript one is asked for), threads, checkpoint and scratch files, the memory budget. */
function nodeServices(opts: Omit<PermuteOptions, 'contrast'>): PermutationServices {
  // the native product where it loads, unless a kernel is asked for (it only runs with the fused WebAssembly kernel's numbers)
  const native = opts.kernel === undefined && gemmKernel().fused ? loadNativeKernel() : null;
  // with the addon, its TFCE (the JavaScript flood's numbers) in this thread too; threads load their own
  provideNativeTfce(native ? loadNativeTfce() : null);
  return {
    gemm: opts.kernel === 'js' ? null : gemmModule(),
    native,
    runner: new ThreadPool(opts.workers ?? availableParallelism()),
    blockModule: new URL(native ? './blockWorkNative.js' : './blockWork.js', import.meta.url).href,
    checkpoint: opts.checkpoint ? fileCheckpoint(opts.checkpoint) : undefined,
    memory: machineMemoryBudget(),
    scratch: fileScratch(opts.scratch ?? opts.checkpoint ?? join(tmpdir(), 'vbm-permutation')),
    streamModule: new URL('./streamWork.js', import.meta.url).href,
  };
}

/** The permutation test of one contrast on data in memory or read by the input's loader (worker threads, checkpoints). */
export async function permutationTest(
  input: PermutationInput,
  opts: Omit<PermuteOptions, 'contrast'>,
): Promise<PermutationResult> {
  return (await runPermutationTest(input, opts, nodeServices(opts))) as PermutationResult;
}

/** One share of a permutation test: rearrangements [first, first + count), first a multiple of PERMUTATION_CHUNK. */
export async function permutationShare(
  input: PermutationInput,
  opts: Omit<PermuteOptions, 'contrast'>,
  first: number,
  count: number,
): Promise<BatchResult> {
  return (await runPermutationTest(input, opts, nodeServices(opts), { first, count })) as BatchResult;
}

/**
 * Write a scratch file shared by the tasks of a job (`shared.locator`, in `shared.plan`'s voxel
 * blocks), reduce it to the nuisance model's residuals, and return what the tasks need besides it.
 */
export async function prepareSharedScratch(
  input: PermutationInput,
  opts: Omit<PermuteOptions, 'contrast' | 'sharedScratch'>,
  shared: Omit<SharedScratch, 'prepared' | 'blocks'>,
): Promise<PreparedScratch> {
  const o = { ...opts, sharedScratch: shared };
  return (await runPermutationTest(input, o, nodeServices(o))) as PreparedScratch;
}
