/* QCONV: int8 convolution, NCHW, 1-D and 2-D, with the geometry of the
 * float CONV (groups, depthwise, strides, pads, dilations; ConvOptions).
 *   inputs: x (int8/uint8, per tensor), w (int8 [M, C/group, kh, kw],
 *           symmetric, per tensor or per output channel along axis 0),
 *           bias (int32 [M], optional, in units of scale_x * scale_w[m])
 *   output: int8/uint8 per tensor, requantized (qcommon.h) and clamped by the
 *           fused activation (NONE, RELU, CLIP) -- or int32 with no
 *           requantization (ONNX ConvInteger; only zero points matter).
 * variant REF: plain loops (the oracle). Otherwise (blocked):
 *   depthwise (group == C == M): int32 row accumulators; for strides 1-2,
 *   AVX-512 VNNI (4 taps of a kernel row per vpdpbusd, read straight from the
 *   input) or AVX2 on a padded copy of the plane;
 *   else GEMM on packed weights (packed at prepare, split when they could
 *   saturate maddubs: qgemm_core.h; never for VNNI or NEON) against a panel of the
 *   input (1x1 stride 1 read straight from x, else unfolded by im2col with the
 *   zero point as padding), with the input zero point folded into the bias.
 * Workspace per thread (mirrored by edgec/quant/kernels.py):
 *   depthwise: align64(4 * OW)
 *   GEMM: align64(kp * round_up(TP, 16)) + (im2col ? align64(K * TP) : 0) + 256
 * with K = C/group * kh * kw, kp = round_up(K, 4), TP the pixel tile below. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"
#include "kernels/ref/qgemm_core.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/qx86.h"
#else
#define EC_QDW_MAX_TAPS 0 /* no SIMD depthwise path off x86 */
#endif

#define QCONV_PANEL 131072 /* bytes of packed input per tile */
#define QCONV_TP_MAX 512
#define QCONV_MAX_K 65536 /* 65536 * 255 * 128 < 2^31: int32 sums cannot overflow */

/* PATH_SHIFT: the GEMM with its panel packed straight from the input (VNNI,
 * stride 1, the output as wide as the input, C/group a multiple of 4), the
 * weights packed with K ordered (kernel row, kernel column, channel);
 * workspace as PATH_IM2COL's, all of it for the panel (so a wider pixel
 * tile). */
/* PATH_DIRECT: the same for the other convolutions VNNI takes (horizontal
 * stride 1 or 2): the panel packed from the input in one pass, K in the
 * weights' order. */
enum {
  PATH_REF = 0,
  PATH_DEPTHWISE = 1,
  PATH_POINTWISE = 2,
  PATH_IM2COL = 3,
  PATH_SHIFT = 4,
  PATH_DIRECT = 5
};

typedef struct qconv_params {
  int path;
  ec_q_isa isa;
  bool avx2; /* isa >= EC_Q_AVX2 */
  union {
    ec_conv_shape shape;
    struct {
      EC_CONV_SHAPE_FIELDS;
    };
  };
  int64_t k, kp, p, tp;
  int64_t pad_h, pad_w;     /* depthwise padded plane (rows, row stride) */
  bool dw_simd;             /* depthwise on the padded plane (AVX2) */
  bool dw_vnni;             /* depthwise straight from the input (VNNI) */
  bool x_signed;
  int32_t zp_x;
  uint8_t flip;
  bool out_i32;
  ec_qout out;
  int32_t *bias_raw; /* m entries: bias, zero where absent */
  int32_t *bias_eff; /* m entries: bias - zp_x(uint8 domain) * row sum */
  ec_qmul *mul;
  int8_t *wa, *wa2; /* packed weights, per group, or NULL */
  void *vrows;      /* VNNI GEMM paths: m ec_qrow_vnni */
  int32_t *dw_w4;   /* VNNI depthwise: packed weights, kh * ceil(kw / 4) per channel */
#if defined(EDGEC_HAVE_X86_KERNELS)
  ec_qdw_plan dw_plan; /* VNNI depthwise, narrow planes */
  bool dw_narrow;
#endif
  size_t group_bytes;
} qconv_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t qconv_tile(int64_t kp, int64_t p) {
  int64_t t = QCONV_PANEL / (kp > 0 ? kp : 1) / EC_QNR * EC_QNR;
  if (t < EC_QNR) t = EC_QNR;
  if (t > QCONV_TP_MAX) t = QCONV_TP_MAX;
  return min64(p, t);
}

