/* Gather of any dtype along AxisOptions.axis with int32 or int64 indices:
 * out[a..., i..., b...] = data[a..., indices[i...], b...]. Negative indices
 * count from the end of the axis. An index still outside [0, dim) after
 * that (an error in ONNX) is never read: its output slice is zero-filled,
 * so bad data cannot crash the runtime or read out of bounds. */
#include <string.h>

#include "kernel.h"

#define GRAIN_BYTES 65536

typedef struct gather_params {
  int64_t outer; /* product of the data dimensions before the axis */
  int64_t dim;   /* data dimension along the axis */
  int64_t inner; /* bytes per index (product of the dims after the axis) */
  int64_t n_idx;
  bool idx64;
} gather_params;

static ec_status prepare_gather(ec_node *n) {
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
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= data->rank)
    return ec_node_error(n, EC_ERR_FORMAT, "axis %lld outside rank %d", (long long)axis,
                         data->rank);
  if (out->rank != data->rank - 1 + ind->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "output rank %d, expected %d", out->rank,
                         data->rank - 1 + ind->rank);
  const int32_t a = (int32_t)axis;
  for (int32_t d = 0; d < out->rank; d++) {
    int64_t want;
    if (d < a)
      want = data->shape[d];
    else if (d < a + ind->rank)
      want = ind->shape[d - a];
    else
      want = data->shape[d - ind->rank + 1];
    if (out->shape[d] != want)
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, expected %lld", d,
                           (long long)out->shape[d], (long long)want);
  }
  st = ec_alloc_params(n, sizeof(gather_params));
  if (st != EC_OK) return st;
  gather_params *p = n->params;
  if (out->numel == 0) return EC_OK; /* n_idx 0: eval does nothing */
  /* the dims multiplied here are output dims, all non-zero: no overflow */
  p->outer = 1;
  p->inner = (int64_t)ec_dtype_size(data->dtype);
  for (int32_t d = 0; d < data->rank; d++) {
    if (d < a) p->outer *= data->shape[d];
    if (d > a) p->inner *= data->shape[d];
  }
  p->dim = data->shape[a];
  p->n_idx = ind->numel;
  p->idx64 = ind->dtype == EC_INT64;
  return EC_OK;
}

typedef struct gather_ctx {
  const gather_params *p;
  const uint8_t *x;
  const void *ind;
  uint8_t *y;
} gather_ctx;

/* Work item u = o * n_idx + j: copies data[o, indices[j]] to output slice u. */
static void gather_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const gather_ctx *c = vc;
  const gather_params *p = c->p;
  const int64_t inner = p->inner, dim = p->dim;
  int64_t o = begin / p->n_idx, j = begin % p->n_idx;
  for (int64_t u = begin; u < end; u++) {
    int64_t k = p->idx64 ? ((const int64_t *)c->ind)[j] : ((const int32_t *)c->ind)[j];
    if (k < 0) k += dim;
    uint8_t *dst = c->y + u * inner;
    if (k >= 0 && k < dim)
      memcpy(dst, c->x + (o * dim + k) * inner, (size_t)inner);
    else
      memset(dst, 0, (size_t)inner);
    if (++j == p->n_idx) {
      j = 0;
      o++;
    }
  }
}

static void run_gather(const gather_params *p, const ec_node *n, const ec_exec *ex) {
  if (p->inner == 0 || p->n_idx == 0 || p->outer == 0) return;
  gather_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]]};
  int64_t grain = GRAIN_BYTES / p->inner;
  ec_parallel_for(ex, p->outer * p->n_idx, grain > 0 ? grain : 1, gather_range, &c);
}

static void eval_gather(const ec_node *n, const ec_exec *ex) { run_gather(n->params, n, ex); }

EC_KERNEL(ec_kernel_gather, "gather", prepare_gather, eval_gather)

/* ---- GATHER_DYN: a data-dependent operand (docs/dynamic_shapes.md) ---------- */

static ec_status prepare_gather_dyn(ec_node *n) {
  ec_status st = prepare_gather(n); /* the checks, at the upper bound */
  if (st != EC_OK) return st;
  /* the data's data-dependent dims only before the axis, the indices' anywhere;
   * the output keeps both where they land */
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1];
  const int32_t a = (int32_t)n->opt.u.axis.axis;
  if (data->dyn_mask >> a != 0)
    return ec_node_error(n, EC_ERR_FORMAT, "data has data-dependent dims at or after the axis");
  return ec_check_dyn(n, n->tout[0], data->dyn_mask | ind->dyn_mask << a, "output");
}

/* outer and n_idx from the actual shapes */
static void eval_gather_dyn(const ec_node *n, const ec_exec *ex) {
  const gather_params *p = n->params;
  const ec_tensor_desc *data = n->tin[0], *ind = n->tin[1], *out = n->tout[0];
  const int32_t a = (int32_t)n->opt.u.axis.axis;
  const int64_t *dd = ec_dims(ex, data), *id = ec_dims(ex, ind);
  for (int32_t d = 0; d < out->rank; d++)
    ec_set_dim(ex, out, d, d < a ? dd[d] : d < a + ind->rank ? id[d - a] : out->shape[d]);
  if (p->inner == 0) return; /* the output's planned size is 0 */
  gather_params actual = *p;
  actual.outer = 1;
  for (int32_t d = 0; d < a; d++) actual.outer *= dd[d];
  actual.n_idx = ec_numel(ex, ind);
  run_gather(&actual, n, ex);
}

EC_KERNEL(ec_kernel_gather_dyn, "gather_dyn", prepare_gather_dyn, eval_gather_dyn)
