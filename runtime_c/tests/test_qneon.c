/* The AArch64 NEON int8 pieces (src/kernels/neon/qgemm_neon.c, qgemm_dotprod.c) against
 * plain C written from the contracts of kernels/ref/qgemm_core.h, bit for bit,
 * cross-compiled and run under qemu-aarch64 (tests/targets/test_neon_kernels.py):
 *
 *   test_qneon [--seed N] [--expect-dotprod 0|1]
 *
 *   1. ec_neon_qrequant_tile: random tiles over the whole int32 range (and
 *      INT32_MIN / INT32_MAX), biases, multipliers with every shift in
 *      [-31, 30] (mantissa 0 included), zero points, clamps, signed and
 *      unsigned outputs, row and column strides, partial tiles; against
 *      ec_requant (qcommon.h) with the saturations of requant_row_ref.
 *   2. ec_neon_q8_tile (sdot or smlal, as the CPU has it) and, where the CPU
 *      has dotprod, ec_neon_q8_tile_dot and the smlal kernel both: random
 *      groups, weights over all of int8, split weights (a2), activations over
 *      all of uint8.
 *   3. ec_neon_qdots (and ec_neon_qdots_dot): m not a multiple of 4, split
 *      weights, 1 to 4 columns.
 *   4. ec_neon_qpack_rows / ec_neon_qpack_cols: every tail of k and n, flips.
 *   5. ec_neon_dotprod() equals --expect-dotprod when given.
 *
 * Prints "N passed, N failed"; the exit status is 1 when anything failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/neon/neon.h"
#include "kernels/ref/qcommon.h"

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

static void report(int ok, const char *what, int64_t a, int64_t b) {
  if (ok) {
    g_passed++;
  } else {
    g_failed++;
    if (g_failed <= 20) printf("FAIL %s (%lld, %lld)\n", what, (long long)a, (long long)b);
  }
}

/* ---- plain C from the contracts ----------------------------------------------------- */

static int32_t requant_one(int32_t acc, int32_t bias, ec_qmul mul, const ec_qout *o) {
  const int32_t v = ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)acc + bias), mul) + o->zp);
  return ec_clamp_i32(v, o->lo, o->hi);
}

static void tile_c(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                   int32_t *tile) {
  for (int i = 0; i < EC_QMR; i++)
    for (int j = 0; j < EC_QNR; j++) {
      int32_t s = 0;
      for (int64_t g = 0; g < groups; g++)
        for (int l = 0; l < EC_QKG; l++) {
          int32_t w = a[g * 16 + i * 4 + l];
          if (a2) w += a2[g * 16 + i * 4 + l];
          s += w * b[g * 64 + j * 4 + l];
        }
      tile[i * EC_QNR + j] = s;
    }
}

/* ---- 1. requantization ------------------------------------------------------------------ */

static int32_t rand_acc(void) {
  switch (rand_int(0, 5)) {
    case 0: return INT32_MIN + (int32_t)rand_int(0, 3);
    case 1: return INT32_MAX - (int32_t)rand_int(0, 3);
    case 2: return (int32_t)rand_int(-70000, 70000);
    case 3: return (int32_t)rand_int(-300, 300);
    default: return (int32_t)(uint32_t)next_u64();
  }
}

