/* ConvTranspose, 1-D and 2-D, NCHW, float32: groups, pads, strides,
 * dilations, optional bias, fused activation (ConvOptions). Weight is
 * (C, M/group, kh, kw). Output padding (and an output_shape beyond the
 * natural size) shows only in the output shape: the extra rows/columns
 * receive no input and hold just bias + activation.
 *
 * The GEMM runs in the instruction's kernel family (EC_VARIANT_*; no
 * packed layout). GEMM + col2im: for a tile of input pixels, col = W_g^T . X_g gives every
 * (output channel, tap) row's contribution, which is scattered into Y. A job
 * owns one (batch, group, block of output channels) slice of Y, so the
 * scatter needs no synchronization. Block sizes (mirrored by
 * edgec/lower/conv.py for the workspace):
 *   mb   = clamp(ROWS / (kh * kw), 1, M / group)   output channels per job
 *   rows = mb * kh * kw
 *   tp   = min(H * W, max(16, COL_FLOATS / rows))  input pixels per tile
 *   workspace = align64(4 * rows * tp) + ec_sgemm_workspace(rows, tp, C / group) */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"

#define ROWS 1024
#define COL_FLOATS 262144
#define MIN_TILE 16
#define SPLIT_M_BELOW 8 /* smaller channel blocks when fewer jobs than this */

typedef struct convt_params {
  int64_t n, c, h, w;
  int64_t m, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t group, cg, mg;
  int64_t mb, tp; /* output channels per job, input pixels per tile */
  ec_act act;
  ec_isa isa;
} convt_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
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
  st = ec_check_options(n, EC_FB_OPOPTIONS_CONVOPTIONS);
  if (st != EC_OK) return st;
  st = ec_check_conv_ranks(n, 0);
  if (st != EC_OK) return st;
  return ec_check_act(n, n->opt.u.conv.activation);
}

static ec_status check_channels(ec_node *n, convt_params *p) {
  const ec_tensor_desc *w = n->tin[1], *y = n->tout[0];
  if (p->group < 1 || p->c % p->group != 0 || w->shape[0] != p->c)
    return ec_node_error(n, EC_ERR_SHAPE, "group %lld does not divide the %lld input "
                         "channels of input and weight", (long long)p->group,
                         (long long)p->c);
  p->cg = p->c / p->group;
  p->mg = w->shape[1];
  p->m = p->mg * p->group;
  if (y->shape[0] != p->n || y->shape[1] != p->m || p->kh < 1 || p->kw < 1)
    return ec_node_error(n, EC_ERR_SHAPE, "weight and output shapes do not match");
  return EC_OK;
}

static ec_status read_geometry(ec_node *n, convt_params *p) {
  const ec_tensor_desc *x = n->tin[0], *w = n->tin[1], *y = n->tout[0];
  const int32_t sp = x->rank - 2;
  ec_conv_geom g;
  if (!ec_conv_geom_read(&n->opt.u.conv, sp, &g))
    return ec_node_error(n, EC_ERR_FORMAT, "strides, pads or dilations malformed for %d "
                         "spatial axes", sp);
  p->n = x->shape[0];
  p->c = x->shape[1];
  p->h = sp == 2 ? x->shape[2] : 1;
  p->w = x->shape[x->rank - 1];
  p->kh = sp == 2 ? w->shape[2] : 1;
  p->kw = w->shape[w->rank - 1];
  p->oh = sp == 2 ? y->shape[2] : 1;
  p->ow = y->shape[y->rank - 1];
  p->sh = g.stride[0], p->sw = g.stride[1], p->dh = g.dilation[0], p->dw = g.dilation[1];
  p->ph = g.pad_begin[0], p->pw = g.pad_begin[1];
  p->group = n->opt.u.conv.group;
  ec_status st = check_channels(n, p);
  if (st != EC_OK) return st;
  if (!ec_fits(p->kh, p->kw) || !ec_fits(p->h, p->w) || !ec_fits(p->oh, p->ow) ||
      !ec_fits(p->mg, p->kh * p->kw) || !ec_fits(p->cg, p->mg * p->kh * p->kw) || !ec_fits(p->h, g.stride[0]) ||
      !ec_fits(p->w, g.stride[1]) || !ec_fits(p->kh, g.dilation[0]) ||
      !ec_fits(p->kw, g.dilation[1]))
    return ec_sizes_error(n);
  const int64_t in[2] = {p->h, p->w}, k[2] = {p->kh, p->kw}, out[2] = {p->oh, p->ow};
  for (int i = 0; i < 2; i++) {
    /* in == 0 has no natural size; the output is then all bias */
    const int64_t natural = (in[i] - 1) * g.stride[i] + g.dilation[i] * (k[i] - 1) + 1 -
                            g.pad_begin[i] - g.pad_end[i];
    const int64_t extra = out[i] - natural;
    if (in[i] > 0 && extra < 0)
      return ec_node_error(n, EC_ERR_SHAPE, "output size %lld does not follow from "
                           "input %lld, kernel %lld and the options", (long long)out[i],
                           (long long)in[i], (long long)k[i]);
  }
  return EC_OK;
}

static void choose_blocks(convt_params *p) {
  const int64_t kk = p->kh * p->kw;
  p->mb = min64(max64(ROWS / kk, 1), p->mg);
  const int64_t rows = max64(p->mb * kk, 1);
  p->tp = min64(p->h * p->w, max64(MIN_TILE, COL_FLOATS / rows));
}

