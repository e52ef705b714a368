/*
 * vbm's native permutation product (an optional N-API addon; the WebAssembly kernel, gemm.wat,
 * is the portable path and the reference). One call packs a chunk of the data into tiles and
 * forms W = A' T for it, exactly as gemm.wat's pack + gemm do with fused multiply-adds:
 *
 *   W[r][t] = fma(A[n-1][r], x[n-1][t], ... fma(A[1][r], x[1][t], fma(A[0][r], x[0][t], 0)))
 *
 * one rounding per multiply-add, over the scans in order, for every row r and voxel t. Only the
 * width of the registers differs (8 lanes with AVX2, 16 with AVX-512 against 4 in WebAssembly),
 * and lanes are independent, so the products are the fused WebAssembly kernel's bit for bit.
 *
 * The instruction set is chosen at run time by the caller (cpuLevel() says what the CPU has;
 * product() is told which level to use, so that every thread of a run uses the same one). The
 * file is compiled without -march: each kernel carries its own target attribute.
 *
 * Coefficients A: m rows (a multiple of 4) by n scans, laid out by groups of 4 rows:
 * A[((r / 4) * n + i) * 4 + r % 4]. Data R: n rows, `stride` floats apart (scan-major).
 * W: m rows of C floats. T: scratch of n * 512 floats (c <= 512).
 */
#include <node_api.h>
#include <immintrin.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "vbm_napi.h"

enum { LEVEL_NONE = 0, LEVEL_AVX2 = 1, LEVEL_AVX512 = 2 };

static int cpu_level_uncached(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return LEVEL_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return LEVEL_AVX2;
  return LEVEL_NONE;
}

static int cpu_level(void) {
  static int level = -1;
  if (level < 0) level = cpu_level_uncached();
  return level;
}

/* ---- AVX2 + FMA: tiles of 8 voxels, T[tile][i][8]; blocks of 4 rows x 3 tiles ---- */

__attribute__((target("avx2,fma"))) static void product_avx2(const float *A, int m, const float *R, int stride,
                                                              int n, int v0, int c, float *T, float *W, int C) {
  const int tiles = c / 8;
  for (int i = 0; i < n; i++) {
    const float *src = R + (size_t)i * stride + v0;
    float *dst = T + (size_t)i * 8;
    for (int t = 0; t < tiles; t++) _mm256_storeu_ps(dst + (size_t)t * n * 8, _mm256_loadu_ps(src + t * 8));
  }
  int t = 0;
  for (; t + 3 <= tiles; t += 3) {
    const float *x = T + (size_t)t * n * 8;
    const size_t tb = (size_t)n * 8;
    for (int rg = 0; rg < m; rg += 4) {
      const float *a = A + (size_t)rg * n;
      __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps();
      __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps();
      __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps();
      __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c32 = _mm256_setzero_ps();
      for (int i = 0; i < n; i++) {
        const __m256 x0 = _mm256_loadu_ps(x + (size_t)i * 8);
        const __m256 x1 = _mm256_loadu_ps(x + tb + (size_t)i * 8);
        const __m256 x2 = _mm256_loadu_ps(x + 2 * tb + (size_t)i * 8);
        __m256 s = _mm256_broadcast_ss(a + i * 4);
        c00 = _mm256_fmadd_ps(s, x0, c00);
        c01 = _mm256_fmadd_ps(s, x1, c01);
        c02 = _mm256_fmadd_ps(s, x2, c02);
        s = _mm256_broadcast_ss(a + i * 4 + 1);
        c10 = _mm256_fmadd_ps(s, x0, c10);
        c11 = _mm256_fmadd_ps(s, x1, c11);
        c12 = _mm256_fmadd_ps(s, x2, c12);
        s = _mm256_broadcast_ss(a + i * 4 + 2);
        c20 = _mm256_fmadd_ps(s, x0, c20);
        c21 = _mm256_fmadd_ps(s, x1, c21);
        c22 = _mm256_fmadd_ps(s, x2, c22);
        s = _mm256_broadcast_ss(a + i * 4 + 3);
        c30 = _mm256_fmadd_ps(s, x0, c30);
        c31 = _mm256_fmadd_ps(s, x1, c31);
        c32 = _mm256_fmadd_ps(s, x2, c32);
      }
      float *w = W + (size_t)rg * C + t * 8;
      _mm256_storeu_ps(w, c00), _mm256_storeu_ps(w + 8, c01), _mm256_storeu_ps(w + 16, c02);
      w += C;
      _mm256_storeu_ps(w, c10), _mm256_storeu_ps(w + 8, c11), _mm256_storeu_ps(w + 16, c12);
      w += C;
      _mm256_storeu_ps(w, c20), _mm256_storeu_ps(w + 8, c21), _mm256_storeu_ps(w + 16, c22);
      w += C;
      _mm256_storeu_ps(w, c30), _mm256_storeu_ps(w + 8, c31), _mm256_storeu_ps(w + 16, c32);
    }
  }
  for (; t < tiles; t++) {
    const float *x = T + (size_t)t * n * 8;
    for (int rg = 0; rg < m; rg += 4) {
      const float *a = A + (size_t)rg * n;
      __m256 c0 = _mm256_setzero_ps(), c1 = _mm256_setzero_ps(), c2 = _mm256_setzero_ps(), c3 = _mm256_setzero_ps();
      for (int i = 0; i < n; i++) {
        const __m256 x0 = _mm256_loadu_ps(x + (size_t)i * 8);
        c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * 4), x0, c0);
        c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * 4 + 1), x0, c1);
        c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * 4 + 2), x0, c2);
        c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i * 4 + 3), x0, c3);
      }
      float *w = W + (size_t)rg * C + t * 8;
      _mm256_storeu_ps(w, c0);
      _mm256_storeu_ps(w + C, c1);
      _mm256_storeu_ps(w + 2 * (size_t)C, c2);
      _mm256_storeu_ps(w + 3 * (size_t)C, c3);
    }
  }
}

