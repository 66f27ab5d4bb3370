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
  int64_t es; /* bytes per element: 1, 2, 4 or 8 */
} where_ctx;

/* One row: the element size picked once per row, a loop each. */
#define WHERE_LOOP(ES)                                                         \
  for (int64_t i = 0; i < len; i++)                                            \
    memcpy(zp + i * (ES), cp[i * sc] ? xp + i * sx * (ES) : yp + i * sy * (ES), (ES)); \
  break;

static void where_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const where_ctx *w = vc;
  const ec_bcast *bc = w->b;
  const int64_t es = w->es;
  ec_bcast_iter it;
  ec_bcast_seek(bc, begin, &it);
  const int32_t k = bc->rank - 1;
  const int64_t sc = bc->stride[0][k], sx = bc->stride[1][k], sy = bc->stride[2][k];
  while (begin < end) {
    int64_t len = bc->shape[k] - it.idx[k];
    if (len > end - begin) len = end - begin;
    const uint8_t *cp = w->c + it.off[0];
    const uint8_t *xp = w->x + it.off[1] * es, *yp = w->y + it.off[2] * es;
    uint8_t *zp = w->z + begin * es;
    switch (es) {
      case 1: WHERE_LOOP(1)
      case 2: WHERE_LOOP(2)
      case 8: WHERE_LOOP(8)
      default: WHERE_LOOP(4)
    }
    begin += len;
    if (begin < end) ec_bcast_advance(bc, len, &it);
  }
}

static void eval_where(const ec_node *n, const ec_exec *ex) {
  where_ctx w = {n->params, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->in[2]],
                 ex->data[n->out[0]], (int64_t)ec_dtype_size(n->tout[0]->dtype)};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, where_range, &w);
}

const ec_kernel ec_kernel_where = {"where", prepare_where, eval_where};
