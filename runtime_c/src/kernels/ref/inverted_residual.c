/* INVERTED_RESIDUAL: MobileNetV2's inverted residual block as one
 * instruction (edgec/passes/fuse_inverted_residual.py), NCHW float32:
 *   E = act0(W1 . X + b1)          expand 1x1 conv (absent: E = X)
 *   D = act1(depthwise(E) + bd)    kh x kw, stride 1 or 2, dilation 1
 *   Y = act2(W3 . D + b3 [+ R])    project 1x1 conv, optional residual R
 * Why: the expanded tensor is 6x the block's input, and unfused the NCHW
 * chain writes it to the arena and reads it back (4.8 MB each way in
 * MobileNetV2's 112x112 block), which is most of those layers' time. Here
 * the block runs in bands of output rows; E and D exist only in the
 * thread's workspace, sized to stay in the L2 cache.
 *
 * A band of r output rows reads win = (r - 1) * sh + kh rows of E. They form
 * a rolling window: consecutive bands of one job range share kh - sh rows,
 * which are moved to the window's top (a memmove per channel, far cheaper
 * than their Cin multiply-adds per value) rather than recomputed; only the
 * first band of a range computes its halo. Per band: the expand GEMM
 * (ec_sgemm_ex on the packed W1; b1 and act0 in its epilogue) appends the
 * new rows to the window; the depthwise conv runs the conv kernels' row code
 * on the band as an image of its own (SIMD families: ec_dw_conv planes, top
 * padding only where the band starts above row 0, rows past the image
 * zeroed in the window); the project GEMM (packed W3; b3, R and act2 in its
 * epilogue) writes the band of Y. Each value gets the unfused chain's
 * arithmetic in the same order, so the result equals it bit for bit.
 * Threads split the (image, band) pairs into ranges of whole bands
 * (ec_parallel_for); with threads, bands are cut to at least 8 per image
 * (x86 instead: k bands per thread, as even as whole bands allow, each
 * within IR_BAND_BYTES of window + D where that leaves bands of >= 4 rows;
 * single-band chunks, and a thread's window carries over from one of its
 * chunks to the next (IR_KEEP), so one halo per thread: a 14x14 block on 2
 * threads runs 7 + 7 rows rather than one 14-row band on one thread).
 *
 * Inputs (X, W1, b1, Wd, bd, W3, b3[, R]): W1 [ceil(Ch/6), Cin, 1, 1, 6] and
 * W3 [ceil(M/6), Ch, 1, 1, 6] in the GEMM's A layout (gemm_core.h;
 * EC_VARIANT_PACKED is required), Wd (Ch, 1, kh, kw); W1 and b1 (then
 * Ch = Cin), bd and b3 may be absent.
 * Sparse 1x1 weights (pruned models): W1 (Ch, Cin, 1, 1) and W3 (M, Ch, 1,
 * 1) may instead be stored sparse (Tensor.sparse, CSR or BLOCK_CSR of
 * one-column blocks), each on its own; that stage then runs the sparse
 * kernels' row products (ec_sp_rows, sparse_core.h: the SPARSE_CONV
 * pointwise path's) on the band instead of the GEMM, the input offsets and
 * column groups prepared once. A sparse W3 reads the band of D at a fixed
 * plane pitch of r * OW floats rounded up to 16 (r the prepared band; the
 * last band and the shorter bands of a threaded run leave rows unused; the
 * rounding keeps the row products' loads aligned). The sums run in the
 * sparse kernels' order, so the result matches the unfused chain to
 * rounding, not bit for bit.
 * Workspace per thread for bands of r rows:
 *   align64(4 * Ch * win * W)                 the window (0 without W1)
 *   + align64(4 * Ch * r * OW)                the band of D (r * OW rounded
 *                                             up to 16 with a sparse W3)
 *   + align64(4 * win * ec_dw_row_stride(OW, kw) * sw) the SIMD depthwise's
 *                                             padded plane (0 for ref)
 *   + max(ec_sgemm_workspace(Ch, win * W, Cin) (0 without W1 or sparse),
 *         ec_sgemm_workspace(M, r * OW, Ch) (0 sparse))
 * r is the largest the declared scratch_size holds (the compiler sizes it:
 * edgec/passes/fuse_inverted_residual.py mirrors this). */
#include <string.h>

