/* Cache-blocked GEMM in the BLIS loop order: B is packed one KC x NC panel
 * at a time into EC_PACK_NR-wide column slivers, A one MC x KC block at a
 * time into EC_PACK_MR-tall row slivers (or both are used in place when the
 * compiler pre-packed them), and a register tile walks them. Packing
 * zero-pads the edges, so the kernels always compute full tiles; partial
 * tiles are stored masked (x86) or through a local buffer (portable). */
#include "kernels/ref/gemm_core.h"

#include <math.h>
#include <string.h>

#include "generated/schema.h"
#include "kernels/cpu.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/x86.h"
#endif
#if defined(EDGEC_HAVE_NEON_KERNELS)
#include "kernels/neon/sgemm_neon.h"
#endif

#define PMR EC_PACK_MR
#define PNR EC_PACK_NR
#define KC EC_GEMM_KC
#define MC EC_GEMM_MC
#define NC EC_GEMM_NC
#define RMR 6 /* portable register tile */
#define RNR 8

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* ---- families --------------------------------------------------------------- */

bool ec_variant_isa(uint16_t variant, uint16_t allowed_flags, ec_isa *out) {
  if ((variant & ~(uint16_t)EC_VARIANT_FAMILY_MASK & ~allowed_flags) != 0) return false;
  const unsigned family = variant & EC_VARIANT_FAMILY_MASK;
  if (family > EC_VARIANT_AVX512) return false;
  const uint32_t cpu = family == EC_VARIANT_REF ? 0 : ec_cpu_features();
  ec_isa isa = EC_ISA_REF;
  if ((cpu & EC_CPU_AVX512) && (family == EC_VARIANT_BEST || family == EC_VARIANT_AVX512))
    isa = EC_ISA_AVX512;
  else if (cpu & EC_CPU_AVX2)
    isa = EC_ISA_AVX2;
#if defined(EDGEC_HAVE_NEON_KERNELS)
  /* NEON is part of every AArch64 core: any non-ref family runs it. */
  if (family != EC_VARIANT_REF) isa = EC_ISA_NEON;
#endif
  *out = isa;
  return true;
}

int64_t ec_isa_tile_m(ec_isa isa) { return isa == EC_ISA_AVX512 ? 12 : 6; }
int64_t ec_isa_tile_n(ec_isa isa) {
  return isa == EC_ISA_AVX512 ? 32 : (isa == EC_ISA_AVX2 || isa == EC_ISA_NEON) ? 16 : RNR;
}

/* ---- epilogue ------------------------------------------------------------- */

ec_epilogue ec_epilogue_at(const ec_epilogue *e, int64_t i0, int64_t j0) {
  ec_epilogue r = *e;
  if (r.bias) r.bias += i0 * r.bias_rs + j0 * r.bias_cs;
  if (r.add) r.add += i0 * r.ld_add + j0;
  return r;
}

void ec_gemm_store_tile(const float *t, int64_t ldt, float *c, int64_t ldc, int64_t h,
                        int64_t w, bool accumulate, const ec_epilogue *e) {
  for (int64_t i = 0; i < h; i++) {
    float *crow = c + i * ldc;
    const float *trow = t + i * ldt;
    for (int64_t j = 0; j < w; j++) crow[j] = accumulate ? crow[j] + trow[j] : trow[j];
    if (!e) continue;
    if (e->alpha != 1.0f)
      for (int64_t j = 0; j < w; j++) crow[j] *= e->alpha;
    if (e->bias) {
      const float *b = e->bias + i * e->bias_rs;
      for (int64_t j = 0; j < w; j++) crow[j] += e->beta * b[j * e->bias_cs];
    }
    if (e->add) {
      const float *a = e->add + i * e->ld_add;
      for (int64_t j = 0; j < w; j++) crow[j] += a[j];
    }
    if (e->act.kind != EC_FB_ACTIVATION_NONE) ec_act_apply(crow, w, 0.0f, &e->act);
  }
}

/* ---- packing ---------------------------------------------------------------- */

