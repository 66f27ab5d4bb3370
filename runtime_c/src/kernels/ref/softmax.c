/* Softmax and LogSoftmax on float32 along AxisOptions.axis (opset >= 13:
 * one axis). AxisOptions.flags bit 0 selects the opset < 13 form: the
 * input is seen as 2-D [prod(shape[:axis]), prod(shape[axis:])] and the
 * normalization runs over the whole second dimension.
 *
 * Numerically stable: y = exp(x - max) / sum, log form (x - max) - log(sum).
 * Rows along a contiguous (last) axis are split over threads; for an inner
 * axis the (outer, inner) columns are.
 *
 * Instruction.variant picks the kernel family (kernel.h EC_VARIANT_*): on
 * x86 the contiguous rows (inner == 1: the last axis, and every flattened
 * form) run the AVX2 or AVX-512 rows of kernels/x86/rownorm_impl.h, a
 * polynomial exp within a few ulp of expf; this file stays the reference
 * and runs strided axes. */
#include <math.h>
#include <stdint.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/rownorm_x86.h"
#endif

#define GRAIN_WORK 16384
#define FLAG_FLATTEN 1u

typedef struct softmax_params {
  int64_t outer, n, inner;
  bool log;
  ec_isa isa; /* family to run; only the x86 ones differ from ref here */
} softmax_params;

typedef struct softmax_ctx {
  const softmax_params *p;
  const float *x;
  float *y;
} softmax_ctx;

static ec_status prepare_softmax(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "input/output");
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_axis_options *o = &n->opt.u.axis;
  const bool flatten = (o->flags & FLAG_FLATTEN) != 0;
  /* A scalar is a 1-element row; the flattened form allows axis == rank. */
  const int32_t rank = x->rank > 0 ? x->rank : 1;
  st = ec_check_axis_options(n, FLAG_FLATTEN, 0, rank + (flatten ? 1 : 0));
  if (st != EC_OK) return st;
  ec_isa isa;
  if (!ec_variant_isa(n->variant, 0, &isa))
    return ec_variant_error(n);
  st = ec_alloc_params(n, sizeof(softmax_params));
  if (st != EC_OK) return st;
  softmax_params *p = n->params;
  p->isa = isa;
  p->log = n->opcode == EC_FB_OPCODE_LOG_SOFTMAX;
  p->outer = p->n = p->inner = x->numel ? 1 : 0;
  if (x->numel == 0) return EC_OK; /* nothing to compute */
  const int32_t axis = (int32_t)o->axis;
  for (int32_t i = 0; i < x->rank; i++) {
    if (i < axis) p->outer *= x->shape[i];
    else if (i == axis || flatten) p->n *= x->shape[i];
    else p->inner *= x->shape[i];
  }
  return EC_OK;
}

static void softmax_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const softmax_ctx *c = vc;
  const softmax_params *p = c->p;
  const int64_t n = p->n, inner = p->inner;
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (inner == 1 && p->isa == EC_ISA_AVX512) {
    ec_x86_softmax_rows_avx512(c->x, c->y, n, begin, end, p->log);
    return;
  }
  if (inner == 1 && p->isa == EC_ISA_AVX2) {
    ec_x86_softmax_rows_avx2(c->x, c->y, n, begin, end, p->log);
    return;
  }
#endif
  for (int64_t col = begin; col < end; col++) {
    const int64_t o = col / inner, i = col % inner;
    const float *x = c->x + o * n * inner + i;
    float *y = c->y + o * n * inner + i;
    float m = -INFINITY;
    for (int64_t k = 0; k < n; k++) m = x[k * inner] > m ? x[k * inner] : m;
    double sum = 0.0;
    if (p->log) {
      for (int64_t k = 0; k < n; k++) sum += expf(x[k * inner] - m);
      /* (x - max) - log(sum), not x - (max + log(sum)): x - max is exact
       * near the max, where y is small, so y keeps its relative accuracy. */
      const float ls = (float)log(sum);
      for (int64_t k = 0; k < n; k++) y[k * inner] = (x[k * inner] - m) - ls;
    } else {
      for (int64_t k = 0; k < n; k++) {
        const float e = expf(x[k * inner] - m);
        y[k * inner] = e;
        sum += e;
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t k = 0; k < n; k++) y[k * inner] *= inv;
    }
  }
}

static void eval_softmax(const ec_node *n, const ec_exec *ex) {
  const softmax_params *p = n->params;
  softmax_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  if (p->n == 0) return; /* empty input */
  const int64_t grain = GRAIN_WORK / p->n > 1 ? GRAIN_WORK / p->n : 1;
  ec_parallel_for(ex, p->outer * p->inner, grain, softmax_range, &c);
}

EC_KERNEL(ec_kernel_softmax, "softmax", prepare_softmax, eval_softmax)
EC_KERNEL(ec_kernel_log_softmax, "log_softmax", prepare_softmax, eval_softmax)
