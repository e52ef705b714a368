/*
 * vbm's native fit kernel (part of the optional N-API addon; the WebAssembly kernel accumulate.wat is
 * the portable path and the reference). It works on the WebAssembly accumulator's own memory and
 * layout (accumulateWasm.ts): the same sums with the same IEEE float64 operations in the same order
 * of scans as accumulate.wat and accumulate.ts addScans (compiled with -ffp-contract=off: no fused
 * multiply-add), four voxels per AVX2 register instead of two, so the sums are the same bits. Only
 * the per-scan sum of values (for the scans' means in warnings) is added in another order.
 *
 *   fitBatch(memory: Uint8Array, header, desc, count): fold `count` scans into the sums, block of
 *     voxels by block of voxels (each block's sums stay in cache for the batch).
 *   fitMerge(memory, header, xty, rxty, p, first, ok, vmin, vmax, yy, txty, tryy, trxty): add the
 *     accumulator's sums to a total (mergeSums' operations; `first`: copy them), then reset them.
 *
 * header (int32 at byte offset `header`): cand, nbx, nby, nbz, ok, vmin, vmax, yy, ryy, stride, nan,
 * n, block, nvox (byte offsets into the memory, as accumulate.wat's init; n voxels; block voxels per
 * block; nvox voxels in a scan's grid, which every candidate's and neighbour's index must be below).
 * desc (float64 at byte offset `desc`, 8 per scan): data, scale, threshold, zeroIsMissing, terms,
 * nterms, residual, stats. A term is 16 bytes: int32 address of its xty row, int32 address of its
 * rxty row, float64 coefficient. stats: float64 removed, nonZero, finite, sum (added to).
 *
 * The instruction set is chosen at run time (AVX-512 or AVX2 when the CPU has it, else the same
 * operations in scalar C; VBM_FIT_SIMD=avx2|scalar picks a narrower one); the file is compiled
 * without -march: each vector kernel carries its own target attribute.
 */
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "vbm_async.h"
#include "vbm_map.h"
#include "vbm_memory.h"
#include "vbm_napi.h"
#include "vbm_pieces.h"

typedef struct {
  int32_t cand, nbx, nby, nbz, ok, vmin, vmax, yy, ryy, stride, nan, n, block, nvox;
} fit_header;

typedef struct {
  uint8_t *mem;
  fit_header h;
} fit_ctx;

typedef struct {
  double data, scale, thr, zim, terms, nterms, resid, stats;
} fit_desc;

/* the value of the voxel at grid index i (NaN off the grid: index < 0), as float64 times the scale */
static inline double at(const float *data, int32_t i, double scale) {
  return (i >= 0 ? (double)data[i] : (double)NAN) * scale;
}

/* one voxel c of one scan, scalar: the kernel's operations for the voxels no vector covers */
static inline void fit_voxel(const fit_ctx *x, int c, const float *data, double scale, double thr, bool zim,
                             const uint8_t *terms, int nterms, bool resid, double *cnt) {
  const fit_header *h = &x->h;
  uint8_t *mem = x->mem;
  const int32_t *cand = (const int32_t *)(mem + h->cand);
  const double v = (double)data[cand[c]] * scale;
  const bool keep = v > thr && !(zim && v == 0);
  uint8_t *ok = mem + h->ok + c;
  if (!keep) {
    *ok = 0;
    cnt[0] += 1;
  }
  if (v != 0) cnt[1] += 1;
  if (v - v == 0) {
    cnt[2] += 1;
    cnt[3] += v;
  }
  float *vmin = (float *)(mem + h->vmin) + c;
  float *vmax = (float *)(mem + h->vmax) + c;
  if (v < (double)*vmin) *vmin = (float)v;
  if (v > (double)*vmax) *vmax = (float)v;
  double *yy = (double *)(mem + h->yy) + c;
  *yy = *yy + v * v;
  for (int t = 0; t < nterms; t++) {
    int32_t row;
    double a;
    memcpy(&row, terms + 16 * t, 4);
    memcpy(&a, terms + 16 * t + 8, 8);
    double *s = (double *)(mem + row) + c;
    *s = *s + a * v;
  }
  if (!resid) return;
  const double gx = at(data, ((const int32_t *)(mem + h->nbx))[c], scale);
  const double gy = at(data, ((const int32_t *)(mem + h->nby))[c], scale);
  const double gz = at(data, ((const int32_t *)(mem + h->nbz))[c], scale);
  const double pr[7] = {v * v, v * gx, v * gy, v * gz, gx * gy, gx * gz, gy * gz};
  for (int k = 0; k < 7; k++) {
    double *s = (double *)(mem + h->ryy + (size_t)k * h->stride) + c;
    *s = *s + pr[k];
  }
  for (int t = 0; t < nterms; t++) {
    int32_t row;
    double a;
    memcpy(&row, terms + 16 * t + 4, 4);
    memcpy(&a, terms + 16 * t + 8, 8);
    double *s = (double *)(mem + row) + c;
    *s = *s + a * v;
  }
}

static void fit_scalar(const fit_ctx *x, int c0, int c1, const float *data, double scale, double thr, bool zim,
                       const uint8_t *terms, int nterms, bool resid, double *cnt) {
  for (int c = c0; c < c1; c++) fit_voxel(x, c, data, scale, thr, zim, terms, nterms, resid, cnt);
}

/* s[c..c+3] += a * b */
#define ADD4(ptr, prod)                                                                                       \
  do {                                                                                                        \
    double *q_ = (ptr);                                                                                       \
    _mm256_storeu_pd(q_, _mm256_add_pd(_mm256_loadu_pd(q_), (prod)));                                        \
  } while (0)

#ifndef PREFETCH
#define PREFETCH 96
#endif

/* voxels ahead of use at which a residual scan's sums are asked for (4 cache lines) */
#ifndef RESID_PREFETCH
#define RESID_PREFETCH 32
#endif

/* the most design terms with a loop of their own (unrolled; more: one loop for any count) */
#define FIT_TERMS 6

#define VBM_AVX2 __attribute__((target("avx2")))

/* the four floats at grid indices idx[0..3]: one load where they are consecutive, else a gather */
VBM_AVX2 static inline __m128 load4(const float *data, const int32_t *idx) {
  const __m128i id = _mm_loadu_si128((const __m128i *)idx);
  const __m128i run = _mm_add_epi32(_mm_set1_epi32(idx[0]), _mm_setr_epi32(0, 1, 2, 3));
  if (_mm_movemask_epi8(_mm_cmpeq_epi32(id, run)) == 0xffff) return _mm_loadu_ps(data + idx[0]);
  return _mm_i32gather_ps(data, id, 4);
}

/* the same for neighbours: NaN where the index is -1 (off the grid) */
VBM_AVX2 static inline __m128 load4nb(const float *data, const int32_t *nb) {
  const __m128i id = _mm_loadu_si128((const __m128i *)nb);
  const __m128i run = _mm_add_epi32(_mm_set1_epi32(nb[0]), _mm_setr_epi32(0, 1, 2, 3));
  if (nb[0] >= 0 && _mm_movemask_epi8(_mm_cmpeq_epi32(id, run)) == 0xffff) return _mm_loadu_ps(data + nb[0]);
  const __m128 on = _mm_castsi128_ps(_mm_cmpgt_epi32(id, _mm_set1_epi32(-1)));
  return _mm_mask_i32gather_ps(_mm_set1_ps(NAN), data, id, on, 4);
}

/* the four voxels' values as float64, times the scale unless it is 1 */
VBM_AVX2 static inline __m256d widen4(__m128 f, __m256d sc, const bool unit) {
  return unit ? _mm256_cvtps_pd(f) : _mm256_mul_pd(_mm256_cvtps_pd(f), sc);
}

/*
 * fit_avx2's loop over groups of four, made (as fit8) for a unit scale or not, residual products or
 * not, and NT = 1..FIT_TERMS design terms (0: any count). xrow, rrow: the terms' rows.
 */
VBM_AVX2 static inline __attribute__((always_inline)) int fit4(const fit_ctx *x, int c0, int c1, const float *data,
                                                               double scale, double thr, bool zim, int nterms,
                                                               double *const *xrow, double *const *rrow,
                                                               const double *coefs, const bool unit, const bool resid,
                                                               const int NT, double *cnt) {
  const fit_header *h = &x->h;
  uint8_t *mem = x->mem;
  const int T = NT > 0 ? NT : nterms;
  const int32_t *cand = (const int32_t *)(mem + h->cand);
  const int32_t *nbx = (const int32_t *)(mem + h->nbx), *nby = (const int32_t *)(mem + h->nby),
                *nbz = (const int32_t *)(mem + h->nbz);
  const int n = h->n;
  uint8_t *okp = mem + h->ok;
  float *vminp = (float *)(mem + h->vmin);
  float *vmaxp = (float *)(mem + h->vmax);
  double *yyp = (double *)(mem + h->yy);
  const size_t st = (size_t)h->stride;
  double *r[7];
  for (int k = 0; k < 7; k++) r[k] = (double *)(mem + h->ryy + k * st);
  __m256d a[FIT_TERMS];
  for (int t = 0; t < FIT_TERMS && t < T; t++) a[t] = _mm256_set1_pd(coefs[t]);
  const __m256d sc = _mm256_set1_pd(scale);
  const __m256d th = _mm256_set1_pd(thr);
  const __m256d zero = _mm256_setzero_pd();
  __m256d sum = zero;
  /* counts per lane: a compare's all-ones lane is -1, so subtracting it counts */
  __m256i nonZero = _mm256_setzero_si256(), finite = _mm256_setzero_si256();
  int64_t removed = 0;
  int c = c0;
  for (; c + 4 <= c1; c += 4) {
    /* the scan's voxels come from memory (8.5 MB per scan): ask for them ahead of use, as the
       gather itself waits on every miss (most of this kernel's time without it) */
    if (c + PREFETCH < n) _mm_prefetch((const char *)(data + cand[c + PREFETCH]), _MM_HINT_T0);
    const __m128 f = load4(data, cand + c);
    const __m256d v = widen4(f, sc, unit);
    __m256d keep = _mm256_cmp_pd(v, th, _CMP_GT_OQ);
    if (zim) keep = _mm256_andnot_pd(_mm256_cmp_pd(v, zero, _CMP_EQ_OQ), keep);
    const int km = _mm256_movemask_pd(keep);
    if (km != 15) {
      for (int i = 0; i < 4; i++)
        if (!(km >> i & 1)) okp[c + i] = 0;
      removed += 4 - __builtin_popcount((unsigned)km);
    }
    nonZero = _mm256_sub_epi64(nonZero, _mm256_castpd_si256(_mm256_cmp_pd(v, zero, _CMP_NEQ_UQ)));
    const __m256d fin = _mm256_cmp_pd(_mm256_sub_pd(v, v), zero, _CMP_EQ_OQ);
    finite = _mm256_sub_epi64(finite, _mm256_castpd_si256(fin));
    sum = _mm256_add_pd(sum, _mm256_and_pd(v, fin));
    if (unit) {
      /* v is f exactly: v < (double)vmin is f < vmin, and (float)v is f */
      _mm_storeu_ps(vminp + c, _mm_min_ps(f, _mm_loadu_ps(vminp + c)));
      _mm_storeu_ps(vmaxp + c, _mm_max_ps(f, _mm_loadu_ps(vmaxp + c)));
    } else {
      const __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(vminp + c));
      _mm_storeu_ps(vminp + c, _mm256_cvtpd_ps(_mm256_blendv_pd(lo, v, _mm256_cmp_pd(v, lo, _CMP_LT_OQ))));
      const __m256d hi = _mm256_cvtps_pd(_mm_loadu_ps(vmaxp + c));
      _mm_storeu_ps(vmaxp + c, _mm256_cvtpd_ps(_mm256_blendv_pd(hi, v, _mm256_cmp_pd(v, hi, _CMP_GT_OQ))));
    }
    const __m256d vv = _mm256_mul_pd(v, v);
    ADD4(yyp + c, vv);
    if (NT > 0)
      for (int t = 0; t < NT; t++) ADD4(xrow[t] + c, _mm256_mul_pd(a[t], v));
    else
      for (int t = 0; t < T; t++) ADD4(xrow[t] + c, _mm256_mul_pd(_mm256_set1_pd(coefs[t]), v));
    if (!resid) continue;
    if (c + PREFETCH < n) {
      /* the +y and +z neighbours are further streams (a row and a slice ahead) */
      const int32_t jy = nby[c + PREFETCH], jz = nbz[c + PREFETCH];
      if (jy >= 0) _mm_prefetch((const char *)(data + jy), _MM_HINT_T0);
      if (jz >= 0) _mm_prefetch((const char *)(data + jz), _MM_HINT_T0);
    }
    if (c + RESID_PREFETCH < c1) {
      /* a batch has one or two residual scans, so their sums come from memory, not from cache */
      for (int k = 0; k < 7; k++) _mm_prefetch((const char *)(r[k] + c + RESID_PREFETCH), _MM_HINT_T0);
      for (int t = 0; t < T; t++) _mm_prefetch((const char *)(rrow[t] + c + RESID_PREFETCH), _MM_HINT_T0);
    }
    const __m256d gx = widen4(load4nb(data, nbx + c), sc, unit);
    const __m256d gy = widen4(load4nb(data, nby + c), sc, unit);
    const __m256d gz = widen4(load4nb(data, nbz + c), sc, unit);
    ADD4(r[0] + c, vv);
    ADD4(r[1] + c, _mm256_mul_pd(v, gx));
    ADD4(r[2] + c, _mm256_mul_pd(v, gy));
    ADD4(r[3] + c, _mm256_mul_pd(v, gz));
    ADD4(r[4] + c, _mm256_mul_pd(gx, gy));
    ADD4(r[5] + c, _mm256_mul_pd(gx, gz));
    ADD4(r[6] + c, _mm256_mul_pd(gy, gz));
    if (NT > 0)
      for (int t = 0; t < NT; t++) ADD4(rrow[t] + c, _mm256_mul_pd(a[t], v));
    else
      for (int t = 0; t < T; t++) ADD4(rrow[t] + c, _mm256_mul_pd(_mm256_set1_pd(coefs[t]), v));
  }
  int64_t lanes[4];
  double sums[4];
  _mm256_storeu_pd(sums, sum);
  _mm256_storeu_si256((__m256i *)lanes, nonZero);
  cnt[1] += (double)(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  _mm256_storeu_si256((__m256i *)lanes, finite);
  cnt[2] += (double)(lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  cnt[0] += (double)removed;
  cnt[3] += (sums[0] + sums[2]) + (sums[1] + sums[3]);
  return c;
}

/* a kernel's loop made for NT = 1..FIT_TERMS terms, or any count */
#define FIT_FOR(LOOP, U, R)                                                                                   \
  switch (nterms) {                                                                                           \
  case 1:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 1, cnt);                       \
    break;                                                                                                    \
  case 2:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 2, cnt);                       \
    break;                                                                                                    \
  case 3:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 3, cnt);                       \
    break;                                                                                                    \
  case 4:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 4, cnt);                       \
    break;                                                                                                    \
  case 5:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 5, cnt);                       \
    break;                                                                                                    \
  case 6:                                                                                                     \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 6, cnt);                       \
    break;                                                                                                    \
  default:                                                                                                    \
    c = LOOP(x, c0, c1, data, scale, thr, zim, nterms, xrow, rrow, coefs, U, R, 0, cnt);                       \
  }

