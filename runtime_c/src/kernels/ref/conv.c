/* Conv, 1-D and 2-D, NCHW, float32: groups, pads, strides, dilations,
 * optional bias, optional residual addend (input 3: a tensor of the
 * output's shape added before the activation, fused by
 * edgec/passes/fuse_residual.py), fused activation (ConvOptions). 1-D runs
 * as 2-D with a height of 1. Three paths, chosen at prepare:
 *  - pointwise (1x1, stride 1, no pads): Y_g = W_g . X_g straight from the
 *    input (ec_sgemm_ex packs pixel tiles of X);
 *  - depthwise (group == C == M): a direct loop per channel plane;
 *  - otherwise im2col: a tile of at most KC rows x TP output pixels of the
 *    unfolded input is built in the thread's workspace, already in the
 *    GEMM's packed B layout, and multiplied in, accumulating over row chunks.
 * The GEMM runs in the instruction's kernel family (EC_VARIANT_*, capped by
 * the CPU); with EC_VARIANT_PACKED the weight arrives in the GEMM's A
 * layout, [group * ceil(Mg / 6), C / group, kh, kw, 6] (gemm_core.h), and is
 * used in place; bias, residual and activation are the GEMM's epilogue.
 * With EC_VARIANT_WINOGRAD (3x3, stride 1, dilation 1, group 1) the weight
 * arrives transformed, [A2, ceil(M / 6), C, 6] with A2 = 36 for Winograd
 * F(4x4, 3x3) or 16 for F(2x2, 3x3), and a fourth path runs it
 * (gemm_core.h): per block of TB output tiles the input is transformed,
 * multiplied by the A2 weight matrices and transformed back with the
 * epilogue; TB = clamp(2^18 / (A2 * (C + M)), 16, 64) rounded down to 16 and
 * at most the tiles rounded up to 16 (x86: the same number of blocks made
 * as equal as 16-tile slivers allow, and on the fly with AVX-512 WP in
 * place of M; edgec/lower/conv.py sizes the workspace for the larger). With EC_VARIANT_WINOGRAD_OTF as well the
 * weight arrives raw, [ceil(M / 6), 9, C, 6], F(2x2) with EC_VARIANT_WINOGRAD_F2
 * else F(4x4): each job transforms it per panel of WP = 12 output channels
 * into its workspace, in the layout of one panel of the stored form, and
 * runs that panel's A2 GEMMs (fewer weight bytes streamed, 9 vs A2 floats
 * per channel pair, for the transform redone by every tile block).
 * On the AVX-512 family, a conv with at most 4 input channels (group 1,
 * dilation 1, no residual: a CNN's first layer) runs direct instead of
 * im2col (kernels/x86/conv_direct_avx512.c), in the im2col workspace.
 * Work is split into jobs over (batch, group, output-channel block, pixel
 * tile), or (tile block, output-channel block); each job owns its piece of
 * Y.
 * Workspace per thread (edgec/lower/conv.py mirrors it):
 *   pointwise: ec_sgemm_workspace(Mg, min(P, TP), K)
 *              [+ align64(4 * M * P) with EC_VARIANT_KSPLIT: ksplit_run]
 *   im2col:    align64(4 * min(K, KC) * round_up(min(P, TP), 16))
 *              + ec_sgemm_workspace(Mg, min(P, TP), min(K, KC))
 *   winograd:  align64(4 * A2 * C * TB) + align64(4 * A2 * M * TB)
 *              [+ align64(4 * A2 * (C * WP + WPAD)) on the fly]
 *   depthwise: 4 * ((OH - 1) * sh + kh) * dw_row_stride(OW, kw) * sw when the
 *              family is SIMD (x86 or NEON), the dilation 1 and the strides 1
 *              or 2 (the padded plane of kernels/x86/dwconv_impl.h), else 0
 * where Mg = M / group, K = C / group * kh * kw and P = OH * OW. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include <stdatomic.h>

#include "kernels/x86/conv_direct_x86.h"
#include "kernels/x86/x86.h"
#endif
#if defined(EDGEC_HAVE_NEON_KERNELS)
#include "kernels/neon/neon.h"
#endif
#if defined(EDGEC_HAVE_X86_KERNELS) || defined(EDGEC_HAVE_NEON_KERNELS)
#define DW_SIMD 1 /* this build has SIMD depthwise kernels (kernels/dwconv.h) */
#endif

#define TP 256        /* output pixels per tile */
#define KCHUNK EC_GEMM_KC
#define SPLIT_M_BELOW 8 /* split output channels when fewer jobs than this */
#define MIN_M_BLOCK 24
#define WP 12 /* output channels per on-the-fly Winograd panel (two A slivers) */
/* Floats between the panel's A2 matrices beyond their size: without it the
 * transform's A2 store streams are a multiple of 4 KiB apart (C = 256: 12
 * KiB) and thrash a few L1 sets. */
#define WPAD 16
/* Multiply-adds below which a job range is not worth waking another thread
 * for (a few microseconds of work): small instructions run on the caller. */
#define MIN_PARALLEL_MACS ((int64_t)1 << 18)

enum { PATH_IM2COL = 0, PATH_POINTWISE = 1, PATH_DEPTHWISE = 2, PATH_WINOGRAD = 3,
       PATH_DIRECT = 4 /* few input channels, kernels/x86/conv_direct_avx512.c */ };

typedef struct conv_params {
  int path;
  ec_isa isa;
  bool packed;           /* weight in the GEMM's A layout */
  bool residual;         /* input 3 present */
  bool dw_simd;          /* depthwise in the SIMD kernels (x86 or NEON) */
  bool winograd;         /* Winograd F(4x4) or F(2x2), weight transformed or raw */
  bool wino_otf;         /* raw weight, transformed per panel (EC_VARIANT_WINOGRAD_OTF) */
  bool wino_simd;        /* Winograd transforms in the x86 kernels */
  bool ksplit;           /* EC_VARIANT_KSPLIT taken (AVX-512 pointwise): ksplit_run */
  int64_t wr, wa2;       /* Winograd output tile (4 or 2), products per tile (36 or 16) */
  int64_t ty, tx, tiles, tb; /* Winograd tiles per image (ty x tx), in all, per block */
  union {
    ec_conv_shape shape;
    struct {
      EC_CONV_SHAPE_FIELDS;
    };
  };
  int64_t k;             /* cg * kh * kw: rows of the unfolded input */
  int64_t p;             /* oh * ow */
  int64_t tp;            /* pixel tile */
  int64_t direct_rb;     /* PATH_DIRECT: output rows per job */
  ec_act act;
} conv_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ---- prepare ------------------------------------------------------------ */

