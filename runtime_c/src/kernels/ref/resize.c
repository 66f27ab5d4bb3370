/* Resize: nearest (any dtype), N-linear and cubic (float32) over every axis
 * whose size or scale changes. ResizeOptions.scales (one per axis) are
 * the scales of the coordinate mapping; the output shape is the tensor's.
 * Coordinates follow onnxruntime's arithmetic in float32 so nearest picks
 * the same pixels:
 *   half_pixel            (x + 0.5) / scale - 0.5
 *   asymmetric            x / scale
 *   pytorch_half_pixel    out > 1 ? (x + 0.5) / scale - 0.5 : 0
 *   align_corners         out == 1 ? 0 : x * (in - 1) / (out - 1)
 *   half_pixel_symmetric  half_pixel shifted about the centre by
 *                         (in / 2) * (1 - out / (scale * in))
 * (tf_crop_and_resize needs a roi and is not supported.) Nearest indices
 * and linear coordinates are clamped to the input; cubic taps outside the
 * input take the edge value, or are dropped and the rest renormalized with
 * exclude_outside.
 *
 * prepare precomputes, per axis and output index, the input offsets and
 * weights of its taps (1 for nearest and unchanged axes, 2 for linear, 4
 * for cubic). eval combines the taps of the leading axes once per output
 * row and walks the last axis. */
#include <math.h>
#include <string.h>

#include "kernel.h"

#define GRAIN_TAPS 16384
#define MAX_COMBOS 256

typedef struct resize_params {
  uint8_t mode;
  int32_t rank; /* >= 1 */
  int64_t es;
  int64_t shape[EC_MAX_RANK]; /* output dimensions */
  int32_t taps[EC_MAX_RANK];
  int64_t at[EC_MAX_RANK]; /* start of each axis' taps in off / w */
  int64_t combos;          /* taps of all leading axes together */
  int64_t total;           /* entries of off (and of the weights that follow it) */
  int64_t off[];           /* input offsets in elements, then float weights */
} resize_params;

static const float *weights(const resize_params *p) { return (const float *)(p->off + p->total); }

static float original_coord(uint8_t coord, float x, float scale, float out_len,
                            float in_len) {
  switch (coord) {
    case EC_FB_COORDTRANSFORM_ASYMMETRIC:
      return x / scale;
    case EC_FB_COORDTRANSFORM_PYTORCH_HALF_PIXEL:
      return out_len > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case EC_FB_COORDTRANSFORM_ALIGN_CORNERS:
      return out_len == 1 ? 0.0f : x * (in_len - 1) / (out_len - 1);
    case EC_FB_COORDTRANSFORM_HALF_PIXEL_SYMMETRIC: {
      const float width = scale * in_len;
      const float adjustment = out_len / width;
      const float center = in_len / 2;
      const float offset = center * (1 - adjustment);
      /* onnxruntime evaluates this sum in double */
      return (float)((double)offset + ((double)x + 0.5) / (double)scale - 0.5);
    }
    default: /* half_pixel */
      return (x + 0.5f) / scale - 0.5f;
  }
}

/* x is already clamped to [-1, in], so the casts are defined. */
static int64_t nearest_index(uint8_t mode, float x) {
  switch (mode) {
    case EC_FB_NEARESTMODE_ROUND_PREFER_CEIL: return (int64_t)roundf(x);
    case EC_FB_NEARESTMODE_FLOOR: return (int64_t)floorf(x);
    case EC_FB_NEARESTMODE_CEIL: return (int64_t)ceilf(x);
    default: /* round_prefer_floor */
      if (x == (float)(int64_t)x + 0.5f) return (int64_t)floorf(x);
      return (int64_t)roundf(x);
  }
}

static void cubic_coeffs(float s, float a, float c[4]) {
  c[0] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
  c[1] = ((a + 2) * s - (a + 3)) * s * s + 1;
  c[2] = ((a + 2) * (1 - s) - (a + 3)) * (1 - s) * (1 - s) + 1;
  c[3] = ((a * (2 - s) - 5 * a) * (2 - s) + 8 * a) * (2 - s) - 4 * a;
}

static int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