/* a vector kernel: the terms' rows and coefficients, then its loop made for this scan, then the tail */
#define FIT_KERNEL(LOOP)                                                                                      \
  double *xrow[64], *rrow[64];                                                                                \
  double coefs[64];                                                                                           \
  for (int t = 0; t < nterms; t++) {                                                                          \
    int32_t xr, rr;                                                                                           \
    memcpy(&xr, terms + 16 * t, 4);                                                                           \
    memcpy(&rr, terms + 16 * t + 4, 4);                                                                       \
    memcpy(&coefs[t], terms + 16 * t + 8, 8);                                                                 \
    xrow[t] = (double *)(x->mem + xr);                                                                        \
    rrow[t] = (double *)(x->mem + rr);                                                                        \
  }                                                                                                           \
  /* a multiply by 1 changes no value (the conversion has already quieted any signalling NaN) */             \
  const bool unit = scale == 1;                                                                               \
  int c;                                                                                                      \
  if (unit && !resid) {                                                                                       \
    FIT_FOR(LOOP, true, false)                                                                                \
  } else if (unit) {                                                                                          \
    FIT_FOR(LOOP, true, true)                                                                                 \
  } else if (!resid) {                                                                                        \
    FIT_FOR(LOOP, false, false)                                                                               \
  } else {                                                                                                    \
    FIT_FOR(LOOP, false, true)                                                                                \
  }                                                                                                           \
  fit_scalar(x, c, c1, data, scale, thr, zim, terms, nterms, resid, cnt)

VBM_AVX2 static void fit_avx2(const fit_ctx *x, int c0, int c1, const float *data, double scale, double thr, bool zim,
                              const uint8_t *terms, int nterms, bool resid, double *cnt) {
  FIT_KERNEL(fit4);
}

/*
 * AVX-512: eight voxels per register (AVX-512F with VL, DQ and BW for the 256-bit masked loads and
 * the mask registers). The same float64 operations in the same order as fit_voxel for every sum.
 *
 * A brain's candidates are mostly runs of consecutive grid indices (rows), so eight candidates'
 * values are read with at most two masked loads (the lanes that continue the first candidate's run
 * and those that lead up to the last's; a masked-out lane is never read, so nothing past the grid
 * is touched); a gather only for what is left (three or more runs in eight candidates). The same for
 * the +x, +y and +z neighbours of residual scans (index -1: off the grid, NaN).
 */
#define VBM_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw")))

/* the eight floats at grid indices idx[0..7] (`fill` where an index is -1 when `nb`) */
VBM_AVX512 static inline __m256 load8(const float *data, const int32_t *idx, __m256 fill, bool nb) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i id = _mm256_loadu_si256((const __m256i *)idx);
  const int32_t i0 = idx[0], i7 = idx[7];
  __mmask8 a = _mm256_cmpeq_epi32_mask(id, _mm256_add_epi32(_mm256_set1_epi32(i0), iota));
  if (a == 0xff && (!nb || i0 >= 0)) return _mm256_loadu_ps(data + i0);
  const __mmask8 valid = nb ? _mm256_cmpgt_epi32_mask(id, _mm256_set1_epi32(-1)) : 0xff;
  a &= valid;
  const __mmask8 b = _mm256_cmpeq_epi32_mask(id, _mm256_add_epi32(_mm256_set1_epi32(i7 - 7), iota)) & valid & ~a;
  __m256 f = _mm256_mask_loadu_ps(fill, a, data + i0);
  f = _mm256_mask_loadu_ps(f, b, data + (i7 - 7));
  const __mmask8 rest = valid & ~(a | b);
  if (rest) f = _mm256_mmask_i32gather_ps(f, rest, id, data, 4);
  return f;
}

/* s[c..c+7] = s[c..c+7] + prod */
VBM_AVX512 static inline void add8(double *s, __m512d prod) {
  _mm512_storeu_pd(s, _mm512_add_pd(_mm512_loadu_pd(s), prod));
}

/*
 * The kernel's loop over groups of eight, made for a unit scale or not, residual products or not,
 * and NT design terms (0: any count, `nterms`), so that each is a loop without tests of them.
 * xrow, rrow: the terms' xty and rxty rows.
 */
VBM_AVX512 static inline __attribute__((always_inline)) int fit8(const fit_ctx *x, int c0, int c1, const float *data,
                                                                 double scale, double thr, bool zim, int nterms,
                                                                 double *const *xrow, double *const *rrow,
                                                                 const double *coefs, const bool unit,
                                                                 const bool resid, const int NT, double *cnt) {
  const fit_header *h = &x->h;
  uint8_t *mem = x->mem;
  const int T = NT > 0 ? NT : nterms;
  const int32_t *cand = (const int32_t *)(mem + h->cand);
  const int32_t *nbx = (const int32_t *)(mem + h->nbx), *nby = (const int32_t *)(mem + h->nby),
                *nbz = (const int32_t *)(mem + h->nbz);
  uint8_t *okp = mem + h->ok;
  float *vminp = (float *)(mem + h->vmin);
  float *vmaxp = (float *)(mem + h->vmax);
  double *yyp = (double *)(mem + h->yy);
  const size_t st = (size_t)h->stride;
  double *r[7];
  for (int k = 0; k < 7; k++) r[k] = (double *)(mem + h->ryy + k * st);
  const int n = h->n;
  __m512d a[FIT_TERMS];
  for (int t = 0; t < FIT_TERMS && t < T; t++) a[t] = _mm512_set1_pd(coefs[t]);
  const __m512d sc = _mm512_set1_pd(scale);
  const __m512d th = _mm512_set1_pd(thr);
  const __m512d zero = _mm512_setzero_pd();
  const __m512i one = _mm512_set1_epi64(1);
  const __m256 nan8 = _mm256_set1_ps(NAN);
  __m512d sum = zero;
  /* counts per lane (at most a block's voxels each) */
  __m512i nonZero = _mm512_setzero_si512(), finite = _mm512_setzero_si512();
  int64_t removed = 0;
  int c = c0;
  for (; c + 8 <= c1; c += 8) {
    /* the scan's voxels come from memory: ask for them ahead of use (see fit_avx2) */
    if (c + PREFETCH < n) _mm_prefetch((const char *)(data + cand[c + PREFETCH]), _MM_HINT_T0);
    const __m256 f = load8(data, cand + c, nan8, false);
    const __m512d v = unit ? _mm512_cvtps_pd(f) : _mm512_mul_pd(_mm512_cvtps_pd(f), sc);
    __mmask8 keep = _mm512_cmp_pd_mask(v, th, _CMP_GT_OQ);
    if (zim) keep &= ~_mm512_cmp_pd_mask(v, zero, _CMP_EQ_OQ);
    if (keep != 0xff) {
      _mm_mask_storeu_epi8(okp + c, (__mmask16)(~keep & 0xff), _mm_setzero_si128());
      removed += 8 - __builtin_popcount((unsigned)keep);
    }
    nonZero = _mm512_mask_add_epi64(nonZero, _mm512_cmp_pd_mask(v, zero, _CMP_NEQ_UQ), nonZero, one);
    const __mmask8 fin = _mm512_cmp_pd_mask(_mm512_sub_pd(v, v), zero, _CMP_EQ_OQ);
    finite = _mm512_mask_add_epi64(finite, fin, finite, one);
    sum = _mm512_mask_add_pd(sum, fin, sum, v);
    if (unit) {
      /* v is f exactly: v < (double)vmin is f < vmin, and (float)v is f */
      _mm256_storeu_ps(vminp + c, _mm256_min_ps(f, _mm256_loadu_ps(vminp + c)));
      _mm256_storeu_ps(vmaxp + c, _mm256_max_ps(f, _mm256_loadu_ps(vmaxp + c)));
    } else {
      const __m256 lo = _mm256_loadu_ps(vminp + c), hi = _mm256_loadu_ps(vmaxp + c);
      const __m256 vf = _mm512_cvtpd_ps(v);
      _mm256_storeu_ps(vminp + c, _mm256_mask_mov_ps(lo, _mm512_cmp_pd_mask(v, _mm512_cvtps_pd(lo), _CMP_LT_OQ), vf));
      _mm256_storeu_ps(vmaxp + c, _mm256_mask_mov_ps(hi, _mm512_cmp_pd_mask(v, _mm512_cvtps_pd(hi), _CMP_GT_OQ), vf));
    }
    const __m512d vv = _mm512_mul_pd(v, v);
    add8(yyp + c, vv);
    if (NT > 0)
      for (int t = 0; t < NT; t++) add8(xrow[t] + c, _mm512_mul_pd(a[t], v));
    else
      for (int t = 0; t < T; t++) add8(xrow[t] + c, _mm512_mul_pd(_mm512_set1_pd(coefs[t]), v));
    if (!resid) continue;
    if (c + PREFETCH < n) {
      const int32_t jy = nby[c + PREFETCH], jz = nbz[c + PREFETCH];
      if (jy >= 0) _mm_prefetch((const char *)(data + jy), _MM_HINT_T0);
      if (jz >= 0) _mm_prefetch((const char *)(data + jz), _MM_HINT_T0);
    }
    const __m256 fx = load8(data, nbx + c, nan8, true);
    const __m256 fy = load8(data, nby + c, nan8, true);
    const __m256 fz = load8(data, nbz + c, nan8, true);
    const __m512d gx = unit ? _mm512_cvtps_pd(fx) : _mm512_mul_pd(_mm512_cvtps_pd(fx), sc);
    const __m512d gy = unit ? _mm512_cvtps_pd(fy) : _mm512_mul_pd(_mm512_cvtps_pd(fy), sc);
    const __m512d gz = unit ? _mm512_cvtps_pd(fz) : _mm512_mul_pd(_mm512_cvtps_pd(fz), sc);
    if (c + RESID_PREFETCH < c1) {
      /* a batch has one or two residual scans, so their sums come from memory, not from cache */
      for (int k = 0; k < 7; k++) _mm_prefetch((const char *)(r[k] + c + RESID_PREFETCH), _MM_HINT_T0);
      for (int t = 0; t < T; t++) _mm_prefetch((const char *)(rrow[t] + c + RESID_PREFETCH), _MM_HINT_T0);
    }
    add8(r[0] + c, vv);
    add8(r[1] + c, _mm512_mul_pd(v, gx));
    add8(r[2] + c, _mm512_mul_pd(v, gy));
    add8(r[3] + c, _mm512_mul_pd(v, gz));
    add8(r[4] + c, _mm512_mul_pd(gx, gy));
    add8(r[5] + c, _mm512_mul_pd(gx, gz));
    add8(r[6] + c, _mm512_mul_pd(gy, gz));
    if (NT > 0)
      for (int t = 0; t < NT; t++) add8(rrow[t] + c, _mm512_mul_pd(a[t], v));
    else
      for (int t = 0; t < T; t++) add8(rrow[t] + c, _mm512_mul_pd(_mm512_set1_pd(coefs[t]), v));
  }
  cnt[0] += (double)removed;
  cnt[1] += (double)_mm512_reduce_add_epi64(nonZero);
  cnt[2] += (double)_mm512_reduce_add_epi64(finite);
  cnt[3] += _mm512_reduce_add_pd(sum);
  return c;
}