static ec_status check_operands(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 4, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[1], EC_FLOAT32, "weight");
  if (st == EC_OK && n->n_in >= 3 && n->tin[2])
    st = ec_check_dtype(n, n->tin[2], EC_FLOAT32, "bias");
  if (st == EC_OK) st = ec_check_residual(n);
  if (st == EC_OK && n->n_in == 4) st = ec_check_dtype(n, n->tin[3], EC_FLOAT32, "residual");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_CONVOPTIONS);
  if (st != EC_OK) return st;
  st = ec_check_conv_ranks(n, (n->variant & EC_VARIANT_PACKED)     ? 5
                             : (n->variant & EC_VARIANT_WINOGRAD) ? 4
                                                                   : 0);
  if (st != EC_OK) return st;
  return ec_check_act(n, n->opt.u.conv.activation);
}

/* Shared with qconv.c (declared in gemm_core.h). */
ec_status ec_conv_shape_read(const ec_node *n, int64_t m, int64_t kh, int64_t kw, int64_t wc,
                             ec_conv_shape *s) {
  const ec_conv_options *o = &n->opt.u.conv;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  const int32_t sp = x->rank - 2;
  ec_conv_geom g;
  if (!ec_conv_geom_read(o, sp, &g))
    return ec_node_error(n, EC_ERR_FORMAT, "strides, pads or dilations malformed for %d "
                         "spatial axes", sp);
  s->n = x->shape[0];
  s->c = x->shape[1];
  s->h = sp == 2 ? x->shape[2] : 1;
  s->w = x->shape[x->rank - 1];
  s->m = m;
  s->oh = sp == 2 ? y->shape[2] : 1;
  s->ow = y->shape[y->rank - 1];
  s->kh = kh;
  s->kw = kw;
  s->sh = g.stride[0], s->sw = g.stride[1], s->dh = g.dilation[0], s->dw = g.dilation[1];
  s->ph = g.pad_begin[0], s->pw = g.pad_begin[1], s->pe_h = g.pad_end[0], s->pe_w = g.pad_end[1];
  s->group = o->group;
  if (s->group < 1 || s->c % s->group != 0 || m % s->group != 0)
    return ec_node_error(n, EC_ERR_SHAPE, "group %lld does not divide %lld input and "
                         "%lld output channels", (long long)s->group, (long long)s->c,
                         (long long)m);
  s->cg = s->c / s->group;
  s->mg = m / s->group;
  if (wc != s->cg || kh < 1 || kw < 1)
    return ec_node_error(n, EC_ERR_SHAPE, "weight shape does not match %lld input "
                         "channels per group", (long long)s->cg);
  if (y->shape[0] != s->n || y->shape[1] != m)
    return ec_node_error(n, EC_ERR_SHAPE, "output batch/channels do not match");
  if (!ec_fits(s->cg, kh) || !ec_fits(s->cg * kh, kw) || !ec_fits(s->h, s->w) ||
      !ec_fits(s->oh, s->ow) || !ec_fits(kh - 1, s->dh) || !ec_fits(kw - 1, s->dw))
    return ec_sizes_error(n);
  const int64_t in[2] = {s->h, s->w}, k[2] = {kh, kw}, out[2] = {s->oh, s->ow};
  for (int i = 0; i < 2; i++) {
    const int64_t span = in[i] + g.pad_begin[i] + g.pad_end[i] - g.dilation[i] * (k[i] - 1) - 1;
    if (span < 0 || span / g.stride[i] + 1 != out[i])
      return ec_node_error(n, EC_ERR_SHAPE, "output size %lld does not follow from "
                           "input %lld, kernel %lld and the options", (long long)out[i],
                           (long long)in[i], (long long)k[i]);
  }
  return EC_OK;
}

/* Output channels and kernel size from the weight: (M, C/group, kh, kw) as
 * ONNX has it, or the packed (group * ceil(Mg / 6), C/group, kh, kw, 6). */
static ec_status read_weight(ec_node *n, int32_t sp, conv_params *p) {
  const ec_tensor_desc *w = n->tin[1];
  if (p->winograd) {
    /* stored [36 or 16, ceil(M / 6), C, 6] or raw [ceil(M / 6), 9, C, 6]:
     * read as (M, C, 3, 3) */
    const int64_t v = n->variant, panels = ceil_div(n->tout[0]->shape[1], EC_PACK_MR);
    p->m = n->tout[0]->shape[1];
    p->kh = p->kw = 3;
    p->wa2 = p->wino_otf ? ((v & EC_VARIANT_WINOGRAD_F2) ? 16 : 36) : w->shape[0];
    p->wr = p->wa2 == 36 ? 4 : 2;
    const bool ok = p->wino_otf ? w->shape[0] == panels && w->shape[1] == 9
                                : (p->wa2 == 36 || p->wa2 == 16) && w->shape[1] == panels;
    if (sp != 2 || !ok || w->shape[3] != EC_PACK_MR || n->opt.u.conv.group != 1)
      return ec_node_error(n, EC_ERR_SHAPE, "Winograd weight shape does not match %lld "
                           "output channels (2-D, group 1)", (long long)p->m);
    return EC_OK;
  }
  if (!p->packed) {
    p->m = w->shape[0];
    p->kh = sp == 2 ? w->shape[2] : 1;
    p->kw = w->shape[w->rank - 1];
    return EC_OK;
  }
  p->m = n->tout[0]->shape[1];
  p->kh = w->shape[2];
  p->kw = w->shape[3];
  const int64_t g = n->opt.u.conv.group;
  if (g < 1 || p->m % g != 0 || (sp == 1 && p->kh != 1) || w->shape[4] != EC_PACK_MR ||
      w->shape[0] != g * ceil_div(p->m / g, EC_PACK_MR))
    return ec_node_error(n, EC_ERR_SHAPE, "packed weight shape does not match %lld output "
                         "channels in group %lld", (long long)p->m, (long long)g);
  return EC_OK;
}

/* Reads shapes and options into p, checking the output shape they imply. */
static ec_status read_geometry(ec_node *n, conv_params *p) {
  const ec_conv_options *o = &n->opt.u.conv;
  const ec_tensor_desc *w = n->tin[1];
  const int32_t sp = n->tin[0]->rank - 2;
  ec_status st = read_weight(n, sp, p);
  if (st == EC_OK)
    st = ec_conv_shape_read(n, p->m, p->kh, p->kw, w->shape[p->winograd ? 2 : 1], &p->shape);
  if (st != EC_OK) return st;
  p->k = p->cg * p->kh * p->kw;
  p->p = p->oh * p->ow;
  p->tp = min64(p->p, TP);
  p->act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  return EC_OK;
}

/* Floats per padded row of the SIMD depthwise kernels. */
static int64_t dw_row_stride(int64_t ow, int64_t kw) { return (ow + kw + 15) / 16 * 16 + 16; }

