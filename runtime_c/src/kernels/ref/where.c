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

static void where_row(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const where_ctx *w = vc;
  const ec_bcast *bc = w->b;
  const int64_t es = w->es;
  const int32_t k = bc->rank - 1;
  const int64_t sc = bc->stride[0][k], sx = bc->stride[1][k], sy = bc->stride[2][k];
  const uint8_t *cp = w->c + off[0];
  const uint8_t *xp = w->x + off[1] * es, *yp = w->y + off[2] * es;
  uint8_t *zp = w->z + start * es;
  switch (es) {
    case 1: WHERE_LOOP(1)
    case 2: WHERE_LOOP(2)
    case 8: WHERE_LOOP(8)
    default: WHERE_LOOP(4)
  }
}

static void where_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  ec_bcast_rows(((const where_ctx *)vc)->b, begin, end, where_row, vc);
}

static void eval_where(const ec_node *n, const ec_exec *ex) {
  where_ctx w = {n->params, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->in[2]],
                 ex->data[n->out[0]], (int64_t)ec_dtype_size(n->tout[0]->dtype)};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, where_range, &w);
}

EC_KERNEL(ec_kernel_where, "where", prepare_where, eval_where)