VBM_AVX512 static void fit_avx512(const fit_ctx *x, int c0, int c1, const float *data, double scale, double thr,
                                  bool zim, const uint8_t *terms, int nterms, bool resid, double *cnt) {
  FIT_KERNEL(fit8);
}

/* the block kernels, narrowest first */
enum { FIT_SCALAR, FIT_AVX2, FIT_AVX512 };
static const char *const fit_names[] = {"scalar", "avx2", "avx512"};

/* the widest kernel this CPU (and its operating system) runs */
static int fit_cpu_level(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    return FIT_AVX512;
  return __builtin_cpu_supports("avx2") ? FIT_AVX2 : FIT_SCALAR;
}

/* a kernel's level from its name, or -1 */
static int fit_level_named(const char *name) {
  for (int l = FIT_SCALAR; l <= FIT_AVX512; l++)
    if (name && strcmp(name, fit_names[l]) == 0) return l;
  return -1;
}

/*
 * The kernel fit_block runs: the widest the CPU has, or a narrower one named by VBM_FIT_SIMD
 * (avx512, avx2 or scalar; read once, at the first use; a wider one than the CPU has, or another
 * word, leaves the widest) or by fitSimd (for tests). Every kernel gives the same bits.
 */
static int fit_level_in_use = -1;

static int fit_level(void) {
  int l = __atomic_load_n(&fit_level_in_use, __ATOMIC_RELAXED);
  if (l >= 0) return l;
  l = fit_cpu_level();
  const int want = fit_level_named(getenv("VBM_FIT_SIMD"));
  if (want >= 0 && want < l) l = want;
  int unset = -1;
  /* another thread may have chosen first (the same choice, unless fitSimd made it) */
  if (!__atomic_compare_exchange_n(&fit_level_in_use, &unset, l, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    l = unset;
  return l;
}

static bool get_memory(napi_env env, napi_value v, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *d;
  if (napi_get_typedarray_info(env, v, &type, length, &d, &buffer, &offset) != napi_ok || type != napi_uint8_array ||
      d == NULL)
    return false;
  *data = d;
  return true;
}

static bool in_memory(size_t length, int64_t at, int64_t bytes) {
  return at >= 0 && bytes >= 0 && (uint64_t)at + (uint64_t)bytes <= length;
}

/* the header, checked: every array it names lies within the memory */
static bool read_header(uint8_t *mem, size_t length, uint32_t at, fit_header *h) {
  if (!in_memory(length, at, sizeof(fit_header)) || at % 4) return false;
  memcpy(h, mem + at, sizeof(fit_header));
  const int64_t n = h->n;
  if (n < 1 || h->block < 4 || h->nvox < 1 || h->stride < 8 * n) return false;
  return in_memory(length, h->cand, 4 * n) && in_memory(length, h->nbx, 4 * n) && in_memory(length, h->nby, 4 * n) &&
         in_memory(length, h->nbz, 4 * n) && in_memory(length, h->ok, n) && in_memory(length, h->vmin, 4 * n) &&
         in_memory(length, h->vmax, 4 * n) && in_memory(length, h->yy, 8 * n) && in_memory(length, h->nan, 4) &&
         (h->ryy == 0 || in_memory(length, h->ryy, 7 * (int64_t)h->stride));
}

/*
 * Every candidate's index in [0, nvox), every neighbour's in [-1, nvox). Checked once per thread for
 * a memory and header (the accumulator writes them when it is made and never again), not per batch.
 */
static bool indices_valid(const fit_ctx *x) {
  static _Thread_local const uint8_t *checkedMem = NULL;
  static _Thread_local fit_header checked;
  if (checkedMem == x->mem && memcmp(&checked, &x->h, sizeof(fit_header)) == 0) return true;
  const int32_t n = x->h.n, nvox = x->h.nvox;
  const int32_t *cand = (const int32_t *)(x->mem + x->h.cand);
  for (int32_t c = 0; c < n; c++)
    if (cand[c] < 0 || cand[c] >= nvox) return false;
  if (x->h.ryy != 0) {
    const int32_t *nb[3] = {(const int32_t *)(x->mem + x->h.nbx), (const int32_t *)(x->mem + x->h.nby),
                            (const int32_t *)(x->mem + x->h.nbz)};
    for (int a = 0; a < 3; a++)
      for (int32_t c = 0; c < n; c++)
        if (nb[a][c] < -1 || nb[a][c] >= nvox) return false;
  }
  checkedMem = x->mem;
  checked = x->h;
  return true;
}

/*
 * One block of voxels [c0, c1) of one scan folded into the sums, with the widest kernel this CPU
 * has (every kernel does the same float64 operations in the same order: the same bits).
 */
static void fit_block(const fit_ctx *x, int c0, int c1, const float *data, double scale, double thr, bool zim,
                      const uint8_t *terms, int nterms, bool resid, double *cnt) {
  switch (fit_level()) {
  case FIT_AVX512:
    fit_avx512(x, c0, c1, data, scale, thr, zim, terms, nterms, resid, cnt);
    break;
  case FIT_AVX2:
    fit_avx2(x, c0, c1, data, scale, thr, zim, terms, nterms, resid, cnt);
    break;
  default:
    fit_scalar(x, c0, c1, data, scale, thr, zim, terms, nterms, resid, cnt);
  }
}

/* fitBatch(memory, header, desc, count) */
static napi_value js_fit_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return vbm_throw(env, "fitBatch: 4 arguments expected");
  fit_ctx x;
  size_t length;
  uint32_t hAt, dAt, count;
  if (!get_memory(env, argv[0], &x.mem, &length)) return vbm_throw(env, "fitBatch: the memory must be a Uint8Array");
  if (napi_get_value_uint32(env, argv[1], &hAt) != napi_ok || napi_get_value_uint32(env, argv[2], &dAt) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &count) != napi_ok)
    return vbm_throw(env, "fitBatch: arguments");
  if (!read_header(x.mem, length, hAt, &x.h)) return vbm_throw(env, "fitBatch: a header outside the memory");
  if (count > 256 || !in_memory(length, dAt, (int64_t)count * sizeof(fit_desc)))
    return vbm_throw(env, "fitBatch: scans outside the memory");
  fit_desc d[256];
  memcpy(d, x.mem + dAt, count * sizeof(fit_desc));
  const int64_t n = x.h.n;
  if (!indices_valid(&x)) return vbm_throw(env, "fitBatch: a voxel index outside the grid");
  /* every scan's data, terms and stats within the memory; every row a term names too */
  for (uint32_t k = 0; k < count; k++) {
    const fit_desc *e = &d[k];
    if (!(e->nterms >= 0 && e->nterms <= 64) || !in_memory(length, (int64_t)e->terms, 16 * (int64_t)e->nterms) ||
        !in_memory(length, (int64_t)e->stats, 32) || !in_memory(length, (int64_t)e->data, 4 * (int64_t)x.h.nvox) ||
        (int64_t)e->data % 4)
      return vbm_throw(env, "fitBatch: a scan outside the memory");
    if (e->resid != 0 && x.h.ryy == 0) return vbm_throw(env, "fitBatch: no residual sums");
    for (int t = 0; t < (int)e->nterms; t++) {
      int32_t xr, rr;
      memcpy(&xr, x.mem + (size_t)e->terms + 16 * t, 4);
      memcpy(&rr, x.mem + (size_t)e->terms + 16 * t + 4, 4);
      if (!in_memory(length, xr, 8 * n) || (e->resid != 0 && !in_memory(length, rr, 8 * n)))
        return vbm_throw(env, "fitBatch: a design term outside the memory");
    }
  }
  for (int c0 = 0; c0 < n; c0 += x.h.block) {
    const int c1 = n - c0 < x.h.block ? (int)n : c0 + x.h.block;
    for (uint32_t k = 0; k < count; k++) {
      const fit_desc *e = &d[k];
      const float *data = (const float *)(x.mem + (size_t)e->data);
      const uint8_t *terms = x.mem + (size_t)e->terms;
      double *cnt = (double *)(x.mem + (size_t)e->stats);
      fit_block(&x, c0, c1, data, e->scale, e->thr, e->zim != 0, terms, (int)e->nterms, e->resid != 0, cnt);
    }
  }
  return NULL;
}

/* total[i] = total[i] + a[i] (or a[i] for the first chunk); a[i] = 0 */
static void merge_row(double *total, double *a, size_t n, bool first) {
  if (first)
    memcpy(total, a, 8 * n);
  else
    for (size_t i = 0; i < n; i++) total[i] = total[i] + a[i];
  memset(a, 0, 8 * n);
}

