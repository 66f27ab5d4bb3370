/* AArch64 NEON fp32 GEMM: a 6 x 16 register tile on the packed slivers of
 * kernels/ref/gemm_core.h (see sgemm_neon.h for the layout and for how the
 * dispatcher calls it), the epilogue applied in registers, edge tiles stored
 * through a local buffer; plus a cache-blocked driver with its own NEON
 * packing. Plain Armv8.0-A Advanced SIMD: runs on every AArch64 core. */
#include "kernels/neon/sgemm_neon.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include <arm_neon.h>
#include <string.h>

#include "generated/schema.h"

#define PMR EC_PACK_MR
#define PNR EC_PACK_NR
#define KC EC_GEMM_KC
#define MC EC_GEMM_MC
#define NC EC_GEMM_NC

_Static_assert(EC_PACK_MR == 6 && EC_PACK_NR == 16,
               "the NEON tile (sgemm_neon.c) is written for 6-row A and 16-column B slivers");
_Static_assert(EC_GEMM_MC % EC_PACK_MR == 0 && EC_GEMM_NC % EC_PACK_NR == 0,
               "cache blocks must hold whole slivers");

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round_up64(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* ---- epilogue ---------------------------------------------------------------- */

/* Activations done in registers; the others run ec_act_apply on the stored
 * row, as ec_gemm_store_tile does. */
static inline bool simple_act(uint8_t kind) {
  return kind == EC_FB_ACTIVATION_NONE || kind == EC_FB_ACTIVATION_RELU ||
         kind == EC_FB_ACTIVATION_CLIP || kind == EC_FB_ACTIVATION_LEAKY_RELU;
}

/* ec_act_apply's expressions for the simple kinds, bit for bit: it computes
 * v = y + 0.0f first (which turns -0 into +0), then the activation. */
static inline float32x4_t act4(float32x4_t v, const ec_act *act) {
  const float32x4_t z = vdupq_n_f32(0.0f);
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: /* v > 0 ? v : 0 */
      return vbslq_f32(vcgtq_f32(v, z), v, z);
    case EC_FB_ACTIVATION_CLIP: /* fminf(fmaxf(v, alpha), beta) */
      v = vaddq_f32(v, z);
      return vminnmq_f32(vmaxnmq_f32(v, vdupq_n_f32(act->alpha)), vdupq_n_f32(act->beta));
    case EC_FB_ACTIVATION_LEAKY_RELU: /* v >= 0 ? v : alpha * v */
      v = vaddq_f32(v, z);
      return vbslq_f32(vcgeq_f32(v, z), v, vmulq_f32(vdupq_n_f32(act->alpha), v));
    default: return v;
  }
}

/* One row of 4 * NV values (all valid) at c: [old c +] v, then the epilogue
 * e (NULL: none) with the operations and order of ec_gemm_store_tile; row is
 * the tile row (for the bias and the addend). Non-simple activations are
 * left to the caller. */
