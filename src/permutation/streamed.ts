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
import { ScratchReader, ScratchWriter, removeScratch, removeStaleScratch, scratchPath } from './scratchMatrix.js';
import { TfceWorkspace, tfce } from './tfce.js';
import { streamUnits } from './voxelBlocks.js';

export interface StreamedSource {
  /** The scans in order 0..n-1, each as its V values. */
  scans: (visit: (i: number, values: Float32Array) => void) => void;
  /** The nuisance model's basis (orthonormal columns): the data are replaced by their residuals. */
  G: Float64Array[];
  /** Path prefix of the scratch file (it is removed when the test ends; stale ones of dead processes too). */
  prefix: string;
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
  onNote?: (message: string) => void,
): Promise<StreamedRun> {
  const { n, V, plan } = setup;
  const t0 = performance.now();
  removeStaleScratch(src.prefix);
  const path = scratchPath(src.prefix);
  let removed = false;
  const dispose = (): void => {
    if (removed) return;
    removed = true;
    removeScratch(path);
    process.off('exit', dispose);
  };
  process.on('exit', dispose);
  try {
    const writer = new ScratchWriter(path, plan, n, V);
    try {
      src.scans((i, values) => writer.addScan(i, values));
      writer.finish();
    } finally {
      writer.close();
    }
    const tWritten = performance.now();
    const ssTotal = shared(Float64Array, 8, V);
    const stat = shared(Float32Array, 4, V);
    const full: BlockSetup = { ...setup, ssTotal };
    let engine: BlockEngine | null = null;
    if (workers > 0) await inWorker(full, path, { type: 'prepare', G: src.G, stat });
    else {
      engine = new BlockEngine(full);
      const io = new ScratchReader(path, n, true);
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
    const tPrepared = performance.now();
    const secs = (ms: number): string => (ms / 1000).toFixed(1);
    onNote?.(
      `scratch file written in ${secs(tWritten - t0)} s (scans read once), residuals and observed maps in ${secs(tPrepared - tWritten)} s`,
    );
    const run: StreamedRun['run'] = async (pending, chunk, total, onUnit, stop, signal) => {
      try {
        const units = streamUnits(pending, chunk, total, plan.passSize, Math.max(1, workers));
        const passes: { count: number; ms: number }[] = [];
        const timed = (first: number, count: number, t: number) => (r: BatchResult) => {
          passes.push({ count, ms: performance.now() - t });
          onUnit(r);
        };
        if (workers === 0) {
          const reader = new ScratchReader(path, n);
          try {
            for (const u of units) {
              if (signal?.aborted || stop()) break;
              const t = performance.now();
              timed(u.first, u.count, t)(engine!.run(u.first, u.count, (b, into) => reader.read(b, into)));
            }
          } finally {
            reader.close();
          }
        } else await inWorkers(full, path, Math.min(workers, units.length), units, timed, stop, signal);
        if (passes.length) {
          const count = passes.reduce((a, p) => a + Math.ceil(p.count / plan.passSize), 0);
          const ms = passes.reduce((a, p) => a + p.ms, 0);
          const perms = passes.reduce((a, p) => a + p.count, 0);
          onNote?.(
            `${count} passes over the scratch file on ${Math.max(1, workers)} thread(s): ${secs(ms / count)} s per pass, ${((perms * 1000) / ms).toFixed(2)} rearrangements per second per thread`,
          );
        }
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
  timed: (first: number, count: number, t: number) => (r: BatchResult) => void,
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
    const started = new Map<Worker, (r: BatchResult) => void>();
    const feed = (w: Worker): void => {
      if (failed) return;
      if (next >= units.length || signal?.aborted || stopped || (stopped = stop())) {
        void w.terminate();
        return;
      }
      const u = units[next++];
      started.set(w, timed(u.first, u.count, performance.now()));
      w.postMessage({ type: 'run', ...u });
    };
    let alive = count;
    for (let k = 0; k < count; k++) {
      const w = new Worker(new URL('./streamWorker.js', import.meta.url), { workerData: { setup, path } });
      workers.push(w);
      w.on('message', (m: WorkerReply) => {
        if (m.type === 'error') return fail(new Error(`permutation worker failed: ${m.message}`));
        if (m.type === 'done') started.get(w)?.(m.result);
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
