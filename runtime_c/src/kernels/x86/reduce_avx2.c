/* ReduceSum / ReduceMean of float32 over a contiguous run (kernels/ref/
 * reduce.c), AVX2. */
#include <immintrin.h>

#include "kernels/x86/x86.h"

double ec_x86_sum_f32_avx2(const float *x, int64_t n) {
  /* Four chains of four doubles: the portable fold adds on one chain, one
   * add per add latency (1x96x56x56 over H, W: 243 us, onnxruntime 38). */
  __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
    s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 8)));
    s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 12)));
  }
  double lane[4];
  _mm256_storeu_pd(lane, _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
  double sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
  for (; i < n; i++) sum += x[i];
  return sum;
}
