/* Correctness of the AArch64 NEON GEMM (src/kernels/neon/sgemm_neon.c),
 * cross-compiled and run under qemu-aarch64 (tests/targets/test_neon_gemm.py):
 *
 *   test_sgemm_neon [--seed N] [--expect FEATURES]
 *
 * Every result is compared with a triple loop in double, element by element,
 * against the fp32 error bound of a k-term dot product:
 *   |got - want| <= (k + 8) * FLT_EPSILON * (sum_p |a_ip * b_pj| + |terms|)
 * (an indexing or packing error is off by O(1), far outside it), and the
 * columns of C past n (row padding) must keep their sentinel bits.
 *
 *   1. ec_sgemm_neon: random shapes (m, n, k in 1..67), A and B each
 *      row-major or transposed, padded row strides, with and without
 *      accumulate; then fixed shapes: tails, m == 1 and n == 1, k == 0, and
 *      big ones across the cache blocks (256^3; 129 x 77 x 300 with two K
 *      blocks; 300 x 1100 x 40 with two M and two N blocks).
 *   2. ec_neon_gemm_packed, the dispatcher's hook, the way ec_sgemm_ex calls
 *      it: operands pre-packed over the whole K (sliver = K * width), K
 *      walked in blocks, the epilogue (alpha, bias per row / column / matrix,
 *      residual add, activation) on the last block.
 *   3. ec_cpu_arm_features: --expect "dotprod,!i8mm" lists bits that must be
 *      set (or clear, with !): asimd, fp16, dotprod, i8mm.
 *
 * Prints "N passed, N failed"; the exit status is 1 when anything failed. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generated/schema.h"
#include "kernels/neon/sgemm_neon.h"
#include "kernels/ref/gemm_core.h"

static int g_passed, g_failed;
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;

static uint64_t next_u64(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}
static int64_t rand_int(int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1));
}
static float rand_float(void) { /* [-1, 1) */
  return (float)((double)(next_u64() >> 40) / (double)(1u << 23) - 1.0);
}

/* Exact sizes (malloc, no rounding up), so that AddressSanitizer builds catch
 * a read one float past an operand. */
static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes > 0 ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static void report(int ok, const char *what) {
  if (ok) {
    g_passed++;
  } else {
    g_failed++;
    if (g_failed <= 20) printf("FAIL %s\n", what);
  }
}

static const float kSentinel = 777.25f;

/* ---- 1. ec_sgemm_neon --------------------------------------------------------- */

typedef struct gemm_case {
  int64_t m, n, k;
  int trans_a, trans_b; /* operand stored transposed (column-major) */
  bool accumulate;
} gemm_case;