static size_t qconv_workspace(const qconv_params *p) {
  switch (p->path) {
    case PATH_REF: return 0;
    case PATH_DEPTHWISE:
      return ec_q_align64((size_t)p->ow * sizeof(int32_t)) +
             ec_q_align64((size_t)(p->pad_h * p->pad_w));
    default: {
      size_t b = ec_q_align64(ec_qpanel_bytes(p->k, p->tp)) +
                 ec_q_align64(EC_QMR * EC_QNR * sizeof(int32_t));
      if (p->path == PATH_IM2COL || p->path == PATH_SHIFT || p->path == PATH_DIRECT)
        b += ec_q_align64((size_t)(p->k * p->tp));
      return b;
    }
  }
}

/* ---- prepare ------------------------------------------------------------------- */

static ec_status read_geometry(ec_node *n, qconv_params *p) {
  const ec_tensor_desc *w = n->tin[1];
  ec_status st = ec_conv_shape_read(n, w->shape[0], w->rank == 4 ? w->shape[2] : 1,
                                    w->shape[w->rank - 1], w->shape[1], &p->shape);
  if (st != EC_OK) return st;
  const int64_t in[2] = {p->h, p->w}, k[2] = {p->kh, p->kw}, out[2] = {p->oh, p->ow};
  for (int i = 0; i < 2; i++)
    if (in[i] > ((int64_t)1 << 30) || k[i] > ((int64_t)1 << 20) || out[i] > ((int64_t)1 << 30))
      return ec_sizes_error(n);
  p->k = p->cg * p->kh * p->kw;
  if (p->k > QCONV_MAX_K)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "%lld taps per output: int32 sums could "
                         "overflow", (long long)p->k);
  p->kp = ec_q_round_up(p->k, EC_QKG);
  p->p = p->oh * p->ow;
  p->tp = qconv_tile(p->kp, p->p);
  /* the depthwise padded plane: every tap of every 16-column block inside it */
  p->pad_h = p->h + p->ph + p->pe_h;
  p->pad_w = p->w + p->pw + p->pe_w;
  const int64_t need_w = ec_q_round_up(p->ow, 16) * p->sw + (p->kw - 1) * p->dw + 32;
  if (need_w > p->pad_w) p->pad_w = need_w;
  return EC_OK;
}

static ec_status check_operands(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 3, 1);
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_CONVOPTIONS);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *w = n->tin[1], *y = n->tout[0];
  st = ec_q_check_q8(n, x, "input");
  if (st != EC_OK) return st;
  if (!ec_is_q8(y->dtype) && y->dtype != EC_INT32)
    return ec_node_error(n, EC_ERR_DTYPE, "output is %s (int8, uint8 or int32)",
                         ec_dtype_name(y->dtype));
  if (w->const_data == NULL)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "weight is not a constant");
  if (n->n_in == 3 && n->tin[2]) {
    st = ec_check_dtype(n, n->tin[2], EC_INT32, "bias");
    if (st != EC_OK) return st;
    if (n->tin[2]->const_data == NULL)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "bias is not a constant");
  }
  st = ec_check_conv_ranks(n, 0);
  if (st != EC_OK) return st;
  return ec_q_check_weight(n, w, 0, w->shape[0]);
}