size_t ec_sgemm_workspace(int64_t m, int64_t n, int64_t k) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const int64_t kc = min64(k, KC);
  const int64_t nc = min64(round_up(n, PNR), NC);
  const int64_t mc = min64(round_up(m, PMR), MC);
  return ec_align64((size_t)(kc * nc) * sizeof(float)) +
         ec_align64((size_t)(mc * kc) * sizeof(float));
}

void ec_pack_b(int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs,
               float *restrict dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += PNR) {
    const int64_t w = min64(PNR, nc - j0);
    const float *src = b + j0 * cs;
    if (w == PNR && cs == 1) {
      for (int64_t p = 0; p < kc; p++) memcpy(dst + p * PNR, src + p * rs, PNR * sizeof(float));
    } else {
      for (int64_t p = 0; p < kc; p++) {
        int64_t j = 0;
        for (; j < w; j++) dst[p * PNR + j] = src[p * rs + j * cs];
        for (; j < PNR; j++) dst[p * PNR + j] = 0.0f;
      }
    }
    dst += kc * PNR;
  }
}

/* A[0:mc, 0:kc] -> slivers of PMR rows, kc * PMR floats apart. */
static void pack_a(int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs,
                   float *restrict dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += PMR) {
    const int64_t h = min64(PMR, mc - i0);
    const float *src = a + i0 * rs;
    if (h == PMR && rs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const float *col = src + p * cs;
        for (int i = 0; i < PMR; i++) dst[p * PMR + i] = col[i];
      }
    } else {
      for (int64_t i = 0; i < PMR; i++) {
        if (i < h) {
          const float *row = src + i * rs;
          for (int64_t p = 0; p < kc; p++) dst[p * PMR + i] = row[p * cs];
        } else {
          for (int64_t p = 0; p < kc; p++) dst[p * PMR + i] = 0.0f;
        }
      }
    }
    dst += kc * PMR;
  }
}

/* ---- portable kernel ---------------------------------------------------------- */

/* The register tile: fixed trip counts so gcc unrolls the i/j loops, keeps
 * acc in vector registers and vectorizes along j. a steps PMR floats per k,
 * b steps PNR (it reads RNR of a sliver's PNR columns). */
static void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b,
                         float *restrict t) {
  float acc[RMR][RNR];
  for (int i = 0; i < RMR; i++)
    for (int j = 0; j < RNR; j++) acc[i][j] = 0.0f;
  for (int64_t p = 0; p < kc; p++) {
    for (int i = 0; i < RMR; i++) {
      const float ai = a[i];
      for (int j = 0; j < RNR; j++) acc[i][j] += ai * b[j];
    }
    a += PMR;
    b += PNR;
  }
  for (int i = 0; i < RMR; i++)
    for (int j = 0; j < RNR; j++) t[i * RNR + j] = acc[i][j];
}

static void ref_packed(int64_t m, int64_t n, int64_t kc, const float *a, int64_t a_sliver,
                       const float *b, int64_t b_sliver, float *c, int64_t ldc,
                       bool accumulate, const ec_epilogue *epi) {
  float tile[RMR * RNR];
  for (int64_t j0 = 0; j0 < n; j0 += RNR) {
    const int64_t w = min64(RNR, n - j0);
    const float *bj = b + j0 / PNR * b_sliver + j0 % PNR;
    for (int64_t i0 = 0; i0 < m; i0 += RMR) {
      const int64_t h = min64(RMR, m - i0);
      micro_kernel(kc, a + i0 / PMR * a_sliver, bj, tile);
      ec_epilogue e;
      if (epi) e = ec_epilogue_at(epi, i0, j0);
      ec_gemm_store_tile(tile, RNR, c + i0 * ldc + j0, ldc, h, w, accumulate,
                         epi ? &e : NULL);
    }
  }
}

