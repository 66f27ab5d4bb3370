/* Elementwise unary ops on float32 and float16 (computed in float32), Not on
 * bool, BitwiseNot on the integer dtypes, IsNaN/IsInf from floats to bool.
 * Scalar parameters come from UnaryOptions: LeakyRelu/Elu alpha, Clip
 * [alpha, beta], HardSigmoid alpha/beta, Selu alpha/gamma(beta), Gelu
 * approximate; IsInf's detect_negative/detect_positive from AxisOptions.flags
 * bits 0 and 1. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384

typedef struct unary_ctx {
  const void *x;
  void *y;
  float alpha, beta;
  bool approximate;
} unary_ctx;

static ec_status prepare_unary(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && n->tin[0]->dtype != EC_FLOAT32 && n->tin[0]->dtype != EC_FLOAT16)
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected float32 or float16",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[0]->dtype, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK && n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_UNARYOPTIONS)
    st = ec_node_error(n, EC_ERR_FORMAT, "options are not UnaryOptions");
  return st;
}

static float gelu(float v, bool approximate) {
  if (approximate) {
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    return 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
  }
  return 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
}

static float softplus(float v) {
  /* log1p(exp(v)) without overflow for large v */
  return v > 0 ? v + log1pf(expf(-v)) : log1pf(expf(v));
}

#define UNARY_RANGE(FN, T, LOAD, STORE, EXPR)                                \
  static void FN(void *vc, int64_t b, int64_t e, int32_t thread) {           \
    (void)thread;                                                            \
    const unary_ctx *c = vc;                                                 \
    const T *x = c->x;                                                       \
    T *y = c->y;                                                             \
    const float alpha = c->alpha, beta = c->beta;                            \
    (void)alpha;                                                             \
    (void)beta;                                                              \
    for (int64_t i = b; i < e; i++) {                                        \
      const float v = LOAD(x[i]);                                            \
      y[i] = STORE(EXPR);                                                    \
    }                                                                        \
  }

#define F32_ID(v) (v)
#define UNARY(NAME, EXPR)                                                    \
  UNARY_RANGE(range_##NAME, float, F32_ID, F32_ID, EXPR)                     \
  UNARY_RANGE(range_##NAME##_f16, uint16_t, ec_f16_to_f32, ec_f32_to_f16,    \
              EXPR)                                                          \
  static void eval_##NAME(const ec_node *n, const ec_exec *ex) {             \
    unary_ctx c = {ex->data[n->in[0]], ex->data[n->out[0]],                  \
                   n->opt.u.unary.alpha, n->opt.u.unary.beta,                \
                   n->opt.u.unary.approximate};                              \
    ec_parallel_for(ex, n->tout[0]->numel, GRAIN,                            \
                    n->tin[0]->dtype == EC_FLOAT16 ? range_##NAME##_f16      \
                                                   : range_##NAME,           \
                    &c);                                                     \
  }                                                                          \
  const ec_kernel ec_kernel_##NAME = {#NAME, prepare_unary, eval_##NAME};

UNARY(sqrt, sqrtf(v))
UNARY(exp, expf(v))
UNARY(log, logf(v))
UNARY(neg, -v)
UNARY(abs, fabsf(v))
UNARY(reciprocal, 1.0f / v)
UNARY(relu, v > 0 ? v : 0.0f)
UNARY(leaky_relu, v >= 0 ? v : alpha * v)
UNARY(clip, fminf(fmaxf(v, alpha), beta))
UNARY(sigmoid, 1.0f / (1.0f + expf(-v)))
UNARY(tanh, tanhf(v))
UNARY(hard_sigmoid, fmaxf(0.0f, fminf(1.0f, alpha * v + beta)))
UNARY(hard_swish, v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f)))
UNARY(gelu, gelu(v, c->approximate))
UNARY(erf, erff(v))
UNARY(softplus, softplus(v))
UNARY(elu, v >= 0 ? v : alpha * (expf(v) - 1.0f))
UNARY(selu, v > 0 ? beta * v : beta * alpha * (expf(v) - 1.0f))
UNARY(floor, floorf(v))
UNARY(ceil, ceilf(v))
UNARY(round, nearbyintf(v)) /* ties to even under the default rounding mode */
UNARY(sin, sinf(v))
UNARY(cos, cosf(v))
UNARY(sign, (float)((v > 0) - (v < 0)))
UNARY(softsign, v / (1.0f + fabsf(v)))
UNARY(mish, v * tanhf(softplus(v)))
UNARY(acos, acosf(v))
UNARY(acosh, acoshf(v))
UNARY(asin, asinf(v))
UNARY(asinh, asinhf(v))
UNARY(atan, atanf(v))
UNARY(atanh, atanhf(v))
UNARY(cosh, coshf(v))
UNARY(sinh, sinhf(v))
UNARY(tan, tanf(v))

