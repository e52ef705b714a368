/*
 * The per-voxel loops after the fit in C (an optional part of the N-API addon; the JavaScript
 * loops of src/estimation/nonSphericity.ts solveFromSums, contrastMaps.ts and images.ts
 * spreadStrided are the portable path and the reference). The same float64 operations in the same
 * order (the file is compiled with -ffp-contract=off, no fast-math), so the results are the
 * JavaScript loops' bit for bit; only the calls per voxel, bounds checks and tier-up are gone.
 *
 * JavaScript API (registered by vbm_post_register from vbm_kernel.c's module init):
 * The per-voxel loops take an optional last argument `threads` (default 1): their voxels are split
 * between that many threads (vbm_async.h vbm_parallel; one for fewer than 65,536), each voxel's
 * operations are its own, so the results are the same bits for any number.
 *
 *   postSolve(B: Float64Array p*p, xty: Float64Array p*nCand, yy: Float64Array nCand,
 *             candOf: Int32Array m, nCand, p, trRV, beta: Float64Array m*p, rss, resMS: Float64Array m)
 *     beta = B X'y, ResSS = max(0, y'y - beta'X'y), ResMS = ResSS / trRV per voxel.
 *   postContrastT(beta, resMS, p, c: Float64Array p, varFactor, effect, stat: Float64Array m)
 *     con = sum_j c_j fround(beta_j), T = con / sqrt(ResMS varFactor).
 *   postContrastF(beta, resMS, p, q, C: Float64Array q*p, Minv: Float64Array q*q, r, effect, stat)
 *     h = C fround(beta), ESS = sum_i h_i (Minv h)_i, F = ESS / r / ResMS.
 *   postSpread(vox: Int32Array m, values: Float64Array, stride, offset, outside,
 *              out: Float32Array | Float64Array)
 *     out = outside everywhere, then out[vox[k]] = values[k stride + offset] (split between threads only
 *     where vox ascends: a voxel listed twice keeps its last value).
 *   postMask(cand: Int32Array nCand, ok: Uint8Array, vmin, vmax: Float32Array nCand, mask: Uint8Array nvox,
 *            candOf: Int32Array nCand) -> m
 *     the analysis mask from the fit's sums: candidate c stays where ok[c] and vmax[c] > vmin[c] (not
 *     constant over the scans); mask[cand[c]] = 1 and candOf[k] = c for the k-th that stays.
 *   postIndex(cand: Int32Array, candOf: Int32Array m, vox: Int32Array m, maskIndex: Int32Array nvox)
 *     vox[k] = cand[candOf[k]]; maskIndex = -1 everywhere, then maskIndex[vox[k]] = k.
 *   postScanStats(stats: Float64Array 4*m*nBlocks, m, out: Float64Array 4*m)
 *     each scan's removed, nonZero, finite and sum over the fit's blocks: out[4i + j] = the sum over
 *     blocks b, in order from 0, of stats[4 (i nBlocks + b) + j] (fitRanges.ts rangeReports' additions).
 *   postTouchAsync(...arrays: TypedArray[]) -> Promise<void>
 *     the arrays' pages touched (each page's first byte rewritten with its own value, atomically) on a
 *     thread of its own, so that the memory of arrays made for later is faulted in while a core is idle,
 *     not by the loops that first write it; the values are unchanged.
 *   postMaskCounts(mask: Uint8Array nx*ny*nz, nx, ny, nz, out: Float64Array 8)
 *     the mask's voxels, edges, faces and cubes behind the resel counts (inference/resels.ts):
 *     [P, Ex, Ey, Ez, Fxy, Fxz, Fyz, C] (whole numbers: the same wherever they are counted).
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vbm_async.h"
#include "vbm_napi.h"

static int post_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static int post_f64(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

/* n == a * b, without the product wrapping round (a length check an argument cannot fool) */
static inline int post_is_product(size_t n, size_t a, size_t b) {
  return b == 0 ? n == 0 : n % b == 0 && n / b == a;
}