/* fitMerge(memory, header, xty, rxty, p, first, ok, vmin, vmax, yy, txty, tryy, trxty) */
static napi_value js_fit_merge(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 13)
    return vbm_throw(env, "fitMerge: 13 arguments expected");
  uint8_t *mem;
  size_t length;
  fit_header h;
  uint32_t hAt, xAt, rAt, p;
  bool first;
  if (!get_memory(env, argv[0], &mem, &length)) return vbm_throw(env, "fitMerge: the memory must be a Uint8Array");
  if (napi_get_value_uint32(env, argv[1], &hAt) != napi_ok || napi_get_value_uint32(env, argv[2], &xAt) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &rAt) != napi_ok || napi_get_value_uint32(env, argv[4], &p) != napi_ok ||
      napi_get_value_bool(env, argv[5], &first) != napi_ok)
    return vbm_throw(env, "fitMerge: arguments");
  if (!read_header(mem, length, hAt, &h)) return vbm_throw(env, "fitMerge: a header outside the memory");
  void *tok, *tmin, *tmax, *tyy, *txty, *tryy, *trxty;
  size_t lok, lmin, lmax, lyy, lxty, lryy, lrxty;
  if (!vbm_typed(env, argv[6], napi_uint8_array, &tok, &lok) || !vbm_typed(env, argv[7], napi_float32_array, &tmin, &lmin) ||
      !vbm_typed(env, argv[8], napi_float32_array, &tmax, &lmax) || !vbm_typed(env, argv[9], napi_float64_array, &tyy, &lyy) ||
      !vbm_typed(env, argv[10], napi_float64_array, &txty, &lxty) ||
      !vbm_typed(env, argv[11], napi_float64_array, &tryy, &lryy) ||
      !vbm_typed(env, argv[12], napi_float64_array, &trxty, &lrxty))
    return vbm_throw(env, "fitMerge: typed arrays expected");
  const size_t n = (size_t)h.n;
  const bool resid = lryy > 0;
  const size_t stride = (size_t)h.stride;
  if (lok != n || lmin != n || lmax != n || lyy != n || lxty != n * p || (resid && (lryy != 7 * n || lrxty != n * p)) ||
      (!resid && lrxty != 0) || (resid && h.ryy == 0) || p > 64 || !in_memory(length, xAt, (int64_t)stride * p) ||
      (resid && !in_memory(length, rAt, (int64_t)stride * p)))
    return vbm_throw(env, "fitMerge: sums of another layout");
  uint8_t *ok = mem + h.ok;
  float *vmin = (float *)(mem + h.vmin), *vmax = (float *)(mem + h.vmax);
  uint8_t *to = tok;
  float *tl = tmin, *th = tmax;
  if (first) {
    memcpy(to, ok, n);
    memcpy(tl, vmin, 4 * n);
    memcpy(th, vmax, 4 * n);
  } else
    for (size_t i = 0; i < n; i++) {
      to[i] = to[i] & ok[i];
      if (vmin[i] < tl[i]) tl[i] = vmin[i];
      if (vmax[i] > th[i]) th[i] = vmax[i];
    }
  memset(ok, 1, n);
  for (size_t i = 0; i < n; i++) {
    vmin[i] = INFINITY;
    vmax[i] = -INFINITY;
  }
  merge_row(tyy, (double *)(mem + h.yy), n, first);
  for (uint32_t j = 0; j < p; j++) merge_row((double *)txty + j * n, (double *)(mem + xAt + j * stride), n, first);
  if (resid) {
    for (int k = 0; k < 7; k++) merge_row((double *)tryy + k * n, (double *)(mem + h.ryy + k * stride), n, first);
    for (uint32_t j = 0; j < p; j++)
      merge_row((double *)trxty + j * n, (double *)(mem + rAt + j * stride), n, first);
  }
  return NULL;
}

/* total[i] = total[i] + a[i] (or a[i] for the first chunk), a left as it is (fitRange zeroes it itself) */
static void merge_row_keep(double *total, const double *a, size_t n, bool first) {
  if (first)
    memcpy(total, a, 8 * n);
  else
    for (size_t i = 0; i < n; i++) total[i] = total[i] + a[i];
}

/*
 * A read of a scan that stopped at byte `at` of the `size` it had when the fit began, errno `e` (0: the
 * file ended first): VBM_MAP_FAILED or VBM_MAP_CHANGED, with why.
 */
static int read_failure(int e, uint64_t at, uint64_t size, char *why, size_t whyLen) {
  if (e) {
    snprintf(why, whyLen, "cannot read it at byte %llu (%s)", (unsigned long long)at, strerror(e));
    return VBM_MAP_FAILED;
  }
  snprintf(why, whyLen, "the file ended at byte %llu, before the %llu it had when vbm began the fit",
           (unsigned long long)at, (unsigned long long)size);
  return VBM_MAP_CHANGED;
}

/*
 * vbm_pieces_read of bytes [*hashed, to) of the file at `path` (`m` says its size, device and inode when
 * the fit opened it): through `held` where the range holds it open (>= 0), else opened again by its name.
 * VBM_MAP_OK, VBM_MAP_CHANGED if it is no longer that file of m->size bytes (replaced, grown or cut since)
 * or it ended first, VBM_MAP_FAILED if it cannot be opened or read (with why).
 */
static int hash_read(vbm_pieces *hp, uint32_t s, const char *path, int held, const vbm_map *m, uint64_t *hashed,
                     uint64_t to, uint8_t *digests, char *why, size_t whyLen) {
  const int fd = held >= 0 ? held : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whyLen, "cannot open (%s)", strerror(errno));
    return VBM_MAP_FAILED;
  }
  /* opened again by its name: another inode or size is another file than the one mapped */
  struct stat st;
  if (held < 0 && fstat(fd, &st) == 0 &&
      ((uint64_t)st.st_size != m->size || (uint64_t)st.st_dev != m->dev || (uint64_t)st.st_ino != m->ino)) {
    if ((uint64_t)st.st_size != m->size)
      snprintf(why, whyLen, "the file is %llu bytes, not the %llu it had when vbm began the fit",
               (unsigned long long)st.st_size, (unsigned long long)m->size);
    else
      snprintf(why, whyLen, "the file was replaced by another since vbm began the fit");
    close(fd);
    return VBM_MAP_CHANGED;
  }
  const bool ok = vbm_pieces_read(hp, s, fd, hashed, to, m->size, digests);
  const int e = errno;
  if (held < 0) close(fd);
  return ok ? VBM_MAP_OK : read_failure(e, *hashed, m->size, why, whyLen);
}

/* fitRange's arguments, checked on the JavaScript thread: C copies of the paths, the typed arrays' data */
typedef struct {
  uint32_t nScans;
  char **paths;
  const double *voff, *desc, *xs, *sizes;
  const int32_t *cand, *dims;
  size_t n, p;
  uint32_t r0, r1, block, chunk, span;
  double window;
  bool append, smooth, hashing;
  uint8_t *ok, *digests;
  float *vmin, *vmax;
  double *yy, *xty, *ryy, *rxty, *stats;
} fit_range_args;

static void fit_range_free(void *data) {
  fit_range_args *a = data;
  if (!a) return;
  for (uint32_t s = 0; a->paths && s < a->nScans; s++) free(a->paths[s]);
  free(a->paths);
  free(a);
}

/*
 * fitRange's 21 or 23 arguments checked and read into a new fit_range_args (NULL, with a JavaScript error
 * thrown, when they are wrong). The typed arrays' data is used in place: the caller keeps them alive.
 */
static fit_range_args *fit_range_parse(napi_env env, size_t argc, napi_value *argv) {
  if (argc != 21 && argc != 23) return vbm_throw(env, "fitRange: 21 or 23 arguments expected"), NULL;
  void *voffP, *descP, *xP, *candP, *dimsP, *okP, *vminP, *vmaxP, *yyP, *xtyP, *ryyP, *rxtyP, *statsP;
  size_t lvoff, ldesc, lx, lcand, ldims, lok, lvmin, lvmax, lyy, lxty, lryy, lrxty, lstats;
  uint32_t r0, r1, block, chunk, span;
  double window;
  uint32_t nScans;
  bool isArr, append;
  if (napi_is_array(env, argv[0], &isArr) != napi_ok || !isArr || napi_get_array_length(env, argv[0], &nScans) != napi_ok)
    return vbm_throw(env, "fitRange: paths must be an array"), NULL;
  if (!vbm_typed(env, argv[1], napi_float64_array, &voffP, &lvoff) || !vbm_typed(env, argv[2], napi_float64_array, &descP, &ldesc) ||
      !vbm_typed(env, argv[3], napi_float64_array, &xP, &lx) || !vbm_typed(env, argv[4], napi_int32_array, &candP, &lcand) ||
      !vbm_typed(env, argv[5], napi_int32_array, &dimsP, &ldims) || !vbm_typed(env, argv[10], napi_uint8_array, &okP, &lok) ||
      !vbm_typed(env, argv[11], napi_float32_array, &vminP, &lvmin) ||
      !vbm_typed(env, argv[12], napi_float32_array, &vmaxP, &lvmax) ||
      !vbm_typed(env, argv[13], napi_float64_array, &yyP, &lyy) || !vbm_typed(env, argv[14], napi_float64_array, &xtyP, &lxty) ||
      !vbm_typed(env, argv[15], napi_float64_array, &ryyP, &lryy) ||
      !vbm_typed(env, argv[16], napi_float64_array, &rxtyP, &lrxty) ||
      !vbm_typed(env, argv[17], napi_float64_array, &statsP, &lstats))
    return vbm_throw(env, "fitRange: typed arrays expected"), NULL;
  if (napi_get_value_uint32(env, argv[6], &r0) != napi_ok || napi_get_value_uint32(env, argv[7], &r1) != napi_ok ||
      napi_get_value_uint32(env, argv[8], &block) != napi_ok || napi_get_value_uint32(env, argv[9], &chunk) != napi_ok ||
      napi_get_value_double(env, argv[18], &window) != napi_ok || napi_get_value_uint32(env, argv[19], &span) != napi_ok ||
      napi_get_value_bool(env, argv[20], &append) != napi_ok)
    return vbm_throw(env, "fitRange: arguments"), NULL;
  const int32_t *dims = dimsP;
  if (ldims != 3 || dims[0] < 1 || dims[1] < 1 || dims[2] < 1) return vbm_throw(env, "fitRange: dims"), NULL;
  const int64_t nvox = (int64_t)dims[0] * dims[1] * dims[2];
  const size_t n = lcand;
  if (nScans < 1 || n < 1 || nvox > INT32_MAX || lvoff != nScans || ldesc != 4 * (size_t)nScans || lx % nScans)
    return vbm_throw(env, "fitRange: arrays of the wrong sizes"), NULL;
  const size_t p = lx / nScans;
  const bool smooth = lryy > 0;
  const size_t nBlocks = block ? (n + block - 1) / block : 0;
  if (p < 1 || p > 64 || block < 8 || block % 8 || block > (1u << 20) || chunk < 1 || r0 % block || r0 >= r1 ||
      r1 > n || lok != n || lvmin != n || lvmax != n || lyy != n || lxty != n * p ||
      (smooth && (lryy != 7 * n || lrxty != n * p)) || (!smooth && lrxty != 0) ||
      lstats != 4 * (size_t)nScans * nBlocks || !(window >= 0) || span < block || span % block ||
      span > (1u << 22))
    return vbm_throw(env, "fitRange: arrays of the wrong sizes"), NULL;
  const int32_t *cand = candP;
  for (size_t c = r0; c < r1; c++)
    if (cand[c] < 0 || cand[c] >= nvox || (c > r0 && cand[c] <= cand[c - 1]))
      return vbm_throw(env, "fitRange: candidate voxels must be ascending grid indices"), NULL;
  const double *voff = voffP;
  for (uint32_t s = 0; s < nScans; s++)
    if (!(voff[s] >= 0 && voff[s] <= 1e15) || fmod(voff[s], 4) != 0)
      return vbm_throw(env, "fitRange: a voxel offset"), NULL;
  /* hashing: each scan's size and its pieces' digests */
  napi_valuetype t21 = napi_undefined;
  if (argc == 23 && napi_typeof(env, argv[21], &t21) != napi_ok) return vbm_throw(env, "fitRange: arguments"), NULL;
  const bool hashing = t21 != napi_undefined;
  void *sizesP = NULL, *digestsP = NULL;
  size_t lsizes = 0, ldigests = 0;
  if (hashing) {
    if (!vbm_pieces_available())
      return vbm_throw(env, "fitRange: this addon was built without XXH3 (fitRangeHashes)"), NULL;
    if (!vbm_typed(env, argv[21], napi_float64_array, &sizesP, &lsizes) ||
        !vbm_typed(env, argv[22], napi_uint8_array, &digestsP, &ldigests))
      return vbm_throw(env, "fitRange: typed arrays expected"), NULL;
    if (lsizes != nScans) return vbm_throw(env, "fitRange: arrays of the wrong sizes"), NULL;
    uint64_t pieces = 0;
    for (uint32_t s = 0; s < nScans; s++) {
      const double z = ((const double *)sizesP)[s];
      if (!(z >= 0 && z <= 1e15) || z != floor(z)) return vbm_throw(env, "fitRange: a file size"), NULL;
      pieces += ((uint64_t)z + VBM_PIECE_BYTES - 1) / VBM_PIECE_BYTES;
    }
    if (ldigests != 8 * pieces) return vbm_throw(env, "fitRange: arrays of the wrong sizes"), NULL;
  }
  fit_range_args *a = calloc(1, sizeof *a);
  char **paths = a ? calloc(nScans, sizeof *paths) : NULL;
  if (!a || !paths) {
    free(a);
    return vbm_throw(env, "fitRange: out of memory"), NULL;
  }
  a->paths = paths;
  a->nScans = nScans;
  /* the paths: strings of at most 4095 bytes of UTF-8 */
  for (uint32_t s = 0; s < nScans; s++) {
    napi_value v;
    size_t plen;
    if (napi_get_element(env, argv[0], s, &v) != napi_ok ||
        napi_get_value_string_utf8(env, v, NULL, 0, &plen) != napi_ok || plen >= 4096) {
      fit_range_free(a);
      return vbm_throw(env, "fitRange: paths must be strings"), NULL;
    }
    if (!(paths[s] = malloc(plen + 1))) {
      fit_range_free(a);
      return vbm_throw(env, "fitRange: out of memory"), NULL;
    }
    napi_get_value_string_utf8(env, v, paths[s], plen + 1, &plen);
  }
  a->voff = voff, a->desc = descP, a->xs = xP, a->sizes = sizesP, a->cand = cand, a->dims = dims;
  a->n = n, a->p = p, a->r0 = r0, a->r1 = r1, a->block = block, a->chunk = chunk, a->span = span;
  a->window = window, a->append = append, a->smooth = smooth, a->hashing = hashing;
  a->ok = okP, a->digests = digestsP, a->vmin = vminP, a->vmax = vmaxP;
  a->yy = yyP, a->xty = xtyP, a->ryy = ryyP, a->rxty = rxtyP, a->stats = statsP;
  return a;
}

