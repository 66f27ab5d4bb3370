/* Depthwise conv, AVX2 + FMA (dwconv_impl.h). */
#include <immintrin.h>
#include <string.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#define VEC __m256
#define VLEN 8
#define V_SET1 _mm256_set1_ps
#define V_ADD _mm256_add_ps
#define V_FMA _mm256_fmadd_ps
#define V_MAX _mm256_max_ps
#define V_MIN _mm256_min_ps
#define V_LOADU _mm256_loadu_ps
#define V_STOREU _mm256_storeu_ps
#define ACT_ROW ec_x86_act_avx2

static const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static inline __m256i lane_mask(int64_t n) {
  return _mm256_loadu_si256((const __m256i *)(kMaskTable + 8 - n));
}
#define V_LOADN(p, n) _mm256_maskload_ps((p), lane_mask(n))
#define V_STOREN(p, v, n) _mm256_maskstore_ps((p), lane_mask(n), (v))

/* x[0], x[2], ... to p0 and x[1], x[3], ... to p1 */
static inline void deinterleave(const float *src, int64_t w, float *p0, float *p1) {
  int64_t i = 0;
  for (; i + 16 <= w; i += 16) {
    const __m256 a = _mm256_loadu_ps(src + i), b = _mm256_loadu_ps(src + i + 8);
    /* within 128-bit lanes: a0 a2 b0 b2 | a4 a6 b4 b6, then fix the lane order */
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(p0 + i / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8)));
    _mm256_storeu_ps(p1 + i / 2, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8)));
  }
  for (; i < w; i++) (i & 1 ? p1 : p0)[i / 2] = src[i];
}
#define DEINTERLEAVE deinterleave

/* the small-plane path (dwconv_impl.h) */
#define DW_MASK __m256i
static inline __m256i mask_range(int64_t lo, int64_t hi) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)lo - 1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), lane));
}
#define DW_MASK_RANGE mask_range
#define DW_LOADM(p, m) _mm256_maskload_ps((p), (m))
static inline __m256i mask_bits(unsigned bits) {
  const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane), lane);
}
#define DW_MASK_BITS mask_bits
#define DW_FLAT_MASKS 320
/* the even lanes of a:b */
static inline __m256 even_lanes(__m256 a, __m256 b) {
  const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
}
#define DW_EVEN even_lanes

#include "kernels/x86/dwconv_impl.h"

void ec_x86_dw_planes_avx2(const ec_dw_conv *a, int64_t begin, int64_t end, float *workspace) {
  dw_planes(a, begin, end, workspace);
}
