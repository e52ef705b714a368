/*
 * Memory advice for the addon's and the caller's big arrays (vbm_memory.c).
 */
#ifndef VBM_MEMORY_H
#define VBM_MEMORY_H
#include <node_api.h>
#include <stddef.h>

/*
 * Ask the kernel to back the whole 2 MiB pages inside [p, p + n) with transparent huge pages
 * (madvise MADV_HUGEPAGE) before anything touches them: one fault and one zeroing per 2 MiB instead
 * of 512. Nothing where the system has no THP, the range holds no whole 2 MiB page, or the kernel
 * refuses (the memory is the same either way). Returns the bytes advised.
 */
size_t vbm_advise_huge(void *p, size_t n);

/*
 * malloc(n) for a big array (freed with free), aligned to 64 bytes: from 1 MiB, whole 2 MiB pages
 * aligned to 2 MiB, advised as vbm_advise_huge does. NULL when out of memory.
 */
void *vbm_malloc_big(size_t n);

void vbm_memory_register(napi_env env, napi_value exports);
#endif
