/*
 * The fit's images written from their masked voxels on a native thread (part of the optional N-API
 * addon; images.ts gridImage with node/atomic.ts StagedFiles is the portable path and the reference):
 * the file is made a slab of the grid at a time in a buffer that stays in cache, each slab spread
 * (postSpread's operations: `outside` everywhere, then the masked voxels' values), hashed into the
 * file's content-hash pieces (vbm_pieces.h) and written. So no grid-sized buffer is allocated or
 * touched, the bytes are hashed while in cache, and the JavaScript thread goes on meanwhile.
 *
 *   imageWriteAsync(path, header: Uint8Array, vox: Int32Array m, values: Float64Array, stride, offset,
 *                   outside, f32: boolean, nvox, digests: Uint8Array) -> Promise<void>
 *     writes `path` (created, or truncated): header, then nvox float32 (f32) or float64 voxels,
 *     little-endian, voxel vox[k] = values[k stride + offset], every other voxel `outside`; vox must
 *     ascend within the grid (else the promise rejects, the file unfinished). digests: 8 bytes per piece
 *     of the file (vbm_pieces.h), filled with the pieces' XXH3-64.
 *     A failure to open, write or close rejects with an Error whose code is the errno's name (ENOSPC...;
 *     none for an errno errno_name cannot name) and whose message begins with the call that failed
 *     ("open: ", "write: ", "close: "). The header's length must be a multiple of 8 (the float64 voxels
 *     are then aligned in the slab's buffer).
 *   imageWriteHashes: true where the addon was built with XXH3 (else imageWriteAsync is absent).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "vbm_async.h"
#include "vbm_napi.h"
#include "vbm_pieces.h"

/* voxels made, hashed and written at a time: 512 KiB of float32, 1 MiB of float64 (in L2 with the slab's values) */
#define SLAB_VOXELS ((size_t)1 << 17)

typedef struct {
  char *path;
  uint8_t *header;
  size_t headerBytes;
  const int32_t *vox;
  const double *values;
  size_t m, nvox;
  uint32_t stride, offset;
  double outside;
  int f32;
  uint8_t *digests;
} image_write_args;

static void image_write_free(void *data) {
  image_write_args *a = data;
  if (!a) return;
  free(a->path);
  free(a->header);
  free(a);
}

/*
 * The errno's name, as Node's fs errors give it in `code` (errors.ts FILE_ERRORS reads it), or "" (no
 * code) for one it cannot name. The errors an open, write or close of a new file gives are listed here:
 * strerrorname_np is glibc 2.32 on (Ubuntu 20.04 and RHEL 8 have older ones), used for others.
 */
static const char *errno_name(int err) {
#define E(e) {e, #e}
  static const struct {
    int err;
    const char *name;
  } known[] = {E(ENOSPC), E(EDQUOT), E(EACCES), E(EPERM),  E(EROFS),  E(ENOENT), E(ENOTDIR), E(EISDIR),
               E(EEXIST), E(EFBIG),  E(EMFILE), E(ENFILE), E(EIO),    E(ELOOP),  E(ETXTBSY), E(EINVAL),
               E(ENOMEM), E(EBADF),  E(EINTR),  E(EAGAIN), E(ENAMETOOLONG)};
#undef E
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (known[i].err == err) return known[i].name;
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
  const char *name = strerrorname_np(err);
  if (name) return name;
#endif
#endif
  return "";
}

static void image_write_fail(vbm_failure *fail, const char *call, int err) {
  snprintf(fail->code, sizeof fail->code, "%s", errno_name(err));
  snprintf(fail->message, sizeof fail->message, "%s: %s", call, strerror(err));
}

