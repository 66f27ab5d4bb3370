/* Winograd F(4x4, 3x3) transforms, AVX-512 (winograd_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

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

#define VECI __m512i
#define MASK __mmask16
#define VI_SET1 _mm512_set1_epi32
#define VI_ADD _mm512_add_epi32
#define VI_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define M_FROM(v) _mm512_cmpneq_epi32_mask((v), _mm512_setzero_si512())
#define M_AND(a, b) ((MASK)((a) & (b)))
#define M_INRANGE(v, lo, hi)                                        \
  ((MASK)(_mm512_cmpge_epi32_mask((v), _mm512_set1_epi32(lo)) &     \
          _mm512_cmplt_epi32_mask((v), _mm512_set1_epi32(hi))))
#define V_GATHER(base, idx, m) \
  _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (m), (idx), (base), 4)
#define V_SCATTER(base, idx, m, v) _mm512_mask_i32scatter_ps((base), (m), (idx), (v), 4)

#include "kernels/x86/act_impl.h"
#include "kernels/x86/winograd_impl.h"

void ec_x86_wino_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  wino_input(p, t0, nt, v);
}

void ec_x86_wino_output_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                               const float *mbuf, int64_t mstride) {
  wino_output(p, t0, nt, m0, mb, mbuf, mstride);
}
