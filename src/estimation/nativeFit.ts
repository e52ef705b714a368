/**
 * The fit's native kernel (native/vbm_fit.c, in the optional addon node/addon.ts loads). A Node
 * shell: where the addon is missing or does not load, or VBM_FIT_KERNEL is `wasm` or `js`, there is
 * none and the WebAssembly kernel (or the JavaScript one) runs. The native kernel works on the WebAssembly accumulator's memory (accumulateWasm.ts).
 */
import { loadAddon } from '../node/addon.js';
import { PIECE_BYTES, digestOfPieces } from '../node/contentHash.js';
import type { ImageWriter } from './images.js';
import type { SmoothnessInput, SmoothnessLoop, SmoothnessLoopAsync } from './smoothness.js';
import type { PostKernel } from './postKernel.js';
import type { MaskCounter } from '../inference/resels.js';

/** The addon's fit functions (see native/vbm_fit.c for their arguments). */
export interface NativeFit {
  /** The block kernel in use: 'avx512', 'avx2', or 'scalar' (VBM_FIT_SIMD may pick a narrower one). */
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
  /** The sums of candidates [r0, r1) over scans read in place from their files (fitRanges.ts); absent in older addons. */
  fitRange?(
    paths: string[],
    voxOffset: Float64Array,
    desc: Float64Array,
    x: Float64Array,
    cand: Int32Array,
    dims: Int32Array,
    r0: number,
    r1: number,
    block: number,
    chunk: number,
    ok: Uint8Array,
    vmin: Float32Array,
    vmax: Float32Array,
    yy: Float64Array,
    xty: Float64Array,
    ryy: Float64Array,
    rxty: Float64Array,
    stats: Float64Array,
    window: number,
    span: number,
    append: boolean,
    sizes?: Float64Array,
    digests?: Uint8Array,
  ): void;
  /** fitRange on a native thread of its own: a promise of its end (fitRange's errors reject it); absent in older addons. */
  fitRangeAsync?: (...args: Parameters<NonNullable<NativeFit['fitRange']>>) => Promise<void>;
  /**
   * Whether fitRange hashes the scans' pieces as it reads them (sizes, digests): the addon was built with
   * XXH3, and its pieces (fitRangePieceBytes, vbm_pieces.h) are node/contentHash.ts PIECE_BYTES.
   */
  fitRangeHashes?: boolean;
  smoothness(
    dims: Int32Array,
    vox: Int32Array,
    candOf: Int32Array,
    maskIndex: Int32Array,
    p: number,
    nCand: number,
    beta: Float64Array,
    rss: Float64Array,
    ryy: Float64Array,
    rxty: Float64Array,
    G: Float64Array,
    scale: number,
    df: number,
    log2x4: number,
    rpv: Float64Array,
    out: Float64Array,
    threads?: number,
  ): void;
  /** smoothness on a native thread of its own: a promise of its end; absent in older addons. */
  smoothnessAsync?: (...args: Parameters<NativeFit['smoothness']>) => Promise<void>;
  /**
   * Each scan's removed, nonZero, finite and sum over the fit's per-block stats (4 per scan and block):
   * out[4i + j] = the sum over blocks b in order of stats[4 (i nBlocks + b) + j] (native/vbm_post.c
   * postScanStats; rangeReports' additions); absent in older addons.
   */
  scanStats?: (stats: Float64Array, m: number, out: Float64Array) => void;
}

let loaded: NativeFit | null | undefined;

/**
 * The smoothness estimate's voxel loop in C (the same bits as smoothness.ts's), split between `threads`
 * threads (the same bits for any number), or undefined where there is no native fit kernel (or
 * VBM_FIT_KERNEL says `wasm` or `js`).
 */
export function nativeSmoothnessLoop(threads = 1): SmoothnessLoop | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  const native = choice === 'wasm' || choice === 'js' ? null : loadNativeFit();
  if (!native) return undefined;
  return (inp, scale, log2x4, rpv) => {
    const out = new Float64Array(5);
    native.smoothness(...smoothnessArgs(inp, scale, log2x4, rpv, out, threads));
    return [out[0], out[1], out[2], out[3], out[4]];
  };
}

