/* AVX2 + FMA GEMM on packed operands: a 6 x 16 register tile (12 ymm
 * accumulators; per k two loads of B and six broadcasts of A feed twelve
 * FMAs), the epilogue applied in registers, edges stored with masks. */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#define PMR EC_PACK_MR
#define PNR EC_PACK_NR

static const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Lanes [0, n) of 8 set, n clamped to [0, 8]. */
static inline __m256i lane_mask(int64_t n) {
  n = n < 0 ? 0 : n > 8 ? 8 : n;
  return _mm256_loadu_si256((const __m256i *)(kMaskTable + 8 - n));
}

static inline __m256 load8(const float *p, int full, __m256i m) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

static inline void store8(float *p, __m256 v, int full, __m256i m) {
  if (full)
    _mm256_storeu_ps(p, v);
  else
    _mm256_maskstore_ps(p, m, v);
}

static inline int simple_act(uint8_t kind) {
  return kind == EC_FB_ACTIVATION_NONE || kind == EC_FB_ACTIVATION_RELU ||
         kind == EC_FB_ACTIVATION_CLIP || kind == EC_FB_ACTIVATION_LEAKY_RELU;
}

/* The epilogue of one row of up to 16 values (v[0], v[1]) at column 0 of
 * the tile; row is the tile row (for the bias and the addend). */
static inline void finish_row(float *c, __m256 v0, __m256 v1, int nv, int full, __m256i m0,
                              __m256i m1, bool accumulate, const ec_epilogue *e, int64_t row) {
  if (accumulate) {
    v0 = _mm256_add_ps(v0, load8(c, full, m0));
    if (nv == 2) v1 = _mm256_add_ps(v1, load8(c + 8, full, m1));
  }
  if (e) {
    if (e->alpha != 1.0f) {
      const __m256 al = _mm256_set1_ps(e->alpha);
      v0 = _mm256_mul_ps(v0, al);
      v1 = _mm256_mul_ps(v1, al);
    }
    if (e->bias) {
      const float *b = e->bias + row * e->bias_rs;
      const __m256 be = _mm256_set1_ps(e->beta);
      if (e->bias_cs == 0) {
        const __m256 bv = _mm256_mul_ps(be, _mm256_set1_ps(b[0]));
        v0 = _mm256_add_ps(v0, bv);
        v1 = _mm256_add_ps(v1, bv);
      } else {
        v0 = _mm256_add_ps(v0, _mm256_mul_ps(be, load8(b, full, m0)));
        if (nv == 2) v1 = _mm256_add_ps(v1, _mm256_mul_ps(be, load8(b + 8, full, m1)));
      }
    }
    if (e->add) {
      const float *a = e->add + row * e->ld_add;
      v0 = _mm256_add_ps(v0, load8(a, full, m0));
      if (nv == 2) v1 = _mm256_add_ps(v1, load8(a + 8, full, m1));
    }
    switch (e->act.kind) {
      case EC_FB_ACTIVATION_RELU: {
        const __m256 z = _mm256_setzero_ps();
        v0 = _mm256_max_ps(v0, z);
        v1 = _mm256_max_ps(v1, z);
        break;
      }
      case EC_FB_ACTIVATION_CLIP: {
        const __m256 lo = _mm256_set1_ps(e->act.alpha), hi = _mm256_set1_ps(e->act.beta);
        v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);
        v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
        break;
      }
      case EC_FB_ACTIVATION_LEAKY_RELU: {
        const __m256 z = _mm256_setzero_ps(), al = _mm256_set1_ps(e->act.alpha);
        v0 = _mm256_blendv_ps(_mm256_mul_ps(v0, al), v0, _mm256_cmp_ps(v0, z, _CMP_GE_OQ));
        v1 = _mm256_blendv_ps(_mm256_mul_ps(v1, al), v1, _mm256_cmp_ps(v1, z, _CMP_GE_OQ));
        break;
      }
      default: break;
    }
  }
  store8(c, v0, full, m0);
  if (nv == 2) store8(c + 8, v1, full, m1);
}

#define FMA_ROW(i)                                      \
  do {                                                  \
    const __m256 ai = _mm256_broadcast_ss(a + (i));     \
    c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);         \
    if (NV == 2) c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1); \
  } while (0)