static inline __attribute__((always_inline)) void finish_row(const int NV, float *c,
                                                             float32x4_t v0, float32x4_t v1,
                                                             float32x4_t v2, float32x4_t v3,
                                                             bool accumulate,
                                                             const ec_epilogue *e, int64_t row) {
  if (accumulate) {
    v0 = vaddq_f32(vld1q_f32(c), v0);
    v1 = vaddq_f32(vld1q_f32(c + 4), v1);
    if (NV == 4) {
      v2 = vaddq_f32(vld1q_f32(c + 8), v2);
      v3 = vaddq_f32(vld1q_f32(c + 12), v3);
    }
  }
  if (e) {
    if (e->alpha != 1.0f) {
      const float32x4_t al = vdupq_n_f32(e->alpha);
      v0 = vmulq_f32(v0, al);
      v1 = vmulq_f32(v1, al);
      v2 = vmulq_f32(v2, al);
      v3 = vmulq_f32(v3, al);
    }
    if (e->bias) {
      const float *bp = e->bias + row * e->bias_rs;
      if (e->bias_cs == 0) {
        const float32x4_t bv = vdupq_n_f32(e->beta * bp[0]);
        v0 = vaddq_f32(v0, bv);
        v1 = vaddq_f32(v1, bv);
        v2 = vaddq_f32(v2, bv);
        v3 = vaddq_f32(v3, bv);
      } else {
        float g[16]; /* bias_cs 1 (documented) or any other stride */
        const float *src = bp;
        if (e->bias_cs != 1) {
          for (int j = 0; j < 4 * NV; j++) g[j] = bp[j * e->bias_cs];
          src = g;
        }
        const float32x4_t be = vdupq_n_f32(e->beta);
        v0 = vaddq_f32(v0, vmulq_f32(be, vld1q_f32(src)));
        v1 = vaddq_f32(v1, vmulq_f32(be, vld1q_f32(src + 4)));
        if (NV == 4) {
          v2 = vaddq_f32(v2, vmulq_f32(be, vld1q_f32(src + 8)));
          v3 = vaddq_f32(v3, vmulq_f32(be, vld1q_f32(src + 12)));
        }
      }
    }
    if (e->add) {
      const float *ap = e->add + row * e->ld_add;
      v0 = vaddq_f32(v0, vld1q_f32(ap));
      v1 = vaddq_f32(v1, vld1q_f32(ap + 4));
      if (NV == 4) {
        v2 = vaddq_f32(v2, vld1q_f32(ap + 8));
        v3 = vaddq_f32(v3, vld1q_f32(ap + 12));
      }
    }
    if (e->act.kind != EC_FB_ACTIVATION_NONE && simple_act(e->act.kind)) {
      v0 = act4(v0, &e->act);
      v1 = act4(v1, &e->act);
      v2 = act4(v2, &e->act);
      v3 = act4(v3, &e->act);
    }
  }
  vst1q_f32(c, v0);
  vst1q_f32(c + 4, v1);
  if (NV == 4) {
    vst1q_f32(c + 8, v2);
    vst1q_f32(c + 12, v3);
  }
}

/* ---- the 6 x 16 (NV = 4) and 6 x 8 (NV = 2) register tiles ---------------- */

/* Row i of the tile += B row (b0..b3) * lane `lane` of av. */
#define FMA_ROW(i, av, lane)                               \
  do {                                                     \
    c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane);      \
    c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane);      \
    if (NV == 4) {                                         \
      c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);    \
      c##i##3 = vfmaq_laneq_f32(c##i##3, b3, av, lane);    \
    }                                                      \
  } while (0)

/* B row at bp: the NV vectors the tile uses. */
#define LOAD_B(bp)                                \
  do {                                            \
    b0 = vld1q_f32(bp);                           \
    b1 = vld1q_f32((bp) + 4);                     \
    if (NV == 4) {                                \
      b2 = vld1q_f32((bp) + 8);                   \
      b3 = vld1q_f32((bp) + 12);                  \
    }                                             \
  } while (0)

/* Two k steps: A holds 12 floats (rows 0-5 of step k, then of step k + 1)
 * in a0 | a1 | a2. */
#define TWO_STEPS(ap, bp)                                                          \
  do {                                                                             \
    const float32x4_t a0 = vld1q_f32(ap), a1 = vld1q_f32((ap) + 4),                \
                      a2 = vld1q_f32((ap) + 8);                                    \
    LOAD_B(bp);                                                                    \
    FMA_ROW(0, a0, 0);                                                             \
    FMA_ROW(1, a0, 1);                                                             \
    FMA_ROW(2, a0, 2);                                                             \
    FMA_ROW(3, a0, 3);                                                             \
    FMA_ROW(4, a1, 0);                                                             \
    FMA_ROW(5, a1, 1);                                                             \
    LOAD_B((bp) + PNR);                                                            \
    FMA_ROW(0, a1, 2);                                                             \
    FMA_ROW(1, a1, 3);                                                             \
    FMA_ROW(2, a2, 0);                                                             \
    FMA_ROW(3, a2, 1);                                                             \
    FMA_ROW(4, a2, 2);                                                             \
    FMA_ROW(5, a2, 3);                                                             \
  } while (0)