/**
 * The smoothness estimate's voxel loop in C on a native thread of its own (smoothnessAsync: no
 * JavaScript isolate to start; the loop split between `threads` threads), or undefined where the addon
 * lacks it (or VBM_FIT_KERNEL says `wasm` or `js`). The same bits as nativeSmoothnessLoop's.
 */
export function nativeSmoothnessLoopAsync(threads = 1): SmoothnessLoopAsync | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  const run = choice === 'wasm' || choice === 'js' ? undefined : loadNativeFit()?.smoothnessAsync;
  if (!run) return undefined;
  return async (inp, scale, log2x4, rpv) => {
    const out = new Float64Array(5);
    await run(...smoothnessArgs(inp, scale, log2x4, rpv, out, threads));
    return [out[0], out[1], out[2], out[3], out[4]];
  };
}

/** The native smoothness's arguments (native/vbm_fit.c's order). */
function smoothnessArgs(
  inp: SmoothnessInput,
  scale: number,
  log2x4: number,
  rpv: Float64Array,
  out: Float64Array,
  threads: number,
): Parameters<NativeFit['smoothness']> {
  return [
    Int32Array.from(inp.dims),
    inp.vox,
    inp.candOf,
    inp.maskIndex,
    inp.p,
    inp.nCand,
    inp.beta,
    inp.rss,
    inp.ryy,
    inp.rxty,
    Float64Array.from(inp.G.flat()),
    scale,
    inp.df,
    log2x4,
    rpv,
    out,
    threads,
  ];
}

/**
 * The loops after the fit in C (native/vbm_post.c: the same bits as the JavaScript ones; the voxels of
 * the solve, the contrasts and the spreading split between `threads` threads), or undefined where the
 * addon lacks them (or VBM_FIT_KERNEL says `wasm` or `js`, as for the smoothness).
 */
export function nativePostKernel(threads = 1): PostKernel | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  if (choice === 'wasm' || choice === 'js') return undefined;
  const addon = loadAddon() as Partial<{
    postSolve: (...args: [...Parameters<PostKernel['solve']>, number]) => void;
    postContrastT: (...args: [...Parameters<PostKernel['contrastT']>, number]) => void;
    postContrastF: (...args: [...Parameters<PostKernel['contrastF']>, number]) => void;
    postSpread: (...args: [...Parameters<PostKernel['spread']>, number]) => void;
    postMask: NonNullable<PostKernel['mask']>;
    postIndex: NonNullable<PostKernel['index']>;
  }> | null;
  const { postSolve, postContrastT, postContrastF, postSpread } = addon ?? {};
  if (!addon || !postSolve || !postContrastT || !postContrastF || !postSpread) return undefined;
  return {
    solve: (...args) => postSolve(...args, threads),
    contrastT: (...args) => postContrastT(...args, threads),
    contrastF: (...args) => postContrastF(...args, threads),
    spread: (...args) => postSpread(...args, threads),
    mask: addon.postMask,
    index: addon.postIndex,
  };
}

/**
 * The resel counts' mask loop in C (native/vbm_post.c; whole numbers, the same as resels.ts's
 * loop), or undefined where the addon lacks it (or VBM_FIT_KERNEL says `wasm` or `js`).
 */
export function nativeMaskCounter(): MaskCounter | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  if (choice === 'wasm' || choice === 'js') return undefined;
  const addon = loadAddon() as {
    postMaskCounts?: (mask: Uint8Array, nx: number, ny: number, nz: number, out: Float64Array) => void;
  } | null;
  const count = addon?.postMaskCounts;
  if (!count) return undefined;
  return (mask, nx, ny, nz) => {
    const out = new Float64Array(8);
    count(mask, nx, ny, nz, out);
    const [P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C] = out;
    return [P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C];
  };
}

