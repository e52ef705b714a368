/**
 * The one worker pool: runs a batch of work items (fit chunks, permutation blocks) on
 * worker_threads. Each thread loads the batch's work module once (node/threadWorker.ts), builds
 * its handler from the shared setup, and is handed one item at a time; a thread with nothing
 * left to do is ended at once, and the batch resolves when all have exited. Threads are started
 * per batch (as many as there are items, at most the width), so an idle command holds none.
 * Implements the `WorkRunner` seam of src/work.ts.
 */
import { Worker } from 'node:worker_threads';
import { VbmError } from '../errors.js';
import type { WorkBatch, WorkRunner } from '../work.js';
import { BUNDLE, workModuleUrl } from './bundled.js';

/** Messages from node/threadWorker.ts. */
export type ThreadMessage =
  | { type: 'note'; index: number; note: unknown }
  | { type: 'done'; index: number; result: unknown }
  | { type: 'error'; message: string; hint?: string; user: boolean; stack?: string };

/** What node/threadWorker.ts gets as workerData. */
export interface ThreadSetup {
  module: string;
  shared: unknown;
  thread: number;
}

const WORKER_URL = new URL(BUNDLE?.threadWorker ?? './threadWorker.js', import.meta.url);

/** Worker threads, at most `width` at once: the runner of the fit's chunks and the permutation test's blocks. */
export class ThreadPool implements WorkRunner {
  /** `width`: threads at most (0 or more; 0 runs nothing: callers run in-process instead). */
  constructor(readonly width: number) {}

  /** Run the batch's items on min(width, batch.width, items) threads; see `WorkBatch` for the order of results. */
  run<Shared, Item, Result, Note = never>(batch: WorkBatch<Shared, Item, Result, Note>): Promise<void> {
    const items = batch.items;
    const nThreads = Math.min(this.width, batch.width ?? this.width, items.length);
    if (nThreads < 1) return Promise.resolve();
    const label = batch.label ?? 'worker thread';
    return new Promise<void>((resolve, reject) => {
      const threads: Worker[] = [];
      const idle: Worker[] = [];
      const ending: Promise<number>[] = [];
      const ready = new Map<number, Result>();
      let assigned = 0;
      let delivered = 0;
      let stopping = false;
      let failed = false;
      const asked = new Set<Worker>();
      const fail = (e: Error): void => {
        if (failed) return;
        failed = true;
        for (const w of threads) void w.terminate();
        reject(e);
      };
      const end = (w: Worker): void => {
        asked.add(w);
        ending.push(w.terminate());
        if (asked.size === threads.length)
          void Promise.all(ending).then(
            () => resolve(),
            (e: Error) => fail(e),
          );
      };
      const more = (): boolean => {
        if (stopping || assigned >= items.length) return false;
        if (batch.stop?.()) stopping = true;
        return !stopping;
      };
      const dispatch = (): void => {
        while (!failed && idle.length) {
          if (!more()) {
            // nothing left to hand out: end the idle threads (the busy ones end when they report)
            while (idle.length) end(idle.pop()!);
            return;
          }
          if (batch.ordered && assigned - delivered >= nThreads) return;
          const w = idle.pop()!;
          const out = batch.handOut ? batch.handOut(items[assigned], assigned) : { item: items[assigned] };
          w.postMessage({ index: assigned, item: out.item }, out.transfer ?? []);
          assigned++;
        }
      };
      const deliver = (index: number, result: Result): void => {
        if (!batch.ordered) {
          batch.onResult(result, index);
          delivered++;
          return;
        }
        ready.set(index, result);
        while (ready.has(delivered)) {
          const r = ready.get(delivered)!;
          ready.delete(delivered);
          batch.onResult(r, delivered);
          delivered++;
        }
      };
      for (let k = 1; k <= nThreads; k++) {
        const workerData: ThreadSetup = { module: workModuleUrl(batch.module), shared: batch.shared, thread: k };
        const w = new Worker(WORKER_URL, { workerData });
        threads.push(w);
        idle.push(w);
        w.on('message', (msg: ThreadMessage) => {
          if (failed) return;
          try {
            if (msg.type === 'note') batch.onNote?.(msg.note as Note, msg.index);
            else if (msg.type === 'done') {
              deliver(msg.index, msg.result as Result);
              idle.push(w);
              dispatch();
            } else if (msg.type === 'error') {
              fail(
                msg.user
                  ? new VbmError(msg.message, msg.hint)
                  : new Error(`${label} failed: ${msg.message}\n${msg.stack ?? ''}`),
              );
            }
          } catch (e) {
            fail(e as Error); // thrown by the caller's onResult / onNote
          }
        });
        w.on('error', fail);
        w.on('exit', (code) => {
          if (!asked.has(w)) fail(new Error(`${label} ${k} exited (code ${code}) before its work was done`));
        });
      }
      try {
        dispatch();
      } catch (e) {
        fail(e as Error);
      }
    });
  }
}