#include "kernel.h"
#include "kernels/dwconv.h"
#include "kernels/ref/gemm_core.h"
#include "kernels/ref/sparse_core.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/x86.h"
#endif
#if defined(EDGEC_HAVE_NEON_KERNELS)
#include "kernels/neon/neon.h"
#endif
#if defined(EDGEC_HAVE_X86_KERNELS) || defined(EDGEC_HAVE_NEON_KERNELS)
#define DW_SIMD 1
#endif

/* The 1x1 stages' GEMM (A packed, B = rows of X or of the band of D, rs
 * floats apart). AVX-512 reads B in place (conv.c's pointwise path: no
 * packing per band, the same sums in the same order). */
#if defined(EDGEC_HAVE_X86_KERNELS)
#define IR_GEMM(isa, m, n, k, a, b, c, ldc, e, ws)                                              \
  ((isa) == EC_ISA_AVX512                                                                       \
       ? ec_x86_gemm_rows_avx512(m, n, k, (a)->data, (a)->sliver, (b)->data, (b)->rs, c, ldc, e) \
       : ec_sgemm_ex(isa, m, n, k, a, b, c, ldc, false, e, ws))
#else
#define IR_GEMM(isa, m, n, k, a, b, c, ldc, e, ws) ec_sgemm_ex(isa, m, n, k, a, b, c, ldc, false, e, ws)
#endif

#if defined(EDGEC_HAVE_X86_KERNELS)
/* x86: a thread's window outlives its range. When its next range starts at
 * the job after its last one (the pool hands a thread its own share in
 * chunks, in order), the window goes on sliding: one halo per thread per
 * run, whatever the chunk size, so ranges can be single bands and a thread
 * that falls behind (a core shared with another process) loses bands to the
 * other instead of holding half the block. Threads past IR_KEEP start each
 * range afresh. */
#define IR_KEEP 16
/* bands with threads (eval_ir): the window + D a thread works in, measured
 * on Zen 4 (1 MB L2): 4-row bands of features.2/.3 (474 / 323 KB) beat
 * 7-row ones (797 / 516 KB) at 2 threads by 3-7% best of, 10-15% in medians
 * on a loaded machine; under 4 rows (or ~128 pixels) the per-band costs win
 * (features.3 in 3-row bands +20%, features.4 in 2-row ones +10%) */
#define IR_BAND_BYTES ((size_t)480 * 1024)
#define IR_MIN_ROWS 4
#define IR_MIN_PIXELS 128
typedef struct ir_keep {
  _Alignas(64) int64_t next, img, w0, have; /* next: the job that continues it */
} ir_keep;
#endif

/* conv.c's threshold: less work than this per range is not worth a wake-up */
#define MIN_PARALLEL_MACS ((int64_t)1 << 18)

typedef struct ir_params {
  ec_isa isa;
  bool expand, residual, dw_simd;
  bool sp1, sp3;                   /* expand / project weight stored sparse */
  ec_sp_isa spisa;
  int64_t dpitch;                  /* floats per channel of D with a sparse W3 (else nr * OW) */
  ec_sp_weight spw[2];             /* W1, W3: offsets and column groups (values at eval) */
  int64_t n, cin, h, w, ch, m, oh, ow, kh, kw, sh, sw, ph, pw;
  int64_t rows, win, bands, grain; /* per band: output rows, E rows; bands per image */
  size_t off_d, off_pad, off_gemm; /* workspace layout */
  ec_act act[3];                   /* expand, depthwise, project */
} ir_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* ---- prepare ------------------------------------------------------------ */

/* Lays out the workspace for bands of r rows; returns its bytes. */
static size_t layout(ir_params *p, int64_t r) {
  const int64_t win = (r - 1) * p->sh + p->kh;
  p->rows = r;
  p->win = win;
  p->off_d = p->expand ? ec_align64((size_t)(p->ch * win * p->w) * sizeof(float)) : 0;
  /* a sparse W3 reads D's planes at whole vectors (aligned loads) */
  const int64_t dpl = p->sp3 ? ec_round_up(r * p->ow, 16) : r * p->ow;
  p->off_pad = p->off_d + ec_align64((size_t)(p->ch * dpl) * sizeof(float));
  p->off_gemm = p->off_pad;
  if (p->dw_simd)
    p->off_gemm += ec_align64((size_t)(win * ec_dw_row_stride(p->ow, p->kw) * p->sw) *
                              sizeof(float));
  const size_t g1 =
      p->expand && !p->sp1 ? ec_sgemm_workspace(p->ch, win * p->w, p->cin) : 0;
  const size_t g2 = p->sp3 ? 0 : ec_sgemm_workspace(p->m, r * p->ow, p->ch);
  return p->off_gemm + (g1 > g2 ? g1 : g2);
}

