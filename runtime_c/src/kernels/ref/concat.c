/* Concat of any number of inputs of any dtype along AxisOptions.axis, and
 * (for split.c) its mirror image Split: see concat.h. */
#include "kernels/ref/concat.h"

#include <string.h>

#define GRAIN_BYTES 65536

typedef struct parts_params {
  int64_t outer; /* product of the dimensions before the axis */
  int64_t row;   /* bytes of the whole per outer index */
  int32_t n;
  int64_t chunk[]; /* bytes per outer index of each part */
} parts_params;

ec_status ec_parts_prepare(ec_node *n, bool split) {
  const int32_t parts = split ? n->n_out : n->n_in;
  const char *part = split ? "output" : "input", *whole_name = split ? "input" : "output";
  if (parts < 1) return ec_node_error(n, EC_ERR_FORMAT, "has no %ss", part);
  ec_status st = split ? ec_check_arity(n, 1, 1, parts) : ec_check_arity(n, parts, parts, 1);
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_tensor_desc *whole = split ? n->tin[0] : n->tout[0];
  const ec_tensor_desc *const *part_t = split ? n->tout : n->tin;
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= whole->rank)
    return ec_node_error(n, EC_ERR_FORMAT, "axis %lld outside rank %d", (long long)axis,
                         whole->rank);
  int64_t total = 0;
  for (int32_t k = 0; k < parts; k++) {
    const ec_tensor_desc *t = part_t[k];
    st = ec_check_dtype(n, t, whole->dtype, part);
    if (st != EC_OK) return st;
    if (t->rank != whole->rank)
      return ec_node_error(n, EC_ERR_SHAPE, "%s %d has rank %d, %s %d", part, k, t->rank,
                           whole_name, whole->rank);
    for (int32_t d = 0; d < whole->rank; d++)
      if (d != axis && t->shape[d] != whole->shape[d])
        return ec_node_error(n, EC_ERR_SHAPE, "%s %d dimension %d is %lld, %s %lld", part, k, d,
                             (long long)t->shape[d], whole_name, (long long)whole->shape[d]);
    total += t->shape[axis];
  }
  if (total != whole->shape[axis])
    return ec_node_error(n, EC_ERR_SHAPE, "%ss sum to %lld along axis %lld, %s has %lld", part,
                         (long long)total, (long long)axis, whole_name,
                         (long long)whole->shape[axis]);
  st = ec_alloc_params(n, sizeof(parts_params) + (size_t)parts * sizeof(int64_t));
  if (st != EC_OK) return st;
  parts_params *p = n->params;
  if (whole->numel == 0) return EC_OK; /* row 0: eval does nothing */
  /* every dimension is non-zero now, so these products are at most whole->size */
  int64_t inner = (int64_t)ec_dtype_size(whole->dtype), outer = 1;
  for (int32_t d = 0; d < whole->rank; d++) {
    if (d < axis) outer *= whole->shape[d];
    if (d > axis) inner *= whole->shape[d];
  }
  p->outer = outer;
  p->row = whole->shape[axis] * inner;
  p->n = parts;
  for (int32_t k = 0; k < parts; k++) p->chunk[k] = part_t[k]->shape[axis] * inner;
  return EC_OK;
}

typedef struct parts_ctx {
  const ec_node *node;
  const ec_exec *exec;
  bool split;
} parts_ctx;

static void parts_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const parts_ctx *c = vc;
  const ec_node *n = c->node;
  const parts_params *p = n->params;
  uint8_t *whole = c->exec->data[c->split ? n->in[0] : n->out[0]];
  const int32_t *part = c->split ? n->out : n->in;
  for (int64_t o = begin; o < end; o++) {
    uint8_t *w = whole + o * p->row;
    for (int32_t k = 0; k < p->n; k++) {
      const int64_t len = p->chunk[k];
      if (len == 0) continue;
      uint8_t *t = (uint8_t *)c->exec->data[part[k]] + o * len;
      if (c->split)
        memcpy(t, w, (size_t)len);
      else
        memcpy(w, t, (size_t)len);
      w += len;
    }
  }
}

void ec_parts_eval(const ec_node *n, const ec_exec *ex, bool split) {
  const parts_params *p = n->params;
  if (p->row == 0) return;
  parts_ctx c = {n, ex, split};
  int64_t grain = GRAIN_BYTES / p->row;
  ec_parallel_for(ex, p->outer, grain > 0 ? grain : 1, parts_range, &c);
}

static ec_status prepare_concat(ec_node *n) { return ec_parts_prepare(n, false); }
static void eval_concat(const ec_node *n, const ec_exec *ex) { ec_parts_eval(n, ex, false); }

EC_KERNEL(ec_kernel_concat, "concat", prepare_concat, eval_concat)