static void test_requant(void) {
  for (int rep = 0; rep < 20000; rep++) {
    int32_t tile[EC_QMR * EC_QNR];
    int32_t bias[EC_QMR];
    ec_qmul mul[EC_QMR];
    for (int t = 0; t < EC_QMR * EC_QNR; t++) tile[t] = rand_acc();
    for (int i = 0; i < EC_QMR; i++) {
      bias[i] = rand_int(0, 3) == 0 ? rand_acc() : (int32_t)rand_int(-5000, 5000);
      mul[i].shift = (int32_t)rand_int(-31, 30);
      if (rand_int(0, 3) == 0) mul[i].shift = (int32_t)rand_int(-12, 2);
      mul[i].mult = rand_int(0, 30) == 0 ? 0 : (int32_t)rand_int((int64_t)1 << 30, INT32_MAX);
      /* exact halves: the remainder at the rounding threshold */
      if (rand_int(0, 4) == 0 && mul[i].shift < 0)
        tile[i * EC_QNR + rand_int(0, EC_QNR - 1)] = -(int32_t)(((int64_t)1 << -mul[i].shift) / 2);
    }
    ec_qout o;
    o.bias = rand_int(0, 5) ? bias : NULL;
    o.mul = mul;
    o.is_signed = rand_int(0, 1) == 1;
    const int32_t lo = o.is_signed ? -128 : 0, hi = o.is_signed ? 127 : 255;
    o.zp = (int32_t)rand_int(lo, hi);
    if (rand_int(0, 9) == 0) o.zp = (int32_t)rand_int(INT32_MIN / 2, INT32_MAX / 2);
    o.lo = (int32_t)rand_int(lo, lo + 20);
    o.hi = (int32_t)rand_int(hi - 20, hi);
    const int64_t mr = rand_int(1, EC_QMR), nr = rand_int(1, EC_QNR);
    const int64_t cs = rand_int(0, 1) ? 1 : rand_int(2, 5), rs = cs == 1 ? 23 : 1;
    uint8_t y[256], want[256];
    memset(y, 0xAB, sizeof y);
    memset(want, 0xAB, sizeof want);
    for (int64_t i = 0; i < mr; i++)
      for (int64_t j = 0; j < nr; j++)
        want[i * rs + j * cs] = (uint8_t)requant_one(tile[i * EC_QNR + j],
                                                     o.bias ? bias[i] : 0, mul[i], &o);
    ec_neon_qrequant_tile(tile, mr, nr, 0, &o, y, rs, cs);
    int bad = -1;
    for (int t = 0; t < 256 && bad < 0; t++)
      if (y[t] != want[t]) bad = t;
    report(bad < 0, "requant", bad, bad >= 0 ? y[bad] - want[bad] : 0);
  }
}

/* ---- 2. micro-kernel ------------------------------------------------------------------------ */

typedef void tile_fn(int64_t, const int8_t *, const int8_t *, const uint8_t *, int32_t *);

static void test_tile(tile_fn *fn, const char *what) {
  enum { MAXG = 80 };
  static int8_t a[MAXG * 16], a2[MAXG * 16];
  static uint8_t b[MAXG * 64];
  for (int rep = 0; rep < 1000; rep++) {
    const int64_t groups = rep < 4 ? rep : rand_int(1, MAXG);
    const int split = rand_int(0, 2) == 0;
    for (int64_t t = 0; t < groups * 16; t++) {
      const int8_t w = (int8_t)rand_int(-128, 127);
      a[t] = split ? (int8_t)(w / 2) : w;
      a2[t] = (int8_t)(w - w / 2);
    }
    for (int64_t t = 0; t < groups * 64; t++) b[t] = (uint8_t)rand_int(0, 255);
    if (rep % 7 == 0) { /* extremes */
      memset(a, split ? -64 : -128, (size_t)groups * 16);
      memset(a2, -64, (size_t)groups * 16);
      memset(b, 255, (size_t)groups * 64);
    }
    int32_t got[64], want[64];
    tile_c(groups, a, split ? a2 : NULL, b, want);
    fn(groups, a, split ? a2 : NULL, b, got);
    int bad = -1;
    for (int t = 0; t < 64 && bad < 0; t++)
      if (got[t] != want[t]) bad = t;
    report(bad < 0, what, groups, bad);
  }
}

/* ---- 3. dot products --------------------------------------------------------------------------- */

typedef void dots_fn(int64_t, int64_t, const int8_t *, const int8_t *, const uint8_t *, int64_t,
                     int32_t *);

