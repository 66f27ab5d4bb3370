/* Split of one input of any dtype into any number of outputs along
 * AxisOptions.axis; the output shapes give the sizes. The mirror image of
 * Concat: input row o (outer index) is cut into row o of every output. */
#include <string.h>

#include "kernel.h"

#define GRAIN_BYTES 65536

typedef struct split_params {
  int64_t outer; /* product of the dimensions before the axis */
  int64_t row;   /* input bytes per outer index */
  int32_t n;
  int64_t chunk[]; /* bytes per outer index of each output */
} split_params;

static ec_status prepare_split(ec_node *n) {
  if (n->n_out < 1)
    return ec_node_error(n, EC_ERR_FORMAT, "has no outputs");
  ec_status st = ec_check_arity(n, 1, 1, n->n_out);
  if (st != EC_OK) return st;
  if (n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  const ec_tensor_desc *in = n->tin[0];
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= in->rank)
    return ec_node_error(n, EC_ERR_FORMAT, "axis %lld outside rank %d", (long long)axis,
                         in->rank);
  int64_t total = 0;
  for (int32_t k = 0; k < n->n_out; k++) {
    const ec_tensor_desc *t = n->tout[k];
    st = ec_check_dtype(n, t, in->dtype, "output");
    if (st != EC_OK) return st;
    if (t->rank != in->rank)
      return ec_node_error(n, EC_ERR_SHAPE, "output %d has rank %d, input %d", k, t->rank,
                           in->rank);
    for (int32_t d = 0; d < in->rank; d++)
      if (d != axis && t->shape[d] != in->shape[d])
        return ec_node_error(n, EC_ERR_SHAPE, "output %d dimension %d is %lld, input %lld", k,
                             d, (long long)t->shape[d], (long long)in->shape[d]);
    total += t->shape[axis];
  }
  if (total != in->shape[axis])
    return ec_node_error(n, EC_ERR_SHAPE, "outputs sum to %lld along axis %lld, input has %lld",
                         (long long)total, (long long)axis, (long long)in->shape[axis]);
  st = ec_alloc_params(n, sizeof(split_params) + (size_t)n->n_out * sizeof(int64_t));
  if (st != EC_OK) return st;
  split_params *p = n->params;
  if (in->numel == 0) return EC_OK; /* row 0: eval does nothing */
  /* every dimension is non-zero now, so these products are at most in->size */
  int64_t inner = (int64_t)ec_dtype_size(in->dtype), outer = 1;
  for (int32_t d = 0; d < in->rank; d++) {
    if (d < axis) outer *= in->shape[d];
    if (d > axis) inner *= in->shape[d];
  }
  p->outer = outer;
  p->row = in->shape[axis] * inner;
  p->n = n->n_out;
  for (int32_t k = 0; k < n->n_out; k++) p->chunk[k] = n->tout[k]->shape[axis] * inner;
  return EC_OK;
}

typedef struct split_ctx {
  const ec_node *node;
  const ec_exec *exec;
} split_ctx;

static void split_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const split_ctx *c = vc;
  const split_params *p = c->node->params;
  const uint8_t *in = c->exec->data[c->node->in[0]];
  for (int64_t o = begin; o < end; o++) {
    const uint8_t *src = in + o * p->row;
    for (int32_t k = 0; k < p->n; k++) {
      const int64_t len = p->chunk[k];
      if (len == 0) continue;
      uint8_t *dst = c->exec->data[c->node->out[k]];
      memcpy(dst + o * len, src, (size_t)len);
      src += len;
    }
  }
}

static void eval_split(const ec_node *n, const ec_exec *ex) {
  const split_params *p = n->params;
  if (p->row == 0) return;
  split_ctx c = {n, ex};
  int64_t grain = GRAIN_BYTES / p->row;
  ec_parallel_for(ex, p->outer, grain > 0 ? grain : 1, split_range, &c);
}

const ec_kernel ec_kernel_split = {"split", prepare_split, eval_split};
