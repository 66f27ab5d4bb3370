/* Elementwise binary ops with numpy broadcasting: arithmetic on float32,
 * float16 (computed in float32), int8, uint8, int32 and int64; comparisons
 * to bool; logic on bool; bitwise ops and shifts on the integer dtypes.
 * Mod: AxisOptions.flags bit 0 (fmod=1) gives C's remainder (fmod for
 * floats, % for integers); otherwise the result takes the divisor's sign
 * (Python's %). Pow: float32/float16, or int32/int64 base and exponent
 * (exact integer powers, wrapping). Integer division by zero gives 0 rather
 * than trapping: the runtime never crashes on data. BitShift (flags bit 0:
 * right) by a negative amount or by the width or more gives 0 (-1 for a
 * negative signed value shifted right).
 * float64, bfloat16, int16, uint16, uint32 and uint64 take one loop for
 * all ops (wide_range): elements go through elem.h as doubles (float64 is
 * computed in double, bfloat16 rounded back) or 64-bit integers. */
#include <math.h>
#include <stdint.h>

#include "kernels/broadcast.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384
#define N_TYPED 7 /* the dtypes of the typed loops: FLOAT32 .. BOOL */
/* the wide dtypes a kernel takes: bit (dtype - EC_FLOAT64) */
#define WIDE_ALL 0x3fu /* float64, int16, uint16, uint32, uint64, bfloat16 */
#define WIDE_INT 0x1eu /* int16, uint16, uint32, uint64 */

/* The op, for the one loop of the wide dtypes. */
enum {
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, OP_MOD, OP_POW,
  OP_EQ, OP_LT, OP_GT, OP_LE, OP_GE, OP_AND, OP_OR, OP_XOR, OP_SHIFT, OP_NONE
};

typedef struct binary_ctx {
  const ec_bcast *b;
  const void *x, *y;
  void *z;
  bool flag; /* AxisOptions.flags bit 0 */
  uint8_t op; /* OP_* */
  ec_dtype dt; /* of the inputs */
} binary_ctx;

typedef struct binary_params {
  ec_bcast b;
  ec_range_fn fn; /* the loop for the input dtype */
  uint8_t op;
} binary_params;

static void wide_range(void *vc, int64_t begin, int64_t end, int32_t thread);

/* fns: the typed loops by dtype (NULL: not supported); wide: WIDE_* mask of
 * the wide dtypes taken by wide_range with op. */
static ec_status prepare_binary(ec_node *n, const ec_range_fn *fns, uint8_t op, unsigned wide,
                                bool bool_out) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  ec_dtype dt = n->tin[0]->dtype;
  const ec_range_fn fn = (unsigned)dt < N_TYPED            ? fns[dt]
                         : (wide >> (dt - EC_FLOAT64)) & 1u ? wide_range
                                                            : NULL;
  if (fn == NULL)
    return ec_node_error(n, EC_ERR_DTYPE, "%s inputs are not supported",
                         ec_dtype_name(dt));
  if (n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  st = ec_check_dtype(n, n->tin[1], dt, "second input");
  if (st == EC_OK)
    st = ec_check_dtype(n, n->tout[0], bool_out ? EC_BOOL : dt, "output");
  if (st == EC_OK) st = ec_alloc_params(n, sizeof(binary_params));
  if (st != EC_OK) return st;
  binary_params *p = n->params;
  p->fn = fn;
  p->op = op;
  return ec_bcast_init(n, n->tout[0], n->tin, 2, &p->b);
}

static void eval_binary(const ec_node *n, const ec_exec *ex) {
  const binary_params *p = n->params;
  binary_ctx c = {&p->b, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]],
                  n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS && (n->opt.u.axis.flags & 1u),
                  p->op, n->tin[0]->dtype};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, p->fn, &c);
}

/* Walks [begin, end) row by row; BODY sees a, b (inputs, loaded as TV) and
 * its value is stored in the output. */
