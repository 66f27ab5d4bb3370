/* CumSum and CumProd along AxisOptions.axis on float32, float16 (in
 * float32), int8, uint8, int32 and int64, and the wide dtypes through elem.h
 * (float64 and bfloat16 in double, integers in 64 bits); flags bit 0:
 * exclusive (the element itself is left out), bit 1: reverse (from the end).
 * Integer results wrap. */
#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

typedef struct cum_params {
  int64_t outer, dim, inner;
  bool exclusive, reverse;
} cum_params;

static ec_status prepare_cum(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_dtype dt = x->dtype;
  if (dt == EC_BOOL) return ec_node_error(n, EC_ERR_DTYPE, "bool input");
  st = ec_check_dtype(n, n->tout[0], dt, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, x, n->tout[0], "input/output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const int64_t axis = n->opt.u.axis.axis;
  if (x->rank < 1 || axis < 0 || axis >= x->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "axis %lld outside rank %d", (long long)axis,
                         x->rank);
  st = ec_alloc_params(n, sizeof(cum_params));
  if (st != EC_OK) return st;
  cum_params *p = n->params;
  p->exclusive = (n->opt.u.axis.flags & 1u) != 0;
  p->reverse = (n->opt.u.axis.flags & 2u) != 0;
  if (x->numel == 0) return EC_OK;
  p->outer = p->inner = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) p->outer *= x->shape[d];
    if (d > axis) p->inner *= x->shape[d];
  }
  p->dim = x->shape[axis];
  return EC_OK;
}

/* acc starts at the identity; each output is acc before (exclusive) or
 * after (inclusive) combining the element. */
#define CUM_LOOP(T, ACC_T, LOAD, STORE, OP, IDENTITY)                            \
  {                                                                              \
    const T *x = xv;                                                             \
    T *y = yv;                                                                   \
    for (int64_t o = 0; o < p->outer; o++)                                       \
      for (int64_t i = 0; i < p->inner; i++) {                                   \
        ACC_T acc = IDENTITY;                                                    \
        for (int64_t s = 0; s < p->dim; s++) {                                   \
          const int64_t j = p->reverse ? p->dim - 1 - s : s;                     \
          const int64_t e = (o * p->dim + j) * p->inner + i;                     \
          const ACC_T v = LOAD(x[e]);                                            \
          if (p->exclusive) {                                                    \
            y[e] = STORE(acc);                                                   \
            acc = OP(acc, v);                                                    \
          } else {                                                               \
            acc = OP(acc, v);                                                    \
            y[e] = STORE(acc);                                                   \
          }                                                                      \
        }                                                                        \
      }                                                                          \
  }

/* The same through element accessors: LOAD(e), STORE(e, v). */
#define CUM_WIDE(ACC_T, LOAD, STORE, OP, IDENTITY)                               \
  {                                                                              \
    for (int64_t o = 0; o < p->outer; o++)                                       \
      for (int64_t i = 0; i < p->inner; i++) {                                   \
        ACC_T acc = IDENTITY;                                                    \
        for (int64_t s = 0; s < p->dim; s++) {                                   \
          const int64_t j = p->reverse ? p->dim - 1 - s : s;                     \
          const int64_t e = (o * p->dim + j) * p->inner + i;                     \
          const ACC_T v = LOAD(e);                                               \
          if (!p->exclusive) acc = OP(acc, v);                                   \
          STORE(e, acc);                                                         \
          if (p->exclusive) acc = OP(acc, v);                                    \
        }                                                                        \
      }                                                                          \
  }

#define ID(v) (v)
#define FADD(a, b) ((a) + (b))
#define FMUL(a, b) ((a) * (b))
#define UADD(a, b) ((uint64_t)(a) + (uint64_t)(b))
#define UMUL(a, b) ((uint64_t)(a) * (uint64_t)(b))

static void cum(const ec_node *n, const ec_exec *ex, bool prod) {
  const cum_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const void *xv = ex->data[n->in[0]];
  void *yv = ex->data[n->out[0]];
  switch (n->tin[0]->dtype) {
    case EC_FLOAT32:
      if (prod) CUM_LOOP(float, float, ID, ID, FMUL, 1.0f) else CUM_LOOP(float, float, ID, ID, FADD, 0.0f)
      break;
    case EC_FLOAT16:
      if (prod)
        CUM_LOOP(uint16_t, float, ec_f16_to_f32, ec_f32_to_f16, FMUL, 1.0f)
      else
        CUM_LOOP(uint16_t, float, ec_f16_to_f32, ec_f32_to_f16, FADD, 0.0f)
      break;
#define INT_CASE(DT, T)                                                          \
    case DT:                                                                     \
      if (prod) CUM_LOOP(T, uint64_t, ID, (T), UMUL, 1u) else CUM_LOOP(T, uint64_t, ID, (T), UADD, 0u) \
      break;
    INT_CASE(EC_INT8, int8_t)
    INT_CASE(EC_UINT8, uint8_t)
    INT_CASE(EC_INT32, int32_t)
    INT_CASE(EC_INT64, int64_t)
    default: { /* the wide dtypes */
      const ec_dtype dt = n->tin[0]->dtype;
      if (ec_dtype_is_float(dt)) {
#define LD_F(e) ec_load_f64(dt, xv, e)
#define ST_F(e, v) ec_store_f64(dt, yv, e, v)
        if (prod) CUM_WIDE(double, LD_F, ST_F, FMUL, 1.0) else CUM_WIDE(double, LD_F, ST_F, FADD, 0.0)
      } else {
#define LD_I(e) ec_load_bits(dt, xv, e)
#define ST_I(e, v) ec_store_bits(dt, yv, e, v)
        if (prod) CUM_WIDE(uint64_t, LD_I, ST_I, UMUL, 1u) else CUM_WIDE(uint64_t, LD_I, ST_I, UADD, 0u)
      }
      break;
    }
  }
}

static void eval_cumsum(const ec_node *n, const ec_exec *ex) { cum(n, ex, false); }
static void eval_cumprod(const ec_node *n, const ec_exec *ex) { cum(n, ex, true); }

EC_KERNEL(ec_kernel_cumsum, "cumsum", prepare_cum, eval_cumsum)
EC_KERNEL(ec_kernel_cumprod, "cumprod", prepare_cum, eval_cumprod)