/* ---- AVX-512F: tiles of 16 voxels, T[tile][i][16] (a last half tile padded with zeros); blocks of 4 rows x 4 tiles ---- */

__attribute__((target("avx512f,avx2,fma"))) static void product_avx512(const float *A, int m, const float *R,
                                                                       int stride, int n, int v0, int c, float *T,
                                                                       float *W, int C) {
  const int tiles = (c + 15) / 16;
  const int half = c % 16 != 0; /* c is a multiple of 8: the last tile holds 8 voxels */
  for (int i = 0; i < n; i++) {
    const float *src = R + (size_t)i * stride + v0;
    float *dst = T + (size_t)i * 16;
    int t = 0;
    for (; t < tiles - half; t++) _mm512_storeu_ps(dst + (size_t)t * n * 16, _mm512_loadu_ps(src + t * 16));
    if (half) {
      float *d = dst + (size_t)t * n * 16;
      _mm256_storeu_ps(d, _mm256_loadu_ps(src + t * 16));
      _mm256_storeu_ps(d + 8, _mm256_setzero_ps());
    }
  }
  /* W rows hold C >= the chunk's voxels rounded up to 16 (C = 512, c <= 512): a full store of a half tile stays in its row */
  int t = 0;
  const size_t tb = (size_t)n * 16;
  for (; t + 4 <= tiles; t += 4) {
    const float *x = T + (size_t)t * tb;
    for (int rg = 0; rg < m; rg += 4) {
      const float *a = A + (size_t)rg * n;
      __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps(), c02 = _mm512_setzero_ps(), c03 = _mm512_setzero_ps();
      __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps(), c12 = _mm512_setzero_ps(), c13 = _mm512_setzero_ps();
      __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps(), c22 = _mm512_setzero_ps(), c23 = _mm512_setzero_ps();
      __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps(), c32 = _mm512_setzero_ps(), c33 = _mm512_setzero_ps();
      for (int i = 0; i < n; i++) {
        const __m512 x0 = _mm512_loadu_ps(x + (size_t)i * 16);
        const __m512 x1 = _mm512_loadu_ps(x + tb + (size_t)i * 16);
        const __m512 x2 = _mm512_loadu_ps(x + 2 * tb + (size_t)i * 16);
        const __m512 x3 = _mm512_loadu_ps(x + 3 * tb + (size_t)i * 16);
        __m512 s = _mm512_set1_ps(a[i * 4]);
        c00 = _mm512_fmadd_ps(s, x0, c00);
        c01 = _mm512_fmadd_ps(s, x1, c01);
        c02 = _mm512_fmadd_ps(s, x2, c02);
        c03 = _mm512_fmadd_ps(s, x3, c03);
        s = _mm512_set1_ps(a[i * 4 + 1]);
        c10 = _mm512_fmadd_ps(s, x0, c10);
        c11 = _mm512_fmadd_ps(s, x1, c11);
        c12 = _mm512_fmadd_ps(s, x2, c12);
        c13 = _mm512_fmadd_ps(s, x3, c13);
        s = _mm512_set1_ps(a[i * 4 + 2]);
        c20 = _mm512_fmadd_ps(s, x0, c20);
        c21 = _mm512_fmadd_ps(s, x1, c21);
        c22 = _mm512_fmadd_ps(s, x2, c22);
        c23 = _mm512_fmadd_ps(s, x3, c23);
        s = _mm512_set1_ps(a[i * 4 + 3]);
        c30 = _mm512_fmadd_ps(s, x0, c30);
        c31 = _mm512_fmadd_ps(s, x1, c31);
        c32 = _mm512_fmadd_ps(s, x2, c32);
        c33 = _mm512_fmadd_ps(s, x3, c33);
      }
      float *w = W + (size_t)rg * C + t * 16;
      _mm512_storeu_ps(w, c00), _mm512_storeu_ps(w + 16, c01), _mm512_storeu_ps(w + 32, c02), _mm512_storeu_ps(w + 48, c03);
      w += C;
      _mm512_storeu_ps(w, c10), _mm512_storeu_ps(w + 16, c11), _mm512_storeu_ps(w + 32, c12), _mm512_storeu_ps(w + 48, c13);
      w += C;
      _mm512_storeu_ps(w, c20), _mm512_storeu_ps(w + 16, c21), _mm512_storeu_ps(w + 32, c22), _mm512_storeu_ps(w + 48, c23);
      w += C;
      _mm512_storeu_ps(w, c30), _mm512_storeu_ps(w + 16, c31), _mm512_storeu_ps(w + 32, c32), _mm512_storeu_ps(w + 48, c33);
    }
  }
  for (; t < tiles; t++) {
    const float *x = T + (size_t)t * tb;
    for (int rg = 0; rg < m; rg += 4) {
      const float *a = A + (size_t)rg * n;
      __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps(), c3 = _mm512_setzero_ps();
      for (int i = 0; i < n; i++) {
        const __m512 x0 = _mm512_loadu_ps(x + (size_t)i * 16);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(a[i * 4]), x0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(a[i * 4 + 1]), x0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(a[i * 4 + 2]), x0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(a[i * 4 + 3]), x0, c3);
      }
      float *w = W + (size_t)rg * C + t * 16;
      _mm512_storeu_ps(w, c0);
      _mm512_storeu_ps(w + C, c1);
      _mm512_storeu_ps(w + 2 * (size_t)C, c2);
      _mm512_storeu_ps(w + 3 * (size_t)C, c3);
    }
  }
}

