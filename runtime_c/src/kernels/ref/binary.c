/* Elementwise binary ops with numpy broadcasting: arithmetic on float32,
 * int32 and int64; comparisons to bool; logic on bool. Mod on floats is
 * C fmod; on integers the result takes the divisor's sign unless
 * AxisOptions.flags bit 0 (fmod=1) is set. Integer division by zero gives 0
 * rather than trapping: the runtime never crashes on data. */
#include <math.h>
#include <stdint.h>

#include "kernels/broadcast.h"

#define GRAIN 16384

typedef struct binary_ctx {
  const ec_bcast *b;
  const void *x, *y;
  void *z;
  bool fmod_ints;
} binary_ctx;

static ec_status prepare_binary(ec_node *n, const ec_dtype *allowed, int n_allowed,
                                bool bool_out) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  ec_dtype dt = n->tin[0]->dtype;
  bool ok = false;
  for (int i = 0; i < n_allowed; i++) ok |= dt == allowed[i];
  if (!ok)
    return ec_node_error(n, EC_ERR_DTYPE, "%s inputs are not supported",
                         ec_dtype_name(dt));
  st = ec_check_dtype(n, n->tin[1], dt, "second input");
  if (st == EC_OK)
    st = ec_check_dtype(n, n->tout[0], bool_out ? EC_BOOL : dt, "output");
  if (st == EC_OK) st = ec_alloc_params(n, sizeof(ec_bcast));
  if (st == EC_OK) st = ec_bcast_init(n, n->tout[0], n->tin, 2, n->params);
  return st;
}

static const ec_dtype numeric[] = {EC_FLOAT32, EC_INT32, EC_INT64};
static const ec_dtype logical[] = {EC_BOOL};

static ec_status prepare_arith(ec_node *n) { return prepare_binary(n, numeric, 3, false); }
static ec_status prepare_compare(ec_node *n) { return prepare_binary(n, numeric, 3, true); }
static ec_status prepare_logic(ec_node *n) { return prepare_binary(n, logical, 1, true); }
static ec_status prepare_float(ec_node *n) {
  static const ec_dtype f32[] = {EC_FLOAT32};
  return prepare_binary(n, f32, 1, false);
}

/* Walks [begin, end) row by row; BODY sees a, b (inputs) and writes out. */
#define BINARY_RANGE(FN, TA, TO, BODY)                                        \
  static void FN(void *vc, int64_t begin, int64_t end, int32_t thread) {\
    (void)thread;                      \
    const binary_ctx *c = vc;                                                 \
    const ec_bcast *bc = c->b;                                                \
    const TA *X = c->x, *Y = c->y;                                            \
    TO *Z = c->z;                                                             \
    ec_bcast_iter it;                                                         \
    ec_bcast_seek(bc, begin, &it);                                            \
    const int64_t last = bc->shape[bc->rank - 1];                             \
    const int64_t sx = bc->stride[0][bc->rank - 1];                           \
    const int64_t sy = bc->stride[1][bc->rank - 1];                           \
    while (begin < end) {                                                     \
      int64_t len = last - it.idx[bc->rank - 1];                              \
      if (len > end - begin) len = end - begin;                               \
      const TA *xp = X + it.off[0], *yp = Y + it.off[1];                      \
      TO *zp = Z + begin;                                                     \
      for (int64_t i = 0; i < len; i++) {                                     \
        const TA a = xp[i * sx], b = yp[i * sy];                              \
        (void)c;                                                              \
        zp[i] = (TO)(BODY);                                                   \
      }                                                                       \
      begin += len;                                                           \
      if (begin < end) ec_bcast_advance(bc, len, &it);                        \
    }                                                                         \
  }

