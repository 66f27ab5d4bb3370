/* Strided views (strided.h). */
#include "kernels/ref/strided.h"

#define GRAIN_ELEMS 16384

void ec_view_push(ec_view *v, int64_t count, int64_t stride) {
  if (count == 1) return; /* a size-1 axis carries no information */
  const int32_t m = v->rank;
  if (m > 0 && v->stride[m - 1] == stride * count) {
    v->shape[m - 1] *= count;
    v->stride[m - 1] = stride;
  } else {
    v->shape[m] = count;
    v->stride[m] = stride;
    v->rank = m + 1;
  }
}

void ec_view_rows(const ec_view *v, const uint8_t *x, uint8_t *y, int64_t begin, int64_t end) {
  const int32_t k = v->rank - 1; /* leading dims */
  const int64_t len = v->shape[k], str = v->stride[k], eb = v->eb;
  int64_t idx[EC_MAX_RANK] = {0};
  int64_t off = v->base, flat = begin;
  for (int32_t d = k - 1; d >= 0; d--) {
    idx[d] = flat % v->shape[d];
    flat /= v->shape[d];
    off += idx[d] * v->stride[d];
  }
  for (int64_t row = begin; row < end; row++) {
    ec_gather_row(y + row * len * eb, x + off, len, str, eb);
    for (int32_t d = k - 1; d >= 0; d--) { /* odometer */
      off += v->stride[d];
      if (++idx[d] < v->shape[d]) break;
      off -= v->shape[d] * v->stride[d];
      idx[d] = 0;
    }
  }
}

typedef struct view_ctx {
  const ec_view *v;
  const uint8_t *x;
  uint8_t *y;
} view_ctx;

static void view_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const view_ctx *c = vc;
  ec_view_rows(c->v, c->x, c->y, begin, end);
}

void ec_view_copy(const ec_exec *ex, const ec_view *v, const uint8_t *x, uint8_t *y) {
  if (v->rank == 0) {
    memcpy(y, x + v->base, (size_t)v->eb);
    return;
  }
  view_ctx c = {v, x, y};
  int64_t rows = 1;
  for (int32_t d = 0; d < v->rank - 1; d++) rows *= v->shape[d];
  int64_t grain = GRAIN_ELEMS / v->shape[v->rank - 1];
  ec_parallel_for(ex, rows, grain > 0 ? grain : 1, view_range, &c);
}

int64_t ec_dense_strides(const int64_t *dims, int32_t rank, int64_t es, int64_t *stride) {
  int64_t numel = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    stride[d] = es * numel;
    numel *= dims[d];
  }
  return numel;
}