void ec_gemm_packed(ec_isa isa, int64_t m, int64_t n, int64_t kc, const float *a,
                    int64_t a_sliver, const float *b, int64_t b_sliver, float *c, int64_t ldc,
                    bool accumulate, const ec_epilogue *epi) {
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (isa == EC_ISA_AVX512) {
    ec_x86_gemm_packed_avx512(m, n, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
    return;
  }
  if (isa == EC_ISA_AVX2) {
    ec_x86_gemm_packed_avx2(m, n, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
    return;
  }
#endif
#if defined(EDGEC_HAVE_NEON_KERNELS)
  if (isa == EC_ISA_NEON) {
    ec_neon_gemm_packed(m, n, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
    return;
  }
#endif
  (void)isa;
  ref_packed(m, n, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
}

/* ---- driver --------------------------------------------------------------------- */

/* A single row times a strided B, portable: packing would cost as much as
 * the product, and the register tile would idle most of its rows. */
static void gemv_row(int64_t n, int64_t k, const float *a, int64_t a_cs, const float *b,
                     int64_t b_rs, int64_t b_cs, float *restrict c, bool accumulate) {
  if (!accumulate) memset(c, 0, (size_t)n * sizeof(float));
  if (b_cs == 1) {
    for (int64_t p = 0; p < k; p++) {
      const float ap = a[p * a_cs];
      const float *restrict row = b + p * b_rs;
      for (int64_t j = 0; j < n; j++) c[j] += ap * row[j];
    }
    return;
  }
  for (int64_t j = 0; j < n; j++) {
    const float *col = b + j * b_cs;
    float s[8] = {0};
    int64_t p = 0;
    for (; p + 8 <= k; p += 8)
      for (int q = 0; q < 8; q++) s[q] += a[(p + q) * a_cs] * col[(p + q) * b_rs];
    for (; p < k; p++) s[0] += a[p * a_cs] * col[p * b_rs];
    c[j] += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  }
}

/* k == 0: C is the epilogue of zeros (or of C itself). */
static void epilogue_only(int64_t m, int64_t n, float *c, int64_t ldc, bool accumulate,
                          const ec_epilogue *epi) {
  const float zeros[RNR] = {0};
  for (int64_t i = 0; i < m; i++)
    for (int64_t j0 = 0; j0 < n; j0 += RNR) {
      ec_epilogue e;
      if (epi) e = ec_epilogue_at(epi, i, j0);
      ec_gemm_store_tile(zeros, RNR, c + i * ldc + j0, ldc, 1, min64(RNR, n - j0), accumulate,
                         epi ? &e : NULL);
    }
}

void ec_sgemm_ex(ec_isa isa, int64_t m, int64_t n, int64_t k, const ec_operand *a,
                 const ec_operand *b, float *c, int64_t ldc, bool accumulate,
                 const ec_epilogue *epi, void *workspace) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    epilogue_only(m, n, c, ldc, accumulate, epi);
    return;
  }
  if (m == 1 && isa == EC_ISA_REF && a->sliver == 0 && b->sliver == 0) {
    gemv_row(n, k, a->data, a->cs, b->data, b->rs, b->cs, c, accumulate);
    if (epi) epilogue_only(1, n, c, ldc, true, epi);
    return;
  }
#if defined(EDGEC_HAVE_X86_KERNELS)
  /* one row against a pre-packed B (batch-1 classifiers): K in one pass */
  if (m == 1 && isa == EC_ISA_AVX512 && b->sliver) {
    ec_x86_gemv_avx512(n, k, a->data, a->sliver ? EC_PACK_MR : a->cs, b->data, b->sliver, c,
                       accumulate, epi);
    return;
  }
#endif
  const int64_t kc_max = min64(k, KC);
  float *bp = NULL, *ap = NULL;
  if (!b->sliver || !a->sliver) {
    bp = workspace;
    ap = (float *)((uint8_t *)workspace +
                   ec_align64((size_t)(kc_max * min64(round_up(n, PNR), NC)) * sizeof(float)));
  }
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = min64(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = min64(KC, k - pc);
      const bool acc = accumulate || pc > 0, last = pc + kc == k;
      const float *bb = bp;
      int64_t b_sliver = kc * PNR;
      if (b->sliver) {
        bb = b->data + jc / PNR * b->sliver + pc * PNR;
        b_sliver = b->sliver;
      } else {
        ec_pack_b(kc, nc, b->data + pc * b->rs + jc * b->cs, b->rs, b->cs, bp);
      }
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = min64(MC, m - ic);
        const float *aa = ap;
        int64_t a_sliver = kc * PMR;
        if (a->sliver) {
          aa = a->data + ic / PMR * a->sliver + pc * PMR;
          a_sliver = a->sliver;
        } else {
#if defined(EDGEC_HAVE_X86_KERNELS)
          /* AVX-512 reads a row-major A in place, or packs it itself */
          if (isa == EC_ISA_AVX512 && a->cs == 1) {
            ec_epilogue ex;
            if (last && epi) ex = ec_epilogue_at(epi, ic, jc);
            if (ec_x86_gemm_astr_avx512(mc, nc, kc, a->data + ic * a->rs + pc, a->rs, bb,
                                        b_sliver, c + ic * ldc + jc, ldc, acc,
                                        last && epi ? &ex : NULL))
              continue;
            ec_x86_pack_a_avx512(mc, kc, a->data + ic * a->rs + pc, a->rs, ap);
          } else
#endif
            pack_a(mc, kc, a->data + ic * a->rs + pc * a->cs, a->rs, a->cs, ap);
        }
        ec_epilogue e;
        if (last && epi) e = ec_epilogue_at(epi, ic, jc);
        ec_gemm_packed(isa, mc, nc, kc, aa, a_sliver, bb, b_sliver, c + ic * ldc + jc, ldc,
                       acc, last && epi ? &e : NULL);
      }
    }
  }
}

