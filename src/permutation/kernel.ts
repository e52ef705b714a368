/**
 * The arithmetic core of a permutation test: for a batch of rearrangements, the products of the
 * permuted design rows with the reduced residuals (a matrix-matrix product, m x n times n x V,
 * streamed over voxel chunks), then T or F per voxel. The product runs in the WebAssembly SIMD
 * kernel (gemm.wat, float32 accumulation) when the data sit in WebAssembly memory (or in the
 * native kernel on the same memory, the same numbers: nativeProduct.ts), else in a JavaScript loop
 * (float64 accumulation) with four output rows per pass.
 */
import { CHUNK, type DataMatrix, type GemmFn, type PackFn, instantiateGemm } from './dataMatrix.js';
import { invariant, item } from '../errors.js';
import { type NativeKernel, levelCode, nativeKernel } from './nativeProduct.js';
import type { Scheme } from './schemes.js';
import { type WelchScratch, type WelchSetup, welchChunk, welchScratch } from './welch.js';

export interface KernelData {
  data: DataMatrix;
  /** Column sums of squares of R_z. */
  ssTotal: Float64Array;
  /** Product rows (E then nuisance), each of length n. */
  rows: Float64Array[];
  effectRows: number;
  df: number;
  stat: 'T' | 'F';
  scheme: Scheme;
  /** With variance groups: Welch's v / G replaces T / F (computed in JavaScript, float64). */
  welch?: WelchSetup;
}

/** Coefficient matrix for rearrangements `first..first+count-1` (m x n, row-major), m padded to a multiple of 4. */
export function batchCoefficients(
  d: KernelData,
  table: Int32Array,
  first: number,
  count: number,
): { A: Float64Array; m: number } {
  const { n } = d.data;
  const rows = d.rows;
  const k = rows.length;
  const m = Math.ceil((count * k) / 4) * 4;
  const A = new Float64Array(m * n);
  // the rows are n long and the table holds rows first..first+count-1: the `?? NaN` / `?? 0` reads are never taken
  invariant(
    rows.every((r) => r.length === n) && table.length >= (first + count) * n,
    'coefficient rows and table cover the batch',
  );
  for (let b = 0; b < count; b++) {
    const t = (first + b) * n;
    for (let j = 0; j < k; j++) {
      const row = item(rows, j, 'product rows');
      const o = (b * k + j) * n;
      if (d.scheme === 'permute') {
        // row_j . (P R)  =  sum_i row_j[i] R[src(i)]
        for (let i = 0; i < n; i++) {
          const at = o + (table[t + i] ?? 0);
          A[at] = (A[at] ?? NaN) + (row[i] ?? NaN);
        }
      } else {
        for (let i = 0; i < n; i++) A[o + i] = (row[i] ?? NaN) * (table[t + i] ?? NaN);
      }
    }
  }
  return { A, m };
}

/** Rearrangements the kernel computes per call (the engine's batch, in memory and streamed alike). */
export const KERNEL_BATCH = 16;

/** One thread's use of the kernel: its scratch slot and, with WebAssembly, its instance. */
export class KernelThread {
  private readonly gemm: GemmFn | null;
  private readonly pack: PackFn | null;
  private readonly aView: Float32Array | null;
  private readonly wView: Float32Array | null;
  private readonly aPtr: number;
  private readonly wPtr: number;
  private readonly tPtr: number;
  private readonly Wjs: Float64Array;
  /** The native kernel, its level's code and a byte view of the shared memory, when the run uses it. */
  private readonly native: { k: NativeKernel; level: number; memory: Uint8Array } | null = null;
  constructor(
    private readonly d: KernelData,
    slot: number,
  ) {
    const w = d.data.wasm;
    if (w) {
      const k = instantiateGemm(w);
      this.gemm = k.gemm;
      this.pack = k.pack;
      this.aPtr = w.scratchPtr + slot * w.slotBytes;
      this.wPtr = this.aPtr + w.maxRows * d.data.n * 4;
      this.tPtr = this.wPtr + w.maxRows * CHUNK * 4;
      this.aView = new Float32Array(w.memory.buffer, this.aPtr, w.maxRows * d.data.n);
      this.wView = new Float32Array(w.memory.buffer, this.wPtr, w.maxRows * CHUNK);
      this.Wjs = new Float64Array(0);
      if (w.native)
        this.native = {
          k: nativeKernel(w.native),
          level: levelCode(w.native),
          memory: new Uint8Array(w.memory.buffer),
        };
    } else {
      this.gemm = null;
      this.pack = null;
      this.aView = null;
      this.wView = null;
      this.aPtr = 0;
      this.wPtr = 0;
      this.tPtr = 0;
      this.Wjs = new Float64Array(Math.ceil((64 * d.rows.length) / 4) * 4 * CHUNK);
    }
  }

  /** Most rearrangements one call may take. */
  maxBatch(): number {
    const w = this.d.data.wasm;
    return w ? Math.floor(w.maxRows / this.d.rows.length) : 64;
  }

  private welchScratch: WelchScratch | null = null;

