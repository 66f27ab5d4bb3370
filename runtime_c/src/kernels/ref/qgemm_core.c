#include "kernels/ref/qgemm_core.h"

#include <string.h>

#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/x86/qx86.h"
#define EC_Q_X86 1
#else
#define EC_Q_X86 0
#endif
#if defined(EDGEC_HAVE_NEON_KERNELS)
#include "kernels/neon/neon.h"
/* NEON is part of every AArch64 core: ec_q_variant gives every blocked path
 * EC_Q_NEON, and only the blocked paths come here, so in NEON builds the
 * portable loops after this call are dead and left out. */
#define EC_Q_NEON_CALL(call) \
  do {                       \
    (void)isa;               \
    call;                    \
    return;                  \
  } while (0)
#else
#define EC_Q_NEON_CALL(call) (void)0
#endif

static int32_t iabs(int32_t v) { return v < 0 ? -v : v; }

bool ec_qweights_maddubs_safe(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k) {
  for (int64_t r = 0; r < m; r++)
    for (int64_t q = 0; q < k; q += 2) {
      const int32_t w0 = w[r * rs + q * cs], w1 = q + 1 < k ? w[r * rs + (q + 1) * cs] : 0;
      if (iabs(w0) + iabs(w1) > 128) return false;
    }
  return true;
}

size_t ec_qweights_bytes(int64_t m, int64_t k) {
  return (size_t)(ec_q_round_up(m, EC_QMR) * ec_q_round_up(k, EC_QKG));
}

/* floor(v / 2) without shifting a negative value: the first half of a split weight */
static int8_t half_hi(int8_t v) { return (int8_t)(v >= 0 ? v / 2 : -((1 - v) / 2)); }

static void put_weight(int8_t v, int64_t at, int8_t *dst, int8_t *dst2) {
  if (dst2) {
    const int8_t hi = half_hi(v);
    dst[at] = hi;
    dst2[at] = (int8_t)(v - hi);
  } else {
    dst[at] = v;
  }
}

size_t ec_qdots_bytes(int64_t m, int64_t k) {
  return (size_t)(m * ec_q_round_up(k, EC_QDOTK));
}

void ec_qpack_weights_dots(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                           int8_t *dst, int8_t *dst2) {
  const int64_t kd = ec_q_round_up(k, EC_QDOTK);
  memset(dst, 0, ec_qdots_bytes(m, k));
  if (dst2) memset(dst2, 0, ec_qdots_bytes(m, k));
  for (int64_t r = 0; r < m; r++)
    for (int64_t q = 0; q < k; q++) put_weight(w[r * rs + q * cs], r * kd + q, dst, dst2);
}

void ec_qpack_weights(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                      int8_t *dst, int8_t *dst2) {
  const int64_t kp = ec_q_round_up(k, EC_QKG), slivers = ec_q_round_up(m, EC_QMR) / EC_QMR;
  memset(dst, 0, ec_qweights_bytes(m, k));
  if (dst2) memset(dst2, 0, ec_qweights_bytes(m, k));
  for (int64_t s = 0; s < slivers; s++)
    for (int64_t i = 0; i < EC_QMR && s * EC_QMR + i < m; i++) {
      const int64_t r = s * EC_QMR + i;
      for (int64_t q = 0; q < k; q++) {
        const int64_t at = s * kp * EC_QMR + (q / EC_QKG) * EC_QMR * EC_QKG + i * EC_QKG +
                           q % EC_QKG;
        put_weight(w[r * rs + q * cs], at, dst, dst2);
      }
    }
}

void ec_qweights_row_sums(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                          int32_t *sums) {
  for (int64_t r = 0; r < m; r++) {
    int32_t s = 0;
    for (int64_t q = 0; q < k; q++) s += w[r * rs + q * cs];
    sums[r] = s;
  }
}

void ec_qpack_rows(ec_q_isa isa, const uint8_t *src, int64_t ld, int64_t k, int64_t n,
                   uint8_t flip, uint8_t *dst) {
  EC_Q_NEON_CALL(ec_neon_qpack_rows(src, ld, k, n, flip, dst));
#if EC_Q_X86
  if (isa >= EC_Q_AVX2) {
    ec_x86_qpack_rows_avx2(src, ld, k, n, flip, dst);
    return;
  }
#else
  (void)isa;
#endif
  const int64_t kp = ec_q_round_up(k, EC_QKG), np = ec_q_round_up(n, EC_QNR);
  for (int64_t j0 = 0; j0 < np; j0 += EC_QNR) {
    uint8_t *s = dst + j0 * kp;
    for (int64_t g = 0; g < kp; g += EC_QKG)
      for (int64_t j = 0; j < EC_QNR; j++)
        for (int64_t l = 0; l < EC_QKG; l++) {
          const int64_t q = g + l, col = j0 + j;
          s[g * EC_QNR + j * EC_QKG + l] =
              q < k && col < n ? (uint8_t)(src[q * ld + col] ^ flip) : 0;
        }
  }
}

