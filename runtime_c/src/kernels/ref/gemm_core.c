/* Cache-blocked GEMM in the BLIS loop order: B is packed one KC x NC panel
 * at a time into NR-wide column slivers, A one MC x KC block at a time into
 * MR-tall row slivers, and an MR x NR register tile walks them. Packing
 * zero-pads the edges, so the kernel always runs full tiles; partial tiles
 * land in a local buffer first. */
#include "kernels/ref/gemm_core.h"

#include <math.h>
#include <string.h>

#include "generated/schema.h"

#define MR EC_GEMM_MR
#define NR EC_GEMM_NR
#define KC EC_GEMM_KC
#define MC EC_GEMM_MC
#define NC EC_GEMM_NC

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

size_t ec_sgemm_workspace(int64_t m, int64_t n, int64_t k) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const int64_t kc = min64(k, KC);
  const int64_t nc = min64(round_up(n, NR), NC);
  const int64_t mc = min64(round_up(m, MR), MC);
  return ec_align64((size_t)(kc * nc) * sizeof(float)) +
         ec_align64((size_t)(mc * kc) * sizeof(float));
}

/* B[0:kc, 0:nc] -> slivers of NR columns, row p of a sliver contiguous. */
static void pack_b(int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs,
                   float *restrict dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int64_t w = min64(NR, nc - j0);
    const float *src = b + j0 * cs;
    if (w == NR && cs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const float *row = src + p * rs;
        for (int j = 0; j < NR; j++) dst[p * NR + j] = row[j];
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        int64_t j = 0;
        for (; j < w; j++) dst[p * NR + j] = src[p * rs + j * cs];
        for (; j < NR; j++) dst[p * NR + j] = 0.0f;
      }
    }
    dst += kc * NR;
  }
}

/* A[0:mc, 0:kc] -> slivers of MR rows, column p of a sliver contiguous. */
static void pack_a(int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs,
                   float *restrict dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int64_t h = min64(MR, mc - i0);
    const float *src = a + i0 * rs;
    if (h == MR && rs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const float *col = src + p * cs;
        for (int i = 0; i < MR; i++) dst[p * MR + i] = col[i];
      }
    } else {
      for (int64_t i = 0; i < MR; i++) {
        if (i < h) {
          const float *row = src + i * rs;
          for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = row[p * cs];
        } else {
          for (int64_t p = 0; p < kc; p++) dst[p * MR + i] = 0.0f;
        }
      }
    }
    dst += kc * MR;
  }
}

/* The register tile: fixed trip counts so gcc unrolls the i/j loops, keeps
 * acc in vector registers and vectorizes along j. */
static void micro_kernel(int64_t kc, const float *restrict a, const float *restrict b,
                         float *restrict c, int64_t ldc, bool accumulate) {
  float acc[MR][NR];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
  for (int64_t p = 0; p < kc; p++) {
    for (int i = 0; i < MR; i++) {
      const float ai = a[i];
      for (int j = 0; j < NR; j++) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  if (accumulate) {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) c[i * ldc + j] += acc[i][j];
  } else {
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) c[i * ldc + j] = acc[i][j];
  }
}

static void edge_tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                      int64_t h, int64_t w, bool accumulate) {
  float tile[MR * NR];
  micro_kernel(kc, a, b, tile, NR, false);
  for (int64_t i = 0; i < h; i++)
    for (int64_t j = 0; j < w; j++)
      c[i * ldc + j] = accumulate ? c[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
}

/* One packed A block against one packed B panel. */
static void macro_kernel(int64_t mc, int64_t nc, int64_t kc, const float *ap,
                         const float *bp, float *c, int64_t ldc, bool accumulate) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int64_t w = min64(NR, nc - j0);
    const float *b = bp + j0 * kc;
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
      const int64_t h = min64(MR, mc - i0);
      const float *a = ap + i0 * kc;
      float *cij = c + i0 * ldc + j0;
      if (h == MR && w == NR)
        micro_kernel(kc, a, b, cij, ldc, accumulate);
      else
        edge_tile(kc, a, b, cij, ldc, h, w, accumulate);
    }
  }
}

/* A single row times B: packing would cost as much as the product, and the
 * register tile would idle MR - 1 of its rows. */
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

void ec_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs,
              int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c,
              int64_t ldc, bool accumulate, void *workspace) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
    return;
  }
  if (m == 1) {
    gemv_row(n, k, a, a_cs, b, b_rs, b_cs, c, accumulate);
    return;
  }
  const int64_t kc_max = min64(k, KC);
  float *bp = workspace;
  float *ap = (float *)((uint8_t *)workspace +
                        ec_align64((size_t)(kc_max * min64(round_up(n, NR), NC)) *
                                   sizeof(float)));
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = min64(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = min64(KC, k - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(kc, nc, b + pc * b_rs + jc * b_cs, b_rs, b_cs, bp);
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = min64(MC, m - ic);
        pack_a(mc, kc, a + ic * a_rs + pc * a_cs, a_rs, a_cs, ap);
        macro_kernel(mc, nc, kc, ap, bp, c + ic * ldc + jc, ldc, acc);
      }
    }
  }
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
