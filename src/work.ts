/**
 * The execution seam for batches of work inside one command: fit chunks (runs of consecutive
 * scans folded into sums) and permutation blocks (runs of rearrangements) are work items that a
 * `WorkRunner` hands to a work module, wherever that module runs.
 *
 * - A work module (e.g. `estimation/fitChunkWorker.ts`, `permutation/blockWork.ts`) exports
 *   `work: WorkModule`: `start(shared, thread)` is called once per thread (or process) with the
 *   batch's shared setup, and returns the handler that turns one item into one result. The
 *   module knows nothing of where it runs.
 * - A runner decides where: `node/threadPool.ts` runs items on worker_threads (today's only
 *   runner; SharedArrayBuffers and WebAssembly.Memory in `shared` are shared, not copied). A
 *   process pool or a cluster scheduler implements the same `WorkRunner` interface: it starts
 *   its processes or tasks with the module's address and a structured clone (or a file) of
 *   `shared`, sends them items and calls back with results. The engines (the fit, the
 *   permutation test) only build a `WorkBatch` and merge what `onResult` gives them, so a new
 *   runner needs no change to them. (Whole commands split into task files and submitted to
 *   Slurm go through the coarser `backend/backend.ts` TaskRunner; this seam is for the items of
 *   one process's batch.)
 *
 * Results are merged by the engines in a fixed way (the fit in item order, the permutation test
 * by rearrangement index), so the outputs are the same bytes whatever the runner and its width.
 * Pure types: no node:* import, usable by the core.
 */

/** The handler of one thread (or process): one item in, one result out; `note` sends progress (e.g. one scan read). */
export type WorkHandler<Item, Result, Note> = (item: Item, note: (n: Note) => void) => Result;

/** What a work module exports as `work`. */
export interface WorkModule<Shared, Item, Result, Note = never> {
  /** Build the handler for thread `thread` (1, 2, ...; 0 is the calling thread) from the batch's shared setup. */
  start(shared: Shared, thread: number): WorkHandler<Item, Result, Note>;
  /** Buffers of a result to move to the caller rather than copy (fresh per result; never shared ones). */
  transfer?(result: Result): ArrayBuffer[];
}

/** One batch of items for one work module. */
export interface WorkBatch<Shared, Item, Result, Note = never> {
  /** Address of the work module (a file URL's href for threads and processes). */
  module: string;
  /** Passed once to every thread's `start` (structured-cloneable). */
  shared: Shared;
  items: readonly Item[];
  /** At most this many threads (default: the runner's width; never more than the items). */
  width?: number;
  /** Called in this thread with each item's result (`index` into `items`). */
  onResult(result: Result, index: number): void;
  /**
   * Called as item `index` is handed out: the item as sent and the buffers to move with it rather
   * than copy (e.g. a merged result's arrays, for the thread to reuse). Default: the item, copied.
   */
  handOut?(item: Item, index: number): { item: Item; transfer?: ArrayBuffer[] };
  /** Called in this thread with each note an item sends. */
  onNote?(note: Note, index: number): void;
  /**
   * Asked before each item is handed out: true ends the batch early (items not yet handed out
   * are skipped; those running finish and their results are delivered). Not asked again once true.
   */
  stop?(): boolean;
  /**
   * Deliver results in item order, with at most `width` items handed out and not yet delivered
   * (so memory holds at most width + 1 results: the fit's sums). Default: as they come.
   */
  ordered?: boolean;
  /** Names the work in errors that are not the user's (e.g. 'permutation worker'). */
  label?: string;
}

/** Where the items of a batch run. Resolves when every item handed out has been delivered; rejects on the first failure. */
export interface WorkRunner {
  /** Items run at once at most (threads, processes, tasks). */
  readonly width: number;
  run<Shared, Item, Result, Note = never>(batch: WorkBatch<Shared, Item, Result, Note>): Promise<void>;
}