void ec_sgemm(ec_isa isa, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs,
              int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c,
              int64_t ldc, bool accumulate, void *workspace) {
  const ec_operand oa = {a, a_rs, a_cs, 0}, ob = {b, b_rs, b_cs, 0};
  ec_sgemm_ex(isa, m, n, k, &oa, &ob, c, ldc, accumulate, NULL, workspace);
}

/* ---- activation epilogue ------------------------------------------------ */

bool ec_act_valid(uint8_t kind) { return kind <= EC_FB_ACTIVATION_GELU; }

/* The expressions match kernels/ref/unary.c so that a fused activation gives
 * bit-for-bit what the separate op would. */
#define ACT_LOOP(EXPR)                  \
  for (int64_t i = 0; i < n; i++) {     \
    const float v = y[i] + bias;        \
    y[i] = (EXPR);                      \
  }                                     \
  break

void ec_act_apply(float *y, int64_t n, float bias, const ec_act *act) {
  const float alpha = act->alpha, beta = act->beta;
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: ACT_LOOP(v > 0 ? v : 0.0f);
    case EC_FB_ACTIVATION_CLIP: ACT_LOOP(fminf(fmaxf(v, alpha), beta));
    case EC_FB_ACTIVATION_LEAKY_RELU: ACT_LOOP(v >= 0 ? v : alpha * v);
    case EC_FB_ACTIVATION_SIGMOID: ACT_LOOP(1.0f / (1.0f + expf(-v)));
    case EC_FB_ACTIVATION_TANH: ACT_LOOP(tanhf(v));
    case EC_FB_ACTIVATION_HARD_SIGMOID: ACT_LOOP(fmaxf(0.0f, fminf(1.0f, alpha * v + beta)));
    case EC_FB_ACTIVATION_HARD_SWISH: ACT_LOOP(v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f)));
    case EC_FB_ACTIVATION_GELU: ACT_LOOP(0.5f * v * (1.0f + erff(v * 0.7071067811865476f)));
    default:
      if (bias != 0.0f)
        for (int64_t i = 0; i < n; i++) y[i] += bias;
      break;
  }
}

/* ---- conv geometry ------------------------------------------------------ */

#define MAX_GEOM ((int64_t)1 << 30)