static int check_sgemm(const gemm_case *t) {
  const int64_t m = t->m, n = t->n, k = t->k;
  const int64_t pad = rand_int(0, 3);
  /* A is m x k: row-major with row stride k + pad, or transposed (k x m stored). */
  const int64_t a_ld = (t->trans_a ? m : k) + pad, b_ld = (t->trans_b ? k : n) + pad;
  const int64_t a_rows = t->trans_a ? k : m, b_rows = t->trans_b ? n : k;
  const int64_t a_rs = t->trans_a ? 1 : a_ld, a_cs = t->trans_a ? a_ld : 1;
  const int64_t b_rs = t->trans_b ? 1 : b_ld, b_cs = t->trans_b ? b_ld : 1;
  const int64_t ldc = n + rand_int(0, 5);
  float *a = xmalloc(sizeof(float) * (size_t)(a_rows * a_ld));
  float *b = xmalloc(sizeof(float) * (size_t)(b_rows * b_ld));
  float *c = xmalloc(sizeof(float) * (size_t)(m * ldc));
  float *old = xmalloc(sizeof(float) * (size_t)(m * n));
  for (int64_t i = 0; i < a_rows * a_ld; i++) a[i] = rand_float();
  for (int64_t i = 0; i < b_rows * b_ld; i++) b[i] = rand_float();
  for (int64_t i = 0; i < m * ldc; i++) c[i] = kSentinel;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++)
      c[i * ldc + j] = old[i * n + j] = t->accumulate ? rand_float() : kSentinel;
  void *ws = xmalloc(ec_sgemm_neon_workspace(m, n, k));

  ec_sgemm_neon(m, n, k, a, a_rs, a_cs, b, b_rs, b_cs, c, ldc, t->accumulate, ws);

  int ok = 1;
  double worst = 0;
  for (int64_t i = 0; i < m && ok; i++) {
    for (int64_t j = 0; j < n; j++) {
      double want = t->accumulate ? old[i * n + j] : 0.0, mag = fabs(want);
      for (int64_t p = 0; p < k; p++) {
        const double prod = (double)a[i * a_rs + p * a_cs] * b[p * b_rs + j * b_cs];
        want += prod;
        mag += fabs(prod);
      }
      const double err = fabs(c[i * ldc + j] - want), tol = (double)(k + 8) * FLT_EPSILON * mag;
      if (!(err <= tol)) { /* also catches NaN */
        printf("  sgemm %lldx%lldx%lld tA=%d tB=%d acc=%d: C[%lld,%lld] = %.9g, want %.9g\n",
               (long long)m, (long long)n, (long long)k, t->trans_a, t->trans_b,
               (int)t->accumulate, (long long)i, (long long)j, c[i * ldc + j], want);
        ok = 0;
        break;
      }
      if (mag > 0 && err / mag > worst) worst = err / mag;
    }
    for (int64_t j = n; j < ldc; j++)
      if (memcmp(&c[i * ldc + j], &kSentinel, sizeof(float)) != 0) {
        printf("  sgemm %lldx%lldx%lld: wrote past column n (row %lld, col %lld)\n",
               (long long)m, (long long)n, (long long)k, (long long)i, (long long)j);
        ok = 0;
        break;
      }
  }
  free(a);
  free(b);
  free(c);
  free(old);
  free(ws);
  return ok;
}

static void run_sgemm(const gemm_case *t) {
  char what[128];
  snprintf(what, sizeof what, "ec_sgemm_neon m=%lld n=%lld k=%lld transA=%d transB=%d acc=%d",
           (long long)t->m, (long long)t->n, (long long)t->k, t->trans_a, t->trans_b,
           (int)t->accumulate);
  report(check_sgemm(t), what);
}

/* ---- 2. ec_neon_gemm_packed with an epilogue ------------------------------------ */

/* The packed layout of gemm_core.h over the whole K, as the compiler stores
 * constant weights (edgec/lower/conv.py pack_a / pack_b): A (m x k) in
 * slivers of EC_PACK_MR rows, element (i, p) of sliver s at
 * [(s * k + p) * EC_PACK_MR + i]; B (k x n) in slivers of EC_PACK_NR
 * columns, element (p, j) at [(s * k + p) * EC_PACK_NR + j]; zero-padded. */
static float *pack_a_full(int64_t m, int64_t k, const float *a) { /* a: m x k row-major */
  const int64_t ns = (m + EC_PACK_MR - 1) / EC_PACK_MR;
  float *d = xmalloc(sizeof(float) * (size_t)(ns * k * EC_PACK_MR));
  for (int64_t s = 0; s < ns; s++)
    for (int64_t p = 0; p < k; p++)
      for (int64_t i = 0; i < EC_PACK_MR; i++) {
        const int64_t r = s * EC_PACK_MR + i;
        d[(s * k + p) * EC_PACK_MR + i] = r < m ? a[r * k + p] : 0.0f;
      }
  return d;
}

