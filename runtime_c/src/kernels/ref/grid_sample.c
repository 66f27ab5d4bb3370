/* GridSample on float32, 1 to 3 spatial dims: X [N, C, D1...], grid
 * [N, O1..., k] of normalized coordinates in [-1, 1] (the last entry is the
 * first spatial axis, as ONNX orders x, y, z), output [N, C, O1...].
 * AxisOptions.flags: bits 0-1 the mode (0 linear, 1 nearest: round half to
 * even, 2 cubic: Keys, a = -0.75), bits 2-3 the padding (0 zeros, 1 border,
 * 2 reflection), bit 4 align_corners. Follows ONNX's reference: coordinates
 * outside the border are clamped or reflected first, then each tap is read
 * with the padding rule (zeros: 0 outside). Every read is in bounds. */
#include <math.h>

#include "kernel.h"

#define MAX_SPATIAL 3

typedef struct gs_params {
  int32_t sp;  /* spatial dims */
  int64_t n, c, points; /* points: output elements per (n, c) */
  int64_t dims[MAX_SPATIAL];
  int32_t mode, padding;
  bool align;
} gs_params;

static ec_status prepare_grid_sample(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *g = n->tin[1], *y = n->tout[0];
  st = ec_check_dtype(n, x, EC_FLOAT32, "X");
  if (st == EC_OK) st = ec_check_dtype(n, g, EC_FLOAT32, "grid");
  if (st == EC_OK) st = ec_check_dtype(n, y, EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const uint32_t flags = n->opt.u.axis.flags;
  const int32_t sp = x->rank - 2;
  if (sp < 1 || sp > MAX_SPATIAL || g->rank != x->rank || y->rank != x->rank ||
      g->shape[g->rank - 1] != sp || (flags & 3u) > 2 || ((flags >> 2) & 3u) > 2)
    return ec_node_error(n, EC_ERR_SHAPE, "X rank %d, grid rank %d, output rank %d, flags %u",
                         x->rank, g->rank, y->rank, flags);
  if (g->shape[0] != x->shape[0] || y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1])
    return ec_node_error(n, EC_ERR_SHAPE, "batch/channel dims of X, grid and output differ");
  for (int32_t d = 0; d < sp; d++)
    if (y->shape[2 + d] != g->shape[1 + d])
      return ec_node_error(n, EC_ERR_SHAPE, "output dim %d is %lld, grid's %lld", 2 + d,
                           (long long)y->shape[2 + d], (long long)g->shape[1 + d]);
  st = ec_alloc_params(n, sizeof(gs_params));
  if (st != EC_OK) return st;
  gs_params *p = n->params;
  p->sp = sp;
  p->mode = (int32_t)(flags & 3u);
  p->padding = (int32_t)((flags >> 2) & 3u);
  p->align = (flags & 16u) != 0;
  if (y->numel == 0) return EC_OK;
  p->n = x->shape[0];
  p->c = x->shape[1];
  p->points = y->numel / (p->n * p->c);
  for (int32_t d = 0; d < sp; d++) p->dims[d] = x->shape[2 + d];
  return EC_OK;
}

static float reflect(float v, float lo, float hi) {
  const float range = hi - lo;
  if (range <= 0.0f) return lo;
  if (v < lo) {
    const float dx = lo - v;
    const float k = floorf(dx / range), r = dx - k * range;
    return fmodf(k, 2.0f) == 0.0f ? lo + r : hi - r;
  }
  if (v > hi) {
    const float dx = v - hi;
    const float k = floorf(dx / range), r = dx - k * range;
    return fmodf(k, 2.0f) == 0.0f ? hi - r : lo + r;
  }
  return v;
}

