/*
 * A standalone harness for the native fit kernel's inner loops (native/vbm_fit.c's fit_block and the
 * kernels it dispatches to), for profiling them outside Node (perf record -e cpu-clock, valgrind
 * --tool=cachegrind) on the seed-size cohort's real scans and mask. It includes vbm_fit.c itself;
 * the N-API part is never called (linked with its symbols left unresolved).
 *
 *   gcc -O3 -ffp-contract=off -fno-fast-math -I/usr/include/node bench/fit-kernel-harness.c -o /tmp/fkh -lm \
 *       -Wl,--unresolved-symbols=ignore-all
 *   /tmp/fkh COHORT_DIR [scans=190] [kernel=auto|avx512|avx2|scalar] [check=0|1] [pool=24]
 *
 * It lays the sums out as accumulateWasm.ts does (p = 5 design terms, the residual sums, 8 scan
 * slots), copies `pool` scans of the cohort into the slots batch by batch (as the fit's reads do:
 * the kernel then finds them in memory, not in cache) and folds `scans` scans in batches of 8, block
 * by block as js_fit_batch does; every sixth scan is a residual scan (64 of the cohort's 379).
 * Prints the kernel's CPU time (CLOCK_THREAD_CPUTIME_ID) and ns per voxel-scan; with check=1 it
 * runs the scalar kernel on a second copy of the sums and compares every sum's bytes.
 *
 * Settings (environment): FKH_BLOCK voxels per block (1024, accumulate.ts BLOCK); FKH_RESID a
 * residual scan every so many (6; 0: none); FKH_HUGE=1 madvise(MADV_HUGEPAGE) on the memory;
 * FKH_PERK=1 also the TSC cycles by slot (the batch's first scan finds the sums in memory, the
 * others in cache); FKH_HOT=N the compute-bound rate: N consecutive candidates (choose N not a
 * power of two: rows at power-of-two strides alias in L1) and the slots copied once, so the scans
 * and sums stay in cache.
 */
#define _GNU_SOURCE
#include "../native/vbm_fit.c"
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>
#include <sys/mman.h>

#ifndef BATCH
#define BATCH 8
#endif
#define P 5

static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *read_nii(const char *path, int64_t nvox) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  uint8_t hdr[352];
  if (fread(hdr, 1, 352, f) != 352) exit(1);
  int16_t dt;
  float off;
  memcpy(&dt, hdr + 70, 2);
  memcpy(&off, hdr + 108, 4);
  fseek(f, (long)off, SEEK_SET);
  float *out = malloc(4 * nvox);
  if (dt == 16) {
    if (fread(out, 4, nvox, f) != (size_t)nvox) exit(1);
  } else if (dt == 2) {
    uint8_t *b = malloc(nvox);
    if (fread(b, 1, nvox, f) != (size_t)nvox) exit(1);
    for (int64_t i = 0; i < nvox; i++) out[i] = b[i];
    free(b);
  } else {
    fprintf(stderr, "%s: datatype %d\n", path, dt);
    exit(1);
  }
  fclose(f);
  return out;
}

typedef struct {
  uint8_t *mem;
  size_t bytes;
  int32_t at;
  fit_ctx x;
  int32_t xty, rxty, sumsAt, sumsEnd, slot[BATCH], terms, stats;
} layout;

static int32_t take(layout *L, int64_t bytes) {
  const int32_t a = L->at;
  L->at += (int32_t)((bytes + 63) & ~63);
  return a;
}