/* ---- N-API ---- */

/* cpuLevel(): 'avx512', 'avx2' (each with FMA) or '' */
static napi_value js_cpu_level(napi_env env, napi_callback_info info) {
  (void)info;
  static const char *names[] = {"", "avx2", "avx512"};
  napi_value out;
  napi_create_string_utf8(env, names[cpu_level()], NAPI_AUTO_LENGTH, &out);
  return out;
}

/* product(level, memory: Uint8Array over the whole shared memory, A, m, R, stride, n, v0, c, T, W, C): byte offsets A, R, T, W */
static napi_value js_product(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 12)
    return vbm_throw(env, "product: 12 arguments expected");
  int32_t level;
  if (napi_get_value_int32(env, argv[0], &level) != napi_ok) return vbm_throw(env, "product: level");
  napi_typedarray_type type;
  size_t length;
  void *data;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array || data == NULL)
    return vbm_throw(env, "product: the memory must be a Uint8Array");
  uint32_t v[10];
  for (int k = 0; k < 10; k++)
    if (napi_get_value_uint32(env, argv[k + 2], &v[k]) != napi_ok) return vbm_throw(env, "product: integer arguments");
  const uint32_t pA = v[0], m = v[1], pR = v[2], stride = v[3], n = v[4], v0 = v[5], c = v[6], pT = v[7], pW = v[8],
                 C = v[9];
  /* bounds: every read and write inside the memory (sizes in bytes, in 64 bits) */
  const uint64_t len = length;
  const uint64_t cp = (c + 15) / 16 * 16;
  if (m % 4 || c % 8 || c > 512 || cp > C || pA % 4 || pR % 4 || pT % 4 || pW % 4 ||
      (uint64_t)pA + (uint64_t)m * n * 4 > len || (n > 0 && (uint64_t)pR + ((uint64_t)(n - 1) * stride + v0 + c) * 4 > len) ||
      (uint64_t)pT + (uint64_t)n * cp * 4 > len || (m > 0 && (uint64_t)pW + ((uint64_t)(m - 1) * C + cp) * 4 > len))
    return vbm_throw(env, "product: arguments outside the memory");
  uint8_t *mem = data;
  const float *A = (const float *)(mem + pA);
  const float *R = (const float *)(mem + pR);
  float *T = (float *)(mem + pT);
  float *W = (float *)(mem + pW);
  if (level == LEVEL_AVX512 && cpu_level() >= LEVEL_AVX512)
    product_avx512(A, (int)m, R, (int)stride, (int)n, (int)v0, (int)c, T, W, (int)C);
  else if (level == LEVEL_AVX2 && cpu_level() >= LEVEL_AVX2)
    product_avx2(A, (int)m, R, (int)stride, (int)n, (int)v0, (int)c, T, W, (int)C);
  else
    return vbm_throw(env, "product: this CPU lacks the requested instruction set");
  return NULL;
}

