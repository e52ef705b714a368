/**
 * The per-voxel loops after the fit, as another implementation may give them (the native addon's,
 * native/vbm_post.c, through estimation/nativeFit.ts): the solve from the sums (nonSphericity.ts
 * solveFromSums), the contrast maps (contrastMaps.ts) and the spreading of values onto the grid
 * (images.ts spreadStrided). Each must give the JavaScript loop's bits (the same float64
 * operations in the same order); the callers check the arrays' sizes before calling.
 */
export interface PostKernel {
  /** beta = B X'y, ResSS = max(0, y'y - beta'X'y), ResMS = ResSS / trRV per analysed voxel (B: p x p, row-major). */
  solve(
    B: Float64Array,
    xty: Float64Array,
    yy: Float64Array,
    candOf: Int32Array,
    nCand: number,
    p: number,
    trRV: number,
    beta: Float64Array,
    rss: Float64Array,
    resMS: Float64Array,
  ): void;
  /** con = c' fround(beta), T = con / sqrt(ResMS varFactor). */
  contrastT(
    beta: Float64Array,
    resMS: Float64Array,
    p: number,
    c: Float64Array,
    varFactor: number,
    effect: Float64Array,
    stat: Float64Array,
  ): void;
  /** h = C fround(beta), ESS = h' Minv h, F = ESS / r / ResMS (C: q x p, Minv: q x q, row-major). */
  contrastF(
    beta: Float64Array,
    resMS: Float64Array,
    p: number,
    q: number,
    C: Float64Array,
    Minv: Float64Array,
    r: number,
    effect: Float64Array,
    stat: Float64Array,
  ): void;
  /** out = outside everywhere, then out[vox[k]] = values[k * stride + offset]. */
  spread(
    vox: Int32Array,
    values: Float64Array,
    stride: number,
    offset: number,
    outside: number,
    out: Float32Array | Float64Array,
  ): void;
  /**
   * The analysis mask from the sums: candidate c stays where ok[c] and vmax[c] > vmin[c]; sets
   * mask[cand[c]] = 1 and candOf[k] = c for the k-th that stays; returns how many stay.
   */
  mask?: (
    cand: Int32Array,
    ok: Uint8Array,
    vmin: Float32Array,
    vmax: Float32Array,
    mask: Uint8Array,
    candOf: Int32Array,
  ) => number;
  /** vox[k] = cand[candOf[k]]; maskIndex = -1 everywhere, then maskIndex[vox[k]] = k. */
  index?: (cand: Int32Array, candOf: Int32Array, vox: Int32Array, maskIndex: Int32Array) => void;
}