#define BINARY_RANGE_LS(FN, TA, TV, TO, LOAD, STORE, BODY)                    \
  static void FN(void *vc, int64_t begin, int64_t end, int32_t thread) {      \
    (void)thread;                                                             \
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
        const TV a = LOAD(xp[i * sx]), b = LOAD(yp[i * sy]);                  \
        (void)c;                                                              \
        zp[i] = STORE(BODY);                                                  \
      }                                                                       \
      begin += len;                                                           \
      if (begin < end) ec_bcast_advance(bc, len, &it);                        \
    }                                                                         \
  }

#define ID(v) (v)
#define TO_U8(v) ((uint8_t)(v))
#define BINARY_RANGE(FN, TA, TO, BODY) BINARY_RANGE_LS(FN, TA, TA, TO, ID, (TO), BODY)

/* One kernel over several dtypes: prepare picks the range function by the
 * input dtype from NAME##_fns (NULL: not supported, refused) or, for a wide
 * dtype in the WIDE mask, wide_range with OP. */
#define BINARY_KERNEL(NAME, BOOL_OUT, OP, WIDE, ...)                          \
  static const ec_range_fn NAME##_fns[N_TYPED] = {__VA_ARGS__};               \
  static ec_status prepare_##NAME(ec_node *n) {                               \
    return prepare_binary(n, NAME##_fns, OP, WIDE, BOOL_OUT);                 \
  }                                                                           \
  const ec_kernel ec_kernel_##NAME = {#NAME, prepare_##NAME, eval_binary};