/* Bands of r rows (at most the r that layout() sized the workspace for), and
 * job ranges of at least `grain` bands: enough work per wake-up, and a halo
 * (recomputed once per range) of at most a quarter of the range's rows. */
static void set_bands(ir_params *p, int64_t r) {
  p->rows = r;
  p->win = (r - 1) * p->sh + p->kh;
  p->bands = ceil_div(p->oh, r);
  const int64_t macs = r * (p->sh * p->w * p->ch * p->cin + p->ow * p->ch * (p->kh * p->kw + p->m));
  const int64_t halo = ceil_div(4 * max64(p->kh - p->sh, 0), r * p->sh);
  p->grain = max64(max64(halo, ceil_div(MIN_PARALLEL_MACS, max64(macs, 1))), 1);
}

/* A 1x1 weight of `rows` output and k input channels: packed (dense), or
 * (rows, k, 1, 1) stored sparse in blocks of one column (*sparse set). */
static bool weight_1x1(const ec_tensor_desc *t, int64_t rows, int64_t k, bool *sparse) {
  const bool sp = *sparse = t->sparse.format != EC_FB_SPARSEFORMAT_DENSE;
  const int64_t want[5] = {sp ? rows : ceil_div(rows, EC_PACK_MR), k, 1, 1, EC_PACK_MR};
  if (t->rank != (sp ? 4 : 5) || (sp && t->sparse.block_c != 1)) return false;
  for (int32_t i = 0; i < t->rank; i++)
    if (t->shape[i] != want[i]) return false;
  return true;
}

static bool bias_ok(const ec_tensor_desc *b, int64_t size) {
  return !b || (b->rank == 1 && b->shape[0] == size);
}

static ec_status check_operands(ec_node *n) {
  /* names as arrays, not pointers: no relocation each in a shared library */
  static const char what[8][17] = {"input",          "expand weight",  "expand bias",
                                   "depthwise weight", "depthwise bias", "project weight",
                                   "project bias",   "residual"};
  if (n->n_in < 7 || n->n_in > 8 || n->n_out != 1)
    return ec_node_error(n, EC_ERR_FORMAT, "has %d inputs and %d outputs, expected 7 or 8 "
                         "and 1", n->n_in, n->n_out);
  for (int32_t i = 0; i < n->n_in; i++) {
    if (!n->tin[i]) {
      if (i == 0 || i == 3 || i == 5 || i == 7)
        return ec_node_error(n, EC_ERR_FORMAT, "the %s is absent", what[i]);
      continue;
    }
    const ec_status st = ec_check_dtype(n, n->tin[i], EC_FLOAT32, what[i]);
    if (st != EC_OK) return st;
  }
  if (n->tin[2] && !n->tin[1])
    return ec_node_error(n, EC_ERR_FORMAT, "an expand bias without an expand weight");
  ec_status st = ec_check_options(n, EC_FB_OPOPTIONS_INVERTEDRESIDUALOPTIONS);
  for (int i = 0; st == EC_OK && i < 3; i++) st = ec_check_act(n, n->opt.u.ir.act[i]);
  if (st != EC_OK) return st;
  return ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
}