/* Requantization, bias and packed weights into the params block. */
static ec_status build(ec_node *n, qconv_params *geo) {
  const ec_tensor_desc *x = n->tin[0], *w = n->tin[1], *y = n->tout[0];
  const ec_tensor_desc *b = n->n_in == 3 ? n->tin[2] : NULL;
  ec_status st = ec_check_vec(n, b, geo->m, "bias");
  if (st != EC_OK) return st;
  float sx, sy = 1.0f;
  int32_t zx, zy = 0;
  st = ec_q_per_tensor(n, x, "input", &sx, &zx);
  if (st == EC_OK && !geo->out_i32) st = ec_q_per_tensor(n, y, "output", &sy, &zy);
  if (st != EC_OK) return st;
  const int8_t *wd = w->const_data;
  const bool packed = geo->path == PATH_POINTWISE || geo->path == PATH_IM2COL ||
                      geo->path == PATH_SHIFT || geo->path == PATH_DIRECT;
  const bool split = packed && geo->isa != EC_Q_VNNI && geo->isa != EC_Q_NEON &&
                     !ec_qweights_maddubs_safe(wd, geo->k, 1, geo->m, geo->k);
  geo->group_bytes = packed ? ec_qweights_bytes(geo->mg, geo->k) : 0;
  const size_t m = (size_t)geo->m, wbytes = geo->group_bytes * (size_t)geo->group;
  /* the VNNI paths' per-channel requantization constants and depthwise weights */
  size_t vrows = 0, vw4 = 0;
  const size_t dw4 = (size_t)(geo->kh * ((geo->kw + 3) / 4));
  (void)dw4; /* x86 only */
#if defined(EDGEC_HAVE_X86_KERNELS)
  if ((packed && geo->isa == EC_Q_VNNI && !geo->out_i32) || geo->dw_vnni)
    vrows = ec_q_align64(m * sizeof(ec_qrow_vnni));
  if (geo->dw_vnni) vw4 = ec_q_align64(m * dw4 * sizeof(int32_t));
#endif
  const size_t bytes = ec_q_align64(sizeof *geo) + ec_q_align64(2 * m * sizeof(int32_t)) +
                       ec_q_align64(m * sizeof(ec_qmul)) + vrows + vw4 +
                       (split ? 2 : 1) * wbytes;
  st = ec_alloc_params(n, bytes);
  if (st != EC_OK) return st;
  uint8_t *base = n->params;
  qconv_params *p = n->params;
  *p = *geo;
  p->bias_raw = (int32_t *)(base + ec_q_align64(sizeof *p));
  p->bias_eff = p->bias_raw + m;
  p->mul = (ec_qmul *)((uint8_t *)p->bias_raw + ec_q_align64(2 * m * sizeof(int32_t)));
  uint8_t *extra = (uint8_t *)p->mul + ec_q_align64(m * sizeof(ec_qmul));
  p->vrows = vrows ? extra : NULL;
  p->dw_w4 = vw4 ? (int32_t *)(extra + vrows) : NULL;
  uint8_t *wbuf = extra + vrows + vw4;
  p->wa = packed ? (int8_t *)wbuf : NULL;
  p->wa2 = packed && split ? (int8_t *)wbuf + wbytes : NULL;
  p->x_signed = x->dtype == EC_INT8;
  p->zp_x = zx;
  p->flip = p->x_signed ? 0x80 : 0;
  const int64_t zx_u = p->x_signed ? zx + 128 : zx;
  const int32_t *bd = b ? b->const_data : NULL;
  for (int64_t r = 0; r < geo->m; r++) {
    int64_t sum = 0;
    for (int64_t q = 0; q < geo->k; q++) sum += wd[r * geo->k + q];
    const int64_t bias = bd ? bd[r] : 0, eff = bias - zx_u * sum;
    if (eff < INT32_MIN || eff > INT32_MAX)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "bias of channel %lld out of int32 range "
                           "once the input zero point is folded in", (long long)r);
    p->bias_raw[r] = (int32_t)bias;
    p->bias_eff[r] = (int32_t)eff;
    p->mul[r] = ec_qmul_from_double((double)sx * ec_q_weight_scale(w, r) / sy);
  }
  if (packed && geo->path == PATH_SHIFT) {
    /* K reordered from (channel, kernel row, kernel column) to (kernel row, kernel
     * column, channel), one group at a time */
    const int64_t taps = geo->kh * geo->kw, gk = geo->mg * geo->k;
    int8_t *ro = malloc((size_t)gk);
    if (!ro) return ec_node_error(n, EC_ERR_NO_MEMORY, "out of memory packing the weights");
    for (int64_t g = 0; g < geo->group; g++) {
      const int8_t *wg = wd + g * gk;
      for (int64_t r = 0; r < geo->mg; r++)
        for (int64_t ci = 0; ci < geo->cg; ci++)
          for (int64_t t = 0; t < taps; t++)
            ro[r * geo->k + t * geo->cg + ci] = wg[r * geo->k + ci * taps + t];
      ec_qpack_weights(ro, geo->k, 1, geo->mg, geo->k, p->wa + g * p->group_bytes, NULL);
    }
    free(ro);
  } else if (packed) {
    for (int64_t g = 0; g < geo->group; g++)
      ec_qpack_weights(wd + g * geo->mg * geo->k, geo->k, 1, geo->mg, geo->k,
                       p->wa + g * p->group_bytes, p->wa2 ? p->wa2 + g * p->group_bytes : NULL);
  }
  p->out.bias = p->bias_eff;
  p->out.mul = p->mul;
  p->out.zp = zy;
  p->out.is_signed = y->dtype == EC_INT8;
  if (p->out_i32) return EC_OK;
  const ec_conv_options *o = &n->opt.u.conv;
  st = ec_q_act_clamp(n, o->activation, o->act_alpha, o->act_beta, y->dtype, sy, zy, &p->out.lo,
                      &p->out.hi);
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (st == EC_OK && p->vrows) /* sums over kp (GEMM) or the kh * kw taps (depthwise) */
    ec_x86_qrows_vnni(&p->out, p->m, p->dw_w4 ? p->kh * p->kw : p->kp, p->vrows);
  if (p->dw_w4)
    for (int64_t ch = 0; ch < p->m; ch++)
      ec_x86_qdw_weights_vnni(wd + ch * p->kh * p->kw, p->kh, p->kw, p->dw_w4 + ch * (int64_t)dw4);
