/* Slice of any dtype. SliceOptions.starts/steps have one entry per input
 * axis, normalized by the compiler (start inside the axis, step non-zero,
 * possibly negative); the output shape gives the element counts. prepare
 * checks that the first and last index of every axis lie inside the input,
 * so every element eval reads is in bounds. Output axes whose input
 * positions stay evenly spaced are merged; the innermost run is a memcpy
 * when it is contiguous and a strided gather otherwise. */
#include "kernels/ref/strided.h"

#define GRAIN_ELEMS 16384

typedef struct slice_params {
  bool empty;
  bool dyn;  /* data-dependent input: the view is built in eval from its actual shape */
  ec_view v; /* merged rank >= 1 */
} slice_params;

static ec_status prepare_slice(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  if (n->opt.type != EC_FB_OPOPTIONS_SLICEOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not SliceOptions");
  const ec_ints *starts = &n->opt.u.slice.starts, *steps = &n->opt.u.slice.steps;
  const int32_t r = in->rank;
  if (out->rank != r || starts->n != r || steps->n != r)
    return ec_node_error(n, EC_ERR_SHAPE,
                         "input rank %d, output rank %d, %d starts, %d steps (need one per axis)",
                         r, out->rank, starts->n, steps->n);
  /* a data-dependent axis (docs/dynamic_shapes.md) is taken whole */
  st = ec_check_dyn(n, out, in->dyn_mask, "output");
  for (int32_t d = 0; st == EC_OK && d < r; d++)
    if ((in->dyn_mask >> d & 1u) &&
        (starts->v[d] != 0 || steps->v[d] != 1 || out->shape[d] != in->shape[d]))
      st = ec_node_error(n, EC_ERR_FORMAT, "slices data-dependent axis %d", d);
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(slice_params));
  if (st != EC_OK) return st;
  slice_params *p = n->params;
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  p->v.eb = es;
  p->dyn = in->dyn_slot >= 0;
  if (out->numel == 0) {
    p->empty = true;
    return EC_OK;
  }
  if (in->numel == 0)
    return ec_node_error(n, EC_ERR_SHAPE, "slices %lld elements out of an empty input",
                         (long long)out->numel);
  int64_t istride[EC_MAX_RANK];
  int64_t s = es;
  for (int32_t d = r - 1; d >= 0; d--) {
    istride[d] = s;
    s *= in->shape[d];
  }
  for (int32_t d = 0; d < r; d++) {
    const int64_t start = starts->v[d], step = steps->v[d], count = out->shape[d];
    const int64_t dim = in->shape[d];
    if (step == 0) return ec_node_error(n, EC_ERR_FORMAT, "axis %d has step 0", d);
    if (start < 0 || start >= dim)
      return ec_node_error(n, EC_ERR_SHAPE, "axis %d: start %lld outside [0, %lld)", d,
                           (long long)start, (long long)dim);
    if (count > 1) {
      /* |step| <= dim keeps (count - 1) * step from overflowing */
      if (step > dim || step < -dim)
        return ec_node_error(n, EC_ERR_SHAPE, "axis %d: step %lld with %lld elements leaves "
                             "the axis of %lld", d, (long long)step, (long long)count,
                             (long long)dim);
      const int64_t last = start + (count - 1) * step;
      if (last < 0 || last >= dim)
        return ec_node_error(n, EC_ERR_SHAPE,
                             "axis %d: %lld elements from %lld by %lld end at %lld, outside "
                             "[0, %lld)", d, (long long)count, (long long)start,
                             (long long)step, (long long)last, (long long)dim);
    }
    p->v.base += start * istride[d];
    /* the step of an axis of at most one element is never taken (and unchecked) */
    ec_view_push(&p->v, count, count > 1 ? step * istride[d] : istride[d]);
  }
  if (p->v.rank == 0) { /* one element */
    p->v.shape[0] = 1;
    p->v.stride[0] = es;
    p->v.rank = 1;
  }
  return EC_OK;
}

typedef struct slice_ctx {
  const slice_params *p;
  const uint8_t *x;
  uint8_t *y;
} slice_ctx;

static void slice_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const slice_ctx *c = vc;
  /* the rows' elements are all inside the input (prepare checked both ends
   * of every axis) */
  ec_view_rows(&c->p->v, c->x, c->y, begin, end);
}

/* The view of a data-dependent input's actual shape (prepare checked the
 * static axes; the dynamic ones are taken whole); false when empty. */
static bool dynamic_view(const ec_node *n, const ec_exec *ex, slice_params *dyn) {
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  const int64_t *dims = ec_dims(ex, in);
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  int64_t istride[EC_MAX_RANK], s = es, numel = 1;
  for (int32_t d = in->rank - 1; d >= 0; d--) {
    istride[d] = s;
    s *= dims[d];
  }
  for (int32_t d = 0; d < in->rank; d++) {
    ec_set_dim(ex, out, d, dims[d]);
    numel *= ec_dims(ex, out)[d];
  }
  if (numel == 0) return false;
  memset(dyn, 0, sizeof *dyn);
  dyn->v.eb = es;
  for (int32_t d = 0; d < in->rank; d++) {
    const int64_t count = ec_dims(ex, out)[d];
    dyn->v.base += n->opt.u.slice.starts.v[d] * istride[d];
    ec_view_push(&dyn->v, count, count > 1 ? n->opt.u.slice.steps.v[d] * istride[d] : istride[d]);
  }
  if (dyn->v.rank == 0) { /* one element */
    dyn->v.shape[0] = 1;
    dyn->v.stride[0] = es;
    dyn->v.rank = 1;
  }
  return true;
}

static void eval_slice(const ec_node *n, const ec_exec *ex) {
  const slice_params *p = n->params;
  slice_params dyn;
  if (p->dyn) {
    if (!dynamic_view(n, ex, &dyn)) return;
    p = &dyn;
  }
  if (p->empty) return;
  slice_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  int64_t rows = 1;
  for (int32_t d = 0; d < p->v.rank - 1; d++) rows *= p->v.shape[d];
  int64_t grain = GRAIN_ELEMS / p->v.shape[p->v.rank - 1];
  ec_parallel_for(ex, rows, grain > 0 ? grain : 1, slice_range, &c);
}

EC_KERNEL(ec_kernel_slice, "slice", prepare_slice, eval_slice)
