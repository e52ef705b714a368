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
 * Plain C, no SIMD: the flood is a chain of dependent, data-driven steps.
 *
 * JavaScript API (registered in vbm_kernel.c's module init):
 *   tfceWorkspace(boxNodes, V, node: Int32Array, entries: Int32Array, count: Uint8Array) -> handle
 *     node: box node of each masked voxel; entries/count: BrickBox.neighbourBricks' masks.
 *   tfce(handle, stat: Float32Array | Float64Array, E, H1, out: Float32Array | Float64Array) -> max
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int32_t V;
  size_t boxNodes;
  int32_t *node;        /* V: box node of each voxel */
  int32_t entries[64 * 24];
  uint8_t count[64];
  uint32_t *fresh;      /* boxNodes / 32 words: positive and not yet seen */
  int32_t *rank;        /* boxNodes: rank of a positive voxel; -(n + 2) once it joined tree node n */
  uint64_t *keys, *keys2; /* sort: float32 bits << 32 | box node */
  int32_t *order;       /* per rank: box node */
  float *height;        /* per rank: value */
  uint8_t *seen;        /* per rank */
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
  free(w->order);
  free(w->height);
  free(w->seen);
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

/* ---- the rank queue (rankQueue.ts): level 0 a bit per rank, each level above a bit per nonzero word ---- */

static inline void q_push(tfce_ws *w, uint32_t r) {
  uint32_t *bits = w->qbits;
  uint32_t i = r;
  for (int l = 0; l < w->qlevels; l++) {
    uint32_t *at = bits + w->qbase[l] + (i >> 5);
    const uint32_t old = *at;
    *at = old | (1u << (i & 31));
    if (old) return;
    i >>= 5;
  }
}

static inline int q_empty(const tfce_ws *w) { return w->qbits[w->qbase[w->qlevels - 1]] == 0; }

static inline uint32_t q_pop_max(tfce_ws *w) {
  uint32_t *bits = w->qbits;
  uint32_t i = 0;
  for (int l = w->qlevels - 1; l >= 0; l--) i = (i << 5) | (31u - (uint32_t)__builtin_clz(bits[w->qbase[l] + i]));
  const uint32_t r = i;
  for (int l = 0; l < w->qlevels; l++) {
    uint32_t *at = bits + w->qbase[l] + (i >> 5);
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
  int32_t *order = w->order;
  uint32_t *hbits = (uint32_t *)w->height;
  for (int32_t i = 0; i < m; i++) {
    const uint64_t k = a[i];
    const uint32_t pos = counts[2][k >> 54]++;
    order[pos] = (int32_t)(uint32_t)k;
    hbits[pos] = (uint32_t)(k >> 32);
  }
  return m;
}

/* ---- the flood (tfceFlood.ts's tfceByFlooding) ---- */

static double flood(tfce_ws *w, int32_t m, double E, double H1, const void *stat, int stat64, void *out,
                    int out64) {
  uint32_t *fresh = w->fresh;
  int32_t *rank = w->rank;
  const int32_t *order = w->order;
  const float *heights = w->height;
  uint8_t *seen = w->seen;
  int32_t *level = w->level, *size = w->size, *up = w->up, *closed = w->closed, *stack = w->stack;
  double *prim = w->prim, *sum = w->sum;
  const int32_t *entries = w->entries;
  const uint8_t *count = w->count;
  for (int32_t k = 0; k < m; k++) {
    const uint32_t a = (uint32_t)order[k];
    rank[a] = k;
    fresh[a >> 5] |= 1u << (a & 31);
  }
  memset(seen, 0, (size_t)(uint32_t)m);
  int32_t nodes = 0, nClosed = 0, sp = 0, peak = m - 1;
  for (;;) {
    while (peak >= 0 && seen[peak]) peak--;
    if (peak < 0) break;
    int32_t cr = peak;
    uint32_t cur = (uint32_t)order[cr];
    fresh[cur >> 5] &= ~(1u << (cur & 31));
    seen[cr] = 1;
    level[nodes] = cr;
    size[nodes] = 0;
    prim[nodes] = primitive(heights[cr], H1);
    stack[sp++] = nodes++;
    for (;;) {
    explore:;
      const uint32_t p = cur & 63;
      const uint32_t first = (cur >> 6) << 1;
      const int32_t *e = entries + p * 24;
      const int32_t *end = e + 3 * count[p];
      for (; e < end; e += 3) {
        const uint32_t wi = first + (uint32_t)e[0];
        for (int half = 0; half < 2; half++) {
          uint32_t *word = fresh + wi + half;
          uint32_t cand = *word & (uint32_t)e[1 + half];
          while (cand) {
            const uint32_t bit = (uint32_t)__builtin_ctz(cand);
            cand &= cand - 1;
            *word &= ~(1u << bit);
            const uint32_t nb = ((wi + half) << 5) | bit;
            const int32_t rw = rank[nb];
            seen[rw] = 1;
            if (rw > cr) {
              q_push(w, (uint32_t)cr);
              cur = nb;
              cr = rw;
              level[nodes] = cr;
              size[nodes] = 0;
              prim[nodes] = primitive(heights[cr], H1);
              stack[sp++] = nodes++;
              goto explore;
            }
            q_push(w, (uint32_t)rw);
          }
        }
      }
      /* explored: the voxel joins the component on top */
      int32_t t = stack[sp - 1];
      size[t]++;
      rank[cur] = -(t + 2);
      if (q_empty(w)) break;
      const int32_t nr = (int32_t)q_pop_max(w);
      if (level[t] > nr) {
        const double pn = primitive(heights[nr], H1);
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
      cur = (uint32_t)order[nr];
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
  for (int32_t v = 0; v < V; v++) {
    const int pos = stat64 ? ((const double *)stat)[v] > 0 : ((const float *)stat)[v] > 0;
    if (out64) {
      double *o = (double *)out;
      if (pos) {
        o[v] = sum[-rank[node[v]] - 2];
        if (o[v] > max) max = o[v];
      } else
        o[v] = 0;
    } else {
      float *o = (float *)out;
      if (pos) {
        o[v] = (float)sum[-rank[node[v]] - 2];
        if (o[v] > max) max = o[v];
      } else
        o[v] = 0;
    }
  }
  return max;
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
  /* every voxel's neighbour words lie in the box (the box is padded: a bad box must not reach memory outside) */
  const int64_t words = (int64_t)(boxNodes / 32);
  const int32_t *nd = node, *en = entries;
  const uint8_t *cn = count;
  for (int p = 0; p < 64; p++)
    if (cn[p] > 8) return fail(env, "tfceWorkspace: more than 8 neighbour bricks");
  for (uint32_t v = 0; v < V; v++) {
    const int32_t a = nd[v];
    if (a < 0 || (size_t)a >= boxNodes) return fail(env, "tfceWorkspace: a voxel outside the box");
    const int p = a & 63;
    const int64_t firstWord = (int64_t)(a >> 6) * 2;
    for (int e = 0; e < cn[p]; e++) {
      const int64_t wi = firstWord + en[p * 24 + 3 * e];
      if (wi < 0 || wi + 1 >= words) return fail(env, "tfceWorkspace: a neighbour outside the box");
    }
  }
  tfce_ws *w = calloc(1, sizeof(tfce_ws));
  if (!w) return fail(env, "tfceWorkspace: out of memory");
  w->V = (int32_t)V;
  w->boxNodes = boxNodes;
  memcpy(w->entries, entries, sizeof w->entries);
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
  w->fresh = calloc(boxNodes / 32 + 1, sizeof(uint32_t));
  w->rank = calloc(boxNodes + 1, sizeof(int32_t));
  w->keys = malloc(sizeof(uint64_t) * n);
  w->keys2 = malloc(sizeof(uint64_t) * n);
  w->order = malloc(sizeof(int32_t) * n);
  w->height = malloc(sizeof(float) * n);
  w->seen = malloc(n);
  w->qbits = calloc(qwords, sizeof(uint32_t));
  w->level = malloc(sizeof(int32_t) * n);
  w->size = malloc(sizeof(int32_t) * n);
  w->up = malloc(sizeof(int32_t) * n);
  w->closed = malloc(sizeof(int32_t) * n);
  w->stack = malloc(sizeof(int32_t) * n);
  w->prim = malloc(sizeof(double) * n);
  w->sum = malloc(sizeof(double) * n);
  if (!w->node || !w->fresh || !w->rank || !w->keys || !w->keys2 || !w->order || !w->height || !w->seen ||
      !w->qbits || !w->level || !w->size || !w->up || !w->closed || !w->stack || !w->prim || !w->sum) {
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