/* One kernel over several dtypes: picks the range function in eval. */
#define BINARY_KERNEL(NAME, PREP, F32, I32, I64)                              \
  static void eval_##NAME(const ec_node *n, const ec_exec *ex) {              \
    binary_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->in[1]],        \
                    ex->data[n->out[0]],                                      \
                    n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS &&             \
                        (n->opt.u.axis.flags & 1u)};                          \
    ec_range_fn fn = F32;                                                     \
    if (n->tin[0]->dtype == EC_INT32) fn = I32;                               \
    if (n->tin[0]->dtype == EC_INT64) fn = I64;                               \
    ec_parallel_for(ex, n->tout[0]->numel, GRAIN, fn, &c);                    \
  }                                                                           \
  const ec_kernel ec_kernel_##NAME = {#NAME, PREP, eval_##NAME};

#define ARITH(NAME, FEXPR, IEXPR)                                             \
  BINARY_RANGE(NAME##_f32, float, float, FEXPR)                               \
  BINARY_RANGE(NAME##_i32, int32_t, int32_t, IEXPR)                           \
  BINARY_RANGE(NAME##_i64, int64_t, int64_t, IEXPR)                           \
  BINARY_KERNEL(NAME, prepare_arith, NAME##_f32, NAME##_i32, NAME##_i64)

#define COMPARE(NAME, EXPR)                                                   \
  BINARY_RANGE(NAME##_f32, float, uint8_t, EXPR)                              \
  BINARY_RANGE(NAME##_i32, int32_t, uint8_t, EXPR)                            \
  BINARY_RANGE(NAME##_i64, int64_t, uint8_t, EXPR)                            \
  BINARY_KERNEL(NAME, prepare_compare, NAME##_f32, NAME##_i32, NAME##_i64)

/* Integer arithmetic that is defined for every input: wrapping add, sub
 * and mul, and division/modulo by 0 or -1 handled before they trap. */
#define WRAP(expr) ((uint64_t)(expr))
#define INEG(a) (0 - (uint64_t)(a))
#define IDIV(a, b) ((b) == 0 ? 0 : ((b) == -1 ? INEG(a) : WRAP((a) / (b))))
#define FMIN(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fminf(a, b))
#define FMAX(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fmaxf(a, b))
#define IMOD_C(a, b) ((b) == 0 || (b) == -1 ? 0 : (a) % (b))
#define IMOD_PY(a, b) \
  (IMOD_C(a, b) != 0 && ((IMOD_C(a, b) < 0) != ((b) < 0)) ? IMOD_C(a, b) + (b) : IMOD_C(a, b))

ARITH(add, a + b, WRAP(a) + WRAP(b))
ARITH(sub, a - b, WRAP(a) - WRAP(b))
ARITH(mul, a * b, WRAP(a) * WRAP(b))
ARITH(div, a / b, IDIV(a, b))
ARITH(min, FMIN(a, b), a < b ? a : b)
ARITH(max, FMAX(a, b), a > b ? a : b)
ARITH(mod, fmodf(a, b), c->fmod_ints ? IMOD_C(a, b) : IMOD_PY(a, b))

BINARY_RANGE(pow_f32, float, float, powf(a, b))
static void eval_pow(const ec_node *n, const ec_exec *ex) {
  binary_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->in[1]],
                  ex->data[n->out[0]], false};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, pow_f32, &c);
}
const ec_kernel ec_kernel_pow = {"pow", prepare_float, eval_pow};

COMPARE(equal, a == b)
COMPARE(less, a < b)
COMPARE(greater, a > b)
COMPARE(less_or_equal, a <= b)
COMPARE(greater_or_equal, a >= b)

#define LOGIC(NAME, EXPR)                                                     \
  BINARY_RANGE(NAME##_b, uint8_t, uint8_t, EXPR)                              \
  static void eval_##NAME(const ec_node *n, const ec_exec *ex) {              \
    binary_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->in[1]],        \
                    ex->data[n->out[0]], false};                              \
    ec_parallel_for(ex, n->tout[0]->numel, GRAIN, NAME##_b, &c);              \
  }                                                                           \
  const ec_kernel ec_kernel_##NAME = {#NAME, prepare_logic, eval_##NAME};

LOGIC(and, (a != 0) & (b != 0))
LOGIC(or, (a != 0) | (b != 0))
LOGIC(xor, (a != 0) ^ (b != 0))