/* ---- Not (bool) and Copy (any dtype) ----------------------------------- */

static ec_status prepare_not(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_BOOL, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_BOOL, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  return st;
}

static void eval_not(const ec_node *n, const ec_exec *ex) {
  const uint8_t *x = ex->data[n->in[0]];
  uint8_t *y = ex->data[n->out[0]];
  for (int64_t i = 0; i < n->tout[0]->numel; i++) y[i] = !x[i];
}

const ec_kernel ec_kernel_not = {"not", prepare_not, eval_not};

static ec_status prepare_copy(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && n->tin[0]->size != n->tout[0]->size)
    st = ec_node_error(n, EC_ERR_SHAPE, "copies %zu bytes into %zu",
                       n->tin[0]->size, n->tout[0]->size);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[0]->dtype, "output");
  return st;
}

static void eval_copy(const ec_node *n, const ec_exec *ex) {
  const uint8_t *x = ex->data[n->in[0]];
  uint8_t *y = ex->data[n->out[0]];
  /* memmove: the planner may place a copy's output over its input */
  if (x != y) memmove(y, x, n->tout[0]->size);
}

const ec_kernel ec_kernel_copy = {"copy", prepare_copy, eval_copy};

/* ---- BitwiseNot (integers) ---------------------------------------------- */

static ec_status prepare_bitwise_not(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  const ec_dtype dt = n->tin[0]->dtype;
  if (st == EC_OK && dt != EC_INT8 && dt != EC_UINT8 && dt != EC_INT32 && dt != EC_INT64)
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected an integer dtype",
                       ec_dtype_name(dt));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], dt, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  return st;
}

static void eval_bitwise_not(const ec_node *n, const ec_exec *ex) {
  /* ~ on every byte is ~ on every integer of any width */
  const uint8_t *x = ex->data[n->in[0]];
  uint8_t *y = ex->data[n->out[0]];
  for (size_t i = 0; i < n->tout[0]->size; i++) y[i] = (uint8_t)~x[i];
}

const ec_kernel ec_kernel_bitwise_not = {"bitwise_not", prepare_bitwise_not, eval_bitwise_not};

/* ---- IsNaN, IsInf (floats -> bool) -------------------------------------- */

static ec_status prepare_is_class(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && n->tin[0]->dtype != EC_FLOAT32 && n->tin[0]->dtype != EC_FLOAT16)
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected float32 or float16",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_BOOL, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK && n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    st = ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  return st;
}

static inline float load_float(const ec_node *n, const void *x, int64_t i) {
  return n->tin[0]->dtype == EC_FLOAT16 ? ec_f16_to_f32(((const uint16_t *)x)[i])
                                        : ((const float *)x)[i];
}

static void eval_is_nan(const ec_node *n, const ec_exec *ex) {
  const void *x = ex->data[n->in[0]];
  uint8_t *y = ex->data[n->out[0]];
  for (int64_t i = 0; i < n->tout[0]->numel; i++) y[i] = isnan(load_float(n, x, i)) != 0;
}

static void eval_is_inf(const ec_node *n, const ec_exec *ex) {
  const uint32_t flags = n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS ? n->opt.u.axis.flags : 3u;
  const bool neg = (flags & 1u) != 0, pos = (flags & 2u) != 0;
  const void *x = ex->data[n->in[0]];
  uint8_t *y = ex->data[n->out[0]];
  for (int64_t i = 0; i < n->tout[0]->numel; i++) {
    const float v = load_float(n, x, i);
    y[i] = isinf(v) && ((v < 0 && neg) || (v > 0 && pos));
  }
}

const ec_kernel ec_kernel_is_nan = {"is_nan", prepare_is_class, eval_is_nan};
const ec_kernel ec_kernel_is_inf = {"is_inf", prepare_is_class, eval_is_inf};
