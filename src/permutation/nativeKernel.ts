/**
 * Loads the optional native product kernel (an N-API addon that `npm run build` compiles from
 * native/vbm_kernel.c with node-gyp where a C compiler is found; scripts/build-native.mjs) into
 * dist/native/vbm_kernel.node. A Node shell: where the file is missing, does not load, or the CPU
 * has neither AVX2 with FMA nor AVX-512, there is no native kernel and the WebAssembly one runs.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { NativeKernel } from './nativeProduct.js';
import type { NativeTfce } from './tfceNative.js';

let loaded: NativeKernel | null | undefined;
let addonTfce: NativeTfce | null = null;

/** The native kernel of this process, or null (loaded once). */
export function loadNativeKernel(): NativeKernel | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = fileURLToPath(new URL('../../native/vbm_kernel.node', import.meta.url));
  if (!existsSync(file)) return loaded;
  try {
    const addon = createRequire(import.meta.url)(file) as {
      cpuLevel(): string;
      product: NativeKernel['product'];
      statistics: NativeKernel['statistics'];
      residualise: NativeKernel['residualise'];
      welch: NativeKernel['welch'];
      tfceWorkspace?: NativeTfce['tfceWorkspace'];
      tfce?: NativeTfce['tfce'];
    };
    // the TFCE needs no particular instruction set (plain C)
    if (addon.tfceWorkspace && addon.tfce) addonTfce = { tfceWorkspace: addon.tfceWorkspace, tfce: addon.tfce };
    const level = addon.cpuLevel();
    if (level === 'avx2' || level === 'avx512')
      loaded = {
        level,
        product: addon.product,
        statistics: addon.statistics,
        residualise: addon.residualise,
        welch: addon.welch,
      };
  } catch {
    // an addon built for another Node or machine: the WebAssembly kernel runs
  }
  return loaded;
}

/** The native exact TFCE of this process (native/vbm_tfce.c), or null where the addon is missing or has none. */
export function loadNativeTfce(): NativeTfce | null {
  loadNativeKernel();
  return addonTfce;
}
