/* ScatterND of any dtype: the output is the data with the slice each index
 * tuple (the last indices dimension, m entries) selects combined with the
 * matching slice of updates (AxisOptions.flags bits 0-2: replace, add, mul,
 * max, min), in order. Indices are int32 or int64; negative entries count
 * from the end; a tuple still out of range is skipped (an error in ONNX). */
#include <string.h>

#include "kernels/ref/scatter_common.h"

typedef struct snd_params {
  int64_t tuples, m;
  int64_t inner; /* elements per slice */
  int64_t dims[EC_MAX_RANK], strides[EC_MAX_RANK]; /* elements */
  uint32_t mode;
  bool idx64;
} snd_params;

static ec_status prepare_scatter_nd(ec_node *n) {
  ec_status st = ec_check_arity(n, 3, 3, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1], *upd = n->tin[2];
  st = ec_check_dtype(n, n->tout[0], data->dtype, "output");
  if (st == EC_OK) st = ec_check_dtype(n, upd, data->dtype, "updates");
  if (st == EC_OK) st = ec_check_same_shape(n, data, n->tout[0], "data/output");
  if (st != EC_OK) return st;
  if (ind->dtype != EC_INT32 && ind->dtype != EC_INT64)
    return ec_node_error(n, EC_ERR_DTYPE, "indices are %s, expected int32 or int64",
                         ec_dtype_name(ind->dtype));
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const uint32_t mode = n->opt.u.axis.flags & 7u;
  st = ec_scatter_check_mode(n, mode, data->dtype);
  if (st != EC_OK) return st;
  const int32_t r = data->rank, q = ind->rank;
  const int64_t m = q >= 1 ? ind->shape[q - 1] : 0;
  if (q < 1 || m < 1 || m > r || upd->rank != q - 1 + r - m)
    return ec_node_error(n, EC_ERR_SHAPE, "data rank %d, indices rank %d, updates rank %d", r,
                         q, upd->rank);
  for (int32_t d = 0; d < upd->rank; d++) {
    const int64_t want = d < q - 1 ? ind->shape[d] : data->shape[d - (q - 1) + m];
    if (upd->shape[d] != want)
      return ec_node_error(n, EC_ERR_SHAPE, "updates dimension %d is %lld, expected %lld", d,
                           (long long)upd->shape[d], (long long)want);
  }
  st = ec_alloc_params(n, sizeof(snd_params));
  if (st != EC_OK) return st;
  snd_params *p = n->params;
  p->mode = mode;
  p->idx64 = ind->dtype == EC_INT64;
  p->m = m;
  if (upd->numel == 0) return EC_OK; /* tuples 0: nothing to write */
  /* updates non-empty: the slice dims and the tuple count are non-zero, the
   * data has elements, its strides are bounded by its numel */
  p->tuples = 1;
  for (int32_t d = 0; d < q - 1; d++) p->tuples *= ind->shape[d];
  p->inner = 1;
  for (int32_t d = (int32_t)m; d < r; d++) p->inner *= data->shape[d];
  int64_t s = p->inner;
  for (int64_t k = m - 1; k >= 0; k--) {
    p->dims[k] = data->shape[k];
    p->strides[k] = s;
    s *= data->shape[k];
  }
  return EC_OK;
}

static void eval_scatter_nd(const ec_node *n, const ec_exec *ex) {
  const snd_params *p = n->params;
  uint8_t *y = ex->data[n->out[0]];
  const uint8_t *x = ex->data[n->in[0]];
  if (x != y) memmove(y, x, n->tout[0]->size);
  if (n->tin[2]->numel == 0) return;
  const void *ind = ex->data[n->in[1]];
  const uint8_t *upd = ex->data[n->in[2]];
  const ec_dtype dt = n->tin[0]->dtype;
  const size_t es = ec_dtype_size(dt);
  for (int64_t t = 0; t < p->tuples; t++) {
    int64_t off = 0;
    bool ok = true;
    for (int64_t k = 0; k < p->m && ok; k++) {
      const int64_t e = t * p->m + k;
      int64_t v = p->idx64 ? ((const int64_t *)ind)[e] : ((const int32_t *)ind)[e];
      if (v < 0) v += p->dims[k];
      ok = v >= 0 && v < p->dims[k];
      off += v * p->strides[k];
    }
    if (ok)
      ec_scatter_combine(dt, p->mode, y + (size_t)off * es, upd + (size_t)(t * p->inner) * es,
                         p->inner);
  }
}

EC_KERNEL(ec_kernel_scatter_nd, "scatter_nd", prepare_scatter_nd, eval_scatter_nd)
