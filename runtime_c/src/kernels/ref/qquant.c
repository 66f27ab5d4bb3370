/* QUANTIZE_LINEAR (float32 -> int8/uint8/int16/uint16, the output's
 * quantization) and DEQUANTIZE_LINEAR (int8/uint8/int16/uint16/int32 ->
 * float32, the input's quantization),
 * per tensor or per axis, as ONNX QuantizeLinear/DequantizeLinear:
 *   q = saturate(round_half_even(x / scale) + zero_point)   (NaN -> the low end)
 *   x = (q - zero_point) * scale
 * Rows of (outer, channel) pairs with `inner` contiguous elements each; a
 * per-tensor quantization is one channel. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/qcommon.h"

typedef struct qlin_params {
  int64_t outer, channels, inner;
  ec_dtype qtype; /* the integer side */
  float lo, hi; /* quantize: dtype range */
  int32_t n;    /* channels in the arrays below */
  float *scale;
  int32_t *zp;
} qlin_params;

static ec_status prepare_common(ec_node *n, const ec_tensor_desc *q) {
  const ec_quant *qu = &q->quant;
  if (qu->n == 0 || qu->scales == NULL)
    return ec_node_error(n, EC_ERR_FORMAT, "'%s' has no quantization", q->name);
  int32_t lo = INT32_MIN, hi = INT32_MAX;
  if (ec_is_q8(q->dtype)) ec_q8_range(q->dtype, &lo, &hi);
  if (q->dtype == EC_INT16) lo = INT16_MIN, hi = INT16_MAX;
  if (q->dtype == EC_UINT16) lo = 0, hi = UINT16_MAX;
  const size_t bytes = sizeof(qlin_params) + (size_t)qu->n * (sizeof(float) + sizeof(int32_t));
  ec_status st = ec_alloc_params(n, bytes);
  if (st != EC_OK) return st;
  qlin_params *p = n->params;
  p->scale = (float *)(p + 1);
  p->zp = (int32_t *)(p->scale + qu->n);
  p->n = qu->n;
  for (int32_t c = 0; c < qu->n; c++) {
    const float s = qu->scales[c];
    const int64_t zp = qu->zero_points ? qu->zero_points[c] : 0;
    if (!(s > 0.0f) || s > 3.0e38f)
      return ec_node_error(n, EC_ERR_FORMAT, "'%s': scale %g", q->name, (double)s);
    if (zp < lo || zp > hi)
      return ec_node_error(n, EC_ERR_FORMAT, "'%s': zero point %lld outside its dtype",
                           q->name, (long long)zp);
    p->scale[c] = s;
    p->zp[c] = (int32_t)zp;
  }
  p->outer = 1;
  p->inner = 1;
  p->channels = qu->axis < 0 ? 1 : q->shape[qu->axis];
  for (int32_t a = 0; a < q->rank; a++) {
    if (qu->axis < 0 || a > qu->axis)
      p->inner *= q->shape[a];
    else if (a < qu->axis)
      p->outer *= q->shape[a];
  }
  p->qtype = q->dtype;
  p->lo = (float)lo;
  p->hi = (float)hi;
  return EC_OK;
}

/* ---- QUANTIZE_LINEAR ------------------------------------------------------ */

static ec_status prepare_quantize(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "output");
  if (st != EC_OK) return st;
  const ec_dtype t = n->tout[0]->dtype;
  if (!ec_is_q8(t) && t != EC_INT16 && t != EC_UINT16)
    return ec_node_error(n, EC_ERR_DTYPE, "output is %s (int8, uint8, int16 or uint16)",
                         ec_dtype_name(t));
  return prepare_common(n, n->tout[0]);
}

typedef struct qlin_ctx {
  const qlin_params *p;
  const void *x;
  void *y;
} qlin_ctx;

/* round half to even for |v| <= 2^22, in any SSE/NEON build (no libm call)
 * (the 16-bit ranges are well inside). */
static inline float round_even(float v) {
  const float magic = 12582912.0f; /* 1.5 * 2^23 */
  return (v + magic) - magic;
}

static void quantize_row(const float *x, int64_t len, float s, int32_t zp, float lo, float hi,
                         ec_dtype qt, void *y, int64_t y0) {
  const float zf = (float)zp, tlo = lo - zf - 1.0f, thi = hi - zf + 1.0f;
  for (int64_t i = 0; i < len; i++) {
    float t = x[i] / s;
    t = t > tlo ? t : tlo; /* NaN -> tlo */
    t = t < thi ? t : thi;
    float v = round_even(t) + zf;
    v = v > lo ? v : lo;
    v = v < hi ? v : hi;
    if (qt == EC_INT8)
      ((int8_t *)y)[y0 + i] = (int8_t)(int32_t)v;
    else if (qt == EC_UINT8)
      ((uint8_t *)y)[y0 + i] = (uint8_t)(int32_t)v;
    else if (qt == EC_INT16)
      ((int16_t *)y)[y0 + i] = (int16_t)(int32_t)v;
    else
      ((uint16_t *)y)[y0 + i] = (uint16_t)(int32_t)v;
  }
}

