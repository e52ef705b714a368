/**
 * Loads the fit's native kernel (native/vbm_fit.c, in the optional N-API addon that `npm run build`
 * compiles; scripts/build-native.mjs). A Node shell: where the addon is missing or does not load,
 * or VBM_FIT_KERNEL is `wasm` or `js`, there is none and the WebAssembly kernel (or the JavaScript
 * one) runs. The native kernel works on the WebAssembly accumulator's memory (accumulateWasm.ts).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's fit functions (see native/vbm_fit.c for their arguments). */
export interface NativeFit {
  /** 'avx2', or 'scalar' where the CPU lacks AVX2. */
  level: string;
  fitBatch(memory: Uint8Array, header: number, desc: number, count: number): void;
  fitMerge(
    memory: Uint8Array,
    header: number,
    xty: number,
    rxty: number,
    p: number,
    first: boolean,
    ok: Uint8Array,
    vmin: Float32Array,
    vmax: Float32Array,
    yy: Float64Array,
    txty: Float64Array,
    tryy: Float64Array,
    trxty: Float64Array,
  ): void;
}

let loaded: NativeFit | null | undefined;

/** The native fit kernel of this process, or null (loaded once). */
export function loadNativeFit(): NativeFit | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const file = fileURLToPath(new URL('../../native/vbm_kernel.node', import.meta.url));
  if (!existsSync(file)) return loaded;
  try {
    const addon = createRequire(import.meta.url)(file) as Partial<Omit<NativeFit, 'level'>> & { fitLevel?(): string };
    if (addon.fitBatch && addon.fitMerge && addon.fitLevel)
      loaded = { level: addon.fitLevel(), fitBatch: addon.fitBatch, fitMerge: addon.fitMerge };
  } catch {
    // an addon built for another Node or machine: the WebAssembly kernel runs
  }
  return loaded;
}
