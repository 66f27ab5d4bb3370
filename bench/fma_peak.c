/* Single-core fp32 FMA peak: independent FMA chains on 8-wide AVX2 vectors,
 * enough of them to cover the FMA latency on two pipes. Prints GFLOP/s. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 12

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
  __m256 acc[CHAINS];
  /* volatile loads keep the compiler from folding the loop to a constant */
  volatile float av = 0.999999f, bv = 1e-7f;
  const __m256 a = _mm256_set1_ps(av), b = _mm256_set1_ps(bv);
  for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_set1_ps((float)i);
  const long iters = 200000000L / CHAINS;
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
      for (int i = 0; i < CHAINS; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    double dt = now() - t0;
    double gflops = (double)iters * CHAINS * 8 * 2 / dt / 1e9;
    if (gflops > best) best = gflops;
  }
  float sink = 0;
  for (int i = 0; i < CHAINS; i++) sink += _mm256_cvtss_f32(acc[i]);
  printf("%.2f\n", best + 0 * sink);
  return 0;
}