/*
 * statistics(memory, W, C, count, k, effectRows, c, ssTotal: Float64Array, v0, df, isT, out: Float32Array, V):
 * T (or F) of voxels v0 .. v0+c-1 for `count` rearrangements from their k product rows each (W at
 * byte offset W, rows C floats apart, rearrangement b's rows from b * k). The float64 operations of
 * kernel.ts's JavaScript loop in its order (compiled with -ffp-contract=off: no fused operations), so
 * the same float32 values.
 */
static napi_value js_statistics(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 13)
    return vbm_throw(env, "statistics: 13 arguments expected");
  napi_typedarray_type type;
  size_t memLength, ssLength, outLength;
  void *memData, *ssData, *outData;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[0], &type, &memLength, &memData, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array || memData == NULL)
    return vbm_throw(env, "statistics: the memory must be a Uint8Array");
  if (napi_get_typedarray_info(env, argv[7], &type, &ssLength, &ssData, &buffer, &offset) != napi_ok ||
      type != napi_float64_array)
    return vbm_throw(env, "statistics: ssTotal must be a Float64Array");
  if (napi_get_typedarray_info(env, argv[11], &type, &outLength, &outData, &buffer, &offset) != napi_ok ||
      type != napi_float32_array)
    return vbm_throw(env, "statistics: out must be a Float32Array");
  uint32_t pW, C, count, k, effectRows, c, v0, V;
  double df;
  bool isT;
  if (napi_get_value_uint32(env, argv[1], &pW) != napi_ok || napi_get_value_uint32(env, argv[2], &C) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok || napi_get_value_uint32(env, argv[4], &k) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &effectRows) != napi_ok || napi_get_value_uint32(env, argv[6], &c) != napi_ok ||
      napi_get_value_uint32(env, argv[8], &v0) != napi_ok || napi_get_value_double(env, argv[9], &df) != napi_ok ||
      napi_get_value_bool(env, argv[10], &isT) != napi_ok || napi_get_value_uint32(env, argv[12], &V) != napi_ok)
    return vbm_throw(env, "statistics: arguments");
  if (count == 0 || c == 0) return NULL;
  if (pW % 4 || c > C || effectRows < 1 || effectRows > k || (uint64_t)v0 + c > ssLength || (uint64_t)v0 + c > V ||
      (uint64_t)(count - 1) * V + v0 + c > outLength ||
      (uint64_t)pW + ((uint64_t)(count * k - 1) * C + c) * 4 > memLength)
    return vbm_throw(env, "statistics: arguments outside the arrays");
  const float *W = (const float *)((uint8_t *)memData + pW);
  const double *ss = ssData;
  float *out = outData;
  for (uint32_t b = 0; b < count; b++) {
    const float *wb = W + (size_t)b * k * C;
    float *ob = out + (size_t)b * V + v0;
    for (uint32_t v = 0; v < c; v++) {
      const double sst = ss[v0 + v];
      if (!(sst > 0)) {
        ob[v] = 0;
        continue;
      }
      double eff = 0;
      for (uint32_t j = 0; j < effectRows; j++) {
        const double w = wb[(size_t)j * C + v];
        eff += w * w;
      }
      double nuis = 0;
      for (uint32_t j = effectRows; j < k; j++) {
        const double w = wb[(size_t)j * C + v];
        nuis += w * w;
      }
      double rss = sst - eff - nuis;
      if (rss < sst * 1e-7) rss = sst * 1e-7;
      const double s2 = rss / df;
      ob[v] = (float)(isT ? (double)wb[v] / sqrt(s2) : eff / effectRows / s2);
    }
  }
  return NULL;
}

