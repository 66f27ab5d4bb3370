/* Conv, 1-D and 2-D, NCHW, float32: groups, pads, strides, dilations,
 * optional bias, fused activation (ConvOptions). 1-D runs as 2-D with a
 * height of 1. Three paths, chosen at prepare:
 *  - pointwise (1x1, stride 1, no pads): Y_g = W_g . X_g straight from the
 *    input, no copy;
 *  - depthwise (group == C == M): a direct loop per channel plane;
 *  - otherwise im2col: a tile of at most KC rows x TP output pixels of the
 *    unfolded input is built in the thread's workspace and multiplied in,
 *    accumulating over row chunks.
 * Work is split into jobs over (batch, group, output-channel block, pixel
 * tile); each job owns its piece of Y and applies bias + activation to it.
 * Workspace per thread (edgec/lower/conv.py mirrors it):
 *   pointwise: ec_sgemm_workspace(Mg, min(P, TP), K)
 *   im2col:    align64(4 * min(K, KC) * min(P, TP))
 *              + ec_sgemm_workspace(Mg, min(P, TP), min(K, KC))
 *   depthwise: 0
 * where Mg = M / group, K = C / group * kh * kw and P = OH * OW. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"

#define TP 256        /* output pixels per tile */
#define KCHUNK EC_GEMM_KC
#define SPLIT_M_BELOW 8 /* split output channels when fewer jobs than this */
#define MIN_M_BLOCK 24

enum { PATH_IM2COL = 0, PATH_POINTWISE = 1, PATH_DEPTHWISE = 2 };

typedef struct conv_params {
  int path;
  int64_t n, c, h, w;    /* input */
  int64_t m, oh, ow;     /* output channels and size */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t group, cg, mg; /* channels per group, in and out */
  int64_t k;             /* cg * kh * kw: rows of the unfolded input */
  int64_t p;             /* oh * ow */
  int64_t tp;            /* pixel tile */
  ec_act act;
} conv_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- prepare ------------------------------------------------------------ */

static ec_status check_operands(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 3, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[1], EC_FLOAT32, "weight");
  if (st == EC_OK && n->n_in == 3 && n->tin[2])
    st = ec_check_dtype(n, n->tin[2], EC_FLOAT32, "bias");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  if (n->opt.type != EC_FB_OPOPTIONS_CONVOPTIONS)
    return ec_node_error(n, EC_ERR_FORMAT, "options are not ConvOptions");
  const int32_t r = n->tin[0]->rank;
  if (r != 3 && r != 4)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "input of rank %d (1-D and 2-D only)", r);
  if (n->tin[1]->rank != r || n->tout[0]->rank != r)
    return ec_node_error(n, EC_ERR_SHAPE, "input, weight and output ranks differ");
  if (!ec_act_valid(n->opt.u.conv.activation))
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "unknown activation %u",
                         n->opt.u.conv.activation);
  return EC_OK;
}

/* Reads shapes and options into p, checking the output shape they imply. */
static ec_status read_geometry(ec_node *n, conv_params *p) {
  const ec_conv_options *o = &n->opt.u.conv;
  const ec_tensor_desc *x = n->tin[0], *w = n->tin[1], *y = n->tout[0];
  const int32_t sp = x->rank - 2;
  ec_conv_geom geom;
  if (!ec_conv_geom_read(o, sp, &geom))
    return ec_node_error(n, EC_ERR_FORMAT, "strides, pads or dilations malformed for %d "
                         "spatial axes", sp);
  const int64_t *s = geom.stride, *d = geom.dilation, *pb = geom.pad_begin,
                *pe = geom.pad_end;
  p->n = x->shape[0];
  p->c = x->shape[1];
  p->h = sp == 2 ? x->shape[2] : 1;
  p->w = x->shape[x->rank - 1];
  p->m = w->shape[0];
  p->kh = sp == 2 ? w->shape[2] : 1;
  p->kw = w->shape[w->rank - 1];
  p->oh = sp == 2 ? y->shape[2] : 1;
  p->ow = y->shape[y->rank - 1];
  p->sh = s[0], p->sw = s[1], p->dh = d[0], p->dw = d[1];
  p->ph = pb[0], p->pw = pb[1];
  p->group = o->group;
  if (p->group < 1 || p->c % p->group != 0 || p->m % p->group != 0)
    return ec_node_error(n, EC_ERR_SHAPE, "group %lld does not divide %lld input and "
                         "%lld output channels", (long long)p->group, (long long)p->c,
                         (long long)p->m);
  p->cg = p->c / p->group;
  p->mg = p->m / p->group;
  if (w->shape[1] != p->cg || p->kh < 1 || p->kw < 1)
    return ec_node_error(n, EC_ERR_SHAPE, "weight shape does not match %lld input "
                         "channels per group", (long long)p->cg);
  if (y->shape[0] != p->n || y->shape[1] != p->m)
    return ec_node_error(n, EC_ERR_SHAPE, "output batch/channels do not match");
  if (!ec_fits(p->cg, p->kh) || !ec_fits(p->cg * p->kh, p->kw) || !ec_fits(p->h, p->w) ||
      !ec_fits(p->oh, p->ow) || !ec_fits(p->kh - 1, d[0]) || !ec_fits(p->kw - 1, d[1]))
    return ec_node_error(n, EC_ERR_SHAPE, "sizes too large");
  const int64_t in[2] = {p->h, p->w}, k[2] = {p->kh, p->kw}, out[2] = {p->oh, p->ow};
  for (int i = 0; i < 2; i++) {
    const int64_t span = in[i] + pb[i] + pe[i] - d[i] * (k[i] - 1) - 1;
    if (span < 0 || span / s[i] + 1 != out[i])
      return ec_node_error(n, EC_ERR_SHAPE, "output size %lld does not follow from "
                           "input %lld, kernel %lld and the options", (long long)out[i],
                           (long long)in[i], (long long)k[i]);
  }
  p->k = p->cg * p->kh * p->kw;
  p->p = p->oh * p->ow;
  p->tp = min64(p->p, TP);
  p->act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  return EC_OK;
}