/* Tiles per Winograd block (see the top of the file). x86: the blocks as
 * equal as whole slivers allow (the same count of blocks and slivers), so
 * that threads splitting the blocks get equal transforms: 49 tiles at 48
 * per block run as 32 + 17, not 48 + 1. */
static int64_t wino_tile_block(int64_t a2, int64_t c, int64_t m, int64_t tiles) {
  int64_t tb = ((int64_t)1 << 18) / (a2 * (c + m)) / 16 * 16;
  tb = tb < 16 ? 16 : tb > 64 ? 64 : tb;
#if defined(EDGEC_HAVE_X86_KERNELS)
  return ec_round_up(ceil_div(tiles, max64(ceil_div(tiles, tb), 1)), 16);
#else
  const int64_t all = ec_round_up(tiles, 16);
  return tb < all ? tb : all;
#endif
}

static size_t required_scratch(const conv_params *p) {
  switch (p->path) {
    case PATH_WINOGRAD:
      return ec_align64((size_t)(p->wa2 * p->c * p->tb) * sizeof(float)) +
             ec_align64((size_t)(p->wa2 * p->m * p->tb) * sizeof(float)) +
             (p->wino_otf ? ec_align64((size_t)(p->wa2 * (p->c * WP + WPAD)) * sizeof(float))
                           : 0);
    case PATH_DEPTHWISE:
      if (!p->dw_simd) return 0;
      return ec_align64((size_t)(((p->oh - 1) * p->sh + p->kh) * dw_row_stride(p->ow, p->kw) *
                                 p->sw) * sizeof(float));
    case PATH_POINTWISE: return ec_sgemm_workspace(p->mg, p->tp, p->k);
    default: {
      const int64_t kc = min64(p->k, KCHUNK);
      return ec_align64((size_t)(kc * ec_round_up(p->tp, EC_PACK_NR)) * sizeof(float)) +
             ec_sgemm_workspace(p->mg, p->tp, kc);
    }
  }
}

#if defined(EDGEC_HAVE_X86_KERNELS)
/* EC_VARIANT_KSPLIT, taken by the AVX-512 family only (the others sum the
 * whole K in their usual order): a packed 1x1 conv of one image, whose
 * workspace holds the second half's sums (M x P floats) after the GEMM's. */
static ec_status ksplit_prepare(const ec_node *n, conv_params *geo, size_t *need) {
  if (!(n->variant & EC_VARIANT_KSPLIT) || geo->isa != EC_ISA_AVX512) return EC_OK;
  if (geo->path != PATH_POINTWISE || !geo->packed || geo->n != 1 || geo->group != 1)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "split input channels (variant 0x%x) need a "
                         "packed 1x1 conv of one image", EC_VARIANT_KSPLIT);
  geo->ksplit = true;
  *need += ec_align64((size_t)(geo->m * geo->p) * sizeof(float));
  return EC_OK;
}
#endif

static ec_status prepare_conv(ec_node *n) {
  conv_params geo;
  memset(&geo, 0, sizeof geo);
  const uint16_t v = n->variant;
  if (!ec_variant_isa(v, EC_VARIANT_PACKED | EC_VARIANT_WINOGRAD | EC_VARIANT_WINOGRAD_OTF |
                      EC_VARIANT_WINOGRAD_F2 | EC_VARIANT_KSPLIT, &geo.isa) ||
      ((v & EC_VARIANT_PACKED) && (v & EC_VARIANT_WINOGRAD)) ||
      ((v & EC_VARIANT_WINOGRAD_OTF) && !(v & EC_VARIANT_WINOGRAD)) ||
      ((v & EC_VARIANT_WINOGRAD_F2) && !(v & EC_VARIANT_WINOGRAD_OTF)))
    return ec_variant_error(n);
  geo.packed = (v & EC_VARIANT_PACKED) != 0;
  geo.winograd = (v & EC_VARIANT_WINOGRAD) != 0;
  geo.wino_otf = (v & EC_VARIANT_WINOGRAD_OTF) != 0;
  ec_status st = check_operands(n);
  if (st != EC_OK) return st;
  st = read_geometry(n, &geo);
  if (st != EC_OK) return st;
  const ec_tensor_desc *b = n->n_in >= 3 ? n->tin[2] : NULL;
  st = ec_check_vec(n, b, geo.m, "bias");
  if (st != EC_OK) return st;
  geo.residual = n->n_in == 4;
  if (geo.winograd) {
    if (geo.sh != 1 || geo.sw != 1 || geo.dh != 1 || geo.dw != 1)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "Winograd needs stride 1 and dilation 1");
    geo.path = PATH_WINOGRAD;
    geo.ty = ceil_div(geo.oh, geo.wr);
    geo.tx = ceil_div(geo.ow, geo.wr);
    if (!ec_fits(geo.n, geo.ty * geo.tx) || !ec_fits(36 * (geo.c + geo.m), 64))
      return ec_sizes_error(n);
    geo.tiles = geo.n * geo.ty * geo.tx;
#if defined(EDGEC_HAVE_X86_KERNELS)
    /* on the fly, the AVX-512 kernel keeps only one panel's products (WP rows),
     * not M: larger blocks (fewer weight transforms; 28x28 128 -> 128: 2
     * blocks, one per thread at 2 threads, instead of 4) */
    geo.tb = wino_tile_block(geo.wa2, geo.c, geo.wino_otf && geo.isa == EC_ISA_AVX512 ? WP : geo.m,
                             geo.tiles);
#else
    geo.tb = wino_tile_block(geo.wa2, geo.c, geo.m, geo.tiles);
#endif
    /* int32 gather/scatter indices */
    const int64_t lim = (int64_t)1 << 31;
    geo.wino_simd = ec_isa_is_x86(geo.isa) && ec_fits(geo.n * geo.c, geo.h * geo.w) &&
                    geo.n * geo.c * geo.h * geo.w < lim && ec_fits(geo.n * geo.m, geo.p) &&
                    geo.n * geo.m * geo.p < lim;
  } else if (geo.group == geo.c && geo.group == geo.m)
    geo.path = PATH_DEPTHWISE;
  else if (geo.kh == 1 && geo.kw == 1 && geo.sh == 1 && geo.sw == 1 && geo.ph == 0 &&
           geo.pw == 0 && geo.oh == geo.h && geo.ow == geo.w)
    geo.path = PATH_POINTWISE;
  else
    geo.path = PATH_IM2COL;
  if (geo.packed && geo.path == PATH_DEPTHWISE)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "a depthwise weight is never packed");
  geo.dw_simd = geo.path == PATH_DEPTHWISE &&
                (ec_isa_is_x86(geo.isa) || geo.isa == EC_ISA_NEON) && geo.dh == 1 &&
                geo.dw == 1 && geo.sh <= 2 && geo.sw <= 2 && geo.p > 0 &&
                ec_fits(geo.oh * geo.sh + geo.kh, dw_row_stride(geo.ow, geo.kw) * 2);
  size_t need = required_scratch(&geo);
