/**
 * The optional native addon: one N-API module (native/vbm_kernel.c with vbm_fit.c and vbm_tfce.c)
 * that `npm run build` compiles with node-gyp where a C compiler is found (scripts/build-native.mjs)
 * into dist/native/vbm_kernel.node. Its users (permutation/nativeKernel.ts, estimation/nativeFit.ts)
 * take the functions they need from it and check that they are there.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

let loaded: object | null | undefined;

/**
 * The addon's exports in this thread (loaded once), or null where the file is missing (VBM_NATIVE=0
 * builds, no compiler) or does not load (built for another Node or machine).
 */
export function loadAddon(): object | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = fileURLToPath(new URL('../../native/vbm_kernel.node', import.meta.url));
  if (!existsSync(file)) return loaded;
  try {
    loaded = createRequire(import.meta.url)(file) as object;
  } catch {
    // an addon built for another Node or machine: the WebAssembly kernels run
  }
  return loaded;
}
