/* NonZero (docs/dynamic_shapes.md): the coordinates of the non-zero elements
 * of x (any dtype; NaN counts as non-zero, -0.0 as zero), in row-major order,
 * as int64 [rank, count]. The output is planned for count = numel(x), its
 * dim 1 data-dependent; eval counts first, then writes the [rank, count]
 * result densely. */
#include "kernel.h"
#include "kernels/ref/elem.h"

static ec_status prepare_non_zero(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  st = ec_check_dtype(n, y, EC_INT64, "output");
  if (st == EC_OK) st = ec_check_dyn(n, y, 2u, "output");
  if (st != EC_OK) return st;
  if (x->rank < 1 || y->rank != 2 || y->shape[0] != x->rank || y->shape[1] != x->numel)
    return ec_node_error(n, EC_ERR_SHAPE, "output must be [%d, %lld] for an input of rank %d",
                         x->rank, (long long)x->numel, x->rank);
  return EC_OK;
}

static bool nonzero(ec_dtype dt, const void *x, int64_t i) {
  switch (dt) {
    case EC_FLOAT32: return ((const float *)x)[i] != 0.0f;
    case EC_BOOL:
    case EC_INT8:
    case EC_UINT8: return ((const uint8_t *)x)[i] != 0;
    case EC_INT32: return ((const int32_t *)x)[i] != 0;
    case EC_INT64: return ((const int64_t *)x)[i] != 0;
    default:
      return ec_dtype_is_float(dt) ? ec_load_f64(dt, x, i) != 0.0 : ec_load_bits(dt, x, i) != 0;
  }
}

static void eval_non_zero(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *xt = n->tin[0];
  const void *x = ex->data[n->in[0]];
  int64_t *y = ex->data[n->out[0]];
  const int32_t r = xt->rank;
  int64_t count = 0;
  for (int64_t i = 0; i < xt->numel; i++) count += nonzero(xt->dtype, x, i);
  ec_set_dim(ex, n->tout[0], 1, count);
  int64_t coord[EC_MAX_RANK] = {0};
  int64_t j = 0;
  for (int64_t i = 0; i < xt->numel; i++) {
    if (nonzero(xt->dtype, x, i)) {
      for (int32_t d = 0; d < r; d++) y[d * count + j] = coord[d];
      j++;
    }
    for (int32_t d = r - 1; d >= 0; d--) { /* the next row-major coordinate */
      if (++coord[d] < xt->shape[d]) break;
      coord[d] = 0;
    }
  }
}

EC_KERNEL(ec_kernel_non_zero, "non_zero", prepare_non_zero, eval_non_zero)