#if defined(EDGEC_HAVE_X86_KERNELS)
  st = ksplit_prepare(n, &geo, &need);
  if (st != EC_OK) return st;
#endif
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
#if defined(EDGEC_HAVE_X86_KERNELS)
  /* Few input channels (a CNN's first layer): the direct kernel, with the
   * most output rows per job (8 down to 1) whose workspace fits the
   * instruction's (sized for im2col). */
  for (int64_t rb = 8; geo.path == PATH_IM2COL && geo.isa == EC_ISA_AVX512 && !geo.residual &&
                       geo.group == 1 && geo.dh == 1 && geo.dw == 1 && rb >= 1; rb /= 2) {
    const ec_conv_direct d = {.n = geo.n, .c = geo.c, .h = geo.h, .w_ = geo.w, .m = geo.m,
                              .oh = geo.oh, .ow = geo.ow, .kh = geo.kh, .kw = geo.kw,
                              .sh = geo.sh, .sw = geo.sw, .ph = geo.ph, .pw = geo.pw, .rb = rb};
    if (ec_x86_conv_direct_fits(&d) && ec_x86_conv_direct_workspace(&d) <= n->scratch_size)
      geo.path = PATH_DIRECT, geo.direct_rb = rb;
  }
#endif
  st = ec_alloc_params(n, sizeof geo);
  if (st == EC_OK) memcpy(n->params, &geo, sizeof geo);
  return st;
}

/* ---- eval --------------------------------------------------------------- */

typedef struct conv_ctx {
  const conv_params *p;
  const float *x, *w, *bias, *res;
  float *y;
  uint8_t *const *workspace;
  int64_t mb, mblocks, ptiles; /* job grid within one (batch, group) */
  int64_t tp;                  /* pixels per tile (<= p->tp, which sizes the workspace) */
  int64_t rb;                  /* PATH_DIRECT: output rows per job (<= p->direct_rb) */
#if defined(EDGEC_HAVE_X86_KERNELS)
  struct otf_span *spans;      /* otf_split: each thread's panels, */
  int64_t nspans;              /* one span per thread */
#endif
} conv_ctx;

/* Pixels [p0, p0 + tp) of unfolded row `row` of one image group x (cg
 * planes) into d (contiguous). */
static void im2col_row(const conv_params *p, const float *x, int64_t row, int64_t p0,
                       int64_t tp, float *restrict d) {
  const int64_t kk = p->kh * p->kw, c = row / kk, ki = row % kk / p->kw, kj = row % p->kw;
  const float *plane = x + c * p->h * p->w;
  const int64_t hoff = ki * p->dh - p->ph, woff = kj * p->dw - p->pw;
  int64_t lo, hi;
  ec_valid_range(woff, p->sw, p->w, p->ow, &lo, &hi);
  int64_t q = p0, oh = p0 / p->ow, ow0 = p0 % p->ow;
  while (q < p0 + tp) {
    const int64_t len = min64(p->ow - ow0, p0 + tp - q), ih = oh * p->sh + hoff;
    float *dq = d + (q - p0) - ow0; /* dq[o] is output column o */
    if (ih < 0 || ih >= p->h) {
      memset(dq + ow0, 0, (size_t)len * sizeof(float));
    } else {
      const float *src = plane + ih * p->w + woff; /* src[o * sw] feeds column o */
      const int64_t end = ow0 + len;
      const int64_t a = lo > ow0 ? (lo < end ? lo : end) : ow0;
      const int64_t b = hi < end ? (hi > a ? hi : a) : end;
      for (int64_t o = ow0; o < a; o++) dq[o] = 0.0f;
      if (p->sw == 1) {
        if (a < b) memcpy(dq + a, src + a, (size_t)(b - a) * sizeof(float));
      } else if (p->sw == 2) {
        for (int64_t o = a; o < b; o++) dq[o] = src[2 * o];
      } else {
        for (int64_t o = a; o < b; o++) dq[o] = src[o * p->sw];
      }
      for (int64_t o = b; o < end; o++) dq[o] = 0.0f;
    }
    q += len;
    oh++;
    ow0 = 0;
  }
}

/* Rows [k0, k0 + kc) x pixels [p0, p0 + tp) of the unfolded input of one
 * image group, straight into the GEMM's packed B layout (slivers of
 * EC_PACK_NR pixels; the last sliver's columns past tp zeroed). */
static void im2col(const conv_params *p, const float *x, int64_t k0, int64_t kc, int64_t p0,
                   int64_t tp, float *restrict col) {
  float row[TP];
  const int64_t rtp = ec_round_up(tp, EC_PACK_NR);
  for (int64_t q = tp; q < rtp; q++) row[q] = 0.0f;
  for (int64_t r = 0; r < kc; r++) {
    im2col_row(p, x, k0 + r, p0, tp, row);
    for (int64_t j0 = 0; j0 < rtp; j0 += EC_PACK_NR)
      memcpy(col + (j0 / EC_PACK_NR * kc + r) * EC_PACK_NR, row + j0,
             EC_PACK_NR * sizeof(float));
  }
}

/* The weight rows [oc0, oc0 + mb) of group g, starting at column k0, as a
 * GEMM operand (oc0 - g * mg is a multiple of EC_PACK_MR when packed). */
static ec_operand weight_operand(const conv_ctx *c, int64_t g, int64_t m0, int64_t k0) {
  const conv_params *p = c->p;
  if (p->packed) {
    const int64_t sliver = p->k * EC_PACK_MR;
    const int64_t first = g * ceil_div(p->mg, EC_PACK_MR) + m0 / EC_PACK_MR;
    return (ec_operand){c->w + first * sliver + k0 * EC_PACK_MR, 0, 0, sliver};
  }
  return (ec_operand){c->w + (g * p->mg + m0) * p->k + k0, p->k, 1, 0};
}

