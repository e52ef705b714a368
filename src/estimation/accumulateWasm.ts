/**
 * The fit's streaming sums (accumulate.ts addScans) in WebAssembly SIMD (accumulate.wat): the
 * same sums, the same bits, about five times fewer instructions. One accumulator per layout and
 * thread holds, in its own memory, the sums of the current chunk and the scans of one batch;
 * scans are decoded straight into its slots, and the chunk's sums are copied out when it ends
 * (into recycled arrays when the caller has them, so no fresh pages are faulted in per chunk), or
 * added by the kernel to a shared total (mergeOut). Where the native addon has the fit kernel
 * (native/vbm_fit.c: AVX2, prefetching the scans' voxels ahead of use), it does the adding and
 * merging on this same memory, with the same operations: the same bits, in about half the time.
 */
import type { SumKernel } from './scanFold.js';
import { readFileSync } from 'node:fs';
import { isPlainFloat32 } from '../io/nifti/header.js';
import { loadNativeFit } from './nativeFit.js';
import { BLOCK, type FitLayout, type FitSums, RYY_TERMS, createSums } from './accumulate.js';

/** The SIMD kernel's accumulator (the interface the pure fold expects of a kernel with its own sums). */
export type SumAccumulator = SumKernel;

/**
 * One scan's arguments to the kernel, made once per batch: the WebAssembly `scan`'s after the voxel
 * range, and the native kernel's descriptor (vbm_fit.c: the same 8 values as doubles).
 */
type ScanArgs = [
  data: number,
  scale: number,
  thr: number,
  zim: number,
  terms: number,
  nterms: number,
  resid: number,
  stats: number,
];
type ScanFn = (c0: number, c1: number, ...scan: ScanArgs) => void;

let compiled: WebAssembly.Module | null | undefined;

function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(readFileSync(new URL('./accumulate.wasm', import.meta.url)));
    } catch {
      compiled = null; // no SIMD WebAssembly here: the JavaScript kernel is used
    }
  }
  return compiled;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
const up16 = (b: number): number => Math.ceil(b / 16) * 16;
/** Room before each slot for a file's header and extensions, and after it for trailing bytes. */
const HEADROOM = 65536;
const TAIL = 65536;

/**
 * A SIMD accumulator for `layout` with `batch` scan slots, or undefined when WebAssembly SIMD is
 * unavailable or the layout does not fit in 4 GB (the caller then uses addScans).
 */
