/* ScatterElements of any dtype along AxisOptions.axis: the output is the
 * data with output[i... with i[axis] = indices[i...]] combined with
 * updates[i...] (flags bits 0-2: replace, add, mul, max, min), in the order
 * of the updates. Indices are int32 or int64; negative ones count from the
 * end; one still out of range is skipped (an error in ONNX), so bad data
 * cannot write out of bounds. */
#include <string.h>

#include "kernels/ref/scatter_common.h"

typedef struct se_params {
  int32_t rank, axis;
  uint32_t mode;
  int64_t dim;
  int64_t dstride[EC_MAX_RANK];
  bool idx64;
  size_t esize;
} se_params;

static ec_status prepare_scatter_elements(ec_node *n) {
  ec_status st = ec_check_arity(n, 3, 3, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1], *upd = n->tin[2];
  st = ec_check_dtype(n, n->tout[0], data->dtype, "output");
  if (st == EC_OK) st = ec_check_dtype(n, upd, data->dtype, "updates");
  if (st == EC_OK) st = ec_check_same_shape(n, data, n->tout[0], "data/output");
  if (st == EC_OK) st = ec_check_same_shape(n, ind, upd, "indices/updates");
  if (st != EC_OK) return st;
  if (ind->dtype != EC_INT32 && ind->dtype != EC_INT64)
    return ec_node_error(n, EC_ERR_DTYPE, "indices are %s, expected int32 or int64",
                         ec_dtype_name(ind->dtype));
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  const uint32_t mode = n->opt.u.axis.flags & 7u;
  st = ec_scatter_check_mode(n, mode, data->dtype);
  if (st != EC_OK) return st;
  if (data->rank < 1 || ind->rank != data->rank || axis < 0 || axis >= data->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "data rank %d, indices rank %d, axis %lld",
                         data->rank, ind->rank, (long long)axis);
  for (int32_t d = 0; d < data->rank; d++)
    if (d != axis && ind->shape[d] > data->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "indices dimension %d is %lld > data's %lld", d,
                           (long long)ind->shape[d], (long long)data->shape[d]);
  st = ec_alloc_params(n, sizeof(se_params));
  if (st != EC_OK) return st;
  se_params *p = n->params;
  p->rank = data->rank;
  p->axis = (int32_t)axis;
  p->mode = mode;
  p->dim = data->shape[axis];
  p->idx64 = ind->dtype == EC_INT64;
  p->esize = ec_dtype_size(data->dtype);
  if (ind->numel == 0) return EC_OK;
  int64_t s = 1; /* indices non-empty: every data dim >= 1, strides bounded by numel */
  for (int32_t d = data->rank - 1; d >= 0; d--) {
    p->dstride[d] = s;
    s *= data->shape[d];
  }
  return EC_OK;
}

static void eval_scatter_elements(const ec_node *n, const ec_exec *ex) {
  const se_params *p = n->params;
  const ec_tensor_desc *ind_t = n->tin[1];
  uint8_t *y = ex->data[n->out[0]];
  const uint8_t *x = ex->data[n->in[0]];
  if (x != y) memmove(y, x, n->tout[0]->size);
  if (ind_t->numel == 0) return;
  const void *ind = ex->data[n->in[1]];
  const uint8_t *upd = ex->data[n->in[2]];
  const ec_dtype dt = n->tin[0]->dtype;
  int64_t idx[EC_MAX_RANK] = {0};
  int64_t base = 0;
  for (int64_t u = 0; u < ind_t->numel; u++) {
    int64_t k = p->idx64 ? ((const int64_t *)ind)[u] : ((const int32_t *)ind)[u];
    if (k < 0) k += p->dim;
    if (k >= 0 && k < p->dim)
      ec_scatter_combine(dt, p->mode, y + (size_t)(base + k * p->dstride[p->axis]) * p->esize,
                         upd + (size_t)u * p->esize, 1);
    for (int32_t d = p->rank - 1; d >= 0; d--) {
      if (d != p->axis) base += p->dstride[d];
      if (++idx[d] < ind_t->shape[d]) break;
      if (d != p->axis) base -= idx[d] * p->dstride[d];
      idx[d] = 0;
    }
  }
}

EC_KERNEL(ec_kernel_scatter_elements, "scatter_elements", prepare_scatter_elements, eval_scatter_elements)
