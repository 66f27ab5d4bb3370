/* Vectorized activations, AVX-512 (act_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx512.h"

#include "kernels/x86/act_impl.h"

void ec_x86_act_avx512(float *y, int64_t n, const ec_act *act) { act_rows(y, n, act); }

void ec_x86_add_act_avx512(float *y, const float *s, int64_t n, const ec_act *act) {
  const uint8_t kind = act->kind;
  const float alpha = act->alpha, beta = act->beta;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, v_act(_mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_loadu_ps(s + i)),
                                  kind, alpha, beta));
  if (i < n) {
    const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(k, y + i), _mm512_maskz_loadu_ps(k, s + i));
    _mm512_mask_storeu_ps(y + i, k, v_act(v, kind, alpha, beta));
  }
}
