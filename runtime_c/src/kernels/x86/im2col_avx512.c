/* Conv im2col into the GEMM's packed B layout, AVX-512 (conv.c's im2col,
 * the same result). A sliver of 16 output pixels of one unfolded row is one
 * vector: inside one output row with stride 1 or 2, one or two masked
 * contiguous loads (stride 2: the even columns picked by one permute);
 * otherwise one masked gather. Out-of-image taps and pixels past tp read as
 * zero. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

#define MAX_SLIVERS 64

/* base + off floats, from integers: a masked load's address may lie before
 * the row or its vector past the tensor (masked lanes are not read), which
 * pointer arithmetic outside the array would leave undefined in C. */
#define AT(base, off) \
  ((const float *)((uintptr_t)(base) + (uintptr_t)((intptr_t)(off) * (intptr_t)sizeof(float))))

bool ec_x86_im2col_avx512(const ec_im2col_geo *g, const float *x, int64_t k0, int64_t kc,
                          int64_t p0, int64_t tp, float *col) {
  const int64_t ns = (tp + 15) / 16, lim = (int64_t)1 << 30;
  if (ns > MAX_SLIVERS || (g->h + 2 * g->ph + g->sh) * (g->w + 2 * g->pw + g->sw) >= lim ||
      g->kh * g->dh >= lim || g->kw * g->dw >= lim)
    return false;
  /* per sliver: lane l's output row * sh and column * sw; live lanes; the
   * output row and first column when all 16 pixels lie in one output row */
  __m512i ys[MAX_SLIVERS], xs[MAX_SLIVERS];
  __mmask16 live[MAX_SLIVERS];
  int64_t one_oh[MAX_SLIVERS], one_ow[MAX_SLIVERS];
  for (int64_t s = 0; s < ns; s++) {
    int32_t y[16], xx[16];
    uint32_t m = 0;
    for (int l = 0; l < 16; l++) {
      const int64_t q = p0 + s * 16 + l;
      const bool in = q < p0 + tp;
      y[l] = in ? (int32_t)(q / g->ow * g->sh) : 0;
      xx[l] = in ? (int32_t)(q % g->ow * g->sw) : 0;
      m |= (uint32_t)in << l;
    }
    ys[s] = _mm512_loadu_si512((const void *)y);
    xs[s] = _mm512_loadu_si512((const void *)xx);
    live[s] = (__mmask16)m;
    const int64_t q = p0 + s * 16;
    const bool one = m == 0xFFFF && q / g->ow == (q + 15) / g->ow && g->sw <= 2;
    one_oh[s] = one ? q / g->ow : -1;
    one_ow[s] = q % g->ow;
  }
  const int64_t kk = g->kh * g->kw, hw = g->h * g->w;
  const int32_t h = (int32_t)g->h, w = (int32_t)g->w;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i zero = _mm512_setzero_si512(), vw = _mm512_set1_epi32(w),
                vh = _mm512_set1_epi32(h);
  for (int64_t r = 0; r < kc; r++) {
    const int64_t row = k0 + r, c = row / kk, ki = row % kk / g->kw, kj = row % g->kw;
    const float *plane = x + c * hw;
    const int64_t hoff = ki * g->dh - g->ph, woff = kj * g->dw - g->pw;
    const __m512i vho = _mm512_set1_epi32((int32_t)hoff), vwo = _mm512_set1_epi32((int32_t)woff);
    for (int64_t s = 0; s < ns; s++) {
      float *d = col + (s * kc + r) * 16;
      __m512 v;
      if (one_oh[s] >= 0) {
        const int64_t ih = one_oh[s] * g->sh + hoff, c0 = one_ow[s] * g->sw + woff;
        if (ih < 0 || ih >= g->h) {
          v = _mm512_setzero_ps();
        } else {
          const int64_t src = ih * g->w + c0; /* column c0 + e at plane[src + e] */
          const __m512i cols = _mm512_add_epi32(_mm512_set1_epi32((int32_t)c0), iota);
          const __mmask16 m0 = (__mmask16)(_mm512_cmpge_epi32_mask(cols, zero) &
                                           _mm512_cmplt_epi32_mask(cols, vw));
          const __m512 lo = _mm512_maskz_loadu_ps(m0, AT(plane, src));
          if (g->sw == 1) {
            v = lo;
          } else {
            const __m512i c16 = _mm512_add_epi32(cols, _mm512_set1_epi32(16));
            const __mmask16 m1 = (__mmask16)(_mm512_cmpge_epi32_mask(c16, zero) &
                                             _mm512_cmplt_epi32_mask(c16, vw));
            v = _mm512_permutex2var_ps(lo, even, _mm512_maskz_loadu_ps(m1, AT(plane, src + 16)));
          }
        }
      } else {
        const __m512i iy = _mm512_add_epi32(ys[s], vho), ix = _mm512_add_epi32(xs[s], vwo);
        const __mmask16 m =
            (__mmask16)(live[s] & _mm512_cmpge_epi32_mask(iy, zero) &
                        _mm512_cmplt_epi32_mask(iy, vh) & _mm512_cmpge_epi32_mask(ix, zero) &
                        _mm512_cmplt_epi32_mask(ix, vw));
        const __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(iy, vw), ix);
        v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, plane, 4);
      }
      _mm512_storeu_ps(d, v);
    }
  }
  return true;
}
