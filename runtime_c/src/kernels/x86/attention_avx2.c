/* Fused attention jobs, AVX2 + FMA (attention_impl.h): a 6 x 16 register
 * tile (12 ymm accumulators, as the packed GEMM's). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "generated/schema.h"
#include "kernels/attention.h"

#include "kernels/x86/vec_avx2.h"

#define MR 6
#define TMASK __m256i
#define LANES(k) \
  _mm256_cmpgt_epi32(_mm256_set1_epi32((int)((k) < 0 ? 0 : (k) > 8 ? 8 : (k))), \
                     _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define V_LOAD_M(p, m) _mm256_maskload_ps((p), (m))
/* maskload zeroes the masked lanes; the blend puts fill there */
#define V_LOAD_F(p, m, fill) \
  _mm256_blendv_ps((fill), _mm256_maskload_ps((p), (m)), _mm256_castsi256_ps(m))
#define V_STORE_M(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_SEL(m, a, b) _mm256_blendv_ps((b), (a), _mm256_castsi256_ps(m))

static inline float att_hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#define V_HSUM att_hsum8
/* 2^n as exponent bits reaches FLT_MIN at n = -126: clamp there (exp =
 * FLT_MIN), and give 0 where d is below, as rownorm_impl.h does (expf gives a
 * denormal or 0 there: an absolute error < 1.2e-38 on a row that sums to
 * >= 1; and a denormal would cost a microcode assist in P . V). NLT rather
 * than GE keeps NaN lanes. */
#define EXP_LO (-87.33654f)
#define V_EXP2N(p, n, d) \
  _mm256_and_ps(V_MUL((p), V_POW2N(n)), _mm256_cmp_ps((d), V_SET1(EXP_LO), _CMP_NLT_UQ))

/* dst[c][r] = src[r][c], 8 x 8: after the in-lane stages, u[4g + c] holds
 * column c + 4L of rows 4g..4g+3 in its 128-bit lane L. */
static inline void att_transpose(const float *src, int64_t ss, float *dst, int64_t ds) {
  __m256 u[8];
  for (int g = 0; g < 2; g++) {
    const float *r = src + 4 * g * ss;
    const __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + ss);
    const __m256 r2 = _mm256_loadu_ps(r + 2 * ss), r3 = _mm256_loadu_ps(r + 3 * ss);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    u[4 * g] = _mm256_shuffle_ps(t0, t2, 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(t0, t2, 0xEE);
    u[4 * g + 2] = _mm256_shuffle_ps(t1, t3, 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(t1, t3, 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    _mm256_storeu_ps(dst + c * ds, _mm256_permute2f128_ps(u[c], u[4 + c], 0x20));
    _mm256_storeu_ps(dst + (c + 4) * ds, _mm256_permute2f128_ps(u[c], u[4 + c], 0x31));
  }
}

#include "kernels/x86/attention_impl.h"

void ec_x86_attention_avx2(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws) {
  att_jobs(a, begin, end, ws);
}