/*
 * The Freedman-Lane nuisance reduction of nuisance.ts (removeNuisance) in C: the same float64
 * operations per voxel in the same order (no contraction), so the same residuals and sums of
 * squares; voxels are independent, so the compiler's vectors over voxels change nothing.
 */
#define RESIDUALISE_BODY                                                                                       \
  for (int v0 = 0; v0 < V; v0 += CH) {                                                                         \
    const int c = V - v0 < CH ? V - v0 : CH;                                                                   \
    for (int i = 0; i < n; i++)                                                                                \
      for (int v = 0; v < c; v++) col[(size_t)i * CH + v] = R[(size_t)i * stride + v0 + v];                   \
    for (int j = 0; j < q * CH; j++) coef[j] = 0;                                                              \
    for (int j = 0; j < q; j++)                                                                                \
      for (int i = 0; i < n; i++) {                                                                            \
        const double gi = G[(size_t)j * n + i];                                                                \
        double *cj = coef + (size_t)j * CH;                                                                    \
        const double *ci = col + (size_t)i * CH;                                                               \
        for (int v = 0; v < c; v++) cj[v] = cj[v] + gi * ci[v];                                                \
      }                                                                                                        \
    for (int j = 0; j < q; j++)                                                                                \
      for (int i = 0; i < n; i++) {                                                                            \
        const double gi = G[(size_t)j * n + i];                                                                \
        const double *cj = coef + (size_t)j * CH;                                                              \
        double *ci = col + (size_t)i * CH;                                                                     \
        for (int v = 0; v < c; v++) ci[v] = ci[v] - gi * cj[v];                                                \
      }                                                                                                        \
    for (int i = 0; i < n; i++)                                                                                \
      for (int v = 0; v < c; v++) {                                                                            \
        const float x = (float)col[(size_t)i * CH + v];                                                        \
        R[(size_t)i * stride + v0 + v] = x;                                                                    \
        ss[v0 + v] = ss[v0 + v] + (double)x * (double)x;                                                       \
      }                                                                                                        \
  }

enum { CH = 256 };

__attribute__((target("avx2"))) static void residualise_avx2(float *R, int n, int V, int stride, const double *G,
                                                             int q, double *ss, double *col, double *coef) {
  RESIDUALISE_BODY
}

static void residualise_plain(float *R, int n, int V, int stride, const double *G, int q, double *ss, double *col,
                              double *coef) {
  RESIDUALISE_BODY
}

/* residualise(R: Float32Array, n, V, stride, G: Float64Array (q rows of n), q, ss: Float64Array (V, zeros)) */
static napi_value js_residualise(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7)
    return vbm_throw(env, "residualise: 7 arguments expected");
  napi_typedarray_type type;
  size_t rLength, gLength, ssLength, offset;
  void *rData, *gData, *ssData;
  napi_value buffer;
  if (napi_get_typedarray_info(env, argv[0], &type, &rLength, &rData, &buffer, &offset) != napi_ok ||
      type != napi_float32_array)
    return vbm_throw(env, "residualise: R must be a Float32Array");
  if (napi_get_typedarray_info(env, argv[4], &type, &gLength, &gData, &buffer, &offset) != napi_ok ||
      type != napi_float64_array)
    return vbm_throw(env, "residualise: G must be a Float64Array");
  if (napi_get_typedarray_info(env, argv[6], &type, &ssLength, &ssData, &buffer, &offset) != napi_ok ||
      type != napi_float64_array)
    return vbm_throw(env, "residualise: ss must be a Float64Array");
  uint32_t n, V, stride, q;
  if (napi_get_value_uint32(env, argv[1], &n) != napi_ok || napi_get_value_uint32(env, argv[2], &V) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &stride) != napi_ok || napi_get_value_uint32(env, argv[5], &q) != napi_ok)
    return vbm_throw(env, "residualise: arguments");
  if (n == 0 || V == 0) return NULL;
  if (V > stride || (uint64_t)(n - 1) * stride + V > rLength || (uint64_t)q * n > gLength || V > ssLength)
    return vbm_throw(env, "residualise: arguments outside the arrays");
  double *col = malloc(sizeof(double) * ((size_t)n * CH + (size_t)(q ? q : 1) * CH));
  if (!col) return vbm_throw(env, "residualise: out of memory");
  double *coef = col + (size_t)n * CH;
  if (__builtin_cpu_supports("avx2"))
    residualise_avx2(rData, (int)n, (int)V, (int)stride, gData, (int)q, ssData, col, coef);
  else
    residualise_plain(rData, (int)n, (int)V, (int)stride, gData, (int)q, ssData, col, coef);
  free(col);
  return NULL;
}

