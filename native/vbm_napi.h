/*
 * N-API helpers every C file of the addon uses: a typed array's data of the wanted kind (or of any
 * kind, in bytes), and a thrown error.
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

/* v's data and size in bytes when it is a typed array of any kind (NULL data: none, or no memory yet) */
static inline bool vbm_typed_bytes(napi_env env, napi_value v, void **data, size_t *bytes) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t length, offset;
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, &length, data, &buffer, &offset) != napi_ok)
    return false;
  size_t el = 1;
  if (type == napi_int16_array || type == napi_uint16_array) el = 2;
  if (type == napi_int32_array || type == napi_uint32_array || type == napi_float32_array) el = 4;
  if (type == napi_float64_array || type == napi_bigint64_array || type == napi_biguint64_array) el = 8;
  *bytes = *data ? length * el : 0;
  return true;
}

/* throw a JavaScript Error with `msg`; returns NULL for the caller to return */
static inline napi_value vbm_throw(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}
#endif
