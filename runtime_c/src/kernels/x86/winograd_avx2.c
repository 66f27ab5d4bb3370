/* Winograd F(4x4, 3x3) transforms, AVX2 + FMA (winograd_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx2.h"

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

void ec_x86_wino_weight_avx2(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                             int64_t n) {
  wino_weight(r, g, gs, u, us, n);
}