static float *pack_b_full(int64_t k, int64_t n, const float *b) { /* b: k x n row-major */
  const int64_t ns = (n + EC_PACK_NR - 1) / EC_PACK_NR;
  float *d = xmalloc(sizeof(float) * (size_t)(ns * k * EC_PACK_NR));
  for (int64_t s = 0; s < ns; s++)
    for (int64_t p = 0; p < k; p++)
      for (int64_t j = 0; j < EC_PACK_NR; j++) {
        const int64_t q = s * EC_PACK_NR + j;
        d[(s * k + p) * EC_PACK_NR + j] = q < n ? b[p * n + q] : 0.0f;
      }
  return d;
}

static double act_ref(double v, const ec_act *act) {
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: return v > 0 ? v : 0;
    case EC_FB_ACTIVATION_CLIP: return fmin(fmax(v, act->alpha), act->beta);
    case EC_FB_ACTIVATION_LEAKY_RELU: return v >= 0 ? v : act->alpha * v;
    case EC_FB_ACTIVATION_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case EC_FB_ACTIVATION_TANH: return tanh(v);
    default: return v;
  }
}

static const char *act_name(uint8_t kind) {
  switch (kind) {
    case EC_FB_ACTIVATION_NONE: return "none";
    case EC_FB_ACTIVATION_RELU: return "relu";
    case EC_FB_ACTIVATION_CLIP: return "clip";
    case EC_FB_ACTIVATION_LEAKY_RELU: return "leaky";
    case EC_FB_ACTIVATION_SIGMOID: return "sigmoid";
    case EC_FB_ACTIVATION_TANH: return "tanh";
    default: return "?";
  }
}

enum { BIAS_NONE, BIAS_ROW, BIAS_COL, BIAS_MATRIX, BIAS_SCALAR };

