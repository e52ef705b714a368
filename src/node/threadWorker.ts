/**
 * The entry of every thread of node/threadPool.ts: loads the batch's work module, builds its
 * handler once from the shared setup, then runs the items it is sent one at a time and sends
 * back each result (its buffers moved, not copied, as the module says), the notes on the way,
 * or the error: a VbmError (the user's to fix) keeps its message and hint, others their stack.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import type { WorkHandler, WorkModule } from '../work.js';
import type { ThreadMessage, ThreadSetup } from './threadPool.js';

const setup = workerData as ThreadSetup;
const port = parentPort!;
const post = (m: ThreadMessage, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
const fail = (e: unknown): void => {
  const err = e as Error;
  post(
    e instanceof VbmError
      ? { type: 'error', message: err.message, hint: e.hint, user: true }
      : { type: 'error', message: err?.message ?? String(e), stack: err?.stack, user: false },
  );
};

let module: WorkModule<unknown, unknown, unknown, unknown> | undefined;
let handler: WorkHandler<unknown, unknown, unknown> | undefined;
// the module loads while the first item may already be on its way: items wait for it, in order
let queue: Promise<void> = (import(setup.module) as Promise<{ work: WorkModule<unknown, unknown, unknown, unknown> }>)
  .then((m) => {
    module = m.work;
    handler = module.start(setup.shared, setup.thread);
  })
  .catch(fail);

port.on('message', (msg: { index: number; item: unknown }) => {
  queue = queue.then(() => {
    if (!handler || !module) return; // start failed and was reported
    try {
      const result = handler(msg.item, (note) => post({ type: 'note', index: msg.index, note }));
      post({ type: 'done', index: msg.index, result }, module.transfer?.(result));
    } catch (e) {
      fail(e);
    }
  });
});