/*
 * Welch's v / G of welch.ts (welchChunk) for one rearrangement over voxels 0 .. V-1: the same float64
 * operations in the same order per voxel (no contraction), so the same float32 values.
 */
static int chol_solve(double *A, int k, double *b) {
  for (int j = 0; j < k; j++) {
    double d = A[j * k + j];
    for (int l = 0; l < j; l++) d -= A[j * k + l] * A[j * k + l];
    if (!(d > 0)) return 0;
    d = sqrt(d);
    A[j * k + j] = d;
    for (int i = j + 1; i < k; i++) {
      double v = A[i * k + j];
      for (int l = 0; l < j; l++) v -= A[i * k + l] * A[j * k + l];
      A[i * k + j] = v / d;
    }
  }
  for (int i = 0; i < k; i++) {
    double v = b[i];
    for (int l = 0; l < i; l++) v -= A[i * k + l] * b[l];
    b[i] = v / A[i * k + i];
  }
  for (int i = k - 1; i >= 0; i--) {
    double v = b[i];
    for (int l = i + 1; l < k; l++) v -= A[l * k + i] * b[l];
    b[i] = v / A[i * k + i];
  }
  return 1;
}

typedef struct {
  int n, p, s, nGroups;
  const double *X, *XtXinv, *C, *MgMg, *dR, *ng;
  const int32_t *groups;
} welch_setup;

enum { WCH = 256 };

#define WELCH_ACCUMULATE                                                                                       \
  for (int i = 0; i < w->n; i++) {                                                                             \
    const int g = w->groups[i];                                                                                \
    const float *row = R + (size_t)src[i] * stride + v0;                                                       \
    const double sg = sign[i];                                                                                 \
    double *so = ss + (size_t)g * c;                                                                           \
    for (int j = 0; j < p; j++) {                                                                              \
      const double x = w->X[i * p + j] * sg;                                                                   \
      if (x == 0) continue;                                                                                    \
      double *ao = acc + ((size_t)g * p + j) * c;                                                              \
      for (int v = 0; v < c; v++) ao[v] = ao[v] + x * (double)row[v];                                          \
    }                                                                                                          \
    for (int v = 0; v < c; v++) {                                                                              \
      const double y = row[v];                                                                                 \
      so[v] = so[v] + y * y;                                                                                   \
    }                                                                                                          \
  }

__attribute__((target("avx2"))) static void welch_accumulate_avx2(const welch_setup *w, const float *R, int stride,
                                                                  int v0, int c, const int32_t *src,
                                                                  const double *sign, double *acc, double *ss) {
  const int p = w->p;
  WELCH_ACCUMULATE
}

static void welch_accumulate_plain(const welch_setup *w, const float *R, int stride, int v0, int c,
                                   const int32_t *src, const double *sign, double *acc, double *ss) {
  const int p = w->p;
  WELCH_ACCUMULATE
}

