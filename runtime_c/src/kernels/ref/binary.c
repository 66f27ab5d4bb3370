/* Elementwise binary ops with numpy broadcasting: arithmetic on float32,
 * float16 (computed in float32), int8, uint8, int32 and int64; comparisons
 * to bool; logic on bool; bitwise ops and shifts on the integer dtypes.
 * Mod: AxisOptions.flags bit 0 (fmod=1) gives C's remainder (fmod for
 * floats, % for integers); otherwise the result takes the divisor's sign
 * (Python's %). Pow: float32/float16, or int32/int64 base and exponent
 * (exact integer powers, wrapping). Integer division by zero gives 0 rather
 * than trapping: the runtime never crashes on data. BitShift (flags bit 0:
 * right) by a negative amount or by the width or more gives 0 (-1 for a
 * negative signed value shifted right). */
#include <math.h>
#include <stdint.h>

#include "kernels/broadcast.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384
#define N_DTYPES 7 /* ec_dtype values: FLOAT32 .. BOOL */

typedef struct binary_ctx {
  const ec_bcast *b;
  const void *x, *y;
  void *z;
  bool flag; /* AxisOptions.flags bit 0 */
} binary_ctx;

static ec_status prepare_binary(ec_node *n, const ec_range_fn *fns, bool bool_out) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  ec_dtype dt = n->tin[0]->dtype;
  if ((unsigned)dt >= N_DTYPES || fns[dt] == NULL)
    return ec_node_error(n, EC_ERR_DTYPE, "%s inputs are not supported",
                         ec_dtype_name(dt));
  if (n->opt.type != 0 && n->opt.type != EC_FB_OPOPTIONS_AXISOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not AxisOptions");
  st = ec_check_dtype(n, n->tin[1], dt, "second input");
  if (st == EC_OK)
    st = ec_check_dtype(n, n->tout[0], bool_out ? EC_BOOL : dt, "output");
  if (st == EC_OK) st = ec_alloc_params(n, sizeof(ec_bcast));
  if (st == EC_OK) st = ec_bcast_init(n, n->tout[0], n->tin, 2, n->params);
  return st;
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

/* One kernel over several dtypes: the range function is picked by the input
 * dtype from NAME##_fns (NULL: not supported, refused in prepare). */
#define BINARY_KERNEL(NAME, BOOL_OUT, ...)                                    \
  static const ec_range_fn NAME##_fns[N_DTYPES] = {__VA_ARGS__};              \
  static ec_status prepare_##NAME(ec_node *n) {                               \
    return prepare_binary(n, NAME##_fns, BOOL_OUT);                           \
  }                                                                           \
  static void eval_##NAME(const ec_node *n, const ec_exec *ex) {              \
    binary_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->in[1]],        \
                    ex->data[n->out[0]],                                      \
                    n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS &&             \
                        (n->opt.u.axis.flags & 1u)};                          \
    ec_parallel_for(ex, n->tout[0]->numel, GRAIN,                             \
                    NAME##_fns[n->tin[0]->dtype], &c);                        \
  }                                                                           \
  const ec_kernel ec_kernel_##NAME = {#NAME, prepare_##NAME, eval_##NAME};

/* float32, float16 (in float32) and the four integer dtypes. */
#define ARITH(NAME, FEXPR, IEXPR)                                             \
  BINARY_RANGE(NAME##_f32, float, float, FEXPR)                               \
  BINARY_RANGE_LS(NAME##_f16, uint16_t, float, uint16_t, ec_f16_to_f32,       \
                  ec_f32_to_f16, FEXPR)                                       \
  BINARY_RANGE(NAME##_i8, int8_t, int8_t, IEXPR)                              \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, IEXPR)                            \
  BINARY_RANGE(NAME##_i32, int32_t, int32_t, IEXPR)                           \
  BINARY_RANGE(NAME##_i64, int64_t, int64_t, IEXPR)                           \
  BINARY_KERNEL(NAME, false, NAME##_f32, NAME##_f16, NAME##_i8, NAME##_u8,    \
                NAME##_i32, NAME##_i64, NULL)

#define COMPARE(NAME, EXPR)                                                   \
  BINARY_RANGE(NAME##_f32, float, uint8_t, EXPR)                              \
  BINARY_RANGE_LS(NAME##_f16, uint16_t, float, uint8_t, ec_f16_to_f32, TO_U8, \
                  EXPR)                                                       \
  BINARY_RANGE(NAME##_i8, int8_t, uint8_t, EXPR)                              \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, EXPR)                             \
  BINARY_RANGE(NAME##_i32, int32_t, uint8_t, EXPR)                            \
  BINARY_RANGE(NAME##_i64, int64_t, uint8_t, EXPR)                            \
  BINARY_KERNEL(NAME, true, NAME##_f32, NAME##_f16, NAME##_i8, NAME##_u8,     \
                NAME##_i32, NAME##_i64, NULL)

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
BINARY_KERNEL(pow, false, pow_f32, pow_f16, NULL, NULL, pow_i32, pow_i64, NULL)

COMPARE(equal, a == b)
COMPARE(less, a < b)
COMPARE(greater, a > b)
COMPARE(less_or_equal, a <= b)
COMPARE(greater_or_equal, a >= b)

#define LOGIC(NAME, EXPR)                                                     \
  BINARY_RANGE(NAME##_b, uint8_t, uint8_t, EXPR)                              \
  BINARY_KERNEL(NAME, true, NULL, NULL, NULL, NULL, NULL, NULL, NAME##_b)

LOGIC(and, (a != 0) & (b != 0))
LOGIC(or, (a != 0) | (b != 0))
LOGIC(xor, (a != 0) ^ (b != 0))

/* ---- bitwise ops and shifts (integer dtypes) ----------------------------- */

#define BITWISE(NAME, EXPR)                                                   \
  BINARY_RANGE(NAME##_i8, int8_t, int8_t, EXPR)                               \
  BINARY_RANGE(NAME##_u8, uint8_t, uint8_t, EXPR)                             \
  BINARY_RANGE(NAME##_i32, int32_t, int32_t, EXPR)                            \
  BINARY_RANGE(NAME##_i64, int64_t, int64_t, EXPR)                            \
  BINARY_KERNEL(NAME, false, NULL, NULL, NAME##_i8, NAME##_u8, NAME##_i32,    \
                NAME##_i64, NULL)

BITWISE(bitwise_and, a & b)
BITWISE(bitwise_or, a | b)
BITWISE(bitwise_xor, a ^ b)

/* Shifts of a value of `bits` bits by b: out of [0, bits) gives 0 (or -1
 * for a negative value shifted right); left shifts wrap through uint64. */
static inline uint64_t shift(int64_t a, int64_t b, int64_t bits, bool right) {
  if (b < 0 || b >= bits) return right && a < 0 ? (uint64_t)-1 : 0u;
  return right ? (uint64_t)(a >> b) : (uint64_t)a << b;
}
#define SHIFT(a, b) shift((int64_t)(a), (int64_t)(b), (int64_t)sizeof(a) * 8, c->flag)
BITWISE(bit_shift, SHIFT(a, b))
