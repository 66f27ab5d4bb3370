/* Fused attention jobs, AVX-512 (attention_impl.h): a 12 x 32 register tile
 * (24 zmm accumulators, as the packed GEMM's). */
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#include "generated/schema.h"
#include "kernels/attention.h"

#include "kernels/x86/vec_avx512.h"

#define MR 12
#define TMASK __mmask16
static inline __mmask16 att_lanes(int64_t k) {
  return (__mmask16)((1u << (k < 0 ? 0 : k > 16 ? 16 : k)) - 1u);
}
#define LANES(k) att_lanes(k)
#define V_LOAD_M(p, m) _mm512_maskz_loadu_ps((m), (p))
#define V_LOAD_F(p, m, fill) _mm512_mask_loadu_ps((fill), (m), (p))
#define V_STORE_M(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_SEL(m, a, b) _mm512_mask_blend_ps((m), (b), (a))
#define V_HMAX _mm512_reduce_max_ps
#define V_HSUM _mm512_reduce_add_ps
/* The clamp keeps 2^n >= FLT_MIN (n >= -126): results are FLT_MIN or more,
 * or exactly 0 where d is below it (NLT keeps NaN lanes). Never a denormal:
 * producing one (and multiplying by it in P . V) takes a microcode assist
 * on Intel cores, which made a padding mask of -90 six times slower, and
 * expf's denormals there are under 1.2e-38 on a row that sums to >= 1. */
#define EXP_LO (-87.33654f)
#define V_EXP2N(p, n, d) \
  _mm512_maskz_scalef_ps(_mm512_cmp_ps_mask((d), _mm512_set1_ps(EXP_LO), _CMP_NLT_UQ), (p), (n))

/* dst[c][r] = src[r][c], 16 x 16: 64 shuffles (a gather per 16 floats
 * measured ~4x slower here). After the in-lane stages, u[4g + c] holds
 * column c + 4L of rows 4g..4g+3 in its 128-bit lane L; the two cross-lane
 * stages assemble each column from the four groups. */
static inline void att_transpose(const float *src, int64_t ss, float *dst, int64_t ds) {
  __m512 u[16];
  for (int g = 0; g < 4; g++) {
    const float *r = src + 4 * g * ss;
    const __m512 r0 = _mm512_loadu_ps(r), r1 = _mm512_loadu_ps(r + ss);
    const __m512 r2 = _mm512_loadu_ps(r + 2 * ss), r3 = _mm512_loadu_ps(r + 3 * ss);
    const __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
    const __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
    u[4 * g] = _mm512_shuffle_ps(t0, t2, 0x44);
    u[4 * g + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
    u[4 * g + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
    u[4 * g + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
  }
  for (int c = 0; c < 4; c++) {
    const __m512 v = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
    const __m512 w = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
    const __m512 w2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
    _mm512_storeu_ps(dst + c * ds, _mm512_shuffle_f32x4(v, v2, 0x88));
    _mm512_storeu_ps(dst + (c + 4) * ds, _mm512_shuffle_f32x4(w, w2, 0x88));
    _mm512_storeu_ps(dst + (c + 8) * ds, _mm512_shuffle_f32x4(v, v2, 0xDD));
    _mm512_storeu_ps(dst + (c + 12) * ds, _mm512_shuffle_f32x4(w, w2, 0xDD));
  }
}

#include "kernels/x86/attention_impl.h"

void ec_x86_attention_avx512(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws) {
  att_jobs(a, begin, end, ws);
}