static size_t required_scratch(const conv_params *p) {
  switch (p->path) {
    case PATH_DEPTHWISE: return 0;
    case PATH_POINTWISE: return ec_sgemm_workspace(p->mg, p->tp, p->k);
    default: {
      const int64_t kc = min64(p->k, KCHUNK);
      return ec_align64((size_t)(kc * p->tp) * sizeof(float)) +
             ec_sgemm_workspace(p->mg, p->tp, kc);
    }
  }
}

static ec_status prepare_conv(ec_node *n) {
  ec_status st = check_operands(n);
  if (st != EC_OK) return st;
  conv_params geo;
  memset(&geo, 0, sizeof geo);
  st = read_geometry(n, &geo);
  if (st != EC_OK) return st;
  const ec_tensor_desc *b = n->n_in == 3 ? n->tin[2] : NULL;
  if (b && (b->rank != 1 || b->shape[0] != geo.m))
    return ec_node_error(n, EC_ERR_SHAPE, "bias must have shape (%lld)", (long long)geo.m);
  if (geo.group == geo.c && geo.group == geo.m)
    geo.path = PATH_DEPTHWISE;
  else if (geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.ph == 0 &&
           geo.pw == 0 && geo.oh == geo.h && geo.ow == geo.w)
    geo.path = PATH_POINTWISE;
  else
    geo.path = PATH_IM2COL;
  const size_t need = required_scratch(&geo);
  if (n->scratch_size < need)
    return ec_node_error(n, EC_ERR_FORMAT, "scratch of %llu bytes, needs %zu",
                         (unsigned long long)n->scratch_size, need);
  st = ec_alloc_params(n, sizeof geo);
  if (st == EC_OK) memcpy(n->params, &geo, sizeof geo);
  return st;
}

/* ---- eval --------------------------------------------------------------- */

typedef struct conv_ctx {
  const conv_params *p;
  const float *x, *w, *bias;
  float *y;
  uint8_t *const *workspace;
  int64_t mb, mblocks, ptiles; /* job grid within one (batch, group) */
} conv_ctx;

/* Rows [k0, k0 + kc) x pixels [p0, p0 + tp) of the unfolded input of one
 * image group x (cg planes), row-major into col. */
static void im2col(const conv_params *p, const float *x, int64_t k0, int64_t kc, int64_t p0,
                   int64_t tp, float *restrict col) {
  const int64_t kk = p->kh * p->kw;
  for (int64_t r = 0; r < kc; r++) {
    const int64_t row = k0 + r, c = row / kk, ki = row % kk / p->kw, kj = row % p->kw;
    const float *plane = x + c * p->h * p->w;
    const int64_t hoff = ki * p->dh - p->ph, woff = kj * p->dw - p->pw;
    int64_t lo, hi;
    ec_valid_range(woff, p->sw, p->w, p->ow, &lo, &hi);
    float *dst = col + r * tp;
    int64_t q = p0, oh = p0 / p->ow, ow0 = p0 % p->ow;
    while (q < p0 + tp) {
      const int64_t len = min64(p->ow - ow0, p0 + tp - q), ih = oh * p->sh + hoff;
      float *d = dst + (q - p0); /* d[o - ow0] is output column o */
      if (ih < 0 || ih >= p->h) {
        memset(d, 0, (size_t)len * sizeof(float));
      } else {
        const float *src = plane + ih * p->w; /* src[o * sw + woff] feeds column o */
        const int64_t end = ow0 + len;
        const int64_t a = lo > ow0 ? (lo < end ? lo : end) : ow0;
        const int64_t b = hi < end ? (hi > a ? hi : a) : end;
        for (int64_t o = ow0; o < a; o++) d[o - ow0] = 0.0f;
        if (p->sw == 1) {
          if (a < b) memcpy(d + (a - ow0), src + a + woff, (size_t)(b - a) * sizeof(float));
        } else {
          for (int64_t o = a; o < b; o++) d[o - ow0] = src[o * p->sw + woff];
        }
        for (int64_t o = b; o < end; o++) d[o - ow0] = 0.0f;
      }
      q += len;
      oh++;
      ow0 = 0;
    }
  }
}