/* scan s's failure to map or hash, as fitRange reports it: the code, and "s:why" */
static void fit_range_fail(vbm_failure *fail, int r, uint32_t s, const char *why) {
  snprintf(fail->code, sizeof fail->code, "%s",
           r == VBM_MAP_SHORT     ? "VBM_SHORT_FILE"
           : r == VBM_MAP_GZIP    ? "VBM_GZIP_FILE"
           : r == VBM_MAP_CHANGED ? "VBM_CHANGED_FILE"
                                  : "VBM_MAP_FAILED");
  snprintf(fail->message, sizeof fail->message, "%u:%s", s, why);
}

/*
 * Whether fitRange reads the scans' bytes (pread into slots that stay in cache) rather than mapping
 * them: 1 reads, 0 maps; -1 until the first use, which takes VBM_FIT_READ (`map` maps, else read), or
 * fitRead's choice (tests). Reading costs a copy, but no page table entry set and cleared for every
 * 4 KiB of every scan.
 */
static int fit_read_mode = -1;

static bool fit_reads(void) {
  int m = __atomic_load_n(&fit_read_mode, __ATOMIC_RELAXED);
  if (m < 0) {
    const char *e = getenv("VBM_FIT_READ");
    m = e && strcmp(e, "map") == 0 ? 0 : 1;
    int unset = -1;
    if (!__atomic_compare_exchange_n(&fit_read_mode, &unset, m, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) m = unset;
  }
  return m == 1;
}

/*
 * Descriptors held open by the ranges reading now, in every thread (a range reading n scans counts n; its
 * hash_read reads through them). A range reads only where what the ranges reading hold with its own still leaves
 * 64 of RLIMIT_NOFILE's soft limit spare (fit_fds_reserve; else it maps: mapping keeps none open), and
 * gives its count back when its files are closed (fit_fds_release). Node raises the soft limit to the
 * hard one at start; there is a range per fit thread at once.
 */
static uint64_t fit_fds_held = 0;

static bool fit_fds_reserve(uint32_t n) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  const uint64_t want = n;
  if (rl.rlim_cur == RLIM_INFINITY) {
    __atomic_fetch_add(&fit_fds_held, want, __ATOMIC_RELAXED);
    return true;
  }
  uint64_t held = __atomic_load_n(&fit_fds_held, __ATOMIC_RELAXED);
  do {
    if (held + want + 64 > (uint64_t)rl.rlim_cur) return false;
  } while (!__atomic_compare_exchange_n(&fit_fds_held, &held, held + want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return true;
}

static void fit_fds_release(uint32_t n) { __atomic_fetch_sub(&fit_fds_held, (uint64_t)n, __ATOMIC_RELAXED); }

/* The most bytes of slots one range reads a chunk of scans into (else it maps the scans). */
#define READ_BUDGET ((uint64_t)64 << 20)

/*
 * The bytes (offsets into the voxel data) a span of candidates first..last needs: [lo, mainHi), the
 * voxels and their +x and +y neighbours, and [zLo, zHi), the +z neighbours' (empty where it joins the
 * first: then mainHi covers both; and without smoothness).
 */
typedef struct {
  uint64_t lo, mainHi, zLo, zHi;
} span_bytes;

static span_bytes span_extent(int64_t first, int64_t last, int64_t nx, int64_t nxy, int64_t nvox, bool smooth) {
  span_bytes b;
  b.lo = 4 * (uint64_t)first;
  const int64_t mainEnd = smooth ? (last + nx + 1 < nvox ? last + nx + 1 : nvox) : last + 1;
  b.mainHi = 4 * (uint64_t)mainEnd;
  b.zLo = b.zHi = 0;
  if (smooth && first + nxy < nvox) {
    const int64_t zEnd = last + nxy + 1 < nvox ? last + nxy + 1 : nvox;
    if (first + nxy <= mainEnd) {
      if (zEnd > mainEnd) b.mainHi = 4 * (uint64_t)zEnd;
    } else {
      b.zLo = 4 * (uint64_t)(first + nxy);
      b.zHi = 4 * (uint64_t)zEnd;
    }
  }
  return b;
}

/*
 * Scan s's bytes of a span read into its slot (slot[0] is voxel-data byte b->lo; the file's voxels begin
 * at byte `base`), and, when hashing (hashed not NULL), its pieces hashed up to the span's main bytes' end
 * (at most hashHi): the bytes before them that no span reads (outside the candidates) read and hashed
 * through vbm_pieces_read first. VBM_MAP_OK, VBM_MAP_CHANGED if the file ended first, VBM_MAP_FAILED if
 * a read failed (with why).
 */
static int read_span(vbm_pieces *hp, uint32_t s, int fd, const vbm_map *m, uint8_t *slot, const span_bytes *b,
                     uint64_t base, uint64_t *hashed, uint64_t hashHi, uint8_t *digests, char *why, size_t whyLen) {
  uint64_t got = 0;
  bool ok = vbm_read_at(fd, slot, (size_t)(b->mainHi - b->lo), base + b->lo, &got);
  uint64_t at = base + b->lo + got;
  if (ok && b->zHi > b->zLo) {
    ok = vbm_read_at(fd, slot + (b->zLo - b->lo), (size_t)(b->zHi - b->zLo), base + b->zLo, &got);
    at = base + b->zLo + got;
  }
  if (ok && hashed) {
    const uint64_t from = base + b->lo, upto = base + b->mainHi < hashHi ? base + b->mainHi : hashHi;
    if (*hashed < from && *hashed < hashHi) ok = vbm_pieces_read(hp, s, fd, hashed, from < hashHi ? from : hashHi, m->size, digests);
    if (ok && upto > *hashed) vbm_pieces_advance(hp, s, slot - from, hashed, upto, m->size, digests);
    if (!ok) at = *hashed;
  }
  return ok ? VBM_MAP_OK : read_failure(errno, at, m->size, why, whyLen);
}

/*
 * fitRange's work, on any thread (vbm_work): the sums of candidates [r0, r1) of the scans read or mapped,
 * hashing their pieces as it reads them. 0, or 1 with `fail` (a map or hash failure's code and "s:why", or
 * out of memory).
 */
static int fit_range_run(void *data, vbm_failure *fail) {
  const fit_range_args *A = data;
  const uint32_t nScans = A->nScans, r0 = A->r0, r1 = A->r1;
  const int32_t *dims = A->dims, *cand = A->cand;
  const int64_t nxy = (int64_t)dims[0] * dims[1], nvox = nxy * dims[2];
  const size_t n = A->n, p = A->p;
  const bool smooth = A->smooth, hashing = A->hashing, append = A->append;
  const size_t nBlocks = (n + A->block - 1) / A->block;
  const double *voff = A->voff, *desc = A->desc, *xs = A->xs;
  /* one arena (int32 offsets from its start, as the kernel's header wants): a NaN, the range's
     candidates and neighbours, the block accumulator, the scans' design terms */
  const size_t L = r1 - r0, B = A->block, S = A->span;
  size_t at = 64;
  const size_t nanAt = at;
  at += 64;
  const size_t candAt = at;
  at += (4 * L + 63) / 64 * 64;
  const size_t nbAt[3] = {at, at + (4 * L + 63) / 64 * 64, at + 2 * ((4 * L + 63) / 64 * 64)};
  if (smooth) at += 3 * ((4 * L + 63) / 64 * 64);
  const size_t okAt = at;
  /* the accumulator's arrays and rows are kept off multiples of 4 KiB apart (PAD): the kernel's loads
     and stores of neighbouring rows at the same address modulo 4 KiB would stall (4K aliasing) */
  const size_t PAD = 192, RS = 8 * B + PAD;
  at += (B + 63) / 64 * 64 + PAD;
  const size_t vminAt = at;
  at += 4 * B + PAD;
  const size_t vmaxAt = at;
  at += 4 * B + PAD;
  const size_t yyAt = at;
  at += RS;
  const size_t ryyAt = at;
  if (smooth) at += 7 * RS;
  const size_t xtyAt = at;
  at += RS * p;
  const size_t rxtyAt = at;
  at += RS * p;
  const size_t termsAt = at;
  at += 16 * p * nScans;
  if (at > INT32_MAX) {
    snprintf(fail->message, sizeof fail->message, "fitRange: too many voxels or scans for one thread");
    return 1;
  }
  /* reading (not mapping): each span's bytes of each scan of a chunk read into a slot of `slots`, the
     span's voxels and +x, +y neighbours from its first voxel, the +z neighbours' slice at its place
     nxy voxels on (the bytes between are never read), so the kernel indexes a slot as it would the file */
  const int64_t nx = dims[0];
  const uint32_t CH = A->chunk < nScans ? A->chunk : nScans;
  size_t slotBytes = 0;
  bool reading = fit_reads();
  for (size_t c0 = r0; reading && c0 < r1; c0 += S) {
    const size_t len = r1 - c0 < S ? r1 - c0 : S;
    span_bytes sb = span_extent(cand[c0], cand[c0 + len - 1], nx, nxy, nvox, smooth);
    const uint64_t hi = sb.zHi > sb.mainHi ? sb.zHi : sb.mainHi;
    if (hi - sb.lo > slotBytes) slotBytes = (size_t)(hi - sb.lo);
  }
  slotBytes = (slotBytes + 63) / 64 * 64;
  /* a span spread over much of the grid (a sparse mask) is mapped instead: its slots would be big; and
     so are the scans where the process may not hold a descriptor per scan open beside those the ranges
     reading now hold (a low limit) */
  if (reading && (uint64_t)slotBytes * CH > READ_BUDGET) reading = false;
  if (reading && !fit_fds_reserve(nScans)) reading = false;
  uint8_t *slots = reading ? vbm_malloc_big(slotBytes * CH) : NULL;
  int *fds = reading ? malloc(sizeof(int) * nScans) : NULL;
  for (uint32_t s = 0; fds && s < nScans; s++) fds[s] = -1;
  uint8_t *mem = vbm_malloc_big((at + 63) / 64 * 64);
  vbm_map *maps = calloc(nScans, sizeof(vbm_map));
  int *nterms = calloc(nScans, sizeof(int));
  /* per scan: size, next byte to hash, end of the bytes to hash, its pieces' digests (hashing only) */
  uint64_t *hsize = hashing ? calloc(4 * (size_t)nScans, sizeof(uint64_t)) : NULL;
  uint64_t *hashed = hsize ? hsize + nScans : NULL, *hashHi = hsize ? hsize + 2 * (size_t)nScans : NULL;
  uint64_t *pieceAt = hsize ? hsize + 3 * (size_t)nScans : NULL;
  vbm_pieces *hp = hashing ? vbm_pieces_new(nScans, fit_level() >= 1) : NULL;
  if (!mem || !maps || !nterms || (hashing && (!hsize || !hp)) || (reading && (!slots || !fds))) {
    free(mem), free(maps), free(nterms), free(hsize), vbm_pieces_free(hp), free(slots), free(fds);
    if (reading) fit_fds_release(nScans);
    snprintf(fail->message, sizeof fail->message, "fitRange: out of memory");
    return 1;
  }
  *(float *)(mem + nanAt) = NAN;
  int32_t *candL = (int32_t *)(mem + candAt);
  memcpy(candL, cand + r0, 4 * L);
  if (smooth) {
    int32_t *nb[3] = {(int32_t *)(mem + nbAt[0]), (int32_t *)(mem + nbAt[1]), (int32_t *)(mem + nbAt[2])};
    for (size_t c = 0; c < L; c++) {
      const int64_t idx = candL[c], xi = idx % dims[0], yi = (idx / dims[0]) % dims[1], zi = idx / nxy;
      nb[0][c] = xi + 1 < dims[0] ? (int32_t)(idx + 1) : -1;
      nb[1][c] = yi + 1 < dims[1] ? (int32_t)(idx + dims[0]) : -1;
      nb[2][c] = zi + 1 < dims[2] ? (int32_t)(idx + nxy) : -1;
    }
  }
  for (uint32_t s = 0; s < nScans; s++) {
    uint8_t *t = mem + termsAt + 16 * p * s;
    int k = 0;
    for (size_t j = 0; j < p; j++) {
      const double a = xs[s * p + j];
      if (a == 0) continue;
      const int32_t xr = (int32_t)(xtyAt + RS * j), rr = (int32_t)(rxtyAt + RS * j);
      memcpy(t + 16 * k, &xr, 4);
      memcpy(t + 16 * k + 4, &rr, 4);
      memcpy(t + 16 * k + 8, &a, 8);
      k++;
    }
    nterms[s] = k;
  }
  /* each scan opened (reading) or its bytes for this range mapped: from the first candidate to the last
     one's +z neighbour */
  const int64_t loIdx = candL[0];
  int64_t hiIdx = candL[L - 1] + (smooth ? nxy : 0);
  if (hiIdx > nvox - 1) hiIdx = nvox - 1;
  bool err = false;
  for (uint32_t s = 0; s < nScans && !err; s++) {
    char why[256];
    const char *path = A->paths[s];
    const uint64_t base = (uint64_t)voff[s];
    int r = reading ? vbm_open_scan(path, base + 4 * (uint64_t)nvox, &maps[s], &fds[s], why, sizeof why)
                    : vbm_map_range(path, base + 4 * (uint64_t)nvox, base + 4 * (uint64_t)loIdx,
                                    base + 4 * (uint64_t)(hiIdx + 1), &maps[s], why, sizeof why);
    if (hashing) {
      /* the pieces that begin in this range's part of the file: hashed from the slots as they are read, or
         from the mapping as the blocks read it; the bytes before the first candidate (range 0: the header
         and any voxels before it) read and hashed here, those after the spans' bytes (< a piece more, or
         the file's end) at the end */
      const uint64_t P = VBM_PIECE_BYTES, size = (uint64_t)A->sizes[s];
      const uint64_t from = r0 == 0 ? 0 : base + 4 * (uint64_t)cand[r0];
      const uint64_t upto = r1 == n ? size : base + 4 * (uint64_t)cand[r1];
      const uint64_t hLo = (from + P - 1) / P * P, hHi = (upto + P - 1) / P * P < size ? (upto + P - 1) / P * P : size;
      hsize[s] = size;
      pieceAt[s] = s ? pieceAt[s - 1] + (hsize[s - 1] + P - 1) / P : 0;
      hashed[s] = hLo < hHi ? hLo : hHi;
      hashHi[s] = hHi;
      if (r != VBM_MAP_FAILED && maps[s].size != size) {
        snprintf(why, sizeof why, "the file is %llu bytes, not the %llu it had when vbm began the fit",
                 (unsigned long long)maps[s].size, (unsigned long long)size);
        vbm_unmap(&maps[s]);
        r = VBM_MAP_CHANGED;
      }
      const uint64_t lo = base + 4 * (uint64_t)loIdx;
      if (r == VBM_MAP_OK && hashed[s] < lo && hashed[s] < hHi)
        r = hash_read(hp, s, path, reading ? fds[s] : -1, &maps[s], &hashed[s], lo < hHi ? lo : hHi, A->digests + 8 * pieceAt[s], why,
                      sizeof why);
      if (r != VBM_MAP_OK) vbm_unmap(&maps[s]);
    }
    if (r != VBM_MAP_OK) {
      fit_range_fail(fail, r, s, why);
      err = true;
    }
  }
  if (!err) {
    uint8_t *tok = A->ok;
    float *tmin = A->vmin, *tmax = A->vmax;
    double *tyy = A->yy, *txty = A->xty, *tryy = A->ryy, *trxty = A->rxty, *stats = A->stats;
    uint8_t *ok = mem + okAt;
    float *vmin = (float *)(mem + vminAt), *vmax = (float *)(mem + vmaxAt);
    const uint64_t keep = (uint64_t)A->window;
    int64_t cutIdx = loIdx;
    for (size_t c0 = r0; c0 < r1 && !err; c0 += S) {
      const size_t len = r1 - c0 < S ? r1 - c0 : S, lc = c0 - r0;
      const span_bytes sb = span_extent(cand[c0], cand[c0 + len - 1], nx, nxy, nvox, smooth);
      for (uint32_t k0 = 0; k0 < nScans && !err; k0 += A->chunk) {
        const uint32_t k1 = nScans - k0 < A->chunk ? nScans : k0 + A->chunk;
        const bool first = k0 == 0 && !append;
        for (uint32_t s = k0; reading && s < k1; s++) {
          char why[256];
          const int r = read_span(hp, s, fds[s], &maps[s], slots + (size_t)(s - k0) * slotBytes, &sb,
                                  (uint64_t)voff[s], hashing ? &hashed[s] : NULL, hashing ? hashHi[s] : 0,
                                  hashing ? A->digests + 8 * pieceAt[s] : NULL, why, sizeof why);
          if (r != VBM_MAP_OK) {
            fit_range_fail(fail, r, s, why);
            err = true;
            break;
          }
        }
        if (err) break;
        for (size_t b0 = 0; b0 < len; b0 += B) {
          const size_t bl = len - b0 < B ? len - b0 : B, lb = lc + b0, cb = c0 + b0;
          fit_ctx x;
          x.mem = mem;
          x.h = (fit_header){.cand = (int32_t)(candAt + 4 * lb),
                             .nbx = (int32_t)(smooth ? nbAt[0] + 4 * lb : candAt),
                             .nby = (int32_t)(smooth ? nbAt[1] + 4 * lb : candAt),
                             .nbz = (int32_t)(smooth ? nbAt[2] + 4 * lb : candAt),
                             .ok = (int32_t)okAt,
                             .vmin = (int32_t)vminAt,
                             .vmax = (int32_t)vmaxAt,
                             .yy = (int32_t)yyAt,
                             .ryy = smooth ? (int32_t)ryyAt : 0,
                             .stride = (int32_t)RS,
                             .nan = (int32_t)nanAt,
                             .n = (int32_t)(L - lb),
                             .block = (int32_t)B,
                             .nvox = (int32_t)nvox};
          /* the chunk's sums of this block from zero */
          memset(ok, 1, bl);
          for (size_t i = 0; i < bl; i++) {
            vmin[i] = INFINITY;
            vmax[i] = -INFINITY;
          }
          memset(mem + yyAt, 0, 8 * bl);
          for (size_t j = 0; j < p; j++) memset(mem + xtyAt + RS * j, 0, 8 * bl);
          if (smooth) {
            for (int k = 0; k < 7; k++) memset(mem + ryyAt + RS * k, 0, 8 * bl);
            for (size_t j = 0; j < p; j++) memset(mem + rxtyAt + RS * j, 0, 8 * bl);
          }
          for (uint32_t s = k0; s < k1; s++) {
            const double *d = desc + 4 * s;
            const float *data =
                reading ? (const float *)(slots + (size_t)(s - k0) * slotBytes - sb.lo)
                        : (const float *)(maps[s].map - maps[s].start + (uint64_t)voff[s]);
            double cnt[4] = {0, 0, 0, 0};
            fit_block(&x, 0, (int)bl, data, d[0], d[1], d[2] != 0, mem + termsAt + 16 * p * s, nterms[s],
                      smooth && d[3] != 0, cnt);
            memcpy(stats + 4 * ((size_t)s * nBlocks + cb / B), cnt, sizeof cnt);
            /* the scan's pieces hashed up to the next block's first voxel (this range's last block: to
               the end of its part) while the block's bytes are in cache; never below a later unmap's cut */
            if (hashing && !reading) {
              const uint64_t nextAt = cb + bl < r1 ? (uint64_t)voff[s] + 4 * (uint64_t)cand[cb + bl] : hashHi[s];
              const uint64_t mapEnd = maps[s].start + maps[s].len;
              uint64_t to = nextAt < hashHi[s] ? nextAt : hashHi[s];
              if (to > mapEnd) to = mapEnd;
              if (to > hashed[s])
                vbm_pieces_advance(hp, s, maps[s].map - maps[s].start, &hashed[s], to, hsize[s],
                                   A->digests + 8 * pieceAt[s]);
            }
          }
          /* added to the totals as fitMerge adds a chunk (the first copied) */
          if (first) {
            memcpy(tok + cb, ok, bl);
            memcpy(tmin + cb, vmin, 4 * bl);
            memcpy(tmax + cb, vmax, 4 * bl);
          } else
            for (size_t i = 0; i < bl; i++) {
              tok[cb + i] = tok[cb + i] & ok[i];
              if (vmin[i] < tmin[cb + i]) tmin[cb + i] = vmin[i];
              if (vmax[i] > tmax[cb + i]) tmax[cb + i] = vmax[i];
            }
          merge_row_keep(tyy + cb, (double *)(mem + yyAt), bl, first);
          for (size_t j = 0; j < p; j++)
            merge_row_keep(txty + j * n + cb, (double *)(mem + xtyAt + RS * j), bl, first);
          if (smooth) {
            for (int k = 0; k < 7; k++)
              merge_row_keep(tryy + (size_t)k * n + cb, (double *)(mem + ryyAt + RS * k), bl, first);
            for (size_t j = 0; j < p; j++)
              merge_row_keep(trxty + j * n + cb, (double *)(mem + rxtyAt + RS * j), bl, first);
          }
        }
      }
      /* the files' bytes below the next block's first voxel are not read again: released every
         `window` bytes (all the scans at once: one TLB flush), so the mapped (resident) part of each
         file stays a window, not the file */
      if (!reading && c0 + S < r1 && 4 * (uint64_t)(cand[c0 + S] - cutIdx) >= keep) {
        cutIdx = cand[c0 + S];
        vbm_release_below(maps, nScans, voff, 4 * (uint64_t)cutIdx);
      }
    }
    /* the bytes of this range's pieces after those the spans read or mapped (range T-1: the voxels after
       the last candidate's +z neighbour and any trailing bytes), read and hashed */
    for (uint32_t s = 0; hashing && !err && s < nScans; s++) {
      if (hashed[s] >= hashHi[s]) continue;
      char why[256];
      const int r = hash_read(hp, s, A->paths[s], reading ? fds[s] : -1, &maps[s], &hashed[s], hashHi[s], A->digests + 8 * pieceAt[s], why,
                              sizeof why);
      if (r != VBM_MAP_OK) {
        fit_range_fail(fail, r == VBM_MAP_CHANGED ? VBM_MAP_CHANGED : VBM_MAP_FAILED, s, why);
        err = true;
        break;
      }
    }
  }
  for (uint32_t s = 0; s < nScans; s++) vbm_unmap(&maps[s]);
  for (uint32_t s = 0; fds && s < nScans; s++)
    if (fds[s] >= 0) close(fds[s]);
  if (reading) fit_fds_release(nScans);
  free(mem), free(maps), free(nterms), free(hsize), vbm_pieces_free(hp), free(slots), free(fds);
  return err ? 1 : 0;
}

/*
 * fitRange(paths, voxOffset, desc, x, cand, dims, r0, r1, block, chunk, ok, vmin, vmax, yy, xty, ryy, rxty,
 *          stats, window, span, append[, sizes, digests]): the sums of the candidate voxels [r0, r1) over all
 * the scans, straight into the totals (term-major, n = cand.length voxels per term, as FitSums). One
 * thread's share of the fit when the threads split the voxels, not the scans: of each scan's file only
 * the bytes that the range's voxels and their +x, +y, +z neighbours need are read, span by span and a
 * chunk of scans at a time, into slots that stay in cache (read_span), or, with fitRead('map') or
 * VBM_FIT_READ=map or where a span's slots would pass READ_BUDGET, mapped (vbm_map.c) and read by the
 * kernel in place.
 * For each span of `span` voxels (whole blocks of `block`), for each chunk of `chunk` consecutive scans,
 * the chunk is summed from zero into a span-sized accumulator (fit_block per block, as fitBatch does) and
 * added to the totals as fitMerge adds a chunk (the first copied): per voxel the same operations in the
 * same order as the chunks summed by any number of threads and merged in chunk order, so the same bits.
 * A span's totals stay in the cache while its chunks are added; each block's sums stay there for
 * the chunk's scans.
 * desc: per scan scale, threshold, zeroIsMissing, residual; x: the design (p per scan; zero terms skipped
 * as addScans skips them); stats: per scan and block (r0 and block sizes aligned: global block numbers)
 * removed, nonZero, finite, sum. window: bytes of each file kept mapped behind the voxels being summed
 * (where mapped).
 * append: the scans continue earlier ones already in the totals (their first chunk is added, not copied;
 * the earlier scans must fill whole chunks), so a long list of scans can be summed in passes.
 * sizes, digests (optional, undefined or absent: no hashing; only where fitRangeHashes is true): each
 * file's size in bytes (Float64Array) and its pieces' content-hash digests (Uint8Array, 8 bytes per piece
 * of vbm_pieces.h, the scans' pieces in scan order). The range hashes the pieces whose first byte lies in
 * its part of each file (range 0 from byte 0, the header; the last to the end, trailing bytes too; a
 * range's part ends where the next range's first voxel begins), as its blocks read them: so every range
 * hashing its pieces gives each file's pieces once, whatever the split. A file whose size is not `sizes`'
 * is an error (it changed).
 * A scan that cannot be mapped or hashed throws an Error whose code is VBM_SHORT_FILE, VBM_GZIP_FILE,
 * VBM_CHANGED_FILE or VBM_MAP_FAILED and whose message is "<scan number>:<why>".
 */
static napi_value js_fit_range(napi_env env, napi_callback_info info) {
  size_t argc = 23;
  napi_value argv[23];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return vbm_throw(env, "fitRange: arguments");
  fit_range_args *a = fit_range_parse(env, argc, argv);
  if (!a) return NULL;
  vbm_failure fail = {"", ""};
  const int r = fit_range_run(a, &fail);
  fit_range_free(a);
  if (r) napi_throw_error(env, fail.code[0] ? fail.code : NULL, fail.message);
  return NULL;
}

/*
 * fitRangeAsync(the same arguments as fitRange): fitRange's work on a thread of its own (vbm_async.h, no
 * JavaScript isolate), returning a promise that resolves when the sums are in (or rejects with fitRange's
 * error). The arrays must not be used by anything else until then.
 */
static napi_value js_fit_range_async(napi_env env, napi_callback_info info) {
  size_t argc = 23;
  napi_value argv[23];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
    return vbm_throw(env, "fitRangeAsync: arguments");
  fit_range_args *a = fit_range_parse(env, argc, argv);
  if (!a) return NULL;
  return vbm_run_async(env, fit_range_run, fit_range_free, a, argv, argc);
}

/*
 * smoothness(dims: Int32Array[3], vox, candOf, maskIndex: Int32Array, p, nCand, beta, rss, ryy, rxty,
 *            G: Float64Array (p x p), scale, df, log2x4, rpv: Float64Array, out: Float64Array[5][, threads]):
 * smoothness.ts estimateSmoothness's voxel loop in C, the same float64 operations in the same order
 * (no contraction; sqrt is correctly rounded in both), so the same RPV and sums: out = sumImg, sumX,
 * sumY, sumZ, nValid. log2x4 (4 ln 2) comes from the caller, so no libm's log is involved. threads
 * (default 1, at most 16): the voxels split between that many threads, the sums still added in voxel
 * order (smoothness_run), so the same bits. smoothnessAsync takes the same arguments and runs the loop
 * on a thread of its own (vbm_async.h), returning a promise.
 */
/* smoothness's arguments, checked on the JavaScript thread (the typed arrays' data used in place) */
typedef struct {
  int64_t nx, ny, nz;
  size_t m;
  uint32_t p, nCand;
  double scale, df, log2x4;
  const int32_t *vox, *candOf, *maskIndex;
  const double *beta, *rss, *ryy, *rxty, *Gf;
  double *rpv, *out;
  int threads; /* threads the voxel loop is split between (the same bits for any number) */
} smoothness_args;

/* smoothness's 16 or 17 arguments checked into `a` (false, with a JavaScript error thrown, when they are
   wrong) */
static bool smoothness_parse(napi_env env, size_t argc, napi_value *argv, smoothness_args *a) {
  if (argc != 16 && argc != 17) return vbm_throw(env, "smoothness: 16 or 17 arguments expected"), false;
  uint32_t threads = 1;
  if (argc == 17 && (napi_get_value_uint32(env, argv[16], &threads) != napi_ok || threads < 1))
    return vbm_throw(env, "smoothness: threads must be a positive whole number"), false;
  void *dimsP, *voxP, *candOfP, *maskP, *betaP, *rssP, *ryyP, *rxtyP, *GP, *rpvP, *outP;
  size_t ldims, lvox, lcandOf, lmask, lbeta, lrss, lryy, lrxty, lG, lrpv, lout;
  uint32_t p, nCand;
  double scale, df, log2x4;
  if (!vbm_typed(env, argv[0], napi_int32_array, &dimsP, &ldims) || !vbm_typed(env, argv[1], napi_int32_array, &voxP, &lvox) ||
      !vbm_typed(env, argv[2], napi_int32_array, &candOfP, &lcandOf) ||
      !vbm_typed(env, argv[3], napi_int32_array, &maskP, &lmask) ||
      !vbm_typed(env, argv[6], napi_float64_array, &betaP, &lbeta) ||
      !vbm_typed(env, argv[7], napi_float64_array, &rssP, &lrss) || !vbm_typed(env, argv[8], napi_float64_array, &ryyP, &lryy) ||
      !vbm_typed(env, argv[9], napi_float64_array, &rxtyP, &lrxty) ||
      !vbm_typed(env, argv[10], napi_float64_array, &GP, &lG) ||
      !vbm_typed(env, argv[14], napi_float64_array, &rpvP, &lrpv) ||
      !vbm_typed(env, argv[15], napi_float64_array, &outP, &lout))
    return vbm_throw(env, "smoothness: typed arrays expected"), false;
  if (napi_get_value_uint32(env, argv[4], &p) != napi_ok || napi_get_value_uint32(env, argv[5], &nCand) != napi_ok ||
      napi_get_value_double(env, argv[11], &scale) != napi_ok || napi_get_value_double(env, argv[12], &df) != napi_ok ||
      napi_get_value_double(env, argv[13], &log2x4) != napi_ok)
    return vbm_throw(env, "smoothness: arguments"), false;
  const int32_t *dims = dimsP;
  if (ldims != 3 || dims[0] < 1 || dims[1] < 1 || dims[2] < 1) return vbm_throw(env, "smoothness: dims"), false;
  const int64_t nx = dims[0], ny = dims[1], nz = dims[2], nxy = nx * ny;
  const size_t m = lvox;
  if (p < 1 || p > 64 || lcandOf != m || (int64_t)lmask != nxy * nz || lbeta != m * p || lrss != m ||
      lryy != 7 * (size_t)nCand || lrxty != (size_t)p * nCand || lG != (size_t)p * p || lrpv != m || lout != 5)
    return vbm_throw(env, "smoothness: arrays of the wrong sizes"), false;
  const int32_t *vox = voxP, *candOf = candOfP, *maskIndex = maskP;
  *a = (smoothness_args){.nx = nx, .ny = ny, .nz = nz, .m = m, .p = p, .nCand = nCand, .scale = scale, .df = df,
                         .log2x4 = log2x4, .vox = vox, .candOf = candOf, .maskIndex = maskIndex, .beta = betaP,
                         .rss = rssP, .ryy = ryyP, .rxty = rxtyP, .Gf = GP, .rpv = rpvP, .out = outP,
                         .threads = (int)(threads > 16 ? 16 : threads)};
  return true;
}

/*
 * (y_a - X b_a)'(y_b - X b_b) from the sums, for in-mask voxels a and b: y_a'y_b (yab) - (X'y_a)'b_b -
 * (X'y_b)'b_a + b_a'G b_b (Gb: G beta per voxel), in this order of float64 operations.
 */
static inline __attribute__((always_inline)) double smooth_eprod(const smoothness_args *A, const double *Gb,
                                                                 double yab, size_t a, size_t b) {
  const uint32_t p = A->p, nCand = A->nCand;
  const double *beta = A->beta, *rxty = A->rxty;
  const size_t ca = (size_t)A->candOf[a], cb = (size_t)A->candOf[b];
  double da = 0, db = 0, g = 0;
  for (uint32_t j = 0; j < p; j++) da += rxty[(size_t)j * nCand + ca] * beta[b * p + j];
  for (uint32_t j = 0; j < p; j++) db += rxty[(size_t)j * nCand + cb] * beta[a * p + j];
  for (uint32_t i = 0; i < p; i++) g += beta[a * p + i] * Gb[b * p + i];
  return yab - da - db + g;
}

/*
 * Voxel k of the estimate: rpv[k] (NaN where its derivatives are missing); 1, with the axes' terms
 * sqrt(Lxx / 4 ln 2), y, z, where it enters the average, else 0. Gb: G beta per voxel; sd, Rd: each
 * voxel's standard deviation and normalised variance (smooth_gb_part).
 */
static inline __attribute__((always_inline)) int smooth_voxel(const smoothness_args *A, const double *Gb,
                                                              const double *sd, const double *Rd, size_t k,
                                                              double *tx, double *ty, double *tz) {
  const int64_t nx = A->nx, ny = A->ny, nz = A->nz, nxy = nx * ny;
  const uint32_t nCand = A->nCand;
  const double scale = A->scale, log2x4 = A->log2x4;
  const int32_t *vox = A->vox, *candOf = A->candOf, *maskIndex = A->maskIndex;
  const double *ryy = A->ryy;
  double *rpv = A->rpv;
#define EPROD(yab, a, b) smooth_eprod(A, Gb, (yab), (size_t)(a), (size_t)(b))
  rpv[k] = NAN;
  const int64_t idx = vox[k];
  const int64_t x = idx % nx, y = (idx / nx) % ny, z = idx / nxy;
  if (x + 1 >= nx || y + 1 >= ny || z + 1 >= nz) return 0;
  const int32_t ix = maskIndex[idx + 1], iy = maskIndex[idx + nx], iz = maskIndex[idx + nxy];
  if (ix < 0 || iy < 0 || iz < 0) return 0;
  if (maskIndex[idx + 1 + nx] < 0 || maskIndex[idx + 1 + nxy] < 0 || maskIndex[idx + nx + nxy] < 0 ||
      maskIndex[idx + 1 + nx + nxy] < 0)
    return 0;
  const size_t c = (size_t)candOf[k];
  /* the voxel's and its neighbours' own terms, made once per voxel (smooth_gb_part), not once per
     voxel they neighbour */
  const double sv = sd[k], sx = sd[ix], sy = sd[iy], sz = sd[iz];
  const double Rvv = Rd[k];
  const bool inAverage = Rvv >= sqrt(2.220446049250313e-16);
  const double Rxx = Rd[ix], Ryy = Rd[iy], Rzz = Rd[iz];
  const double Rvx = EPROD(ryy[1 * (size_t)nCand + c], k, ix) / (sv * sx);
  const double Rvy = EPROD(ryy[2 * (size_t)nCand + c], k, iy) / (sv * sy);
  const double Rvz = EPROD(ryy[3 * (size_t)nCand + c], k, iz) / (sv * sz);
  const double Rxy = EPROD(ryy[4 * (size_t)nCand + c], ix, iy) / (sx * sy);
  const double Rxz = EPROD(ryy[5 * (size_t)nCand + c], ix, iz) / (sx * sz);
  const double Ryz = EPROD(ryy[6 * (size_t)nCand + c], iy, iz) / (sy * sz);
  const double Lxx = (Rxx - 2 * Rvx + Rvv) * scale;
  const double Lyy = (Ryy - 2 * Rvy + Rvv) * scale;
  const double Lzz = (Rzz - 2 * Rvz + Rvv) * scale;
  const double Lxy = (Rxy - Rvx - Rvy + Rvv) * scale;
  const double Lxz = (Rxz - Rvx - Rvz + Rvv) * scale;
  const double Lyz = (Ryz - Rvy - Rvz + Rvv) * scale;
  double det = Lxx * Lyy * Lzz + 2 * Lxy * Lyz * Lxz - Lxx * Lyz * Lyz - Lxy * Lxy * Lzz - Lxz * Lyy * Lxz;
  if (det < 0) det = 0;
  const double img = sqrt(det / (log2x4 * log2x4 * log2x4));
  rpv[k] = img;
  if (!inAverage || !isfinite(img)) return 0;
  *tx = sqrt(Lxx / log2x4);
  *ty = sqrt(Lyy / log2x4);
  *tz = sqrt(Lzz / log2x4);
  return 1;
#undef EPROD
}

/*
 * The estimate's voxel loop split between threads (vbm_parallel): part 0 sums its voxels' terms as it goes,
 * the later parts keep theirs per voxel, and the sums then continue over them in voxel order: the same
 * additions in the same order as one thread's, so the same bits for any number of parts.
 */
typedef struct {
  smoothness_args a; /* a copy: the loop's stores cannot change it */
  double *Gb;
  double *sd, *Rd;   /* per voxel: sqrt(ResSS / df), and its residuals' sum of squares over sd^2 */
  size_t h;          /* part 0 is voxels [0, h) */
  double *terms;     /* from voxel h on: sqrt(Lxx / 4 ln 2), y, z */
  uint8_t *in;       /* from voxel h on: 1 where the voxel enters the average */
  double sums[5];    /* part 0's: sum of RPV, x, y, z terms, voxels */
} smooth_ctx;

static void smooth_range(size_t m, int t, int T, size_t *k0, size_t *k1) {
  *k0 = m * (size_t)t / (size_t)T;
  *k1 = m * (size_t)(t + 1) / (size_t)T;
}

static void smooth_gb_part(void *ctx, int t, int T) {
  smooth_ctx *c = ctx;
  const uint32_t p = c->a.p;
  const double *beta = c->a.beta, *Gf = c->a.Gf;
  size_t b0, b1;
  smooth_range(c->a.m, t, T, &b0, &b1);
  for (size_t b = b0; b < b1; b++) {
    for (uint32_t i = 0; i < p; i++) {
      double s = 0;
      for (uint32_t j = 0; j < p; j++) s += Gf[i * p + j] * beta[b * p + j];
      c->Gb[b * p + i] = s;
    }
    const double sb = sqrt(c->a.rss[b] / c->a.df);
    c->sd[b] = sb;
    c->Rd[b] = smooth_eprod(&c->a, c->Gb, c->a.ryy[c->a.candOf[b]], b, b) / (sb * sb);
  }
}

static void smooth_loop_part(void *ctx, int t, int T) {
  smooth_ctx *c = ctx;
  size_t k0, k1;
  smooth_range(c->a.m, t, T, &k0, &k1);
  if (t == 0) {
    double sumImg = 0, sumX = 0, sumY = 0, sumZ = 0, nValid = 0, tx, ty, tz;
    for (size_t k = k0; k < k1; k++)
      if (smooth_voxel(&c->a, c->Gb, c->sd, c->Rd, k, &tx, &ty, &tz)) {
        sumImg += c->a.rpv[k];
        sumX += tx;
        sumY += ty;
        sumZ += tz;
        nValid++;
      }
    c->sums[0] = sumImg, c->sums[1] = sumX, c->sums[2] = sumY, c->sums[3] = sumZ, c->sums[4] = nValid;
    return;
  }
  for (size_t k = k0; k < k1; k++) {
    double *tk = c->terms + 3 * (k - c->h);
    c->in[k - c->h] = (uint8_t)smooth_voxel(&c->a, c->Gb, c->sd, c->Rd, k, tk, tk + 1, tk + 2);
  }
}

/* the estimate's voxel loop (vbm_work: on any thread), on a->threads threads: fills rpv and out; 1 if out of memory */
static int smoothness_run(void *data, vbm_failure *fail) {
  const smoothness_args *A = data;
  const size_t m = A->m, p = A->p;
  /* the indices checked here, not on the calling thread (a pass over the grid): the loop trusts them */
  const int64_t nvox = A->nx * A->ny * A->nz;
  for (size_t k = 0; k < m; k++)
    if (A->vox[k] < 0 || A->vox[k] >= nvox || A->candOf[k] < 0 || (uint32_t)A->candOf[k] >= A->nCand) {
      snprintf(fail->message, sizeof fail->message, "smoothness: a voxel outside the grid or the candidates");
      return 1;
    }
  for (int64_t i = 0; i < nvox; i++)
    if (A->maskIndex[i] < -1 || A->maskIndex[i] >= (int64_t)m) {
      snprintf(fail->message, sizeof fail->message, "smoothness: a mask index out of range");
      return 1;
    }
  const int T = A->threads < 1 ? 1 : A->threads > 16 ? 16 : A->threads;
  smooth_ctx c = {.a = *A};
  smooth_range(m, 0, T, &(size_t){0}, &c.h);
  c.Gb = vbm_malloc_big(sizeof(double) * m * (p + 2));
  c.sd = c.Gb ? c.Gb + m * p : NULL;
  c.Rd = c.Gb ? c.Gb + m * (p + 1) : NULL;
  c.terms = T > 1 ? vbm_malloc_big(sizeof(double) * 3 * (m - c.h) + 1) : NULL;
  c.in = T > 1 ? malloc(m - c.h + 1) : NULL;
  if (!c.Gb || (T > 1 && (!c.terms || !c.in))) {
    free(c.Gb), free(c.terms), free(c.in);
    snprintf(fail->message, sizeof fail->message, "smoothness: out of memory");
    return 1;
  }
  vbm_parallel(T, smooth_gb_part, &c);
  vbm_parallel(T, smooth_loop_part, &c);
  double sumImg = c.sums[0], sumX = c.sums[1], sumY = c.sums[2], sumZ = c.sums[3], nValid = c.sums[4];
  for (size_t k = c.h; k < m; k++)
    if (c.in[k - c.h]) {
      sumImg += A->rpv[k];
      sumX += c.terms[3 * (k - c.h)];
      sumY += c.terms[3 * (k - c.h) + 1];
      sumZ += c.terms[3 * (k - c.h) + 2];
      nValid++;
    }
  free(c.Gb), free(c.terms), free(c.in);
  double *out = A->out;
  out[0] = sumImg;
  out[1] = sumX;
  out[2] = sumY;
  out[3] = sumZ;
  out[4] = nValid;
  return 0;
}

static napi_value js_smoothness(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  smoothness_args a;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !smoothness_parse(env, argc, argv, &a))
    return NULL;
  vbm_failure fail = {"", ""};
  if (smoothness_run(&a, &fail)) napi_throw_error(env, NULL, fail.message);
  return NULL;
}

/* smoothnessAsync(the same arguments as smoothness): its loop on a thread of its own (vbm_async.h); a
   promise of its end */
static napi_value js_smoothness_async(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value argv[17];
  smoothness_args *a = malloc(sizeof *a);
  if (!a) return vbm_throw(env, "smoothness: out of memory");
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !smoothness_parse(env, argc, argv, a)) {
    free(a);
    return NULL;
  }
  return vbm_run_async(env, smoothness_run, free, a, argv, argc);
}