  /** Welch's v / G maps for a batch of rearrangements. */
  private welchStatistics(w: WelchSetup, table: Int32Array, first: number, count: number, out: Float32Array): void {
    const { n, V, stride, R } = this.d.data;
    const sc = (this.welchScratch ??= welchScratch(w, CHUNK));
    const src = new Int32Array(n);
    const sign = new Float64Array(n);
    invariant(table.length >= (first + count) * n, 'the table holds the batch'); // so `?? 0` below is never taken
    for (let b = 0; b < count; b++) {
      const t = (first + b) * n;
      for (let i = 0; i < n; i++) {
        if (this.d.scheme === 'permute') {
          src[i] = table[t + i] ?? 0;
          sign[i] = 1;
        } else {
          src[i] = i;
          sign[i] = table[t + i] ?? 0;
        }
      }
      if (this.native) {
        // the same float64 operations in C (nativeProduct.ts)
        const { p, s, nGroups, X, XtXinv, C, MgMg, dR, ng, groups } = w;
        this.native.k.welch(
          R,
          stride,
          V,
          src,
          sign,
          this.d.ssTotal,
          out,
          b * V,
          n,
          p,
          s,
          nGroups,
          X,
          XtXinv,
          C,
          MgMg,
          dR,
          ng,
          groups,
        );
        continue;
      }
      for (let v0 = 0; v0 < V; v0 += CHUNK)
        welchChunk(w, R, stride, v0, Math.min(CHUNK, V - v0), src, sign, this.d.ssTotal, out, b * V + v0, sc);
    }
  }

  /** Statistic maps (count x V, float32) for a batch of rearrangements. */
  statistics(table: Int32Array, first: number, count: number, out: Float32Array): void {
    const d = this.d;
    if (d.welch) {
      this.welchStatistics(d.welch, table, first, count, out);
      return;
    }
    const { n, V, stride, R } = d.data;
    const { ssTotal, df, effectRows } = d;
    const k = d.rows.length;
    const { A, m } = batchCoefficients(d, table, first, count);
    const isT = d.stat === 'T';
    let W: Float32Array | Float64Array;
    if (this.gemm && this.aView && this.wView) {
      const av = this.aView;
      if (this.native)
        // by groups of 4 rows (nativeProduct.ts)
        for (let r = 0; r < m; r++) {
          const o = (r >> 2) * n * 4 + (r & 3);
          for (let i = 0; i < n; i++) av[o + i * 4] = A[r * n + i] ?? NaN;
        }
      else for (let r = 0; r < m; r++) for (let i = 0; i < n; i++) av[i * m + r] = A[r * n + i] ?? NaN; // A is m x n
      W = this.wView;
    } else W = this.Wjs;
    // every index below is within these lengths: the `?? NaN` reads are never taken
    invariant(
      W.length >= m * CHUNK &&
        A.length === m * n &&
        ssTotal.length >= V &&
        out.length >= count * V &&
        R.length >= (n - 1) * stride + V,
      'kernel buffers cover the batch',
    );
    for (let v0 = 0; v0 < V; v0 += CHUNK) {
      const c = Math.min(CHUNK, V - v0);
      if (this.native) {
        const nk = this.native;
        nk.k.product(
          nk.level,
          nk.memory,
          this.aPtr,
          m,
          d.data.wasm!.rPtr,
          stride,
          n,
          v0,
          Math.ceil(c / 8) * 8,
          this.tPtr,
          this.wPtr,
          CHUNK,
        );
        // the statistic too: the loop below, in C (nativeProduct.ts)
        nk.k.statistics(nk.memory, this.wPtr, CHUNK, count, k, effectRows, c, ssTotal, v0, df, isT, out, V);
        continue;
      } else if (this.gemm && this.pack) {
        const c8 = Math.ceil(c / 8) * 8;
        this.pack(d.data.wasm!.rPtr, stride, n, v0, c8, this.tPtr);
        this.gemm(this.aPtr, m, this.tPtr, n, c8, this.wPtr, CHUNK);
      } else {
        const Wd = W as Float64Array;
        for (let rg = 0; rg < m; rg += 4) {
          const w0 = rg * CHUNK;
          const w1 = w0 + CHUNK;
          const w2 = w1 + CHUNK;
          const w3 = w2 + CHUNK;
          Wd.fill(0, w0, w0 + 4 * CHUNK);
          const o0 = rg * n;
          const o1 = o0 + n;
          const o2 = o1 + n;
          const o3 = o2 + n;
          for (let i = 0; i < n; i++) {
            const a0 = A[o0 + i] ?? NaN;
            const a1 = A[o1 + i] ?? NaN;
            const a2 = A[o2 + i] ?? NaN;
            const a3 = A[o3 + i] ?? NaN;
            const base = i * stride + v0;
            for (let v = 0; v < c; v++) {
              const x = R[base + v] ?? NaN;
              Wd[w0 + v] = (Wd[w0 + v] ?? NaN) + a0 * x;
              Wd[w1 + v] = (Wd[w1 + v] ?? NaN) + a1 * x;
              Wd[w2 + v] = (Wd[w2 + v] ?? NaN) + a2 * x;
              Wd[w3 + v] = (Wd[w3 + v] ?? NaN) + a3 * x;
            }
          }
        }
      }
      for (let b = 0; b < count; b++) {
        const ob = b * V + v0;
        const rb = b * k * CHUNK;
        for (let v = 0; v < c; v++) {
          const sst = ssTotal[v0 + v] ?? NaN;
          if (!(sst > 0)) {
            out[ob + v] = 0;
            continue;
          }
          let eff = 0;
          for (let j = 0; j < effectRows; j++) {
            const w = W[rb + j * CHUNK + v] ?? NaN;
            eff += w * w;
          }
          let nuis = 0;
          for (let j = effectRows; j < k; j++) {
            const w = W[rb + j * CHUNK + v] ?? NaN;
            nuis += w * w;
          }
          let rss = sst - eff - nuis;
          if (rss < sst * 1e-7) rss = sst * 1e-7;
          const s2 = rss / df;
          out[ob + v] = isT ? (W[rb + v] ?? NaN) / Math.sqrt(s2) : eff / effectRows / s2;
        }
      }
    }
  }
}
