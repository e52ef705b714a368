/**
 * The work module of a streamed permutation test (src/work.ts; run by the one thread pool,
 * node/threadPool.ts): a thread builds one block engine (blockEngine.ts, pure) and, for each item,
 * opens the scratch file (scratchMatrix.ts) itself: the 'prepare' item reduces every block to the
 * nuisance model's residuals and computes the observed statistics; a 'run' item computes a unit of
 * rearrangements, reading every block once per pass. A Node module (it reads the file), so not
 * pure; the loop it serves (streamed.ts) is.
 */
import type { WorkModule } from '../work.js';
import { BlockEngine } from './blockEngine.js';
import type { BatchResult } from './engine.js';
import { loadNativeKernel, loadNativeTfce } from './nativeKernel.js';
import { nativeKernel, provideNativeKernel } from './nativeProduct.js';
import { removeNuisance } from './nuisance.js';
import { ScratchReader } from './scratchMatrix.js';
import type { StreamItem, StreamShared } from './streamed.js';
import { provideNativeTfce } from './tfceNative.js';

/** The maxima and counts of a unit (null for 'prepare', whose results are in the shared arrays). */
export const work: WorkModule<StreamShared, StreamItem, BatchResult | null> = {
  start: ({ setup, path, G, stat }) => {
    if (setup.native) {
      provideNativeKernel(loadNativeKernel());
      provideNativeTfce(loadNativeTfce());
    }
    const engine = new BlockEngine(setup);
    return (item) => {
      if (item.kind === 'prepare') {
        if (!G || !stat) throw new Error('streamWork: prepare needs the nuisance basis and the observed map');
        const io = new ScratchReader(path, setup.n, true);
        try {
          engine.prepare(
            (b, into) => io.read(b, into),
            (b, from) => io.write(b, from),
            (R, n, V, stride) => removeNuisance(R, n, V, stride, G, setup.native ? nativeKernel(setup.native) : null),
            stat,
          );
        } finally {
          io.close();
        }
        return null;
      }
      const io = new ScratchReader(path, setup.n);
      try {
        return engine.run(item.first, item.count, (b, into) => io.read(b, into));
      } finally {
        io.close();
      }
    };
  },
  transfer: (r) => {
    if (!r) return [];
    const out = [r.maxStat, r.maxTfce, r.maxExtent, r.maxMass, r.countStat].map((a) => a.buffer as ArrayBuffer);
    if (r.countTfce) out.push(r.countTfce.buffer as ArrayBuffer);
    return out;
  },
};
