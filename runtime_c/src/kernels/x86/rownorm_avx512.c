/* Softmax, LogSoftmax and LayerNormalization rows, AVX-512
 * (rownorm_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/rownorm_x86.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx512.h"

#define TMASK __mmask16
#define TAIL_MASK(k) ((__mmask16)((1u << (k)) - 1u))
#define V_LOAD_TAIL(p, m, fill) _mm512_mask_loadu_ps((fill), (m), (p))
#define V_STORE_TAIL(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define V_KEEP_GE(v, d, lo) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((d), (lo), _CMP_GE_OQ), (v))
#define NANACC __mmask16
#define NAN_INIT ((__mmask16)0)
#define NAN_ACC(acc, v) ((acc) |= _mm512_cmp_ps_mask((v), (v), _CMP_UNORD_Q))
#define NAN_ANY(acc) ((acc) != 0)
#define V_HMAX _mm512_reduce_max_ps
#define V_HSUM _mm512_reduce_add_ps
#define DVEC __m512d
#define DV_ZERO _mm512_setzero_pd()
#define DV_ACC(a0, a1, v)                                                        \
  do {                                                                           \
    const __m512 v_ = (v);                                                       \
    (a0) = _mm512_add_pd((a0), _mm512_cvtps_pd(_mm512_castps512_ps256(v_)));     \
    (a1) = _mm512_add_pd((a1), _mm512_cvtps_pd(_mm512_extractf32x8_ps(v_, 1)));  \
  } while (0)
#define DV_HSUM(a0, a1) _mm512_reduce_add_pd(_mm512_add_pd((a0), (a1)))

#include "kernels/x86/rownorm_impl.h"

void ec_x86_softmax_rows_avx512(const float *x, float *y, int64_t n, int64_t begin,
                                int64_t end, bool log_form) {
  softmax_rows(x, y, n, begin, end, log_form);
}

void ec_x86_layer_norm_rows_avx512(const ec_ln_rows *a, int64_t begin, int64_t end) {
  layer_norm_rows(a, begin, end);
}