/*
 * Math.max(0, d) as JavaScript has it: -0 becomes +0, and a NaN gives NaN, V8's (x64): the default
 * NaN with its sign bit set (0xfff8000000000000) whatever the NaN came in, not the NaN itself
 */
static inline double js_max0(double d) {
  if (d != d) return -(double)NAN;
  return d > 0 ? d : 0.0;
}

/* the voxels [m t / T, m (t + 1) / T) of part t of T (vbm_parallel); one part for small problems */
static inline void post_part(size_t m, int t, int T, size_t *k0, size_t *k1) {
  *k0 = m * (size_t)t / (size_t)T;
  *k1 = m * (size_t)(t + 1) / (size_t)T;
}
static inline int post_parts(size_t m, uint32_t threads) { return m < 65536 ? 1 : (int)(threads > 16 ? 16 : threads); }

/* an optional last argument `threads` (default 1) at argv[at] when argc > at; false if it is not a positive
   whole number */
static int post_threads(napi_env env, size_t argc, napi_value *argv, size_t at, uint32_t *threads) {
  *threads = 1;
  return argc <= at || (post_u32(env, argv[at], threads) && *threads >= 1);
}

/* the solve's arrays, for its parts (vbm_parallel): each part solves voxels [m t / T, m (t + 1) / T) */
/* a part's scratch of n doubles: `stack` (64) when it is enough, else new memory (free it when it is not
   `stack`); NULL, with *failed set, when there is none */
static double *post_scratch(double *stack, uint32_t n, int *failed) {
  double *s = n <= 64 ? stack : malloc(sizeof(double) * n);
  if (!s) __atomic_store_n(failed, 1, __ATOMIC_RELAXED);
  return s;
}

typedef struct {
  const double *B, *xty, *yy;
  const int32_t *cand;
  double *beta, *rss, *resMS;
  size_t m;
  uint32_t nCand, p;
  double trRV;
  int failed; /* a part without memory for its scratch (p > 64) */
} post_solve_ctx;

static void post_solve_part(void *ctx, int t, int T) {
  post_solve_ctx *c = ctx;
  const uint32_t p = c->p, nCand = c->nCand;
  double xs[64];
  double *x = post_scratch(xs, p, &c->failed);
  if (!x) return;
  const size_t k0 = c->m * (size_t)t / (size_t)T, k1 = c->m * (size_t)(t + 1) / (size_t)T;
  for (size_t k = k0; k < k1; k++) {
    const size_t cd = (size_t)c->cand[k];
    for (uint32_t j = 0; j < p; j++) x[j] = c->xty[(size_t)j * nCand + cd];
    double fitted = 0;
    double *bk = c->beta + k * p;
    for (uint32_t i = 0; i < p; i++) {
      double b = 0;
      const double *Bi = c->B + (size_t)i * p;
      for (uint32_t j = 0; j < p; j++) b += Bi[j] * x[j];
      bk[i] = b;
      fitted += b * x[i];
    }
    const double r = js_max0(c->yy[cd] - fitted);
    c->rss[k] = r;
    c->resMS[k] = r / c->trRV;
  }
  if (x != xs) free(x);
}

