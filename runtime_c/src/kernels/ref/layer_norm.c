/* LayerNormalization on float32: each row (the axes [axis, rank) of X) is
 * normalized to zero mean and unit variance, then scaled and shifted:
 *   y = (x - mean) / sqrt(var + epsilon) * scale + bias
 * Inputs X, scale, bias (scale and bias may be absent: 1 and 0); scale and
 * bias hold one value per row element (shape X.shape[axis:], leading 1s
 * allowed). AxisOptions axis, epsilon.
 *
 * AxisOptions.flags bit 0 (InstanceNormalization): scale and bias have
 * shape (C), C = X.shape[axis - 1], and row r uses scale[r % C].
 *
 * Statistics are two-pass in double. Rows are split over threads.
 *
 * Instruction.variant picks the kernel family (kernel.h EC_VARIANT_*): on
 * x86 the rows run the AVX2 or AVX-512 code of kernels/x86/rownorm_impl.h
 * (float vector sums with a corrected two-pass variance, within a few ulp
 * of this reference). */
#include <math.h>
#include <stdint.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/rownorm_x86.h"
#endif

#define GRAIN_WORK 16384
#define FLAG_PER_CHANNEL 1u

typedef struct ln_params {
  int64_t rows, cols, channels;
  bool per_channel;
  float epsilon;
  ec_isa isa; /* family to run; only the x86 ones differ from ref here */
} ln_params;

typedef struct ln_ctx {
  const ln_params *p;
  const float *x, *scale, *bias;
  float *y;
} ln_ctx;

static ec_status check_param(const ec_node *n, const ec_tensor_desc *t, const char *what,
                             int64_t cols, bool per_channel, int64_t channels, int32_t axis) {
  if (t == NULL) return EC_OK;
  ec_status st = ec_check_dtype(n, t, EC_FLOAT32, what);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  if (per_channel) return ec_check_vec(n, t, channels, what);
  bool ok = t->numel == cols;
  for (int32_t j = 0; ok && j < t->rank && j < x->rank - axis; j++)
    ok = t->shape[t->rank - 1 - j] == x->shape[x->rank - 1 - j];
  if (!ok)
    return ec_node_error(n, EC_ERR_SHAPE, "%s does not have the shape of the normalized axes",
                         what);
  return EC_OK;
}

static ec_status prepare_layer_norm(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 3, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_axis_options *o = &n->opt.u.axis;
  const bool per_channel = (o->flags & FLAG_PER_CHANNEL) != 0;
  st = ec_check_axis_options(n, FLAG_PER_CHANNEL, per_channel ? 1 : 0, x->rank);
  if (st != EC_OK) return st;
  const int32_t axis = (int32_t)o->axis;
  int64_t rows = 1, cols = 1; /* each side's product, even when the other is 0 */
  for (int32_t i = 0; i < x->rank; i++) {
    int64_t *prod = i < axis ? &rows : &cols;
    if (x->shape[i] != 0 && *prod > ((int64_t)1 << 62) / x->shape[i])
      return ec_node_error(n, EC_ERR_SHAPE, "input shape too large");
    *prod *= x->shape[i];
  }
  const int64_t channels = per_channel ? x->shape[axis - 1] : 0;
  st = check_param(n, n->n_in > 1 ? n->tin[1] : NULL, "scale", cols, per_channel, channels, axis);
  if (st == EC_OK)
    st = check_param(n, n->n_in > 2 ? n->tin[2] : NULL, "bias", cols, per_channel, channels, axis);
  if (st != EC_OK) return st;
  ec_isa isa;
  if (!ec_variant_isa(n->variant, 0, &isa))
    return ec_variant_error(n);
  st = ec_alloc_params(n, sizeof(ln_params));
  if (st != EC_OK) return st;
  ln_params *p = n->params;
  p->isa = isa;
  p->rows = rows;
  p->cols = x->numel ? cols : 0; /* 0: nothing to do */
  p->channels = channels;
  p->per_channel = per_channel;
  p->epsilon = o->epsilon;
  return EC_OK;
}

static void ln_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const ln_ctx *c = vc;
  const ln_params *p = c->p;
  const int64_t cols = p->cols;
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (ec_isa_is_x86(p->isa)) {
    const ec_ln_rows a = {c->x, c->scale, c->bias, c->y, cols, p->channels, p->per_channel,
                          p->epsilon};
    if (p->isa == EC_ISA_AVX512) ec_x86_layer_norm_rows_avx512(&a, begin, end);
    else ec_x86_layer_norm_rows_avx2(&a, begin, end);
    return;
  }
#endif
  for (int64_t r = begin; r < end; r++) {
    const float *x = c->x + r * cols;
    float *y = c->y + r * cols;
    double sum = 0.0;
    for (int64_t i = 0; i < cols; i++) sum += x[i];
    const double mean = sum / (double)cols;
    double sq = 0.0;
    for (int64_t i = 0; i < cols; i++) sq += (x[i] - mean) * (x[i] - mean);
    const float inv = (float)(1.0 / sqrt(sq / (double)cols + (double)p->epsilon));
    const float m = (float)mean;
    if (p->per_channel) {
      const int64_t ch = r % p->channels;
      const float s = c->scale ? c->scale[ch] * inv : inv, b = c->bias ? c->bias[ch] : 0.0f;
      for (int64_t i = 0; i < cols; i++) y[i] = (x[i] - m) * s + b;
    } else if (c->scale && c->bias) {
      for (int64_t i = 0; i < cols; i++) y[i] = (x[i] - m) * inv * c->scale[i] + c->bias[i];
    } else if (c->scale) {
      for (int64_t i = 0; i < cols; i++) y[i] = (x[i] - m) * inv * c->scale[i];
    } else if (c->bias) {
      for (int64_t i = 0; i < cols; i++) y[i] = (x[i] - m) * inv + c->bias[i];
    } else {
      for (int64_t i = 0; i < cols; i++) y[i] = (x[i] - m) * inv;
    }
  }
}

static void eval_layer_norm(const ec_node *n, const ec_exec *ex) {
  const ln_params *p = n->params;
  if (p->cols == 0) return; /* empty input */
  const bool has_scale = n->n_in > 1 && n->in[1] >= 0, has_bias = n->n_in > 2 && n->in[2] >= 0;
  ln_ctx c = {p, ex->data[n->in[0]], has_scale ? ex->data[n->in[1]] : NULL,
              has_bias ? ex->data[n->in[2]] : NULL, ex->data[n->out[0]]};
  const int64_t grain = GRAIN_WORK / p->cols > 1 ? GRAIN_WORK / p->cols : 1;
  ec_parallel_for(ex, p->rows, grain, ln_range, &c);
}

EC_KERNEL(ec_kernel_layer_norm, "layer_norm", prepare_layer_norm, eval_layer_norm)
