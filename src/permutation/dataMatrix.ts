/**
 * The data of a permutation test: one float32 row per scan over the analysed voxels (rows padded
 * to a multiple of 8 voxels), in memory every thread shares. When it fits WebAssembly's 4 GB
 * the rows live in a shared WebAssembly.Memory, with a scratch slot per thread, so the SIMD
 * kernel reads them in place; otherwise in a SharedArrayBuffer for the JavaScript kernel.
 */
import { readFileSync } from 'node:fs';

export const CHUNK = 512;

export interface WasmLayout {
  memory: WebAssembly.Memory;
  rPtr: number;
  /** Byte offset of thread slot s: scratchPtr + s * slotBytes. */
  scratchPtr: number;
  slotBytes: number;
  /** Rows of coefficients a slot holds (a multiple of 4). */
  maxRows: number;
}

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
  const stride = Math.ceil(V / 8) * 8;
  const rows = Math.ceil(maxRows / 4) * 4;
  const slotBytes = Math.ceil(((rows * n + rows * CHUNK) * 4) / 64) * 64;
  const scratchPtr = Math.ceil((64 + n * stride * 4) / 64) * 64;
  return scratchPtr + slots * slotBytes <= MAX_BYTES;
}

export function allocateDataMatrix(
  n: number,
  V: number,
  opts: { slots: number; maxRows: number; useWasm?: boolean },
): DataMatrix {
  const stride = Math.ceil(V / 8) * 8;
  const maxRows = Math.ceil(opts.maxRows / 4) * 4;
  const slotBytes = Math.ceil(((maxRows * n + maxRows * CHUNK) * 4) / 64) * 64;
  const rPtr = 64;
  const dataBytes = n * stride * 4;
  const scratchPtr = Math.ceil((rPtr + dataBytes) / 64) * 64;
  const total = scratchPtr + opts.slots * slotBytes;
  if ((opts.useWasm ?? true) && total <= MAX_BYTES && typeof WebAssembly !== 'undefined') {
    const pages = Math.ceil(total / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return {
      n,
      V,
      stride,
      R: new Float32Array(memory.buffer, rPtr, n * stride),
      wasm: { memory, rPtr, scratchPtr, slotBytes, maxRows },
    };
  }
  return { n, V, stride, R: new Float32Array(new SharedArrayBuffer(dataBytes)), wasm: null };
}

let wasmModule: WebAssembly.Module | undefined;

/** The compiled SIMD kernel (assembled from gemm.wat at build time). */
export function gemmModule(): WebAssembly.Module {
  wasmModule ??= new WebAssembly.Module(readFileSync(new URL('./gemm.wasm', import.meta.url)));
  return wasmModule;
}

export type GemmFn = (
  A: number,
  m: number,
  R: number,
  Vp: number,
  n: number,
  v0: number,
  c: number,
  W: number,
  C: number,
) => void;

export function instantiateGemm(memory: WebAssembly.Memory): GemmFn {
  const inst = new WebAssembly.Instance(gemmModule(), { env: { memory } });
  return inst.exports.gemm as GemmFn;
}
