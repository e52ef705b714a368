import { parentPort, workerData } from 'node:worker_threads';
import { Engine, type EngineSetup } from './engine.js';

/** Worker entry: builds an engine over the shared data and runs the batches it is sent. */
const { setup, batchSize, slot } = workerData as { setup: EngineSetup; batchSize: number; slot: number };
const engine = new Engine(setup, batchSize, slot);
parentPort?.on('message', (msg: { type: 'batch'; first: number; count: number } | { type: 'stop' }) => {
  if (msg.type === 'stop') {
    process.exit(0);
  }
  try {
    const r = engine.run(msg.first, msg.count);
    const transfer = [
      r.maxStat.buffer,
      r.maxTfce.buffer,
      r.maxExtent.buffer,
      r.maxMass.buffer,
      r.countStat.buffer,
    ] as ArrayBuffer[];
    if (r.countTfce) transfer.push(r.countTfce.buffer as ArrayBuffer);
    parentPort?.postMessage({ type: 'done', result: r }, transfer);
  } catch (e) {
    parentPort?.postMessage({ type: 'error', message: (e as Error).message, stack: (e as Error).stack });
  }
});