static napi_value js_post_solve(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 10 && argc != 11))
    return vbm_throw(env, "postSolve: 10 or 11 arguments expected");
  void *B, *xty, *yy, *candOf, *beta, *rss, *resMS;
  size_t lB, lxty, lyy, lc, lbeta, lrss, lres;
  uint32_t nCand, p, threads;
  double trRV;
  if (!vbm_typed(env, argv[0], napi_float64_array, &B, &lB) ||
      !vbm_typed(env, argv[1], napi_float64_array, &xty, &lxty) ||
      !vbm_typed(env, argv[2], napi_float64_array, &yy, &lyy) ||
      !vbm_typed(env, argv[3], napi_int32_array, &candOf, &lc) ||
      !vbm_typed(env, argv[7], napi_float64_array, &beta, &lbeta) ||
      !vbm_typed(env, argv[8], napi_float64_array, &rss, &lrss) ||
      !vbm_typed(env, argv[9], napi_float64_array, &resMS, &lres))
    return vbm_throw(env, "postSolve: typed arrays expected");
  if (!post_u32(env, argv[4], &nCand) || !post_u32(env, argv[5], &p) || !post_f64(env, argv[6], &trRV) ||
      !post_threads(env, argc, argv, 10, &threads))
    return vbm_throw(env, "postSolve: arguments");
  const size_t m = lc;
  if (p == 0 || lB != (size_t)p * p || lxty != (size_t)p * nCand || lyy != nCand ||
      !post_is_product(lbeta, m, p) || lrss != m || lres != m)
    return vbm_throw(env, "postSolve: arrays of the wrong size");
  const int32_t *cand = candOf;
  for (size_t k = 0; k < m; k++)
    if (cand[k] < 0 || (uint32_t)cand[k] >= nCand) return vbm_throw(env, "postSolve: a voxel outside the sums");
  post_solve_ctx c = {B, xty, yy, cand, beta, rss, resMS, m, nCand, p, trRV, 0};
  /* each voxel's operations are its own: the same bits for any number of parts; small problems in one */
  vbm_parallel(post_parts(m, threads), post_solve_part, &c);
  if (c.failed) return vbm_throw(env, "postSolve: out of memory");
  return NULL;
}

typedef struct {
  const double *beta, *resMS, *c;
  double *effect, *stat;
  size_t m;
  uint32_t p;
  double varFactor;
} post_t_ctx;

static void post_t_part(void *ctx, int t, int T) {
  const post_t_ctx *x = ctx;
  size_t k0, k1;
  post_part(x->m, t, T, &k0, &k1);
  const uint32_t p = x->p;
  for (size_t k = k0; k < k1; k++) {
    const double *bk = x->beta + k * p;
    double con = 0;
    for (uint32_t j = 0; j < p; j++) con += x->c[j] * (double)(float)bk[j];
    x->effect[k] = con;
    x->stat[k] = con / sqrt(x->resMS[k] * x->varFactor);
  }
}

static napi_value js_post_contrast_t(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 7 && argc != 8))
    return vbm_throw(env, "postContrastT: 7 or 8 arguments expected");
  void *beta, *resMS, *c, *effect, *stat;
  size_t lbeta, lres, lc, leff, lstat;
  uint32_t p, threads;
  double varFactor;
  if (!vbm_typed(env, argv[0], napi_float64_array, &beta, &lbeta) ||
      !vbm_typed(env, argv[1], napi_float64_array, &resMS, &lres) ||
      !vbm_typed(env, argv[3], napi_float64_array, &c, &lc) ||
      !vbm_typed(env, argv[5], napi_float64_array, &effect, &leff) ||
      !vbm_typed(env, argv[6], napi_float64_array, &stat, &lstat))
    return vbm_throw(env, "postContrastT: typed arrays expected");
  if (!post_u32(env, argv[2], &p) || !post_f64(env, argv[4], &varFactor) || !post_threads(env, argc, argv, 7, &threads))
    return vbm_throw(env, "postContrastT: arguments");
  const size_t m = lres;
  if (p == 0 || lc != p || !post_is_product(lbeta, m, p) || leff != m || lstat != m)
    return vbm_throw(env, "postContrastT: arrays of the wrong size");
  post_t_ctx x = {beta, resMS, c, effect, stat, m, p, varFactor};
  vbm_parallel(post_parts(m, threads), post_t_part, &x);
  return NULL;
}

typedef struct {
  const double *beta, *resMS, *C, *Minv;
  double *effect, *stat;
  size_t m;
  uint32_t p, q;
  double r;
  int failed; /* a part without memory for its scratch (q > 64) */
} post_f_ctx;

