/* QLUT: y[i] = table[byte of x[i]] -- any unary function of an int8/uint8
 * tensor, tabulated by the compiler over the 256 input values (input
 * quantization -> function -> output quantization). Input 1 is the table: a
 * constant of 256 elements of the output's dtype, indexed by the input's
 * byte (an int8 value v at index (uint8_t)v). */
#include "kernel.h"
#include "kernels/ref/qcommon.h"

typedef struct qlut_ctx {
  const uint8_t *x, *table;
  uint8_t *y;
} qlut_ctx;

static ec_status prepare_qlut(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "output");
  if (st != EC_OK) return st;
  const ec_tensor_desc *t = n->tin[1], *y = n->tout[0];
  st = ec_q_check_io(n);
  if (st != EC_OK) return st;
  if (t->dtype != y->dtype || t->numel != 256 || t->const_data == NULL)
    return ec_node_error(n, EC_ERR_FORMAT, "the table must be a constant of 256 %s values",
                         ec_dtype_name(y->dtype));
  return EC_OK;
}

static void qlut_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qlut_ctx *c = vc;
  for (int64_t i = begin; i < end; i++) c->y[i] = c->table[c->x[i]];
}

static void eval_qlut(const ec_node *n, const ec_exec *ex) {
  qlut_ctx c = {ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]]};
  ec_parallel_for(ex, n->tout[0]->numel, EC_Q_GRAIN, qlut_range, &c);
}

EC_KERNEL(ec_kernel_qlut, "qlut", prepare_qlut, eval_qlut)