static void make(layout *L, const int32_t *cand, int n, int nx, int ny, int nz) {
  const int64_t nvox = (int64_t)nx * ny * nz;
  const int nPad = n + (n % 2);
  memset(L, 0, sizeof *L);
  L->at = 64;
  fit_header *h = &L->x.h;
  h->nan = take(L, 16);
  h->cand = take(L, 4 * nPad);
  h->nbx = take(L, 4 * nPad);
  h->nby = take(L, 4 * nPad);
  h->nbz = take(L, 4 * nPad);
  h->ok = take(L, nPad);
  h->vmin = take(L, 4 * nPad);
  h->vmax = take(L, 4 * nPad);
  L->sumsAt = h->yy = take(L, 8 * nPad);
  L->xty = take(L, 8 * nPad * P);
  h->ryy = take(L, 8 * nPad * 7);
  L->rxty = take(L, 8 * nPad * P);
  L->sumsEnd = L->at;
  L->terms = take(L, 16 * P * BATCH);
  L->stats = take(L, 32 * BATCH);
  for (int k = 0; k < BATCH; k++) L->slot[k] = take(L, 4 * nvox + 64);
  h->stride = 8 * nPad;
  h->n = n;
  h->block = getenv("FKH_BLOCK") ? atoi(getenv("FKH_BLOCK")) : 1024;
  h->nvox = (int32_t)nvox;
  L->bytes = L->at;
  L->mem = aligned_alloc(1 << 21, (L->bytes + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1));
  if (getenv("FKH_HUGE")) madvise(L->mem, (L->bytes + (1 << 21) - 1) & ~(size_t)((1 << 21) - 1), MADV_HUGEPAGE);
  memset(L->mem, 0, L->bytes);
  L->x.mem = L->mem;
  memcpy(L->mem + h->cand, cand, 4 * n);
  int32_t *nb[3] = {(int32_t *)(L->mem + h->nbx), (int32_t *)(L->mem + h->nby), (int32_t *)(L->mem + h->nbz)};
  for (int c = 0; c < n; c++) {
    const int32_t i = cand[c], xi = i % nx, yi = (i / nx) % ny, zi = i / (nx * ny);
    nb[0][c] = xi + 1 < nx ? i + 1 : -1;
    nb[1][c] = yi + 1 < ny ? i + nx : -1;
    nb[2][c] = zi + 1 < nz ? i + nx * ny : -1;
  }
  memset(L->mem + h->ok, 1, (size_t)(uint32_t)n);
  for (int c = 0; c < n; c++) {
    ((float *)(L->mem + h->vmin))[c] = INFINITY;
    ((float *)(L->mem + h->vmax))[c] = -INFINITY;
  }
}

/* every how many scans a residual scan (FKH_RESID, default 6; 0: none) */
static int resid_every = 6;
/* FKH_HOT: slots copied once; FKH_PERK: TSC cycles by slot (and residual or not) */
static int hot = 0, perk = 0;
static double cycles[BATCH][2];

typedef void (*kernel_fn)(const fit_ctx *, int, int, const float *, double, double, bool, const uint8_t *, int, bool,
                          double *);

/* fold scans [s0, s0 + count) of the pool into L's sums, as js_fit_batch does; returns the kernel's CPU s */
static double batch(layout *L, kernel_fn fn, float **pool, int npool, int s0, int count, double *copyCpu) {
  const fit_header *h = &L->x.h;
  double t0 = cpu_now();
  if (!hot || s0 == 0)
    for (int k = 0; k < count; k++) memcpy(L->mem + L->slot[k], pool[(s0 + k) % npool], 4 * (size_t)h->nvox);
  for (int k = 0; k < count; k++) {
    /* the design: centred covariates, all five terms non-zero (as design5.csv's) */
    const int s = s0 + k;
    uint8_t *t = L->mem + L->terms + 16 * P * k;
    for (int j = 0; j < P; j++) {
      const int32_t xr = L->xty + 8 * j * (h->stride / 8), rr = L->rxty + 8 * j * (h->stride / 8);
      const double a = j == 0 ? 1 : 0.37 * j + 0.011 * (s % 37) - 0.2;
      memcpy(t + 16 * j, &xr, 4);
      memcpy(t + 16 * j + 4, &rr, 4);
      memcpy(t + 16 * j + 8, &a, 8);
    }
    memset(L->mem + L->stats + 32 * k, 0, 32);
  }
  double t1 = cpu_now();
  *copyCpu += t1 - t0;
  for (int c0 = 0; c0 < h->n; c0 += h->block) {
    const int c1 = h->n - c0 < h->block ? h->n : c0 + h->block;
    for (int k = 0; k < count; k++) {
      const int s = s0 + k;
      const bool resid = resid_every > 0 && s % resid_every == 0;
      const unsigned long long t = perk ? __rdtsc() : 0;
      fn(&L->x, c0, c1, (const float *)(L->mem + L->slot[k]), 1.0, -INFINITY, false, L->mem + L->terms + 16 * P * k,
         P, resid, (double *)(L->mem + L->stats + 32 * k));
      if (perk) cycles[k][resid] += (double)(__rdtsc() - t);
    }
  }
  return cpu_now() - t1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s COHORT_DIR [scans] [kernel] [check] [pool]\n", argv[0]);
    return 2;
  }
  const char *dir = argv[1];
  const int scans = argc > 2 ? atoi(argv[2]) : 190;
  const char *kname = argc > 3 ? argv[3] : "auto";
  const int check = argc > 4 ? atoi(argv[4]) : 0;
  const int npool = argc > 5 ? atoi(argv[5]) : 24;
  if (getenv("FKH_RESID")) resid_every = atoi(getenv("FKH_RESID"));
  if (getenv("FKH_HOT")) hot = atoi(getenv("FKH_HOT"));
  perk = getenv("FKH_PERK") != NULL;
  const int nx = 121, ny = 145, nz = 121;
  const int64_t nvox = (int64_t)nx * ny * nz;
  char path[4096];
  snprintf(path, sizeof path, "%s/brainmask.nii", dir);
  float *mask = read_nii(path, nvox);
  int32_t *cand = malloc(4 * nvox);
  int n = 0;
  if (hot)
    for (n = 0; n < hot && n < nvox / 2; n++) cand[n] = (int32_t)(nvox / 4 + n);
  else
    for (int64_t i = 0; i < nvox; i++)
      if (mask[i] > 0) cand[n++] = (int32_t)i;
  float **pool = malloc(sizeof(float *) * npool);
  for (int s = 0; s < npool; s++) {
    snprintf(path, sizeof path, "%s/scans/smwc1sub-%04d.nii", dir, s + 1);
    pool[s] = read_nii(path, nvox);
  }
  kernel_fn fn = fit_block;
  if (!strcmp(kname, "scalar")) fn = fit_scalar;
  else if (!strcmp(kname, "avx2")) fn = fit_avx2;
