/**
 * The data of a permutation test: one float32 row per scan over the analysed voxels (rows padded
 * to a multiple of 8 voxels), in memory every thread shares. When it fits WebAssembly's 4 GB
 * the rows live in a shared WebAssembly.Memory, with a scratch slot per thread, so the SIMD
 * kernel reads them in place; otherwise in a SharedArrayBuffer for the JavaScript kernel. Pure: the
 * compiled kernel is handed in (permute.ts loads gemm.wasm once; the worker threads get it with
 * the data). Where the run has the native kernel (nativeProduct.ts), it works on the same memory.
 */
import type { NativeLevel } from './nativeProduct.js';

/** Voxels per pass of the kernel (its scratch holds CHUNK values per coefficient row). */
export const CHUNK = 512;

/** Where the data and the threads' scratch slots sit in the shared WebAssembly memory, and the kernel that reads them. */
export interface WasmLayout {
  memory: WebAssembly.Memory;
  /** The compiled SIMD kernel (gemm.wat), instantiated per thread on `memory`. */
  module: WebAssembly.Module;
  rPtr: number;
  /** Byte offset of thread slot s: scratchPtr + s * slotBytes (coefficients, products, then the packed chunk of data). */
  scratchPtr: number;
  slotBytes: number;
  /** Rows of coefficients a slot holds (a multiple of 4). */
  maxRows: number;
  /** The native kernel's level when the run uses it instead of the WebAssembly product (the same in every thread). */
  native: NativeLevel | null;
}

/** The n x V data of a permutation test, rows `stride` floats apart. */
export interface DataMatrix {
  n: number;
  V: number;
  /** Floats between the starts of consecutive rows (V rounded up to a multiple of 8). */
  stride: number;
  R: Float32Array;
  wasm: WasmLayout | null;
}

const PAGE = 65536;
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;

/** Whether allocateDataMatrix puts these data in WebAssembly memory (the SIMD kernel) rather than a SharedArrayBuffer (the JavaScript kernel). */
export function fitsWasm(n: number, V: number, slots: number, maxRows: number): boolean {
  return wasmBytes(n, V, slots, maxRows).total <= MAX_BYTES;
}

/** Bytes of one thread's scratch slot: `maxRows` rows of coefficients and of products, and the packed chunk of data. */
export function kernelSlotBytes(n: number, maxRows: number): number {
  const rows = Math.ceil(maxRows / 4) * 4;
  return Math.ceil(((rows * n + rows * CHUNK + n * CHUNK) * 4) / 64) * 64;
}

/** Where the rows, the slots and the end of the WebAssembly memory of a test fall (bytes). */
function wasmBytes(n: number, V: number, slots: number, maxRows: number) {
  const stride = Math.ceil(V / 8) * 8;
  const slotBytes = kernelSlotBytes(n, maxRows);
  const rPtr = 64;
  const scratchPtr = Math.ceil((rPtr + n * stride * 4) / 64) * 64;
  return { stride, slotBytes, rPtr, scratchPtr, total: scratchPtr + slots * slotBytes };
}

/**
 * Room for n scans of V voxels and `slots` threads' scratch (each for `maxRows` coefficient rows):
 * in WebAssembly memory when `gemm` (the compiled kernel) is given, `useWasm` is not false and it
 * all fits in 4 GB; else a SharedArrayBuffer (the JavaScript kernel).
 */
export function allocateDataMatrix(
  n: number,
  V: number,
  opts: {
    slots: number;
    maxRows: number;
    useWasm?: boolean;
    gemm?: WebAssembly.Module | null;
    native?: NativeLevel | null;
  },
): DataMatrix {
  const maxRows = Math.ceil(opts.maxRows / 4) * 4;
  const { stride, slotBytes, rPtr, scratchPtr, total } = wasmBytes(n, V, opts.slots, maxRows);
  const dataBytes = n * stride * 4;
  if ((opts.useWasm ?? true) && opts.gemm && total <= MAX_BYTES) {
    const pages = Math.ceil(total / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return {
      n,
      V,
      stride,
      R: new Float32Array(memory.buffer, rPtr, n * stride),
      wasm: { memory, module: opts.gemm, rPtr, scratchPtr, slotBytes, maxRows, native: opts.native ?? null },
    };
  }
  return { n, V, stride, R: new Float32Array(new SharedArrayBuffer(dataBytes)), wasm: null };
}

/** Copy voxels v0 .. v0+c-1 (c a multiple of 8) of every scan into tiles of 8 voxels at byte offset T (see gemm.wat). */
export type PackFn = (R: number, Vp: number, n: number, v0: number, c: number, T: number) => void;
/** W (m x c, row stride C) = A' (A: n x m, i-major) times the packed tiles at T. */
export type GemmFn = (A: number, m: number, T: number, n: number, c: number, W: number, C: number) => void;

/** One thread's instance of the layout's kernel on its shared memory. */
export function instantiateGemm(w: WasmLayout): { pack: PackFn; gemm: GemmFn } {
  const inst = new WebAssembly.Instance(w.module, { env: { memory: w.memory } });
  return { pack: inst.exports.pack as PackFn, gemm: inst.exports.gemm as GemmFn };
}