static void cubic_coeffs(float t, float *w) {
  const float a = -0.75f;
  const float x = fabsf(t);
  w[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  w[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  w[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

/* The plane value at integer coordinates idx under the padding rule. */
static float pixel(const gs_params *p, const float *plane, const int64_t *idx,
                   const float *lo, const float *hi) {
  int64_t off = 0;
  for (int32_t d = 0; d < p->sp; d++) {
    int64_t i = idx[d];
    const int64_t dim = p->dims[d];
    if (p->padding == 0) {
      if (i < 0 || i >= dim) return 0.0f;
    } else {
      if (p->padding == 2 && (i < 0 || i >= dim)) i = (int64_t)reflect((float)i, lo[d], hi[d]);
      i = i < 0 ? 0 : (i >= dim ? dim - 1 : i); /* border, and a guard for reflection */
    }
    off = off * dim + i;
  }
  return plane[off];
}

static void eval_grid_sample(const ec_node *n, const ec_exec *ex) {
  const gs_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const float *x = ex->data[n->in[0]];
  const float *grid = ex->data[n->in[1]];
  float *y = ex->data[n->out[0]];
  const int32_t sp = p->sp;
  int64_t plane_size = 1;
  float lo[MAX_SPATIAL], hi[MAX_SPATIAL];
  for (int32_t d = 0; d < sp; d++) {
    plane_size *= p->dims[d];
    lo[d] = p->align ? 0.0f : -0.5f;
    hi[d] = p->align ? (float)p->dims[d] - 1.0f : (float)p->dims[d] - 0.5f;
  }
  const int32_t taps = p->mode == 0 ? 2 : (p->mode == 1 ? 1 : 4);
  int32_t corners = 1;
  for (int32_t d = 0; d < sp; d++) corners *= taps;
  for (int64_t b = 0; b < p->n; b++)
    for (int64_t q = 0; q < p->points; q++) {
      const float *gp = grid + (b * p->points + q) * sp;
      int64_t base[MAX_SPATIAL];
      float w[MAX_SPATIAL][4];
      for (int32_t d = 0; d < sp; d++) {
        const float g = gp[sp - 1 - d];
        const float len = (float)p->dims[d];
        float v = p->align ? (g + 1.0f) / 2.0f * (len - 1.0f) : ((g + 1.0f) * len - 1.0f) / 2.0f;
        if (p->mode == 1) v = nearbyintf(v);
        if (v < lo[d] || v > hi[d]) {
          if (p->padding == 1) v = v < 0.0f ? 0.0f : (v > len - 1.0f ? len - 1.0f : v);
          if (p->padding == 2) v = reflect(v, lo[d], hi[d]);
        }
        if (!isfinite(v)) v = 0.0f; /* NaN/inf coordinates: read a defined tap */
        if (v > 1e15f) v = 1e15f;
        if (v < -1e15f) v = -1e15f;
        const float f = floorf(v), t = v - f;
        if (p->mode == 1) {
          base[d] = (int64_t)v;
          w[d][0] = 1.0f;
        } else if (p->mode == 0) {
          base[d] = (int64_t)f;
          w[d][0] = 1.0f - t;
          w[d][1] = t;
        } else {
          base[d] = (int64_t)f - 1;
          cubic_coeffs(t, w[d]);
        }
      }
      for (int64_t ch = 0; ch < p->c; ch++) {
        const float *plane = x + (b * p->c + ch) * plane_size;
        float acc = 0.0f;
        for (int32_t k = 0; k < corners; k++) {
          int64_t idx[MAX_SPATIAL];
          float weight = 1.0f;
          int32_t rest = k;
          for (int32_t d = sp - 1; d >= 0; d--) {
            const int32_t tap = rest % taps;
            rest /= taps;
            idx[d] = base[d] + tap;
            weight *= w[d][tap];
          }
          acc += weight * pixel(p, plane, idx, lo, hi);
        }
        y[(b * p->c + ch) * p->points + q] = acc;
      }
    }
}

EC_KERNEL(ec_kernel_grid_sample, "grid_sample", prepare_grid_sample, eval_grid_sample)