static void welch_map(const welch_setup *w, const float *R, int stride, int V, const int32_t *src, const double *sign,
                      const double *ssTotal, float *out, double *scratch) {
  const int p = w->p, s = w->s, G = w->nGroups;
  double *acc = scratch, *ss = acc + (size_t)G * p * WCH, *psi = ss + (size_t)G * WCH, *cte = psi + p,
         *W = cte + p * p, *Z = W + G, *S = Z + p * s, *a = S + s * s, *chol = a + s, *cholS = chol + p * p,
         *b = cholS + s * s;
  const int avx2 = __builtin_cpu_supports("avx2");
  for (int v0 = 0; v0 < V; v0 += WCH) {
    const int c = V - v0 < WCH ? V - v0 : WCH;
    for (size_t k = 0; k < (size_t)G * p * c; k++) acc[k] = 0;
    for (size_t k = 0; k < (size_t)G * c; k++) ss[k] = 0;
    if (avx2)
      welch_accumulate_avx2(w, R, stride, v0, c, src, sign, acc, ss);
    else
      welch_accumulate_plain(w, R, stride, v0, c, src, sign, acc, ss);
    for (int v = 0; v < c; v++) {
      float *o = out + v0 + v;
      if (!(ssTotal[v0 + v] > 0)) {
        *o = 0;
        continue;
      }
      for (int j = 0; j < p; j++) {
        double t = 0;
        for (int l = 0; l < p; l++) {
          double xty = 0;
          for (int g = 0; g < G; g++) xty += acc[((size_t)g * p + l) * c + v];
          t += w->XtXinv[j * p + l] * xty;
        }
        psi[j] = t;
      }
      for (int q = 0; q < p * p; q++) cte[q] = 0;
      double sumW = 0;
      int ok = 1;
      for (int g = 0; g < G; g++) {
        double cross = 0, quad = 0;
        for (int j = 0; j < p; j++) {
          cross += psi[j] * acc[((size_t)g * p + j) * c + v];
          double t = 0;
          for (int l = 0; l < p; l++) t += w->MgMg[(g * p + j) * p + l] * psi[l];
          quad += psi[j] * t;
        }
        const double sv = ss[(size_t)g * c + v];
        const double rss = sv - 2 * cross + quad;
        if (!(rss > sv * 1e-12)) ok = 0;
        W[g] = w->dR[g] / rss;
        sumW += W[g] * w->ng[g];
      }
      if (!ok) {
        *o = 0;
        continue;
      }
      double bsum = 0;
      for (int g = 0; g < G; g++) {
        const double f = 1 - (W[g] * w->ng[g]) / sumW;
        bsum += (f * f) / w->dR[g];
        for (int q = 0; q < p * p; q++) cte[q] = cte[q] + W[g] * w->MgMg[g * p * p + q];
      }
      for (int r = 0; r < s; r++)
        for (int j = 0; j < p; j++) Z[r * p + j] = w->C[r * p + j];
      int solved = 1;
      for (int r = 0; r < s && solved; r++) {
        memcpy(chol, cte, sizeof(double) * p * p);
        solved = chol_solve(chol, p, Z + r * p);
      }
      if (!solved) {
        *o = 0;
        continue;
      }
      for (int r = 0; r < s; r++) {
        double t = 0;
        for (int j = 0; j < p; j++) t += w->C[r * p + j] * psi[j];
        a[r] = t;
        for (int q = 0; q < s; q++) {
          double u = 0;
          for (int j = 0; j < p; j++) u += w->C[r * p + j] * Z[q * p + j];
          S[r * s + q] = u;
        }
      }
      if (s == 1) {
        *o = (float)(a[0] / sqrt(S[0]));
        continue;
      }
      memcpy(b, a, sizeof(double) * s);
      memcpy(cholS, S, sizeof(double) * s * s);
      if (!chol_solve(cholS, s, b)) {
        *o = 0;
        continue;
      }
      double qf = 0;
      for (int r = 0; r < s; r++) qf += a[r] * b[r];
      const double lambda = 1 + ((double)(2 * (s - 1)) * bsum) / (double)(s * (s + 2));
      *o = (float)(qf / s / lambda);
    }
  }
}

/*
 * welch(R: Float32Array, stride, V, src: Int32Array, sign: Float64Array, ssTotal: Float64Array,
 *       out: Float32Array, outOffset, n, p, s, nGroups, X, XtXinv, C, MgMg, dR, ng: Float64Array, groups: Int32Array)
 */
