/*
 * vbm's exact TFCE in C (an optional part of the N-API addon; src/permutation/tfceFlood.ts is the
 * portable path and the reference). The same algorithm as tfceFlood.ts, step for step: the
 * positive values sorted by a stable radix sort on their float32 bits, the max-tree flooded on the
 * mask's bounding box numbered in 4x4x4 bricks (a bit per box node for "positive and not yet
 * seen", neighbours tested a brick at a time), a bitset priority queue over the ranks, each tree
 * node's term e^E (F(a) - F(b)) summed from the root down in double. The float64 operations are
 * the same, in the same order (the file is compiled with -ffp-contract=off), so the maps are the
 * JavaScript flood's bit for bit wherever the C library's pow() rounds as V8's Math.pow does (the
 * default exponents E = 0.5, H = 2 use only sqrt, products and a division: always).
 *
 * Plain C, no SIMD: the flood is a chain of dependent, data-driven steps, bound by reads at random
 * places of the box. Where the layout differs from the JavaScript one (with the same result): a
 * brick's 64 "fresh" bits are one 64-bit word (tested in the same order as the two 32-bit halves);
 * each rank's height and box node are one 64-bit word (the sort's own items), so a step reads one
 * cache line for both; "seen" is the cleared fresh bit (no array of its own); the output pass is
 * branch-free (voxels that are not positive read a zero sentinel), so its random reads overlap.
 * `VBM_TFCE_NO_NAPI` builds the kernel without the N-API part (a standalone profiling harness).
 *
 * JavaScript API (registered in vbm_kernel.c's module init):
 *   tfceWorkspace(boxNodes, V, node: Int32Array, entries: Int32Array, count: Uint8Array) -> handle
 *     node: box node of each masked voxel; entries/count: BrickBox.neighbourBricks' masks.
 *   tfce(handle, stat: Float32Array | Float64Array, E, H1, out: Float32Array | Float64Array) -> max
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int32_t V;
  size_t boxNodes;
  int32_t *node;        /* V: box node of each voxel */
  /* per place in a brick: count[p] neighbour bricks, each as (brick step, mask of its 64 places) */
  int64_t step[64 * 8];
  uint64_t mask[64 * 8];
  uint8_t count[64];
  uint64_t *fresh;      /* a word per brick, a bit per box node: positive and not yet seen */
  int32_t *rank;        /* boxNodes: rank of a positive voxel; -(n + 2) once it joined tree node n */
  uint64_t *keys, *keys2; /* sort: float32 bits << 32 | box node; sorted into keys2 (per rank: its height and node) */
  uint32_t *qbits;      /* rank queue: levels of bitsets */
  int32_t qbase[8];
  int32_t qlevels;
  int32_t *level, *size, *up, *closed, *stack; /* per tree node */
  double *prim, *sum;
} tfce_ws;

static void ws_free(tfce_ws *w) {
  if (!w) return;
  free(w->node);
  free(w->fresh);
  free(w->rank);
  free(w->keys);
  free(w->keys2);
  free(w->qbits);
  free(w->level);
  free(w->size);
  free(w->up);
  free(w->closed);
  free(w->stack);
  free(w->prim);
  free(w->sum);
  free(w);
}

/* ---- the rank queue (rankQueue.ts): level 0 a bit per rank, each level above a bit per nonzero word ---- */

/* the queue's words and levels, held in locals by the flood (so that its stores do not make the
   compiler reload them) */
typedef struct {
  uint32_t *bits;
  int32_t levels;
  int32_t base[8];
} rank_queue;

static inline void q_push(rank_queue *q, uint32_t r) {
  uint32_t i = r;
  for (int l = 0; l < q->levels; l++) {
    uint32_t *at = q->bits + q->base[l] + (i >> 5);
    const uint32_t old = *at;
    *at = old | (1u << (i & 31));
    if (old) return;
    i >>= 5;
  }
}

static inline int q_empty(const rank_queue *q) { return q->bits[q->base[q->levels - 1]] == 0; }

static inline uint32_t q_pop_max(rank_queue *q) {
  uint32_t i = 0;
  for (int l = q->levels - 1; l >= 0; l--) i = (i << 5) | (31u - (uint32_t)__builtin_clz(q->bits[q->base[l] + i]));
  const uint32_t r = i;
  for (int l = 0; l < q->levels; l++) {
    uint32_t *at = q->bits + q->base[l] + (i >> 5);
    const uint32_t v = *at & ~(1u << (i & 31));
    *at = v;
    if (v) break;
    i >>= 5;
  }
  return r;
}

static inline double weight(int32_t size, double E) { return E == 0.5 ? sqrt((double)size) : pow((double)size, E); }

static inline double primitive(double h, double H1) { return H1 == 3 ? (h * h * h) / 3 : pow(h, H1) / H1; }

