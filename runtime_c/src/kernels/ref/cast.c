/* Cast between any two dtypes (the output dtype says where to). Every
 * conversion is defined for every input:
 *   float -> integer  truncates toward zero and saturates to the target's
 *                     range; NaN gives 0 (a C cast would be undefined);
 *   integer -> narrower integer  wraps modulo 2^bits (as C++/onnxruntime);
 *   -> bool           x != 0 (NaN is true); bool -> numbers gives 0 or 1;
 *   -> float16        round to nearest even, overflow to inf, NaN kept;
 *   int64 -> float16  through float32 (as onnxruntime).
 * float16 is converted with integer code, without compiler support.
 * float16 -> float32 and float32 -> float32 (bit exact: a signaling NaN stays
 * one) and uint8 -> float32 (image inputs) run typed loops; every other pair
 * one loop over elem.h (a float loads as double, exactly;
 * an integer or bool as 64 bits: float64 -> float16 rounds through float32;
 * an integer -> float32, float16 or bfloat16 converts to float32 first). */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

#define GRAIN 16384

static ec_status prepare_cast(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  return st; /* every dtype pair has a conversion */
}

typedef struct cast_ctx {
  const void *x;
  void *y;
  ec_dtype from, to;
} cast_ctx;

static void cast_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const cast_ctx *c = vc;
  const ec_dtype from = c->from, to = c->to;
  /* float16 and float32 into float32 keep every bit, signaling NaNs too (a
   * round trip through double would quiet them) */
  if (from == EC_FLOAT16 && to == EC_FLOAT32) {
    for (int64_t i = begin; i < end; i++)
      ((float *)c->y)[i] = ec_f16_to_f32(((const uint16_t *)c->x)[i]);
    return;
  }
  if (from == EC_FLOAT32 && to == EC_FLOAT32) {
    memcpy((float *)c->y + begin, (const float *)c->x + begin, (size_t)(end - begin) * 4);
    return;
  }
  if (from == EC_UINT8 && to == EC_FLOAT32) {
    for (int64_t i = begin; i < end; i++) ((float *)c->y)[i] = ((const uint8_t *)c->x)[i];
    return;
  }
  const bool ffrom = ec_dtype_is_float(from), fto = ec_dtype_is_float(to);
  const bool narrow = fto && to != EC_FLOAT64; /* a float computed through float32 */
  for (int64_t i = begin; i < end; i++) {
    if (ffrom || to == EC_BOOL) {
      ec_store_f64(to, c->y, i, ec_load_f64(from, c->x, i)); /* saturates into integers */
      continue;
    }
    uint64_t v = ec_load_bits(from, c->x, i);
    if (from == EC_BOOL) v = v != 0; /* any non-zero byte is true: 1 */
    if (!fto)
      ec_store_bits(to, c->y, i, v); /* wraps */
    else if (narrow)
      ec_store_f64(to, c->y, i, ec_dtype_is_unsigned(from) ? (float)v : (float)(int64_t)v);
    else
      ec_store_f64(to, c->y, i, ec_dtype_is_unsigned(from) ? (double)v : (double)(int64_t)v);
  }
}

static void run_cast(const ec_node *n, const ec_exec *ex, int64_t numel) {
  cast_ctx c = {ex->data[n->in[0]], ex->data[n->out[0]], n->tin[0]->dtype, n->tout[0]->dtype};
  ec_parallel_for(ex, numel, GRAIN, cast_range, &c);
}

static void eval_cast(const ec_node *n, const ec_exec *ex) {
  run_cast(n, ex, n->tout[0]->numel);
}

EC_KERNEL(ec_kernel_cast, "cast", prepare_cast, eval_cast)

/* CAST_DYN: a data-dependent input casts at its actual shape, which the output
 * takes (docs/dynamic_shapes.md). */
static ec_status prepare_cast_dyn(ec_node *n) {
  ec_status st = prepare_cast(n);
  return st == EC_OK ? ec_check_dyn(n, n->tout[0], n->tin[0]->dyn_mask, "output") : st;
}

static void eval_cast_dyn(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *in = n->tin[0];
  for (int32_t k = 0; k < in->rank; k++) ec_set_dim(ex, n->tout[0], k, ec_dims(ex, in)[k]);
  run_cast(n, ex, ec_numel(ex, in));
}

EC_KERNEL(ec_kernel_cast_dyn, "cast_dyn", prepare_cast_dyn, eval_cast_dyn)
