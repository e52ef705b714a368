/*
 * Piecewise content hashes (see vbm_pieces.h), with XXH3 from libxxhash-dev's header (inlined, so no
 * library is linked). Built without that header, vbm_pieces_available() is false and the fit's
 * threads leave the hashing to JavaScript (estimation/fitRanges.ts), which gives the same digests.
 */
#define _GNU_SOURCE
#include "vbm_pieces.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<xxhash.h>)
#define VBM_HAVE_XXHASH 1
#endif
#endif

#ifdef VBM_HAVE_XXHASH
#define XXH_INLINE_ALL
#include <xxhash.h>

#if defined(__x86_64__)
/* vbm_pieces_avx2.c */
uint64_t vbm_xxh3_avx2(const void *p, size_t n);
void vbm_xxh3_update_avx2(XXH3_state_t *st, const void *p, size_t n);
#define HAVE_AVX2_BUILD 1
#else
#define HAVE_AVX2_BUILD 0
#endif

/* bytes read at a time by vbm_pieces_read: a fraction of L2, so they are hashed from cache */
#define READ_BYTES ((size_t)1 << 17)

struct vbm_pieces {
  XXH3_state_t *st;
  uint8_t *buf; /* READ_BYTES */
  bool avx2;    /* hash with vbm_pieces_avx2.c's XXH3 */
};

bool vbm_pieces_available(void) { return true; }

vbm_pieces *vbm_pieces_new(uint32_t n, bool avx2) {
  vbm_pieces *p = malloc(sizeof *p);
  if (!p) return NULL;
  p->avx2 = avx2 && HAVE_AVX2_BUILD;
  const size_t bytes = ((size_t)(n ? n : 1) * sizeof(XXH3_state_t) + 63) / 64 * 64;
  p->st = aligned_alloc(64, bytes);
  p->buf = aligned_alloc(64, READ_BYTES);
  if (!p->st || !p->buf) {
    vbm_pieces_free(p);
    return NULL;
  }
  return p;
}

void vbm_pieces_free(vbm_pieces *p) {
  if (!p) return;
  free(p->st);
  free(p->buf);
  free(p);
}

static void put_le64(uint8_t *to, uint64_t v) {
  for (int i = 0; i < 8; i++) to[i] = (uint8_t)(v >> (8 * i));
}

void vbm_pieces_advance(vbm_pieces *p, uint32_t f, const uint8_t *file0, uint64_t *hashed, uint64_t to, uint64_t size,
                        uint8_t *digests) {
  XXH3_state_t *st = &p->st[f];
  uint64_t h = *hashed;
  while (h < to) {
    const uint64_t k = h / VBM_PIECE_BYTES, first = k * VBM_PIECE_BYTES;
    const uint64_t end = size - first < VBM_PIECE_BYTES ? size : first + VBM_PIECE_BYTES;
    const uint64_t e = to < end ? to : end;
    if (h == first && e == end)
      put_le64(digests + 8 * k, p->avx2 ? vbm_xxh3_avx2(file0 + h, (size_t)(e - h)) : XXH3_64bits(file0 + h, (size_t)(e - h)));
    else {
      if (h == first) XXH3_64bits_reset(st);
      if (p->avx2)
        vbm_xxh3_update_avx2(st, file0 + h, (size_t)(e - h));
      else
        XXH3_64bits_update(st, file0 + h, (size_t)(e - h));
      if (e == end) put_le64(digests + 8 * k, XXH3_64bits_digest(st));
    }
    h = e;
  }
  *hashed = h;
}

bool vbm_pieces_read(vbm_pieces *p, uint32_t f, int fd, uint64_t *hashed, uint64_t to, uint64_t size, uint8_t *digests) {
  while (*hashed < to) {
    const uint64_t at = *hashed;
    const size_t want = to - at < READ_BYTES ? (size_t)(to - at) : READ_BYTES;
    const ssize_t got = pread(fd, p->buf, want, (off_t)at);
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) errno = 0;
    if (got <= 0) return false;
    vbm_pieces_advance(p, f, p->buf - at, hashed, at + (uint64_t)got, size, digests);
  }
  return true;
}

#else

bool vbm_pieces_available(void) { return false; }
vbm_pieces *vbm_pieces_new(uint32_t n, bool avx2) {
  (void)n, (void)avx2;
  return NULL;
}
void vbm_pieces_free(vbm_pieces *p) { (void)p; }
void vbm_pieces_advance(vbm_pieces *p, uint32_t f, const uint8_t *file0, uint64_t *hashed, uint64_t to, uint64_t size,
                        uint8_t *digests) {
  (void)p, (void)f, (void)file0, (void)to, (void)size, (void)digests;
  (void)hashed;
}
bool vbm_pieces_read(vbm_pieces *p, uint32_t f, int fd, uint64_t *hashed, uint64_t to, uint64_t size, uint8_t *digests) {
  (void)p, (void)f, (void)fd, (void)hashed, (void)to, (void)size, (void)digests;
  return false;
}

#endif
