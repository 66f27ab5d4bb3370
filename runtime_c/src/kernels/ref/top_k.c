/* TopK along AxisOptions.axis: the k largest (flags bit 0) or smallest
 * elements of every slice, k being the outputs' extent along the axis, in
 * sorted order (ties: the lower index first; NaN counts as the largest), and
 * their int64 indices. Any dtype but bool, compared as doubles (64-bit
 * integers beyond 2^53 round). Needs
 * a workspace of 16 bytes per element of the axis (Instruction.scratch_size). */
#include <math.h>
#include <stdlib.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

typedef struct topk_item {
  double v;
  int64_t i;
} topk_item;

typedef struct topk_params {
  int64_t outer, dim, inner, k;
  bool largest;
} topk_params;

static ec_status prepare_top_k(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 2, 2);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *v = n->tout[0], *ix = n->tout[1];
  if (x->dtype == EC_BOOL) return ec_node_error(n, EC_ERR_DTYPE, "bool input");
  st = ec_check_dtype(n, v, x->dtype, "values");
  if (st == EC_OK) st = ec_check_dtype(n, ix, EC_INT64, "indices");
  if (st == EC_OK) st = ec_check_same_shape(n, v, ix, "values/indices");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (x->rank < 1 || axis < 0 || axis >= x->rank || v->rank != x->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "axis %lld, input rank %d, output rank %d",
                         (long long)axis, x->rank, v->rank);
  for (int32_t d = 0; d < x->rank; d++)
    if (d == axis ? v->shape[d] > x->shape[d] : v->shape[d] != x->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, input's %lld", d,
                           (long long)v->shape[d], (long long)x->shape[d]);
  st = ec_check_scratch(n, (uint64_t)x->shape[axis] * sizeof(topk_item));
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(topk_params));
  if (st != EC_OK) return st;
  topk_params *p = n->params;
  p->largest = (n->opt.u.axis.flags & 1u) != 0;
  if (v->numel == 0) return EC_OK;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->dim = x->shape[axis];
  p->k = v->shape[axis];
  return EC_OK;
}

/* Orders by value (NaN above everything), then by index. */
static int cmp_largest(const void *pa, const void *pb) {
  const topk_item *a = pa, *b = pb;
  const bool na = isnan(a->v), nb = isnan(b->v);
  if (na != nb) return na ? -1 : 1;
  if (!na && a->v != b->v) return a->v > b->v ? -1 : 1;
  return a->i < b->i ? -1 : (a->i > b->i);
}

static int cmp_smallest(const void *pa, const void *pb) {
  const topk_item *a = pa, *b = pb;
  const bool na = isnan(a->v), nb = isnan(b->v);
  if (na != nb) return na ? 1 : -1;
  if (!na && a->v != b->v) return a->v < b->v ? -1 : 1;
  return a->i < b->i ? -1 : (a->i > b->i);
}

static double load(ec_dtype dt, const void *x, int64_t e) {
  switch (dt) {
    case EC_FLOAT32: return ((const float *)x)[e];
    case EC_FLOAT16: return ec_f16_to_f32(((const uint16_t *)x)[e]);
    case EC_INT8: return ((const int8_t *)x)[e];
    case EC_UINT8: return ((const uint8_t *)x)[e];
    case EC_INT32: return ((const int32_t *)x)[e];
    case EC_INT64: return (double)((const int64_t *)x)[e];
    default: return ec_load_f64(dt, x, e);
  }
}

static void eval_top_k(const ec_node *n, const ec_exec *ex) {
  const topk_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const ec_dtype dt = n->tin[0]->dtype;
  const size_t es = ec_dtype_size(dt);
  const uint8_t *x = ex->data[n->in[0]];
  uint8_t *vals = ex->data[n->out[0]];
  int64_t *idx = ex->data[n->out[1]];
  topk_item *items = (topk_item *)ex->workspace[0];
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t i = 0; i < p->inner; i++) {
      for (int64_t j = 0; j < p->dim; j++) {
        items[j].v = load(dt, x, (o * p->dim + j) * p->inner + i);
        items[j].i = j;
      }
      qsort(items, (size_t)p->dim, sizeof *items, p->largest ? cmp_largest : cmp_smallest);
      for (int64_t j = 0; j < p->k; j++) {
        const int64_t src = (o * p->dim + items[j].i) * p->inner + i;
        const int64_t dst = (o * p->k + j) * p->inner + i;
        for (size_t b = 0; b < es; b++) vals[(size_t)dst * es + b] = x[(size_t)src * es + b];
        idx[dst] = items[j].i;
      }
    }
}

EC_KERNEL(ec_kernel_top_k, "top_k", prepare_top_k, eval_top_k)
