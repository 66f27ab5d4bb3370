/* Tile of any dtype; the repeats are output / input along each axis (the
 * repeats input is a compile-time constant, so the instruction has only
 * the data input). out[i...] = in[i_d mod in_d ...]. Axes of size 1 are
 * dropped and an axis is merged into the next when the next one is not
 * repeated, so each output row is one input row copied reps times. */
#include <string.h>

#include "kernel.h"

#define GRAIN_BYTES 65536

typedef struct tile_params {
  bool empty;
  int32_t rank;                 /* merged rank, >= 1 */
  int64_t in_dim[EC_MAX_RANK];  /* merged input dimensions */
  int64_t out_dim[EC_MAX_RANK]; /* merged output dimensions (in_dim * reps) */
  int64_t istride[EC_MAX_RANK]; /* input bytes per step */
  int64_t row_bytes;            /* bytes of one input row (last axis) */
  int64_t reps;                 /* repeats of the last axis */
} tile_params;

static ec_status prepare_tile(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  if (out->rank != in->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "input rank %d, output rank %d", in->rank,
                         out->rank);
  for (int32_t d = 0; d < in->rank; d++) {
    const int64_t a = in->shape[d], b = out->shape[d];
    if (a == 0 ? b != 0 : b % a != 0)
      return ec_node_error(n, EC_ERR_SHAPE,
                           "axis %d: output %lld is not a multiple of input %lld", d,
                           (long long)b, (long long)a);
  }
  st = ec_alloc_params(n, sizeof(tile_params));
  if (st != EC_OK) return st;
  tile_params *p = n->params;
  if (out->numel == 0) {
    p->empty = true;
    return EC_OK;
  }
  int32_t m = 0;
  for (int32_t d = 0; d < in->rank; d++) {
    const int64_t a = in->shape[d], b = out->shape[d];
    if (b == 1) continue;
    if (m > 0 && a == b) { /* not repeated: merges into the axis before */
      p->in_dim[m - 1] *= a;
      p->out_dim[m - 1] *= a;
    } else {
      p->in_dim[m] = a;
      p->out_dim[m] = b;
      m++;
    }
  }
  if (m == 0) {
    p->in_dim[0] = p->out_dim[0] = 1;
    m = 1;
  }
  p->rank = m;
  const int64_t es = (int64_t)ec_dtype_size(in->dtype);
  int64_t s = es;
  for (int32_t d = m - 1; d >= 0; d--) {
    p->istride[d] = s;
    s *= p->in_dim[d];
  }
  p->row_bytes = p->in_dim[m - 1] * es;
  p->reps = p->out_dim[m - 1] / p->in_dim[m - 1];
  return EC_OK;
}

typedef struct tile_ctx {
  const tile_params *p;
  const uint8_t *x;
  uint8_t *y;
} tile_ctx;

static void tile_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const tile_ctx *c = vc;
  const tile_params *p = c->p;
  const int32_t k = p->rank - 1;
  const int64_t rb = p->row_bytes, out_row = rb * p->reps;
  int64_t src_idx[EC_MAX_RANK] = {0}, out_idx[EC_MAX_RANK] = {0};
  int64_t off = 0, flat = begin;
  for (int32_t d = k - 1; d >= 0; d--) {
    out_idx[d] = flat % p->out_dim[d];
    flat /= p->out_dim[d];
    src_idx[d] = out_idx[d] % p->in_dim[d];
    off += src_idx[d] * p->istride[d];
  }
  for (int64_t row = begin; row < end; row++) {
    uint8_t *dst = c->y + row * out_row;
    for (int64_t r = 0; r < p->reps; r++) memcpy(dst + r * rb, c->x + off, (size_t)rb);
    for (int32_t d = k - 1; d >= 0; d--) { /* odometer over output and input indices */
      off += p->istride[d];
      if (++src_idx[d] == p->in_dim[d]) {
        src_idx[d] = 0;
        off -= p->in_dim[d] * p->istride[d];
      }
      if (++out_idx[d] < p->out_dim[d]) break;
      out_idx[d] = 0;
      src_idx[d] = 0;
      off = 0;
      for (int32_t e = 0; e < d; e++) off += src_idx[e] * p->istride[e];
    }
  }
}

static void eval_tile(const ec_node *n, const ec_exec *ex) {
  const tile_params *p = n->params;
  if (p->empty) return;
  tile_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  int64_t rows = 1;
  for (int32_t d = 0; d < p->rank - 1; d++) rows *= p->out_dim[d];
  int64_t grain = GRAIN_BYTES / (p->row_bytes * p->reps);
  ec_parallel_for(ex, rows, grain > 0 ? grain : 1, tile_range, &c);
}

EC_KERNEL(ec_kernel_tile, "tile", prepare_tile, eval_tile)