static void post_f_part(void *ctx, int t, int T) {
  post_f_ctx *x = ctx;
  const uint32_t p = x->p, q = x->q;
  double hs[64];
  double *h = post_scratch(hs, q, &x->failed);
  if (!h) return;
  size_t k0, k1;
  post_part(x->m, t, T, &k0, &k1);
  for (size_t k = k0; k < k1; k++) {
    const double *bk = x->beta + k * p;
    for (uint32_t i = 0; i < q; i++) {
      double s = 0;
      const double *Ci = x->C + (size_t)i * p;
      for (uint32_t j = 0; j < p; j++) s += Ci[j] * (double)(float)bk[j];
      h[i] = s;
    }
    double ess = 0;
    for (uint32_t i = 0; i < q; i++) {
      double u = 0;
      const double *Mi = x->Minv + (size_t)i * q;
      for (uint32_t j = 0; j < q; j++) u += Mi[j] * h[j];
      ess += h[i] * u;
    }
    x->effect[k] = ess;
    x->stat[k] = ess / x->r / x->resMS[k];
  }
  if (h != hs) free(h);
}

static napi_value js_post_contrast_f(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 9 && argc != 10))
    return vbm_throw(env, "postContrastF: 9 or 10 arguments expected");
  void *beta, *resMS, *C, *Minv, *effect, *stat;
  size_t lbeta, lres, lC, lM, leff, lstat;
  uint32_t p, q, threads;
  double r;
  if (!vbm_typed(env, argv[0], napi_float64_array, &beta, &lbeta) ||
      !vbm_typed(env, argv[1], napi_float64_array, &resMS, &lres) ||
      !vbm_typed(env, argv[4], napi_float64_array, &C, &lC) ||
      !vbm_typed(env, argv[5], napi_float64_array, &Minv, &lM) ||
      !vbm_typed(env, argv[7], napi_float64_array, &effect, &leff) ||
      !vbm_typed(env, argv[8], napi_float64_array, &stat, &lstat))
    return vbm_throw(env, "postContrastF: typed arrays expected");
  if (!post_u32(env, argv[2], &p) || !post_u32(env, argv[3], &q) || !post_f64(env, argv[6], &r) ||
      !post_threads(env, argc, argv, 9, &threads))
    return vbm_throw(env, "postContrastF: arguments");
  const size_t m = lres;
  if (p == 0 || q == 0 || lC != (size_t)q * p || lM != (size_t)q * q || !post_is_product(lbeta, m, p) ||
      leff != m || lstat != m)
    return vbm_throw(env, "postContrastF: arrays of the wrong size");
  post_f_ctx x = {beta, resMS, C, Minv, effect, stat, m, p, q, r, 0};
  vbm_parallel(post_parts(m, threads), post_f_part, &x);
  if (x.failed) return vbm_throw(env, "postContrastF: out of memory");
  return NULL;
}

typedef struct {
  const int32_t *vox;
  const double *values;
  void *out;
  size_t m, n;
  uint32_t stride, offset;
  double outside;
  int f32;
} post_spread_ctx;

/* part t: the grid's voxels [n t / T, n (t + 1) / T) set to `outside` */
static void post_spread_fill(void *ctx, int t, int T) {
  const post_spread_ctx *x = ctx;
  size_t i0, i1;
  post_part(x->n, t, T, &i0, &i1);
  if (x->f32) {
    float *o = x->out;
    const float fo = (float)x->outside;
    for (size_t i = i0; i < i1; i++) o[i] = fo;
  } else {
    double *o = x->out;
    for (size_t i = i0; i < i1; i++) o[i] = x->outside;
  }
}

/* part t: its share of the masked voxels set to their values */
static void post_spread_set(void *ctx, int t, int T) {
  const post_spread_ctx *x = ctx;
  size_t k0, k1;
  post_part(x->m, t, T, &k0, &k1);
  const int32_t *vi = x->vox;
  const double *vd = x->values;
  if (x->f32) {
    float *o = x->out;
    for (size_t k = k0; k < k1; k++) o[vi[k]] = (float)vd[k * x->stride + x->offset];
  } else {
    double *o = x->out;
    for (size_t k = k0; k < k1; k++) o[vi[k]] = vd[k * x->stride + x->offset];
  }
}

