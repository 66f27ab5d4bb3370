/* Trilu of any dtype (rank >= 2): keeps the upper (AxisOptions.flags bit 0)
 * or lower triangle of every matrix in the last two dims, above or below
 * diagonal k, and zeroes the rest. k is input 1 (an int64 or int32 scalar,
 * read at run time; absent: 0). */
#include <string.h>

#include "kernel.h"

static ec_status prepare_trilu(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  st = ec_check_dtype(n, n->tout[0], x->dtype, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, x, n->tout[0], "input/output");
  if (st != EC_OK) return st;
  if (x->rank < 2) return ec_node_error(n, EC_ERR_SHAPE, "rank %d < 2", x->rank);
  if (n->n_in > 1 && n->tin[1] != NULL) {
    const ec_tensor_desc *k = n->tin[1];
    if ((k->dtype != EC_INT64 && k->dtype != EC_INT32) || k->numel != 1)
      return ec_node_error(n, EC_ERR_SHAPE, "k must be one int64, got %lld %s",
                           (long long)k->numel, ec_dtype_name(k->dtype));
  }
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS | EC_OPTIONS_OR_NONE);
  if (st != EC_OK) return st;
  return EC_OK;
}

static void eval_trilu(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *x = n->tin[0];
  if (x->numel == 0) return;
  int64_t k = 0;
  if (n->n_in > 1 && n->in[1] >= 0) {
    const void *kp = ex->data[n->in[1]];
    k = n->tin[1]->dtype == EC_INT64 ? *(const int64_t *)kp : *(const int32_t *)kp;
  }
  const bool upper = n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS && (n->opt.u.axis.flags & 1u);
  const int64_t rows = x->shape[x->rank - 2], cols = x->shape[x->rank - 1];
  const size_t es = ec_dtype_size(x->dtype);
  const uint8_t *src = ex->data[n->in[0]];
  uint8_t *dst = ex->data[n->out[0]];
  const int64_t mats = x->numel / (rows * cols);
  for (int64_t b = 0; b < mats; b++) {
    for (int64_t i = 0; i < rows; i++) {
      const size_t row = (size_t)((b * rows + i) * cols) * es;
      for (int64_t j = 0; j < cols; j++) {
        /* j - i >= k keeps the upper part; j - i <= k the lower (no overflow:
         * k is compared with a difference of two dims) */
        const int64_t diff = j - i;
        const bool keep = upper ? diff >= k : diff <= k;
        uint8_t *d = dst + row + (size_t)j * es;
        if (keep)
          memmove(d, src + row + (size_t)j * es, es);
        else
          memset(d, 0, es);
      }
    }
  }
}

EC_KERNEL(ec_kernel_trilu, "trilu", prepare_trilu, eval_trilu)
