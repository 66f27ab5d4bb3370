/* QCONCAT (AxisOptions.axis): int8/uint8 concatenation; each input is
 * requantized to the output's quantization (copied as bytes when it already
 * has it): y = zp_y + rq(x - zp_x, s_x / s_y), saturated. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/qcommon.h"

typedef struct qcat_in {
  int64_t extent; /* along the axis */
  bool copy, is_signed;
  int32_t zp;
  ec_qmul mul;
} qcat_in;

typedef struct qcat_params {
  int64_t outer, inner, total; /* total extent along the axis */
  bool y_signed;
  int32_t zp_y, lo, hi;
  int32_t n;
  qcat_in in[];
} qcat_params;

typedef struct qcat_ctx {
  const qcat_params *p;
  void *const *data;
  const int32_t *in;
  void *y;
} qcat_ctx;

static ec_status prepare_qconcat(ec_node *n) {
  if (n->n_in < 1 || n->n_out != 1)
    return ec_node_error(n, EC_ERR_FORMAT, "needs inputs and one output");
  ec_status st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_tensor_desc *y = n->tout[0];
  const int64_t axis = n->opt.u.axis.axis;
  if (axis < 0 || axis >= y->rank)
    return ec_node_error(n, EC_ERR_FORMAT, "axis %lld out of range", (long long)axis);
  if (!ec_is_q8(y->dtype))
    return ec_node_error(n, EC_ERR_DTYPE, "output must be int8 or uint8");
  st = ec_alloc_params(n, sizeof(qcat_params) + (size_t)n->n_in * sizeof(qcat_in));
  if (st != EC_OK) return st;
  qcat_params *p = n->params;
  float sy;
  st = ec_q_per_tensor(n, y, "output", &sy, &p->zp_y);
  if (st != EC_OK) return st;
  ec_q8_range(y->dtype, &p->lo, &p->hi);
  p->y_signed = y->dtype == EC_INT8;
  p->n = n->n_in;
  p->outer = 1;
  p->inner = 1;
  for (int32_t a = 0; a < y->rank; a++) {
    if (a < axis) p->outer *= y->shape[a];
    if (a > axis) p->inner *= y->shape[a];
  }
  for (int32_t i = 0; i < n->n_in; i++) {
    const ec_tensor_desc *x = n->tin[i];
    if (x == NULL || x->rank != y->rank || !ec_is_q8(x->dtype))
      return ec_node_error(n, EC_ERR_SHAPE, "input %d: absent, of another rank or not 8-bit", i);
    for (int32_t a = 0; a < y->rank; a++)
      if (a != axis && x->shape[a] != y->shape[a])
        return ec_node_error(n, EC_ERR_SHAPE, "input %d: shape does not match the output", i);
    float sx;
    st = ec_q_per_tensor(n, x, "input", &sx, &p->in[i].zp);
    if (st != EC_OK) return st;
    p->in[i].extent = x->shape[axis];
    p->in[i].is_signed = x->dtype == EC_INT8;
    p->in[i].copy = x->dtype == y->dtype && sx == sy && p->in[i].zp == p->zp_y;
    p->in[i].mul = ec_qmul_from_double((double)sx / sy);
    p->total += p->in[i].extent;
  }
  if (p->total != y->shape[axis])
    return ec_node_error(n, EC_ERR_SHAPE, "extents along the axis do not add up");
  return EC_OK;
}

static void qcat_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qcat_ctx *c = vc;
  const qcat_params *p = c->p;
  uint8_t *y = c->y;
  for (int64_t o = begin; o < end; o++) {
    int64_t at = o * p->total * p->inner;
    for (int32_t i = 0; i < p->n; i++) {
      const qcat_in *in = &p->in[i];
      const int64_t len = in->extent * p->inner, from = o * len;
      const void *x = c->data[c->in[i]];
      if (in->copy) {
        if (len) memcpy(y + at, (const uint8_t *)x + from, (size_t)len);
      } else {
        for (int64_t j = 0; j < len; j++) {
          const int32_t v = ec_requant(ec_q8_load(x, in->is_signed, from + j) - in->zp, in->mul);
          ec_q8_store(y, p->y_signed, at + j, ec_clamp_i32(v + p->zp_y, p->lo, p->hi));
        }
      }
      at += len;
    }
  }
}

static void eval_qconcat(const ec_node *n, const ec_exec *ex) {
  const qcat_params *p = n->params;
  qcat_ctx c = {p, ex->data, n->in, ex->data[n->out[0]]};
  ec_parallel_for(ex, p->outer, 1, qcat_range, &c);
}

EC_KERNEL(ec_kernel_qconcat, "qconcat", prepare_qconcat, eval_qconcat)
