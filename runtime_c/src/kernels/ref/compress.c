/* Compress (docs/dynamic_shapes.md): the slices of x along AxisOptions.axis
 * whose condition (bool [L]) is true; slices past L are dropped (the compiler
 * flattens x for Compress without an axis). The output is planned for
 * min(L, dim) slices along the axis, that dim data-dependent. */
#include <string.h>

#include "kernel.h"

typedef struct compress_params {
  int64_t outer, dim, inner; /* inner in bytes */
  int64_t len;               /* condition entries read: min(L, dim) */
} compress_params;

static ec_status prepare_compress(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *cond = n->tin[1], *y = n->tout[0];
  st = ec_check_dtype(n, y, x->dtype, "output");
  if (st == EC_OK) st = ec_check_dtype(n, cond, EC_BOOL, "condition");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= x->rank || y->rank != x->rank || cond->rank != 1)
    return ec_node_error(n, EC_ERR_SHAPE, "axis %lld, input rank %d, output rank %d, "
                         "condition rank %d", (long long)axis, x->rank, y->rank, cond->rank);
  st = ec_check_dyn(n, y, 1u << axis, "output");
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(compress_params));
  if (st != EC_OK) return st;
  compress_params *p = n->params;
  p->outer = 1;
  p->inner = (int64_t)ec_dtype_size(x->dtype);
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->dim = x->shape[axis];
  p->len = cond->shape[0] < p->dim ? cond->shape[0] : p->dim;
  for (int32_t d = 0; d < x->rank; d++)
    if (y->shape[d] != (d == axis ? p->len : x->shape[d]))
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, expected %lld", d,
                           (long long)y->shape[d], (long long)(d == axis ? p->len : x->shape[d]));
  return EC_OK;
}

static void eval_compress(const ec_node *n, const ec_exec *ex) {
  const compress_params *p = n->params;
  const uint8_t *x = ex->data[n->in[0]], *cond = ex->data[n->in[1]];
  uint8_t *y = ex->data[n->out[0]];
  int64_t kept = 0;
  for (int64_t i = 0; i < p->len; i++) kept += cond[i] != 0;
  ec_set_dim(ex, n->tout[0], (int32_t)n->opt.u.axis.axis, kept);
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->len; i++)
      if (cond[i]) {
        memcpy(y, x + (o * p->dim + i) * p->inner, (size_t)p->inner);
        y += p->inner;
      }
}

EC_KERNEL(ec_kernel_compress, "compress", prepare_compress, eval_compress)
