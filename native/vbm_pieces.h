/*
 * Content hashes of files from byte ranges (vbm_pieces.c): the piecewise XXH3 of node/contentHash.ts,
 * whose pieces (PIECE_BYTES at offsets k * PIECE_BYTES, each hashed with XXH3-64) can be hashed by
 * different threads, each from the bytes it reads. The pieces' digests are combined in JavaScript.
 */
#ifndef VBM_PIECES_H
#define VBM_PIECES_H
#include <stdbool.h>
#include <stdint.h>

/* The bytes of a piece: node/contentHash.ts PIECE_BYTES. */
#define VBM_PIECE_BYTES ((uint64_t)1 << 16)

/* Streaming states, one per file being hashed (opaque). */
typedef struct vbm_pieces vbm_pieces;

/* Whether the addon was built with XXH3 (libxxhash-dev's header); without it nothing here hashes. */
bool vbm_pieces_available(void);

/*
 * States for `n` files, and a buffer to read bytes through (NULL without XXH3 or memory); `avx2`: hash
 * with the AVX2 build of XXH3 (the caller has checked the CPU), else the baseline (SSE2) one.
 */
vbm_pieces *vbm_pieces_new(uint32_t n, bool avx2);
void vbm_pieces_free(vbm_pieces *p);

/*
 * Hash bytes [*hashed, to) of file `f` (of `size` bytes), whose byte at offset o is at file0 + o; *hashed
 * must be a piece's first byte on the first call, and `to` <= size. Each piece completed is written to
 * digests + 8 * (its number) as a little-endian XXH3-64; a piece begun is continued by the next call.
 */
void vbm_pieces_advance(vbm_pieces *p, uint32_t f, const uint8_t *file0, uint64_t *hashed, uint64_t to, uint64_t size,
                        uint8_t *digests);

/*
 * vbm_pieces_advance over bytes [*hashed, to) of file `f` read from `fd` (pread, through a buffer that
 * stays in cache), for the bytes of a file that no mapping holds. False when the file ended first
 * (errno 0) or a read failed (errno says why); *hashed then says where.
 */
bool vbm_pieces_read(vbm_pieces *p, uint32_t f, int fd, uint64_t *hashed, uint64_t to, uint64_t size, uint8_t *digests);

#endif
