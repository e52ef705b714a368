/*
 * Memory advice (vbm_memory.h). Where the machine's transparent huge pages are set to `madvise`
 * (Debian's default), big arrays get 4 KiB pages unless asked; each first touch of one is then a page
 * fault, and on a virtual machine whose balloon hands freed memory back to its host, a fault into the
 * host as well. The fit's totals, the solve's arrays and the smoothness's scratch are big and new.
 *
 * JavaScript API (registered by vbm_memory_register from vbm_kernel.c's module init):
 *   adviseHugePages(...arrays): the bytes of typed arrays advised (vbm_advise_huge), a number.
 */
#define _GNU_SOURCE
#include "vbm_memory.h"
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "vbm_napi.h"

enum { HUGE_BYTES = 2 << 20 };

size_t vbm_advise_huge(void *p, size_t n) {
#if defined(MADV_HUGEPAGE)
  const uintptr_t a = (uintptr_t)p, lo = (a + HUGE_BYTES - 1) / HUGE_BYTES * HUGE_BYTES;
  const uintptr_t hi = (a + n) / HUGE_BYTES * HUGE_BYTES;
  if (!p || hi <= lo) return 0;
  return madvise((void *)lo, hi - lo, MADV_HUGEPAGE) == 0 ? hi - lo : 0;
#else
  (void)p, (void)n;
  return 0;
#endif
}

void *vbm_malloc_big(size_t n) {
  /* below 1 MiB 64-byte aligned all the same (the fit's arena was aligned_alloc(64): its rows whole cache lines) */
  if (n < HUGE_BYTES / 2) return aligned_alloc(64, (n + 63) / 64 * 64);
  /* whole 2 MiB pages from their first byte: a faulted huge page is never half this array's */
  const size_t whole = (n + HUGE_BYTES - 1) / HUGE_BYTES * HUGE_BYTES;
  void *p = aligned_alloc(HUGE_BYTES, whole);
  if (p) vbm_advise_huge(p, whole);
  return p;
}

static napi_value js_advise_huge_pages(napi_env env, napi_callback_info info) {
  size_t argc = 16;
  napi_value argv[16];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc > 16)
    return vbm_throw(env, "adviseHugePages: at most 16 typed arrays expected");
  double advised = 0;
  for (size_t i = 0; i < argc; i++) {
    void *d;
    size_t bytes;
    if (!vbm_typed_bytes(env, argv[i], &d, &bytes)) return vbm_throw(env, "adviseHugePages: typed arrays expected");
    advised += (double)vbm_advise_huge(d, bytes);
  }
  napi_value out;
  napi_create_double(env, advised, &out);
  return out;
}

void vbm_memory_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "adviseHugePages", NAPI_AUTO_LENGTH, js_advise_huge_pages, NULL, &fn);
  napi_set_named_property(env, exports, "adviseHugePages", fn);
}
