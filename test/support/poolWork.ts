/**
 * A work module for the thread pool's tests: item i gives i * i + shared.offset, with a note when
 * it starts; items named in shared.failAt throw a VbmError, a TypeError, or end the thread.
 */
import { VbmError } from '../../src/errors.js';
import type { WorkModule } from '../../src/work.js';

export interface PoolShared {
  offset: number;
  failAt?: { item: number; how: 'user' | 'bug' | 'exit' };
}

export const work: WorkModule<PoolShared, number, { value: number; thread: number }, number> = {
  start: (shared, thread) => (item, note) => {
    note(item);
    const f = shared.failAt;
    if (f && f.item === item) {
      if (f.how === 'user') throw new VbmError(`scan ${item} is not a NIfTI file`, 'convert it first');
      if (f.how === 'bug') throw new TypeError(`cannot read property of item ${item}`);
      process.exit(7);
    }
    // a little work, so that items overlap across threads
    let s = 0;
    for (let k = 0; k < 2e5; k++) s += k % 3;
    return { value: item * item + shared.offset + (s > 0 ? 0 : 1), thread };
  },
};
