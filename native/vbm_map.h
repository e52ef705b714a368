/*
 * Read-only mappings of a byte range of a scan's file (vbm_map.c), for the fit's voxel-range driver
 * (vbm_fit.c fitRange): the kernel reads the scan's voxels from the page cache without a copy.
 */
#ifndef VBM_MAP_H
#define VBM_MAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *map;   /* first mapped byte (NULL: nothing mapped) */
  size_t len;     /* bytes mapped */
  uint64_t start; /* file offset of map[0] (a multiple of the page size) */
  uint64_t size;  /* the file's size when it was opened (0 when it could not be taken) */
} vbm_map;

enum { VBM_MAP_OK = 0, VBM_MAP_SHORT = 1, VBM_MAP_GZIP = 2, VBM_MAP_FAILED = 3, VBM_MAP_CHANGED = 4 };

/*
 * Map bytes [lo, hi) of `path` read-only, after checking that the file holds at least `need` bytes
 * (what its header claims) and is not gzip: a short file is refused here, before anything is mapped,
 * so it is an error message and not a SIGBUS. On failure, `m` maps nothing and `why` says what failed.
 */
int vbm_map_range(const char *path, uint64_t need, uint64_t lo, uint64_t hi, vbm_map *m, char *why, size_t whyLen);

/* Unmap the whole pages of `m` that lie below file offset `below` (the rest stays mapped). */
void vbm_unmap_below(vbm_map *m, uint64_t below);

/* Unmap what is left of `m`. */
void vbm_unmap(vbm_map *m);

#endif
