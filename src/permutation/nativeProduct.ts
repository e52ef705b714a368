/**
 * The native product kernel as a service (pure: the Node shell, nativeKernel.ts, loads the addon
 * built from native/vbm_kernel.c and provides it here, in each thread that runs the kernel). It
 * computes what gemm.wat's fused kernel computes, bit for bit (one fused multiply-add per scan, in
 * scan order, per output), with wider registers (AVX2 or AVX-512, chosen once per run).
 */

/** The instruction set of the native kernel (each with FMA). */
export type NativeLevel = 'avx2' | 'avx512';

/** The addon's entry points (native/vbm_kernel.c). */
export interface NativeKernel {
  /** The widest level this CPU runs. */
  level: NativeLevel;
  /**
   * Transparent huge pages asked for behind big new arrays before they are touched (a fault per 2 MiB,
   * not per 4 KiB; the addon's adviseHugePages): the bytes advised. The values are the same either way.
   */
  adviseHugePages?: (...arrays: ArrayBufferView[]) => number;
  /**
   * Packs voxels v0 .. v0+c-1 (c a multiple of 8, at most 512) of the n rows at byte offset R
   * (`stride` floats apart) into the scratch at T, then W (m rows of C floats) = A' times them. A:
   * m x n coefficients by groups of 4 rows (A[((r >> 2) * n + i) * 4 + (r & 3)]). Offsets in bytes
   * of `memory`; `level` is levelCode(the run's level).
   */
  product: (
    level: number,
    memory: Uint8Array,
    A: number,
    m: number,
    R: number,
    stride: number,
    n: number,
    v0: number,
    c: number,
    T: number,
    W: number,
    C: number,
  ) => void;
  /**
   * kernel.ts's statistic (T, or F with isT false) of voxels v0 .. v0+c-1 for `count` rearrangements
   * from their k product rows each (at byte offset W of `memory`, rows C floats apart), into
   * out[b * V + v0 + v]: the same float64 operations in the same order, so the same values.
   */
  statistics: (
    memory: Uint8Array,
    W: number,
    C: number,
    count: number,
    k: number,
    effectRows: number,
    c: number,
    ssTotal: Float64Array,
    v0: number,
    df: number,
    isT: boolean,
    out: Float32Array,
    V: number,
  ) => void;
  /** nuisance.ts's removeNuisance on R (n rows of V, `stride` apart) with G (q rows of n), the sums of squares added into ss. */
  residualise: (
    R: Float32Array,
    n: number,
    V: number,
    stride: number,
    G: Float64Array,
    q: number,
    ss: Float64Array,
  ) => void;
  /**
   * welch.ts's v / G of one rearrangement (src: the row of R landing on each scan, sign its sign)
   * over voxels 0 .. V-1 into out[outOffset + v]; the setup's arrays as welchSetup makes them.
   */
  welch: (
    R: Float32Array,
    stride: number,
    V: number,
    src: Int32Array,
    sign: Float64Array,
    ssTotal: Float64Array,
    out: Float32Array,
    outOffset: number,
    n: number,
    p: number,
    s: number,
    nGroups: number,
    X: Float64Array,
    XtXinv: Float64Array,
    C: Float64Array,
    MgMg: Float64Array,
    dR: Float64Array,
    ng: Float64Array,
    groups: Int32Array,
  ) => void;
}

/** The addon's number for a level. */
export function levelCode(level: NativeLevel): number {
  return level === 'avx512' ? 2 : 1;
}

let provided: NativeKernel | null = null;

/** Makes the loaded addon available to the kernels of this thread. */
export function provideNativeKernel(k: NativeKernel | null): void {
  if (k) provided = k;
}

/** The native kernel for a run that chose `level` (an error, not another kernel, where this thread has none that runs it). */
export function nativeKernel(level: NativeLevel): NativeKernel {
  if (!provided || levelCode(provided.level) < levelCode(level))
    throw new Error(
      `the run chose the native ${level} kernel, which this thread ${provided ? `cannot run (its CPU has ${provided.level})` : 'has not loaded'}`,
    );
  return provided;
}
