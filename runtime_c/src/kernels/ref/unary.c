/* Elementwise unary ops on float32 and float16 (computed in float32),
 * float64 (in double) and bfloat16 (in double, through one loop over elem.h
 * for both), Not on
 * bool, BitwiseNot on the integer dtypes, IsNaN/IsInf from floats to bool.
 * Scalar parameters come from UnaryOptions: LeakyRelu/Elu alpha, Clip
 * [alpha, beta], HardSigmoid alpha/beta, Selu alpha/gamma(beta), Gelu
 * approximate; IsInf's detect_negative/detect_positive from AxisOptions.flags
 * bits 0 and 1. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384

typedef struct unary_ctx unary_ctx;
typedef double (*unary_dbl_fn)(double v, const unary_ctx *c);
struct unary_ctx {
  const void *x;
  void *y;
  float alpha, beta;
  bool approximate;
  ec_dtype dt;
  unary_dbl_fn fn; /* the op in double: float64, bfloat16 */
};

typedef struct unary_params {
  ec_range_fn range; /* the loop for the input dtype */
  unary_dbl_fn dbl;
} unary_params;

static void wide_range(void *vc, int64_t b, int64_t e, int32_t thread);

/* One op's loops: float32, float16, and the op in double for wide_range. */
static ec_status prepare_unary(ec_node *n, ec_range_fn f32, ec_range_fn f16, unary_dbl_fn dbl) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && !ec_dtype_is_float(n->tin[0]->dtype))
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected a float dtype",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[0]->dtype, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK && n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_UNARYOPTIONS)
    st = ec_node_error(n, EC_ERR_FORMAT, "options are not UnaryOptions");
  if (st == EC_OK) st = ec_alloc_params(n, sizeof(unary_params));
  if (st != EC_OK) return st;
  unary_params *p = n->params;
  const ec_dtype dt = n->tin[0]->dtype;
  p->range = dt == EC_FLOAT32 ? f32 : dt == EC_FLOAT16 ? f16 : wide_range;
  p->dbl = dbl;
  return EC_OK;
}

static void eval_unary(const ec_node *n, const ec_exec *ex) {
  const unary_params *p = n->params;
  unary_ctx c = {ex->data[n->in[0]], ex->data[n->out[0]], n->opt.u.unary.alpha,
                 n->opt.u.unary.beta, n->opt.u.unary.approximate, n->tin[0]->dtype, p->dbl};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, p->range, &c);
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

static double gelu_d(double v, bool approximate) {
  if (approximate)
    return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
}

static double softplus_d(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

static void wide_range(void *vc, int64_t b, int64_t e, int32_t thread) {
  (void)thread;
  const unary_ctx *c = vc;
  for (int64_t i = b; i < e; i++)
    ec_store_f64(c->dt, c->y, i, c->fn(ec_load_f64(c->dt, c->x, i), c));
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
/* EXPR: in float, of v (float); DEXPR: the same in double (v double). */
#define UNARY(NAME, EXPR, DEXPR)                                             \
  UNARY_RANGE(range_##NAME, float, F32_ID, F32_ID, EXPR)                     \
  UNARY_RANGE(range_##NAME##_f16, uint16_t, ec_f16_to_f32, ec_f32_to_f16,    \
              EXPR)                                                          \
  static double dbl_##NAME(double v, const unary_ctx *c) {                   \
    const double alpha = c->alpha, beta = c->beta;                           \
    (void)alpha;                                                             \
    (void)beta;                                                              \
    return DEXPR;                                                            \
  }                                                                          \
  static ec_status prepare_##NAME(ec_node *n) {                             \
    return prepare_unary(n, range_##NAME, range_##NAME##_f16, dbl_##NAME);   \
  }                                                                          \
  const ec_kernel ec_kernel_##NAME = {#NAME, prepare_##NAME, eval_unary};

UNARY(sqrt, sqrtf(v), sqrt(v))
UNARY(exp, expf(v), exp(v))
UNARY(log, logf(v), log(v))
UNARY(neg, -v, -v)
UNARY(abs, fabsf(v), fabs(v))
UNARY(reciprocal, 1.0f / v, 1.0 / v)
UNARY(relu, v > 0 ? v : 0.0f, v > 0 ? v : 0.0)
UNARY(leaky_relu, v >= 0 ? v : alpha * v, v >= 0 ? v : alpha * v)
UNARY(clip, fminf(fmaxf(v, alpha), beta), fmin(fmax(v, alpha), beta))
UNARY(sigmoid, 1.0f / (1.0f + expf(-v)), 1.0 / (1.0 + exp(-v)))
UNARY(tanh, tanhf(v), tanh(v))
UNARY(hard_sigmoid, fmaxf(0.0f, fminf(1.0f, alpha * v + beta)),
      fmax(0.0, fmin(1.0, alpha * v + beta)))
UNARY(hard_swish, v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f)),
      v * fmax(0.0, fmin(1.0, v / 6.0 + 0.5)))
UNARY(gelu, gelu(v, c->approximate), gelu_d(v, c->approximate))
UNARY(erf, erff(v), erf(v))
UNARY(softplus, softplus(v), softplus_d(v))
UNARY(elu, v >= 0 ? v : alpha * (expf(v) - 1.0f), v >= 0 ? v : alpha * (exp(v) - 1.0))
UNARY(selu, v > 0 ? beta * v : beta * alpha * (expf(v) - 1.0f),
      v > 0 ? beta * v : beta * alpha * (exp(v) - 1.0))
UNARY(floor, floorf(v), floor(v))
UNARY(ceil, ceilf(v), ceil(v))
/* ties to even under the default rounding mode */
UNARY(round, nearbyintf(v), nearbyint(v))
UNARY(sin, sinf(v), sin(v))
UNARY(cos, cosf(v), cos(v))
UNARY(sign, (float)((v > 0) - (v < 0)), (double)((v > 0) - (v < 0)))
UNARY(softsign, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)))
UNARY(mish, v * tanhf(softplus(v)), v * tanh(softplus_d(v)))
UNARY(acos, acosf(v), acos(v))
UNARY(acosh, acoshf(v), acosh(v))
UNARY(asin, asinf(v), asin(v))
UNARY(asinh, asinhf(v), asinh(v))
UNARY(atan, atanf(v), atan(v))
UNARY(atanh, atanhf(v), atanh(v))
UNARY(cosh, coshf(v), cosh(v))
UNARY(sinh, sinhf(v), sinh(v))
UNARY(tan, tanf(v), tan(v))

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
  if (st == EC_OK && (ec_dtype_is_float(dt) || dt == EC_BOOL))
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
  if (st == EC_OK && !ec_dtype_is_float(n->tin[0]->dtype))
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected a float dtype",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_BOOL, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK && n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    st = ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  return st;
}

static inline double load_float(const ec_node *n, const void *x, int64_t i) {
  return ec_load_f64(n->tin[0]->dtype, x, i);
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
    const double v = load_float(n, x, i);
    y[i] = isinf(v) && ((v < 0 && neg) || (v > 0 && pos));
  }
}

const ec_kernel ec_kernel_is_nan = {"is_nan", prepare_is_class, eval_is_nan};
const ec_kernel ec_kernel_is_inf = {"is_inf", prepare_is_class, eval_is_inf};