/* Shapes, strides and pads into p, checked against each other. */
static ec_status read_geometry(ec_node *n, ir_params *p) {
  const ec_tensor_desc *x = n->tin[0], *w1 = n->tin[1], *wd = n->tin[3], *w3 = n->tin[5],
                       *y = n->tout[0];
  const ec_ir_options *o = &n->opt.u.ir;
  if (x->rank != 4 || y->rank != 4 || wd->rank != 4)
    return ec_node_error(n, EC_ERR_SHAPE, "input, output and depthwise weight must be 4-D");
  p->n = x->shape[0], p->cin = x->shape[1], p->h = x->shape[2], p->w = x->shape[3];
  p->ch = wd->shape[0], p->kh = wd->shape[2], p->kw = wd->shape[3];
  p->m = y->shape[1], p->oh = y->shape[2], p->ow = y->shape[3];
  p->expand = w1 != NULL;
  if (p->expand ? !weight_1x1(w1, p->ch, p->cin, &p->sp1) : p->ch != p->cin)
    return ec_node_error(n, EC_ERR_SHAPE, "expand weight does not map %lld input to %lld "
                         "depthwise channels", (long long)p->cin, (long long)p->ch);
  if (wd->shape[1] != 1 || !weight_1x1(w3, p->m, p->ch, &p->sp3))
    return ec_node_error(n, EC_ERR_SHAPE, "depthwise or project weight shape does not match "
                         "%lld channels", (long long)p->ch);
  if (!bias_ok(n->tin[2], p->ch) || !bias_ok(n->tin[4], p->ch) || !bias_ok(n->tin[6], p->m))
    return ec_node_error(n, EC_ERR_SHAPE, "a bias does not match its stage's channels");
  if (y->shape[0] != p->n)
    return ec_node_error(n, EC_ERR_SHAPE, "output batch does not match the input");
  p->residual = n->n_in == 8;
  if (p->residual) {
    const ec_status st = ec_check_same_shape(n, n->tin[7], y, "residual");
    if (st != EC_OK) return st;
  }
  const int64_t *s = o->strides.v, *pad = o->pads.v;
  if (o->strides.n != 2 || o->pads.n != 4 || s[0] < 1 || s[0] > 2 || s[1] < 1 || s[1] > 2)
    return ec_node_error(n, EC_ERR_FORMAT, "needs 2 strides of 1 or 2 and 4 pads");
  for (int i = 0; i < 4; i++)
    if (pad[i] < 0 || pad[i] > ((int64_t)1 << 30))
      return ec_node_error(n, EC_ERR_FORMAT, "pad %lld out of range", (long long)pad[i]);
  p->sh = s[0], p->sw = s[1], p->ph = pad[0], p->pw = pad[1];
  const int64_t in[2] = {p->h, p->w}, k[2] = {p->kh, p->kw}, out[2] = {p->oh, p->ow};
  for (int i = 0; i < 2; i++) {
    const int64_t span = in[i] + pad[i] + pad[i + 2] - k[i];
    if (k[i] < 1 || span < 0 || span / s[i] + 1 != out[i])
      return ec_node_error(n, EC_ERR_SHAPE, "output size %lld does not follow from input "
                           "%lld, kernel %lld and the options", (long long)out[i],
                           (long long)in[i], (long long)k[i]);
  }
  /* every product layout() and eval form stays far from overflow */
  const int64_t rows = (p->oh - 1) * p->sh + p->kh;
  if (!ec_fits(p->ch, rows * p->w) || !ec_fits(p->ch, p->oh * p->ow) ||
      !ec_fits(rows, ec_dw_row_stride(p->ow, p->kw) * 2) || !ec_fits(p->n, p->cin * p->h * p->w) ||
      !ec_fits(p->m, p->ch) || !ec_fits(p->ch, p->cin + p->kh * p->kw))
    return ec_sizes_error(n);
  for (int i = 0; i < 3; i++) p->act[i] = (ec_act){o->act[i], o->alpha[i], o->beta[i]};
  return EC_OK;
}

/* ---- sparse 1x1 weights ----------------------------------------------- */

/* The params, after them the input offsets (and, for the x86 row products,
 * the column groups) of the sparse weights, if any: W1 reads X (planes H * W
 * apart), W3 the band of D (planes dpitch apart). */
static ec_status store_params(ec_node *n, ir_params *p) {
  p->spisa = ec_sp_isa_of(p->isa);
  p->dpitch = ec_round_up(p->rows * p->ow, 16);
  const ec_tensor_desc *t[2] = {p->sp1 ? n->tin[1] : NULL, p->sp3 ? n->tin[5] : NULL};
  const int64_t scale[2] = {p->h * p->w, p->dpitch};
  int64_t groups[2] = {1, 1}, span[2] = {1, 1};
  size_t at[3] = {ec_align64(sizeof *p)}; /* weight k at at[k] */
  for (int k = 0; k < 2; k++) {
    at[k + 1] = at[k];
    if (!t[k]) continue;
#if defined(EDGEC_HAVE_X86_KERNELS) /* the portable products read no groups */
    ec_sp_plan_groups(t[k]->sparse.cols, 4 * min64(k ? p->dpitch : p->win * p->w, 128),
                      &groups[k], &span[k]);
#endif
    at[k + 1] += ec_sp_weight_bytes(&t[k]->sparse, groups[k]);
  }
  ec_status st = ec_alloc_params(n, at[2]);
  for (int k = 0; st == EC_OK && k < 2; k++)
    if (t[k])
      st = ec_sp_weight_init(n, &p->spw[k], &t[k]->sparse, scale[k], groups[k], span[k],
                             (uint8_t *)n->params + at[k]);
  if (st == EC_OK) memcpy(n->params, p, sizeof *p);
  return st;
}

