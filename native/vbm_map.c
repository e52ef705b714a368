/*
 * Read-only mappings of byte ranges of scan files (see vbm_map.h). The size is checked against the
 * header's claim before mapping: a mapped page past the end of a file would raise SIGBUS when read.
 * A file truncated by another program while it is mapped still does (documented in the README).
 */
#define _GNU_SOURCE
#include "vbm_map.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t page_size(void) {
  static uint64_t ps = 0;
  if (!ps) {
    const long p = sysconf(_SC_PAGESIZE);
    ps = p > 0 ? (uint64_t)p : 4096;
  }
  return ps;
}

int vbm_map_range(const char *path, uint64_t need, uint64_t lo, uint64_t hi, vbm_map *m, char *why, size_t whyLen) {
  m->map = NULL;
  m->len = 0;
  m->start = 0;
  m->size = 0;
  if (lo >= hi || hi > need) {
    snprintf(why, whyLen, "bytes %llu-%llu lie outside the %llu bytes of voxel data", (unsigned long long)lo,
             (unsigned long long)hi, (unsigned long long)need);
    return VBM_MAP_FAILED;
  }
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, whyLen, "cannot open (%s)", strerror(errno));
    return VBM_MAP_FAILED;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    snprintf(why, whyLen, "cannot stat (%s)", strerror(errno));
    close(fd);
    return VBM_MAP_FAILED;
  }
  m->size = (uint64_t)st.st_size;
  if ((uint64_t)st.st_size < need) {
    snprintf(why, whyLen, "the file is %llu bytes but its header claims %llu", (unsigned long long)st.st_size,
             (unsigned long long)need);
    close(fd);
    return VBM_MAP_SHORT;
  }
  unsigned char magic[2] = {0, 0};
  if (pread(fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    snprintf(why, whyLen, "the file is gzip-compressed but not named .gz");
    close(fd);
    return VBM_MAP_GZIP;
  }
  const uint64_t start = lo - lo % page_size();
  void *p = mmap(NULL, (size_t)(hi - start), PROT_READ, MAP_SHARED, fd, (off_t)start);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    snprintf(why, whyLen, "cannot map (%s)", strerror(err));
    return VBM_MAP_FAILED;
  }
  m->map = p;
  m->len = (size_t)(hi - start);
  m->start = start;
  return VBM_MAP_OK;
}

void vbm_unmap_below(vbm_map *m, uint64_t below) {
  if (!m->map || below <= m->start) return;
  uint64_t cut = below - m->start;
  cut -= cut % page_size();
  if (cut == 0) return;
  if (cut >= m->len) {
    vbm_unmap(m);
    return;
  }
  munmap(m->map, (size_t)cut);
  m->map += cut;
  m->len -= (size_t)cut;
  m->start += cut;
}

void vbm_unmap(vbm_map *m) {
  if (m->map) munmap(m->map, m->len);
  m->map = NULL;
  m->len = 0;
}