/* ---- the sort: the positive values' float32 bits, three stable 11-bit passes ---- */

static int32_t sort_positive(tfce_ws *w, const void *stat, int is64) {
  const int32_t V = w->V;
  uint32_t counts[3][2048];
  memset(counts, 0, sizeof counts);
  uint64_t *a = w->keys;
  int32_t m = 0;
  for (int32_t v = 0; v < V; v++) {
    float f;
    if (is64) {
      const double s = ((const double *)stat)[v];
      if (!(s > 0)) continue;
      f = (float)s;
    } else {
      f = ((const float *)stat)[v];
      if (!(f > 0)) continue;
    }
    uint32_t b;
    memcpy(&b, &f, 4);
    counts[0][b & 2047]++;
    counts[1][(b >> 11) & 2047]++;
    counts[2][b >> 22]++;
    a[m++] = ((uint64_t)b << 32) | (uint32_t)w->node[v];
  }
  for (int pass = 0; pass < 3; pass++) {
    uint32_t s = 0;
    for (int d = 0; d < 2048; d++) {
      const uint32_t c = counts[pass][d];
      counts[pass][d] = s;
      s += c;
    }
  }
  uint64_t *b = w->keys2;
  for (int32_t i = 0; i < m; i++) {
    const uint64_t k = a[i];
    b[counts[0][(k >> 32) & 2047]++] = k;
  }
  for (int32_t i = 0; i < m; i++) {
    const uint64_t k = b[i];
    a[counts[1][(k >> 43) & 2047]++] = k;
  }
  for (int32_t i = 0; i < m; i++) {
    const uint64_t k = a[i];
    b[counts[2][k >> 54]++] = k;
  }
  return m;
}

/* ---- the flood (tfceFlood.ts's tfceByFlooding) ---- */

static inline double height_of(uint64_t k) {
  const uint32_t b = (uint32_t)(k >> 32);
  float f;
  memcpy(&f, &b, 4);
  return f;
}