static void run_gemm_job(const conv_ctx *c, int64_t job, uint8_t *ws) {
  const conv_params *p = c->p;
  const int64_t pt = job % c->ptiles, rest = job / c->ptiles;
  const int64_t mbi = rest % c->mblocks, ng = rest / c->mblocks;
  const int64_t g = ng % p->group, img = ng / p->group;
  const int64_t p0 = pt * c->tp, tp = min64(c->tp, p->p - p0);
  const int64_t m0 = mbi * c->mb, mb = min64(c->mb, p->mg - m0);
  const int64_t oc0 = g * p->mg + m0; /* first output channel */
  const float *x = c->x + (img * p->c + g * p->cg) * p->h * p->w;
  const int64_t yoff = (img * p->m + oc0) * p->p + p0;
  float *y = c->y + yoff;
  ec_epilogue epi = {1.0f, 1.0f, c->bias ? c->bias + oc0 : NULL, 1, 0,
                     c->res ? c->res + yoff : NULL, p->p, p->act};
  if (p->path == PATH_POINTWISE) {
    const ec_operand a = weight_operand(c, g, m0, 0), b = {x + p0, p->p, 1, 0};
#if defined(EDGEC_HAVE_X86_KERNELS)
    /* B read in place from the input rows (ec_x86_gemm_rows_avx512): the
     * K x 32 slice of a tile stays in L1 across the row tiles, so packing it
     * costs more than it saves (-10-30% on K <= 576, M <= 1000). Not on a
     * plane under 64 pixels with M over one MC block (320 -> 1280 at 7x7
     * measured +7%: its unaligned rows are re-read by every block). */
    if (p->isa == EC_ISA_AVX512 && p->packed && (tp >= 64 || mb <= EC_GEMM_MC)) {
      ec_x86_gemm_rows_avx512(mb, tp, p->k, a.data, a.sliver, b.data, p->p, y, p->p, &epi);
      return;
    }
#endif
    ec_sgemm_ex(p->isa, mb, tp, p->k, &a, &b, y, p->p, false, &epi, ws);
    return;
  }
  const int64_t kc_max = min64(p->k, KCHUNK);
  float *col = (float *)ws;
  uint8_t *gws = ws + ec_align64((size_t)(kc_max * ec_round_up(p->tp, EC_PACK_NR)) *
                                 sizeof(float));
  if (p->k == 0) {
    const ec_operand a = weight_operand(c, g, m0, 0), cb = {col, 0, 0, EC_PACK_NR};
    ec_sgemm_ex(p->isa, mb, tp, 0, &a, &cb, y, p->p, false, &epi, gws);
  }
  for (int64_t k0 = 0; k0 < p->k; k0 += KCHUNK) {
    const int64_t kc = min64(KCHUNK, p->k - k0);
#if defined(EDGEC_HAVE_X86_KERNELS)
    const ec_im2col_geo ig = {p->h,  p->w,  p->kh, p->kw, p->sh, p->sw,
                              p->dh, p->dw, p->ph, p->pw, p->ow};
    if (p->isa != EC_ISA_AVX512 || !ec_x86_im2col_avx512(&ig, x, k0, kc, p0, tp, col))
#endif
      im2col(p, x, k0, kc, p0, tp, col);
    const ec_operand a = weight_operand(c, g, m0, k0), cb = {col, 0, 0, kc * EC_PACK_NR};
    ec_sgemm_ex(p->isa, mb, tp, kc, &a, &cb, y, p->p, k0 > 0, k0 + kc == p->k ? &epi : NULL,
                gws);
  }
}

/* U of the raw weight's slivers [s0, s0 + ns) (each 9 * lanes floats,
 * tap-major, lanes = C * 6) into u[xi * us + s * lanes + l]. */
static void wino_weight(const conv_params *p, const float *w, int64_t s0, int64_t ns,
                        float *u, int64_t us) {
  const int64_t lanes = p->c * EC_PACK_MR;
  for (int64_t s = 0; s < ns; s++) {
    const float *g = w + (s0 + s) * 9 * lanes;
    float *d = u + s * lanes;
#if defined(EDGEC_HAVE_X86_KERNELS)
    if (p->isa == EC_ISA_AVX512)
      ec_x86_wino_weight_avx512(p->wr, g, lanes, d, us, lanes);
    else if (ec_isa_is_x86(p->isa))
      ec_x86_wino_weight_avx2(p->wr, g, lanes, d, us, lanes);
    else
#endif
      ec_wino_weight_ref(p->wr, g, lanes, d, us, lanes);
  }
}

/* A thread's Winograd workspace (required_scratch): V, the products, and
 * the on-the-fly panel's U. */
typedef struct wino_ws {
  float *v, *mbuf, *u;
} wino_ws;

static wino_ws wino_ws_at(const conv_params *p, uint8_t *ws) {
  float *mbuf = (float *)(ws + ec_align64((size_t)(p->wa2 * p->c * p->tb) * sizeof(float)));
  float *u = (float *)((uint8_t *)mbuf +
                       ec_align64((size_t)(p->wa2 * p->m * p->tb) * sizeof(float)));
  return (wino_ws){(float *)ws, mbuf, u};
}

static ec_wino wino_of(const conv_ctx *c) {
  const conv_params *p = c->p;
  return (ec_wino){c->x, c->bias, c->res, c->y, p->n, p->c, p->h, p->w, p->m, p->oh, p->ow,
                   p->ph, p->pw, p->wr, p->ty, p->tx, p->tb, p->act};
}