/* float32, float16 (in float32) and the four integer dtypes; the wide ones. */
#define ARITH(NAME, FEXPR, IEXPR)                                             \
  BINARY_RANGE(NAME##_f32, float, float, FEXPR)                               \
  BINARY_RANGE_LS(NAME##_f16, uint16_t, float, uint16_t, ec_f16_to_f32,       \
                  ec_f32_to_f16, FEXPR)                                       \
  BINARY_RANGE(NAME##_i8, int8_t, int8_t, IEXPR)                              \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, IEXPR)                            \
  BINARY_RANGE(NAME##_i32, int32_t, int32_t, IEXPR)                           \
  BINARY_RANGE(NAME##_i64, int64_t, int64_t, IEXPR)                           \
  BINARY_KERNEL(NAME, false, OP_##NAME, WIDE_ALL, NAME##_f32, NAME##_f16,    \
                NAME##_i8, NAME##_u8, NAME##_i32, NAME##_i64, NULL)

#define COMPARE(NAME, OP, EXPR)                                               \
  BINARY_RANGE(NAME##_f32, float, uint8_t, EXPR)                              \
  BINARY_RANGE_LS(NAME##_f16, uint16_t, float, uint8_t, ec_f16_to_f32, TO_U8, \
                  EXPR)                                                       \
  BINARY_RANGE(NAME##_i8, int8_t, uint8_t, EXPR)                              \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, EXPR)                             \
  BINARY_RANGE(NAME##_i32, int32_t, uint8_t, EXPR)                            \
  BINARY_RANGE(NAME##_i64, int64_t, uint8_t, EXPR)                            \
  BINARY_KERNEL(NAME, true, OP, WIDE_ALL, NAME##_f32, NAME##_f16, NAME##_i8,  \
                NAME##_u8, NAME##_i32, NAME##_i64, NULL)

/* Integer arithmetic that is defined for every input: wrapping add, sub
 * and mul, and division/modulo by 0 or -1 handled before they trap. The
 * operands (int8, uint8, int32, int64) are widened to int64 first. */
#define WRAP(expr) ((uint64_t)(expr))
#define FMIN(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fminf(a, b))
#define FMAX(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fmaxf(a, b))

static inline uint64_t idiv(int64_t a, int64_t b) {
  return b == 0 ? 0u : (b == -1 ? 0u - (uint64_t)a : (uint64_t)(a / b));
}
static inline int64_t imod_c(int64_t a, int64_t b) { return b == 0 || b == -1 ? 0 : a % b; }
static inline int64_t imod_py(int64_t a, int64_t b) {
  const int64_t r = imod_c(a, b);
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}
#define IDIV(a, b) idiv((int64_t)(a), (int64_t)(b))

/* Python's float %: the remainder takes the divisor's sign. */
static inline float fmod_py(float a, float b) {
  const float r = fmodf(a, b);
  return (r != 0.0f && ((r < 0.0f) != (b < 0.0f))) ? r + b : r;
}

#define OP_add OP_ADD
#define OP_sub OP_SUB
#define OP_mul OP_MUL
#define OP_div OP_DIV
#define OP_min OP_MIN
#define OP_max OP_MAX
#define OP_mod OP_MOD
ARITH(add, a + b, WRAP(a) + WRAP(b))
ARITH(sub, a - b, WRAP(a) - WRAP(b))
ARITH(mul, a * b, WRAP(a) * WRAP(b))
ARITH(div, a / b, IDIV(a, b))
ARITH(min, FMIN(a, b), a < b ? a : b)
ARITH(max, FMAX(a, b), a > b ? a : b)
ARITH(mod, c->flag ? fmodf(a, b) : fmod_py(a, b),
      c->flag ? imod_c((int64_t)a, (int64_t)b) : imod_py((int64_t)a, (int64_t)b))

/* Integer power by squaring, wrapping; a negative exponent gives 0 unless
 * the base is 1 or -1 (the exact result truncated toward zero). */
static inline uint64_t ipow(int64_t a, int64_t e) {
  if (e < 0) return a == 1 ? 1u : (a == -1 ? ((e & 1) ? (uint64_t)-1 : 1u) : 0u);
  uint64_t r = 1, base = (uint64_t)a;
  while (e > 0) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return r;
}

BINARY_RANGE(pow_f32, float, float, powf(a, b))
BINARY_RANGE_LS(pow_f16, uint16_t, float, uint16_t, ec_f16_to_f32, ec_f32_to_f16, powf(a, b))
BINARY_RANGE(pow_i32, int32_t, int32_t, ipow(a, b))
BINARY_RANGE(pow_i64, int64_t, int64_t, ipow(a, b))
/* the wide ones: float64 and bfloat16 */
BINARY_KERNEL(pow, false, OP_POW, 0x21u, pow_f32, pow_f16, NULL, NULL, pow_i32, pow_i64, NULL)

COMPARE(equal, OP_EQ, a == b)
COMPARE(less, OP_LT, a < b)
COMPARE(greater, OP_GT, a > b)
COMPARE(less_or_equal, OP_LE, a <= b)
COMPARE(greater_or_equal, OP_GE, a >= b)

#define LOGIC(NAME, EXPR)                                                     \
  BINARY_RANGE(NAME##_b, uint8_t, uint8_t, EXPR)                              \
  BINARY_KERNEL(NAME, true, OP_NONE, 0u, NULL, NULL, NULL, NULL, NULL, NULL, NAME##_b)

LOGIC(and, (a != 0) & (b != 0))
LOGIC(or, (a != 0) | (b != 0))
LOGIC(xor, (a != 0) ^ (b != 0))

/* ---- bitwise ops and shifts (integer dtypes) ----------------------------- */

#define BITWISE(NAME, OP, EXPR)                                               \
  BINARY_RANGE(NAME##_i8, int8_t, int8_t, EXPR)                               \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, EXPR)                             \
  BINARY_RANGE(NAME##_i32, int32_t, int32_t, EXPR)                            \
  BINARY_RANGE(NAME##_i64, int64_t, int64_t, EXPR)                            \
  BINARY_KERNEL(NAME, false, OP, WIDE_INT, NULL, NULL, NAME##_i8, NAME##_u8, \
                NAME##_i32, NAME##_i64, NULL)

BITWISE(bitwise_and, OP_AND, a & b)
BITWISE(bitwise_or, OP_OR, a | b)
BITWISE(bitwise_xor, OP_XOR, a ^ b)

/* Shifts of a value of `bits` bits by b: out of [0, bits) gives 0 (or -1
 * for a negative value shifted right); left shifts wrap through uint64. */
static inline uint64_t shift(int64_t a, int64_t b, int64_t bits, bool right) {
  if (b < 0 || b >= bits) return right && a < 0 ? (uint64_t)-1 : 0u;
  return right ? (uint64_t)(a >> b) : (uint64_t)a << b;
}
#define SHIFT(a, b) shift((int64_t)(a), (int64_t)(b), (int64_t)sizeof(a) * 8, c->flag)
BITWISE(bit_shift, OP_SHIFT, SHIFT(a, b))

/* ---- the wide dtypes: one loop, the op picked per element --------------- */

static double wide_float(int op, double a, double b, bool flag) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return a / b;
    case OP_MIN: return isnan(a) || isnan(b) ? a + b : fmin(a, b);
    case OP_MAX: return isnan(a) || isnan(b) ? a + b : fmax(a, b);
    case OP_MOD: {
      const double r = fmod(a, b);
      return flag || r == 0.0 || ((r < 0.0) == (b < 0.0)) ? r : r + b;
    }
    case OP_POW: return pow(a, b);
    case OP_EQ: return a == b;
    case OP_LT: return a < b;
    case OP_GT: return a > b;
    case OP_LE: return a <= b;
    default: return a >= b; /* OP_GE */
  }
}

/* a, b: sign-extended (signed dtypes) or zero-extended; bits: the width. */
static uint64_t wide_int(int op, uint64_t a, uint64_t b, bool sign, int64_t bits, bool flag) {
  const int64_t sa = (int64_t)a, sb = (int64_t)b;
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return sign ? idiv(sa, sb) : b ? a / b : 0u;
    case OP_MOD:
      return sign ? (uint64_t)(flag ? imod_c(sa, sb) : imod_py(sa, sb)) : b ? a % b : 0u;
    case OP_AND: return a & b;
    case OP_OR: return a | b;
    case OP_XOR: return a ^ b;
    case OP_SHIFT:
      if (sign) return shift(sa, sb, bits, flag);
      return b >= (uint64_t)bits ? 0u : flag ? a >> b : a << b;
    case OP_EQ: return a == b;
    default: break;
  }
  const bool lt = sign ? sa < sb : a < b, gt = sign ? sa > sb : a > b;
  switch (op) {
    case OP_MIN: return lt ? a : b;
    case OP_MAX: return gt ? a : b;
    case OP_LT: return lt;
    case OP_GT: return gt;
    case OP_LE: return !gt;
    default: return !lt; /* OP_GE */
  }
}

static void wide_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const binary_ctx *c = vc;
  const ec_bcast *bc = c->b;
  const ec_dtype dt = c->dt;
  const bool fl = ec_dtype_is_float(dt), sign = !ec_dtype_is_unsigned(dt);
  const bool cmp = c->op >= OP_EQ && c->op <= OP_GE;
  const ec_dtype zt = cmp ? EC_BOOL : dt;
  const int64_t bits = (int64_t)ec_dtype_size(dt) * 8;
  ec_bcast_iter it;
  ec_bcast_seek(bc, begin, &it);
  const int64_t last = bc->shape[bc->rank - 1];
  const int64_t sx = bc->stride[0][bc->rank - 1], sy = bc->stride[1][bc->rank - 1];
  while (begin < end) {
    int64_t len = last - it.idx[bc->rank - 1];
    if (len > end - begin) len = end - begin;
    for (int64_t i = 0; i < len; i++) {
      const int64_t xi = it.off[0] + i * sx, yi = it.off[1] + i * sy;
      if (fl)
        ec_store_f64(zt, c->z, begin + i,
                     wide_float(c->op, ec_load_f64(dt, c->x, xi), ec_load_f64(dt, c->y, yi),
                                c->flag));
      else
        ec_store_bits(zt, c->z, begin + i,
                      wide_int(c->op, ec_load_bits(dt, c->x, xi), ec_load_bits(dt, c->y, yi),
                               sign, bits, c->flag));
    }
    begin += len;
    if (begin < end) ec_bcast_advance(bc, len, &it);
  }
}
