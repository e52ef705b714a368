/*
 * Read-only mappings of a byte range of a scan's file (vbm_map.c), for the fit's voxel-range driver
 * (vbm_fit.c fitRange): the kernel reads the scan's voxels from the page cache without a copy.
 */
#ifndef VBM_MAP_H
#define VBM_MAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *map;   /* first mapped byte (NULL: nothing mapped) */
  size_t len;     /* bytes mapped */
  uint64_t start; /* file offset of map[0] (a multiple of the page size) */
  uint64_t size;  /* the file's size when it was opened (0 when it could not be taken) */
  uint64_t dev;   /* its device and inode then (0 when they could not be taken) */
  uint64_t ino;
  uint64_t freed; /* file offset below which vbm_release_below has released the pages (>= start) */
} vbm_map;

enum { VBM_MAP_OK = 0, VBM_MAP_SHORT = 1, VBM_MAP_GZIP = 2, VBM_MAP_FAILED = 3, VBM_MAP_CHANGED = 4 };

/*
 * Open `path` for reading into *fd, after checking, as vbm_map_range does, that it holds at least `need`
 * bytes and is not gzip; `m` then maps nothing but has the file's size, device and inode. On failure
 * *fd is -1 and `why` says what failed.
 */
int vbm_open_scan(const char *path, uint64_t need, vbm_map *m, int *fd, char *why, size_t whyLen);

/*
 * Read n bytes at file offset `at` into buf (pread, again after a short read or EINTR). False when the
 * file ended first (errno 0) or a read failed (errno says why); *got says how many bytes were read.
 */
bool vbm_read_at(int fd, uint8_t *buf, size_t n, uint64_t at, uint64_t *got);

/*
 * Map bytes [lo, hi) of `path` read-only, after checking that the file holds at least `need` bytes
 * (what its header claims) and is not gzip: a short file is refused here, before anything is mapped,
 * so it is an error message and not a SIGBUS. On failure, `m` maps nothing and `why` says what failed.
 */
int vbm_map_range(const char *path, uint64_t need, uint64_t lo, uint64_t hi, vbm_map *m, char *why, size_t whyLen);

/*
 * Release the whole pages of each maps[s] (s < n) below file offset base[s] + rel: they are dropped from
 * this process's page tables (no longer counted in its memory; reading them again would fault them back
 * in from the page cache, the same bytes). On Linux (>= 6.13) one process_madvise(MADV_DONTNEED) call
 * drops the pages of all n maps with ONE TLB flush, where an munmap per map flushed (and, with another
 * thread of the process running, interrupted the other core) once per map; elsewhere, or if that call is
 * refused, each map's pages below are unmapped. The mappings' bytes above stay mapped either way.
 */
void vbm_release_below(vbm_map *maps, size_t n, const double *base, uint64_t rel);

/*
 * How vbm_release_below releases, in every thread: 1 batched (process_madvise), 0 an munmap per map
 * (where process_madvise is missing, or once it has been refused). `mode` 0 or 1 sets it (for tests of
 * both ways; 1 where the batched call is missing stays 0); -1 only asks. Returns the mode in use.
 */
int vbm_release_mode(int mode);

/* Unmap what is left of `m`. */
void vbm_unmap(vbm_map *m);

#endif