static double flood(tfce_ws *w, int32_t m, double E, double H1, const void *stat, int stat64, void *out,
                    int out64) {
  uint64_t *fresh = w->fresh;
  rank_queue queue = {w->qbits, w->qlevels, {0}};
  memcpy(queue.base, w->qbase, sizeof queue.base);
  rank_queue *const q = &queue;
  int32_t *rank = w->rank;
  /* per rank, its height's bits and its box node in one word: one cache line read for both */
  const uint64_t *ranked = w->keys2;
  int32_t *level = w->level, *size = w->size, *up = w->up, *closed = w->closed, *stack = w->stack;
  double *prim = w->prim, *sum = w->sum;
  const int64_t *steps = w->step;
  const uint64_t *masks = w->mask;
  const uint8_t *count = w->count;
  for (int32_t k = 0; k < m; k++) {
    const uint32_t a = (uint32_t)ranked[k];
    rank[a] = k;
    fresh[a >> 6] |= 1ull << (a & 63);
  }
  int32_t nodes = 0, nClosed = 0, sp = 0, peak = m - 1;
  for (;;) {
    /* (a voxel is seen once its fresh bit is cleared) */
    while (peak >= 0 && !(fresh[(uint32_t)ranked[peak] >> 6] & (1ull << ((uint32_t)ranked[peak] & 63)))) peak--;
    if (peak < 0) break;
    int32_t cr = peak;
    uint32_t cur = (uint32_t)ranked[cr];
    fresh[cur >> 6] &= ~(1ull << (cur & 63));
    level[nodes] = cr;
    size[nodes] = 0;
    prim[nodes] = primitive(height_of(ranked[cr]), H1);
    stack[sp++] = nodes++;
    for (;;) {
    explore:;
      /* neighbour bricks in order, places in ascending order within each: the order of
         tfceFlood.ts's two 32-bit halves per brick */
      const uint32_t p = cur & 63;
      const int64_t brick = (int64_t)(cur >> 6);
      for (int e = p * 8, end = e + count[p]; e < end; e++) {
        uint64_t *word = fresh + brick + steps[e];
        uint64_t cand = *word & masks[e];
        const uint32_t base = (uint32_t)(brick + steps[e]) << 6;
        while (cand) {
          const uint32_t bit = (uint32_t)__builtin_ctzll(cand);
          cand &= cand - 1;
          *word &= ~(1ull << bit);
          const uint32_t nb = base | bit;
          const int32_t rw = rank[nb];
          if (rw > cr) {
            q_push(q, (uint32_t)cr);
            cur = nb;
            cr = rw;
            level[nodes] = cr;
            size[nodes] = 0;
            prim[nodes] = primitive(height_of(ranked[cr]), H1);
            stack[sp++] = nodes++;
            goto explore;
          }
          q_push(q, (uint32_t)rw);
        }
      }
      /* explored: the voxel joins the component on top */
      int32_t t = stack[sp - 1];
      size[t]++;
      rank[cur] = -(t + 2);
      if (q_empty(q)) break;
      const int32_t nr = (int32_t)q_pop_max(q);
      if (level[t] > nr) {
        const double pn = primitive(height_of(ranked[nr]), H1);
        for (;;) {
          const int32_t s = sp >= 2 ? stack[sp - 2] : -1;
          const double wt = weight(size[t], E);
          if (s >= 0 && level[s] >= nr) {
            sum[t] = wt * (prim[t] - prim[s]);
            up[t] = s;
            closed[nClosed++] = t;
            size[s] += size[t];
            sp--;
            t = s;
            if (level[t] == nr) break;
          } else {
            const int32_t n = nodes++;
            level[n] = nr;
            size[n] = size[t];
            prim[n] = pn;
            sum[t] = wt * (prim[t] - pn);
            up[t] = n;
            closed[nClosed++] = t;
            stack[sp - 1] = n;
            break;
          }
        }
      }
      cr = nr;
      cur = (uint32_t)ranked[nr];
    }
    int32_t t = stack[sp - 1];
    while (sp > 1) {
      const int32_t s = stack[sp - 2];
      sum[t] = weight(size[t], E) * (prim[t] - prim[s]);
      up[t] = s;
      closed[nClosed++] = t;
      size[s] += size[t];
      sp--;
      t = s;
    }
    sum[t] = weight(size[t], E) * prim[t];
    up[t] = -1;
    closed[nClosed++] = t;
    sp = 0;
  }
  for (int32_t i = nClosed - 1; i >= 0; i--) {
    const int32_t n = closed[i];
    const int32_t p = up[n];
    if (p >= 0) sum[n] = sum[n] + sum[p];
  }
  /* the output in voxel order; the maximum as stored */
  const int32_t V = w->V;
  const int32_t *node = w->node;
  double max = 0;
  /* branch-free, so that the reads of the sums overlap: a voxel that is not positive reads the
     sentinel sum[nodes] = 0 (its rank in the box is stale) */
  sum[nodes] = 0;
  if (out64) {
    double *o = (double *)out;
    for (int32_t v = 0; v < V; v++) {
      const int pos = stat64 ? ((const double *)stat)[v] > 0 : ((const float *)stat)[v] > 0;
      const int32_t t = pos ? -rank[node[v]] - 2 : nodes;
      const double x = sum[t];
      o[v] = x;
      max = x > max ? x : max;
    }
  } else {
    float *o = (float *)out;
    for (int32_t v = 0; v < V; v++) {
      const int pos = stat64 ? ((const double *)stat)[v] > 0 : ((const float *)stat)[v] > 0;
      const int32_t t = pos ? -rank[node[v]] - 2 : nodes;
      const float x = (float)sum[t];
      o[v] = x;
      max = x > max ? x : max;
    }
  }
  return max;
}

#ifndef VBM_TFCE_NO_NAPI /* (the N-API part; without it the kernel builds alone, for profiling) */
#include <node_api.h>

static void ws_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ws_free((tfce_ws *)data);
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int typed_array(napi_env env, napi_value v, napi_typedarray_type *type, void **data, size_t *length) {
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, type, length, data, &buffer, &offset) == napi_ok;
}

