/* AArch64 int8 kernels with sdot (Armv8.2 FEAT_DotProd). CMake builds this
 * file alone with -march=armv8.2-a+dotprod; it runs only after
 * ec_neon_dotprod() said yes (qgemm_neon.c). sdot multiplies int8 by int8,
 * the activations are uint8: each byte is flipped to x - 128 and the
 * difference, 128 * (sum of the weights), is an sdot of the weights by -128
 * taken off at the end (see neon.h). */
#include "kernels/neon/neon.h"

#if (defined(__aarch64__) || defined(_M_ARM64)) && defined(__ARM_FEATURE_DOTPROD)

#include <arm_neon.h>
#include <string.h>

#define DOT_ROW(i)                                        \
  do {                                                    \
    c##i##0 = vdotq_laneq_s32(c##i##0, x0, wv, i);        \
    c##i##1 = vdotq_laneq_s32(c##i##1, x1, wv, i);        \
    c##i##2 = vdotq_laneq_s32(c##i##2, x2, wv, i);        \
    c##i##3 = vdotq_laneq_s32(c##i##3, x3, wv, i);        \
  } while (0)

/* tile row i = c_i - lane i of corr */
#define STORE_ROW(i)                                                   \
  do {                                                                 \
    const int32x4_t ci = vdupq_laneq_s32(corr, i);                     \
    vst1q_s32(tile + (i) * 16, vsubq_s32(c##i##0, ci));                \
    vst1q_s32(tile + (i) * 16 + 4, vsubq_s32(c##i##1, ci));            \
    vst1q_s32(tile + (i) * 16 + 8, vsubq_s32(c##i##2, ci));            \
    vst1q_s32(tile + (i) * 16 + 12, vsubq_s32(c##i##3, ci));           \
  } while (0)

void ec_neon_q8_tile_dot(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                         int32_t *tile) {
  const int8x16_t m128 = vdupq_n_s8(-128);
  const int32x4_t z = vdupq_n_s32(0);
  int32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  int32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  int32x4_t corr = z; /* lane i: -128 * sum of row i */
  for (int pass = 0; pass < (a2 ? 2 : 1); pass++) {
    const int8_t *ap = pass ? a2 : a;
    const uint8_t *bp = b;
    for (int64_t g = 0; g < groups; g++) {
      const int8x16_t wv = vld1q_s8(ap); /* row i, k 4g..4g+3 at bytes 4i.. */
      /* columns 4q..4q+3, each its 4 k, flipped to int8 */
      const int8x16_t x0 = veorq_s8(vld1q_s8((const int8_t *)bp), m128);
      const int8x16_t x1 = veorq_s8(vld1q_s8((const int8_t *)bp + 16), m128);
      const int8x16_t x2 = veorq_s8(vld1q_s8((const int8_t *)bp + 32), m128);
      const int8x16_t x3 = veorq_s8(vld1q_s8((const int8_t *)bp + 48), m128);
      corr = vdotq_s32(corr, wv, m128);
      DOT_ROW(0);
      DOT_ROW(1);
      DOT_ROW(2);
      DOT_ROW(3);
      ap += EC_QMR * EC_QKG;
      bp += EC_QNR * EC_QKG;
    }
  }
  STORE_ROW(0);
  STORE_ROW(1);
  STORE_ROW(2);
  STORE_ROW(3);
}

void ec_neon_qdots_dot(int64_t m, int64_t kd, const int8_t *w, const int8_t *w2,
                       const uint8_t *x, int64_t n, int32_t *out) {
  const int8x16_t m128 = vdupq_n_s8(-128);
  for (int64_t j = 0; j < n; j++) {
    const uint8_t *xj = x + j * kd;
    for (int64_t r = 0; r < m; r += 4) {
      /* rows past m repeat the last one; their sums are not stored */
      const int64_t o1 = (r + 1 < m ? r + 1 : m - 1) * kd, o2 = (r + 2 < m ? r + 2 : m - 1) * kd;
      const int64_t o3 = (r + 3 < m ? r + 3 : m - 1) * kd;
      const int32x4_t z = vdupq_n_s32(0);
      int32x4_t s0 = z, s1 = z, s2 = z, s3 = z, k0 = z, k1 = z, k2 = z, k3 = z;
      for (int pass = 0; pass < (w2 ? 2 : 1); pass++) {
        const int8_t *base = pass ? w2 : w;
        for (int64_t q = 0; q < kd; q += 16) {
          const int8x16_t xv = veorq_s8(vld1q_s8((const int8_t *)xj + q), m128);
          const int8x16_t v0 = vld1q_s8(base + r * kd + q), v1 = vld1q_s8(base + o1 + q);
          const int8x16_t v2 = vld1q_s8(base + o2 + q), v3 = vld1q_s8(base + o3 + q);
          s0 = vdotq_s32(s0, v0, xv);
          s1 = vdotq_s32(s1, v1, xv);
          s2 = vdotq_s32(s2, v2, xv);
          s3 = vdotq_s32(s3, v3, xv);
          k0 = vdotq_s32(k0, v0, m128);
          k1 = vdotq_s32(k1, v1, m128);
          k2 = vdotq_s32(k2, v2, m128);
          k3 = vdotq_s32(k3, v3, m128);
        }
      }
      const int32x4_t sum = vsubq_s32(vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3)),
                                      vpaddq_s32(vpaddq_s32(k0, k1), vpaddq_s32(k2, k3)));
      if (r + 4 <= m) {
        vst1q_s32(out + j * m + r, sum);
      } else {
        int32_t t[4];
        vst1q_s32(t, sum);
        memcpy(out + j * m + r, t, (size_t)(m - r) * sizeof(int32_t));
      }
    }
  }
}

#elif defined(__aarch64__) || defined(_M_ARM64)
#error "qgemm_dotprod.c needs -march=armv8.2-a+dotprod (runtime_c/CMakeLists.txt sets it)"
#else /* not AArch64: CMake builds this directory only for AArch64 */
typedef int ec_qgemm_dotprod_unused_t;
#endif