#define FINISH_ROW(i)                                                                \
  if ((i) < mr)                                                                      \
  finish_row(c + (i) * ldc, c##i##0, c##i##1, NV, full, m0, m1, accumulate, e, (i))

/* One tile: rows [0, mr) of one A sliver against NV * 8 columns of one B
 * sliver, nr of them valid. */
static inline __attribute__((always_inline)) void tile(const int NV, int64_t kc,
                                                       const float *a, const float *b,
                                                       float *c, int64_t ldc, int64_t mr,
                                                       int64_t nr, bool accumulate,
                                                       const ec_epilogue *e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; p++) {
    const __m256 b0 = _mm256_loadu_ps(b);
    const __m256 b1 = NV == 2 ? _mm256_loadu_ps(b + 8) : b0;
    FMA_ROW(0);
    FMA_ROW(1);
    FMA_ROW(2);
    FMA_ROW(3);
    FMA_ROW(4);
    FMA_ROW(5);
    a += PMR;
    b += PNR;
  }
  const int full = nr == NV * 8;
  const __m256i m0 = lane_mask(nr), m1 = lane_mask(nr - 8);
  FINISH_ROW(0);
  FINISH_ROW(1);
  FINISH_ROW(2);
  FINISH_ROW(3);
  FINISH_ROW(4);
  FINISH_ROW(5);
  if (e && !simple_act(e->act.kind))
    for (int64_t i = 0; i < mr; i++) ec_x86_act_avx2(c + i * ldc, nr, &e->act);
}

/* One row of A (m == 1, a matrix-vector product): the 6-row tile would
 * spend 5/6 of its FMAs on padding, and the product streams B from memory,
 * so: two B slivers at once, two k steps per iteration (eight independent
 * accumulators), B prefetched ahead. */
static void row_times_b(int64_t n, int64_t kc, const float *a, const float *b, int64_t b_sliver,
                        float *c, bool accumulate, const ec_epilogue *e) {
  for (int64_t j0 = 0; j0 < n; j0 += 2 * PNR) {
    const int64_t nr = n - j0 < 2 * PNR ? n - j0 : 2 * PNR, ns = (nr + PNR - 1) / PNR;
    const float *bs[2] = {b + j0 / PNR * b_sliver, b + (j0 / PNR + (ns > 1)) * b_sliver};
    __m256 acc[2][2][2]; /* sliver, half, k phase */
    for (int s = 0; s < 2; s++)
      for (int h = 0; h < 2; h++) acc[s][h][0] = acc[s][h][1] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= kc; p += 2) {
      const __m256 a0 = _mm256_broadcast_ss(a + p * PMR), a1 = _mm256_broadcast_ss(a + (p + 1) * PMR);
      for (int s = 0; s < 2; s++) {
        const float *bp = bs[s] + p * PNR;
        _mm_prefetch((const char *)(bp + 32 * PNR), _MM_HINT_T0);
        acc[s][0][0] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bp), acc[s][0][0]);
        acc[s][1][0] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bp + 8), acc[s][1][0]);
        acc[s][0][1] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(bp + PNR), acc[s][0][1]);
        acc[s][1][1] = _mm256_fmadd_ps(a1, _mm256_loadu_ps(bp + PNR + 8), acc[s][1][1]);
      }
    }
    if (p < kc) {
      const __m256 a0 = _mm256_broadcast_ss(a + p * PMR);
      for (int s = 0; s < 2; s++) {
        acc[s][0][0] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bs[s] + p * PNR), acc[s][0][0]);
        acc[s][1][0] = _mm256_fmadd_ps(a0, _mm256_loadu_ps(bs[s] + p * PNR + 8), acc[s][1][0]);
      }
    }
    for (int64_t s = 0; s < ns; s++) {
      const int64_t w = nr - s * PNR < PNR ? nr - s * PNR : PNR;
      ec_epilogue es;
      if (e) es = ec_epilogue_at(e, 0, j0 + s * PNR);
      finish_row(c + j0 + s * PNR, _mm256_add_ps(acc[s][0][0], acc[s][0][1]),
                 _mm256_add_ps(acc[s][1][0], acc[s][1][1]), 2, w == PNR, lane_mask(w),
                 lane_mask(w - 8), accumulate, e ? &es : NULL, 0);
    }
    if (e && !simple_act(e->act.kind)) ec_x86_act_avx2(c + j0, nr, &e->act);
  }
}

void ec_x86_gemm_packed_avx2(int64_t m, int64_t n, int64_t kc, const float *a,
                             int64_t a_sliver, const float *b, int64_t b_sliver, float *c,
                             int64_t ldc, bool accumulate, const ec_epilogue *epi) {
  if (m == 1) {
    row_times_b(n, kc, a, b, b_sliver, c, accumulate, epi);
    return;
  }
  for (int64_t j0 = 0; j0 < n; j0 += PNR) {
    const int64_t nr = n - j0 < PNR ? n - j0 : PNR;
    const float *bj = b + j0 / PNR * b_sliver;
    for (int64_t i0 = 0; i0 < m; i0 += PMR) {
      const int64_t mr = m - i0 < PMR ? m - i0 : PMR;
      const float *ai = a + i0 / PMR * a_sliver;
      float *cij = c + i0 * ldc + j0;
      ec_epilogue e;
      if (epi) e = ec_epilogue_at(epi, i0, j0);
      if (nr > 8)
        tile(2, kc, ai, bj, cij, ldc, mr, nr, accumulate, epi ? &e : NULL);
      else
        tile(1, kc, ai, bj, cij, ldc, mr, nr, accumulate, epi ? &e : NULL);
    }
  }
}
