/* Transpose of any dtype by TransposeOptions.perm (output axis i is input
 * axis perm[i]).
 *
 * prepare drops size-1 axes and merges output axes that stay adjacent in
 * the input, and folds a trailing run that stays contiguous into the
 * element (so [N,C,H,W] -> [N,C,W,H] moves whole elements and
 * [A,B,C,D] -> [A,C,B,D] moves D-element blocks). What is left is one of:
 *   COPY     nothing moves: one memcpy;
 *   BLOCKED  the second-to-last output axis is the input's innermost: a
 *            swap of the last two axes (per batch), done in square tiles so
 *            both sides stay in cache;
 *   ROWS     anything else: each output row gathers along one input stride.
 * TRANSPOSE_DYN (docs/dynamic_shapes.md): a data-dependent input; the view
 * of its actual shape is built in eval (no allocation), then copied as ROWS. */
#include <string.h>

#include "kernels/ref/strided.h"

#define GRAIN_ELEMS 16384
#define TILE 16

enum { KIND_EMPTY, KIND_COPY, KIND_BLOCKED, KIND_ROWS };

typedef struct transpose_params {
  int32_t kind;
  ec_view v;     /* reduced output axes; v.eb: bytes per moved element */
  int64_t bytes; /* total bytes */
} transpose_params;

static ec_status prepare_transpose(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_TRANSPOSEOPTIONS);
  if (st != EC_OK) return st;
  const ec_ints *perm = &n->opt.u.transpose.perm;
  const int32_t r = in->rank;
  if (out->rank != r || perm->n != r)
    return ec_node_error(n, EC_ERR_SHAPE, "input rank %d, output rank %d, perm of %d", r,
                         out->rank, perm->n);
  bool seen[EC_MAX_RANK] = {false};
  for (int32_t i = 0; i < r; i++) {
    const int64_t a = perm->v[i];
    if (a < 0 || a >= r || seen[a])
      return ec_node_error(n, EC_ERR_FORMAT, "perm is not a permutation of 0..%d", r - 1);
    seen[a] = true;
    if (out->shape[i] != in->shape[a])
      return ec_node_error(n, EC_ERR_SHAPE, "output dimension %d is %lld, input %lld has %lld",
                           i, (long long)out->shape[i], (long long)a,
                           (long long)in->shape[a]);
  }
  st = ec_alloc_params(n, sizeof(transpose_params));
  if (st != EC_OK) return st;
  transpose_params *p = n->params;
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  p->bytes = out->numel * es;
  if (out->numel == 0) {
    p->kind = KIND_EMPTY;
    return EC_OK;
  }
  int64_t istride[EC_MAX_RANK];
  int64_t s = es;
  for (int32_t d = r - 1; d >= 0; d--) {
    istride[d] = s;
    s *= in->shape[d];
  }
  ec_view *v = &p->v;
  for (int32_t i = 0; i < r; i++) ec_view_push(v, out->shape[i], istride[perm->v[i]]);
  int32_t m = v->rank;
  v->eb = es;
  if (m > 0 && v->stride[m - 1] == es) {
    v->eb = es * v->shape[m - 1];
    m--;
  }
  v->rank = m;
  if (m == 0)
    p->kind = KIND_COPY;
  else if (m >= 2 && v->stride[m - 2] == v->eb)
    p->kind = KIND_BLOCKED;
  else
    p->kind = KIND_ROWS;
  return EC_OK;
}

typedef struct transpose_ctx {
  const transpose_params *p;
  const uint8_t *x;
  uint8_t *y;
} transpose_ctx;

/* Input byte offset of the output position whose leading dims (0..k-1)
 * have flat index flat. */
static int64_t leading_offset(const ec_view *v, int32_t k, int64_t flat) {
  int64_t off = 0;
  for (int32_t d = k - 1; d >= 0; d--) {
    off += (flat % v->shape[d]) * v->stride[d];
    flat /= v->shape[d];
  }
  return off;
}

/* One unit = one batch's strip of TILE rows of the [P, Q] output matrix,
 * filled tile by tile. */
static void blocked_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const transpose_ctx *c = vc;
  const ec_view *v = &c->p->v;
  const int32_t m = v->rank;
  const int64_t P = v->shape[m - 2], Q = v->shape[m - 1];
  const int64_t sq = v->stride[m - 1], eb = v->eb;
  const int64_t strips = (P + TILE - 1) / TILE;
  for (int64_t u = begin; u < end; u++) {
    const int64_t b = u / strips, p0 = (u % strips) * TILE;
    const int64_t p1 = p0 + TILE < P ? p0 + TILE : P;
    const uint8_t *src = c->x + leading_offset(v, m - 2, b);
    uint8_t *dst = c->y + b * P * Q * eb;
    for (int64_t q0 = 0; q0 < Q; q0 += TILE) {
      const int64_t qn = Q - q0 < TILE ? Q - q0 : TILE;
      for (int64_t i = p0; i < p1; i++)
        ec_gather_row(dst + (i * Q + q0) * eb, src + i * eb + q0 * sq, qn, sq, eb);
    }
  }
}

static void eval_transpose(const ec_node *n, const ec_exec *ex) {
  const transpose_params *p = n->params;
  transpose_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  switch (p->kind) {
    case KIND_COPY:
      memcpy(c.y, c.x, (size_t)p->bytes);
      break;
    case KIND_BLOCKED: {
      const int32_t m = p->v.rank;
      int64_t batches = 1;
      for (int32_t d = 0; d < m - 2; d++) batches *= p->v.shape[d];
      const int64_t strips = (p->v.shape[m - 2] + TILE - 1) / TILE;
      int64_t grain = GRAIN_ELEMS / (TILE * p->v.shape[m - 1]);
      ec_parallel_for(ex, batches * strips, grain > 0 ? grain : 1, blocked_range, &c);
      break;
    }
    case KIND_ROWS:
      ec_view_copy(ex, &p->v, c.x, c.y);
      break;
    default:
      break;
  }
}

EC_KERNEL(ec_kernel_transpose, "transpose", prepare_transpose, eval_transpose)

/* ---- TRANSPOSE_DYN ---------------------------------------------------------- */

static ec_status prepare_transpose_dyn(ec_node *n) {
  ec_status st = prepare_transpose(n); /* the checks, at the upper bound */
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0];
  const ec_ints *perm = &n->opt.u.transpose.perm;
  uint32_t mask = 0; /* a data-dependent dim moves with its axis */
  for (int32_t i = 0; i < in->rank; i++) mask |= (in->dyn_mask >> perm->v[i] & 1u) << i;
  return ec_check_dyn(n, n->tout[0], mask, "output");
}

/* The view of the input's actual shape, copied as ROWS. */
static void eval_transpose_dyn(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  const ec_ints *perm = &n->opt.u.transpose.perm;
  const int64_t *dims = ec_dims(ex, in);
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  int64_t istride[EC_MAX_RANK];
  const int64_t numel = ec_dense_strides(dims, in->rank, es, istride);
  for (int32_t i = 0; i < out->rank; i++) ec_set_dim(ex, out, i, dims[perm->v[i]]);
  if (numel == 0) return;
  ec_view v;
  memset(&v, 0, sizeof v);
  for (int32_t i = 0; i < out->rank; i++) ec_view_push(&v, dims[perm->v[i]], istride[perm->v[i]]);
  v.eb = es;
  ec_view_copy(ex, &v, ex->data[n->in[0]], ex->data[n->out[0]]);
}

EC_KERNEL(ec_kernel_transpose_dyn, "transpose_dyn", prepare_transpose_dyn, eval_transpose_dyn)