static napi_value js_post_spread(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || (argc != 6 && argc != 7))
    return vbm_throw(env, "postSpread: 6 or 7 arguments expected");
  void *vox, *values, *out;
  size_t lvox, lval, lout;
  uint32_t stride, offset, threads;
  double outside;
  if (!vbm_typed(env, argv[0], napi_int32_array, &vox, &lvox) ||
      !vbm_typed(env, argv[1], napi_float64_array, &values, &lval))
    return vbm_throw(env, "postSpread: typed arrays expected");
  if (!post_u32(env, argv[2], &stride) || !post_u32(env, argv[3], &offset) || !post_f64(env, argv[4], &outside) ||
      !post_threads(env, argc, argv, 6, &threads))
    return vbm_throw(env, "postSpread: arguments");
  int f32 = vbm_typed(env, argv[5], napi_float32_array, &out, &lout);
  if (!f32 && !vbm_typed(env, argv[5], napi_float64_array, &out, &lout))
    return vbm_throw(env, "postSpread: out must be a Float32Array or Float64Array");
  const size_t m = lvox;
  /* (m - 1) stride + offset < lval, as spreadStrided checks it (stride 0 too), without the product wrapping */
  if (m > 0 && (offset >= lval || (stride != 0 && m - 1 > (lval - 1 - offset) / stride)))
    return vbm_throw(env, "postSpread: one value per masked voxel");
  const int32_t *vi = vox;
  int ascending = 1;
  for (size_t k = 0; k < m; k++) {
    if (vi[k] < 0 || (size_t)vi[k] >= lout) return vbm_throw(env, "postSpread: a voxel outside the grid");
    if (k > 0 && vi[k] <= vi[k - 1]) ascending = 0;
  }
  post_spread_ctx x = {vi, values, out, m, lout, stride, offset, outside, f32};
  /* all of the grid is filled before any masked voxel is set; the masked voxels are split between threads
     only when each is listed once (ascending, as the analysis mask's are): a voxel listed twice keeps its
     last value, as in one thread */
  vbm_parallel(post_parts(lout, threads), post_spread_fill, &x);
  vbm_parallel(ascending ? post_parts(m, threads) : 1, post_spread_set, &x);
  return NULL;
}

static napi_value js_post_mask_counts(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return vbm_throw(env, "postMaskCounts: 5 arguments expected");
  void *mask, *out;
  size_t lmask, lout;
  uint32_t nx, ny, nz;
  if (!vbm_typed(env, argv[0], napi_uint8_array, &mask, &lmask) ||
      !vbm_typed(env, argv[4], napi_float64_array, &out, &lout))
    return vbm_throw(env, "postMaskCounts: typed arrays expected");
  if (!post_u32(env, argv[1], &nx) || !post_u32(env, argv[2], &ny) || !post_u32(env, argv[3], &nz))
    return vbm_throw(env, "postMaskCounts: arguments");
  const size_t nxy = (size_t)nx * ny; /* two uint32 factors: no wrap in 64 bits */
  if (lout != 8 || (nz != 0 && nxy > lmask / nz)) /* nxy * nz > lmask, without the product wrapping */
    return vbm_throw(env, "postMaskCounts: arrays of the wrong size");
  const uint8_t *m = mask;
  uint64_t P = 0, Ex = 0, Ey = 0, Ez = 0, Fxy = 0, Fxz = 0, Fyz = 0, C = 0;
  for (size_t z = 0; z < nz; z++)
    for (size_t y = 0; y < ny; y++)
      for (size_t x = 0; x < nx; x++) {
        const size_t o = x + nx * y + nxy * z;
        if (!m[o]) continue;
        P++;
        const int mx = x > 0 && m[o - 1];
        const int my = y > 0 && m[o - nx];
        const int mz = z > 0 && m[o - nxy];
        const int mxy = x > 0 && y > 0 && m[o - 1 - nx];
        const int mxz = x > 0 && z > 0 && m[o - 1 - nxy];
        const int myz = y > 0 && z > 0 && m[o - nx - nxy];
        const int mxyz = x > 0 && y > 0 && z > 0 && m[o - 1 - nx - nxy];
        Ex += mx;
        Ey += my;
        Ez += mz;
        Fxy += mx && my && mxy;
        Fxz += mx && mz && mxz;
        Fyz += my && mz && myz;
        C += mx && my && mz && mxy && mxz && myz && mxyz;
      }
  double *o = out;
  o[0] = (double)P;
  o[1] = (double)Ex;
  o[2] = (double)Ey;
  o[3] = (double)Ez;
  o[4] = (double)Fxy;
  o[5] = (double)Fxz;
  o[6] = (double)Fyz;
  o[7] = (double)C;
  return NULL;
}

