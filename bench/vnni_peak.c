/* Single-core int8 peak with AVX-512 VNNI (vpdpbusd: 64 u8 x s8 multiply-adds
 * into 16 int32 lanes per instruction) beside the fp32 AVX-512 FMA peak
 * (16 multiply-adds per instruction): independent chains, enough of them to
 * cover the latency on two pipes. Prints G multiply-adds per second of each.
 *   cc -O2 -mavx512f -mavx512bw -mavx512vnni bench/vnni_peak.c -o /tmp/vnni_peak */
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
  /* volatile loads keep the compiler from folding the loops */
  volatile int av = 0x01020304, bv = 0x01010101;
  volatile float fa = 0.999999f, fb = 1e-7f;
  const __m512i a = _mm512_set1_epi32(av), b = _mm512_set1_epi32(bv);
  const __m512 af = _mm512_set1_ps(fa), bf = _mm512_set1_ps(fb);
  __m512i acc[CHAINS];
  __m512 accf[CHAINS];
  for (int i = 0; i < CHAINS; i++) {
    acc[i] = _mm512_set1_epi32(i);
    accf[i] = _mm512_set1_ps((float)i);
  }
  const long iters = 200000000L / CHAINS;
  double best_i8 = 0, best_f32 = 0;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = now();
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
      for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_dpbusd_epi32(acc[i], a, b);
    }
    double g = (double)iters * CHAINS * 64 / (now() - t0) / 1e9;
    if (g > best_i8) best_i8 = g;
    t0 = now();
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
      for (int i = 0; i < CHAINS; i++) accf[i] = _mm512_fmadd_ps(accf[i], af, bf);
    }
    g = (double)iters * CHAINS * 16 / (now() - t0) / 1e9;
    if (g > best_f32) best_f32 = g;
  }
  int sink = 0;
  for (int i = 0; i < CHAINS; i++)
    sink += _mm512_reduce_add_epi32(acc[i]) + (int)_mm512_reduce_add_ps(accf[i]);
  printf("int8 VNNI %.1f GMAC/s, fp32 FMA %.1f GMAC/s, ratio %.2f%s\n", best_i8, best_f32,
         best_i8 / best_f32, sink == 1 ? " " : "");
  return 0;
}
