/* Cast between any two dtypes (the output dtype says where to). Every
 * conversion is defined for every input:
 *   float -> integer  truncates toward zero and saturates to the target's
 *                     range; NaN gives 0 (a C cast would be undefined);
 *   integer -> narrower integer  wraps modulo 2^bits (as C++/onnxruntime);
 *   -> bool           x != 0 (NaN is true); bool -> numbers gives 0 or 1;
 *   -> float16        round to nearest even, overflow to inf, NaN kept;
 *   int64 -> float16  through float32 (as onnxruntime).
 * float16 is converted with integer code, without compiler support. Casts
 * between float32, float16, int8, uint8, int32, int64 and bool run typed
 * loops; those from or to float64, bfloat16, int16, uint16, uint32 or
 * uint64 one loop over elem.h (float64 -> float16 rounds through float32;
 * an integer -> float32, float16 or bfloat16 converts to float32 first). */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384

/* Truncates toward zero, saturating to [lo, hi]; NaN gives 0. (float)hi may
 * round up to hi + 1, which only moves values that truncate to hi anyway. */
static inline int64_t f_to_int(float v, int64_t lo, int64_t hi) {
  if (isnan(v)) return 0;
  if (v <= (float)lo) return lo;
  if (v >= (float)hi) return hi;
  return (int64_t)v;
}

static inline int8_t wrap_i8(int64_t v) {
  const uint8_t u = (uint8_t)v;
  return u < 128u ? (int8_t)u : (int8_t)((int)u - 256);
}

static inline int32_t wrap_i32(int64_t v) {
  const uint32_t u = (uint32_t)v;
  return u <= (uint32_t)INT32_MAX ? (int32_t)u : (int32_t)((int64_t)u - 4294967296LL);
}

typedef void (*cast_fn)(const void *src, void *dst, int64_t begin, int64_t end);

#define LOOP(NAME, ST, DT, EXPR)                                               \
  static void NAME(const void *src, void *dst, int64_t begin, int64_t end) {   \
    const ST *s = src;                                                         \
    DT *d = dst;                                                               \
    for (int64_t i = begin; i < end; i++) {                                    \
      const ST v = s[i];                                                       \
      d[i] = (EXPR);                                                           \
    }                                                                          \
  }

#define FLOAT_SOURCE(S, ST, LOAD)                                              \
  LOOP(S##_f32, ST, float, LOAD(v))                                            \
  LOOP(S##_f16, ST, uint16_t, ec_f32_to_f16(LOAD(v)))                             \
  LOOP(S##_i8, ST, int8_t, (int8_t)f_to_int(LOAD(v), INT8_MIN, INT8_MAX))      \
  LOOP(S##_u8, ST, uint8_t, (uint8_t)f_to_int(LOAD(v), 0, UINT8_MAX))          \
  LOOP(S##_i32, ST, int32_t, (int32_t)f_to_int(LOAD(v), INT32_MIN, INT32_MAX)) \
  LOOP(S##_i64, ST, int64_t, f_to_int(LOAD(v), INT64_MIN, INT64_MAX))          \
  LOOP(S##_b, ST, uint8_t, (uint8_t)(LOAD(v) != 0.0f))

#define INT_SOURCE(S, ST, LOAD)                                                \
  LOOP(S##_f32, ST, float, (float)LOAD(v))                                     \
  LOOP(S##_f16, ST, uint16_t, ec_f32_to_f16((float)LOAD(v)))                      \
  LOOP(S##_i8, ST, int8_t, wrap_i8(LOAD(v)))                                   \
  LOOP(S##_u8, ST, uint8_t, (uint8_t)LOAD(v))                                  \
  LOOP(S##_i32, ST, int32_t, wrap_i32(LOAD(v)))                                \
  LOOP(S##_i64, ST, int64_t, LOAD(v))                                          \
  LOOP(S##_b, ST, uint8_t, (uint8_t)(LOAD(v) != 0))

#define LOAD_F32(v) (v)
#define LOAD_F16(v) ec_f16_to_f32(v)
#define LOAD_INT(v) ((int64_t)(v))
#define LOAD_BOOL(v) ((int64_t)((v) != 0))

FLOAT_SOURCE(from_f32, float, LOAD_F32)
FLOAT_SOURCE(from_f16, uint16_t, LOAD_F16)
INT_SOURCE(from_i8, int8_t, LOAD_INT)
INT_SOURCE(from_u8, uint8_t, LOAD_INT)
INT_SOURCE(from_i32, int32_t, LOAD_INT)
INT_SOURCE(from_i64, int64_t, LOAD_INT)
INT_SOURCE(from_b, uint8_t, LOAD_BOOL)

#define ROW(S) {S##_f32, S##_f16, S##_i8, S##_u8, S##_i32, S##_i64, S##_b}

/* [source dtype][target dtype], in ec_dtype order */
static const cast_fn casts[7][7] = {
    ROW(from_f32), ROW(from_f16), ROW(from_i8), ROW(from_u8),
    ROW(from_i32), ROW(from_i64), ROW(from_b),
};

static ec_status prepare_cast(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  return st; /* every dtype pair has a conversion */
}

typedef struct cast_ctx {
  cast_fn fn; /* NULL: the wide loop */
  const void *x;
  void *y;
  ec_dtype from, to;
} cast_ctx;

static void wide_cast(const cast_ctx *c, int64_t begin, int64_t end) {
  const ec_dtype from = c->from, to = c->to;
  const bool ffrom = ec_dtype_is_float(from), fto = ec_dtype_is_float(to);
  const bool narrow = fto && to != EC_FLOAT64; /* a float computed through float32 */
  for (int64_t i = begin; i < end; i++) {
    if (ffrom || to == EC_BOOL) {
      ec_store_f64(to, c->y, i, ec_load_f64(from, c->x, i)); /* saturates into integers */
      continue;
    }
    const uint64_t v = ec_load_bits(from, c->x, i);
    if (!fto)
      ec_store_bits(to, c->y, i, v); /* wraps */
    else if (narrow)
      ec_store_f64(to, c->y, i, ec_dtype_is_unsigned(from) ? (float)v : (float)(int64_t)v);
    else
      ec_store_f64(to, c->y, i, ec_dtype_is_unsigned(from) ? (double)v : (double)(int64_t)v);
  }
}

static void cast_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const cast_ctx *c = vc;
  if (c->fn)
    c->fn(c->x, c->y, begin, end);
  else
    wide_cast(c, begin, end);
}

static void eval_cast(const ec_node *n, const ec_exec *ex) {
  const ec_dtype from = n->tin[0]->dtype, to = n->tout[0]->dtype;
  cast_ctx c = {ec_dtype_is_wide(from) || ec_dtype_is_wide(to) ? NULL : casts[from][to],
                ex->data[n->in[0]], ex->data[n->out[0]], from, to};
  ec_parallel_for(ex, n->tout[0]->numel, GRAIN, cast_range, &c);
}

const ec_kernel ec_kernel_cast = {"cast", prepare_cast, eval_cast};
