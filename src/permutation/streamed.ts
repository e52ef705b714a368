/**
 * A permutation test on data larger than its memory budget: the scans are written once to a scratch
 * store in voxel blocks (planned by voxelBlocks.ts; the shell's file, scratchMatrix.ts, is handed
 * in), reduced to the nuisance model's residuals block by block, and streamed: each thread takes a
 * unit of rearrangements and reads every block once per pass of it (blockEngine.ts). The units run
 * on the same WorkRunner as the in-memory blocks (the one thread pool) with the work module
 * streamWork.ts, or in the calling thread. permutationTest.ts calls it instead of building the
 * matrix in memory; checkpoints, task shares and p-values are the same for both. Pure.
 */
import { item } from '../errors.js';
import type { WorkRunner } from '../work.js';
import { type BlockSetup, BlockEngine } from './blockEngine.js';
import type { BatchResult } from './engine.js';
import { nativeKernel } from './nativeProduct.js';
import { removeNuisance } from './nuisance.js';
import { TfceWorkspace, tfce } from './tfce.js';
import type { PreparedScratch, ScanVisitor, ScratchStore } from './types.js';
import { streamUnits } from './voxelBlocks.js';

/** What every thread of streamWork.ts shares: the block engine's setup and the scratch file; for 'prepare' the nuisance basis and the observed map to fill. */
export interface StreamShared {
  setup: BlockSetup;
  path: string;
  G?: Float64Array[];
  stat?: Float32Array;
}

/** An item of streamWork.ts: the preparation pass, or a unit of rearrangements [first, first + count). */
export type StreamItem = { kind: 'prepare' } | { kind: 'run'; first: number; count: number };

export interface StreamedSource {
  /** The scans in order 0..n-1, each as its V values. */
  scans: ScanVisitor;
  /** The nuisance model's basis (orthonormal columns): the data are replaced by their residuals. */
  G: Float64Array[];
}

/** Where the streamed test keeps its data and runs its units. */
export interface StreamedServices {
  scratch: ScratchStore;
  /** The runner of units (the one thread pool) and the address of streamWork.ts for it; absent: in the calling thread. */
  runner?: WorkRunner;
  module?: string;
  /** Threads to use on the runner (0: the calling thread). */
  workers: number;
  /**
   * A scratch file shared with other processes (the tasks of a job): written at `locator` and kept
   * when the test ends; with `prepared` it is already written and reduced to residuals, and used as is.
   */
  common?: { locator: string; prepared?: PreparedScratch };
}

export interface StreamedRun {
  ssTotal: Float64Array;
  observed: { stat: Float32Array; tfce: Float32Array | null };
  /** Run the pending chunks (chunk rearrangements each) in units, calling onUnit with each unit's maxima and counts; may run again (the waves of sequential stopping) until `dispose`. */
  run(
    pending: readonly number[],
    chunk: number,
    total: number,
    onUnit: (r: BatchResult) => void,
    stop: () => boolean,
  ): Promise<void>;
  /** Remove the scratch file. */
  dispose(): void;
}

const shared = <T extends Float32Array | Float64Array>(
  make: new (b: SharedArrayBuffer) => T,
  bytes: number,
  length: number,
): T => new make(new SharedArrayBuffer(Math.max(8, length * bytes)));

/**
 * Write the scratch file and compute the residuals' sums of squares and the observed maps. The first
 * computing thread (a worker when there are any, so that no extra block is held in this thread) does
 * the per-block pass. `setup` is the engine's setup without ssTotal and observed maps.
 */