/* fitLevel(): the instruction set fitBatch uses (avx512, avx2 or scalar) */
static napi_value js_fit_level(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, fit_names[fit_level()], NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * fitSimd(name): fitBatch's kernel from now on, in every thread (for tests that compare the
 * kernels): `name`, or the widest this CPU has when it lacks that one. Returns the one in use.
 */
static napi_value js_fit_simd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[16];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok)
    return vbm_throw(env, "fitSimd: a kernel's name expected (avx512, avx2 or scalar)");
  const int want = fit_level_named(name), cpu = fit_cpu_level();
  if (want < 0) return vbm_throw(env, "fitSimd: a kernel's name expected (avx512, avx2 or scalar)");
  __atomic_store_n(&fit_level_in_use, want < cpu ? want : cpu, __ATOMIC_RELAXED);
  return js_fit_level(env, info);
}

/*
 * mapRelease(mode?): how fitRange releases the scans' bytes it has summed (vbm_map.c), in every thread:
 * 'batched' (one process_madvise for all the scans) or 'unmap' (an munmap per scan); `mode` sets it
 * (for tests of both ways; 'batched' where the system lacks it stays 'unmap'). Returns the one in use.
 */
static napi_value js_map_release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  char name[16];
  size_t len;
  int mode = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return vbm_throw(env, "mapRelease: arguments");
  if (argc >= 1) {
    if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
        (strcmp(name, "batched") != 0 && strcmp(name, "unmap") != 0))
      return vbm_throw(env, "mapRelease: 'batched' or 'unmap' expected");
    mode = strcmp(name, "batched") == 0;
  }
  napi_create_string_utf8(env, vbm_release_mode(mode) ? "batched" : "unmap", NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * fitRead(mode?): how fitRange takes the scans' bytes, in every thread: 'read' (pread into slots) or
 * 'map' (mapped, as before); `mode` sets it (for tests of both ways). Returns the one in use.
 */
static napi_value js_fit_read(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  char name[16];
  size_t len;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return vbm_throw(env, "fitRead: arguments");
  if (argc >= 1) {
    if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok ||
        (strcmp(name, "read") != 0 && strcmp(name, "map") != 0))
      return vbm_throw(env, "fitRead: 'read' or 'map' expected");
    __atomic_store_n(&fit_read_mode, strcmp(name, "read") == 0, __ATOMIC_RELAXED);
  }
  napi_create_string_utf8(env, fit_reads() ? "read" : "map", NAPI_AUTO_LENGTH, &out);
  return out;
}

