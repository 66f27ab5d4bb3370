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
 *   ROWS     anything else: each output row gathers along one input stride. */
#include <string.h>

#include "kernel.h"

#define GRAIN_ELEMS 16384
#define TILE 16

enum { KIND_EMPTY, KIND_COPY, KIND_BLOCKED, KIND_ROWS };

typedef struct transpose_params {
  int32_t kind;
  int32_t rank;                 /* reduced output rank */
  int64_t shape[EC_MAX_RANK];   /* reduced output dimensions */
  int64_t stride[EC_MAX_RANK];  /* input bytes per step along each output axis */
  int64_t eb;                   /* bytes per moved element */
  int64_t bytes;                /* total bytes */
} transpose_params;

static ec_status prepare_transpose(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  if (n->opt.type != EC_FB_OPOPTIONS_TRANSPOSEOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not TransposeOptions");
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
  int32_t m = 0;
  for (int32_t i = 0; i < r; i++) {
    const int64_t dim = out->shape[i], str = istride[perm->v[i]];
    if (dim == 1) continue;
    if (m > 0 && p->stride[m - 1] == str * dim) {
      p->shape[m - 1] *= dim;
      p->stride[m - 1] = str;
    } else {
      p->shape[m] = dim;
      p->stride[m] = str;
      m++;
    }
  }
  p->eb = es;
  if (m > 0 && p->stride[m - 1] == es) {
    p->eb = es * p->shape[m - 1];
    m--;
  }
  p->rank = m;
  if (m == 0)
    p->kind = KIND_COPY;
  else if (m >= 2 && p->stride[m - 2] == p->eb)
    p->kind = KIND_BLOCKED;
  else
    p->kind = KIND_ROWS;
  return EC_OK;
}

/* d[i] = s[i * stride] for n elements of eb bytes (stride in bytes). */
static void gather_row(uint8_t *d, const uint8_t *s, int64_t n, int64_t stride, int64_t eb) {
  switch (eb) {
    case 1:
      for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
      break;
    case 2:
      for (int64_t i = 0; i < n; i++) memcpy(d + 2 * i, s + i * stride, 2);
      break;
    case 4:
      for (int64_t i = 0; i < n; i++) memcpy(d + 4 * i, s + i * stride, 4);
      break;
    case 8:
      for (int64_t i = 0; i < n; i++) memcpy(d + 8 * i, s + i * stride, 8);
      break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(d + eb * i, s + i * stride, (size_t)eb);
      break;
  }
}

typedef struct transpose_ctx {
  const transpose_params *p;
  const uint8_t *x;
  uint8_t *y;
} transpose_ctx;

/* Input byte offset of the output position whose leading dims (0..k-1)
 * have flat index flat. */
static int64_t leading_offset(const transpose_params *p, int32_t k, int64_t flat) {
  int64_t off = 0;
  for (int32_t d = k - 1; d >= 0; d--) {
    off += (flat % p->shape[d]) * p->stride[d];
    flat /= p->shape[d];
  }
  return off;
}

static void rows_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const transpose_ctx *c = vc;
  const transpose_params *p = c->p;
  const int32_t k = p->rank - 1; /* leading dims */
  const int64_t len = p->shape[k], str = p->stride[k], eb = p->eb;
  int64_t idx[EC_MAX_RANK] = {0};
  int64_t off = 0, flat = begin;
  for (int32_t d = k - 1; d >= 0; d--) {
    idx[d] = flat % p->shape[d];
    flat /= p->shape[d];
    off += idx[d] * p->stride[d];
  }
  for (int64_t row = begin; row < end; row++) {
    gather_row(c->y + row * len * eb, c->x + off, len, str, eb);
    for (int32_t d = k - 1; d >= 0; d--) { /* odometer */
      off += p->stride[d];
      if (++idx[d] < p->shape[d]) break;
      off -= p->shape[d] * p->stride[d];
      idx[d] = 0;
    }
  }
}

/* One unit = one batch's strip of TILE rows of the [P, Q] output matrix,
 * filled tile by tile. */
static void blocked_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const transpose_ctx *c = vc;
  const transpose_params *p = c->p;
  const int32_t m = p->rank;
  const int64_t P = p->shape[m - 2], Q = p->shape[m - 1];
  const int64_t sq = p->stride[m - 1], eb = p->eb;
  const int64_t strips = (P + TILE - 1) / TILE;
  for (int64_t u = begin; u < end; u++) {
    const int64_t b = u / strips, p0 = (u % strips) * TILE;
    const int64_t p1 = p0 + TILE < P ? p0 + TILE : P;
    const uint8_t *src = c->x + leading_offset(p, m - 2, b);
    uint8_t *dst = c->y + b * P * Q * eb;
    for (int64_t q0 = 0; q0 < Q; q0 += TILE) {
      const int64_t qn = Q - q0 < TILE ? Q - q0 : TILE;
      for (int64_t i = p0; i < p1; i++)
        gather_row(dst + (i * Q + q0) * eb, src + i * eb + q0 * sq, qn, sq, eb);
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
      const int32_t m = p->rank;
      int64_t batches = 1;
      for (int32_t d = 0; d < m - 2; d++) batches *= p->shape[d];
      const int64_t strips = (p->shape[m - 2] + TILE - 1) / TILE;
      int64_t grain = GRAIN_ELEMS / (TILE * p->shape[m - 1]);
      ec_parallel_for(ex, batches * strips, grain > 0 ? grain : 1, blocked_range, &c);
      break;
    }
    case KIND_ROWS: {
      int64_t rows = 1;
      for (int32_t d = 0; d < p->rank - 1; d++) rows *= p->shape[d];
      int64_t grain = GRAIN_ELEMS / p->shape[p->rank - 1];
      ec_parallel_for(ex, rows, grain > 0 ? grain : 1, rows_range, &c);
      break;
    }
    default:
      break;
  }
}

const ec_kernel ec_kernel_transpose = {"transpose", prepare_transpose, eval_transpose};
