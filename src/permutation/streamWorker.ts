import { parentPort, workerData } from 'node:worker_threads';
import { type BlockSetup, BlockEngine } from './blockEngine.js';
import { reduce } from './permute.js';
import { ScratchReader } from './scratchMatrix.js';

/** Worker entry for streamed.ts: one block engine over the scratch file; prepares the blocks or runs units of rearrangements. */
const { setup, path } = workerData as { setup: BlockSetup; path: string };
const engine = new BlockEngine(setup);
parentPort?.on(
  'message',
  (msg: { type: 'prepare'; G: Float64Array[]; stat: Float32Array } | { type: 'run'; first: number; count: number }) => {
    try {
      if (msg.type === 'prepare') {
        const io = new ScratchReader(path, setup.n, true);
        try {
          engine.prepare(
            (b, into) => io.read(b, into),
            (b, from) => io.write(b, from),
            (R, n, V, stride) => reduce(R, n, V, stride, msg.G),
            msg.stat,
          );
        } finally {
          io.close();
        }
        parentPort?.postMessage({ type: 'prepared' });
        return;
      }
      const io = new ScratchReader(path, setup.n);
      let r;
      try {
        r = engine.run(msg.first, msg.count, (b, into) => io.read(b, into));
      } finally {
        io.close();
      }
      const transfer = [r.maxStat.buffer, r.maxTfce.buffer, r.maxExtent.buffer, r.maxMass.buffer, r.countStat.buffer];
      if (r.countTfce) transfer.push(r.countTfce.buffer);
      parentPort?.postMessage({ type: 'done', result: r }, transfer as ArrayBuffer[]);
    } catch (e) {
      parentPort?.postMessage({ type: 'error', message: (e as Error).stack ?? (e as Error).message });
    }
  },
);
