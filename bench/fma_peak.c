/* Single-core fp32 FMA peak: independent FMA chains on 8-wide AVX2 vectors
 * (16-wide AVX-512 when built with -DFMA_PEAK_AVX512 -mavx512f), enough of
 * them to cover the FMA latency on two pipes. Prints GFLOP/s. */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define CHAINS 12

#ifdef FMA_PEAK_AVX512
typedef __m512 vec;
#define LANES 16
#define set1 _mm512_set1_ps
#define fmadd _mm512_fmadd_ps
#define first_lane(v) _mm512_cvtss_f32(v)
#else
typedef __m256 vec;
#define LANES 8
#define set1 _mm256_set1_ps
#define fmadd _mm256_fmadd_ps
#define first_lane(v) _mm256_cvtss_f32(v)
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(void) {
  vec acc[CHAINS];
  /* volatile loads keep the compiler from folding the loop to a constant */
  volatile float av = 0.999999f, bv = 1e-7f;
  const vec a = set1(av), b = set1(bv);
  for (int i = 0; i < CHAINS; i++) acc[i] = set1((float)i);
  const long iters = 200000000L / CHAINS;
  double best = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
      for (int i = 0; i < CHAINS; i++) acc[i] = fmadd(acc[i], a, b);
    }
    double dt = now() - t0;
    double gflops = (double)iters * CHAINS * LANES * 2 / dt / 1e9;
    if (gflops > best) best = gflops;
  }
  float sink = 0;
  for (int i = 0; i < CHAINS; i++) sink += first_lane(acc[i]);
  printf("%.2f\n", best + 0 * sink);
  return 0;
}