static size_t required_scratch(const convt_params *p) {
  const int64_t rows = p->mb * p->kh * p->kw;
  return ec_align64((size_t)(rows * p->tp) * sizeof(float)) +
         ec_sgemm_workspace(rows, p->tp, p->cg);
}

static ec_status prepare_conv_transpose(ec_node *n) {
  ec_status st = check_operands(n);
  if (st != EC_OK) return st;
  convt_params p;
  memset(&p, 0, sizeof p);
  if (!ec_variant_isa(n->variant, 0, &p.isa))
    return ec_variant_error(n);
  st = read_geometry(n, &p);
  if (st != EC_OK) return st;
  const ec_tensor_desc *b = n->n_in == 3 ? n->tin[2] : NULL;
  st = ec_check_vec(n, b, p.m, "bias");
  if (st != EC_OK) return st;
  const ec_conv_options *o = &n->opt.u.conv;
  p.act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  choose_blocks(&p);
  const size_t need = required_scratch(&p);
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof p);
  if (st == EC_OK) memcpy(n->params, &p, sizeof p);
  return st;
}

/* ---- eval --------------------------------------------------------------- */

typedef struct convt_ctx {
  const convt_params *p;
  const float *x, *w, *bias;
  float *y;
  uint8_t *const *workspace;
  int64_t mb, mblocks; /* mb <= p->mb, which sizes the workspace */
} convt_ctx;

/* Adds col (rows = mb * kh * kw, input pixels [p0, p0 + tp)) into the mb
 * output planes at y. */
static void col2im(const convt_params *p, const float *col, int64_t mb, int64_t p0, int64_t tp,
                   float *y) {
  const int64_t kk = p->kh * p->kw, plane = p->oh * p->ow;
  for (int64_t r = 0; r < mb * kk; r++) {
    const int64_t ki = r % kk / p->kw, kj = r % p->kw;
    float *yp = y + r / kk * plane;
    const int64_t hoff = ki * p->dh - p->ph, woff = kj * p->dw - p->pw;
    int64_t lo, hi;
    ec_valid_range(woff, p->sw, p->ow, p->w, &lo, &hi);
    for (int64_t q = p0; q < p0 + tp;) {
      const int64_t ih = q / p->w, iw0 = q % p->w, end = min64(p->w, iw0 + p0 + tp - q);
      const int64_t oh = ih * p->sh + hoff;
      if (oh >= 0 && oh < p->oh) {
        float *yrow = yp + oh * p->ow;
        const float *srow = col + r * tp + (q - p0); /* srow[iw - iw0] */
        for (int64_t iw = max64(lo, iw0); iw < min64(hi, end); iw++)
          yrow[iw * p->sw + woff] += srow[iw - iw0];
      }
      q += end - iw0;
    }
  }
}

static void run_job(const convt_ctx *c, int64_t job, uint8_t *ws) {
  const convt_params *p = c->p;
  const int64_t mbi = job % c->mblocks, ng = job / c->mblocks;
  const int64_t g = ng % p->group, img = ng / p->group;
  const int64_t m0 = mbi * c->mb, mb = min64(c->mb, p->mg - m0), kk = p->kh * p->kw;
  const int64_t hw = p->h * p->w, plane = p->oh * p->ow, oc0 = g * p->mg + m0;
  const float *x = c->x + (img * p->c + g * p->cg) * hw;
  const float *w = c->w + g * p->cg * p->mg * kk + m0 * kk;
  float *y = c->y + (img * p->m + oc0) * plane;
  float *col = (float *)ws;
  uint8_t *gws = ws + ec_align64((size_t)(p->mb * kk * p->tp) * sizeof(float));
  memset(y, 0, (size_t)(mb * plane) * sizeof(float));
  for (int64_t p0 = 0; p0 < hw; p0 += p->tp) {
    const int64_t tp = min64(p->tp, hw - p0);
    /* col(i, j) = sum over c of W[c, m0 * kk + i] * X[c, p0 + j] */
    ec_sgemm(p->isa, mb * kk, tp, p->cg, w, 1, p->mg * kk, x + p0, hw, 1, col, tp, false, gws);
    col2im(p, col, mb, p0, tp, y);
  }
  for (int64_t m = 0; m < mb; m++)
    ec_act_apply(y + m * plane, plane, c->bias ? c->bias[oc0 + m] : 0.0f, &p->act);
}

static void convt_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const convt_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) run_job(c, job, c->workspace[thread]);
}

static void eval_conv_transpose(const ec_node *n, const ec_exec *ex) {
  const convt_params *p = n->params;
  if (p->n == 0 || p->mg == 0 || p->oh * p->ow == 0) return;
  convt_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
                 n->n_in == 3 && n->in[2] >= 0 ? ex->data[n->in[2]] : NULL,
                 ex->data[n->out[0]], ex->workspace, p->mb, 0};
  const int64_t images = p->n * p->group;
  if (ex->pool && images * ceil_div(p->mg, p->mb) < SPLIT_M_BELOW)
    c.mb = min64(p->mb, ceil_div(p->mg, ceil_div(SPLIT_M_BELOW, images)));
  c.mblocks = ceil_div(p->mg, c.mb);
  ec_parallel_for(ex, p->n * p->group * c.mblocks, 1, convt_range, &c);
}

EC_KERNEL(ec_kernel_conv_transpose, "conv_transpose", prepare_conv_transpose, eval_conv_transpose)