#endif
  return st;
}

static ec_status prepare_qconv(ec_node *n) {
  ec_status st = check_operands(n);
  if (st != EC_OK) return st;
  qconv_params geo;
  memset(&geo, 0, sizeof geo);
  bool blocked;
  if (!ec_q_variant(n->variant, &blocked, &geo.isa))
    return ec_variant_error(n);
  geo.avx2 = geo.isa == EC_Q_AVX2 || geo.isa == EC_Q_VNNI;
  st = read_geometry(n, &geo);
  if (st != EC_OK) return st;
  geo.out_i32 = n->tout[0]->dtype == EC_INT32;
  if (geo.out_i32 && n->opt.u.conv.activation != EC_FB_ACTIVATION_NONE)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "an int32 output takes no activation");
  if (!blocked)
    geo.path = PATH_REF;
  else if (geo.group == geo.c && geo.group == geo.m)
    geo.path = PATH_DEPTHWISE;
  else if (geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.ph == 0 &&
           geo.pw == 0 && geo.oh == geo.h && geo.ow == geo.w)
    geo.path = PATH_POINTWISE;
  else
    geo.path = PATH_IM2COL;
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (geo.path == PATH_IM2COL && geo.isa == EC_Q_VNNI && !geo.out_i32) {
    if (geo.sh == 1 && geo.sw == 1 && geo.cg % 4 == 0 && geo.ow == geo.w)
      geo.path = PATH_SHIFT;
    else if (geo.sw <= 2 && geo.ow >= EC_QPACK_MIN_OW && geo.kh * geo.kw <= EC_QPACK_MAX_TAPS)
      geo.path = PATH_DIRECT;
  }
#endif
  geo.dw_simd = geo.path == PATH_DEPTHWISE && geo.avx2 && !geo.out_i32 && geo.sw <= 2 &&
                geo.kh * geo.kw <= EC_QDW_MAX_TAPS;
  if (geo.path == PATH_DEPTHWISE && !ec_q_fits(geo.pad_h, geo.pad_w))
    return ec_sizes_error(n);
  const size_t need = qconv_workspace(&geo);
#if defined(EDGEC_HAVE_X86_KERNELS)
  geo.dw_vnni = geo.dw_simd && geo.isa == EC_Q_VNNI &&
                ec_x86_qdw_vnni_fits(geo.kh, geo.kw, geo.sw, geo.dw);
  geo.dw_narrow = geo.dw_vnni && ec_x86_qdw_vnni_plan(geo.kw, geo.sw, geo.dw, geo.ow, &geo.dw_plan);
#endif
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  if (geo.path == PATH_SHIFT || geo.path == PATH_DIRECT) { /* no im2col buffer: a wider panel */
    const int64_t fit = (int64_t)(need / (size_t)(geo.kp * EC_QNR)) * EC_QNR;
    if (fit > geo.tp) geo.tp = min64(geo.p, fit);
  }
  return build(n, &geo);
}