/* Fills the taps of one axis: offsets (index * stride) and weights. */
static void axis_taps(const ec_resize_options *o, int64_t in_len, int64_t out_len, float scale,
                      int32_t taps, int64_t stride, int64_t *off, float *w) {
  const float fin = (float)in_len, fout = (float)out_len;
  for (int64_t x = 0; x < out_len; x++) {
    int64_t *ox = off + x * taps;
    float *wx = w + x * taps;
    if (taps == 1 && o->mode != EC_FB_RESIZEMODE_NEAREST) { /* unchanged axis */
      ox[0] = x * stride;
      wx[0] = 1.0f;
      continue;
    }
    float c = original_coord(o->coord, (float)x, scale, fout, fin);
    if (isnan(c)) c = 0.0f;
    if (o->mode == EC_FB_RESIZEMODE_NEAREST) {
      if (in_len == out_len && scale == 1.0f) {
        ox[0] = x * stride;
      } else {
        c = fminf(fmaxf(c, -1.0f), fin);
        ox[0] = clamp_index(nearest_index(o->nearest, c), in_len) * stride;
      }
      wx[0] = 1.0f;
    } else if (o->mode == EC_FB_RESIZEMODE_LINEAR) {
      c = fminf(fmaxf(c, 0.0f), fin - 1);
      /* fin - 1 rounds up for lengths beyond 2^24: clamp the index too */
      const int64_t i0 = clamp_index((int64_t)c, in_len);
      const int64_t i1 = i0 + 1 < in_len ? i0 + 1 : in_len - 1;
      ox[0] = i0 * stride;
      ox[1] = i1 * stride;
      if (i0 == i1) {
        wx[0] = wx[1] = 0.5f;
      } else {
        wx[0] = (float)i1 - c;
        wx[1] = c - (float)i0;
      }
    } else { /* cubic */
      /* Past two pixels outside, every tap is the edge pixel: clamping
       * there changes nothing but keeps floorf's result representable. */
      c = fminf(fmaxf(c, -3.0f), fin + 2);
      const float fl = floorf(c);
      const int64_t base = (int64_t)fl - 1;
      float cf[4], sum = 0.0f;
      cubic_coeffs(c - fl, o->cubic_coeff_a, cf);
      for (int32_t t = 0; t < 4; t++) {
        const int64_t i = base + t;
        if (o->exclude_outside && (i < 0 || i >= in_len)) cf[t] = 0.0f;
        sum += cf[t];
        ox[t] = clamp_index(i, in_len) * stride;
      }
      for (int32_t t = 0; t < 4; t++)
        wx[t] = o->exclude_outside ? (sum != 0.0f ? cf[t] / sum : 0.0f) : cf[t];
    }
  }
}

static ec_status prepare_resize(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_RESIZEOPTIONS);
  if (st != EC_OK) return st;
  const ec_resize_options *o = &n->opt.u.resize;
  if (o->mode > EC_FB_RESIZEMODE_CUBIC)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "resize mode %u", o->mode);
  if (o->coord > EC_FB_COORDTRANSFORM_HALF_PIXEL_SYMMETRIC ||
      o->coord == EC_FB_COORDTRANSFORM_TF_CROP_AND_RESIZE)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "coordinate transform %u", o->coord);
  if (o->nearest > EC_FB_NEARESTMODE_CEIL)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "nearest mode %u", o->nearest);
  if (o->mode != EC_FB_RESIZEMODE_NEAREST && in->dtype != EC_FLOAT32)
    return ec_node_error(n, EC_ERR_DTYPE, "linear and cubic resize take float32, not %s",
                         ec_dtype_name(in->dtype));
  if (!isfinite(o->cubic_coeff_a))
    return ec_node_error(n, EC_ERR_FORMAT, "cubic_coeff_a is not finite");
  const int32_t r = in->rank;
  if (out->rank != r || o->n_scales != r)
    return ec_node_error(n, EC_ERR_SHAPE, "input rank %d, output rank %d, %d scales", r,
                         out->rank, o->n_scales);
  const int32_t rr = r > 0 ? r : 1; /* a scalar is one axis of one element */
  int32_t taps[EC_MAX_RANK];
  int64_t total = 0, combos = 1;
  for (int32_t d = 0; d < rr; d++) {
    const int64_t il = r > 0 ? in->shape[d] : 1, ol = r > 0 ? out->shape[d] : 1;
    const float sc = r > 0 ? o->scales[d] : 1.0f;
    if (!(sc > 0.0f) || !isfinite(sc))
      return ec_node_error(n, EC_ERR_FORMAT, "axis %d: scale %g", d, (double)sc);
    if (il == 0 && ol != 0)
      return ec_node_error(n, EC_ERR_SHAPE, "axis %d: resizes an empty axis to %lld", d,
                           (long long)ol);
    taps[d] = 1;
    if (!(il == ol && sc == 1.0f)) {
      if (o->mode == EC_FB_RESIZEMODE_LINEAR) taps[d] = 2;
      if (o->mode == EC_FB_RESIZEMODE_CUBIC) taps[d] = 4;
    }
    if (d < rr - 1) combos *= taps[d];
    if (combos > MAX_COMBOS)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "interpolates along too many axes at once");
    total += ol * taps[d];
  }
  if (out->numel == 0) return ec_alloc_params(n, sizeof(resize_params)); /* nothing to do */
  st = ec_alloc_params(n, sizeof(resize_params) +
                              (size_t)total * (sizeof(int64_t) + sizeof(float)));
  if (st != EC_OK) return st;
  resize_params *p = n->params;
  p->mode = o->mode;
  p->rank = rr;
  p->es = (int64_t)ec_dtype_size(in->dtype);
  p->combos = combos;
  p->total = total;
  float *w = (float *)(p->off + total);
  int64_t stride = 1, at = total;
  for (int32_t d = rr - 1; d >= 0; d--) {
    const int64_t il = r > 0 ? in->shape[d] : 1, ol = r > 0 ? out->shape[d] : 1;
    p->shape[d] = ol;
    p->taps[d] = taps[d];
    at -= ol * taps[d];
    p->at[d] = at;
    axis_taps(o, il, ol, r > 0 ? o->scales[d] : 1.0f, taps[d], stride, p->off + at, w + at);
    stride *= il;
  }
  return EC_OK;
}

