/*
 * vbm_run_async (vbm_async.h): a POSIX thread per task, and a thread-safe function that brings the
 * task's end back to the JavaScript thread, where its promise settles and its references are dropped.
 * A task's thread costs tens of microseconds to start; a worker_thread costs a JavaScript isolate's
 * bootstrap (~0.1 s of CPU on the project machine), which is what this replaces for the fit's loops.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "vbm_async.h"

typedef struct {
  vbm_work work;
  void (*done)(void *data);
  void *data;
  napi_deferred deferred;
  napi_threadsafe_function tsfn;
  napi_ref *refs;
  size_t nRefs;
  int status;
  vbm_failure fail;
  /* the task's thread (joinable), and whether the environment's teardown waits for it (task_teardown) */
  pthread_t thread;
  bool hooked, joined;
} vbm_task;

/*
 * The environment's teardown (a Worker terminated while a task runs): wait for the task's thread to end
 * before the environment frees the arrays it writes into and unloads the addon whose code it runs. The
 * promise is left unsettled then (nothing can run), and the task's memory is left to the process.
 */
static void task_teardown(void *arg) {
  vbm_task *t = arg;
  pthread_join(t->thread, NULL);
  t->joined = true;
}

/* the task's references dropped and its memory freed (on the JavaScript thread) */
static void task_free(napi_env env, vbm_task *t) {
  if (t->hooked) napi_remove_env_cleanup_hook(env, task_teardown, t);
  for (size_t i = 0; i < t->nRefs; i++)
    if (t->refs[i]) napi_delete_reference(env, t->refs[i]);
  free(t->refs);
  if (t->done) t->done(t->data);
  free(t);
}

/* the promise rejected with the failure's message and code */
static void reject(napi_env env, napi_deferred deferred, const vbm_failure *fail) {
  napi_value msg, code = NULL, err;
  napi_create_string_utf8(env, fail->message, NAPI_AUTO_LENGTH, &msg);
  if (fail->code[0]) napi_create_string_utf8(env, fail->code, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &err);
  napi_reject_deferred(env, deferred, err);
}

/* on the JavaScript thread, once the work has ended: settle the promise (env is NULL at teardown) */
static void settle(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)js_cb, (void)context;
  vbm_task *t = data;
  if (!env) return;
  if (t->status == 0) {
    napi_value u;
    napi_get_undefined(env, &u);
    napi_resolve_deferred(env, t->deferred, u);
  } else
    reject(env, t->deferred, &t->fail);
  /* the thread has queued this call and only releases the thread-safe function after it: a short wait */
  if (!t->joined) pthread_join(t->thread, NULL);
  t->joined = true;
  task_free(env, t);
}

static void *task_thread(void *arg) {
  vbm_task *t = arg;
  napi_threadsafe_function tsfn = t->tsfn;
  t->status = t->work(t->data, &t->fail);
  napi_call_threadsafe_function(tsfn, t, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

napi_value vbm_run_async(napi_env env, vbm_work work, void (*done)(void *data), void *data, const napi_value *keep,
                         size_t nKeep) {
  vbm_task *t = calloc(1, sizeof *t);
  napi_ref *refs = calloc(nKeep ? nKeep : 1, sizeof *refs);
  if (!t || !refs) {
    free(t), free(refs);
    if (done) done(data);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  t->work = work, t->done = done, t->data = data, t->refs = refs, t->nRefs = nKeep;
  for (size_t i = 0; i < nKeep; i++) {
    napi_valuetype type;
    if (napi_typeof(env, keep[i], &type) == napi_ok && (type == napi_object || type == napi_function) &&
        napi_create_reference(env, keep[i], 1, &refs[i]) != napi_ok) {
      /* a value the work would use could be collected while the thread writes into it: no thread then */
      refs[i] = NULL;
      task_free(env, t);
      napi_throw_error(env, NULL, "cannot keep a native thread's arrays (napi_create_reference)");
      return NULL;
    }
  }
  napi_value promise, name;
  if (napi_create_promise(env, &t->deferred, &promise) != napi_ok) {
    task_free(env, t);
    napi_throw_error(env, NULL, "cannot make a promise");
    return NULL;
  }
  napi_create_string_utf8(env, "vbm native task", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, settle, &t->tsfn) != napi_ok) {
    const vbm_failure fail = {"", "cannot start a native thread (thread-safe function)"};
    reject(env, t->deferred, &fail);
    task_free(env, t);
    return promise;
  }
  const int e = pthread_create(&t->thread, NULL, task_thread, t);
  if (e) {
    napi_release_threadsafe_function(t->tsfn, napi_tsfn_abort);
    vbm_failure fail = {"", ""};
    strncpy(fail.message, "cannot start a native thread: ", sizeof fail.message - 1);
    strncat(fail.message, strerror(e), sizeof fail.message - strlen(fail.message) - 1);
    reject(env, t->deferred, &fail);
    task_free(env, t);
  } else
    t->hooked = napi_add_env_cleanup_hook(env, task_teardown, t) == napi_ok;
  return promise;
}

typedef struct {
  void (*part)(void *ctx, int t, int T);
  void *ctx;
  int t, T;
} vbm_part;

static void *part_thread(void *arg) {
  vbm_part *q = arg;
  q->part(q->ctx, q->t, q->T);
  return NULL;
}

void vbm_parallel(int T, void (*part)(void *ctx, int t, int T), void *ctx) {
  enum { MAX_PARTS = 64 };
  if (T < 1) T = 1;
  if (T > MAX_PARTS) T = MAX_PARTS;
  vbm_part parts[MAX_PARTS];
  pthread_t threads[MAX_PARTS];
  bool started[MAX_PARTS] = {false};
  for (int t = 1; t < T; t++) {
    parts[t] = (vbm_part){part, ctx, t, T};
    started[t] = pthread_create(&threads[t], NULL, part_thread, &parts[t]) == 0;
  }
  part(ctx, 0, T);
  for (int t = 1; t < T; t++) {
    if (started[t])
      pthread_join(threads[t], NULL);
    else
      part(ctx, t, T);
  }
}
