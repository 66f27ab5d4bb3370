/* Winograd F(4x4, 3x3) transforms, AVX2 + FMA (winograd_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#define VEC __m256
#define VLEN 8
#define V_SET1 _mm256_set1_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_FMA _mm256_fmadd_ps
#define V_FNMA _mm256_fnmadd_ps
#define V_MAX _mm256_max_ps
#define V_MIN _mm256_min_ps
#define V_LOADU _mm256_loadu_ps
#define V_STOREU _mm256_storeu_ps
#define V_ROUND(x) _mm256_round_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_POW2N(n) \
  _mm256_castsi256_ps(_mm256_slli_epi32( \
      _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23))
#define V_SELECT_GE0(x, a, b) \
  _mm256_blendv_ps((b), (a), _mm256_cmp_ps((x), _mm256_setzero_ps(), _CMP_GE_OQ))

#define VECI __m256i
#define MASK __m256i
#define VI_SET1 _mm256_set1_epi32
#define VI_ADD _mm256_add_epi32
#define VI_LOADU(p) _mm256_loadu_si256((const __m256i *)(p))
#define M_FROM(v) (v)
#define M_AND _mm256_and_si256
#define M_INRANGE(v, lo, hi)                                                \
  _mm256_and_si256(_mm256_cmpgt_epi32((v), _mm256_set1_epi32((lo) - 1)),    \
                   _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), (v)))
#define V_GATHER(base, idx, m) \
  _mm256_mask_i32gather_ps(_mm256_setzero_ps(), (base), (idx), _mm256_castsi256_ps(m), 4)

static inline void scatter8(float *base, __m256i idx, __m256i m, __m256 v) {
  int32_t i[8], k[8];
  float f[8];
  _mm256_storeu_si256((__m256i *)i, idx);
  _mm256_storeu_si256((__m256i *)k, m);
  _mm256_storeu_ps(f, v);
  for (int l = 0; l < 8; l++)
    if (k[l]) base[i[l]] = f[l];
}
#define V_SCATTER scatter8

#include "kernels/x86/act_impl.h"
#include "kernels/x86/winograd_impl.h"

void ec_x86_wino_input_avx2(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  wino_input(p, t0, nt, v);
}

void ec_x86_wino_output_avx2(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                             const float *mbuf, int64_t mstride) {
  wino_output(p, t0, nt, m0, mb, mbuf, mstride);
}