static void run_winograd_job(const conv_ctx *c, int64_t job, uint8_t *ws) {
  const conv_params *p = c->p;
  const int64_t mbi = job % c->mblocks, tblk = job / c->mblocks;
  const int64_t t0 = tblk * p->tb, nt = min64(p->tb, p->tiles - t0);
  const int64_t m0 = mbi * c->mb, mb = min64(c->mb, p->m - m0);
  const wino_ws buf = wino_ws_at(p, ws);
  float *v = buf.v, *mbuf = buf.mbuf;
  const int64_t mstride = c->mb * p->tb, panels = ceil_div(p->m, EC_PACK_MR);
  const ec_wino wp = wino_of(c);
#if defined(EDGEC_HAVE_X86_KERNELS)
  /* on the fly: transforms, GEMMs and raw-weight prefetch in one kernel */
  if (p->wino_simd && p->isa == EC_ISA_AVX512 && p->wino_otf &&
      ec_x86_wino_otf_avx512(&wp, t0, nt, m0, mb, v, c->w, buf.u, mbuf))
    return;
  if (p->wino_simd && p->isa == EC_ISA_AVX512)
    ec_x86_wino_input_avx512(&wp, t0, nt, v);
  else if (p->wino_simd)
    ec_x86_wino_input_avx2(&wp, t0, nt, v);
  else
#endif
    ec_wino_input_ref(&wp, t0, nt, v);
  /* The A2 products, mbuf[xi][m][t] = U_xi . V_xi. Stored: U_xi is the
   * weight's matrix xi, one pass over the mb channels. On the fly: per panel
   * of WP channels (m0 is a multiple of WP), U of its slivers into u[xi * us
   * + sliver * C * 6 + ch * 6 + row] (the layout of one panel of the stored
   * form), then its A2 GEMMs. (Transforming the next panel in slices between
   * these GEMMs, or prefetching its raw weight, measured slower: the
   * prefetches stall on the line fill buffers and two panels crowd the L2.) */
  const int64_t lanes = p->c * EC_PACK_MR; /* one sliver over all C */
  const int64_t step = p->wino_otf ? WP : mb;
  float *u = buf.u;
  for (int64_t q0 = 0; q0 < mb; q0 += step) {
    const int64_t rows = min64(step, mb - q0);
    const float *a0 = c->w + (m0 + q0) / EC_PACK_MR * lanes;
    int64_t as = panels * lanes; /* floats from one matrix to the next */
    if (p->wino_otf) {
      as = ceil_div(rows, EC_PACK_MR) * lanes + WPAD;
      wino_weight(p, c->w, (m0 + q0) / EC_PACK_MR, ceil_div(rows, EC_PACK_MR), u, as);
      a0 = u;
    }
    for (int64_t xi = 0; xi < p->wa2; xi++) {
      const ec_operand a = {a0 + xi * as, 0, 0, lanes};
      const ec_operand b = {v + xi * p->c * p->tb, 0, 0, p->c * EC_PACK_NR};
      ec_sgemm_ex(p->isa, rows, nt, p->c, &a, &b, mbuf + xi * mstride + q0 * p->tb, p->tb,
                  false, NULL, NULL);
    }
  }
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->wino_simd && p->isa == EC_ISA_AVX512)
    ec_x86_wino_output_avx512(&wp, t0, nt, m0, mb, mbuf, mstride);
  else if (p->wino_simd)
    ec_x86_wino_output_avx2(&wp, t0, nt, m0, mb, mbuf, mstride);
  else
#endif
    ec_wino_output_ref(&wp, t0, nt, m0, mb, mbuf, mstride);
}

static void winograd_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const conv_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) run_winograd_job(c, job, c->workspace[thread]);
}

#if defined(EDGEC_HAVE_X86_KERNELS)
/* ---- On the fly with no more tile blocks than threads (otf_split) -------
 * The 14x14 and 7x7 layers (one block of 16 tiles) split their output
 * channels in one block per thread (264 + 248 channels at 7x7, 132 + 124 at
 * 14x14), the 28x28 ones (two blocks) their tiles, a block per thread: the
 * slower thread (in the model this VM's worker ran 10-15% slower per channel
 * than the caller, and much slower when another process took its core) set
 * the time, with nothing for the pool to steal. Here the jobs are (tile
 * block, 12-channel panel), claimed at run time: each thread takes its own
 * range's from the front, a thread done with its own takes the others' from
 * the back; each makes the input transform V of a block in its own
 * workspace before its first panel of that block, and prefetches the raw
 * weight of the panel it expects to claim next. A thief whose V is of
 * another block steals only from a range with OTF_STEAL_MIN panels left
 * (28x28: V of a block ~0.05 ms, a panel ~0.04 ms). One V made by all
 * threads, channels split, measured 0.02 ms faster a 14x14 layer on a quiet
 * machine but 0.1 ms slower with another process on a core (a static phase
 * again), and no faster at 7x7. */
#define OTF_MAXT 16     /* threads this form supports (more: the blocks above) */
#define OTF_STEAL_MIN 3 /* panels left for a thief that must make V first */

typedef struct otf_span {
  _Alignas(64) atomic_int_fast64_t span; /* first << 32 | end, of unclaimed jobs */
  int64_t v_block; /* spans[t]: the block whose V is in thread t's workspace (-1: none) */
} otf_span;

/* Claims the first (front) or last unclaimed job of s into *job; a thief
 * (back) only where at least `min_left` are unclaimed. */
static bool otf_claim(otf_span *s, bool front, int64_t min_left, int64_t *job) {
  int_fast64_t cur = atomic_load(&s->span);
  for (;;) {
    const int64_t lo = cur >> 32, hi = cur & 0xFFFFFFFF;
    if (hi - lo < min_left || lo >= hi) return false;
    const int_fast64_t nw = front ? (lo + 1) << 32 | hi : lo << 32 | (hi - 1);
    if (atomic_compare_exchange_weak(&s->span, &cur, nw)) {
      *job = front ? lo : hi - 1;
      return true;
    }
  }
}

static void otf_panel_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const conv_ctx *c = vc;
  const conv_params *p = c->p;
  const ec_wino wp = wino_of(c);
  const int64_t threads = c->nspans, panels = ceil_div(p->m, WP);
  const int64_t jobs = ceil_div(p->tiles, p->tb) * panels;
  const wino_ws buf = wino_ws_at(p, c->workspace[thread]);
  float *v = buf.v, *mbuf = buf.mbuf, *u = buf.u;
  int64_t *v_block = &c->spans[thread].v_block;
  /* Span b of [begin, end) first, from the front and to its end: the pool
   * runs each index once, so every span is drained even where its thread
   * never joined (a caller that found the worker late stole nothing it
   * would then skip); then the others' from the back, as a thief. */
  for (int64_t kb = 0; kb < (end - begin) * threads; kb++) {
    const int64_t b = begin + kb / threads, k = kb % threads;
    otf_span *s = &c->spans[(b + k) % threads];
    const bool own = k == 0;
    int64_t cur;
    const int64_t last = (atomic_load(&s->span) & 0xFFFFFFFF) - 1; /* a thief's first */
    if (!otf_claim(s, own, own || last / panels == *v_block ? 1 : OTF_STEAL_MIN, &cur))
      continue;
    for (;;) {
      const int64_t blk = cur / panels, m0 = cur % panels * WP, t0 = blk * p->tb;
      const int64_t nt = min64(p->tb, p->tiles - t0);
      if (*v_block != blk) ec_x86_wino_otf_input_avx512(&wp, t0, nt, v);
      *v_block = blk;
      /* the next job's panel, if of this block */
      const int64_t guess = own ? cur + 1 : cur - 1;
      const int64_t nxt = guess >= 0 && guess < jobs && guess / panels == blk ?
                          guess % panels * WP : -1;
      ec_x86_wino_otf_gemm_avx512(&wp, t0, nt, m0, min64(WP, p->m - m0), nxt, v, c->w, u,
                                  mbuf);
      if (!otf_claim(s, own, 1, &cur)) break;
    }
  }
}

