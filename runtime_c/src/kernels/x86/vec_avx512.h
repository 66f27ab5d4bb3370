/* The vector vocabulary of the AVX512 kernels that share generic
 * implementations (act_impl.h, winograd_impl.h). */
#ifndef EDGEC_KERNELS_X86_VEC_AVX512_H_
#define EDGEC_KERNELS_X86_VEC_AVX512_H_

#include <immintrin.h>

#define VEC __m512
#define VLEN 16
#define V_SET1 _mm512_set1_ps
#define V_ADD _mm512_add_ps
#define V_SUB _mm512_sub_ps
#define V_MUL _mm512_mul_ps
#define V_DIV _mm512_div_ps
#define V_FMA _mm512_fmadd_ps
#define V_FNMA _mm512_fnmadd_ps
#define V_MAX _mm512_max_ps
#define V_MIN _mm512_min_ps
#define V_LOADU _mm512_loadu_ps
#define V_STOREU _mm512_storeu_ps
#define V_ROUND(x) _mm512_roundscale_ps((x), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define V_POW2N(n) \
  _mm512_castsi512_ps(_mm512_slli_epi32( \
      _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23))
#define V_SELECT_GE0(x, a, b) \
  _mm512_mask_blend_ps(_mm512_cmp_ps_mask((x), _mm512_setzero_ps(), _CMP_GE_OQ), (b), (a))

#endif /* EDGEC_KERNELS_X86_VEC_AVX512_H_ */
