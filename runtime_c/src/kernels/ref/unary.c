/* Elementwise unary ops on float32, float16 (computed in float32), float64
 * and bfloat16 (computed in double); Not on bool, BitwiseNot on the integer
 * dtypes, IsNaN/IsInf from floats to bool. Scalar parameters come from
 * UnaryOptions: LeakyRelu/Elu alpha, Clip [alpha, beta], HardSigmoid
 * alpha/beta, Selu alpha/gamma(beta), Gelu approximate; IsInf's
 * detect_negative/detect_positive from AxisOptions.flags bits 0 and 1.
 * One float32 function holds a loop per op (picked once per call); float16
 * runs it on chunks converted to float32; float64 and bfloat16 take one loop
 * over elem.h with the op picked per element. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384

typedef struct unary_ctx {
  const void *x;
  void *y;
  float alpha, beta;
  bool approximate;
  uint16_t opcode;
  ec_dtype dt;
  ec_range_fn f32;                              /* the float32 loops of the op's list */
  double (*dbl)(const struct unary_ctx *, double); /* the op in double */
} unary_ctx;

static ec_status prepare_unary(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && !ec_dtype_is_float(n->tin[0]->dtype))
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected a float dtype",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], n->tin[0]->dtype, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK) st = ec_check_options(n, EC_FB_OPOPTIONS_UNARYOPTIONS | EC_OPTIONS_OR_NONE);
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

static double gelu_d(double v, bool approximate) {
  if (approximate)
    return 0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1.0 + erf(v * 0.7071067811865476));
}

static double softplus_d(double v) { return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)); }

/* The unary ops: X(kernel name, OPCODE suffix, the op in float of v
 * (float32, float16), the same in double (float64, bfloat16)); alpha, beta
 * and c are in scope. */
#define UNARY_OPS(X)                                                          \
X(sqrt, SQRT, sqrtf(v), sqrt(v))                                              \
X(exp, EXP, expf(v), exp(v))                                                  \
X(log, LOG, logf(v), log(v))                                                  \
X(neg, NEG, -v, -v)                                                           \
X(abs, ABS, fabsf(v), fabs(v))                                                \
X(reciprocal, RECIPROCAL, 1.0f / v, 1.0 / v)                                  \
X(relu, RELU, v > 0 ? v : 0.0f, v > 0 ? v : 0.0)                              \
X(leaky_relu, LEAKY_RELU, v >= 0 ? v : alpha * v, v >= 0 ? v : alpha * v)     \
X(clip, CLIP, fminf(fmaxf(v, alpha), beta), fmin(fmax(v, alpha), beta))      \
X(sigmoid, SIGMOID, 1.0f / (1.0f + expf(-v)), 1.0 / (1.0 + exp(-v)))          \
X(tanh, TANH, tanhf(v), tanh(v))                                              \
X(hard_sigmoid, HARD_SIGMOID, fmaxf(0.0f, fminf(1.0f, alpha * v + beta)),     \
  fmax(0.0, fmin(1.0, alpha * v + beta)))                                     \
X(hard_swish, HARD_SWISH, v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f)),      \
  v * fmax(0.0, fmin(1.0, v / 6.0 + 0.5)))                                    \
X(gelu, GELU, gelu(v, c->approximate), gelu_d(v, c->approximate))             \
X(erf, ERF, erff(v), erf(v))                                                  \
X(softplus, SOFTPLUS, softplus(v), softplus_d(v))                             \
X(elu, ELU, v >= 0 ? v : alpha * (expf(v) - 1.0f),                            \
  v >= 0 ? v : alpha * (exp(v) - 1.0))                                        \
X(selu, SELU, v > 0 ? beta * v : beta * alpha * (expf(v) - 1.0f),             \
  v > 0 ? beta * v : beta * alpha * (exp(v) - 1.0))                           \
X(floor, FLOOR, floorf(v), floor(v))                                          \
X(ceil, CEIL, ceilf(v), ceil(v))                                              \
/* ties to even under the default rounding mode */                            \
X(round, ROUND, nearbyintf(v), nearbyint(v))                                  \
X(sin, SIN, sinf(v), sin(v))                                                  \
X(cos, COS, cosf(v), cos(v))                                                  \
X(sign, SIGN, (float)((v > 0) - (v < 0)), (double)((v > 0) - (v < 0)))        \
X(softsign, SOFTSIGN, v / (1.0f + fabsf(v)), v / (1.0 + fabs(v)))             \
X(mish, MISH, v * tanhf(softplus(v)), v * tanh(softplus_d(v)))

/* The trigonometry of ops_misc.def (the conformance extras): a second list,
 * with loops of its own, so that a build without those kernels drops their
 * code and the libm functions it calls. */
#define TRIG_OPS(X)                                                           \
X(acos, ACOS, acosf(v), acos(v))                                              \
X(acosh, ACOSH, acoshf(v), acosh(v))                                          \
X(asin, ASIN, asinf(v), asin(v))                                              \
X(asinh, ASINH, asinhf(v), asinh(v))                                          \
X(atan, ATAN, atanf(v), atan(v))                                              \
X(atanh, ATANH, atanhf(v), atanh(v))                                          \
X(cosh, COSH, coshf(v), cosh(v))                                              \
X(sinh, SINH, sinhf(v), sinh(v))                                              \
X(tan, TAN, tanf(v), tan(v))