/* One value per axis; a 1-D list fills the width, the height is neutral. */
static bool read_axes(const ec_ints *in, int32_t spatial, int64_t neutral, int64_t lo,
                      int64_t *out) {
  out[0] = out[1] = neutral;
  if (in->n == 0) return true;
  if (in->n != spatial) return false;
  for (int32_t i = 0; i < spatial; i++) {
    const int64_t v = in->v[i];
    if (v < lo || v > MAX_GEOM) return false;
    out[2 - spatial + i] = v;
  }
  return true;
}

bool ec_conv_geom_read(const ec_conv_options *o, int32_t spatial, ec_conv_geom *g) {
  ec_ints begin = o->pads, end = o->pads;
  if (o->pads.n != 0 && o->pads.n != 2 * spatial) return false;
  begin.n = end.n = o->pads.n / 2;
  for (int32_t i = 0; i < end.n; i++) end.v[i] = o->pads.v[spatial + i];
  return (spatial == 1 || spatial == 2) && read_axes(&o->strides, spatial, 1, 1, g->stride) &&
         read_axes(&o->dilations, spatial, 1, 1, g->dilation) &&
         read_axes(&begin, spatial, 0, 0, g->pad_begin) &&
         read_axes(&end, spatial, 0, 0, g->pad_end);
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void ec_valid_range(int64_t off, int64_t step, int64_t limit, int64_t count, int64_t *lo,
                    int64_t *hi) {
  *lo = off >= 0 ? 0 : ceil_div(-off, step);
  *hi = limit - off <= 0 ? 0 : ceil_div(limit - off, step);
  if (*hi > count) *hi = count;
  if (*lo > *hi) *lo = *hi;
}

/* ---- Winograd F(r x r, 3x3), portable transforms ---------------------------- */

/* out = B^T in (a values); applied to rows then columns it gives B^T d B. */
static void wino_bt(int64_t a, const float *in, int64_t is, float *out, int64_t os) {
  if (a == 4) {
    const float i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is];
    out[0] = i0 - i2;
    out[os] = i1 + i2;
    out[2 * os] = i2 - i1;
    out[3 * os] = i1 - i3;
    return;
  }
  const float i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is], i4 = in[4 * is],
              i5 = in[5 * is];
  out[0] = 4.0f * i0 - 5.0f * i2 + i4;
  out[os] = -4.0f * i1 - 4.0f * i2 + i3 + i4;
  out[2 * os] = 4.0f * i1 - 4.0f * i2 - i3 + i4;
  out[3 * os] = -2.0f * i1 - i2 + 2.0f * i3 + i4;
  out[4 * os] = 2.0f * i1 - i2 - 2.0f * i3 + i4;
  out[5 * os] = 4.0f * i1 - 5.0f * i3 + i5;
}

/* out = A^T in (a values in, a - 2 out). */
static void wino_at(int64_t a, const float *in, int64_t is, float *out, int64_t os) {
  if (a == 4) {
    const float i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is];
    out[0] = i0 + i1 + i2;
    out[os] = i1 - i2 - i3;
    return;
  }
  const float i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is], i4 = in[4 * is],
              i5 = in[5 * is];
  const float s12 = i1 + i2, d12 = i1 - i2, s34 = i3 + i4, d34 = i3 - i4;
  out[0] = i0 + s12 + s34;
  out[os] = d12 + 2.0f * d34;
  out[2 * os] = s12 + 4.0f * s34;
  out[3 * os] = d12 + 8.0f * d34 + i5;
}

/* G of F(2x2, 3x3) and F(4x4, 3x3), rows of 3 (edgec/lower/conv.py _WINO_G). */
static const float wino_g2[12] = {1, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, -0.5f, 0.5f, 0, 0, 1};
static const float wino_g4[18] = {0.25f, 0, 0, -1.0f / 6, -1.0f / 6, -1.0f / 6,
                                  -1.0f / 6, 1.0f / 6, -1.0f / 6, 1.0f / 24, 1.0f / 12, 1.0f / 6,
                                  1.0f / 24, -1.0f / 12, 1.0f / 6, 0, 0, 1};

