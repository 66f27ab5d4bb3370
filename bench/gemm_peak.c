/* Large-GEMM throughput of edgec's kernel families against this core's
 * measured FMA peaks (AVX2 and AVX-512, the bench/fma_peak.c loop at both
 * widths). Links the runtime's static library for ec_sgemm_ex:
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -DEDGEC_HAVE_X86_KERNELS=1 \
 *      -I runtime_c/src -I runtime_c/include bench/gemm_peak.c <build>/libedgec.a -lm -lpthread
 *
 * (bench/gemm_peak.py does this.) Prints one line per measurement:
 *   peak avx2 <GFLOP/s>
 *   peak avx512 <GFLOP/s>
 *   gemm <family> <M> <N> <K> <packed|strided> <GFLOP/s> <max err vs ref / max |ref|>
 * "packed": B pre-packed as the compiler stores weights; "strided": B packed
 * by the GEMM at run time.
 * Single thread; best of several repetitions (the machine is shared). */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/cpu.h"
#include "kernels/ref/gemm_core.h"

#define CHAINS 12

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CHAINS independent FMA chains per ISA: one definition, instantiated twice.
 * The chains start from distinct values ((float)i) so that the compiler
 * cannot merge any: a loop whose chains start at 1 + i * 1e-7f has only ten
 * distinct floats among twelve, GCC folds the equal chains, and counting 12
 * FMAs per iteration for the 10 it runs reads 1.2x the true peak (~210-220
 * against ~183 GFLOP/s on this Xeon; checked by counting the vfmadd in the
 * loop). The loop is 12 register FMAs + sub/jne, two per cycle at the port
 * limit: 2 ports x 16 lanes x 2 flops per cycle. */
#define PEAK_FN(NAME, TARGET, VEC, SET1, FMADD, LANES, FIRST)                   \
  __attribute__((target(TARGET))) static double NAME(void) {                   \
    VEC acc[CHAINS];                                                           \
    volatile float av = 0.999999f, bv = 1e-7f;                                 \
    const VEC a = SET1(av), b = SET1(bv);                                      \
    for (int i = 0; i < CHAINS; i++) acc[i] = SET1((float)i);                  \
    const long iters = 200000000L / CHAINS;                                    \
    double best = 0;                                                           \
    for (int rep = 0; rep < 5; rep++) {                                        \
      const double t0 = now();                                                 \
      for (long it = 0; it < iters; it++) {                                    \
        _Pragma("GCC unroll 12") for (int i = 0; i < CHAINS; i++)              \
          acc[i] = FMADD(acc[i], a, b);                                        \
      }                                                                        \
      const double g = (double)iters * CHAINS * (LANES) * 2 / (now() - t0) / 1e9; \
      if (g > best) best = g;                                                  \
    }                                                                          \
    float sink = 0; /* keeps the chains alive */                               \
    for (int i = 0; i < CHAINS; i++) sink += FIRST(acc[i]);                    \
    return best + 0 * sink;                                                    \
  }

PEAK_FN(peak_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, _mm256_cvtss_f32)
PEAK_FN(peak_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, _mm512_cvtss_f32)

/* B (k x n, row-major) into the packed layout over the whole K. */
static void pack_b_full(int64_t k, int64_t n, const float *b, float *dst) {
  ec_pack_b(k, n, b, n, 1, dst);
}

static float *alloc_floats(size_t n) {
  float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!p) abort();
  return p;
}

static void run(ec_isa isa, const char *name, int64_t m, int64_t n, int64_t k, bool packed,
                int reps) {
  float *a = alloc_floats((size_t)(m * k)), *b = alloc_floats((size_t)(k * n));
  float *bp = alloc_floats((size_t)(ec_round_up(n, EC_PACK_NR) * k));
  float *c = alloc_floats((size_t)(m * n)), *r = alloc_floats((size_t)(m * n));
  void *ws = aligned_alloc(64, ec_sgemm_workspace(m, n, k) + 64);
  if (!ws) abort();
  srand(1);
  for (int64_t i = 0; i < m * k; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
  for (int64_t i = 0; i < k * n; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
  pack_b_full(k, n, b, bp);
  const ec_operand oa = {a, k, 1, 0};
  const ec_operand ob = packed ? (ec_operand){bp, 0, 0, k * EC_PACK_NR}
                               : (ec_operand){b, n, 1, 0};
  ec_sgemm_ex(EC_ISA_REF, m, n, k, &oa, &ob, r, n, false, NULL, ws);
  double best = 1e30;
  for (int rep = 0; rep < reps; rep++) {
    const double t0 = now();
    ec_sgemm_ex(isa, m, n, k, &oa, &ob, c, n, false, NULL, ws);
    const double dt = now() - t0;
    if (dt < best) best = dt;
  }
  double err = 0, scale = 0;
  for (int64_t i = 0; i < m * n; i++) {
    const double e = fabs((double)c[i] - r[i]);
    if (e > err) err = e;
    if (fabs((double)r[i]) > scale) scale = fabs((double)r[i]);
  }
  err = scale > 0 ? err / scale : err;
  printf("gemm %s %lld %lld %lld %s %.1f %.2g\n", name, (long long)m, (long long)n,
         (long long)k, packed ? "packed" : "strided", 2.0 * m * n * k / best / 1e9, err);
  fflush(stdout);
  free(a), free(b), free(bp), free(c), free(r), free(ws);
}

int main(int argc, char **argv) {
  const uint32_t f = ec_cpu_features();
  const int64_t size = argc > 1 ? atoll(argv[1]) : 1024;
  const int reps = argc > 2 ? atoi(argv[2]) : 5;
  if (f & EC_CPU_AVX2) printf("peak avx2 %.1f\n", peak_avx2());
  if (f & EC_CPU_AVX512) printf("peak avx512 %.1f\n", peak_avx512());
  fflush(stdout);
  const struct { ec_isa isa; const char *name; uint32_t need; } fam[] = {
      {EC_ISA_REF, "ref", 0}, {EC_ISA_AVX2, "avx2", EC_CPU_AVX2},
      {EC_ISA_AVX512, "avx512", EC_CPU_AVX512}};
  for (int i = 0; i < 3; i++) {
    if ((f & fam[i].need) != fam[i].need) continue;
    run(fam[i].isa, fam[i].name, size, size, size, true, reps);
    run(fam[i].isa, fam[i].name, size, size, size, false, reps);
  }
  /* Again after the GEMMs: the clock follows the load on the other cores
   * (174-186 GFLOP/s here between runs), and the harness takes the best. */
  if (f & EC_CPU_AVX512) printf("peak avx512 %.1f\n", peak_avx512());
  return 0;
}
