/* Sparse x dense products, AVX2 + FMA (built with -mavx2 -mfma; called only
 * after the CPU check in kernels/ref/sparse_core.c). */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/ref/sparse_core.h"

#define VEC __m256
#define VLEN 8
#define MASK_T __m256i
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(f) _mm256_set1_ps(f)
#define V_BCAST(p) _mm256_broadcast_ss(p)
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOADM(p, m) _mm256_maskload_ps(p, m)
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_STOREM(p, m, v) _mm256_maskstore_ps(p, m, v)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_ADD _mm256_add_ps
#define V_MUL _mm256_mul_ps
#define V_MAX _mm256_max_ps
#define V_MIN _mm256_min_ps
#define V_MASK(n) \
  _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define CSR_VECS 8
#define B4_VECS 2
#define SP_ROWS ec_x86_sp_rows_avx2
#define SP_SHIFT ec_x86_sp_shift_avx2
#define SH_VECS 8

#include "kernels/x86/sparse_impl.h"

static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* One CSR row against x: eight stored weights at a time, their inputs
 * gathered. */
SP_INLINE float gather_row(const ec_sparse *w, const float *values, int64_t r, const float *x,
                           const bool u16) {
  const uint16_t *i16 = (const uint16_t *)w->indices;
  const int32_t *i32 = (const int32_t *)w->indices;
  int64_t j = w->indptr[r];
  const int64_t je = w->indptr[r + 1];
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  for (; j + 16 <= je; j += 16) {
    __m256i k0, k1;
    if (u16) {
      k0 = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(i16 + j)));
      k1 = _mm256_cvtepu16_epi32(
          _mm_loadu_si128((const __m128i *)(const void *)(i16 + j + 8)));
    } else {
      k0 = _mm256_loadu_si256((const __m256i *)(const void *)(i32 + j));
      k1 = _mm256_loadu_si256((const __m256i *)(const void *)(i32 + j + 8));
    }
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(values + j), _mm256_i32gather_ps(x, k0, 4), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(values + j + 8), _mm256_i32gather_ps(x, k1, 4), a1);
  }
  float acc = hsum(_mm256_add_ps(a0, a1));
  for (; j < je; j++) acc += values[j] * x[u16 ? (int64_t)i16[j] : (int64_t)i32[j]];
  return acc;
}

void ec_x86_sp_gather_avx2(const ec_sparse *w, const float *values, int64_t r0, int64_t r1,
                           const float *x, float *y, const ec_sp_epilogue *e) {
  const int64_t br = w->block_r, bc = w->block_c;
  const bool u16 = w->index_bytes == 2;
  for (int64_t r = r0; r < r1; r++) {
    float acc = 0.0f;
    if (br == 1 && bc == 1) {
      acc = u16 ? gather_row(w, values, r, x, true) : gather_row(w, values, r, x, false);
    } else {
      const int64_t brow = r / br, rr = r % br;
      for (int64_t j = w->indptr[brow]; j < w->indptr[brow + 1]; j++) {
        const float *xs = x + ec_sp_index(w, j) * bc, *v = values + (j * br + rr) * bc;
        for (int64_t c = 0; c < bc; c++) acc += v[c] * xs[c];
      }
    }
    const float bias = e->bias ? e->beta * e->bias[r - r0] : 0.0f;
    y[r - r0] = e->alpha * acc + bias;
  }
  ec_act_apply(y, r1 - r0, 0.0f, &e->act);
}
