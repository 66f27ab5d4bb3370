/* LRN (local response normalization across channels), float32, X of shape
 * (N, C, D1, ...):
 *   y[c] = x[c] * (bias + alpha / size * sum_{c' in window(c)} x[c']^2)^-beta
 * window(c) = [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)] clipped
 * to [0, C). AxisOptions size, alpha, beta, bias. Work is split over (n, c)
 * planes; each plane accumulates its squares in the output first. */
#include <math.h>
#include <stdint.h>

#include "kernel.h"

#define GRAIN_WORK 16384

typedef struct lrn_params {
  int64_t channels, inner, before, after;
  float alpha_over_size, beta, bias;
} lrn_params;

typedef struct lrn_ctx {
  const lrn_params *p;
  const float *x;
  float *y;
} lrn_ctx;

static ec_status prepare_lrn(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_axis_options *o = &n->opt.u.axis;
  if (x->rank < 2)
    return ec_node_error(n, EC_ERR_SHAPE, "input of rank %d, expected (N, C, ...)", x->rank);
  if (o->size < 1 || o->size > ((int64_t)1 << 40))
    return ec_node_error(n, EC_ERR_FORMAT, "size is %lld, expected >= 1", (long long)o->size);
  st = ec_alloc_params(n, sizeof(lrn_params));
  if (st != EC_OK) return st;
  lrn_params *p = n->params;
  p->channels = x->shape[1];
  p->inner = x->numel ? 1 : 0;
  for (int32_t i = 2; i < x->rank && x->numel; i++) p->inner *= x->shape[i];
  p->before = (o->size - 1) / 2;
  p->after = o->size - 1 - p->before;
  p->alpha_over_size = o->alpha / (float)o->size;
  p->beta = o->beta;
  p->bias = o->bias;
  return EC_OK;
}

static void lrn_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const lrn_ctx *c = vc;
  const lrn_params *p = c->p;
  const int64_t C = p->channels, inner = p->inner;
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % C, base = plane - ch; /* plane of channel 0 */
    const int64_t lo = ch - p->before > 0 ? ch - p->before : 0;
    const int64_t hi = C - 1 - ch > p->after ? ch + p->after : C - 1;
    float *yp = c->y + plane * inner;
    for (int64_t i = 0; i < inner; i++) yp[i] = 0.0f;
    for (int64_t k = lo; k <= hi; k++) {
      const float *xk = c->x + (base + k) * inner;
      for (int64_t i = 0; i < inner; i++) yp[i] += xk[i] * xk[i];
    }
    const float *xp = c->x + plane * inner;
    for (int64_t i = 0; i < inner; i++)
      yp[i] = xp[i] * powf(p->bias + p->alpha_over_size * yp[i], -p->beta);
  }
}

static void eval_lrn(const ec_node *n, const ec_exec *ex) {
  const lrn_params *p = n->params;
  if (p->inner == 0) return; /* empty input */
  lrn_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  const int64_t planes = n->tin[0]->shape[0] * p->channels;
  const int64_t window = p->before + p->after + 1;
  const int64_t work = p->inner * ((window < p->channels ? window : p->channels) + 1);
  const int64_t grain = GRAIN_WORK / work > 1 ? GRAIN_WORK / work : 1;
  ec_parallel_for(ex, planes, grain, lrn_range, &c);
}

EC_KERNEL(ec_kernel_lrn, "lrn", prepare_lrn, eval_lrn)