#if 1 /* fit_avx512 */
  else if (!strcmp(kname, "avx512")) fn = fit_avx512;
#endif
  else if (strcmp(kname, "auto")) {
    fprintf(stderr, "no kernel %s\n", kname);
    return 2;
  }
  layout L, R;
  make(&L, cand, n, nx, ny, nz);
  if (check) make(&R, cand, n, nx, ny, nz);
  double kcpu = 0, ccpu = 0, rc = 0, rk = 0;
  long residScans = 0;
  for (int s0 = 0; s0 < scans; s0 += BATCH) {
    const int count = scans - s0 < BATCH ? scans - s0 : BATCH;
    for (int k = 0; k < count; k++) residScans += resid_every > 0 && (s0 + k) % resid_every == 0;
    kcpu += batch(&L, fn, pool, npool, s0, count, &ccpu);
    if (check) {
      rk += batch(&R, fit_scalar, pool, npool, s0, count, &rc);
      if (memcmp(L.mem + L.stats, R.mem + R.stats, 24 * 1)) {
        /* removed, nonZero, finite must agree exactly; sum may be added in another order */
        for (int k = 0; k < count; k++)
          if (memcmp(L.mem + L.stats + 32 * k, R.mem + R.stats + 32 * k, 24)) {
            fprintf(stderr, "scan %d: counts differ\n", s0 + k);
            return 1;
          }
      }
    }
  }
  printf("%d voxels, %d scans (%ld residual), kernel %s: %.1f ms CPU, %.3f ns per voxel-scan; copies %.1f ms\n", n,
         scans, residScans, kname, 1e3 * kcpu, 1e9 * kcpu / ((double)n * scans), 1e3 * ccpu);
  for (int k = 0; perk && k < BATCH; k++)
    printf("  slot %d: %.1f M cycles (residual scans %.1f M)\n", k, cycles[k][0] / 1e6, cycles[k][1] / 1e6);
  if (check) {
    const fit_header *h = &L.x.h;
    int bad = 0;
    if (memcmp(L.mem + h->ok, R.mem + h->ok, n)) bad |= 1;
    if (memcmp(L.mem + h->vmin, R.mem + h->vmin, 4 * n)) bad |= 2;
    if (memcmp(L.mem + h->vmax, R.mem + h->vmax, 4 * n)) bad |= 4;
    if (memcmp(L.mem + L.sumsAt, R.mem + R.sumsAt, L.sumsEnd - L.sumsAt)) bad |= 8;
    printf("check against the scalar kernel (%.1f ms): %s (%d)\n", 1e3 * rk, bad ? "DIFFERENT" : "same bytes", bad);
    return bad ? 1 : 0;
  }
  return 0;
}
