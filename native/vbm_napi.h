/*
 * N-API helpers every C file of the addon uses: a typed array's data of the wanted kind, and a
 * thrown error.
 */
#ifndef VBM_NAPI_H
#define VBM_NAPI_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

/* v's elements and length when it is a typed array of kind `want` (a zero-length one may have no data) */
static inline bool vbm_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  return napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) == napi_ok && type == want &&
         (*data != NULL || *length == 0);
}

/* throw a JavaScript Error with `msg`; returns NULL for the caller to return */
static inline napi_value vbm_throw(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}
#endif