void vbm_fit_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "fitBatch", NAPI_AUTO_LENGTH, js_fit_batch, NULL, &fn);
  napi_set_named_property(env, exports, "fitBatch", fn);
  napi_create_function(env, "fitMerge", NAPI_AUTO_LENGTH, js_fit_merge, NULL, &fn);
  napi_set_named_property(env, exports, "fitMerge", fn);
  napi_create_function(env, "smoothness", NAPI_AUTO_LENGTH, js_smoothness, NULL, &fn);
  napi_set_named_property(env, exports, "smoothness", fn);
  napi_create_function(env, "smoothnessAsync", NAPI_AUTO_LENGTH, js_smoothness_async, NULL, &fn);
  napi_set_named_property(env, exports, "smoothnessAsync", fn);
  napi_create_function(env, "fitRange", NAPI_AUTO_LENGTH, js_fit_range, NULL, &fn);
  napi_set_named_property(env, exports, "fitRange", fn);
  napi_create_function(env, "fitRangeAsync", NAPI_AUTO_LENGTH, js_fit_range_async, NULL, &fn);
  napi_set_named_property(env, exports, "fitRangeAsync", fn);
  napi_value yes;
  napi_get_boolean(env, vbm_pieces_available(), &yes);
  napi_set_named_property(env, exports, "fitRangeHashes", yes);
  napi_value pieceBytes;
  napi_create_uint32(env, (uint32_t)VBM_PIECE_BYTES, &pieceBytes);
  napi_set_named_property(env, exports, "fitRangePieceBytes", pieceBytes);
  napi_create_function(env, "mapRelease", NAPI_AUTO_LENGTH, js_map_release, NULL, &fn);
  napi_set_named_property(env, exports, "mapRelease", fn);
  napi_create_function(env, "fitRead", NAPI_AUTO_LENGTH, js_fit_read, NULL, &fn);
  napi_set_named_property(env, exports, "fitRead", fn);
  napi_create_function(env, "fitLevel", NAPI_AUTO_LENGTH, js_fit_level, NULL, &fn);
  napi_set_named_property(env, exports, "fitLevel", fn);
  napi_create_function(env, "fitSimd", NAPI_AUTO_LENGTH, js_fit_simd, NULL, &fn);
  napi_set_named_property(env, exports, "fitSimd", fn);
}