static ec_status prepare_ir(ec_node *n) {
  ir_params p;
  memset(&p, 0, sizeof p);
  if (!ec_variant_isa(n->variant, EC_VARIANT_PACKED, &p.isa) ||
      !(n->variant & EC_VARIANT_PACKED))
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "kernel variant 0x%x (the 1x1 weights must be "
                         "packed)", n->variant);
  ec_status st = check_operands(n);
  if (st == EC_OK) st = read_geometry(n, &p);
  if (st != EC_OK) return st;
#if defined(DW_SIMD)
  p.dw_simd = ec_isa_is_x86(p.isa) || p.isa == EC_ISA_NEON;
#endif
  /* the largest band the scratch holds (the workspace grows with r) */
  const size_t need = layout(&p, 1);
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  int64_t lo = 1, hi = max64(p.oh, 1);
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (layout(&p, mid) <= n->scratch_size)
      lo = mid;
    else
      hi = mid - 1;
  }
  layout(&p, lo);
  set_bands(&p, p.rows);
  return store_params(n, &p);
}

/* ---- eval --------------------------------------------------------------- */

typedef struct ir_ctx {
  const ir_params *p;
  const float *x, *w1, *b1, *wd, *bd, *w3, *b3, *res;
  float *y;
  uint8_t *const *workspace;
  ec_sp_weight sw[2]; /* the params' with this run's values */
#if defined(IR_KEEP)
  struct ir_keep *keep; /* per thread: the window its last range left */
#endif
} ir_ctx;

#if defined(DW_SIMD)
static void dw_simd(const ir_params *p, const ec_dw_conv *a, float *pad) {
#if defined(EDGEC_HAVE_NEON_KERNELS)
  (void)p;
  ec_neon_dw_planes(a, 0, a->c, pad);
#else
  if (p->isa == EC_ISA_AVX512)
    ec_x86_dw_planes_avx512(a, 0, a->c, pad);
  else
    ec_x86_dw_planes_avx2(a, 0, a->c, pad);
#endif
}
#endif

/* D = act1(depthwise + bd) for output rows [o0, o0 + nr), from E rows
 * [lo, lo + avail): row i of channel c at src + c * plane + (i - lo) * W;
 * channel c of D at d + c * dp. */
