/**
 * The data of a permutation test: one float32 row per scan over the analysed voxels (rows padded
 * to a multiple of 8 voxels), in memory every thread shares. When it fits WebAssembly's 4 GB
 * the rows live in a shared WebAssembly.Memory, with a scratch slot per thread, so the SIMD
 * kernel reads them in place; otherwise in a SharedArrayBuffer for the JavaScript kernel.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

export const CHUNK = 512;

export interface WasmLayout {
  memory: WebAssembly.Memory;
  rPtr: number;
  /** Byte offset of thread slot s: scratchPtr + s * slotBytes (coefficients, products, then the packed chunk of data). */
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

export function allocateDataMatrix(
  n: number,
  V: number,
  opts: { slots: number; maxRows: number; useWasm?: boolean },
): DataMatrix {
  const stride = Math.ceil(V / 8) * 8;
  const maxRows = Math.ceil(opts.maxRows / 4) * 4;
  const slotBytes = Math.ceil(((maxRows * n + maxRows * CHUNK + n * CHUNK) * 4) / 64) * 64;
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

let wasmKernel: { module: WebAssembly.Module; fused: boolean } | undefined;

/**
 * The compiled SIMD kernel (assembled from gemm.wat at build time): the copy whose multiply-adds
 * are fused (relaxed SIMD's f32x4.relaxed_madd, one rounding instead of two; ~1.3x faster on x86
 * with FMA, see BENCHMARKS.md) when the engine accepts it, else the plain one. Node 20 accepts
 * relaxed SIMD behind V8's --experimental-wasm-relaxed-simd, which is set here (it only adds
 * instructions the validator accepts; a V8 that lacks the flag leaves the plain kernel).
 */
export function gemmKernel(): { module: WebAssembly.Module; fused: boolean } {
  if (wasmKernel) return wasmKernel;
  const fma = readFileSync(new URL('./gemm-fma.wasm', import.meta.url));
  if (!WebAssembly.validate(fma)) {
    try {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // no such flag: the plain kernel below
    }
  }
  wasmKernel = WebAssembly.validate(fma)
    ? { module: new WebAssembly.Module(fma), fused: true }
    : { module: new WebAssembly.Module(readFileSync(new URL('./gemm.wasm', import.meta.url))), fused: false };
  return wasmKernel;
}

/** Copy voxels v0 .. v0+c-1 (c a multiple of 8) of every scan into tiles of 8 voxels at byte offset T (see gemm.wat). */
export type PackFn = (R: number, Vp: number, n: number, v0: number, c: number, T: number) => void;
/** W (m x c, row stride C) = A' (A: n x m, i-major) times the packed tiles at T. */
export type GemmFn = (A: number, m: number, T: number, n: number, c: number, W: number, C: number) => void;

export function instantiateGemm(memory: WebAssembly.Memory): { pack: PackFn; gemm: GemmFn } {
  const inst = new WebAssembly.Instance(gemmKernel().module, { env: { memory } });
  return { pack: inst.exports.pack as PackFn, gemm: inst.exports.gemm as GemmFn };
}