/* Work items: rows of `inner` elements; a single row (per tensor) is split
 * into chunks of EC_Q_GRAIN instead. */
static void quantize_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qlin_ctx *c = vc;
  const qlin_params *p = c->p;
  const float *x = c->x;
  if (p->channels == 1) {
    const int64_t total = p->outer * p->inner;
    const int64_t a = begin * EC_Q_GRAIN, b = end * EC_Q_GRAIN < total ? end * EC_Q_GRAIN : total;
    quantize_row(x + a, b - a, p->scale[0], p->zp[0], p->lo, p->hi, p->qtype, c->y, a);
    return;
  }
  for (int64_t r = begin; r < end; r++) {
    const int64_t ch = r % p->channels;
    quantize_row(x + r * p->inner, p->inner, p->scale[ch], p->zp[ch], p->lo, p->hi,
                 p->qtype, c->y, r * p->inner);
  }
}

static int64_t work_items(const qlin_params *p) {
  if (p->channels == 1) return (p->outer * p->inner + EC_Q_GRAIN - 1) / EC_Q_GRAIN;
  return p->outer * p->channels;
}

static int64_t work_grain(const qlin_params *p) {
  if (p->channels == 1) return 1;
  const int64_t g = EC_Q_GRAIN / (p->inner > 0 ? p->inner : 1);
  return g > 0 ? g : 1;
}

static void eval_quantize(const ec_node *n, const ec_exec *ex) {
  const qlin_params *p = n->params;
  qlin_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  ec_parallel_for(ex, work_items(p), work_grain(p), quantize_range, &c);
}

/* ---- DEQUANTIZE_LINEAR ---------------------------------------------------- */

static ec_status prepare_dequantize(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st == EC_OK) st = ec_check_same_shape(n, n->tin[0], n->tout[0], "output");
  if (st != EC_OK) return st;
  const ec_dtype t = n->tin[0]->dtype;
  if (!ec_is_q8(t) && t != EC_INT16 && t != EC_UINT16 && t != EC_INT32)
    return ec_node_error(n, EC_ERR_DTYPE, "input is %s (int8, uint8, int16, uint16 or int32)",
                         ec_dtype_name(t));
  return prepare_common(n, n->tin[0]);
}

static void dequantize_row(const void *q, int64_t q0, int64_t len, ec_dtype t, float s,
                           int32_t zp, float *y) {
  if (t == EC_UINT8) {
    const uint8_t *u = (const uint8_t *)q + q0;
    for (int64_t i = 0; i < len; i++) y[i] = (float)((int32_t)u[i] - zp) * s;
  } else if (t == EC_INT8) {
    const int8_t *v = (const int8_t *)q + q0;
    for (int64_t i = 0; i < len; i++) y[i] = (float)((int32_t)v[i] - zp) * s;
  } else if (t == EC_INT16) {
    const int16_t *v = (const int16_t *)q + q0;
    for (int64_t i = 0; i < len; i++) y[i] = (float)((int32_t)v[i] - zp) * s;
  } else if (t == EC_UINT16) {
    const uint16_t *v = (const uint16_t *)q + q0;
    for (int64_t i = 0; i < len; i++) y[i] = (float)((int32_t)v[i] - zp) * s;
  } else {
    const int32_t *v = (const int32_t *)q + q0;
    for (int64_t i = 0; i < len; i++) y[i] = (float)((int64_t)v[i] - zp) * s;
  }
}

static void dequantize_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qlin_ctx *c = vc;
  const qlin_params *p = c->p;
  float *y = c->y;
  if (p->channels == 1) {
    const int64_t total = p->outer * p->inner;
    const int64_t a = begin * EC_Q_GRAIN, b = end * EC_Q_GRAIN < total ? end * EC_Q_GRAIN : total;
    dequantize_row(c->x, a, b - a, p->qtype, p->scale[0], p->zp[0], y + a);
    return;
  }
  for (int64_t r = begin; r < end; r++) {
    const int64_t ch = r % p->channels;
    dequantize_row(c->x, r * p->inner, p->inner, p->qtype, p->scale[ch], p->zp[ch],
                   y + r * p->inner);
  }
}

static void eval_dequantize(const ec_node *n, const ec_exec *ex) {
  const qlin_params *p = n->params;
  qlin_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  ec_parallel_for(ex, work_items(p), work_grain(p), dequantize_range, &c);
}

EC_KERNEL(ec_kernel_quantize_linear, "quantize_linear", prepare_quantize, eval_quantize)
EC_KERNEL(ec_kernel_dequantize_linear, "dequantize_linear", prepare_dequantize, eval_dequantize)