void ec_qpack_cols(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                   uint8_t *dst) {
#if defined(EDGEC_HAVE_NEON_KERNELS) /* only the blocked paths call it: NEON on AArch64 */
  ec_neon_qpack_cols(src, ld, k, n, flip, dst);
  return;
#endif
  const int64_t kp = ec_q_round_up(k, EC_QKG), np = ec_q_round_up(n, EC_QNR);
  memset(dst, 0, (size_t)(kp * np));
  for (int64_t col = 0; col < n; col++) {
    uint8_t *s = dst + (col / EC_QNR) * kp * EC_QNR + (col % EC_QNR) * EC_QKG;
    const uint8_t *x = src + col * ld;
    for (int64_t q = 0; q < k; q++) s[(q / EC_QKG) * EC_QNR * EC_QKG + q % EC_QKG] = x[q] ^ flip;
  }
}

static void tile_ref(int64_t groups, const int8_t *a, const uint8_t *b, int32_t *tile,
                     bool accumulate) {
  int32_t acc[EC_QMR * EC_QNR];
  memset(acc, 0, sizeof acc);
  for (int64_t g = 0; g < groups; g++) {
    const int8_t *ag = a + g * EC_QMR * EC_QKG;
    const uint8_t *bg = b + g * EC_QNR * EC_QKG;
    for (int i = 0; i < EC_QMR; i++)
      for (int j = 0; j < EC_QNR; j++) {
        int32_t s = 0;
        for (int l = 0; l < EC_QKG; l++) s += (int32_t)ag[i * EC_QKG + l] * bg[j * EC_QKG + l];
        acc[i * EC_QNR + j] += s;
      }
  }
  for (int t = 0; t < EC_QMR * EC_QNR; t++) tile[t] = accumulate ? tile[t] + acc[t] : acc[t];
}

void ec_qgemm_tile(ec_q_isa isa, int64_t groups, const int8_t *a, const int8_t *a2,
                   const uint8_t *b, int32_t *tile) {
  EC_Q_NEON_CALL(ec_neon_q8_tile(groups, a, a2, b, tile));
#if EC_Q_X86
  if (isa == EC_Q_VNNI && !a2) {
    ec_x86_q8_tile_vnni(groups, a, b, tile);
    return;
  }
  if (isa >= EC_Q_AVX2) {
    ec_x86_q8_tile_avx2(groups, a, a2, b, tile);
    return;
  }
#else
  (void)isa;
#endif
  tile_ref(groups, a, b, tile, false);
  if (a2) tile_ref(groups, a2, b, tile, true);
}

static void requant_row_ref(const int32_t *acc, int64_t n, int32_t bias, ec_qmul mul,
                            const ec_qout *o, void *y, int64_t cs) {
  for (int64_t j = 0; j < n; j++) {
    /* 64-bit sums: the file's bias and a saturated requantization can overflow int32 */
    const int32_t v =
        ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)acc[j] + bias), mul) + o->zp);
    ec_q8_store(y, o->is_signed, j * cs, ec_clamp_i32(v, o->lo, o->hi));
  }
}

void ec_qrequant_tile(ec_q_isa isa, const int32_t *tile, int64_t mr, int64_t nr, int64_t r0,
                      const ec_qout *o, void *y, int64_t rs, int64_t cs) {
  EC_Q_NEON_CALL(ec_neon_qrequant_tile(tile, mr, nr, r0, o, y, rs, cs));
  uint8_t *yb = y;
  for (int64_t i = 0; i < mr; i++) {
    const int32_t bias = o->bias ? o->bias[r0 + i] : 0;
    const ec_qmul mul = o->mul[r0 + i];
    uint8_t *row = yb + i * rs; /* 1-byte elements: byte offsets */
#if EC_Q_X86
    if (isa >= EC_Q_AVX2 && cs == 1 && mul.shift <= 0) {
      ec_x86_qrequant_row_avx2(tile + i * EC_QNR, nr, bias, mul, o->zp, o->lo, o->hi,
                               o->is_signed, row);
      continue;
    }
#else
    (void)isa;
#endif
    requant_row_ref(tile + i * EC_QNR, nr, bias, mul, o, row, cs);
  }
}

void ec_qgemm_dots(ec_q_isa isa, int64_t m, int64_t kd, const int8_t *w, const int8_t *w2,
                   const uint8_t *x, int64_t n, int32_t *out) {
  EC_Q_NEON_CALL(ec_neon_qdots(m, kd, w, w2, x, n, out));
#if EC_Q_X86
  if (isa == EC_Q_VNNI && !w2) {
    ec_x86_qdots_vnni(m, kd, w, x, n, out);
    return;
  }
  if (isa >= EC_Q_AVX2) {
    ec_x86_qdots_avx2(m, kd, w, w2, x, n, out);
    return;
  }
#else
  (void)isa;
#endif
  for (int64_t j = 0; j < n; j++)
    for (int64_t r = 0; r < m; r++) {
      int32_t s = 0;
      for (int64_t q = 0; q < kd; q++) {
        int32_t wv = w[r * kd + q];
        if (w2) wv += w2[r * kd + q];
        s += wv * (int32_t)x[j * kd + q];
      }
      out[j * m + r] = s;
    }
}