void ec_wino_weight_ref(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                        int64_t n) {
  const int64_t a = r + 2;
  const float *G = r == 2 ? wino_g2 : wino_g4;
  for (int64_t i = 0; i < n; i++) {
    float tmp[18]; /* tmp[row * a + j] = (G applied along kernel row `row`)[j] */
    for (int64_t x = 0; x < 3 * a; x++) {
      const float *gr = g + x / a * 3 * gs + i, *gj = G + x % a * 3;
      tmp[x] = gj[0] * gr[0] + gj[1] * gr[gs] + gj[2] * gr[2 * gs];
    }
    for (int64_t xi = 0; xi < a * a; xi++) {
      const float *gq = G + xi / a * 3, *t = tmp + xi % a;
      u[xi * us + i] = gq[0] * t[0] + gq[1] * t[a] + gq[2] * t[2 * a];
    }
  }
}

void ec_wino_input_ref(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  const int64_t per_image = p->ty * p->tx, ld = p->c * p->tb, r = p->r, a = r + 2;
  for (int64_t i = 0; i < nt; i++) {
    const int64_t t = t0 + i, img = t / per_image, ty = t % per_image / p->tx, tx = t % p->tx;
    const int64_t y0 = ty * r - p->ph, x0 = tx * r - p->pw;
    float *dst = v + i / PNR * p->c * PNR + i % PNR;
    for (int64_t ch = 0; ch < p->c; ch++) {
      const float *plane = p->x + (img * p->c + ch) * p->h * p->w;
      float d[36], tmp[36], out[36];
      for (int64_t u = 0; u < a; u++)
        for (int64_t q = 0; q < a; q++) {
          const int64_t yy = y0 + u, xx = x0 + q;
          d[u * a + q] = yy >= 0 && yy < p->h && xx >= 0 && xx < p->w ? plane[yy * p->w + xx]
                                                                     : 0.0f;
        }
      for (int64_t u = 0; u < a; u++) wino_bt(a, d + u * a, 1, tmp + u * a, 1);
      for (int64_t q = 0; q < a; q++) wino_bt(a, tmp + q, a, out + q, a);
      for (int64_t xi = 0; xi < a * a; xi++) dst[xi * ld + ch * PNR] = out[xi];
    }
  }
}

void ec_wino_output_ref(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                        const float *mbuf, int64_t mstride) {
  const int64_t per_image = p->ty * p->tx, plane = p->oh * p->ow, r = p->r, a = r + 2;
  for (int64_t mi = 0; mi < mb; mi++) {
    const int64_t m = m0 + mi;
    const float bias = p->bias ? p->bias[m] : 0.0f;
    for (int64_t i = 0; i < nt; i++) {
      const int64_t t = t0 + i, img = t / per_image, ty = t % per_image / p->tx, tx = t % p->tx;
      float in[36], tmp[24], out[16];
      for (int64_t xi = 0; xi < a * a; xi++) in[xi] = mbuf[xi * mstride + mi * p->tb + i];
      for (int64_t u = 0; u < a; u++) wino_at(a, in + u * a, 1, tmp + u * r, 1);
      for (int64_t q = 0; q < r; q++) wino_at(a, tmp + q, r, out + q, r);
      const int64_t off = (img * p->m + m) * plane;
      for (int64_t u = 0; u < r && ty * r + u < p->oh; u++) {
        const int64_t oy = ty * r + u, ox = tx * r, w = min64(r, p->ow - ox);
        float *y = p->y + off + oy * p->ow + ox;
        const float *res = p->res ? p->res + off + oy * p->ow + ox : NULL;
        for (int64_t q = 0; q < w; q++) y[q] = res ? (out[u * r + q] + bias) + res[q]
                                                  : out[u * r + q] + bias;
        if (p->act.kind != EC_FB_ACTIVATION_NONE) ec_act_apply(y, w, 0.0f, &p->act);
      }
    }
  }
}