static void run_gemm_job(const conv_ctx *c, int64_t job, uint8_t *ws) {
  const conv_params *p = c->p;
  const int64_t pt = job % c->ptiles, rest = job / c->ptiles;
  const int64_t mbi = rest % c->mblocks, ng = rest / c->mblocks;
  const int64_t g = ng % p->group, img = ng / p->group;
  const int64_t p0 = pt * p->tp, tp = min64(p->tp, p->p - p0);
  const int64_t m0 = mbi * c->mb, mb = min64(c->mb, p->mg - m0);
  const int64_t oc0 = g * p->mg + m0; /* first output channel */
  const float *x = c->x + (img * p->c + g * p->cg) * p->h * p->w;
  const float *w = c->w + oc0 * p->k;
  float *y = c->y + (img * p->m + oc0) * p->p + p0;
  if (p->path == PATH_POINTWISE) {
    ec_sgemm(mb, tp, p->k, w, p->k, 1, x + p0, p->p, 1, y, p->p, false, ws);
  } else {
    const int64_t kc_max = min64(p->k, KCHUNK);
    float *col = (float *)ws;
    uint8_t *gws = ws + ec_align64((size_t)(kc_max * p->tp) * sizeof(float));
    if (p->k == 0) ec_sgemm(mb, tp, 0, w, 0, 1, col, tp, 1, y, p->p, false, gws);
    for (int64_t k0 = 0; k0 < p->k; k0 += KCHUNK) {
      const int64_t kc = min64(KCHUNK, p->k - k0);
      im2col(p, x, k0, kc, p0, tp, col);
      ec_sgemm(mb, tp, kc, w + k0, p->k, 1, col, tp, 1, y, p->p, k0 > 0, gws);
    }
  }
  for (int64_t m = 0; m < mb; m++)
    ec_act_apply(y + m * p->p, tp, c->bias ? c->bias[oc0 + m] : 0.0f, &p->act);
}

static void gemm_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const conv_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) run_gemm_job(c, job, c->workspace[thread]);
}

/* One (image, channel) plane: y = sum over taps of w * shifted x. */
static void depthwise_plane(const conv_params *p, const float *x, const float *w, float *y) {
  memset(y, 0, (size_t)p->p * sizeof(float));
  for (int64_t oh = 0; oh < p->oh; oh++) {
    float *yrow = y + oh * p->ow;
    for (int64_t ki = 0; ki < p->kh; ki++) {
      const int64_t ih = oh * p->sh + ki * p->dh - p->ph;
      if (ih < 0 || ih >= p->h) continue;
      for (int64_t kj = 0; kj < p->kw; kj++) {
        const int64_t off = kj * p->dw - p->pw;
        const float wv = w[ki * p->kw + kj];
        int64_t lo, hi;
        ec_valid_range(off, p->sw, p->w, p->ow, &lo, &hi);
        const float *xrow = x + ih * p->w; /* xrow[o * sw + off] feeds column o */
        if (p->sw == 1) {
          for (int64_t o = lo; o < hi; o++) yrow[o] += wv * xrow[o + off];
        } else {
          for (int64_t o = lo; o < hi; o++) yrow[o] += wv * xrow[o * p->sw + off];
        }
      }
    }
  }
}

static void depthwise_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const conv_ctx *c = vc;
  const conv_params *p = c->p;
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % p->c;
    float *y = c->y + plane * p->p;
    depthwise_plane(p, c->x + plane * p->h * p->w, c->w + ch * p->kh * p->kw, y);
    ec_act_apply(y, p->p, c->bias ? c->bias[ch] : 0.0f, &p->act);
  }
}

static void eval_conv(const ec_node *n, const ec_exec *ex) {
  const conv_params *p = n->params;
  conv_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
                n->n_in == 3 && n->in[2] >= 0 ? ex->data[n->in[2]] : NULL,
                ex->data[n->out[0]], ex->workspace, p->mg, 1, 0};
  if (p->n == 0 || p->m == 0 || p->p == 0) return;
  if (p->path == PATH_DEPTHWISE) {
    ec_parallel_for(ex, p->n * p->c, 1, depthwise_range, &c);
    return;
  }
  c.ptiles = ceil_div(p->p, p->tp);
  /* Fewer jobs than threads would idle some: split the output channels too
   * (each block redoes the unfolding, so only when jobs are scarce). */
  const int64_t jobs = p->n * p->group * c.ptiles;
  if (ex->pool && jobs < SPLIT_M_BELOW) {
    const int64_t per = ceil_div(p->mg, ceil_div(SPLIT_M_BELOW, jobs));
    const int64_t mb = ceil_div(per, EC_GEMM_MR) * EC_GEMM_MR;
    c.mb = mb > MIN_M_BLOCK ? mb : MIN_M_BLOCK;
    if (c.mb > p->mg) c.mb = p->mg;
    c.mblocks = ceil_div(p->mg, c.mb);
  }
  ec_parallel_for(ex, p->n * p->group * c.mblocks * c.ptiles, 1, gemm_range, &c);
}

const ec_kernel ec_kernel_conv = {"conv", prepare_conv, eval_conv};