static napi_value js_welch(napi_env env, napi_callback_info info) {
  size_t argc = 19;
  napi_value argv[19];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 19)
    return vbm_throw(env, "welch: 19 arguments expected");
  void *R, *src, *sign, *ssTotal, *out, *X, *XtXinv, *C, *MgMg, *dR, *ng, *groups;
  size_t lR, lsrc, lsign, lss, lout, lX, lXi, lC, lM, ldR, lng, lg;
  uint32_t stride, V, outOffset, n, p, s, G;
  if (!vbm_typed(env, argv[0], napi_float32_array, &R, &lR) || !vbm_typed(env, argv[3], napi_int32_array, &src, &lsrc) ||
      !vbm_typed(env, argv[4], napi_float64_array, &sign, &lsign) ||
      !vbm_typed(env, argv[5], napi_float64_array, &ssTotal, &lss) ||
      !vbm_typed(env, argv[6], napi_float32_array, &out, &lout) || !vbm_typed(env, argv[12], napi_float64_array, &X, &lX) ||
      !vbm_typed(env, argv[13], napi_float64_array, &XtXinv, &lXi) || !vbm_typed(env, argv[14], napi_float64_array, &C, &lC) ||
      !vbm_typed(env, argv[15], napi_float64_array, &MgMg, &lM) || !vbm_typed(env, argv[16], napi_float64_array, &dR, &ldR) ||
      !vbm_typed(env, argv[17], napi_float64_array, &ng, &lng) || !vbm_typed(env, argv[18], napi_int32_array, &groups, &lg))
    return vbm_throw(env, "welch: typed arrays expected");
  if (napi_get_value_uint32(env, argv[1], &stride) != napi_ok || napi_get_value_uint32(env, argv[2], &V) != napi_ok ||
      napi_get_value_uint32(env, argv[7], &outOffset) != napi_ok || napi_get_value_uint32(env, argv[8], &n) != napi_ok ||
      napi_get_value_uint32(env, argv[9], &p) != napi_ok || napi_get_value_uint32(env, argv[10], &s) != napi_ok ||
      napi_get_value_uint32(env, argv[11], &G) != napi_ok)
    return vbm_throw(env, "welch: arguments");
  if (n == 0 || V == 0) return NULL;
  if (p == 0 || p > 64 || s == 0 || s > p || G == 0 || lsrc < n || lsign < n || lg < n || lss < V ||
      (uint64_t)outOffset + V > lout || lX < (size_t)n * p || lXi < (size_t)p * p || lC < (size_t)s * p ||
      lM < (size_t)G * p * p || ldR < G || lng < G || V > stride)
    return vbm_throw(env, "welch: arguments outside the arrays");
  const int32_t *si = src, *gi = groups;
  for (uint32_t i = 0; i < n; i++)
    if (si[i] < 0 || (uint32_t)si[i] >= n || gi[i] < 0 || (uint32_t)gi[i] >= G)
      return vbm_throw(env, "welch: a source row or group outside the data");
  if ((uint64_t)(n - 1) * stride + V > lR) return vbm_throw(env, "welch: arguments outside the data");
  welch_setup w = {(int)n, (int)p, (int)s, (int)G, X, XtXinv, C, MgMg, dR, ng, groups};
  const size_t words = (size_t)G * p * WCH + (size_t)G * WCH + p + p * p + G + p * s + s * s + s + p * p + s * s + s;
  double *scratch = malloc(sizeof(double) * words);
  if (!scratch) return vbm_throw(env, "welch: out of memory");
  welch_map(&w, R, (int)stride, (int)V, src, sign, ssTotal, (float *)out + outOffset, scratch);
  free(scratch);
  return NULL;
}

/* exact TFCE: native/vbm_tfce.c */
napi_value vbm_js_tfce_workspace(napi_env env, napi_callback_info info);
napi_value vbm_js_tfce(napi_env env, napi_callback_info info);
/* the fit's kernel (vbm_fit.c) */
void vbm_fit_register(napi_env env, napi_value exports);
/* the loops after the fit: solve, contrasts, spreading onto the grid (vbm_post.c) */
void vbm_post_register(napi_env env, napi_value exports);
/* the images written from their masked voxels on a thread of their own (vbm_write.c) */
void vbm_write_register(napi_env env, napi_value exports);
/* memory advice for big arrays (vbm_memory.c) */
void vbm_memory_register(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  napi_value fn;
  vbm_fit_register(env, exports);
  vbm_post_register(env, exports);
  vbm_write_register(env, exports);
  vbm_memory_register(env, exports);
  napi_create_function(env, "statistics", NAPI_AUTO_LENGTH, js_statistics, NULL, &fn);
  napi_set_named_property(env, exports, "statistics", fn);
  napi_create_function(env, "residualise", NAPI_AUTO_LENGTH, js_residualise, NULL, &fn);
  napi_set_named_property(env, exports, "residualise", fn);
  napi_create_function(env, "welch", NAPI_AUTO_LENGTH, js_welch, NULL, &fn);
  napi_set_named_property(env, exports, "welch", fn);
  napi_create_function(env, "cpuLevel", NAPI_AUTO_LENGTH, js_cpu_level, NULL, &fn);
  napi_set_named_property(env, exports, "cpuLevel", fn);
  napi_create_function(env, "product", NAPI_AUTO_LENGTH, js_product, NULL, &fn);
  napi_set_named_property(env, exports, "product", fn);
  napi_create_function(env, "tfceWorkspace", NAPI_AUTO_LENGTH, vbm_js_tfce_workspace, NULL, &fn);
  napi_set_named_property(env, exports, "tfceWorkspace", fn);
  napi_create_function(env, "tfce", NAPI_AUTO_LENGTH, vbm_js_tfce, NULL, &fn);
  napi_set_named_property(env, exports, "tfce", fn);
  return exports;
}