static void band_depthwise(const ir_ctx *c, float *src, int64_t plane, int64_t lo,
                           int64_t avail, int64_t o0, int64_t nr, float *d, int64_t dp,
                           float *pad) {
  const ir_params *p = c->p;
  const int64_t top = o0 * p->sh - p->ph; /* E row of the band's first tap row */
#if defined(DW_SIMD)
  if (p->dw_simd) {
    ec_dw_conv a = {src, c->wd, c->bd, NULL, d, p->ch, avail, p->w, nr, p->ow, p->kh, p->kw,
                    p->sh, p->sw, lo - top, p->pw, ec_dw_row_stride(p->ow, p->kw), &p->act[1]};
    if (dp == nr * p->ow && p->expand) {
      /* all channels at once: the planes are win rows apart, so rows the
       * band reads past the image's bottom are zeroed in the window */
      const int64_t used = min64((nr - 1) * p->sh + p->kh - a.ph, p->win);
      for (int64_t ch = 0; used > avail && ch < p->ch; ch++)
        memset(src + ch * plane + avail * p->w, 0, (size_t)((used - avail) * p->w) * sizeof(float));
      a.h = p->win;
      dw_simd(p, &a, pad);
      return;
    }
    /* The input itself, planes H * W apart: all at once as planes of H rows
     * from row lo, unless the band reaches past the bottom, where rows past
     * the image must read as zeros, or D's planes are not nr * OW apart:
     * then one call per plane of avail rows. */
    if (dp == nr * p->ow && lo + (nr - 1) * p->sh + p->kh - a.ph <= p->h) {
      a.h = p->h;
      dw_simd(p, &a, pad);
      return;
    }
    a.c = 1;
    for (int64_t ch = 0; ch < p->ch; ch++) {
      a.x = src + ch * plane;
      a.wt = c->wd + ch * p->kh * p->kw;
      a.bias = c->bd ? c->bd + ch : NULL;
      a.y = d + ch * dp;
      dw_simd(p, &a, pad);
    }
    return;
  }
#endif
  (void)pad;
  for (int64_t ch = 0; ch < p->ch; ch++) {
    const float *wt = c->wd + ch * p->kh * p->kw, *xs = src + ch * plane;
    for (int64_t r = 0; r < nr; r++) {
      float *yr = d + ch * dp + r * p->ow;
      memset(yr, 0, (size_t)p->ow * sizeof(float));
      for (int64_t ki = 0; ki < p->kh; ki++) {
        const int64_t ih = top + r * p->sh + ki - lo;
        if (ih < 0 || ih >= avail) continue;
        for (int64_t kj = 0; kj < p->kw; kj++) {
          const float wv = wt[ki * p->kw + kj], *xr = xs + ih * p->w;
          const int64_t off = kj - p->pw; /* xr[o * sw + off] feeds column o */
          int64_t o, end;
          ec_valid_range(off, p->sw, p->w, p->ow, &o, &end);
          for (; o < end; o++) yr[o] += wv * xr[o * p->sw + off];
        }
      }
      ec_act_apply(yr, p->ow, c->bd ? c->bd[ch] : 0.0f, &p->act[1]);
    }
  }
}

static void ir_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const ir_ctx *c = vc;
  const ir_params *p = c->p;
  uint8_t *ws = c->workspace[thread];
  float *win = (float *)ws, *d = (float *)(ws + p->off_d), *pad = (float *)(ws + p->off_pad);
  void *gws = ws + p->off_gemm;
  const int64_t hw = p->h * p->w, wp = p->win * p->w, py = p->oh * p->ow;
  int64_t img = -1, w0 = 0, have = 0; /* the window holds E rows [w0, w0 + have) of img */
#if defined(IR_KEEP)
  ir_keep *kp = thread < IR_KEEP ? &c->keep[thread] : NULL;
  if (kp && kp->next == begin) img = kp->img, w0 = kp->w0, have = kp->have;
#endif
  for (int64_t job = begin; job < end; job++) {
    const int64_t i = job / p->bands, o0 = job % p->bands * p->rows;
    const int64_t nr = min64(p->rows, p->oh - o0), top = o0 * p->sh - p->ph;
    const int64_t lo = min64(max64(top, 0), p->h);
    const int64_t hi = min64(max64(top + (nr - 1) * p->sh + p->kh, lo), p->h);
    const float *x = c->x + i * p->cin * hw;
    const int64_t dp = p->sp3 ? p->dpitch : nr * p->ow;
    if (!p->expand) {
      band_depthwise(c, (float *)(x + lo * p->w), hw, lo, hi - lo, o0, nr, d, dp, pad);
    } else {
      if (i != img || lo >= w0 + have) {
        img = i, w0 = lo, have = 0;
      } else if (lo > w0) { /* slide: keep the rows shared with the last band */
        const int64_t drop = lo - w0;
        for (int64_t ch = 0; ch < p->ch; ch++)
          memmove(win + ch * wp, win + ch * wp + drop * p->w,
                  (size_t)((have - drop) * p->w) * sizeof(float));
        w0 = lo, have -= drop;
      }
      if (hi > w0 + have) {
        const float *xs = x + (w0 + have) * p->w;
        const int64_t np = (hi - w0 - have) * p->w;
        if (p->sp1) {
          const ec_sp_epilogue e = {1.0f, 1.0f, c->b1, NULL, 0, p->act[0]};
          ec_sp_rows(p->spisa, &c->sw[0], 0, p->ch, xs, np, win + have * p->w, wp, &e);
        } else {
          const ec_operand a = {c->w1, 0, 0, p->cin * EC_PACK_MR}, b = {xs, hw, 1, 0};
          const ec_epilogue e = {1.0f, 1.0f, c->b1, 1, 0, NULL, 0, p->act[0]};
          IR_GEMM(p->isa, p->ch, np, p->cin, &a, &b, win + have * p->w, wp, &e, gws);
        }
        have = hi - w0;
      }
      band_depthwise(c, win, wp, lo, have, o0, nr, d, dp, pad);
    }
    const int64_t yoff = i * p->m * py + o0 * p->ow;
    const float *res = c->res ? c->res + yoff : NULL;
    if (p->sp3) {
      const ec_sp_epilogue e = {1.0f, 1.0f, c->b3, res, py, p->act[2]};
      ec_sp_rows(p->spisa, &c->sw[1], 0, p->m, d, nr * p->ow, c->y + yoff, py, &e);
      continue;
    }
    const ec_operand a = {c->w3, 0, 0, p->ch * EC_PACK_MR}, b = {d, dp, 1, 0};
    const ec_epilogue e = {1.0f, 1.0f, c->b3, 1, 0, res, py, p->act[2]};
    IR_GEMM(p->isa, p->m, nr * p->ow, p->ch, &a, &b, c->y + yoff, py, &e, gws);
  }