export function createSumAccumulator(
  layout: FitLayout,
  batch: number,
  opts: { kernel?: 'native' | 'wasm' } = {},
): (SumAccumulator & { kernel: string }) | undefined {
  const choice = process.env.VBM_FIT_KERNEL;
  if (choice === 'js') return undefined;
  // the native kernel (same sums, same bits) where the addon has it, unless told otherwise
  const native = (opts.kernel ?? (choice === 'wasm' ? 'wasm' : 'native')) === 'native' ? loadNativeFit() : null;
  const mod = kernelModule();
  if (!mod) return undefined;
  const { cand, p, dims } = layout;
  const n = cand.length;
  const nPad = n + (n % 2);
  const nvox = dims[0] * dims[1] * dims[2];
  // byte layout
  let at = 16;
  const take = (bytes: number): number => {
    const a = at;
    at += up16(bytes);
    return a;
  };
  const nanAt = take(16);
  const headerAt = take(4 * 14);
  const descAt = take(64 * batch);
  const termsAt = take(16 * p * batch);
  const statsAt = take(32 * batch);
  const candAt = take(4 * nPad);
  const nbAt = [take(4 * nPad), take(4 * nPad), take(4 * nPad)];
  const okAt = take(nPad);
  const vminAt = take(4 * nPad);
  const vmaxAt = take(4 * nPad);
  const yyAt = take(8 * nPad);
  const xtyAt = take(8 * nPad * p);
  const ryyAt = take(layout.smoothness ? 8 * nPad * RYY_TERMS : 0);
  const rxtyAt = take(layout.smoothness ? 8 * nPad * p : 0);
  const slotAt = Array.from({ length: batch }, () => take(HEADROOM + 4 * nvox + TAIL) + HEADROOM);
  const pages = Math.ceil(at / PAGE);
  if (pages > MAX_PAGES) return undefined;
  let memory: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    instance = new WebAssembly.Instance(mod, { env: { memory } });
  } catch {
    return undefined;
  }
  const buf = memory.buffer;
  const exports = instance.exports as { init: (...a: number[]) => void; scan: ScanFn };
  const scan = exports.scan;
  new Float32Array(buf, nanAt, 1)[0] = NaN;
  const candV = new Int32Array(buf, candAt, nPad);
  candV.set(cand);
  if (n % 2) candV[n] = cand[n - 1];
  if (layout.smoothness) {
    const [nx, ny, nz] = dims;
    const nxy = nx * ny;
    const nb = nbAt.map((a) => new Int32Array(buf, a, nPad).fill(-1));
    for (let c = 0; c < n; c++) {
      const idx = cand[c];
      const xi = idx % nx;
      const yi = ((idx - xi) / nx) % ny;
      const zi = (idx - xi - yi * nx) / nxy;
      nb[0][c] = xi + 1 < nx ? idx + 1 : -1;
      nb[1][c] = yi + 1 < ny ? idx + nx : -1;
      nb[2][c] = zi + 1 < nz ? idx + nxy : -1;
    }
  }
  exports.init(candAt, nbAt[0], nbAt[1], nbAt[2], okAt, vminAt, vmaxAt, yyAt, ryyAt, 8 * nPad, nanAt);
  // the same layout for the native kernel (vbm_fit.c's header; ryy 0: no residual sums)
  new Int32Array(buf, headerAt, 14).set([
    candAt,
    nbAt[0],
    nbAt[1],
    nbAt[2],
    okAt,
    vminAt,
    vmaxAt,
    yyAt,
    layout.smoothness ? ryyAt : 0,
    8 * nPad,
    nanAt,
    n,
    BLOCK,
    nvox,
  ]);
  const memU8 = new Uint8Array(buf);
  const descF64 = new Float64Array(buf, descAt, 8 * batch);
  const ok = new Uint8Array(buf, okAt, nPad);
  const vmin = new Float32Array(buf, vminAt, nPad);
  const vmax = new Float32Array(buf, vmaxAt, nPad);
  const sumsF64 = new Float64Array(buf, yyAt, ((slotAt[0] ?? at) - HEADROOM) / 8 - yyAt / 8);
  const row = (base: number, j: number): Float64Array => new Float64Array(buf, base + 8 * nPad * j, n);
  const slots = slotAt.map((a) => new Float32Array(buf, a, nvox));
  const termsI32 = new Int32Array(buf, termsAt, 4 * p * batch);
  const termsF64 = new Float64Array(buf, termsAt, 2 * p * batch);
  const statsF64 = new Float64Array(buf, statsAt, 4 * batch);
  const acc: SumAccumulator & { kernel: string } = {
    kernel: native ? `native-${native.level}` : 'wasm',
    slots,
    fileSlot(k, h, bytes) {
      const inPlace =
        isPlainFloat32(h) && h.voxOffset <= HEADROOM && bytes >= h.voxOffset && bytes - h.voxOffset <= 4 * nvox + TAIL;
      return k < batch && inPlace ? new Uint8Array(buf, slotAt[k] - h.voxOffset, bytes) : undefined;
    },
    reset() {
      if (!dirty) return;
      ok.fill(1);
      vmin.fill(Infinity);
      vmax.fill(-Infinity);
      sumsF64.fill(0);
      dirty = false;
    },
    add(scans) {
      if (scans.length > batch) throw new Error(`at most ${batch} scans per batch`);
      dirty = true;
      const resid = layout.smoothness;
      statsF64.fill(0);
      const args = scans.map((s, k): ScanArgs => {
        let d = s.data;
        if (d.buffer !== buf || d.length !== nvox) {
          slots[k].set(d.subarray(0, nvox));
          d = slots[k];
        }
        // the scan's design terms with a non-zero coefficient (as addScans skips x_j = 0)
        let t = 0;
        for (let j = 0; j < p; j++) {
          if (s.x[j] === 0) continue;
          const e = k * p + t;
          termsI32[4 * e] = xtyAt + 8 * nPad * j;
          termsI32[4 * e + 1] = rxtyAt + 8 * nPad * j;
          termsF64[2 * e + 1] = s.x[j];
          t++;
        }
        return [
          d.byteOffset,
          s.scale ?? 1,
          s.threshold,
          s.zeroIsMissing ? 1 : 0,
          termsAt + 16 * k * p,
          t,
          resid && s.inResidualSubset ? 1 : 0,
          statsAt + 32 * k,
        ];
      });
      if (native) {
        args.forEach((a, k) => descF64.set(a, 8 * k));
        native.fitBatch(memU8, headerAt, descAt, scans.length);
      } else
        for (let c0 = 0; c0 < n; c0 += BLOCK) {
          const c1 = Math.min(n, c0 + BLOCK);
          for (const a of args) scan(c0, c1, ...a);
        }
      scans.forEach((s, k) => {
        if (!s.stats) return;
        s.stats.removed += statsF64[4 * k];
        s.stats.nonZero += statsF64[4 * k + 1];
        s.stats.finite += statsF64[4 * k + 2];
        s.stats.sum += statsF64[4 * k + 3];
      });
    },
    copyOut(into) {
      const out = into ?? createSums(layout);
      out.ok.set(ok.subarray(0, n));
      out.vmin.set(vmin.subarray(0, n));
      out.vmax.set(vmax.subarray(0, n));
      out.yy.set(row(yyAt, 0));
      for (let j = 0; j < p; j++) out.xty.set(row(xtyAt, j), j * n);
      if (out.ryy.length) {
        for (let k = 0; k < RYY_TERMS; k++) out.ryy.set(row(ryyAt, k), k * n);
        for (let j = 0; j < p; j++) out.rxty.set(row(rxtyAt, j), j * n);
      }
      return out;
    },
    mergeOut(total, first) {
      if (
        total.nCand !== n ||
        total.xty.length !== n * p ||
        total.ryy.length !== (layout.smoothness ? n * RYY_TERMS : 0)
      )
        throw new Error('merged sums of another layout');
      if (native) {
        const t = total;
        native.fitMerge(memU8, headerAt, xtyAt, rxtyAt, p, first, t.ok, t.vmin, t.vmax, t.yy, t.xty, t.ryy, t.rxty);
        dirty = false;
        return;
      }
      mergeMasks(total, ok, vmin, vmax, n, first);
      mergeRow(total.yy, 0, row(yyAt, 0), first);
      for (let j = 0; j < p; j++) mergeRow(total.xty, j * n, row(xtyAt, j), first);
      if (total.ryy.length) {
        for (let k = 0; k < RYY_TERMS; k++) mergeRow(total.ryy, k * n, row(ryyAt, k), first);
        for (let j = 0; j < p; j++) mergeRow(total.rxty, j * n, row(rxtyAt, j), first);
      }
      // (the pad voxel's sums, never read back, are not zeroed here; reset() would zero them)
      dirty = false;
    },
  };
  // the sums are zeroed although a new memory reads as zero: written first, each page is faulted in
  // once; read first (by the kernel's adds), it maps the shared zero page and the first store then
  // faults again and flushes every thread's TLB (IPIs that cost ~0.4 s of system time per run)
  let dirty = true;
  acc.reset();
  return acc;
}

