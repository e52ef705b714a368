/**
 * The data of a permutation test: one float32 row per scan over the analysed voxels (rows padded
 * to a multiple of 8 voxels), in memory every thread shares. When it fits WebAssembly's 4 GB
 * the rows live in a shared WebAssembly.Memory, with a scratch slot per thread, so the SIMD
 * kernel reads them in place; otherwise in a SharedArrayBuffer for the JavaScript kernel. Pure: the
 * compiled kernel is handed in (permute.ts loads gemm.wasm once; the worker threads get it with
 * the data).
 */

/** Voxels per pass of the kernel (its scratch holds CHUNK values per coefficient row). */
export const CHUNK = 512;

/** Where the data and the threads' scratch slots sit in the shared WebAssembly memory, and the kernel that reads them. */
export interface WasmLayout {
  memory: WebAssembly.Memory;
  /** The compiled SIMD kernel (gemm.wat), instantiated per thread on `memory`. */
  module: WebAssembly.Module;
  rPtr: number;
  /** Byte offset of thread slot s: scratchPtr + s * slotBytes. */
  scratchPtr: number;
  slotBytes: number;
  /** Rows of coefficients a slot holds (a multiple of 4). */
  maxRows: number;
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
  const stride = Math.ceil(V / 8) * 8;
  const rows = Math.ceil(maxRows / 4) * 4;
  const slotBytes = Math.ceil(((rows * n + rows * CHUNK) * 4) / 64) * 64;
  const scratchPtr = Math.ceil((64 + n * stride * 4) / 64) * 64;
  return scratchPtr + slots * slotBytes <= MAX_BYTES;
}

/**
 * Room for n scans of V voxels and `slots` threads' scratch (each for `maxRows` coefficient rows):
 * in WebAssembly memory when `gemm` (the compiled kernel) is given, `useWasm` is not false and it
 * all fits in 4 GB; else a SharedArrayBuffer (the JavaScript kernel).
 */
export function allocateDataMatrix(
  n: number,
  V: number,
  opts: { slots: number; maxRows: number; useWasm?: boolean; gemm?: WebAssembly.Module | null },
): DataMatrix {
  const stride = Math.ceil(V / 8) * 8;
  const maxRows = Math.ceil(opts.maxRows / 4) * 4;
  const slotBytes = Math.ceil(((maxRows * n + maxRows * CHUNK) * 4) / 64) * 64;
  const rPtr = 64;
  const dataBytes = n * stride * 4;
  const scratchPtr = Math.ceil((rPtr + dataBytes) / 64) * 64;
  const total = scratchPtr + opts.slots * slotBytes;
  if ((opts.useWasm ?? true) && opts.gemm && total <= MAX_BYTES) {
    const pages = Math.ceil(total / PAGE);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    return {
      n,
      V,
      stride,
      R: new Float32Array(memory.buffer, rPtr, n * stride),
      wasm: { memory, module: opts.gemm, rPtr, scratchPtr, slotBytes, maxRows },
    };
  }
  return { n, V, stride, R: new Float32Array(new SharedArrayBuffer(dataBytes)), wasm: null };
}

/** The kernel's export (byte offsets A, R, W): W[r][t] = sum_i A[i][r] R[i][v0 + t], for r < m and t < c; W's rows are C floats apart. */
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

/** One thread's instance of the layout's kernel on its shared memory. */
export function instantiateGemm(w: WasmLayout): GemmFn {
  const inst = new WebAssembly.Instance(w.module, { env: { memory: w.memory } });
  return inst.exports.gemm as GemmFn;
}