static void test_dots(dots_fn *fn, const char *what) {
  enum { MAXM = 70, MAXKD = 320 };
  static int8_t w[MAXM * MAXKD], w2[MAXM * MAXKD];
  static uint8_t x[4 * MAXKD];
  for (int rep = 0; rep < 150; rep++) {
    const int64_t m = rand_int(1, MAXM), kd = 32 * rand_int(1, MAXKD / 32), n = rand_int(1, 4);
    const int split = rand_int(0, 2) == 0;
    for (int64_t t = 0; t < m * kd; t++) {
      const int8_t v = (int8_t)rand_int(-128, 127);
      w[t] = split ? (int8_t)(v / 2) : v;
      w2[t] = (int8_t)(v - v / 2);
    }
    for (int64_t t = 0; t < n * kd; t++) x[t] = (uint8_t)rand_int(0, 255);
    int32_t got[4 * MAXM + 1], want[4 * MAXM];
    got[n * m] = 12345; /* sentinel past the output */
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        int32_t s = 0;
        for (int64_t q = 0; q < kd; q++)
          s += ((int32_t)w[r * kd + q] + (split ? w2[r * kd + q] : 0)) * x[j * kd + q];
        want[j * m + r] = s;
      }
    fn(m, kd, w, split ? w2 : NULL, x, n, got);
    int bad = got[n * m] != 12345 ? (int)(n * m) : -1;
    for (int64_t t = 0; t < n * m && bad < 0; t++)
      if (got[t] != want[t]) bad = (int)t;
    report(bad < 0, what, m, bad);
  }
}

/* ---- 4. packing ------------------------------------------------------------------------------- */

static void test_pack(void) {
  enum { MAXK = 75, MAXN = 70, LD = 80 };
  static uint8_t src[MAXN * LD + MAXK * LD];
  static uint8_t got[(MAXK + 3) * (MAXN + 15) + 64], want[(MAXK + 3) * (MAXN + 15) + 64];
  for (int rep = 0; rep < 400; rep++) {
    const int64_t k = rand_int(1, MAXK), n = rand_int(1, MAXN);
    const uint8_t flip = rand_int(0, 1) ? 0x80 : 0;
    const int cols = rep % 2; /* ec_neon_qpack_cols: column j at src + j * ld */
    for (size_t t = 0; t < sizeof src; t++) src[t] = (uint8_t)next_u64();
    const size_t bytes = ec_qpanel_bytes(k, n);
    memset(got, 0xCD, sizeof got);
    memset(want, 0xCD, sizeof want);
    const int64_t kp = ec_q_round_up(k, EC_QKG);
    for (int64_t j = 0; j < ec_q_round_up(n, EC_QNR); j++)
      for (int64_t q = 0; q < kp; q++) {
        const size_t at = (size_t)((j / EC_QNR) * kp * EC_QNR + (q / EC_QKG) * EC_QNR * EC_QKG +
                                   (j % EC_QNR) * EC_QKG + q % EC_QKG);
        want[at] = q < k && j < n ? (uint8_t)(src[cols ? j * LD + q : q * LD + j] ^ flip) : 0;
      }
    if (cols)
      ec_neon_qpack_cols(src, LD, k, n, flip, got);
    else
      ec_neon_qpack_rows(src, LD, k, n, flip, got);
    int bad = -1;
    for (size_t t = 0; t < bytes + 64 && bad < 0; t++)
      if (got[t] != want[t]) bad = (int)t;
    report(bad < 0, cols ? "pack_cols" : "pack_rows", k * 1000 + n, bad);
  }
}

int main(int argc, char **argv) {
  int expect_dot = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--seed"))
      g_rng ^= strtoull(argv[i + 1], NULL, 0) * 0x9E3779B97F4A7C15ull;
    else if (!strcmp(argv[i], "--expect-dotprod"))
      expect_dot = atoi(argv[i + 1]);
  }
  const int dot = ec_neon_dotprod();
  printf("dotprod: %s\n", dot ? "yes (sdot kernels)" : "no (smlal kernels)");
  if (expect_dot >= 0) report(dot == expect_dot, "ec_neon_dotprod", dot, expect_dot);
  test_requant();
  test_tile(ec_neon_q8_tile, dot ? "q8_tile (sdot)" : "q8_tile (smlal)");
  test_dots(ec_neon_qdots, dot ? "qdots (sdot)" : "qdots (smlal)");
  if (dot) { /* both families on a dotprod CPU */
    test_tile(ec_neon_q8_tile_dot, "q8_tile_dot");
    test_dots(ec_neon_qdots_dot, "qdots_dot");
  }
  test_pack();
  printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
