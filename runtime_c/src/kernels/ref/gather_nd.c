/* GatherND of any dtype with int32 or int64 indices and AxisOptions.size
 * batch dims b: each index tuple (the last indices dimension, m entries)
 * selects a slice data[batch..., i_1, ..., i_m, ...]. Negative indices count
 * from the end; a tuple with an entry still out of range (an error in ONNX)
 * gives a zero slice, so bad data cannot read out of bounds. */
#include <string.h>

#include "kernel.h"

typedef struct gnd_params {
  int64_t batches;   /* product of the batch dims */
  int64_t tuples;    /* index tuples per batch */
  int64_t m;         /* entries per tuple */
  int64_t inner;     /* bytes per slice */
  int64_t batch_bytes;
  int64_t dims[EC_MAX_RANK], strides[EC_MAX_RANK]; /* of the m indexed axes; strides in bytes */
  bool idx64, empty_data;
} gnd_params;

static ec_status prepare_gather_nd(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1], *out = n->tout[0];
  st = ec_check_dtype(n, out, data->dtype, "output");
  if (st != EC_OK) return st;
  if (ind->dtype != EC_INT32 && ind->dtype != EC_INT64)
    return ec_node_error(n, EC_ERR_DTYPE, "indices are %s, expected int32 or int64",
                         ec_dtype_name(ind->dtype));
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t b = n->opt.u.axis.size;
  const int32_t r = data->rank, q = ind->rank;
  if (q < 1 || b < 0 || b >= r || b >= q)
    return ec_node_error(n, EC_ERR_SHAPE, "data rank %d, indices rank %d, batch_dims %lld", r,
                         q, (long long)b);
  const int64_t m = ind->shape[q - 1];
  if (m < 1 || m > r - b)
    return ec_node_error(n, EC_ERR_SHAPE, "index tuples of %lld entries for rank %d, batch %lld",
                         (long long)m, r, (long long)b);
  if (out->rank != q - 1 + r - b - m)
    return ec_node_error(n, EC_ERR_SHAPE, "output rank %d, expected %lld", out->rank,
                         (long long)(q - 1 + r - b - m));
  for (int32_t d = 0; d < out->rank; d++) {
    const int64_t want = d < q - 1 ? ind->shape[d] : data->shape[d - (q - 1) + b + m];
    if (out->shape[d] != want || (d < b && data->shape[d] != ind->shape[d]))
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, expected %lld", d,
                           (long long)out->shape[d], (long long)want);
  }
  st = ec_alloc_params(n, sizeof(gnd_params));
  if (st != EC_OK) return st;
  gnd_params *p = n->params;
  p->idx64 = ind->dtype == EC_INT64;
  p->m = m;
  if (out->numel == 0) return EC_OK;
  p->empty_data = data->numel == 0;
  const size_t es = ec_dtype_size(data->dtype);
  p->batches = 1;
  for (int32_t d = 0; d < b; d++) p->batches *= data->shape[d];
  p->tuples = 1;
  for (int32_t d = (int32_t)b; d < q - 1; d++) p->tuples *= ind->shape[d];
  p->inner = (int64_t)es;
  for (int32_t d = (int32_t)(b + m); d < r; d++) p->inner *= data->shape[d];
  if (p->empty_data) return EC_OK; /* every tuple out of range */
  int64_t s = p->inner;
  for (int64_t k = m - 1; k >= 0; k--) {
    p->dims[k] = data->shape[b + k];
    p->strides[k] = s;
    s *= data->shape[b + k];
  }
  p->batch_bytes = s;
  return EC_OK;
}

static void eval_gather_nd(const ec_node *n, const ec_exec *ex) {
  const gnd_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const uint8_t *x = ex->data[n->in[0]];
  const void *ind = ex->data[n->in[1]];
  uint8_t *y = ex->data[n->out[0]];
  int64_t t = 0; /* tuple counter over all batches */
  for (int64_t bi = 0; bi < p->batches; bi++) {
    for (int64_t j = 0; j < p->tuples; j++, t++) {
      uint8_t *dst = y + t * p->inner;
      int64_t off = bi * p->batch_bytes;
      bool ok = !p->empty_data;
      for (int64_t k = 0; k < p->m && ok; k++) {
        const int64_t e = t * p->m + k;
        int64_t v = p->idx64 ? ((const int64_t *)ind)[e] : ((const int32_t *)ind)[e];
        if (v < 0) v += p->dims[k];
        ok = v >= 0 && v < p->dims[k];
        off += v * p->strides[k];
      }
      if (ok)
        memcpy(dst, x + off, (size_t)p->inner);
      else
        memset(dst, 0, (size_t)p->inner);
    }
  }
}

EC_KERNEL(ec_kernel_gather_nd, "gather_nd", prepare_gather_nd, eval_gather_nd)