typedef struct resize_ctx {
  const resize_params *p;
  const uint8_t *x;
  uint8_t *y;
} resize_ctx;

static void resize_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const resize_ctx *c = vc;
  const resize_params *p = c->p;
  const int32_t k = p->rank - 1;
  const int64_t len = p->shape[k], es = p->es;
  const int32_t tl = p->taps[k];
  const int64_t *ol = p->off + p->at[k];
  const float *wall = weights(p), *wl = wall + p->at[k];
  int64_t coff[MAX_COMBOS];
  float cw[MAX_COMBOS];
  for (int64_t row = begin; row < end; row++) {
    /* the taps of the leading axes, combined */
    int64_t nc = 1, flat = row;
    coff[0] = 0;
    cw[0] = 1.0f;
    for (int32_t d = k - 1; d >= 0; d--) {
      const int64_t i = flat % p->shape[d];
      flat /= p->shape[d];
      const int32_t t_n = p->taps[d];
      const int64_t *od = p->off + p->at[d] + i * t_n;
      const float *wd = wall + p->at[d] + i * t_n;
      for (int32_t t = t_n - 1; t >= 0; t--) /* t = 0 last: it overwrites in place */
        for (int64_t j = 0; j < nc; j++) {
          coff[t * nc + j] = coff[j] + od[t];
          cw[t * nc + j] = cw[j] * wd[t];
        }
      nc *= t_n;
    }
    uint8_t *dst = c->y + row * len * es;
    if (p->mode == EC_FB_RESIZEMODE_NEAREST) {
      const uint8_t *src = c->x + coff[0] * es;
      switch (es) {
        case 1:
          for (int64_t x = 0; x < len; x++) dst[x] = src[ol[x]];
          break;
        case 2:
          for (int64_t x = 0; x < len; x++) memcpy(dst + 2 * x, src + 2 * ol[x], 2);
          break;
        case 4:
          for (int64_t x = 0; x < len; x++) memcpy(dst + 4 * x, src + 4 * ol[x], 4);
          break;
        default:
          for (int64_t x = 0; x < len; x++) memcpy(dst + 8 * x, src + 8 * ol[x], 8);
          break;
      }
      continue;
    }
    const float *src = (const float *)c->x;
    float *y = (float *)dst;
    if (nc == 2 && tl == 2) { /* bilinear: the same products, unrolled */
      const float *s0 = src + coff[0], *s1 = src + coff[1];
      const float c0 = cw[0], c1 = cw[1];
      for (int64_t x = 0; x < len; x++) {
        const int64_t o0 = ol[2 * x], o1 = ol[2 * x + 1];
        const float w0 = wl[2 * x], w1 = wl[2 * x + 1];
        y[x] = c0 * w0 * s0[o0] + c0 * w1 * s0[o1] + c1 * w0 * s1[o0] + c1 * w1 * s1[o1];
      }
      continue;
    }
    for (int64_t x = 0; x < len; x++) {
      float acc = 0.0f;
      for (int64_t j = 0; j < nc; j++) {
        const float *s = src + coff[j];
        for (int32_t t = 0; t < tl; t++) acc += cw[j] * wl[x * tl + t] * s[ol[x * tl + t]];
      }
      y[x] = acc;
    }
  }
}

static void eval_resize(const ec_node *n, const ec_exec *ex) {
  const resize_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const int64_t len = p->shape[p->rank - 1];
  resize_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  int64_t grain = GRAIN_TAPS / (len * p->combos * p->taps[p->rank - 1]);
  ec_parallel_for(ex, n->tout[0]->numel / len, grain > 0 ? grain : 1, resize_range, &c);
}

EC_KERNEL(ec_kernel_resize, "resize", prepare_resize, eval_resize)