static napi_value js_post_mask(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6)
    return vbm_throw(env, "postMask: 6 arguments expected");
  void *cand, *ok, *vmin, *vmax, *mask, *candOf;
  size_t lcand, lok, lvmin, lvmax, lmask, lcandOf;
  if (!vbm_typed(env, argv[0], napi_int32_array, &cand, &lcand) ||
      !vbm_typed(env, argv[1], napi_uint8_array, &ok, &lok) ||
      !vbm_typed(env, argv[2], napi_float32_array, &vmin, &lvmin) ||
      !vbm_typed(env, argv[3], napi_float32_array, &vmax, &lvmax) ||
      !vbm_typed(env, argv[4], napi_uint8_array, &mask, &lmask) ||
      !vbm_typed(env, argv[5], napi_int32_array, &candOf, &lcandOf))
    return vbm_throw(env, "postMask: typed arrays expected");
  if (lok != lcand || lvmin != lcand || lvmax != lcand || lcandOf != lcand)
    return vbm_throw(env, "postMask: arrays of the wrong sizes");
  const int32_t *cd = cand;
  for (size_t c = 0; c < lcand; c++)
    if (cd[c] < 0 || (size_t)cd[c] >= lmask) return vbm_throw(env, "postMask: a candidate outside the grid");
  const uint8_t *o = ok;
  const float *lo = vmin, *hi = vmax;
  uint8_t *mk = mask;
  int32_t *co = candOf;
  size_t m = 0;
  for (size_t c = 0; c < lcand; c++)
    if (o[c] && hi[c] > lo[c]) {
      mk[cd[c]] = 1;
      co[m++] = (int32_t)c;
    }
  napi_value out;
  napi_create_double(env, (double)m, &out);
  return out;
}

static napi_value js_post_index(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return vbm_throw(env, "postIndex: 4 arguments expected");
  void *cand, *candOf, *vox, *maskIndex;
  size_t lcand, lcandOf, lvox, lindex;
  if (!vbm_typed(env, argv[0], napi_int32_array, &cand, &lcand) ||
      !vbm_typed(env, argv[1], napi_int32_array, &candOf, &lcandOf) ||
      !vbm_typed(env, argv[2], napi_int32_array, &vox, &lvox) ||
      !vbm_typed(env, argv[3], napi_int32_array, &maskIndex, &lindex))
    return vbm_throw(env, "postIndex: typed arrays expected");
  if (lvox != lcandOf || lvox > INT32_MAX) return vbm_throw(env, "postIndex: arrays of the wrong sizes");
  const int32_t *cd = cand, *co = candOf;
  for (size_t k = 0; k < lcandOf; k++)
    if (co[k] < 0 || (size_t)co[k] >= lcand || cd[co[k]] < 0 || (size_t)cd[co[k]] >= lindex)
      return vbm_throw(env, "postIndex: an index outside the candidates or the grid");
  int32_t *vx = vox, *mi = maskIndex;
  for (size_t i = 0; i < lindex; i++) mi[i] = -1;
  for (size_t k = 0; k < lcandOf; k++) {
    const int32_t v = cd[co[k]];
    vx[k] = v;
    mi[v] = (int32_t)k;
  }
  return NULL;
}

