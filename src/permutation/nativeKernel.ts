/**
 * The optional native product kernel (native/vbm_kernel.c, in the addon node/addon.ts loads) and
 * the addon's exact TFCE. A Node shell: where the addon is missing, does not load, or the CPU has
 * neither AVX2 with FMA nor AVX-512, there is no native kernel and the WebAssembly one runs.
 */
import { loadAddon } from '../node/addon.js';
import type { NativeKernel } from './nativeProduct.js';
import type { NativeTfce } from './tfceNative.js';

let loaded: NativeKernel | null | undefined;

/** The native kernel of this process, or null (loaded once). */
export function loadNativeKernel(): NativeKernel | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const addon = loadAddon() as {
    cpuLevel(): string;
    product: NativeKernel['product'];
    statistics: NativeKernel['statistics'];
    residualise: NativeKernel['residualise'];
    welch: NativeKernel['welch'];
    adviseHugePages?: NativeKernel['adviseHugePages'];
  } | null;
  if (!addon) return loaded;
  const level = addon.cpuLevel();
  if (level === 'avx2' || level === 'avx512')
    loaded = {
      level,
      product: addon.product,
      statistics: addon.statistics,
      residualise: addon.residualise,
      welch: addon.welch,
      adviseHugePages: addon.adviseHugePages,
    };
  return loaded;
}

let loadedTfce: NativeTfce | null | undefined;

/** The native exact TFCE of this process (native/vbm_tfce.c), or null where the addon is missing or has none (loaded once). */
export function loadNativeTfce(): NativeTfce | null {
  if (loadedTfce !== undefined) return loadedTfce;
  // the TFCE needs no particular instruction set (plain C): whatever the CPU, where the addon has it
  const addon = loadAddon() as Partial<NativeTfce> | null;
  loadedTfce = addon?.tfceWorkspace && addon.tfce ? { tfceWorkspace: addon.tfceWorkspace, tfce: addon.tfce } : null;
  return loadedTfce;
}