/* The form above where it applies (false: not run). */
static bool otf_split(const conv_params *p, const ec_exec *ex, conv_ctx *c) {
  const int64_t threads = ec_parallel_threads(ex), panels = ceil_div(p->m, WP);
  const int64_t blocks = ceil_div(p->tiles, p->tb), jobs = blocks * panels;
  const ec_wino wp = wino_of(c);
  if (!p->wino_otf || !p->wino_simd || p->isa != EC_ISA_AVX512 || blocks > threads ||
      threads < 2 || threads > OTF_MAXT || jobs < 2 * threads || jobs > INT32_MAX ||
      !ec_x86_wino_otf_fits_avx512(&wp))
    return false;
  otf_span spans[OTF_MAXT];
  for (int64_t t = 0; t < threads; t++) {
    atomic_init(&spans[t].span, (int_fast64_t)(t * jobs / threads) << 32 |
                                    (t + 1) * jobs / threads);
    spans[t].v_block = -1;
  }
  c->spans = spans;
  c->nspans = threads;
  ec_parallel_for(ex, threads, 1, otf_panel_range, c);
  return true;
}
#endif

#if defined(EDGEC_HAVE_X86_KERNELS)
static void direct_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const conv_ctx *c = vc;
  const conv_params *p = c->p;
  const ec_conv_direct d = {c->x, c->w, c->bias, c->y, p->n, p->c, p->h, p->w, p->m, p->oh,
                            p->ow, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->packed,
                            c->rb, &p->act};
  ec_x86_conv_direct_avx512(&d, begin, end, c->workspace[thread]);
}
#endif

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

/* y = act((y + bias) + res) over one plane. */
static void plane_epilogue(float *y, int64_t n, float bias, const float *res,
                           const ec_act *act) {
  if (!res) {
    ec_act_apply(y, n, bias, act);
    return;
  }
  for (int64_t i = 0; i < n; i++) y[i] = (y[i] + bias) + res[i];
  ec_act_apply(y, n, 0.0f, act);
}

#if defined(DW_SIMD)
static void depthwise_simd(const conv_ctx *c, int64_t begin, int64_t end, float *ws) {
  const conv_params *p = c->p;
  const ec_dw_conv a = {c->x, c->w, c->bias, c->res, c->y, p->c, p->h, p->w, p->oh, p->ow,
                        p->kh, p->kw, p->sh, p->sw, p->ph, p->pw,
                        dw_row_stride(p->ow, p->kw), &p->act};
#if defined(EDGEC_HAVE_NEON_KERNELS)
  ec_neon_dw_planes(&a, begin, end, ws);
#else
  if (p->isa == EC_ISA_AVX512)
    ec_x86_dw_planes_avx512(&a, begin, end, ws);
  else
    ec_x86_dw_planes_avx2(&a, begin, end, ws);
#endif
}
#endif

static void depthwise_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const conv_ctx *c = vc;
  const conv_params *p = c->p;
#if defined(DW_SIMD)
  if (p->dw_simd) {
    depthwise_simd(c, begin, end, (float *)c->workspace[thread]);
    return;
  }
#endif
  (void)thread;
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % p->c;
    float *y = c->y + plane * p->p;
    depthwise_plane(p, c->x + plane * p->h * p->w, c->w + ch * p->kh * p->kw, y);
    plane_epilogue(y, p->p, c->bias ? c->bias[ch] : 0.0f, c->res ? c->res + plane * p->p : NULL,
                   &p->act);
  }
}

/* Jobs per thread share so that each is worth a wake-up (jobs of `macs`). */
/* Jobs per range for n jobs of `macs` each: at least MIN_PARALLEL_MACS of
 * work, and as many ranges as a multiple of the threads, so that no thread
 * idles at the end (960 depthwise 7x7 planes at a grain of 595 would run as
 * 595 + 365). */
static int64_t grain_for(const ec_exec *ex, int64_t n, int64_t macs) {
  const int64_t grain =
      macs >= MIN_PARALLEL_MACS ? 1 : ceil_div(MIN_PARALLEL_MACS, macs > 0 ? macs : 1);
  const int64_t threads = ec_parallel_threads(ex), ranges = ceil_div(n, grain);
  if (grain == 1 || ranges < 2) return grain;
  return ceil_div(n, ceil_div(ranges, threads) * threads);
}

/* Output channels per block when `jobs` other jobs are fewer than the
 * threads: one block per thread, since every block redoes the packing (or the
 * Winograd input transform) of the same pixels and more blocks than threads
 * only repeat it. Whole register tiles of every family (a multiple of 12
 * rows, which the on-the-fly Winograd panels need too), at least MIN_M_BLOCK. */
static int64_t channel_block(const ec_exec *ex, int64_t m, int64_t jobs) {
  const int64_t per = ceil_div(m, ceil_div(ec_parallel_threads(ex), jobs));
  const int64_t mb = ceil_div(per, 2 * EC_PACK_MR) * 2 * EC_PACK_MR;
  return min64(m, mb > MIN_M_BLOCK ? mb : MIN_M_BLOCK);
}

#if defined(EDGEC_HAVE_X86_KERNELS)
/* EC_VARIANT_KSPLIT: Y = act(S0 + S1) with S0 = W[:, :h] X[:h] + bias (+
 * residual) and S1 = W[:, h:] X[h:], h = ceil(K / 2), on every thread count
 * (so every count gives the same bits): S0 straight into Y, S1 into the
 * workspace, then a pass adds them. Why: the depthwise conv before it,
 * split by planes (ceil(C / threads) each), leaves X's first half in thread
 * 0's cache and its second in thread 1's. Summed by pixel tiles, both
 * threads read all of X, and the next block's depthwise conv, writing over
 * those bytes, waited on lines the other core held (MobileNetV2's 14x14
 * depthwise convs ran no faster on 2 threads than on 1; bench/RESULTS.md).
 * Jobs are (half, pixel tile), half-major: at 2 threads thread t sums half
 * t, and S1 lies in thread 1's workspace. */
typedef struct ksplit_ctx {
  const conv_ctx *c;
  float *part; /* S1, M x P */
  int64_t half, tp, ptiles;
} ksplit_ctx;

static void ksplit_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const ksplit_ctx *s = vc;
  const conv_ctx *c = s->c;
  const conv_params *p = c->p;
  for (int64_t job = begin; job < end; job++) {
    const bool second = job >= s->ptiles;
    const int64_t p0 = job % s->ptiles * s->tp, tp = min64(s->tp, p->p - p0);
    const int64_t k0 = second ? s->half : 0, kc = second ? p->k - s->half : s->half;
    const ec_epilogue first = {1.0f, 1.0f, c->bias, 1, 0, c->res ? c->res + p0 : NULL, p->p,
                               {EC_FB_ACTIVATION_NONE, 0.0f, 0.0f}};
    const ec_operand a = weight_operand(c, 0, 0, k0), b = {c->x + k0 * p->p + p0, p->p, 1, 0};
    float *y = (second ? s->part : c->y) + p0;
    if (tp >= 64 || p->mg <= EC_GEMM_MC) /* as run_gemm_job */
      ec_x86_gemm_rows_avx512(p->mg, tp, kc, a.data, a.sliver, b.data, p->p, y, p->p,
                              second ? NULL : &first);
    else
      ec_sgemm_ex(p->isa, p->mg, tp, kc, &a, &b, y, p->p, false, second ? NULL : &first,
                  c->workspace[thread]);
  }
}

