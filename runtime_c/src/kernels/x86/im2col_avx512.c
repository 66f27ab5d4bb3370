/* Conv im2col into the GEMM's packed B layout, AVX-512 (conv.c's im2col,
 * the same result). A sliver of 16 output pixels of one unfolded row is one
 * vector: with stride 1 or 2, per output row the sliver spans (up to 4),
 * one or two masked contiguous loads (stride 2: the even columns picked by
 * one permute) blended into that row's lanes; otherwise one masked gather.
 * Out-of-image taps and pixels past tp read as zero. Slivers across output
 * rows used to gather (ResNet-18's stride-2 3x3 convs at 28x28 and 14x14
 * outputs: half or all of their slivers): the 28x28 128 -> 256 layer's
 * im2col 0.23 -> 0.10 ms (1 thread, of its 1.2), the 14x14's 0.16 -> 0.08;
 * with each segment's load offsets and column masks made once per tap, not
 * per unfolded row: 0.066 and 0.051 (the 56x56 64 -> 128's 0.27 -> 0.11).
 * (Sliver by sliver instead, stores contiguous: slower, 0.14 and 0.11.) */
#include <immintrin.h>

#include "kernels/x86/x86.h"

#define MAX_SLIVERS 64
#define MAX_SEG 4 /* output rows a sliver's 16 pixels may span (ow >= 5) */

/* Lanes `lanes` of a sliver lie in one output row: lane l reads input row
 * ih and column c0 + l * sw, plus the tap's row and column offsets. */
typedef struct seg {
  __mmask16 lanes;
  int64_t ih, c0;
} seg;

/* One segment's loads for one tap (kernel row and column): the offset of
 * lane 0's input in the channel's plane and the columns inside the image of
 * the 32 from there (0: the row is outside, nothing to load). */
typedef struct tap_load {
  int32_t off;
  uint32_t cols;
} tap_load;
#define MAX_LOADS 2048 /* slivers x MAX_SEG x taps in the table */

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
  /* per sliver: lane l's output row * sh and column * sw; live lanes; its
   * live lanes cut at the output rows (segments), or nseg -1 where that
   * takes over MAX_SEG or the stride is over 2 */
  __m512i ys[MAX_SLIVERS], xs[MAX_SLIVERS];
  __mmask16 live[MAX_SLIVERS];
  int nseg[MAX_SLIVERS];
  seg segs[MAX_SLIVERS][MAX_SEG];
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
    const int64_t n = tp - s * 16 < 16 ? tp - s * 16 : 16;
    int64_t l = 0;
    int k = 0;
    for (; l < n && k < MAX_SEG; k++) {
      const int64_t q = p0 + s * 16 + l, oc = q % g->ow;
      const int64_t len = n - l < g->ow - oc ? n - l : g->ow - oc;
      segs[s][k] = (seg){(__mmask16)(((1u << (l + len)) - 1) & ~((1u << l) - 1)),
                         q / g->ow * g->sh, (oc - l) * g->sw};
      l += len;
    }
    nseg[s] = l < n || g->sw > 2 ? -1 : k;
  }
  const int64_t kk = g->kh * g->kw, hw = g->h * g->w;
  const int32_t h = (int32_t)g->h, w = (int32_t)g->w;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28,
                                         30);
  const __m512i zero = _mm512_setzero_si512(), vw = _mm512_set1_epi32(w),
                vh = _mm512_set1_epi32(h);
  /* per segment and tap, where its loads start and which columns they take
   * (computed once, not per unfolded row: the loop below is then loads,
   * a permute and a blend per segment); too many taps: all gathers */
  const int64_t span = 16 * g->sw; /* input columns a segment's loads cover */
  tap_load tab[MAX_LOADS];
  const bool fits = ns * MAX_SEG * kk <= MAX_LOADS;
  for (int64_t s = 0; s < ns; s++) {
    if (!fits) nseg[s] = -1;
    for (int k = 0; k < (nseg[s] > 0 ? nseg[s] : 0); k++)
      for (int64_t t = 0; t < kk; t++) {
        const int64_t ih = segs[s][k].ih + t / g->kw * g->dh - g->ph;
        const int64_t c0 = segs[s][k].c0 + t % g->kw * g->dw - g->pw;
        const int64_t a = c0 < 0 ? -c0 : 0, b = g->w - c0 < span ? g->w - c0 : span;
        tap_load *e = &tab[(s * MAX_SEG + k) * kk + t];
        e->off = (int32_t)(ih * g->w + c0);
        e->cols = ih < 0 || ih >= g->h || a >= b
                      ? 0
                      : (uint32_t)((((uint64_t)1 << b) - 1) & ~(((uint64_t)1 << a) - 1));
      }
  }
  int64_t c = k0 / kk, tap = k0 % kk;
  for (int64_t r = 0; r < kc; r++) {
    const float *plane = x + c * hw;
    const int64_t ki = tap / g->kw, kj = tap % g->kw;
    const int64_t hoff = ki * g->dh - g->ph, woff = kj * g->dw - g->pw;
    const __m512i vho = _mm512_set1_epi32((int32_t)hoff), vwo = _mm512_set1_epi32((int32_t)woff);
    for (int64_t s = 0; s < ns; s++) {
      float *d = col + (s * kc + r) * 16;
      __m512 v = _mm512_setzero_ps();
      if (nseg[s] >= 0) {
        /* per segment, lane l reads input column c0 + l * sw of its row:
         * one or two masked contiguous loads (the columns inside the row;
         * stride 2: the even ones picked by one permute) into its lanes */
        for (int k = 0; k < nseg[s]; k++) {
          const tap_load e = tab[(s * MAX_SEG + k) * kk + tap];
          if (!e.cols) continue;
          const float *src = AT(plane, e.off);
          __m512 t = _mm512_maskz_loadu_ps((__mmask16)e.cols, src);
          if (g->sw == 2)
            t = _mm512_permutex2var_ps(t, even, _mm512_maskz_loadu_ps((__mmask16)(e.cols >> 16),
                                                                      AT(src, 16)));
          v = _mm512_mask_mov_ps(v, segs[s][k].lanes, t);
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
    if (++tap == kk) tap = 0, c++;
  }
  return true;
}