/* ---- eval: reference ------------------------------------------------------------- */

typedef struct qconv_ctx {
  const qconv_params *p;
  const uint8_t *x;
  const int8_t *w;
  void *y;
  uint8_t *const *workspace;
  int64_t mb, mblocks, ptiles;
} qconv_ctx;

static void store_out(const qconv_params *p, void *y, int64_t at, int64_t oc, int32_t acc) {
  if (p->out_i32) {
    ((int32_t *)y)[at] = acc;
    return;
  }
  /* 64-bit sum: a saturated requantization plus the zero point overflows int32 */
  const int32_t v = ec_sat_i32((int64_t)ec_requant(acc, p->mul[oc]) + p->out.zp);
  ec_q8_store(y, p->out.is_signed, at, ec_clamp_i32(v, p->out.lo, p->out.hi));
}

/* One output plane (image, output channel). */
static void ref_plane(const qconv_params *p, const qconv_ctx *c, int64_t img, int64_t oc) {
  const int64_t g = oc / p->mg;
  const int8_t *w = c->w + oc * p->k;
  for (int64_t oh = 0; oh < p->oh; oh++)
    for (int64_t ow = 0; ow < p->ow; ow++) {
      int32_t acc = 0;
      for (int64_t ci = 0; ci < p->cg; ci++) {
        const int64_t plane = (img * p->c + g * p->cg + ci) * p->h * p->w;
        for (int64_t ki = 0; ki < p->kh; ki++) {
          const int64_t ih = oh * p->sh + ki * p->dh - p->ph;
          if (ih < 0 || ih >= p->h) continue;
          for (int64_t kj = 0; kj < p->kw; kj++) {
            const int64_t iw = ow * p->sw + kj * p->dw - p->pw;
            if (iw < 0 || iw >= p->w) continue;
            const int32_t xv = ec_q8_load(c->x, p->x_signed, plane + ih * p->w + iw) - p->zp_x;
            acc += xv * w[(ci * p->kh + ki) * p->kw + kj];
          }
        }
      }
      /* saturating: a file may carry any bias (the optimized paths add it the same way) */
      store_out(p, c->y, ((img * p->m + oc) * p->oh + oh) * p->ow + ow, oc,
                ec_sat_i32((int64_t)acc + p->bias_raw[oc]));
    }
}

static void ref_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qconv_ctx *c = vc;
  for (int64_t i = begin; i < end; i++) ref_plane(c->p, c, i / c->p->m, i % c->p->m);
}

/* ---- eval: depthwise --------------------------------------------------------------- */

static void dw_row_ref(const uint8_t *x, bool is_signed, int32_t zp, const int8_t *w,
                       const qconv_params *p, int32_t *acc) {
  for (int64_t o = 0; o < p->ow; o++) {
    int32_t s = 0;
    for (int64_t kj = 0; kj < p->kw; kj++) {
      const int64_t iw = o * p->sw + kj * p->dw - p->pw;
      if (iw >= 0 && iw < p->w) s += w[kj] * (ec_q8_load(x, is_signed, iw) - zp);
    }
    acc[o] += s;
  }
}

static void store_row(const qconv_params *p, const int32_t *acc, int64_t oc, void *y,
                      int64_t at) {
  if (p->out_i32) {
    int32_t *d = (int32_t *)y + at;
    for (int64_t o = 0; o < p->ow; o++) d[o] = ec_sat_i32((int64_t)acc[o] + p->bias_raw[oc]);
    return;
  }
  const ec_qout *out = &p->out;
  uint8_t *row = (uint8_t *)y + at;
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->avx2 && p->mul[oc].shift <= 0) {
    ec_x86_qrequant_row_avx2(acc, p->ow, p->bias_raw[oc], p->mul[oc], out->zp, out->lo, out->hi,
                             out->is_signed, row);
    return;
  }
#endif
  for (int64_t o = 0; o < p->ow; o++) {
    /* 64-bit sums: the file's bias and a saturated requantization can overflow int32 */
    const int32_t v = ec_sat_i32(
        (int64_t)ec_requant(ec_sat_i32((int64_t)acc[o] + p->bias_raw[oc]), p->mul[oc]) +
        out->zp);
    ec_q8_store(row, out->is_signed, o, ec_clamp_i32(v, out->lo, out->hi));
  }
}

