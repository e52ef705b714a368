/*
 * Work of the addon run on a thread of its own (a plain POSIX thread: no JavaScript isolate to start),
 * settled on the calling JavaScript thread as a promise. The caller checks its arguments on the
 * JavaScript thread first, so the work touches only plain memory: C copies of what it needs and the
 * data of typed arrays, which stay referenced (alive) until the promise settles.
 */
#ifndef VBM_ASYNC_H
#define VBM_ASYNC_H
#include <node_api.h>
#include <stddef.h>

/* What a task's work says when it fails: an error code for JavaScript's `e.code` ("" for none), and why. */
typedef struct {
  char code[32];
  char message[480];
} vbm_failure;

/* The work: 0 when it succeeded, else nonzero with `fail` filled in. Runs on the task's own thread. */
typedef int (*vbm_work)(void *data, vbm_failure *fail);

/*
 * Run work(data) on a new thread and return a promise that resolves with undefined when it succeeds, or
 * rejects with an Error of the failure's message and code (also when no thread can be started). `keep`:
 * the JavaScript values whose memory the work uses, held until the promise settles; done(data) frees the
 * task's own memory then. NULL, with an exception pending and done(data) called, only when there is no
 * memory for the task, a value of `keep` cannot be referenced, or no promise can be made. If the
 * environment is torn down first (its Worker terminated), the teardown waits for the task's thread to end.
 */
napi_value vbm_run_async(napi_env env, vbm_work work, void (*done)(void *data), void *data, const napi_value *keep,
                         size_t nKeep);

/*
 * part(ctx, t, T) for t = 0..T-1 at once: t = 0 on the calling thread, the others on threads of their
 * own, all ended when this returns. A part whose thread cannot be started runs on the calling thread
 * after part 0 (so the work is done either way; parts must not wait for each other).
 */
void vbm_parallel(int T, void (*part)(void *ctx, int t, int T), void *ctx);
#endif
