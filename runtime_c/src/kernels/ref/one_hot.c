/* OneHot: indices (float32, int8, uint8, int32 or int64) and values (two
 * elements of the output dtype: off, on) to an output with one more axis,
 * AxisOptions.axis, whose extent is the depth. out[..., d, ...] = on where
 * d equals the index (negative indices count from the end), else off; an
 * index outside [-depth, depth) gives a row of off. */
#include <math.h>
#include <string.h>

#include "kernel.h"

typedef struct onehot_params {
  int64_t outer, depth, inner;
} onehot_params;

static ec_status prepare_one_hot(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *ind = n->tin[0], *vals = n->tin[1], *out = n->tout[0];
  if (ind->dtype != EC_FLOAT32 && ind->dtype != EC_INT8 && ind->dtype != EC_UINT8 &&
      ind->dtype != EC_INT32 && ind->dtype != EC_INT64)
    return ec_node_error(n, EC_ERR_DTYPE, "%s indices", ec_dtype_name(ind->dtype));
  st = ec_check_dtype(n, out, vals->dtype, "output");
  if (st != EC_OK) return st;
  if (vals->numel != 2)
    return ec_node_error(n, EC_ERR_SHAPE, "values has %lld elements, expected 2",
                         (long long)vals->numel);
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (out->rank != ind->rank + 1 || axis < 0 || axis >= out->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "output rank %d, indices rank %d, axis %lld",
                         out->rank, ind->rank, (long long)axis);
  for (int32_t d = 0; d < out->rank; d++) {
    if (d == axis) continue;
    const int64_t want = ind->shape[d < axis ? d : d - 1];
    if (out->shape[d] != want)
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, expected %lld", d,
                           (long long)out->shape[d], (long long)want);
  }
  st = ec_alloc_params(n, sizeof(onehot_params));
  if (st != EC_OK) return st;
  onehot_params *p = n->params;
  if (out->numel == 0) return EC_OK;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < out->rank; d++) {
    if (d < axis) p->outer *= out->shape[d];
    if (d > axis) p->inner *= out->shape[d];
  }
  p->depth = out->shape[axis];
  return EC_OK;
}

static int64_t load_index(ec_dtype dt, const void *x, int64_t e, bool *valid) {
  *valid = true;
  switch (dt) {
    case EC_FLOAT32: {
      const float f = ((const float *)x)[e];
      if (!(fabsf(f) < 9.0e18f)) { /* NaN, inf or beyond int64 */
        *valid = false;
        return 0;
      }
      return (int64_t)f;
    }
    case EC_INT8: return ((const int8_t *)x)[e];
    case EC_UINT8: return ((const uint8_t *)x)[e];
    case EC_INT32: return ((const int32_t *)x)[e];
    default: return ((const int64_t *)x)[e];
  }
}

static void eval_one_hot(const ec_node *n, const ec_exec *ex) {
  const onehot_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const ec_dtype it = n->tin[0]->dtype;
  const size_t es = ec_dtype_size(n->tout[0]->dtype);
  const void *ind = ex->data[n->in[0]];
  const uint8_t *vals = ex->data[n->in[1]];
  uint8_t *y = ex->data[n->out[0]];
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      bool valid;
      int64_t k = load_index(it, ind, o * p->inner + i, &valid);
      if (valid && k < 0) k += p->depth;
      for (int64_t d = 0; d < p->depth; d++) {
        const bool on = valid && d == k;
        memcpy(y + (size_t)((o * p->depth + d) * p->inner + i) * es, vals + (on ? es : 0), es);
      }
    }
}

EC_KERNEL(ec_kernel_one_hot, "one_hot", prepare_one_hot, eval_one_hot)