export async function prepareStreamed(
  src: StreamedSource,
  setup: Omit<BlockSetup, 'ssTotal' | 'observed'>,
  services: StreamedServices,
  onNote?: (message: string) => void,
): Promise<StreamedRun> {
  const { n, V, plan } = setup;
  const { scratch } = services;
  const runner = services.runner && services.module && services.workers > 0 ? services.runner : undefined;
  const workers = runner ? services.workers : 0;
  const t0 = performance.now();
  const common = services.common;
  const prepared = common?.prepared;
  const path = prepared ? common.locator : scratch.create(plan, n, V, src.scans, common?.locator);
  let removed = false;
  const dispose = (): void => {
    if (removed) return;
    removed = true;
    if (!common) scratch.remove(path);
  };
  try {
    const tWritten = performance.now();
    const ssTotal = prepared?.ssTotal ?? shared(Float64Array, 8, V);
    const stat = prepared?.stat ?? shared(Float32Array, 4, V);
    const full: BlockSetup = { ...setup, ssTotal };
    let engine: BlockEngine | null = null;
    if (prepared) {
      // written and reduced to residuals once, by another process
    } else if (runner) {
      await runner.run<StreamShared, StreamItem, BatchResult | null>({
        module: services.module!,
        shared: { setup: full, path, G: src.G, stat },
        items: [{ kind: 'prepare' }],
        width: 1,
        onResult: () => {},
        label: 'permutation worker',
      });
    } else {
      engine = new BlockEngine(full);
      const io = scratch.open(path, n, true);
      try {
        engine.prepare(
          (b, into) => io.read(b, into),
          (b, from) => io.write(b, from),
          (R, nn, vv, st) => removeNuisance(R, nn, vv, st, src.G, full.native ? nativeKernel(full.native) : null),
          stat,
        );
      } finally {
        io.close();
      }
    }
    let tmap: Float32Array | null = null;
    if (setup.tfce) {
      tmap = shared(Float32Array, 4, V);
      const ws = new TfceWorkspace(V, {
        voxels: setup.grid.voxels,
        dims: setup.grid.dims,
        connectivity: setup.neighbours.connectivity,
      });
      tfce(stat, setup.neighbours, setup.tfce, tmap, ws);
    }
    const observed = { stat, tfce: tmap };
    full.observed = observed;
    const tPrepared = performance.now();
    const secs = (ms: number): string => (ms / 1000).toFixed(1);
    if (!prepared)
      onNote?.(
        `scratch file written in ${secs(tWritten - t0)} s (scans read once), residuals and observed maps in ${secs(tPrepared - tWritten)} s`,
      );
    const run: StreamedRun['run'] = async (pending, chunk, total, onUnit, stop) => {
      try {
        const units = streamUnits(pending, chunk, total, plan.passSize, Math.max(1, workers));
        const passes: { count: number; ms: number }[] = [];
        const timed = (count: number, t: number, r: BatchResult): void => {
          passes.push({ count, ms: performance.now() - t });
          onUnit(r);
        };
        if (!runner && units.length) {
          engine ??= new BlockEngine(full);
          const reader = scratch.open(path, n, false);
          try {
            for (const u of units) {
              if (stop()) break;
              const t = performance.now();
              timed(
                u.count,
                t,
                engine.run(u.first, u.count, (b, into) => reader.read(b, into)),
              );
            }
          } finally {
            reader.close();
          }
        } else if (runner) {
          const started: number[] = [];
          const items: StreamItem[] = units.map((u) => ({ kind: 'run', ...u }));
          await runner.run<StreamShared, StreamItem, BatchResult | null>({
            module: services.module!,
            shared: { setup: full, path },
            items,
            width: Math.min(workers, units.length),
            handOut: (item, i) => {
              started[i] = performance.now();
              return { item };
            },
            onResult: (r, i) => timed(item(units, i, 'units').count, item(started, i, 'unit start times'), r!),
            stop,
            label: 'permutation worker',
          });
        }
        if (passes.length) {
          const count = passes.reduce((a, p) => a + Math.ceil(p.count / plan.passSize), 0);
          const ms = passes.reduce((a, p) => a + p.ms, 0);
          const perms = passes.reduce((a, p) => a + p.count, 0);
          onNote?.(
            `${count} passes over the scratch file on ${Math.max(1, workers)} thread(s): ${secs(ms / count)} s per pass, ${((perms * 1000) / ms).toFixed(2)} rearrangements per second per thread`,
          );
        }
      } catch (e) {
        dispose();
        throw e;
      }
    };
    return { ssTotal, observed, run, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}