#if defined(EDGEC_HAVE_X86_KERNELS)
/* Copies the plane into the padded buffer (zero point as padding, int8
 * flipped to uint8) and runs the AVX2 plane kernel. */
static void dw_plane_simd(const qconv_params *p, const uint8_t *x, const int8_t *w, int64_t ch,
                          uint8_t *padded, uint8_t *y) {
  const uint8_t pad = (uint8_t)(p->zp_x ^ (p->x_signed ? 0x80 : 0));
  memset(padded, pad, (size_t)(p->pad_h * p->pad_w));
  for (int64_t r = 0; r < p->h; r++) {
    uint8_t *d = padded + (r + p->ph) * p->pad_w + p->pw;
    const uint8_t *s = x + r * p->w;
    if (p->flip)
      for (int64_t q = 0; q < p->w; q++) d[q] = s[q] ^ p->flip;
    else
      memcpy(d, s, (size_t)p->w);
  }
  ec_x86_qdw_plane_avx2(padded, p->pad_w, w, p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->oh, p->ow,
                        p->bias_eff[ch], p->mul[ch], &p->out, y);
}
#endif

static void dw_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const qconv_ctx *c = vc;
  const qconv_params *p = c->p;
  int32_t *acc = (int32_t *)c->workspace[thread];
#if defined(EDGEC_HAVE_X86_KERNELS)
  uint8_t *padded = c->workspace[thread] + ec_q_align64((size_t)p->ow * sizeof(int32_t));
  const ec_qrow_vnni *rows = p->vrows;
  if (p->dw_vnni) {
    const ec_qdw_vnni a = {p->c,
                           p->h,
                           p->w,
                           p->kh,
                           p->kw,
                           p->sh,
                           p->sw,
                           p->dh,
                           p->dw,
                           p->ph,
                           p->pw,
                           p->oh,
                           p->ow,
                           p->flip,
                           (uint8_t)p->zp_x,
                           p->dw_w4,
                           rows,
                           &p->out,
                           p->dw_narrow ? &p->dw_plan : NULL,
                           p->sw == 1 && p->ow >= 32 ? padded : NULL, /* a copy pays */
                           p->pad_h,
                           p->pad_w};
    ec_x86_qdw_planes_vnni(&a, c->x, begin, end, c->y);
  }
#endif
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % p->c;
    const uint8_t *x = c->x + plane * p->h * p->w;
    const int8_t *w = c->w + ch * p->kh * p->kw;
#if defined(EDGEC_HAVE_X86_KERNELS)
    if (p->dw_vnni && rows[ch].fast) continue; /* done above */
    /* the AVX2 plane adds the bias without saturating: only where sums cannot overflow */
    const int64_t accmax = p->kh * p->kw * 255 * 128;
    if (p->dw_simd && p->mul[ch].shift <= 0 && (int64_t)p->bias_eff[ch] + accmax <= INT32_MAX &&
        (int64_t)p->bias_eff[ch] - accmax >= INT32_MIN) {
      dw_plane_simd(p, x, w, ch, padded, (uint8_t *)c->y + plane * p->p);
      continue;
    }
#endif
    for (int64_t oh = 0; oh < p->oh; oh++) {
      memset(acc, 0, (size_t)p->ow * sizeof(int32_t));
      for (int64_t ki = 0; ki < p->kh; ki++) {
        const int64_t ih = oh * p->sh + ki * p->dh - p->ph;
        if (ih < 0 || ih >= p->h) continue;
        dw_row_ref(x + ih * p->w, p->x_signed, p->zp_x, w + ki * p->kw, p, acc);
      }
      store_row(p, acc, ch, c->y, (plane * p->oh + oh) * p->ow);
    }
  }
}

/* ---- eval: GEMM ---------------------------------------------------------------------- */

/* Rows [k0, k0 + K) x pixels [p0, p0 + tp) of the unfolded input of one
 * group x (cg planes), row-major (ld tp) into col; padding is the zero point. */
