/* GatherElements of any dtype along AxisOptions.axis with int32 or int64
 * indices of the data's rank: out[i...] = data[i... with i[axis] =
 * indices[i...]]. Negative indices count from the end of the axis; one still
 * outside [0, dim) (an error in ONNX) is never read: its output element is
 * zero, so bad data cannot crash the runtime or read out of bounds. */
#include <string.h>

#include "kernel.h"

typedef struct ge_params {
  int32_t rank, axis;
  int64_t dim;                     /* data extent along the axis */
  int64_t dstride[EC_MAX_RANK];    /* data strides, elements */
  bool idx64;
  size_t esize;
} ge_params;

static ec_status prepare_gather_elements(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1], *out = n->tout[0];
  st = ec_check_dtype(n, out, data->dtype, "output");
  if (st != EC_OK) return st;
  if (ind->dtype != EC_INT32 && ind->dtype != EC_INT64)
    return ec_node_error(n, EC_ERR_DTYPE, "indices are %s, expected int32 or int64",
                         ec_dtype_name(ind->dtype));
  st = ec_check_same_shape(n, ind, out, "indices/output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (data->rank < 1 || ind->rank != data->rank || axis < 0 || axis >= data->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "data rank %d, indices rank %d, axis %lld",
                         data->rank, ind->rank, (long long)axis);
  for (int32_t d = 0; d < data->rank; d++)
    if (d != axis && ind->shape[d] > data->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "indices dimension %d is %lld > data's %lld", d,
                           (long long)ind->shape[d], (long long)data->shape[d]);
  st = ec_alloc_params(n, sizeof(ge_params));
  if (st != EC_OK) return st;
  ge_params *p = n->params;
  p->rank = data->rank;
  p->axis = (int32_t)axis;
  p->dim = data->shape[axis];
  p->idx64 = ind->dtype == EC_INT64;
  p->esize = ec_dtype_size(data->dtype);
  if (out->numel == 0) return EC_OK;
  /* out has elements, so every indices dim is >= 1 and <= the data dim: the
   * data has elements too and its strides do not overflow */
  int64_t s = 1;
  for (int32_t d = data->rank - 1; d >= 0; d--) {
    p->dstride[d] = s;
    s *= data->shape[d];
  }
  return EC_OK;
}

static void eval_gather_elements(const ec_node *n, const ec_exec *ex) {
  const ge_params *p = n->params;
  const ec_tensor_desc *out = n->tout[0];
  if (out->numel == 0) return;
  const uint8_t *x = ex->data[n->in[0]];
  const void *ind = ex->data[n->in[1]];
  uint8_t *y = ex->data[n->out[0]];
  int64_t idx[EC_MAX_RANK] = {0};
  int64_t base = 0; /* data offset of idx with idx[axis] = 0 */
  for (int64_t u = 0; u < out->numel; u++) {
    int64_t k = p->idx64 ? ((const int64_t *)ind)[u] : ((const int32_t *)ind)[u];
    if (k < 0) k += p->dim;
    if (k >= 0 && k < p->dim)
      memcpy(y + (size_t)u * p->esize, x + (size_t)(base + k * p->dstride[p->axis]) * p->esize,
             p->esize);
    else
      memset(y + (size_t)u * p->esize, 0, p->esize);
    for (int32_t d = p->rank - 1; d >= 0; d--) { /* next output index */
      if (d != p->axis) base += p->dstride[d];
      if (++idx[d] < out->shape[d]) break;
      if (d != p->axis) base -= idx[d] * p->dstride[d];
      idx[d] = 0;
    }
  }
}

EC_KERNEL(ec_kernel_gather_elements, "gather_elements", prepare_gather_elements, eval_gather_elements)