#if defined(IR_KEEP)
  if (kp) *kp = (ir_keep){end, img, w0, have};
#endif
}

static void eval_ir(const ec_node *n, const ec_exec *ex) {
  ir_params q = *(const ir_params *)n->params, *p = &q;
  /* With threads, at least 8 bands when the image has the rows: whole bands
   * are the jobs, and a few large ones would leave a thread idle at the end
   * (or all of them to the caller when a worker wakes late). */
#if defined(EDGEC_HAVE_X86_KERNELS)
  {
    /* x86, 1 thread too: k bands per thread, claimed one by one (grain 1;
     * IR_KEEP: one halo per thread). k is the least, from the k0 the
     * scratch needs, whose band keeps the thread's window + D within
     * IR_BAND_BYTES and leaves the last band at least 3/4 full (the threads'
     * shares even), without going under IR_MIN_ROWS rows or IR_MIN_PIXELS
     * pixels; else k0. MobileNetV2: features.1 14 bands of 8 rows (were 13
     * of 9), features.2 and .3 14 of 4 (were 8 of 7 on 2 threads, 8 of 7 and
     * 7 of 9 on 1), features.4 4 of 7 on 2 threads and 3 of 10 on 1 (as
     * before). */
    const int64_t t = ec_parallel_threads(ex), k0 = ceil_div(p->bands, t);
    int64_t k = k0;
    for (ir_params s = *p;; k++) {
      const int64_t r = ceil_div(p->oh, k * t);
      if (r < IR_MIN_ROWS || r * p->ow < IR_MIN_PIXELS) {
        k = k0;
        break;
      }
      layout(&s, r);
      if (s.off_gemm <= IR_BAND_BYTES && 4 * (k * t * r - p->oh) <= r) break;
    }
    set_bands(p, ceil_div(p->oh, k * t));
    p->grain = 1;
  }
#else
  if (ex->pool && p->bands < 8) set_bands(p, min64(p->rows, max64(ceil_div(p->oh, 8), 1)));
#endif
  void *const *t = ex->data;
  const int32_t *in = n->in;
  ir_ctx c = {p, t[in[0]], in[1] >= 0 ? t[in[1]] : NULL, in[2] >= 0 ? t[in[2]] : NULL,
              t[in[3]], in[4] >= 0 ? t[in[4]] : NULL, t[in[5]],
              in[6] >= 0 ? t[in[6]] : NULL, p->residual ? t[in[7]] : NULL,
              t[n->out[0]], ex->workspace, {p->spw[0], p->spw[1]}
#if defined(IR_KEEP)
              , NULL
#endif
  };
  c.sw[0].values = c.w1;
  c.sw[1].values = c.w3;
#if defined(IR_KEEP)
  ir_keep keep[IR_KEEP];
  for (int i = 0; i < IR_KEEP; i++) keep[i].next = -1;
  c.keep = keep;
#endif
  if (p->n == 0 || p->m == 0 || p->oh == 0 || p->ow == 0) return;
  ec_parallel_for(ex, p->n * p->bands, p->grain, ir_range, (void *)&c);
}

EC_KERNEL(ec_kernel_inverted_residual, "inverted_residual", prepare_ir, eval_ir)