/* all of buf to fd; 0, or the errno */
static int write_all(int fd, const uint8_t *buf, size_t len) {
  while (len > 0) {
    const ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

static int image_write_run(void *data, vbm_failure *fail) {
  const image_write_args *A = data;
  const size_t E = A->f32 ? 4 : 8, H = A->headerBytes;
  const uint64_t size = (uint64_t)H + (uint64_t)A->nvox * E;
  vbm_pieces *hp = vbm_pieces_new(1, __builtin_cpu_supports("avx2"));
  uint8_t *buf = aligned_alloc(64, (H + SLAB_VOXELS * E + 63) / 64 * 64);
  if (!hp || !buf) {
    vbm_pieces_free(hp), free(buf);
    snprintf(fail->message, sizeof fail->message, "imageWrite: out of memory");
    return 1;
  }
  const int fd = open(A->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    image_write_fail(fail, "open", errno);
    vbm_pieces_free(hp), free(buf);
    return 1;
  }
  /* the slab's voxels go at buf + H; the first slab is written with the header before them */
  memcpy(buf, A->header, H);
  uint8_t *slab = buf + H;
  uint64_t hashed = 0;
  size_t k = 0;
  int err = 0;
  /* the voxels are checked as they are reached (here, not on the JavaScript thread): each above the last
     one, so at or above the slab's first voxel */
  int64_t last = -1;
  for (size_t e0 = 0; e0 < A->nvox && !err; e0 += SLAB_VOXELS) {
    const size_t e1 = A->nvox - e0 < SLAB_VOXELS ? A->nvox : e0 + SLAB_VOXELS, n = e1 - e0;
    const size_t kFrom = k;
    for (; k < A->m && A->vox[k] > last && (size_t)A->vox[k] < e1; k++) last = A->vox[k];
    if (k < A->m && A->vox[k] <= last) break;
    if (A->f32) {
      float *o = (float *)slab;
      const float fo = (float)A->outside;
      for (size_t i = 0; i < n; i++) o[i] = fo;
      for (size_t j = kFrom; j < k; j++) o[A->vox[j] - e0] = (float)A->values[j * A->stride + A->offset];
    } else {
      double *o = (double *)slab;
      for (size_t i = 0; i < n; i++) o[i] = A->outside;
      for (size_t j = kFrom; j < k; j++) o[A->vox[j] - e0] = A->values[j * A->stride + A->offset];
    }
    const uint8_t *from = e0 == 0 ? buf : slab;
    const uint64_t at = e0 == 0 ? 0 : (uint64_t)H + (uint64_t)e0 * E, to = (uint64_t)H + (uint64_t)e1 * E;
    vbm_pieces_advance(hp, 0, from - at, &hashed, to, size, A->digests);
    err = write_all(fd, from, (size_t)(to - at));
  }
  if (A->nvox == 0 && !err) {
    vbm_pieces_advance(hp, 0, buf, &hashed, H, size, A->digests);
    err = write_all(fd, buf, H);
  }
  if (err)
    image_write_fail(fail, "write", err);
  else if (k < A->m) {
    /* a voxel not above the one before it, or past the grid: refused (the file is left unfinished) */
    snprintf(fail->message, sizeof fail->message, "imageWriteAsync: the voxels must ascend within the grid");
    err = EINVAL;
  }
  if (close(fd) != 0 && !err) {
    err = errno;
    image_write_fail(fail, "close", err);
  }
  vbm_pieces_free(hp), free(buf);
  return err ? 1 : 0;
}

static napi_value js_image_write_async(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 10)
    return vbm_throw(env, "imageWriteAsync: 10 arguments expected");
  size_t plen = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &plen) != napi_ok || plen == 0 || plen >= 4096)
    return vbm_throw(env, "imageWriteAsync: a path of 1 to 4095 bytes expected");
  void *header, *vox, *values, *digests;
  size_t lheader, lvox, lval, ldig;
  uint32_t stride, offset;
  double outside, nvoxD;
  bool f32;
  if (!vbm_typed(env, argv[1], napi_uint8_array, &header, &lheader) ||
      !vbm_typed(env, argv[2], napi_int32_array, &vox, &lvox) ||
      !vbm_typed(env, argv[3], napi_float64_array, &values, &lval) ||
      !vbm_typed(env, argv[9], napi_uint8_array, &digests, &ldig))
    return vbm_throw(env, "imageWriteAsync: typed arrays expected");
  if (napi_get_value_uint32(env, argv[4], &stride) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &offset) != napi_ok ||
      napi_get_value_double(env, argv[6], &outside) != napi_ok || napi_get_value_bool(env, argv[7], &f32) != napi_ok ||
      napi_get_value_double(env, argv[8], &nvoxD) != napi_ok)
    return vbm_throw(env, "imageWriteAsync: arguments");
  if (!(nvoxD >= 0 && nvoxD <= (double)((size_t)1 << 40) && nvoxD == (double)(size_t)nvoxD))
    return vbm_throw(env, "imageWriteAsync: nvox must be a whole number of voxels");
  const size_t nvox = (size_t)nvoxD, m = lvox, E = f32 ? 4 : 8;
  if (lheader == 0 || lheader > 1 << 20 || lheader % 8 != 0)
    return vbm_throw(env, "imageWriteAsync: a header of a multiple of 8 bytes expected");
  /* (m - 1) stride + offset < lval, as postSpread checks it, without the product wrapping */
  if (m > 0 && (offset >= lval || (stride != 0 && m - 1 > (lval - 1 - offset) / stride)))
    return vbm_throw(env, "imageWriteAsync: one value per masked voxel");
  const int32_t *vi = vox;
  const uint64_t size = (uint64_t)lheader + (uint64_t)nvox * E;
  if (ldig != 8 * ((size + VBM_PIECE_BYTES - 1) / VBM_PIECE_BYTES))
    return vbm_throw(env, "imageWriteAsync: digests must hold 8 bytes per piece of the file");
  image_write_args *a = calloc(1, sizeof *a);
  if (!a) return vbm_throw(env, "imageWriteAsync: out of memory");
  a->path = malloc(plen + 1);
  a->header = malloc(lheader);
  if (!a->path || !a->header) {
    image_write_free(a);
    return vbm_throw(env, "imageWriteAsync: out of memory");
  }
  napi_get_value_string_utf8(env, argv[0], a->path, plen + 1, &plen);
  memcpy(a->header, header, lheader);
  a->headerBytes = lheader;
  a->vox = vi;
  a->values = values;
  a->m = m;
  a->nvox = nvox;
  a->stride = stride;
  a->offset = offset;
  a->outside = outside;
  a->f32 = f32;
  a->digests = digests;
  const napi_value keep[3] = {argv[2], argv[3], argv[9]};
  return vbm_run_async(env, image_write_run, image_write_free, a, keep, 3);
}

void vbm_write_register(napi_env env, napi_value exports) {
  napi_value fn, yes;
  napi_get_boolean(env, vbm_pieces_available(), &yes);
  napi_set_named_property(env, exports, "imageWriteHashes", yes);
  if (!vbm_pieces_available()) return;
  napi_create_function(env, "imageWriteAsync", NAPI_AUTO_LENGTH, js_image_write_async, NULL, &fn);
  napi_set_named_property(env, exports, "imageWriteAsync", fn);
}
