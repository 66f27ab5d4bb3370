/* Concat of any number of inputs of any dtype along AxisOptions.axis.
 * Every tensor is viewed as [outer, bytes]: outer is the product of the
 * dimensions before the axis, and output row o is the concatenation of
 * row o of every input. */
#include <string.h>

#include "kernel.h"

#define GRAIN_BYTES 65536

typedef struct concat_params {
  int64_t outer; /* product of the dimensions before the axis */
  int64_t row;   /* output bytes per outer index */
  int32_t n;
  int64_t chunk[]; /* bytes per outer index of each input */
} concat_params;

static ec_status prepare_concat(ec_node *n) {
  if (n->n_in < 1)
    return ec_node_error(n, EC_ERR_FORMAT, "has no inputs");
  ec_status st = ec_check_arity(n, n->n_in, n->n_in, 1);
  if (st != EC_OK) return st;
  if (n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  const ec_tensor_desc *out = n->tout[0];
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= out->rank)
    return ec_node_error(n, EC_ERR_FORMAT, "axis %lld outside rank %d", (long long)axis,
                         out->rank);
  int64_t total = 0;
  for (int32_t k = 0; k < n->n_in; k++) {
    const ec_tensor_desc *t = n->tin[k];
    st = ec_check_dtype(n, t, out->dtype, "input");
    if (st != EC_OK) return st;
    if (t->rank != out->rank)
      return ec_node_error(n, EC_ERR_SHAPE, "input %d has rank %d, output %d", k, t->rank,
                           out->rank);
    for (int32_t d = 0; d < out->rank; d++)
      if (d != axis && t->shape[d] != out->shape[d])
        return ec_node_error(n, EC_ERR_SHAPE, "input %d dimension %d is %lld, output %lld", k,
                             d, (long long)t->shape[d], (long long)out->shape[d]);
    total += t->shape[axis];
  }
  if (total != out->shape[axis])
    return ec_node_error(n, EC_ERR_SHAPE, "inputs sum to %lld along axis %lld, output has %lld",
                         (long long)total, (long long)axis, (long long)out->shape[axis]);
  st = ec_alloc_params(n, sizeof(concat_params) + (size_t)n->n_in * sizeof(int64_t));
  if (st != EC_OK) return st;
  concat_params *p = n->params;
  if (out->numel == 0) return EC_OK; /* row 0: eval does nothing */
  /* every dimension is non-zero now, so these products are at most out->size */
  int64_t inner = (int64_t)ec_dtype_size(out->dtype), outer = 1;
  for (int32_t d = 0; d < out->rank; d++) {
    if (d < axis) outer *= out->shape[d];
    if (d > axis) inner *= out->shape[d];
  }
  p->outer = outer;
  p->row = out->shape[axis] * inner;
  p->n = n->n_in;
  for (int32_t k = 0; k < n->n_in; k++) p->chunk[k] = n->tin[k]->shape[axis] * inner;
  return EC_OK;
}

typedef struct concat_ctx {
  const ec_node *node;
  const ec_exec *exec;
} concat_ctx;

static void concat_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const concat_ctx *c = vc;
  const concat_params *p = c->node->params;
  uint8_t *out = c->exec->data[c->node->out[0]];
  for (int64_t o = begin; o < end; o++) {
    uint8_t *dst = out + o * p->row;
    for (int32_t k = 0; k < p->n; k++) {
      const int64_t len = p->chunk[k];
      if (len == 0) continue;
      const uint8_t *src = c->exec->data[c->node->in[k]];
      memcpy(dst, src + o * len, (size_t)len);
      dst += len;
    }
  }
}

static void eval_concat(const ec_node *n, const ec_exec *ex) {
  const concat_params *p = n->params;
  if (p->row == 0) return;
  concat_ctx c = {n, ex};
  int64_t grain = GRAIN_BYTES / p->row;
  ec_parallel_for(ex, p->outer, grain > 0 ? grain : 1, concat_range, &c);
}

const ec_kernel ec_kernel_concat = {"concat", prepare_concat, eval_concat};