static void im2col(const qconv_params *p, const uint8_t *x, int64_t p0, int64_t tp,
                   uint8_t *col) {
  const int64_t kk = p->kh * p->kw;
  const uint8_t pad = (uint8_t)p->zp_x; /* the source byte of the zero point */
  for (int64_t r = 0; r < p->k; r++) {
    const int64_t ci = r / kk, ki = r % kk / p->kw, kj = r % p->kw;
    const uint8_t *plane = x + ci * p->h * p->w;
    const int64_t hoff = ki * p->dh - p->ph, woff = kj * p->dw - p->pw;
    /* output columns [lo, hi) read inside the row */
    int64_t lo = woff >= 0 ? 0 : (-woff + p->sw - 1) / p->sw;
    int64_t hi = p->w - woff <= 0 ? 0 : (p->w - woff - 1) / p->sw + 1;
    if (hi > p->ow) hi = p->ow;
    if (lo > hi) lo = hi;
    uint8_t *dst = col + r * tp;
    int64_t q = p0, oh = p0 / p->ow, ow0 = p0 % p->ow;
    while (q < p0 + tp) {
      const int64_t len = min64(p->ow - ow0, p0 + tp - q), end = ow0 + len;
      const int64_t ih = oh * p->sh + hoff;
      uint8_t *d = dst + (q - p0); /* d[o - ow0] is output column o */
      if (ih < 0 || ih >= p->h) {
        memset(d, pad, (size_t)len);
      } else {
        const uint8_t *row = plane + ih * p->w; /* row[o * sw + woff] feeds column o */
        const int64_t a = lo > ow0 ? min64(lo, end) : ow0;
        const int64_t b = hi < end ? (hi > a ? hi : a) : end;
        if (a > ow0) memset(d, pad, (size_t)(a - ow0));
        if (p->sw == 1) {
          if (b > a) memcpy(d + (a - ow0), row + a + woff, (size_t)(b - a));
        } else {
          for (int64_t o = a; o < b; o++) d[o - ow0] = row[o * p->sw + woff];
        }
        if (end > b) memset(d + (b - ow0), pad, (size_t)(end - b));
      }
      q += len;
      oh++;
      ow0 = 0;
    }
  }
}

static void store_tile_i32(const int32_t *tile, int64_t mr, int64_t nr, const int32_t *bias,
                           int32_t *y, int64_t rs) {
  for (int64_t i = 0; i < mr; i++)
    for (int64_t j = 0; j < nr; j++) y[i * rs + j] = ec_sat_i32((int64_t)tile[i * EC_QNR + j] + bias[i]);
}

static void gemm_job(const qconv_ctx *c, int64_t job, uint8_t *ws) {
  const qconv_params *p = c->p;
  const int64_t pt = job % c->ptiles, rest = job / c->ptiles;
  const int64_t mbi = rest % c->mblocks, ng = rest / c->mblocks;
  const int64_t g = ng % p->group, img = ng / p->group;
  const int64_t p0 = pt * p->tp, tp = min64(p->tp, p->p - p0);
  const int64_t m0 = mbi * c->mb, m1 = min64(m0 + c->mb, p->mg);
  const uint8_t *x = c->x + (img * p->c + g * p->cg) * p->h * p->w;
  uint8_t *panel = ws;
  int32_t *tile = (int32_t *)(ws + ec_q_align64(ec_qpanel_bytes(p->k, p->tp)));
  if (p->path == PATH_POINTWISE) {
    ec_qpack_rows(p->isa, x + p0, p->h * p->w, p->k, tp, p->flip, panel);
  } else if (p->path == PATH_SHIFT) {
#if defined(EDGEC_HAVE_X86_KERNELS)
    const ec_qshift sh = {x,     p->cg, p->h,  p->w,    p->kh,           p->kw, p->dh,
                          p->dw, p->ph, p->pw, p->flip, (uint8_t)p->zp_x};
    ec_x86_qpack_shift_vnni(&sh, p0, tp, panel);
#endif
  } else if (p->path == PATH_DIRECT) {
#if defined(EDGEC_HAVE_X86_KERNELS)
    const ec_qconvpack cp = {x,     p->cg, p->h,  p->w,  p->kh,   p->kw,           p->sh,
                             p->sw, p->dh, p->dw, p->ph, p->pw,   p->ow,           p->flip,
                             (uint8_t)p->zp_x};
    ec_x86_qpack_conv_vnni(&cp, p0, tp, panel);
#endif
  } else {
    uint8_t *col = (uint8_t *)tile + ec_q_align64(EC_QMR * EC_QNR * sizeof(int32_t));
    im2col(p, x, p0, tp, col);
    ec_qpack_rows(p->isa, col, tp, p->k, tp, p->flip, panel);
  }
  const int64_t groups = p->kp / EC_QKG;
  const int8_t *wa = p->wa + g * p->group_bytes, *wa2 = p->wa2 ? p->wa2 + g * p->group_bytes : NULL;
  const int64_t oc0 = g * p->mg;
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->isa == EC_Q_VNNI && !p->out_i32) {
    ec_x86_q8_block_vnni(groups, wa + m0 / EC_QMR * p->kp * EC_QMR, p->kp * EC_QMR, m1 - m0, panel,
                         p->kp * EC_QNR, tp, &p->out, p->vrows, oc0 + m0,
                         (uint8_t *)c->y + (img * p->m + oc0 + m0) * p->p + p0, p->p);
    return;
  }