static int check_packed(int64_t m, int64_t n, int64_t k, int64_t kc_block, bool accumulate,
                        int use_epi, int bias_kind, int use_add, uint8_t act_kind) {
  const int64_t ldc = n + rand_int(0, 3);
  float *a = xmalloc(sizeof(float) * (size_t)(m * k));
  float *b = xmalloc(sizeof(float) * (size_t)(k * n));
  float *bias = xmalloc(sizeof(float) * (size_t)(m * n + 1));
  float *add = xmalloc(sizeof(float) * (size_t)(m * n + 1));
  float *c = xmalloc(sizeof(float) * (size_t)(m * ldc));
  float *old = xmalloc(sizeof(float) * (size_t)(m * n + 1));
  for (int64_t i = 0; i < m * k; i++) a[i] = rand_float();
  for (int64_t i = 0; i < k * n; i++) b[i] = rand_float();
  for (int64_t i = 0; i < m * n; i++) bias[i] = rand_float(), add[i] = rand_float();
  for (int64_t i = 0; i < m * ldc; i++) c[i] = kSentinel;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++)
      c[i * ldc + j] = old[i * n + j] = accumulate ? rand_float() : kSentinel;
  float *ap = pack_a_full(m, k, a), *bp = pack_b_full(k, n, b);

  ec_epilogue epi;
  memset(&epi, 0, sizeof epi);
  epi.alpha = rand_int(0, 1) ? 1.0f : 0.75f;
  epi.beta = rand_int(0, 1) ? 1.0f : -0.5f;
  switch (bias_kind) {
    case BIAS_ROW: epi.bias = bias, epi.bias_rs = 1, epi.bias_cs = 0; break;
    case BIAS_COL: epi.bias = bias, epi.bias_rs = 0, epi.bias_cs = 1; break;
    case BIAS_MATRIX: epi.bias = bias, epi.bias_rs = n, epi.bias_cs = 1; break;
    case BIAS_SCALAR: epi.bias = bias, epi.bias_rs = 0, epi.bias_cs = 0; break;
    default: break;
  }
  if (use_add) epi.add = add, epi.ld_add = n;
  epi.act.kind = act_kind;
  epi.act.alpha = act_kind == EC_FB_ACTIVATION_CLIP ? -0.5f : 0.1f;
  epi.act.beta = act_kind == EC_FB_ACTIVATION_CLIP ? 0.75f : 0.0f;

  /* As ec_sgemm_ex walks K over pre-packed operands. */
  if (k == 0) {
    ec_neon_gemm_packed(m, n, 0, ap, 0, bp, 0, c, ldc, accumulate, use_epi ? &epi : NULL);
  }
  for (int64_t pc = 0; pc < k; pc += kc_block) {
    const int64_t kc = k - pc < kc_block ? k - pc : kc_block;
    const bool last = pc + kc == k;
    ec_neon_gemm_packed(m, n, kc, ap + pc * EC_PACK_MR, k * EC_PACK_MR, bp + pc * EC_PACK_NR,
                        k * EC_PACK_NR, c, ldc, accumulate || pc > 0,
                        last && use_epi ? &epi : NULL);
  }

  int ok = 1;
  for (int64_t i = 0; i < m && ok; i++) {
    for (int64_t j = 0; j < n; j++) {
      double s = accumulate ? old[i * n + j] : 0.0, mag = fabs(s);
      for (int64_t p = 0; p < k; p++) {
        const double prod = (double)a[i * k + p] * b[p * n + j];
        s += prod;
        mag += fabs(prod);
      }
      double want = s;
      if (use_epi) {
        want *= epi.alpha;
        mag *= fabs(epi.alpha);
        if (epi.bias) {
          const double bv = (double)epi.beta * epi.bias[i * epi.bias_rs + j * epi.bias_cs];
          want += bv;
          mag += fabs(bv);
        }
        if (epi.add) {
          want += add[i * n + j];
          mag += fabs(add[i * n + j]);
        }
        want = act_ref(want, &epi.act);
        if (act_kind == EC_FB_ACTIVATION_LEAKY_RELU && fabs(epi.act.alpha) > 1)
          mag *= fabs(epi.act.alpha);
      }
      const double err = fabs(c[i * ldc + j] - want);
      const double tol = (double)(k + 8) * FLT_EPSILON * mag + 1e-7; /* 1e-7: libm's sigmoid */
      if (!(err <= tol)) {
        printf("  packed %lldx%lldx%lld kc=%lld acc=%d epi=%d bias=%d add=%d act=%s: "
               "C[%lld,%lld] = %.9g, want %.9g\n",
               (long long)m, (long long)n, (long long)k, (long long)kc_block, (int)accumulate,
               use_epi, bias_kind, use_add, act_name(act_kind), (long long)i, (long long)j,
               c[i * ldc + j], want);
        ok = 0;
        break;
      }
    }
    for (int64_t j = n; j < ldc; j++)
      if (memcmp(&c[i * ldc + j], &kSentinel, sizeof(float)) != 0) {
        printf("  packed %lldx%lldx%lld: wrote past column n\n", (long long)m, (long long)n,
               (long long)k);
        ok = 0;
        break;
      }
  }
  free(a);
  free(b);
  free(bias);
  free(add);
  free(c);
  free(old);
  free(ap);
  free(bp);
  return ok;
}

/* ---- 3. CPU features ----------------------------------------------------------------- */

static const struct {
  const char *name;
  uint32_t bit;
} kFeatures[] = {{"asimd", EC_CPU_ARM_ASIMD},
                 {"fp16", EC_CPU_ARM_FP16},
                 {"dotprod", EC_CPU_ARM_DOTPROD},
                 {"i8mm", EC_CPU_ARM_I8MM}};

static void check_features(const char *expect) {
  const uint32_t f = ec_cpu_arm_features();
  printf("cpu features:");
  for (size_t i = 0; i < sizeof kFeatures / sizeof kFeatures[0]; i++)
    if (f & kFeatures[i].bit) printf(" %s", kFeatures[i].name);
  printf("\n");
  report((f & EC_CPU_ARM_ASIMD) != 0, "ec_cpu_arm_features: asimd must always be set");
  if (!expect) return;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", expect);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    const int want = tok[0] != '!';
    const char *name = want ? tok : tok + 1;
    uint32_t bit = 0;
    for (size_t i = 0; i < sizeof kFeatures / sizeof kFeatures[0]; i++)
      if (strcmp(name, kFeatures[i].name) == 0) bit = kFeatures[i].bit;
    char what[96];
    snprintf(what, sizeof what, "ec_cpu_arm_features: expected %s", tok);
    report(bit != 0 && ((f & bit) != 0) == want, what);
  }
}

