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
#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/uio.h>
#endif

static uint64_t page_size(void) {
  static uint64_t ps = 0;
  if (!ps) {
    const long p = sysconf(_SC_PAGESIZE);
    ps = p > 0 ? (uint64_t)p : 4096;
  }
  return ps;
}

static void map_clear(vbm_map *m) {
  m->map = NULL;
  m->len = 0;
  m->start = 0;
  m->size = 0;
  m->freed = 0;
  m->dev = 0;
  m->ino = 0;
}

int vbm_open_scan(const char *path, uint64_t need, vbm_map *m, int *fd, char *why, size_t whyLen) {
  map_clear(m);
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    snprintf(why, whyLen, "cannot open (%s)", strerror(errno));
    return VBM_MAP_FAILED;
  }
  struct stat st;
  int r = VBM_MAP_OK;
  unsigned char magic[2] = {0, 0};
  if (fstat(*fd, &st) != 0) {
    snprintf(why, whyLen, "cannot stat (%s)", strerror(errno));
    r = VBM_MAP_FAILED;
  } else {
    m->size = (uint64_t)st.st_size;
    m->dev = (uint64_t)st.st_dev;
    m->ino = (uint64_t)st.st_ino;
    if ((uint64_t)st.st_size < need) {
      snprintf(why, whyLen, "the file is %llu bytes but its header claims %llu", (unsigned long long)st.st_size,
               (unsigned long long)need);
      r = VBM_MAP_SHORT;
    } else if (pread(*fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
      snprintf(why, whyLen, "the file is gzip-compressed but not named .gz");
      r = VBM_MAP_GZIP;
    }
  }
  if (r != VBM_MAP_OK) {
    close(*fd);
    *fd = -1;
  }
  return r;
}

int vbm_map_range(const char *path, uint64_t need, uint64_t lo, uint64_t hi, vbm_map *m, char *why, size_t whyLen) {
  if (lo >= hi || hi > need) {
    map_clear(m);
    snprintf(why, whyLen, "bytes %llu-%llu lie outside the %llu bytes of voxel data", (unsigned long long)lo,
             (unsigned long long)hi, (unsigned long long)need);
    return VBM_MAP_FAILED;
  }
  int fd;
  const int r = vbm_open_scan(path, need, m, &fd, why, whyLen);
  if (r != VBM_MAP_OK) return r;
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
  m->freed = start;
  return VBM_MAP_OK;
}

bool vbm_read_at(int fd, uint8_t *buf, size_t n, uint64_t at, uint64_t *got) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = pread(fd, buf + done, n - done, (off_t)(at + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      *got = done;
      return false;
    }
    done += (size_t)r;
  }
  *got = done;
  return true;
}

/* Unmap the whole pages of `m` below file offset `below` (the rest stays mapped). */
static void unmap_below(vbm_map *m, uint64_t below) {
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
  if (m->freed < m->start) m->freed = m->start;
}

/* Bytes of m from its start to the whole page at or below file offset `below` (at most its length). */
static uint64_t cut_of(const vbm_map *m, uint64_t below) {
  if (!m->map || below <= m->start) return 0;
  uint64_t cut = below - m->start;
  cut -= cut % page_size();
  return cut < m->len ? cut : m->len;
}

#if defined(__linux__) && defined(SYS_process_madvise) && defined(SYS_pidfd_open)
/* 0 once process_madvise has been refused (a kernel before 6.13, a sandbox): munmap from then on */
static int release_works = 1;
enum { RELEASE_BATCH = 512 }; /* ranges per call (the kernel takes up to 1024) */

/* process_madvise(MADV_DONTNEED) of ranges [a, b) of maps: true if every byte was released. */
static int release_batch(int pidfd, vbm_map *maps, const size_t *idx, const uint64_t *to, size_t k) {
  struct iovec iov[RELEASE_BATCH];
  size_t want = 0;
  for (size_t i = 0; i < k; i++) {
    const vbm_map *m = &maps[idx[i]];
    iov[i].iov_base = m->map + (m->freed - m->start);
    iov[i].iov_len = (size_t)(to[i] - (m->freed - m->start));
    want += iov[i].iov_len;
  }
  const long r = syscall(SYS_process_madvise, pidfd, iov, k, MADV_DONTNEED, 0);
  if (r < 0 || (size_t)r != want) return 0;
  for (size_t i = 0; i < k; i++) maps[idx[i]].freed = maps[idx[i]].start + to[i];
  return 1;
}
#endif

int vbm_release_mode(int mode) {
#if defined(__linux__) && defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  if (mode == 0 || mode == 1) __atomic_store_n(&release_works, mode, __ATOMIC_RELAXED);
  return __atomic_load_n(&release_works, __ATOMIC_RELAXED);
#else
  (void)mode;
  return 0;
#endif
}

void vbm_release_below(vbm_map *maps, size_t n, const double *base, uint64_t rel) {
#if defined(__linux__) && defined(SYS_process_madvise) && defined(SYS_pidfd_open)
  if (__atomic_load_n(&release_works, __ATOMIC_RELAXED)) {
    const int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    int ok = pidfd >= 0;
    size_t idx[RELEASE_BATCH], k = 0;
    uint64_t to[RELEASE_BATCH];
    for (size_t s = 0; s < n && ok; s++) {
      const uint64_t cut = cut_of(&maps[s], (uint64_t)base[s] + rel);
      if (cut <= maps[s].freed - maps[s].start) continue;
      idx[k] = s, to[k] = cut, k++;
      if (k == RELEASE_BATCH || s + 1 == n) {
        ok = release_batch(pidfd, maps, idx, to, k);
        k = 0;
      }
    }
    if (ok && k) ok = release_batch(pidfd, maps, idx, to, k);
    if (pidfd >= 0) close(pidfd);
    if (ok) return;
    __atomic_store_n(&release_works, 0, __ATOMIC_RELAXED);
  }
#endif
  for (size_t s = 0; s < n; s++) unmap_below(&maps[s], (uint64_t)base[s] + rel);
}

void vbm_unmap(vbm_map *m) {
  if (m->map) munmap(m->map, m->len);
  m->map = NULL;
  m->len = 0;
}
