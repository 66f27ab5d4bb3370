/* Expand: broadcasts one input of any dtype to the output's shape
 * (numpy rules). The target shape is a compile-time constant, so the
 * instruction has only the data input. */
#include <string.h>

#include "kernels/broadcast.h"

#define GRAIN 16384

static ec_status prepare_expand(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[0]->dtype, "output");
  if (st == EC_OK) st = ec_bcast_prepare(n, 1);
  return st;
}

typedef struct expand_ctx {
  const ec_bcast *b;
  const uint8_t *x;
  uint8_t *y;
  int64_t es;
} expand_ctx;

/* n elements of es bytes: a contiguous copy (stride 1) or one value repeated (stride 0). */
static void put_row(uint8_t *d, const uint8_t *s, int64_t n, int64_t stride, int64_t es) {
  if (stride != 0) {
    memcpy(d, s, (size_t)(n * es));
    return;
  }
  switch (es) {
    case 1:
      memset(d, s[0], (size_t)n);
      break;
    case 2:
      for (int64_t i = 0; i < n; i++) memcpy(d + 2 * i, s, 2);
      break;
    case 4:
      for (int64_t i = 0; i < n; i++) memcpy(d + 4 * i, s, 4);
      break;
    default:
      for (int64_t i = 0; i < n; i++) memcpy(d + 8 * i, s, 8);
      break;
  }
}

static void expand_row(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const expand_ctx *c = vc;
  put_row(c->y + start * c->es, c->x + off[0] * c->es, len,
          c->b->stride[0][c->b->rank - 1], c->es);
}

static void expand_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  ec_bcast_rows(((const expand_ctx *)vc)->b, begin, end, expand_row, vc);
}

static void eval_expand(const ec_node *n, const ec_exec *ex) {
  expand_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->out[0]],
                  (int64_t)ec_dtype_size(n->tout[0]->dtype)};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, expand_range, &c);
}

EC_KERNEL(ec_kernel_expand, "expand", prepare_expand, eval_expand)
