/**
 * A permutation test on data larger than its memory budget: the scans are written once to a scratch
 * file in voxel blocks (scratchMatrix.ts, planned by voxelBlocks.ts), reduced to the nuisance
 * model's residuals block by block, and streamed: each thread takes a unit of rearrangements and
 * reads every block once per pass of it (blockEngine.ts). permute.ts calls it instead of building
 * the matrix in memory; checkpoints, task shares and p-values are the same for both.
 */
import { Worker } from 'node:worker_threads';
import { type BlockSetup, BlockEngine } from './blockEngine.js';
import type { BatchResult } from './engine.js';
import { ScratchReader, ScratchWriter, removeScratch } from './scratchMatrix.js';
import { TfceWorkspace, tfce } from './tfce.js';
import { streamUnits } from './voxelBlocks.js';

export interface StreamedSource {
  /** The scans in order 0..n-1, each as its V values. */
  scans: (visit: (i: number, values: Float32Array) => void) => void;
  /** The nuisance model's basis (orthonormal columns): the data are replaced by their residuals. */
  G: Float64Array[];
  /** Path of the scratch file (removed when the test ends). */
  path: string;
}

export interface StreamedRun {
  ssTotal: Float64Array;
  observed: { stat: Float32Array; tfce: Float32Array | null };
  /** Run the pending chunks (chunk rearrangements each) in units, calling onUnit with each unit's maxima and counts. */
  run(
    pending: readonly number[],
    chunk: number,
    total: number,
    onUnit: (r: BatchResult) => void,
    stop: () => boolean,
    signal?: AbortSignal,
  ): Promise<void>;
  /** Remove the scratch file. */
  dispose(): void;
}

type Residualise = (R: Float32Array, n: number, V: number, stride: number, G: Float64Array[]) => Float64Array;

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
  workers: number,
  residualise: Residualise,
): Promise<StreamedRun> {
  const { n, V, plan } = setup;
  let removed = false;
  const dispose = (): void => {
    if (removed) return;
    removed = true;
    removeScratch(src.path);
    process.off('exit', dispose);
  };
  process.on('exit', dispose);
  try {
    const writer = new ScratchWriter(src.path, plan, n, V);
    try {
      src.scans((i, values) => writer.addScan(i, values));
      writer.finish();
    } finally {
      writer.close();
    }
    const ssTotal = shared(Float64Array, 8, V);
    const stat = shared(Float32Array, 4, V);
    const full: BlockSetup = { ...setup, ssTotal };
    let engine: BlockEngine | null = null;
    if (workers > 0) await inWorker(full, src.path, { type: 'prepare', G: src.G, stat });
    else {
      engine = new BlockEngine(full);
      const io = new ScratchReader(src.path, n, true);
      try {
        engine.prepare(
          (b, into) => io.read(b, into),
          (b, from) => io.write(b, from),
          (R, nn, vv, st) => residualise(R, nn, vv, st, src.G),
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
    const run: StreamedRun['run'] = async (pending, chunk, total, onUnit, stop, signal) => {
      try {
        const units = streamUnits(pending, chunk, total, plan.passSize, Math.max(1, workers));
        if (workers === 0) {
          const reader = new ScratchReader(src.path, n);
          try {
            for (const u of units) {
              if (signal?.aborted || stop()) break;
              onUnit(engine!.run(u.first, u.count, (b, into) => reader.read(b, into)));
            }
          } finally {
            reader.close();
          }
        } else await inWorkers(full, src.path, Math.min(workers, units.length), units, onUnit, stop, signal);
      } finally {
        dispose();
      }
    };
    return { ssTotal, observed, run, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

type WorkerReply = { type: 'done'; result: BatchResult } | { type: 'prepared' } | { type: 'error'; message: string };

/** One worker does the per-block preparation pass. */
function inWorker(setup: BlockSetup, path: string, msg: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./streamWorker.js', import.meta.url), { workerData: { setup, path } });
    w.on('message', (m: WorkerReply) => {
      if (m.type === 'error') reject(new Error(`permutation worker failed: ${m.message}`));
      else resolve();
      void w.terminate();
    });
    w.on('error', reject);
    w.postMessage(msg);
  });
}

/** Units of rearrangements fed to a pool of workers, each reading the scratch file itself. */
function inWorkers(
  setup: BlockSetup,
  path: string,
  count: number,
  units: { first: number; count: number }[],
  onUnit: (r: BatchResult) => void,
  stop: () => boolean,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let next = 0;
    let failed = false;
    let stopped = false;
    const workers: Worker[] = [];
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      for (const x of workers) void x.terminate();
      reject(e);
    };
    const feed = (w: Worker): void => {
      if (failed) return;
      if (next >= units.length || signal?.aborted || stopped || (stopped = stop())) {
        void w.terminate();
        return;
      }
      w.postMessage({ type: 'run', ...units[next++] });
    };
    let alive = count;
    for (let k = 0; k < count; k++) {
      const w = new Worker(new URL('./streamWorker.js', import.meta.url), { workerData: { setup, path } });
      workers.push(w);
      w.on('message', (m: WorkerReply) => {
        if (m.type === 'error') return fail(new Error(`permutation worker failed: ${m.message}`));
        if (m.type === 'done') onUnit(m.result);
        feed(w);
      });
      w.on('error', fail);
      w.on('exit', () => {
        if (--alive === 0 && !failed) resolve();
      });
      feed(w);
    }
    if (count === 0) resolve();
  });
}