napi_value vbm_js_tfce_workspace(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return fail(env, "tfceWorkspace: 5 arguments expected");
  double boxd;
  uint32_t V;
  if (napi_get_value_double(env, argv[0], &boxd) != napi_ok || napi_get_value_uint32(env, argv[1], &V) != napi_ok ||
      !(boxd >= 0 && boxd <= 2147483584.0) || V > 2147483647u)
    return fail(env, "tfceWorkspace: box nodes and voxels");
  const size_t boxNodes = (size_t)boxd;
  if (boxNodes % 64) return fail(env, "tfceWorkspace: the box is whole bricks");
  napi_typedarray_type tn, te, tc;
  void *node, *entries, *count;
  size_t ln, le, lc;
  if (!typed_array(env, argv[2], &tn, &node, &ln) || tn != napi_int32_array || ln < V ||
      !typed_array(env, argv[3], &te, &entries, &le) || te != napi_int32_array || le != 64 * 24 ||
      !typed_array(env, argv[4], &tc, &count, &lc) || tc != napi_uint8_array || lc != 64)
    return fail(env, "tfceWorkspace: node (Int32Array of V), entries (Int32Array of 1536), count (Uint8Array of 64)");
  /* every voxel's neighbour bricks lie in the box (the box is padded: a bad box must not reach memory outside) */
  const int64_t bricks = (int64_t)(boxNodes / 64);
  const int32_t *nd = node, *en = entries;
  const uint8_t *cn = count;
  for (int p = 0; p < 64; p++) {
    if (cn[p] > 8) return fail(env, "tfceWorkspace: more than 8 neighbour bricks");
    for (int e = 0; e < cn[p]; e++)
      if (en[p * 24 + 3 * e] % 2) return fail(env, "tfceWorkspace: a neighbour brick at an odd word");
  }
  for (uint32_t v = 0; v < V; v++) {
    const int32_t a = nd[v];
    if (a < 0 || (size_t)a >= boxNodes) return fail(env, "tfceWorkspace: a voxel outside the box");
    const int p = a & 63;
    for (int e = 0; e < cn[p]; e++) {
      const int64_t b = (int64_t)(a >> 6) + en[p * 24 + 3 * e] / 2;
      if (b < 0 || b >= bricks) return fail(env, "tfceWorkspace: a neighbour outside the box");
    }
  }
  tfce_ws *w = calloc(1, sizeof(tfce_ws));
  if (!w) return fail(env, "tfceWorkspace: out of memory");
  w->V = (int32_t)V;
  w->boxNodes = boxNodes;
  /* the two 32-bit words of a brick as one 64-bit word */
  for (int p = 0; p < 64; p++)
    for (int e = 0; e < cn[p]; e++) {
      w->step[p * 8 + e] = en[p * 24 + 3 * e] / 2;
      w->mask[p * 8 + e] = (uint64_t)(uint32_t)en[p * 24 + 3 * e + 1] | (uint64_t)(uint32_t)en[p * 24 + 3 * e + 2] << 32;
    }
  memcpy(w->count, count, sizeof w->count);
  const size_t n = V ? V : 1;
  int32_t levels = 0;
  size_t qwords = 0;
  for (size_t wds = (n + 31) / 32;; wds = (wds + 31) / 32) {
    w->qbase[levels] = (int32_t)qwords;
    levels++;
    qwords += wds;
    if (wds == 1 || levels == 8) break;
  }
  w->qlevels = levels;
  w->node = malloc(sizeof(int32_t) * n);
  w->fresh = calloc(boxNodes / 64 + 1, sizeof(uint64_t));
  w->rank = calloc(boxNodes + 1, sizeof(int32_t));
  w->keys = malloc(sizeof(uint64_t) * n);
  w->keys2 = malloc(sizeof(uint64_t) * n);
  w->qbits = calloc(qwords, sizeof(uint32_t));
  w->level = malloc(sizeof(int32_t) * n);
  w->size = malloc(sizeof(int32_t) * n);
  w->up = malloc(sizeof(int32_t) * n);
  w->closed = malloc(sizeof(int32_t) * n);
  w->stack = malloc(sizeof(int32_t) * n);
  w->prim = malloc(sizeof(double) * n);
  w->sum = malloc(sizeof(double) * (n + 1)); /* and a sentinel */
  if (!w->node || !w->fresh || !w->rank || !w->keys || !w->keys2 || !w->qbits || !w->level || !w->size || !w->up || !w->closed || !w->stack || !w->prim || !w->sum) {
    ws_free(w);
    return fail(env, "tfceWorkspace: out of memory");
  }
  memcpy(w->node, node, sizeof(int32_t) * V);
  napi_value handle;
  if (napi_create_external(env, w, ws_finalize, NULL, &handle) != napi_ok) {
    ws_free(w);
    return fail(env, "tfceWorkspace: external");
  }
  return handle;
}

napi_value vbm_js_tfce(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return fail(env, "tfce: 5 arguments expected");
  void *data;
  napi_valuetype kind;
  if (napi_typeof(env, argv[0], &kind) != napi_ok || kind != napi_external ||
      napi_get_value_external(env, argv[0], &data) != napi_ok || !data)
    return fail(env, "tfce: a workspace from tfceWorkspace expected");
  tfce_ws *w = data;
  napi_typedarray_type ts, to;
  void *stat, *out;
  size_t ls, lo;
  double E, H1;
  if (!typed_array(env, argv[1], &ts, &stat, &ls) || (ts != napi_float32_array && ts != napi_float64_array) ||
      !typed_array(env, argv[4], &to, &out, &lo) || (to != napi_float32_array && to != napi_float64_array))
    return fail(env, "tfce: stat and out as Float32Array or Float64Array");
  if (ls < (size_t)w->V || lo < (size_t)w->V) return fail(env, "tfce: stat and out cover the workspace's voxels");
  if (napi_get_value_double(env, argv[2], &E) != napi_ok || napi_get_value_double(env, argv[3], &H1) != napi_ok)
    return fail(env, "tfce: E and H + 1");
  const int s64 = ts == napi_float64_array, o64 = to == napi_float64_array;
  const int32_t m = sort_positive(w, stat, s64);
  const double max = flood(w, m, E, H1, stat, s64, out, o64);
  napi_value r;
  napi_create_double(env, max, &r);
  return r;
}
#endif
