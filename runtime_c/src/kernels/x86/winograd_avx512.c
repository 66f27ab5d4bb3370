/* Winograd F(4x4, 3x3) transforms, AVX-512 (winograd_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx512.h"

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

void ec_x86_wino_weight_avx512(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                               int64_t n) {
  wino_weight(r, g, gs, u, us, n);
}