static void ksplit_sum_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const ksplit_ctx *s = vc;
  const int64_t pp = s->c->p->p;
  ec_x86_add_act_avx512(s->c->y + begin * pp, s->part + begin * pp, (end - begin) * pp,
                        &s->c->p->act);
}

static void ksplit_run(const ec_exec *ex, const conv_ctx *c) {
  const conv_params *p = c->p;
  const int64_t threads = ec_parallel_threads(ex);
  const int64_t ptiles = max64(ceil_div(p->p, p->tp), ceil_div(threads, 2));
  ksplit_ctx s = {c, NULL, ceil_div(p->k, 2), ec_round_up(ceil_div(p->p, ptiles), 2 * EC_PACK_NR),
                  0};
  s.ptiles = ceil_div(p->p, s.tp);
  s.part = (float *)(c->workspace[threads > 1 ? 1 : 0] +
                     ec_sgemm_workspace(p->mg, p->tp, p->k));
  ec_parallel_for(ex, 2 * s.ptiles, 1, ksplit_range, &s);
  ec_parallel_for(ex, p->mg, ceil_div(p->mg, threads), ksplit_sum_range, &s);
}
#endif

static void eval_conv(const ec_node *n, const ec_exec *ex) {
  const conv_params *p = n->params;
  conv_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
                n->n_in >= 3 && n->in[2] >= 0 ? ex->data[n->in[2]] : NULL,
                p->residual ? ex->data[n->in[3]] : NULL,
                ex->data[n->out[0]], ex->workspace, p->mg, 1, 0, p->tp, 0
#if defined(EDGEC_HAVE_X86_KERNELS)
                , NULL, 0
#endif
  };
  if (p->n == 0 || p->m == 0 || p->p == 0) return;
  if (p->path == PATH_DEPTHWISE) {
    /* Work per plane counts the input plane's loads (a 576-plane 14->7 layer,
     * 36 us, stayed on one thread on its multiply-adds alone); once split,
     * one range per thread: smaller ranges measured ~10% slower (14x14). */
    const int64_t planes = p->n * p->c;
    int64_t grain = grain_for(ex, planes, p->p * p->kh * p->kw + p->h * p->w);
    if (grain < planes) grain = max64(grain, ceil_div(planes, ec_parallel_threads(ex)));
    ec_parallel_for(ex, planes, grain, depthwise_range, &c);
    return;
  }
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->ksplit) {
    ksplit_run(ex, &c);
    return;
  }
#endif
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->path == PATH_DIRECT) {
    /* One range per thread, each repacking the weight into its own
     * workspace (measured faster, at 2 threads, than packing once for all
     * threads or than ranges of one job): fewer rows per job where that
     * makes the jobs a multiple of the threads (7 blocks of 8 rows would run
     * on one thread: ec_parallel_for wants at least two grains). */
    const int64_t t = ec_parallel_threads(ex);
    const int64_t want = ceil_div(p->n * ceil_div(p->oh, p->direct_rb), t) * t;
    c.rb = ceil_div(p->oh, ceil_div(want, p->n));
    const int64_t jobs = p->n * ceil_div(p->oh, c.rb);
    ec_parallel_for(ex, jobs, jobs >= t ? jobs / t : 1, direct_range, &c);
    return;
  }
#endif
  if (p->path == PATH_WINOGRAD) {
#if defined(EDGEC_HAVE_X86_KERNELS)
    if (otf_split(p, ex, &c)) return;
#endif
    /* Fewer tile blocks than threads (the 14x14 and 7x7 layers): split the
     * output channels too. */
    const int64_t blocks = ceil_div(p->tiles, p->tb);
    c.mb = blocks < ec_parallel_threads(ex) ? channel_block(ex, p->m, blocks) : p->m;
    c.mblocks = ceil_div(p->m, c.mb);
    ec_parallel_for(ex, blocks * c.mblocks,
                    grain_for(ex, blocks * c.mblocks, p->wa2 * p->tb * c.mb * p->c),
                    winograd_range, &c);
    return;
  }
  c.tp = p->tp;
  c.ptiles = ceil_div(p->p, c.tp);
  /* Fewer jobs than threads would idle some: cut smaller pixel tiles (of at
   * least 32 pixels; each job then re-reads the weights, which costs less
   * than redoing the unfolding), else split the output channels (each block
   * then redoes the unfolding). Channel blocks are whole register tiles of
   * every family (a multiple of 12 rows); pixel tiles whole slivers (16). */
  const int64_t jobs = p->n * p->group * c.ptiles;
  /* An expanding 1x1 conv (more outputs than inputs: MobileNetV2's) with
   * fewer images x groups than threads: one block of output channels per
   * thread, so each writes a contiguous part of the large output, the part
   * the following depthwise conv (split by channel) reads on the same core;
   * its whole input is small. Pixel tiles wrote and read every plane from
   * both cores: the 14x14 64->384 ran 1.3x faster on two threads, this 1.8x. */
  const int64_t threads = ec_parallel_threads(ex);
  const int64_t cmb = channel_block(ex, p->mg, 1), cblocks = ceil_div(p->mg, cmb);
  if (p->path == PATH_POINTWISE && p->n * p->group < threads && p->mg > p->k &&
      cblocks >= threads && cblocks * cmb - p->mg <= cmb / 2) {
    c.mb = cmb;
    c.mblocks = cblocks;
  } else if (ex->pool && jobs < SPLIT_M_BELOW) {
    const int64_t want = ceil_div(SPLIT_M_BELOW, p->n * p->group);
    if (p->p >= 4 * EC_PACK_NR) {
      c.tp = min64(p->tp, ec_round_up(ceil_div(p->p, want), 2 * EC_PACK_NR));
      c.ptiles = ceil_div(p->p, c.tp);
    } else {
      c.mb = channel_block(ex, p->mg, jobs); /* e.g. the 7x7 1x1 convs */
      c.mblocks = ceil_div(p->mg, c.mb);
    }
  }
  const int64_t jobs_all = p->n * p->group * c.mblocks * c.ptiles;
  ec_parallel_for(ex, jobs_all, grain_for(ex, jobs_all, c.mb * c.tp * p->k),
                  gemm_range, &c);
}

EC_KERNEL(ec_kernel_conv, "conv", prepare_conv, eval_conv)
