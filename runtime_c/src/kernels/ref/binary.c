/* Elementwise binary ops with numpy broadcasting: arithmetic on every
 * numeric dtype, comparisons to bool, logic on bool, bitwise ops and shifts
 * on the integer dtypes. float16 is computed in float32, float64 and
 * bfloat16 in double (bfloat16 rounded back); integers are widened to 64
 * bits (signed or unsigned by dtype) and the result wraps to the width.
 * Mod: AxisOptions.flags bit 0 (fmod=1) gives C's remainder (fmod for
 * floats, % for integers); otherwise the result takes the divisor's sign
 * (Python's %). Pow: float32/float16/float64/bfloat16, or int32/int64 base
 * and exponent (exact integer powers, wrapping). Integer division by zero
 * gives 0 rather than trapping: the runtime never crashes on data. BitShift
 * (flags bit 0: right) by a negative amount or by the width or more gives 0
 * (-1 for a negative signed value shifted right).
 *
 * Loops, by speed: float32 Add/Sub/Mul/Div/Min/Max (the ones models spend
 * time in) and the float32 comparisons run one loop per op. Everything else
 * (float16, the integer dtypes, logic, Mod, Pow, float64, bfloat16) runs one
 * loop for all ops that loads and stores through elem.h: slower, but a
 * fraction of the code of a loop per (op, dtype), and the same results. */
#include <math.h>
#include <stdint.h>

#include "kernels/broadcast.h"
#include "kernels/ref/elem.h"

#define GRAIN 16384

/* The ops, in the order of the kernels at the end. */
enum {
  OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, /* float32/float16: typed loops */
  OP_MOD, OP_POW,
  OP_EQ, OP_LT, OP_GT, OP_LE, OP_GE, /* -> bool */
  OP_AND, OP_OR, OP_XOR,             /* bool -> bool */
  OP_BITAND, OP_BITOR, OP_BITXOR, OP_SHIFT,
  N_OPS
};

#define DT(d) (1u << (d))
#define INTS                                                                        \
  (DT(EC_INT8) | DT(EC_UINT8) | DT(EC_INT16) | DT(EC_UINT16) | DT(EC_INT32) | \
   DT(EC_UINT32) | DT(EC_INT64) | DT(EC_UINT64))
#define FLOATS (DT(EC_FLOAT32) | DT(EC_FLOAT16) | DT(EC_FLOAT64) | DT(EC_BFLOAT16))
#define NUMBERS (FLOATS | INTS)

/* Per op: its opcode and the input dtypes it takes (a bit per ec_dtype). */
static const struct {
  uint16_t opcode, dtypes;
} ops[N_OPS] = {
    {EC_FB_OPCODE_ADD, NUMBERS},
    {EC_FB_OPCODE_SUB, NUMBERS},
    {EC_FB_OPCODE_MUL, NUMBERS},
    {EC_FB_OPCODE_DIV, NUMBERS},
    {EC_FB_OPCODE_MIN, NUMBERS},
    {EC_FB_OPCODE_MAX, NUMBERS},
    {EC_FB_OPCODE_MOD, NUMBERS},
    {EC_FB_OPCODE_POW, FLOATS | DT(EC_INT32) | DT(EC_INT64)},
    {EC_FB_OPCODE_EQUAL, NUMBERS},
    {EC_FB_OPCODE_LESS, NUMBERS},
    {EC_FB_OPCODE_GREATER, NUMBERS},
    {EC_FB_OPCODE_LESS_OR_EQUAL, NUMBERS},
    {EC_FB_OPCODE_GREATER_OR_EQUAL, NUMBERS},
    {EC_FB_OPCODE_AND, DT(EC_BOOL)},
    {EC_FB_OPCODE_OR, DT(EC_BOOL)},
    {EC_FB_OPCODE_XOR, DT(EC_BOOL)},
    {EC_FB_OPCODE_BITWISE_AND, INTS},
    {EC_FB_OPCODE_BITWISE_OR, INTS},
    {EC_FB_OPCODE_BITWISE_XOR, INTS},
    {EC_FB_OPCODE_BIT_SHIFT, INTS},
};

static bool bool_out(int32_t op) { return op >= OP_EQ && op <= OP_XOR; }

typedef struct binary_params {
  ec_bcast b;
  int32_t op;
} binary_params;

typedef struct binary_ctx {
  const ec_bcast *b;
  const void *x, *y;
  void *z;
  bool flag; /* AxisOptions.flags bit 0 */
  int32_t op;
  ec_dtype dt; /* of the inputs */
  ec_bcast_row_fn piece; /* the loop for this op and dtype */
} binary_ctx;