int main(int argc, char **argv) {
  const char *expect = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      g_rng = strtoull(argv[++i], NULL, 0) | 1;
    } else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
      expect = argv[++i];
    } else {
      fprintf(stderr, "usage: %s [--seed N] [--expect FEATURES]\n", argv[0]);
      return 2;
    }
  }
  check_features(expect);

  /* 1a. random shapes with tails */
  for (int it = 0; it < 240; it++) {
    const gemm_case t = {rand_int(1, 67), rand_int(1, 67), rand_int(1, 67), (int)rand_int(0, 1),
                         (int)rand_int(0, 1), rand_int(0, 1) != 0};
    run_sgemm(&t);
  }
  /* 1b. fixed shapes: tile edges, degenerate and big ones */
  static const int64_t fixed[][3] = {
      {1, 1, 1},    {6, 16, 1},   {6, 16, 2},    {7, 17, 3},     {5, 15, 4},    {12, 32, 8},
      {1, 67, 67},  {1, 16, 300}, {67, 1, 67},   {2, 9, 5},      {6, 8, 13},    {13, 4, 1},
      {64, 64, 64}, {61, 67, 59}, {240, 48, 17}, {241, 33, 257}, {129, 77, 300}, {256, 256, 256},
      {300, 1100, 40}};
  for (size_t f = 0; f < sizeof fixed / sizeof fixed[0]; f++)
    for (int acc = 0; acc < 2; acc++) {
      const int big = fixed[f][0] * fixed[f][1] * fixed[f][2] > 1000000;
      for (int layout = 0; layout < (big ? 1 : 4); layout++) {
        const gemm_case t = {fixed[f][0], fixed[f][1], fixed[f][2], layout & 1, layout >> 1,
                             acc != 0};
        run_sgemm(&t);
      }
    }
  /* 1c. k == 0: C = 0, or C unchanged when accumulating */
  for (int acc = 0; acc < 2; acc++) {
    const gemm_case t = {5, 9, 0, 0, 0, acc != 0};
    run_sgemm(&t);
  }

  /* 2. the packed hook with epilogues */
  static const uint8_t acts[] = {EC_FB_ACTIVATION_NONE, EC_FB_ACTIVATION_RELU,
                                 EC_FB_ACTIVATION_CLIP, EC_FB_ACTIVATION_LEAKY_RELU,
                                 EC_FB_ACTIVATION_SIGMOID, EC_FB_ACTIVATION_TANH};
  for (int it = 0; it < 160; it++) {
    const int64_t m = it % 8 == 0 ? 1 : rand_int(1, 40), n = rand_int(1, 40),
                  k = rand_int(0, 45);
    const int64_t kc_block = rand_int(0, 1) ? (k > 0 ? k : 1) : rand_int(1, 16);
    const bool acc = rand_int(0, 1) != 0;
    const int use_epi = it % 6 != 0, bias_kind = (int)rand_int(BIAS_NONE, BIAS_SCALAR),
              use_add = (int)rand_int(0, 1);
    const uint8_t act = acts[it % (sizeof acts / sizeof acts[0])];
    char what[160];
    snprintf(what, sizeof what,
             "ec_neon_gemm_packed m=%lld n=%lld k=%lld kc=%lld acc=%d epi=%d bias=%d add=%d "
             "act=%s",
             (long long)m, (long long)n, (long long)k, (long long)kc_block, (int)acc, use_epi,
             bias_kind, use_add, act_name(act));
    report(check_packed(m, n, k, kc_block, acc, use_epi, bias_kind, use_add, act), what);
  }

  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
