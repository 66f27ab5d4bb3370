/* Status names, the thread-local last error, and prepare-time helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

static _Thread_local char last_error[512];

ec_status ec_set_error(ec_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

ec_status ec_node_error(const ec_node *node, ec_status status, const char *fmt,
                        ...) {
  char detail[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return ec_set_error(status, "instruction %u (%s '%s'): %s", node->index,
                      node->op ? node->op : "?", node->name,
                      detail);
}

ec_status ec_tensor_error(ec_status status, size_t index, const char *name, const char *fmt,
                          ...) {
  char detail[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return ec_set_error(status, "tensor %zu ('%s'): %s", index, name, detail);
}

EC_API ec_status ec_last_error(const char **out_message) {
  if (out_message == NULL) return EC_ERR_INVALID_ARGUMENT;
  *out_message = last_error;
  return EC_OK;
}

EC_API const char *ec_status_name(ec_status status) {
  switch (status) {
    case EC_OK: return "ok";
    case EC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case EC_ERR_IO: return "i/o error";
    case EC_ERR_FORMAT: return "malformed file";
    case EC_ERR_VERSION: return "unsupported format version";
    case EC_ERR_CHECKSUM: return "checksum mismatch";
    case EC_ERR_UNSUPPORTED: return "unsupported";
    case EC_ERR_NO_MEMORY: return "out of memory";
    case EC_ERR_SHAPE: return "shape mismatch";
    case EC_ERR_DTYPE: return "dtype mismatch";
    case EC_ERR_BACKEND: return "backend unavailable";
    case EC_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

size_t ec_dtype_size(ec_dtype dtype) {
  switch (dtype) {
    case EC_FLOAT32: case EC_INT32: case EC_UINT32: return 4;
    case EC_FLOAT16: case EC_INT16: case EC_UINT16: case EC_BFLOAT16: return 2;
    case EC_INT8: case EC_UINT8: case EC_BOOL: return 1;
    case EC_INT64: case EC_FLOAT64: case EC_UINT64: return 8;
  }
  return 0;
}

const char *ec_dtype_name(ec_dtype dtype) {
  /* an array of arrays, not of pointers: no dynamic relocation each */
  static const char names[][9] = {"float32", "float16", "int8",   "uint8",  "int32",
                                  "int64",   "bool",    "float64", "int16", "uint16",
                                  "uint32",  "uint64",  "bfloat16"};
  return (unsigned)dtype < sizeof names / sizeof names[0] ? names[dtype] : "?";
}

ec_status ec_check_arity(const ec_node *node, int32_t min_in, int32_t max_in,
                         int32_t n_out) {
  if (node->n_in < min_in || node->n_in > max_in)
    return ec_node_error(node, EC_ERR_FORMAT, "has %d inputs, expected %d..%d",
                         node->n_in, min_in, max_in);
  if (node->n_out != n_out)
    return ec_node_error(node, EC_ERR_FORMAT, "has %d outputs, expected %d",
                         node->n_out, n_out);
  for (int32_t i = 0; i < min_in; i++)
    if (node->tin[i] == NULL)
      return ec_node_error(node, EC_ERR_FORMAT, "required input %d is absent",
                           i);
  return EC_OK;
}

ec_status ec_check_dtype(const ec_node *node, const ec_tensor_desc *t,
                         ec_dtype expected, const char *what) {
  if (t->dtype != expected)
    return ec_node_error(node, EC_ERR_DTYPE, "%s is %s, expected %s", what,
                         ec_dtype_name(t->dtype), ec_dtype_name(expected));
  return EC_OK;
}

ec_status ec_check_same_shape(const ec_node *node, const ec_tensor_desc *a,
                              const ec_tensor_desc *b, const char *what) {
  bool same = a->rank == b->rank;
  for (int32_t i = 0; same && i < a->rank; i++) same = a->shape[i] == b->shape[i];
  if (!same)
    return ec_node_error(node, EC_ERR_SHAPE, "%s: shapes differ", what);
  return EC_OK;
}

