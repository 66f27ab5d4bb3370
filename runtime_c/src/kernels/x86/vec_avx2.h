/* The vector vocabulary of the AVX2 kernels that share generic
 * implementations (act_impl.h, winograd_impl.h). */
#ifndef EDGEC_KERNELS_X86_VEC_AVX2_H_
#define EDGEC_KERNELS_X86_VEC_AVX2_H_

#include <immintrin.h>

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

#endif /* EDGEC_KERNELS_X86_VEC_AVX2_H_ */