#define FINISH_ROW(i)                                                                       \
  do {                                                                                      \
    if ((i) < mr)                                                                           \
      finish_row(NV, c + (i) * ldc, c##i##0, c##i##1, c##i##2, c##i##3, accumulate, e, (i)); \
  } while (0)

#define SPILL_ROW(i)                          \
  do {                                        \
    vst1q_f32(t + (i) * PNR, c##i##0);        \
    vst1q_f32(t + (i) * PNR + 4, c##i##1);    \
    vst1q_f32(t + (i) * PNR + 8, c##i##2);    \
    vst1q_f32(t + (i) * PNR + 12, c##i##3);   \
  } while (0)

/* One tile: rows [0, mr) of one A sliver against columns [0, nr) of one B
 * sliver (nr <= 4 * NV), over kc steps. */
static inline __attribute__((always_inline)) void tile(const int NV, int64_t kc,
                                                       const float *a, const float *b,
                                                       float *c, int64_t ldc, int64_t mr,
                                                       int64_t nr, bool accumulate,
                                                       const ec_epilogue *e) {
  const float32x4_t z = vdupq_n_f32(0.0f);
  float32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  float32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  float32x4_t c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
  float32x4_t b0, b1, b2 = z, b3 = z;
  int64_t p = 0;
  for (; p + 2 <= kc; p += 2) {
    TWO_STEPS(a, b);
    a += 2 * PMR;
    b += 2 * PNR;
  }
  if (p < kc) { /* the last odd step: 6 floats of A */
    const float32x4_t a0 = vld1q_f32(a), a1 = vcombine_f32(vld1_f32(a + 4), vdup_n_f32(0.0f));
    LOAD_B(b);
    FMA_ROW(0, a0, 0);
    FMA_ROW(1, a0, 1);
    FMA_ROW(2, a0, 2);
    FMA_ROW(3, a0, 3);
    FMA_ROW(4, a1, 0);
    FMA_ROW(5, a1, 1);
  }
  if (nr == 4 * NV) {
    FINISH_ROW(0);
    FINISH_ROW(1);
    FINISH_ROW(2);
    FINISH_ROW(3);
    FINISH_ROW(4);
    FINISH_ROW(5);
    if (e && !simple_act(e->act.kind))
      for (int64_t i = 0; i < mr; i++) ec_act_apply(c + i * ldc, nr, 0.0f, &e->act);
  } else { /* a column edge: through a buffer, stored by the portable code */
    float t[PMR * PNR];
    SPILL_ROW(0);
    SPILL_ROW(1);
    SPILL_ROW(2);
    SPILL_ROW(3);
    SPILL_ROW(4);
    SPILL_ROW(5);
    ec_gemm_store_tile(t, PNR, c, ldc, mr, nr, accumulate, e);
  }
}

/* m == 1 (a matrix-vector product): the 6-row tile would spend 5/6 of its
 * multiply-adds on padding. One B sliver at a time, two k phases (eight
 * independent accumulators). a steps PMR floats per k like any A sliver. */
static void row_times_b(int64_t n, int64_t kc, const float *a, const float *b, int64_t b_sliver,
                        float *c, bool accumulate, const ec_epilogue *epi) {
  for (int64_t j0 = 0; j0 < n; j0 += PNR) {
    const int64_t nr = min64(PNR, n - j0);
    const float *bp = b + j0 / PNR * b_sliver;
    const float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t s0 = z, s1 = z, s2 = z, s3 = z, t0 = z, t1 = z, t2 = z, t3 = z;
    int64_t p = 0;
    for (; p + 2 <= kc; p += 2) {
      const float x0 = a[p * PMR], x1 = a[(p + 1) * PMR];
      const float *r0 = bp + p * PNR, *r1 = r0 + PNR;
      s0 = vfmaq_n_f32(s0, vld1q_f32(r0), x0);
      s1 = vfmaq_n_f32(s1, vld1q_f32(r0 + 4), x0);
      s2 = vfmaq_n_f32(s2, vld1q_f32(r0 + 8), x0);
      s3 = vfmaq_n_f32(s3, vld1q_f32(r0 + 12), x0);
      t0 = vfmaq_n_f32(t0, vld1q_f32(r1), x1);
      t1 = vfmaq_n_f32(t1, vld1q_f32(r1 + 4), x1);
      t2 = vfmaq_n_f32(t2, vld1q_f32(r1 + 8), x1);
      t3 = vfmaq_n_f32(t3, vld1q_f32(r1 + 12), x1);
    }
    if (p < kc) {
      const float x0 = a[p * PMR];
      const float *r0 = bp + p * PNR;
      s0 = vfmaq_n_f32(s0, vld1q_f32(r0), x0);
      s1 = vfmaq_n_f32(s1, vld1q_f32(r0 + 4), x0);
      s2 = vfmaq_n_f32(s2, vld1q_f32(r0 + 8), x0);
      s3 = vfmaq_n_f32(s3, vld1q_f32(r0 + 12), x0);
    }
    s0 = vaddq_f32(s0, t0);
    s1 = vaddq_f32(s1, t1);
    s2 = vaddq_f32(s2, t2);
    s3 = vaddq_f32(s3, t3);
    ec_epilogue e;
    if (epi) e = ec_epilogue_at(epi, 0, j0);
    const ec_epilogue *ep = epi ? &e : NULL;
    if (nr == PNR) {
      finish_row(4, c + j0, s0, s1, s2, s3, accumulate, ep, 0);
      if (ep && !simple_act(ep->act.kind)) ec_act_apply(c + j0, nr, 0.0f, &ep->act);
    } else {
      float t[PNR];
      vst1q_f32(t, s0);
      vst1q_f32(t + 4, s1);
      vst1q_f32(t + 8, s2);
      vst1q_f32(t + 12, s3);
      ec_gemm_store_tile(t, PNR, c + j0, PNR, 1, nr, accumulate, ep);
    }
  }
}

void ec_neon_gemm_packed(int64_t m, int64_t n, int64_t kc, const float *a, int64_t a_sliver,
                         const float *b, int64_t b_sliver, float *c, int64_t ldc,
                         bool accumulate, const ec_epilogue *epi) {
  if (m <= 0 || n <= 0) return;
  if (m == 1) {
    row_times_b(n, kc, a, b, b_sliver, c, accumulate, epi);
    return;
  }
  /* B sliver (kc x 16, 16 KiB at kc = 256) stays in L1 while the A slivers
   * of the block stream from L2. */
  for (int64_t j0 = 0; j0 < n; j0 += PNR) {
    const int64_t nr = min64(PNR, n - j0);
    const float *bj = b + j0 / PNR * b_sliver;
    for (int64_t i0 = 0; i0 < m; i0 += PMR) {
      const int64_t mr = min64(PMR, m - i0);
      const float *ai = a + i0 / PMR * a_sliver;
      float *cij = c + i0 * ldc + j0;
      ec_epilogue e;
      if (epi) e = ec_epilogue_at(epi, i0, j0);
      if (nr > 8)
        tile(4, kc, ai, bj, cij, ldc, mr, nr, accumulate, epi ? &e : NULL);
      else
        tile(2, kc, ai, bj, cij, ldc, mr, nr, accumulate, epi ? &e : NULL);
    }
  }
}

/* ---- packing ------------------------------------------------------------------- */

/* B[0:kc, 0:nc] (element (p, j) at b[p * rs + j * cs]) -> slivers of PNR
 * columns, kc * PNR floats apart, columns past nc zero. */
static void pack_b(int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs,
                   float *dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += PNR) {
    const int64_t w = min64(PNR, nc - j0);
    const float *src = b + j0 * cs;
    if (w == PNR && cs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const float *s = src + p * rs;
        float *d = dst + p * PNR;
        vst1q_f32(d, vld1q_f32(s));
        vst1q_f32(d + 4, vld1q_f32(s + 4));
        vst1q_f32(d + 8, vld1q_f32(s + 8));
        vst1q_f32(d + 12, vld1q_f32(s + 12));
      }
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

/* Six rows of A with unit column stride (row i at src + i * rs): four k
 * steps at a time, a 4 x 4 transpose of rows 0-3 and a zip of rows 4-5. */
static void pack_a6_rows(int64_t kc, const float *src, int64_t rs, float *dst) {
  const float *r0 = src, *r1 = src + rs, *r2 = src + 2 * rs, *r3 = src + 3 * rs,
              *r4 = src + 4 * rs, *r5 = src + 5 * rs;
  int64_t p = 0;
  for (; p + 4 <= kc; p += 4) {
    const float32x4_t x0 = vld1q_f32(r0 + p), x1 = vld1q_f32(r1 + p), x2 = vld1q_f32(r2 + p),
                      x3 = vld1q_f32(r3 + p), x4 = vld1q_f32(r4 + p), x5 = vld1q_f32(r5 + p);
    const float32x4_t t0 = vtrn1q_f32(x0, x1), t1 = vtrn2q_f32(x0, x1);
    const float32x4_t t2 = vtrn1q_f32(x2, x3), t3 = vtrn2q_f32(x2, x3);
    const float32x4_t k0 = vreinterpretq_f32_f64(
        vtrn1q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    const float32x4_t k1 = vreinterpretq_f32_f64(
        vtrn1q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    const float32x4_t k2 = vreinterpretq_f32_f64(
        vtrn2q_f64(vreinterpretq_f64_f32(t0), vreinterpretq_f64_f32(t2)));
    const float32x4_t k3 = vreinterpretq_f32_f64(
        vtrn2q_f64(vreinterpretq_f64_f32(t1), vreinterpretq_f64_f32(t3)));
    const float32x4_t u0 = vzip1q_f32(x4, x5), u1 = vzip2q_f32(x4, x5);
    float *d = dst + p * PMR;
    vst1q_f32(d, k0);
    vst1_f32(d + 4, vget_low_f32(u0));
    vst1q_f32(d + 6, k1);
    vst1_f32(d + 10, vget_high_f32(u0));
    vst1q_f32(d + 12, k2);
    vst1_f32(d + 16, vget_low_f32(u1));
    vst1q_f32(d + 18, k3);
    vst1_f32(d + 22, vget_high_f32(u1));
  }
  for (; p < kc; p++) {
    float *d = dst + p * PMR;
    d[0] = r0[p];
    d[1] = r1[p];
    d[2] = r2[p];
    d[3] = r3[p];
    d[4] = r4[p];
    d[5] = r5[p];
  }
}

/* A[0:mc, 0:kc] (element (i, p) at a[i * rs + p * cs]) -> slivers of PMR
 * rows, kc * PMR floats apart, rows past mc zero. */
static void pack_a(int64_t mc, int64_t kc, const float *a, int64_t rs, int64_t cs, float *dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += PMR) {
    const int64_t h = min64(PMR, mc - i0);
    const float *src = a + i0 * rs;
    if (h == PMR && cs == 1) {
      pack_a6_rows(kc, src, rs, dst);
    } else if (h == PMR && rs == 1) { /* A transposed: each k's 6 rows are contiguous */
      for (int64_t p = 0; p < kc; p++) {
        const float *s = src + p * cs;
        float *d = dst + p * PMR;
        vst1q_f32(d, vld1q_f32(s));
        vst1_f32(d + 4, vld1_f32(s + 4));
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        int64_t i = 0;
        for (; i < h; i++) dst[p * PMR + i] = src[i * rs + p * cs];
        for (; i < PMR; i++) dst[p * PMR + i] = 0.0f;
      }
    }
    dst += kc * PMR;
  }
}

/* ---- driver ---------------------------------------------------------------------- */

size_t ec_sgemm_neon_workspace(int64_t m, int64_t n, int64_t k) {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const int64_t kc = min64(k, KC);
  const int64_t nc = min64(round_up64(n, PNR), NC);
  const int64_t mc = min64(round_up64(m, PMR), MC);
  return ec_align64((size_t)(kc * nc) * sizeof(float)) +
         ec_align64((size_t)(mc * kc) * sizeof(float));
}

void ec_sgemm_neon(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs,
                   const float *b, int64_t b_rs, int64_t b_cs, float *c, int64_t ldc,
                   bool accumulate, void *workspace) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; i++) memset(c + i * ldc, 0, (size_t)n * sizeof(float));
    return;
  }
  const int64_t kc_max = min64(k, KC);
  float *bp = workspace;
  float *ap = (float *)((unsigned char *)workspace +
                        ec_align64((size_t)(kc_max * min64(round_up64(n, PNR), NC)) *
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
        ec_neon_gemm_packed(mc, nc, kc, ap, kc * PMR, bp, kc * PNR, c + ic * ldc + jc, ldc, acc,
                            NULL);
      }
    }
  }
}

#else /* not AArch64: CMake builds this directory only for AArch64 */
typedef int ec_sgemm_neon_unused_t;
#endif
