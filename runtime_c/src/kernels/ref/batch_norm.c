/* BatchNormalization, inference form, float32:
 *   y = (x - mean) / sqrt(var + epsilon) * scale + B
 * over X of shape (N, C, D1, ...), inputs X, scale, B, mean, var (each of
 * the last four of shape (C)); AxisOptions.epsilon. It runs as
 * y = x * a[c] + b[c] with a = scale / sqrt(var + eps), b = B - mean * a:
 * computed once in prepare when all four are constants, else per channel
 * in eval. AxisOptions.flags bit 0: ReLU on the result (the compiler fuses a
 * Relu that follows; same expression as the RELU op). Work is split over
 * (n, c) planes. */
#include <math.h>
#include <stdint.h>

#include "kernel.h"

#define GRAIN_WORK 16384

typedef struct bn_params {
  int64_t channels, inner;
  float epsilon;
  bool folded; /* a, b hold the per-channel affine */
  bool relu;
  float *a, *b;
} bn_params;

typedef struct bn_ctx {
  const bn_params *p;
  const float *x, *scale, *bias, *mean, *var;
  float *y;
} bn_ctx;

static ec_status prepare_batch_norm(ec_node *n) {
  ec_status st = ec_check_arity(n, 5, 5, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  static const char names[5][9] = {"input", "scale", "bias", "mean", "variance"};
  for (int i = 0; i < 5 && st == EC_OK; i++)
    st = ec_check_dtype(n, n->tin[i], EC_FLOAT32, names[i]);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, x, n->tout[0], "input/output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  if (x->rank < 2)
    return ec_node_error(n, EC_ERR_SHAPE, "input of rank %d, expected (N, C, ...)", x->rank);
  const int64_t channels = x->shape[1];
  bool all_const = true;
  for (int i = 1; i < 5; i++) {
    const ec_tensor_desc *t = n->tin[i];
    st = ec_check_vec(n, t, channels, names[i]);
    if (st != EC_OK) return st;
    all_const &= t->storage == EC_FB_STORAGEKIND_CONSTANT && t->const_data != NULL;
  }
  size_t extra = all_const ? 2 * (size_t)channels * sizeof(float) : 0;
  st = ec_alloc_params(n, sizeof(bn_params) + extra);
  if (st != EC_OK) return st;
  bn_params *p = n->params;
  p->channels = channels;
  p->inner = x->numel ? 1 : 0; /* partial products of a non-empty shape cannot overflow */
  for (int32_t i = 2; i < x->rank && x->numel; i++) p->inner *= x->shape[i];
  p->epsilon = n->opt.u.axis.epsilon;
  p->relu = (n->opt.u.axis.flags & 1u) != 0;
  p->folded = all_const;
  if (all_const) {
    p->a = (float *)(p + 1);
    p->b = p->a + channels;
    const float *scale = n->tin[1]->const_data, *bias = n->tin[2]->const_data;
    const float *mean = n->tin[3]->const_data, *var = n->tin[4]->const_data;
    for (int64_t c = 0; c < channels; c++) {
      p->a[c] = scale[c] / sqrtf(var[c] + p->epsilon);
      p->b[c] = bias[c] - mean[c] * p->a[c];
    }
  }
  return EC_OK;
}

static void bn_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const bn_ctx *c = vc;
  const bn_params *p = c->p;
  const int64_t inner = p->inner;
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % p->channels;
    float a, b;
    if (p->folded) {
      a = p->a[ch];
      b = p->b[ch];
    } else {
      a = c->scale[ch] / sqrtf(c->var[ch] + p->epsilon);
      b = c->bias[ch] - c->mean[ch] * a;
    }
    const float *xp = c->x + plane * inner;
    float *yp = c->y + plane * inner;
    if (p->relu)
      for (int64_t i = 0; i < inner; i++) {
        const float v = xp[i] * a + b;
        yp[i] = v > 0 ? v : 0.0f;
      }
    else
      for (int64_t i = 0; i < inner; i++) yp[i] = xp[i] * a + b;
  }
}

static void eval_batch_norm(const ec_node *n, const ec_exec *ex) {
  const bn_params *p = n->params;
  if (p->inner == 0) return; /* empty input */
  bn_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->in[2]],
              ex->data[n->in[3]], ex->data[n->in[4]], ex->data[n->out[0]]};
  const int64_t planes = n->tin[0]->shape[0] * p->channels;
  const int64_t grain = GRAIN_WORK / p->inner > 1 ? GRAIN_WORK / p->inner : 1;
  ec_parallel_for(ex, planes, grain, bn_range, &c);
}

EC_KERNEL(ec_kernel_batch_norm, "batch_norm", prepare_batch_norm, eval_batch_norm)
