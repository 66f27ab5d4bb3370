/* Where(condition, X, Y): out = condition ? X : Y with numpy broadcasting of
 * all three operands. condition is bool; X, Y and the output share any
 * dtype (moved by element size). */
#include <string.h>

#include "kernels/broadcast.h"

#define GRAIN 16384

static ec_status prepare_where(ec_node *n) {
  ec_status st = ec_check_arity(n, 3, 3, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_BOOL, "condition");
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[2], n->tin[1]->dtype, "Y");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[1]->dtype, "output");
  if (st == EC_OK) st = ec_bcast_prepare(n, 3);
  return st;
}

typedef struct where_ctx {
  const ec_bcast *b;
  const uint8_t *c, *x, *y;
  uint8_t *z;
} where_ctx;

#define WHERE_RANGE(NAME, ES)                                                   \
  static void NAME(void *vc, int64_t begin, int64_t end, int32_t thread) {     \
    (void)thread;                                                               \
    const where_ctx *w = vc;                                                    \
    const ec_bcast *bc = w->b;                                                  \
    ec_bcast_iter it;                                                           \
    ec_bcast_seek(bc, begin, &it);                                              \
    const int32_t k = bc->rank - 1;                                             \
    const int64_t last = bc->shape[k];                                          \
    const int64_t sc = bc->stride[0][k], sx = bc->stride[1][k] * (ES);          \
    const int64_t sy = bc->stride[2][k] * (ES);                                 \
    while (begin < end) {                                                       \
      int64_t len = last - it.idx[k];                                           \
      if (len > end - begin) len = end - begin;                                 \
      const uint8_t *cp = w->c + it.off[0];                                     \
      const uint8_t *xp = w->x + it.off[1] * (ES), *yp = w->y + it.off[2] * (ES); \
      uint8_t *zp = w->z + begin * (ES);                                        \
      for (int64_t i = 0; i < len; i++)                                         \
        memcpy(zp + i * (ES), cp[i * sc] ? xp + i * sx : yp + i * sy, (ES));    \
      begin += len;                                                             \
      if (begin < end) ec_bcast_advance(bc, len, &it);                          \
    }                                                                           \
  }

WHERE_RANGE(where_1, 1)
WHERE_RANGE(where_2, 2)
WHERE_RANGE(where_4, 4)
WHERE_RANGE(where_8, 8)

static void eval_where(const ec_node *n, const ec_exec *ex) {
  where_ctx w = {n->params, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->in[2]],
                 ex->data[n->out[0]]};
  ec_range_fn fn = where_4;
  switch (ec_dtype_size(n->tout[0]->dtype)) {
    case 1: fn = where_1; break;
    case 2: fn = where_2; break;
    case 8: fn = where_8; break;
    default: break;
  }
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, fn, &w);
}

const ec_kernel ec_kernel_where = {"where", prepare_where, eval_where};