static ec_status prepare_binary(ec_node *n) {
  int32_t op = 0;
  while (op < N_OPS - 1 && ops[op].opcode != n->opcode) op++;
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_dtype dt = n->tin[0]->dtype;
  if ((unsigned)dt > EC_BFLOAT16 || !(ops[op].dtypes & DT(dt)))
    return ec_node_error(n, EC_ERR_DTYPE, "%s inputs are not supported",
                         ec_dtype_name(dt));
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS | EC_OPTIONS_OR_NONE);
  if (st != EC_OK) return st;
  st = ec_check_dtype(n, n->tin[1], dt, "second input");
  if (st == EC_OK)
    st = ec_check_dtype(n, n->tout[0], bool_out(op) ? EC_BOOL : dt, "output");
  if (st == EC_OK) st = ec_alloc_params(n, sizeof(binary_params));
  if (st != EC_OK) return st;
  binary_params *p = n->params;
  p->op = op;
  return ec_bcast_init(n, n->tout[0], n->tin, 2, &p->b);
}

/* ---- float32 Add/Sub/Mul/Div/Min/Max ------------------------------------ */

#define FMIN(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fminf(a, b))
#define FMAX(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fmaxf(a, b))

/* z[i] = x[i * sx] op y[i * sy], i < len: one loop per op. */
static inline void f32_row(int32_t op, const float *x, int64_t sx, const float *y, int64_t sy,
                           float *z, int64_t len) {
#define F32_LOOP(BODY)                                                        \
  for (int64_t i = 0; i < len; i++) {                                         \
    const float a = x[i * sx], b = y[i * sy];                                 \
    z[i] = BODY;                                                              \
  }                                                                           \
  break;
  switch (op) {
    case OP_ADD: F32_LOOP(a + b)
    case OP_SUB: F32_LOOP(a - b)
    case OP_MUL: F32_LOOP(a * b)
    case OP_DIV: F32_LOOP(a / b)
    case OP_MIN: F32_LOOP(FMIN(a, b))
    default: F32_LOOP(FMAX(a, b)) /* OP_MAX */
  }
#undef F32_LOOP
}

static void f32_piece(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const binary_ctx *c = vc;
  const int32_t r = c->b->rank - 1;
  f32_row(c->op, (const float *)c->x + off[0], c->b->stride[0][r],
          (const float *)c->y + off[1], c->b->stride[1][r], (float *)c->z + start, len);
}

/* float32 comparisons (masks: Less, Equal, ... feeding Where) in typed loops
 * too: the generic loop below is an order of magnitude slower. */
static void f32_cmp_piece(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const binary_ctx *c = vc;
  const int32_t r = c->b->rank - 1;
  const int64_t sx = c->b->stride[0][r], sy = c->b->stride[1][r];
  const float *x = (const float *)c->x + off[0], *y = (const float *)c->y + off[1];
  uint8_t *z = (uint8_t *)c->z + start;
#define CMP_LOOP(EXPR)                                                        \
  for (int64_t i = 0; i < len; i++) {                                         \
    const float a = x[i * sx], b = y[i * sy];                                 \
    z[i] = (uint8_t)(EXPR);                                                   \
  }                                                                           \
  break;
  switch (c->op) {
    case OP_EQ: CMP_LOOP(a == b)
    case OP_LT: CMP_LOOP(a < b)
    case OP_GT: CMP_LOOP(a > b)
    case OP_LE: CMP_LOOP(a <= b)
    default: CMP_LOOP(a >= b) /* OP_GE */
  }
#undef CMP_LOOP
}

/* ---- everything else: one loop, the op picked per element ---------------- */

/* Every float dtype computes here in double: for float32 and float16 inputs
 * that is exact for +, -, *, /, min, max, fmod and the comparisons (a
 * double holds the exact result, or rounds it where float rounding gives the
 * same float), so rounding back gives what float arithmetic gives. Pow is the
 * exception: powf for float32/float16 (generic_range). */