static napi_value js_post_scan_stats(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3)
    return vbm_throw(env, "postScanStats: 3 arguments expected");
  void *stats, *out;
  size_t lstats, lout;
  uint32_t m;
  if (!vbm_typed(env, argv[0], napi_float64_array, &stats, &lstats) ||
      !vbm_typed(env, argv[2], napi_float64_array, &out, &lout) || !post_u32(env, argv[1], &m))
    return vbm_throw(env, "postScanStats: arguments");
  if (m == 0 || lout != 4 * (size_t)m || lstats % (4 * (size_t)m) != 0)
    return vbm_throw(env, "postScanStats: arrays of the wrong sizes");
  const size_t nBlocks = lstats / (4 * (size_t)m);
  const double *st = stats;
  double *o = out;
  for (size_t i = 0; i < m; i++) {
    double removed = 0, nonZero = 0, finite = 0, sum = 0;
    for (size_t at = 4 * i * nBlocks, end = at + 4 * nBlocks; at < end; at += 4) {
      removed += st[at];
      nonZero += st[at + 1];
      finite += st[at + 2];
      sum += st[at + 3];
    }
    o[4 * i] = removed, o[4 * i + 1] = nonZero, o[4 * i + 2] = finite, o[4 * i + 3] = sum;
  }
  return NULL;
}

/* postTouchAsync's arrays: their bytes, in place (referenced until the promise settles) */
typedef struct {
  size_t n;
  uint8_t *data[16];
  size_t bytes[16];
} post_touch_args;

static int post_touch_run(void *data, vbm_failure *fail) {
  (void)fail;
  const post_touch_args *a = data;
  for (size_t i = 0; i < a->n; i++) {
    for (size_t at = 0; at < a->bytes[i]; at += 4096) __atomic_fetch_or(a->data[i] + at, 0, __ATOMIC_RELAXED);
    /* the last page, where the array does not begin on a page's first byte */
    if (a->bytes[i]) __atomic_fetch_or(a->data[i] + a->bytes[i] - 1, 0, __ATOMIC_RELAXED);
  }
  return 0;
}

static napi_value js_post_touch_async(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc > 16)
    return vbm_throw(env, "postTouchAsync: at most 16 typed arrays expected");
  post_touch_args *a = calloc(1, sizeof *a);
  if (!a) return vbm_throw(env, "postTouchAsync: out of memory");
  a->n = argc;
  for (size_t i = 0; i < argc; i++) {
    void *d;
    if (!vbm_typed_bytes(env, argv[i], &d, &a->bytes[i])) {
      free(a);
      return vbm_throw(env, "postTouchAsync: typed arrays expected");
    }
    a->data[i] = d;
  }
  return vbm_run_async(env, post_touch_run, free, a, argv, argc);
}

void vbm_post_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "postSolve", NAPI_AUTO_LENGTH, js_post_solve, NULL, &fn);
  napi_set_named_property(env, exports, "postSolve", fn);
  napi_create_function(env, "postContrastT", NAPI_AUTO_LENGTH, js_post_contrast_t, NULL, &fn);
  napi_set_named_property(env, exports, "postContrastT", fn);
  napi_create_function(env, "postContrastF", NAPI_AUTO_LENGTH, js_post_contrast_f, NULL, &fn);
  napi_set_named_property(env, exports, "postContrastF", fn);
  napi_create_function(env, "postSpread", NAPI_AUTO_LENGTH, js_post_spread, NULL, &fn);
  napi_set_named_property(env, exports, "postSpread", fn);
  napi_create_function(env, "postMaskCounts", NAPI_AUTO_LENGTH, js_post_mask_counts, NULL, &fn);
  napi_set_named_property(env, exports, "postMaskCounts", fn);
  napi_create_function(env, "postMask", NAPI_AUTO_LENGTH, js_post_mask, NULL, &fn);
  napi_set_named_property(env, exports, "postMask", fn);
  napi_create_function(env, "postIndex", NAPI_AUTO_LENGTH, js_post_index, NULL, &fn);
  napi_set_named_property(env, exports, "postIndex", fn);
  napi_create_function(env, "postScanStats", NAPI_AUTO_LENGTH, js_post_scan_stats, NULL, &fn);
  napi_set_named_property(env, exports, "postScanStats", fn);
  napi_create_function(env, "postTouchAsync", NAPI_AUTO_LENGTH, js_post_touch_async, NULL, &fn);
  napi_set_named_property(env, exports, "postTouchAsync", fn);
}
