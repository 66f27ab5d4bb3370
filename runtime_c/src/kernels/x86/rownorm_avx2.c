/* Softmax, LogSoftmax and LayerNormalization rows, AVX2 + FMA
 * (rownorm_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/rownorm_x86.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx2.h"

#define TMASK __m256i
#define TAIL_MASK(k) \
  _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(k)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
/* maskload zeroes the masked lanes; the blend puts fill there */
#define V_LOAD_TAIL(p, m, fill) \
  _mm256_blendv_ps((fill), _mm256_maskload_ps((p), (m)), _mm256_castsi256_ps(m))
#define V_STORE_TAIL(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define V_KEEP_GE(v, d, lo) _mm256_and_ps((v), _mm256_cmp_ps((d), (lo), _CMP_GE_OQ))
#define NANACC __m256
#define NAN_INIT _mm256_setzero_ps()
#define NAN_ACC(acc, v) ((acc) = _mm256_or_ps((acc), _mm256_cmp_ps((v), (v), _CMP_UNORD_Q)))
#define NAN_ANY(acc) (_mm256_movemask_ps(acc) != 0)

static inline float hmax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

static inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#define V_HMAX hmax8
#define V_HSUM hsum8

#define DVEC __m256d
#define DV_ZERO _mm256_setzero_pd()
#define DV_ACC(a0, a1, v)                                                 \
  do {                                                                    \
    const __m256 v_ = (v);                                                \
    (a0) = _mm256_add_pd((a0), _mm256_cvtps_pd(_mm256_castps256_ps128(v_))); \
    (a1) = _mm256_add_pd((a1), _mm256_cvtps_pd(_mm256_extractf128_ps(v_, 1))); \
  } while (0)
static inline double dv_hsum(__m256d a0, __m256d a1) {
  const __m256d a = _mm256_add_pd(a0, a1);
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
  return _mm_cvtsd_f64(s);
}
#define DV_HSUM dv_hsum

#include "kernels/x86/rownorm_impl.h"

void ec_x86_softmax_rows_avx2(const float *x, float *y, int64_t n, int64_t begin, int64_t end,
                              bool log_form) {
  softmax_rows(x, y, n, begin, end, log_form);
}

void ec_x86_layer_norm_rows_avx2(const ec_ln_rows *a, int64_t begin, int64_t end) {
  layer_norm_rows(a, begin, end);
}