static double double_op(int32_t op, double a, double b, bool flag) {
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

/* Integer arithmetic that is defined for every input: wrapping add, sub
 * and mul, division/modulo by 0 or -1 handled before they trap. */
static uint64_t idiv(int64_t a, int64_t b) {
  return b == 0 ? 0u : (b == -1 ? 0u - (uint64_t)a : (uint64_t)(a / b));
}
static int64_t imod_c(int64_t a, int64_t b) { return b == 0 || b == -1 ? 0 : a % b; }
static int64_t imod_py(int64_t a, int64_t b) {
  const int64_t r = imod_c(a, b);
  return r != 0 && ((r < 0) != (b < 0)) ? r + b : r;
}

/* Integer power by squaring, wrapping; a negative exponent gives 0 unless
 * the base is 1 or -1 (the exact result truncated toward zero). */
static uint64_t ipow(int64_t a, int64_t e) {
  if (e < 0) return a == 1 ? 1u : (a == -1 ? ((e & 1) ? (uint64_t)-1 : 1u) : 0u);
  uint64_t r = 1, base = (uint64_t)a;
  while (e > 0) {
    if (e & 1) r *= base;
    base *= base;
    e >>= 1;
  }
  return r;
}

/* Shifts of a value of `bits` bits by b: out of [0, bits) gives 0 (or -1
 * for a negative value shifted right); left shifts wrap through uint64. */
static uint64_t shift(int64_t a, int64_t b, int64_t bits, bool right) {
  if (b < 0 || b >= bits) return right && a < 0 ? (uint64_t)-1 : 0u;
  return right ? (uint64_t)(a >> b) : (uint64_t)a << b;
}

/* a, b: sign-extended (signed dtypes) or zero-extended (unsigned, bool);
 * bits: the width. */
static uint64_t int_op(int32_t op, uint64_t a, uint64_t b, bool sign, int64_t bits,
                       bool flag) {
  const int64_t sa = (int64_t)a, sb = (int64_t)b;
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    case OP_DIV: return sign ? idiv(sa, sb) : b ? a / b : 0u;
    case OP_MOD:
      return sign ? (uint64_t)(flag ? imod_c(sa, sb) : imod_py(sa, sb)) : b ? a % b : 0u;
    case OP_POW: return ipow(sa, sb); /* int32, int64 */
    case OP_AND: return (a != 0) & (b != 0);
    case OP_OR: return (a != 0) | (b != 0);
    case OP_XOR: return (a != 0) ^ (b != 0);
    case OP_BITAND: return a & b;
    case OP_BITOR: return a | b;
    case OP_BITXOR: return a ^ b;
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

static void generic_piece(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const binary_ctx *c = vc;
  const ec_bcast *bc = c->b;
  const ec_dtype dt = c->dt, zt = bool_out(c->op) ? EC_BOOL : dt;
  const bool fl = ec_dtype_is_float(dt), sign = !ec_dtype_is_unsigned(dt);
  const bool single = dt == EC_FLOAT32 || dt == EC_FLOAT16;
  const int64_t bits = (int64_t)ec_dtype_size(dt) * 8;
  const int32_t r = bc->rank - 1;
  const int64_t sx = bc->stride[0][r], sy = bc->stride[1][r];
  for (int64_t i = 0; i < len; i++) {
    const int64_t xi = off[0] + i * sx, yi = off[1] + i * sy;
    if (fl) {
      const double a = ec_load_f64(dt, c->x, xi), b = ec_load_f64(dt, c->y, yi);
      ec_store_f64(zt, c->z, start + i,
                   single && c->op == OP_POW ? (double)powf((float)a, (float)b)
                                             : double_op(c->op, a, b, c->flag));
    } else {
      ec_store_bits(zt, c->z, start + i,
                    int_op(c->op, ec_load_bits(dt, c->x, xi), ec_load_bits(dt, c->y, yi),
                           sign, bits, c->flag));
    }
  }
}

/* Pieces of rows (the innermost broadcast axis), each in its typed loop. */
static void binary_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const binary_ctx *c = vc;
  ec_bcast_rows(c->b, begin, end, c->piece, c);
}

static void eval_binary(const ec_node *n, const ec_exec *ex) {
  const binary_params *p = n->params;
  binary_ctx c = {&p->b, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]],
                  n->opt.type == EC_FB_OPOPTIONS_AXISOPTIONS && (n->opt.u.axis.flags & 1u),
                  p->op, n->tin[0]->dtype, generic_piece};
  if (p->op <= OP_MAX && c.dt == EC_FLOAT32) c.piece = f32_piece;
  if (p->op >= OP_EQ && p->op <= OP_GE && c.dt == EC_FLOAT32) c.piece = f32_cmp_piece;
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, binary_range, &c);
}

#define BINARY_KERNEL(NAME) \
  EC_KERNEL(ec_kernel_##NAME, #NAME, prepare_binary, eval_binary)

BINARY_KERNEL(add)
BINARY_KERNEL(sub)
BINARY_KERNEL(mul)
BINARY_KERNEL(div)
BINARY_KERNEL(min)
BINARY_KERNEL(max)
BINARY_KERNEL(mod)
BINARY_KERNEL(pow)
BINARY_KERNEL(equal)
BINARY_KERNEL(less)
BINARY_KERNEL(greater)
BINARY_KERNEL(less_or_equal)
BINARY_KERNEL(greater_or_equal)
BINARY_KERNEL(and)
BINARY_KERNEL(or)
BINARY_KERNEL(xor)
BINARY_KERNEL(bitwise_and)
BINARY_KERNEL(bitwise_or)
BINARY_KERNEL(bitwise_xor)
BINARY_KERNEL(bit_shift)