/**
 * The images' writer in C (native/vbm_write.c imageWriteAsync: each file made a slab at a time from its
 * values, hashed and written on a thread of the addon's; the bytes of images.ts encode()), or undefined
 * where the addon lacks it or hashes other pieces, on a big-endian host, or where VBM_FIT_KERNEL says
 * `wasm` or `js`. The parts' voxels must ascend (the writer refuses others). A failure rejects with the
 * system's error code, the path (also in its message) and the call that failed (errors.ts
 * fileErrorAsVbmError reads them).
 */
export function nativeImageWriter(): ImageWriter | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  if (choice === 'wasm' || choice === 'js') return undefined;
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) return undefined;
  const addon = loadAddon() as {
    imageWriteAsync?: (
      path: string,
      header: Uint8Array,
      vox: Int32Array,
      values: Float64Array,
      stride: number,
      offset: number,
      outside: number,
      f32: boolean,
      nvox: number,
      digests: Uint8Array,
    ) => Promise<void>;
    imageWriteHashes?: boolean;
    fitRangePieceBytes?: number;
  } | null;
  const write = addon?.imageWriteAsync;
  if (!write || addon.imageWriteHashes !== true || addon.fitRangePieceBytes !== PIECE_BYTES) return undefined;
  return async (path, g) => {
    const bytes = g.header.length + g.nvox * (g.f32 ? 4 : 8);
    const digests = new Uint8Array(8 * Math.ceil(bytes / PIECE_BYTES));
    try {
      await write(path, g.header, g.vox, g.values, g.stride, g.offset, g.outside, g.f32, g.nvox, digests);
    } catch (e) {
      if (e instanceof Error) {
        const syscall = /^(open|write|close): /.exec(e.message)?.[1];
        // the path in the message too, as Node's fs errors have it (shown as it is for a code errors.ts lacks)
        Object.assign(e, { path, syscall, message: `${e.message} ('${path}')` });
      }
      throw e;
    }
    return digestOfPieces(digests);
  };
}

/**
 * The addon's page toucher (native/vbm_post.c postTouchAsync: each page of the arrays faulted in on a
 * thread of its own, no value changed), or undefined where the addon lacks it.
 */
export function nativePageToucher(): ((...arrays: ArrayBufferView[]) => Promise<void>) | undefined {
  return (loadAddon() as { postTouchAsync?: (...arrays: ArrayBufferView[]) => Promise<void> } | null)?.postTouchAsync;
}

/**
 * Ask for transparent huge pages behind big new typed arrays, before anything touches them (the addon's
 * adviseHugePages, native/vbm_memory.c): a fault per 2 MiB, not per 4 KiB. The bytes advised (the whole
 * 2 MiB pages inside the arrays; 0 without the addon or where the system has no huge pages); the
 * arrays' contents are the same either way.
 */
export function adviseHugePages(...arrays: ArrayBufferView[]): number {
  const addon = loadAddon() as { adviseHugePages?: (...a: ArrayBufferView[]) => number } | null;
  return addon?.adviseHugePages?.(...arrays) ?? 0;
}

/** The native fit kernel of this process, or null (loaded once). */
export function loadNativeFit(): NativeFit | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const addon = loadAddon() as
    (Partial<Omit<NativeFit, 'level'>> & { fitLevel?(): string; fitRangePieceBytes?: number }) | null;
  if (addon?.fitBatch && addon.fitMerge && addon.smoothness && addon.fitLevel)
    loaded = {
      level: addon.fitLevel(),
      fitBatch: addon.fitBatch,
      fitMerge: addon.fitMerge,
      smoothness: addon.smoothness,
      smoothnessAsync: addon.smoothnessAsync,
      fitRange: addon.fitRange,
      fitRangeAsync: addon.fitRangeAsync,
      fitRangeHashes: addon.fitRangeHashes === true && addon.fitRangePieceBytes === PIECE_BYTES,
      scanStats: (addon as { postScanStats?: NativeFit['scanStats'] }).postScanStats,
    };
  return loaded;
}
