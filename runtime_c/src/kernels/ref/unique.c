/* Unique along AxisOptions.axis (docs/dynamic_shapes.md; the compiler
 * flattens x for Unique without an axis). Slice i is x[o, i, k] over the
 * outer and inner positions, compared element by element in (o, k) order:
 * floats as doubles (-0 equals 0; NaN after every number and equal to NaN),
 * integers as signed or unsigned 64-bit. Outputs: y (the unique slices: in
 * ascending order with AxisOptions.flags bit 0, sorted, else in order of
 * first occurrence), indices (int64: the first occurrence of each), inverse
 * indices (int64 [dim]: the position in y of every input slice) and counts
 * (int64). y's axis, indices and counts are data-dependent, planned for dim.
 * Workspace: 24 bytes per slice. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/sort.h"

typedef struct unique_params {
  int64_t outer, dim, inner; /* inner in elements */
  bool sorted;
} unique_params;

static ec_status prepare_unique(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 4);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= x->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "axis %lld outside rank %d", (long long)axis, x->rank);
  const int64_t dim = x->shape[axis];
  st = ec_check_dtype(n, n->tout[0], x->dtype, "y");
  for (int32_t k = 1; st == EC_OK && k < 4; k++)
    st = ec_check_dtype(n, n->tout[k], EC_INT64, "indices, inverse indices and counts");
  if (st == EC_OK) st = ec_check_dyn(n, n->tout[0], 1u << axis, "y");
  if (st == EC_OK) st = ec_check_dyn(n, n->tout[1], 1u, "indices");
  if (st == EC_OK) st = ec_check_dyn(n, n->tout[2], 0u, "inverse indices");
  if (st == EC_OK) st = ec_check_dyn(n, n->tout[3], 1u, "counts");
  if (st != EC_OK) return st;
  if (n->tout[0]->rank != x->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "y has rank %d, x %d", n->tout[0]->rank, x->rank);
  for (int32_t d = 0; d < x->rank; d++)
    if (n->tout[0]->shape[d] != x->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "y is not planned for x's shape");
  for (int32_t k = 1; k < 4; k++)
    if (n->tout[k]->rank != 1 || n->tout[k]->shape[0] != dim)
      return ec_node_error(n, EC_ERR_SHAPE, "output %d must be [%lld]", k, (long long)dim);
  st = ec_check_scratch(n, (uint64_t)dim * 24);
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(unique_params));
  if (st != EC_OK) return st;
  unique_params *p = n->params;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->dim = dim;
  p->sorted = (n->opt.u.axis.flags & 1u) != 0;
  return EC_OK;
}

typedef struct unique_ctx {
  const unique_params *p;
  ec_dtype dt;
  const void *x;
} unique_ctx;

static int cmp_elem(ec_dtype dt, const void *x, int64_t i, int64_t j) {
  if (ec_dtype_is_float(dt)) {
    const double a = ec_load_f64(dt, x, i), b = ec_load_f64(dt, x, j);
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
    return a < b ? -1 : a > b;
  }
  const uint64_t a = ec_load_bits(dt, x, i), b = ec_load_bits(dt, x, j);
  if (!ec_dtype_is_unsigned(dt)) return (int64_t)a < (int64_t)b ? -1 : (int64_t)a > (int64_t)b;
  return a < b ? -1 : a > b;
}

/* Slices a and b in (o, k) order; 0 when equal. */
static int cmp_slices(const unique_ctx *c, int64_t a, int64_t b) {
  const unique_params *p = c->p;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t k = 0; k < p->inner; k++) {
      const int64_t base = o * p->dim * p->inner + k;
      const int r = cmp_elem(c->dt, c->x, base + a * p->inner, base + b * p->inner);
      if (r) return r;
    }
  return 0;
}

static int by_slice(const void *ctx, int64_t a, int64_t b) {
  const int r = cmp_slices(ctx, a, b);
  return r ? r : (a < b ? -1 : a > b);
}

static void eval_unique(const ec_node *n, const ec_exec *ex) {
  const unique_params *p = n->params;
  const ec_tensor_desc *xt = n->tin[0];
  const unique_ctx c = {p, xt->dtype, ex->data[n->in[0]]};
  const int64_t dim = p->dim;
  int64_t *order = (int64_t *)(void *)ex->workspace[0]; /* slices, sorted */
  int64_t *group = order + dim; /* per slice: its group, numbered in sorted order */
  int64_t *pos = group + dim;   /* per group: its position in y */
  int64_t *indices = ex->data[n->out[1]], *inverse = ex->data[n->out[2]];
  int64_t *counts = ex->data[n->out[3]];
  for (int64_t i = 0; i < dim; i++) order[i] = i;
  ec_sort_indices(order, dim, by_slice, &c);
  int64_t groups = 0;
  for (int64_t t = 0; t < dim; t++) {
    if (t == 0 || cmp_slices(&c, order[t - 1], order[t]) != 0) groups++;
    group[order[t]] = groups - 1;
  }
  /* positions: sorted order, or the order of first occurrence */
  if (p->sorted) {
    for (int64_t g = 0; g < groups; g++) pos[g] = g;
  } else {
    for (int64_t g = 0; g < groups; g++) pos[g] = -1;
    int64_t next = 0;
    for (int64_t i = 0; i < dim; i++)
      if (pos[group[i]] < 0) pos[group[i]] = next++;
  }
  for (int64_t g = 0; g < groups; g++) counts[g] = 0;
  for (int64_t i = dim; i-- > 0;) { /* backwards: the first occurrence is written last */
    const int64_t u = pos[group[i]];
    indices[u] = i;
    counts[u]++;
    inverse[i] = u;
  }
  const int32_t axis = (int32_t)n->opt.u.axis.axis;
  ec_set_dim(ex, n->tout[0], axis, groups);
  for (int32_t k = 1; k < 4; k++) ec_set_dim(ex, n->tout[k], 0, groups);
  const size_t es = ec_dtype_size(xt->dtype), row = (size_t)p->inner * es;
  const uint8_t *x = c.x;
  uint8_t *y = ex->data[n->out[0]];
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t u = 0; u < groups; u++)
      memcpy(y + (size_t)(o * groups + u) * row, x + (size_t)(o * dim + indices[u]) * row, row);
}

EC_KERNEL(ec_kernel_unique, "unique", prepare_unique, eval_unique)
