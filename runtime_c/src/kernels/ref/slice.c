/* Slice of any dtype. SliceOptions.starts/steps have one entry per input
 * axis, normalized by the compiler (start inside the axis, step non-zero,
 * possibly negative); the output shape gives the element counts. prepare
 * checks that the first and last index of every axis lie inside the input,
 * so every element eval reads is in bounds. Output axes whose input
 * positions stay evenly spaced are merged; the innermost run is a memcpy
 * when it is contiguous and a strided gather otherwise.
 * SLICE_DYN (docs/dynamic_shapes.md): a data-dependent input, each of whose
 * data-dependent axes is taken whole; the view of its actual shape is built
 * in eval. */
#include "kernels/ref/strided.h"

typedef struct slice_params {
  bool empty;
  ec_view v; /* merged */
} slice_params;

/* What both kernels check first. */
static ec_status check_slice(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_SLICEOPTIONS);
  if (st != EC_OK) return st;
  const ec_ints *starts = &n->opt.u.slice.starts, *steps = &n->opt.u.slice.steps;
  const int32_t r = in->rank;
  if (out->rank != r || starts->n != r || steps->n != r)
    return ec_node_error(n, EC_ERR_SHAPE,
                         "input rank %d, output rank %d, %d starts, %d steps (need one per axis)",
                         r, out->rank, starts->n, steps->n);
  return EC_OK;
}

static ec_status prepare_slice(ec_node *n) {
  ec_status st = check_slice(n);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  const ec_ints *starts = &n->opt.u.slice.starts, *steps = &n->opt.u.slice.steps;
  const int32_t r = in->rank;
  st = ec_alloc_params(n, sizeof(slice_params));
  if (st != EC_OK) return st;
  slice_params *p = n->params;
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  p->v.eb = es;
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
  return EC_OK;
}

static void eval_slice(const ec_node *n, const ec_exec *ex) {
  const slice_params *p = n->params;
  /* the rows' elements are all inside the input (prepare checked both ends of
   * every axis) */
  if (!p->empty) ec_view_copy(ex, &p->v, ex->data[n->in[0]], ex->data[n->out[0]]);
}

EC_KERNEL(ec_kernel_slice, "slice", prepare_slice, eval_slice)

/* ---- SLICE_DYN ------------------------------------------------------------ */

static ec_status prepare_slice_dyn(ec_node *n) {
  ec_status st = check_slice(n);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  const ec_ints *starts = &n->opt.u.slice.starts, *steps = &n->opt.u.slice.steps;
  /* a data-dependent axis is taken whole */
  st = ec_check_dyn(n, out, in->dyn_mask, "output");
  for (int32_t d = 0; st == EC_OK && d < in->rank; d++)
    if ((in->dyn_mask >> d & 1u) &&
        (starts->v[d] != 0 || steps->v[d] != 1 || out->shape[d] != in->shape[d]))
      st = ec_node_error(n, EC_ERR_FORMAT, "slices data-dependent axis %d", d);
  return st == EC_OK ? prepare_slice(n) : st; /* the static axes, at the upper bound */
}

/* The view of the input's actual shape (prepare checked the static axes; the
 * data-dependent ones are taken whole). */
static void eval_slice_dyn(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  const int64_t *dims = ec_dims(ex, in);
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  int64_t istride[EC_MAX_RANK], numel = 1;
  ec_dense_strides(dims, in->rank, es, istride);
  for (int32_t d = 0; d < in->rank; d++) {
    ec_set_dim(ex, out, d, dims[d]);
    numel *= ec_dims(ex, out)[d];
  }
  if (numel == 0) return;
  ec_view v;
  memset(&v, 0, sizeof v);
  v.eb = es;
  for (int32_t d = 0; d < in->rank; d++) {
    const int64_t count = ec_dims(ex, out)[d];
    v.base += n->opt.u.slice.starts.v[d] * istride[d];
    ec_view_push(&v, count, count > 1 ? n->opt.u.slice.steps.v[d] * istride[d] : istride[d]);
  }
  ec_view_copy(ex, &v, ex->data[n->in[0]], ex->data[n->out[0]]);
}

EC_KERNEL(ec_kernel_slice_dyn, "slice_dyn", prepare_slice_dyn, eval_slice_dyn)