ec_status ec_check_options(const ec_node *node, unsigned type) {
  const unsigned want = type & 0xffu, have = node->opt.type;
  if (have == want || (have == 0 && (type & EC_OPTIONS_OR_NONE))) return EC_OK;
  const char *name = EC_FB_OPOPTIONS_NAMES; /* the member names, in order */
  for (unsigned i = 1; i < want && i <= EC_FB_OPOPTIONS_COUNT; i++)
    while (*name++) {}
  return ec_node_error(node, EC_ERR_FORMAT, "options are not %s", name);
}

ec_status ec_check_scratch(const ec_node *node, uint64_t need) {
  if (node->scratch_size < need)
    return ec_node_error(node, EC_ERR_FORMAT, "scratch of %llu bytes, needs %llu",
                         (unsigned long long)node->scratch_size, (unsigned long long)need);
  return EC_OK;
}

ec_status ec_variant_error(const ec_node *node) {
  return ec_node_error(node, EC_ERR_UNSUPPORTED, "unknown kernel variant 0x%x",
                       (unsigned)node->variant);
}

ec_status ec_check_act(const ec_node *node, unsigned kind) {
  if (kind <= EC_FB_ACTIVATION_GELU) return EC_OK; /* = ec_act_valid */
  return ec_node_error(node, EC_ERR_UNSUPPORTED, "unknown activation %u", kind);
}

ec_status ec_sizes_error(const ec_node *node) {
  return ec_node_error(node, EC_ERR_SHAPE, "sizes too large");
}

ec_status ec_check_axis_options(const ec_node *node, uint32_t flags, int64_t lo, int64_t hi) {
  ec_status st = ec_check_options(node, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_axis_options *o = &node->opt.u.axis;
  if (o->flags & ~flags)
    return ec_node_error(node, EC_ERR_FORMAT, "unknown flags 0x%x", (unsigned)o->flags);
  if (o->axis < lo || o->axis >= hi)
    return ec_node_error(node, EC_ERR_FORMAT, "axis %lld out of range for rank %d",
                         (long long)o->axis, node->tin[0]->rank);
  return EC_OK;
}

ec_status ec_check_residual(const ec_node *node) {
  if (node->n_in != 4) return EC_OK;
  if (!node->tin[3]) return ec_node_error(node, EC_ERR_FORMAT, "residual input is absent");
  return ec_check_same_shape(node, node->tin[3], node->tout[0], "residual");
}

ec_status ec_check_conv_ranks(const ec_node *node, int32_t w_rank) {
  const int32_t r = node->tin[0]->rank;
  if (r != 3 && r != 4)
    return ec_node_error(node, EC_ERR_UNSUPPORTED, "input of rank %d (1-D and 2-D only)", r);
  if (node->tin[1]->rank != (w_rank ? w_rank : r) || node->tout[0]->rank != r)
    return ec_node_error(node, EC_ERR_SHAPE, "input, weight and output ranks differ");
  return EC_OK;
}

ec_status ec_check_vec(const ec_node *node, const ec_tensor_desc *t, int64_t len,
                       const char *what) {
  if (t && (t->rank != 1 || t->shape[0] != len))
    return ec_node_error(node, EC_ERR_SHAPE, "%s must have shape (%lld)", what,
                         (long long)len);
  return EC_OK;
}

ec_status ec_alloc_params(ec_node *node, size_t bytes) {
  free(node->params);
  node->params = calloc(1, bytes ? bytes : 1);
  if (node->params == NULL)
    return ec_node_error(node, EC_ERR_NO_MEMORY, "cannot allocate %zu bytes",
                         bytes);
  return EC_OK;
}

ec_status ec_check_dyn(const ec_node *node, const ec_tensor_desc *t, uint32_t mask,
                       const char *what) {
  if (t->dyn_mask != mask)
    return ec_node_error(node, EC_ERR_FORMAT,
                         "%s '%s' has data-dependent dims 0x%x, expected 0x%x", what, t->name,
                         (unsigned)t->dyn_mask, (unsigned)mask);
  return EC_OK;
}
