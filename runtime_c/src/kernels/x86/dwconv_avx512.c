/* Depthwise conv, AVX-512 (dwconv_impl.h). */
#include <immintrin.h>
#include <string.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#define VEC __m512
#define VLEN 16
#define V_SET1 _mm512_set1_ps
#define V_ADD _mm512_add_ps
#define V_FMA _mm512_fmadd_ps
#define V_MAX _mm512_max_ps
#define V_MIN _mm512_min_ps
#define V_LOADU _mm512_loadu_ps
#define V_STOREU _mm512_storeu_ps
#define ACT_ROW ec_x86_act_avx512
#define LANES(n) ((__mmask16)((1u << (n)) - 1u))
#define V_LOADN(p, n) _mm512_maskz_loadu_ps(LANES(n), (p))
#define V_STOREN(p, v, n) _mm512_mask_storeu_ps((p), LANES(n), (v))

/* x[0], x[2], ... to p0 and x[1], x[3], ... to p1 */
static inline void deinterleave(const float *src, int64_t w, float *p0, float *p1) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  int64_t i = 0;
  for (; i + 32 <= w; i += 32) {
    const __m512 a = _mm512_loadu_ps(src + i), b = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_ps(p0 + i / 2, _mm512_permutex2var_ps(a, ie, b));
    _mm512_storeu_ps(p1 + i / 2, _mm512_permutex2var_ps(a, io, b));
  }
  if (i < w) {
    const int64_t n = w - i, n0 = (n + 1) / 2, n1 = n / 2;
    const __m512 a = V_LOADN(src + i, n < 16 ? n : 16);
    const __m512 b = n > 16 ? V_LOADN(src + i + 16, n - 16) : _mm512_setzero_ps();
    V_STOREN(p0 + i / 2, _mm512_permutex2var_ps(a, ie, b), n0);
    if (n1 > 0) V_STOREN(p1 + i / 2, _mm512_permutex2var_ps(a, io, b), n1);
  }
}
#define DEINTERLEAVE deinterleave

/* the small-plane path (dwconv_impl.h) */
#define DW_MASK __mmask16
#define DW_MASK_RANGE(lo, hi) ((__mmask16)(((1u << (hi)) - 1u) & ~((1u << (lo)) - 1u)))
#define DW_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define DW_MASK_BITS(bits) ((__mmask16)(bits))
#define DW_FLAT_MASKS 512
#define DW_PAIR 1 /* two stride-2 rows per vector (vpermt2ps) */
#define DW_WIDE 1 /* stride 1, ow > 16: no padded copy */
#define DW_NARROW 1 /* 3x3 stride 1, rows of at most 14: one load per row */
#define DW_S1W3 1 /* 3x3 stride 1, ow > 16: dw_wide's loads, fewer branches */
#define DW_S2WIDE 1 /* stride 2, ow > 16: all of a row's vectors at once */
#define DW_EVEN(a, b) \
  _mm512_permutex2var_ps((a), \
                         _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), \
                         (b))

#include "kernels/x86/dwconv_impl.h"

void ec_x86_dw_planes_avx512(const ec_dw_conv *a, int64_t begin, int64_t end, float *workspace) {
  dw_planes(a, begin, end, workspace);
}
