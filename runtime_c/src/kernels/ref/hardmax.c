/* Hardmax along AxisOptions.axis on float32 or float16: 1 at the first
 * largest element of every slice (NaN counts as the largest), 0 elsewhere. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/f16.h"

typedef struct hardmax_params {
  int64_t outer, dim, inner;
} hardmax_params;

static ec_status prepare_hardmax(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  if (x->dtype != EC_FLOAT32 && x->dtype != EC_FLOAT16)
    return ec_node_error(n, EC_ERR_DTYPE, "%s input, expected float32 or float16",
                         ec_dtype_name(x->dtype));
  st = ec_check_dtype(n, n->tout[0], x->dtype, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, x, n->tout[0], "input/output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (x->rank < 1 || axis < 0 || axis >= x->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "axis %lld outside rank %d", (long long)axis,
                         x->rank);
  st = ec_alloc_params(n, sizeof(hardmax_params));
  if (st != EC_OK) return st;
  hardmax_params *p = n->params;
  if (x->numel == 0) return EC_OK;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->dim = x->shape[axis];
  return EC_OK;
}

static void eval_hardmax(const ec_node *n, const ec_exec *ex) {
  const hardmax_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const bool half = n->tin[0]->dtype == EC_FLOAT16;
  const void *x = ex->data[n->in[0]];
  void *y = ex->data[n->out[0]];
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      int64_t best = 0;
      float bv = 0.0f;
      for (int64_t j = 0; j < p->dim; j++) {
        const int64_t e = (o * p->dim + j) * p->inner + i;
        const float v = half ? ec_f16_to_f32(((const uint16_t *)x)[e]) : ((const float *)x)[e];
        if (j == 0 || (!isnan(bv) && (isnan(v) || v > bv))) {
          best = j;
          bv = v;
        }
      }
      for (int64_t j = 0; j < p->dim; j++) {
        const int64_t e = (o * p->dim + j) * p->inner + i;
        const float v = j == best ? 1.0f : 0.0f;
        if (half)
          ((uint16_t *)y)[e] = ec_f32_to_f16(v);
        else
          ((float *)y)[e] = v;
      }
    }
}

EC_KERNEL(ec_kernel_hardmax, "hardmax", prepare_hardmax, eval_hardmax)