/* float32 [b, e) of the ops of LIST: one loop per op, the op picked once
 * per call; and the op in double. */
#define LOOPS(FN, DBL, LIST)                                                  \
  static void FN(void *vc, int64_t b, int64_t e, int32_t thread) {            \
    (void)thread;                                                             \
    const unary_ctx *c = vc;                                                  \
    const float *x = c->x;                                                    \
    float *y = c->y;                                                          \
    const float alpha = c->alpha, beta = c->beta;                             \
    (void)alpha;                                                              \
    (void)beta;                                                               \
    switch (c->opcode) {                                                      \
      LIST(F32_CASE)                                                          \
      default: break; /* the kernels of LIST are all above */                 \
    }                                                                         \
  }                                                                           \
  static double DBL(const unary_ctx *c, double v) {                           \
    const double alpha = c->alpha, beta = c->beta;                            \
    (void)alpha;                                                              \
    (void)beta;                                                               \
    switch (c->opcode) {                                                      \
      LIST(DBL_CASE)                                                          \
      default: return v;                                                      \
    }                                                                         \
  }
#define F32_CASE(NAME, CODE, EXPR, DEXPR)                                     \
  case EC_FB_OPCODE_##CODE:                                                   \
    for (int64_t i = b; i < e; i++) {                                         \
      const float v = x[i];                                                   \
      y[i] = EXPR;                                                            \
    }                                                                         \
    break;
#define DBL_CASE(NAME, CODE, EXPR, DEXPR) \
  case EC_FB_OPCODE_##CODE: return DEXPR;

LOOPS(range_f32, dbl_op, UNARY_OPS)
LOOPS(trig_f32, trig_dbl, TRIG_OPS)

/* float16: a chunk at a time converted to float32, through the float32
 * loop and back (the same float32 arithmetic as a float16 loop per op). */
static void range_f16(void *vc, int64_t b, int64_t e, int32_t thread) {
  const unary_ctx *h = vc;
  const uint16_t *x = h->x;
  uint16_t *y = h->y;
  float buf[256];
  unary_ctx c = *h;
  c.x = buf;
  c.y = buf;
  for (; b < e; b += 256) {
    const int64_t len = e - b < 256 ? e - b : 256;
    for (int64_t i = 0; i < len; i++) buf[i] = ec_f16_to_f32(x[b + i]);
    h->f32(&c, 0, len, thread);
    for (int64_t i = 0; i < len; i++) y[b + i] = ec_f32_to_f16(buf[i]);
  }
}

/* float64 and bfloat16: the op in double, picked per element. */
static void range_wide(void *vc, int64_t b, int64_t e, int32_t thread) {
  (void)thread;
  const unary_ctx *c = vc;
  for (int64_t i = b; i < e; i++)
    ec_store_f64(c->dt, c->y, i, c->dbl(c, ec_load_f64(c->dt, c->x, i)));
}

static void run(const ec_node *n, const ec_exec *ex, ec_range_fn f32,
                double (*dbl)(const unary_ctx *, double)) {
  const ec_dtype dt = n->tin[0]->dtype;
  unary_ctx c = {ex->data[n->in[0]], ex->data[n->out[0]], n->opt.u.unary.alpha,
                 n->opt.u.unary.beta, n->opt.u.unary.approximate, n->opcode, dt, f32, dbl};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN,
                  dt == EC_FLOAT32 ? f32 : dt == EC_FLOAT16 ? range_f16 : range_wide, &c);
}

static void eval_unary(const ec_node *n, const ec_exec *ex) { run(n, ex, range_f32, dbl_op); }
static void eval_trig(const ec_node *n, const ec_exec *ex) { run(n, ex, trig_f32, trig_dbl); }

#define X_KERNEL(NAME, CODE, EXPR, DEXPR) \
  EC_KERNEL(ec_kernel_##NAME, #NAME, prepare_unary, eval_unary)
#define X_TRIG_KERNEL(NAME, CODE, EXPR, DEXPR) \
  EC_KERNEL(ec_kernel_##NAME, #NAME, prepare_unary, eval_trig)
UNARY_OPS(X_KERNEL)
TRIG_OPS(X_TRIG_KERNEL)

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

EC_KERNEL(ec_kernel_not, "not", prepare_not, eval_not)

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

EC_KERNEL(ec_kernel_copy, "copy", prepare_copy, eval_copy)

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

EC_KERNEL(ec_kernel_bitwise_not, "bitwise_not", prepare_bitwise_not, eval_bitwise_not)

/* ---- IsNaN, IsInf (floats -> bool) -------------------------------------- */

static ec_status prepare_is_class(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK && !ec_dtype_is_float(n->tin[0]->dtype))
    st = ec_node_error(n, EC_ERR_DTYPE, "%s input, expected a float dtype",
                       ec_dtype_name(n->tin[0]->dtype));
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_BOOL, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st == EC_OK) st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS | EC_OPTIONS_OR_NONE);
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

EC_KERNEL(ec_kernel_is_nan, "is_nan", prepare_is_class, eval_is_nan)
EC_KERNEL(ec_kernel_is_inf, "is_inf", prepare_is_class, eval_is_inf)