#endif
  for (int64_t j0 = 0; j0 < tp; j0 += EC_QNR) {
    const uint8_t *b = panel + j0 * p->kp;
    const int64_t nr = min64(EC_QNR, tp - j0);
#if defined(EDGEC_HAVE_X86_KERNELS)
    if (p->isa == EC_Q_AVX2 && !p->out_i32) {
      const int64_t sl = m0 / EC_QMR * p->kp * EC_QMR;
      ec_x86_q8_block_avx2(groups, wa + sl, wa2 ? wa2 + sl : NULL, p->kp * EC_QMR, m1 - m0, b, nr,
                           &p->out, oc0 + m0,
                           (uint8_t *)c->y + (img * p->m + oc0 + m0) * p->p + p0 + j0, p->p);
      continue;
    }
#endif
    for (int64_t r0 = m0; r0 < m1; r0 += EC_QMR) { /* m0 is a multiple of EC_QMR */
      const int64_t mr = min64(EC_QMR, m1 - r0);
      const int64_t sl = r0 / EC_QMR * p->kp * EC_QMR;
      ec_qgemm_tile(p->isa, groups, wa + sl, wa2 ? wa2 + sl : NULL, b, tile);
      const int64_t at = (img * p->m + oc0 + r0) * p->p + p0 + j0;
      if (p->out_i32)
        store_tile_i32(tile, mr, nr, p->bias_eff + oc0 + r0, (int32_t *)c->y + at, p->p);
      else
        ec_qrequant_tile(p->isa, tile, mr, nr, oc0 + r0, &p->out, (uint8_t *)c->y + at, p->p, 1);
    }
  }
}

static void gemm_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const qconv_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) gemm_job(c, job, c->workspace[thread]);
}

static void eval_qconv(const ec_node *n, const ec_exec *ex) {
  const qconv_params *p = n->params;
  qconv_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]],
                 ex->workspace, p->mg, 1, 1};
  if (p->n == 0 || p->m == 0 || p->p == 0) return;
  if (p->path == PATH_REF) {
    ec_parallel_for(ex, p->n * p->m, 1, ref_range, &c);
    return;
  }
  if (p->path == PATH_DEPTHWISE) {
    ec_parallel_for(ex, p->n * p->c, 1, dw_range, &c);
    return;
  }
  c.ptiles = ceil_div(p->p, p->tp);
  const int64_t jobs = p->n * p->group * c.ptiles;
  const int64_t threads = ec_parallel_threads(ex);
  if (jobs < threads) { /* one channel block per thread: each repacks the same pixels */
    const int64_t per = ceil_div(p->mg, ceil_div(threads, jobs));
    c.mb = ec_q_round_up(per < 4 * EC_QMR ? 4 * EC_QMR : per, EC_QMR);
    if (c.mb > p->mg) c.mb = p->mg;
    c.mblocks = ceil_div(p->mg, c.mb);
  }
  ec_parallel_for(ex, p->n * p->group * c.mblocks * c.ptiles, 1, gemm_range, &c);
}

EC_KERNEL(ec_kernel_qconv, "qconv", prepare_qconv, eval_qconv)