/**
 * total[off + i] = total[off + i] + a[i] (or a[i] itself for the first chunk), then a[i] = 0:
 * mergeSums' additions, with the accumulator's reset in the same pass.
 */
function mergeRow(total: Float64Array, off: number, a: Float64Array, first: boolean): void {
  const n = a.length;
  if (first) {
    total.set(a, off);
    a.fill(0);
  } else
    for (let i = 0; i < n; i++) {
      total[off + i] += a[i];
      a[i] = 0;
    }
}

/** The masks' and extremes' part of mergeSums (or a copy for the first chunk), then their reset. */
function mergeMasks(
  total: FitSums,
  ok: Uint8Array,
  vmin: Float32Array,
  vmax: Float32Array,
  n: number,
  first: boolean,
): void {
  if (first) {
    total.ok.set(ok.subarray(0, n));
    total.vmin.set(vmin.subarray(0, n));
    total.vmax.set(vmax.subarray(0, n));
  } else {
    const tOk = total.ok;
    const tMin = total.vmin;
    const tMax = total.vmax;
    for (let i = 0; i < n; i++) {
      tOk[i] &= ok[i];
      const lo = vmin[i];
      const hi = vmax[i];
      if (lo < tMin[i]) tMin[i] = lo;
      if (hi > tMax[i]) tMax[i] = hi;
    }
  }
  ok.fill(1);
  vmin.fill(Infinity);
  vmax.fill(-Infinity);
}
