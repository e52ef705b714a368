/**
 * blockWork.ts's work module for Node threads when the run uses the native kernel: the thread
 * loads the addon (nativeKernel.ts) and provides it to its kernel before building its engine.
 */
import type { WorkModule } from '../work.js';
import { type Block, type BlockShared, work as pure } from './blockWork.js';
import type { BatchResult } from './engine.js';
import { loadNativeKernel, loadNativeTfce } from './nativeKernel.js';
import { provideNativeKernel } from './nativeProduct.js';
import { provideNativeTfce } from './tfceNative.js';

export const work: WorkModule<BlockShared, Block, BatchResult> = {
  ...pure,
  start: (shared, thread) => {
    provideNativeKernel(loadNativeKernel());
    provideNativeTfce(loadNativeTfce());
    return pure.start(shared, thread);
  },
};
