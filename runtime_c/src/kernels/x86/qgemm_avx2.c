/* AVX2 int8 kernels: the 4 x 16 GEMM micro-kernel (maddubs + madd, see
 * kernels/ref/qgemm_core.h for why it never saturates), activation packing,
 * fixed-point requantization of a row, dot products for narrow activations
 * and the depthwise row. Bit-exact with the portable code (tests/quant run
 * both). */
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/qx86.h"

/* ---- micro-kernel -------------------------------------------------------------- */

#define Q_STEP(i)                                                                         \
  do {                                                                                    \
    int32_t w_;                                                                           \
    memcpy(&w_, a + (i) * EC_QKG, sizeof w_);                                             \
    const __m256i av = _mm256_set1_epi32(w_);                                             \
    c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, av), ones)); \
    c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, av), ones)); \
  } while (0)

void ec_x86_q8_tile_avx2(int64_t groups, const int8_t *a0, const int8_t *a2, const uint8_t *b0p,
                         int32_t *tile) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
          c30 = c00, c31 = c00;
  for (int pass = 0; pass < (a2 ? 2 : 1); pass++) {
    const int8_t *a = pass ? a2 : a0;
    const uint8_t *b = b0p;
    for (int64_t g = 0; g < groups; g++) {
      const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
      const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
      Q_STEP(0);
      Q_STEP(1);
      Q_STEP(2);
      Q_STEP(3);
      a += EC_QMR * EC_QKG;
      b += EC_QNR * EC_QKG;
    }
  }
  _mm256_storeu_si256((__m256i *)(tile + 0), c00);
  _mm256_storeu_si256((__m256i *)(tile + 8), c01);
  _mm256_storeu_si256((__m256i *)(tile + 16), c10);
  _mm256_storeu_si256((__m256i *)(tile + 24), c11);
  _mm256_storeu_si256((__m256i *)(tile + 32), c20);
  _mm256_storeu_si256((__m256i *)(tile + 40), c21);
  _mm256_storeu_si256((__m256i *)(tile + 48), c30);
  _mm256_storeu_si256((__m256i *)(tile + 56), c31);
}

/* ---- packing ------------------------------------------------------------------------ */

void ec_x86_qpack_rows_avx2(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                            uint8_t *dst) {
  const int64_t kp = ec_q_round_up(k, EC_QKG), np = ec_q_round_up(n, EC_QNR);
  const __m128i fl = _mm_set1_epi8((char)flip);
  for (int64_t j0 = 0; j0 < np; j0 += EC_QNR) {
    uint8_t *s = dst + j0 * kp;
    const bool full_cols = j0 + EC_QNR <= n;
    for (int64_t g = 0; g < kp; g += EC_QKG) {
      uint8_t *d = s + g * EC_QNR;
      if (full_cols && g + EC_QKG <= k) {
        const uint8_t *p = src + g * ld + j0;
        const __m128i r0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), fl);
        const __m128i r1 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + ld)), fl);
        const __m128i r2 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + 2 * ld)), fl);
        const __m128i r3 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(p + 3 * ld)), fl);
        const __m128i t0 = _mm_unpacklo_epi8(r0, r1), t1 = _mm_unpackhi_epi8(r0, r1);
        const __m128i t2 = _mm_unpacklo_epi8(r2, r3), t3 = _mm_unpackhi_epi8(r2, r3);
        _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(t0, t2));
        _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(t0, t2));
        _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(t1, t3));
        _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(t1, t3));
        continue;
      }
      for (int64_t j = 0; j < EC_QNR; j++)
        for (int64_t l = 0; l < EC_QKG; l++) {
          const int64_t q = g + l, col = j0 + j;
          d[j * EC_QKG + l] = q < k && col < n ? (uint8_t)(src[q * ld + col] ^ flip) : 0;
        }
    }
  }
}

/* ---- requantization ------------------------------------------------------------------ */

/* (x * m + 2^30) >> 31 per lane, m broadcast. */
static inline __m256i srdhm(__m256i x, __m256i m) {
  const __m256i nudge = _mm256_set1_epi64x((int64_t)1 << 30);
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, m), nudge);
  __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge);
  even = _mm256_srli_epi64(even, 31); /* bits 31..62 to the low dword */
  odd = _mm256_slli_epi64(odd, 1);    /* bits 31..62 to the high dword */
  return _mm256_blend_epi32(even, odd, 0xAA);
}

typedef struct rq_consts {
  __m256i bias, mult, mask, half, zp, lo, hi;
  __m128i count;
} rq_consts;

/* a + b saturated to int32 */
static inline __m256i adds_epi32(__m256i a, __m256i b) {
  const __m256i s = _mm256_add_epi32(a, b);
  /* overflow: a and b of one sign, s of the other; then INT32_MAX or INT32_MIN by b's sign */
  const __m256i ovf = _mm256_andnot_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(a, s));
  const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(b, 31), _mm256_set1_epi32(INT32_MAX));
  return _mm256_blendv_epi8(s, sat, _mm256_srai_epi32(ovf, 31));
}

/* The bias add saturates only where the caller could not rule out an overflow. */
static inline __m256i requant8_sat(__m256i acc, const rq_consts *k, bool saturate) {
  const __m256i x = srdhm(saturate ? adds_epi32(acc, k->bias) : _mm256_add_epi32(acc, k->bias),
                          k->mult);
  const __m256i rem = _mm256_and_si256(x, k->mask);
  const __m256i thr = _mm256_sub_epi32(k->half, _mm256_srai_epi32(x, 31));
  __m256i r = _mm256_sub_epi32(_mm256_sra_epi32(x, k->count), _mm256_cmpgt_epi32(rem, thr));
  r = _mm256_add_epi32(r, k->zp);
  return _mm256_min_epi32(_mm256_max_epi32(r, k->lo), k->hi);
}

static inline __m256i requant8(__m256i acc, const rq_consts *k) {
  const __m256i x = srdhm(_mm256_add_epi32(acc, k->bias), k->mult);
  const __m256i rem = _mm256_and_si256(x, k->mask);
  const __m256i thr = _mm256_sub_epi32(k->half, _mm256_srai_epi32(x, 31));
  __m256i r = _mm256_sub_epi32(_mm256_sra_epi32(x, k->count), _mm256_cmpgt_epi32(rem, thr));
  r = _mm256_add_epi32(r, k->zp);
  return _mm256_min_epi32(_mm256_max_epi32(r, k->lo), k->hi);
}

void ec_x86_qrequant_row_avx2(const int32_t *acc, int64_t n, int32_t bias, ec_qmul mul,
                              int32_t zp, int32_t lo, int32_t hi, bool is_signed, void *y) {
  const int32_t right = -mul.shift;
  const int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
  const rq_consts k = {_mm256_set1_epi32(bias), _mm256_set1_epi32(mul.mult),
                       _mm256_set1_epi32(mask), _mm256_set1_epi32(mask >> 1),
                       _mm256_set1_epi32(zp), _mm256_set1_epi32(lo), _mm256_set1_epi32(hi),
                       _mm_cvtsi32_si128(right)};
  uint8_t *out = y;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) { /* any sums: the bias add saturates */
    const __m256i v0 = requant8_sat(_mm256_loadu_si256((const __m256i *)(acc + j)), &k, true);
    const __m256i v1 =
        requant8_sat(_mm256_loadu_si256((const __m256i *)(acc + j + 8)), &k, true);
    /* packs interleaves 128-bit lanes: [v0 0-3, v1 0-3, v0 4-7, v1 4-7] */
    const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    const __m128i lo16 = _mm256_castsi256_si128(w), hi16 = _mm256_extracti128_si256(w, 1);
    const __m128i b = is_signed ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
    _mm_storeu_si128((__m128i *)(out + j), b);
  }
  for (; j < n; j++) {
    /* 64-bit sums: the file's bias and a saturated requantization can overflow int32 */
    const int32_t v = ec_clamp_i32(
        ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)acc[j] + bias), mul) + zp), lo, hi);
    if (is_signed)
      ((int8_t *)y)[j] = (int8_t)v;
    else
      out[j] = (uint8_t)v;
  }
}

/* ---- fused GEMM + requantization -------------------------------------------------------- */

static inline __attribute__((always_inline)) void tile_acc(int64_t groups, const int8_t *a,
                                                           const uint8_t *b, __m256i *acc) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = acc[0], c01 = acc[1], c10 = acc[2], c11 = acc[3], c20 = acc[4], c21 = acc[5],
          c30 = acc[6], c31 = acc[7];
  for (int64_t g = 0; g < groups; g++) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)b);
    const __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + 32));
    Q_STEP(0);
    Q_STEP(1);
    Q_STEP(2);
    Q_STEP(3);
    a += EC_QMR * EC_QKG;
    b += EC_QNR * EC_QKG;
  }
  acc[0] = c00, acc[1] = c01, acc[2] = c10, acc[3] = c11;
  acc[4] = c20, acc[5] = c21, acc[6] = c30, acc[7] = c31;
}

/* 16 requantized values of one row, clamped, as bytes. */
static inline __m128i requant16(__m256i v0, __m256i v1, int32_t bias, ec_qmul mul,
                                const rq_consts *base, bool is_signed) {
  const int32_t right = -mul.shift;
  const int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
  rq_consts k = *base;
  k.bias = _mm256_set1_epi32(bias);
  k.mult = _mm256_set1_epi32(mul.mult);
  k.mask = _mm256_set1_epi32(mask);
  k.half = _mm256_set1_epi32(mask >> 1);
  k.count = _mm_cvtsi32_si128(right);
  const __m256i r0 = requant8(v0, &k), r1 = requant8(v1, &k);
  const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
  const __m128i lo16 = _mm256_castsi256_si128(w), hi16 = _mm256_extracti128_si256(w, 1);
  return is_signed ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
}

void ec_x86_q8_block_avx2(int64_t groups, const int8_t *a, const int8_t *a2, int64_t sliver,
                          int64_t rows, const uint8_t *b, int64_t nr, const ec_qout *o,
                          int64_t r0, uint8_t *y, int64_t rs) {
  rq_consts base;
  base.zp = _mm256_set1_epi32(o->zp);
  base.lo = _mm256_set1_epi32(o->lo);
  base.hi = _mm256_set1_epi32(o->hi);
  for (int64_t i0 = 0; i0 < rows; i0 += EC_QMR) {
    __m256i acc[8];
    for (int t = 0; t < 8; t++) acc[t] = _mm256_setzero_si256();
    tile_acc(groups, a + i0 / EC_QMR * sliver, b, acc);
    if (a2) tile_acc(groups, a2 + i0 / EC_QMR * sliver, b, acc);
    const int64_t mr = rows - i0 < EC_QMR ? rows - i0 : EC_QMR;
    for (int64_t i = 0; i < mr; i++) {
      const int64_t r = r0 + i0 + i;
      const int32_t bias = o->bias ? o->bias[r] : 0;
      const ec_qmul mul = o->mul[r];
      uint8_t *dst = y + (i0 + i) * rs;
      /* |sums| <= groups * 4 * 255 * 128 (a2 halves included): can the bias overflow them? */
      const int64_t accmax = groups * EC_QKG * 255 * 128;
      if (mul.shift > 0 || (int64_t)bias + accmax > INT32_MAX ||
          (int64_t)bias - accmax < INT32_MIN) { /* the portable path: saturations */
        int32_t t[16];
        _mm256_storeu_si256((__m256i *)t, acc[2 * i]);
        _mm256_storeu_si256((__m256i *)(t + 8), acc[2 * i + 1]);
        for (int64_t j = 0; j < nr; j++) {
          /* 64-bit sums: the file's bias and a saturated requantization overflow int32 */
          const int32_t v = ec_clamp_i32(
              ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)t[j] + bias), mul) + o->zp),
              o->lo, o->hi);
          dst[j] = o->is_signed ? (uint8_t)(int8_t)v : (uint8_t)v;
        }
        continue;
      }
      const __m128i v = requant16(acc[2 * i], acc[2 * i + 1], bias, mul, &base, o->is_signed);
      if (nr == EC_QNR) {
        _mm_storeu_si128((__m128i *)dst, v);
      } else {
        uint8_t t[16];
        _mm_storeu_si128((__m128i *)t, v);
        memcpy(dst, t, (size_t)nr);
      }
    }
  }
}

/* ---- QADD ---------------------------------------------------------------------------- */

/* requant without bias, zero point or clamp (mul.shift <= 0) */
static inline __m256i rq_plain(__m256i v, ec_qmul mul) {
  const int32_t right = -mul.shift;
  const int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
  const __m256i x = srdhm(v, _mm256_set1_epi32(mul.mult));
  const __m256i rem = _mm256_and_si256(x, _mm256_set1_epi32(mask));
  const __m256i thr = _mm256_sub_epi32(_mm256_set1_epi32(mask >> 1), _mm256_srai_epi32(x, 31));
  return _mm256_sub_epi32(_mm256_sra_epi32(x, _mm_cvtsi32_si128(right)),
                          _mm256_cmpgt_epi32(rem, thr));
}

static inline __m256i load8(const uint8_t *p, int64_t stride, bool is_signed) {
  if (stride == 0) return _mm256_set1_epi32(is_signed ? (int32_t)(int8_t)p[0] : (int32_t)p[0]);
  const __m128i raw = _mm_loadl_epi64((const __m128i *)p);
  return is_signed ? _mm256_cvtepi8_epi32(raw) : _mm256_cvtepu8_epi32(raw);
}

void ec_x86_qadd_row_avx2(const ec_qadd_row *p, const uint8_t *a, int64_t sa, const uint8_t *b,
                          int64_t sb, int64_t n, uint8_t *y) {
  const __m256i za = _mm256_set1_epi32(p->zp_a), zb = _mm256_set1_epi32(p->zp_b);
  const __m256i zy = _mm256_set1_epi32(p->zp_y), lo = _mm256_set1_epi32(p->lo);
  const __m256i hi = _mm256_set1_epi32(p->hi);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i va = _mm256_slli_epi32(_mm256_sub_epi32(load8(a + i * sa, sa, p->a_signed), za),
                                         20);
    const __m256i vb = _mm256_slli_epi32(_mm256_sub_epi32(load8(b + i * sb, sb, p->b_signed), zb),
                                         20);
    const __m256i s = _mm256_add_epi32(rq_plain(va, p->mul_a), rq_plain(vb, p->mul_b));
    __m256i r = _mm256_add_epi32(rq_plain(s, p->mul_y), zy);
    r = _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    const __m128i bytes = p->y_signed ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64((__m128i *)(y + i), bytes);
  }
  for (; i < n; i++) {
    const int32_t av = ec_q8_load(a, p->a_signed, i * sa), bv = ec_q8_load(b, p->b_signed, i * sb);
    const int32_t x1 = ec_requant((av - p->zp_a) * (1 << 20), p->mul_a);
    const int32_t x2 = ec_requant((bv - p->zp_b) * (1 << 20), p->mul_b);
    const int32_t v = ec_requant(ec_sat_i32((int64_t)x1 + x2), p->mul_y);
    ec_q8_store(y, p->y_signed, i, ec_clamp_i32(ec_sat_i32((int64_t)v + p->zp_y), p->lo, p->hi));
  }
}

/* ---- dot products --------------------------------------------------------------------- */

static inline __m256i dot32(__m256i x, const int8_t *w, __m256i ones) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(x, _mm256_loadu_si256((const __m256i *)w)), ones);
}

void ec_x86_qdots_avx2(int64_t m, int64_t kd, const int8_t *w, const int8_t *w2,
                       const uint8_t *x, int64_t n, int32_t *out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t j = 0; j < n; j++) {
    const uint8_t *xj = x + j * kd;
    int64_t r = 0;
    for (; r + 4 <= m; r += 4) {
      __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
      const int8_t *w0 = w + r * kd;
      for (int64_t q = 0; q < kd; q += 32) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xj + q));
        s0 = _mm256_add_epi32(s0, dot32(xv, w0 + q, ones));
        s1 = _mm256_add_epi32(s1, dot32(xv, w0 + kd + q, ones));
        s2 = _mm256_add_epi32(s2, dot32(xv, w0 + 2 * kd + q, ones));
        s3 = _mm256_add_epi32(s3, dot32(xv, w0 + 3 * kd + q, ones));
        if (w2) {
          const int8_t *v0 = w2 + r * kd;
          s0 = _mm256_add_epi32(s0, dot32(xv, v0 + q, ones));
          s1 = _mm256_add_epi32(s1, dot32(xv, v0 + kd + q, ones));
          s2 = _mm256_add_epi32(s2, dot32(xv, v0 + 2 * kd + q, ones));
          s3 = _mm256_add_epi32(s3, dot32(xv, v0 + 3 * kd + q, ones));
        }
      }
      const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
      const __m128i sum =
          _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      _mm_storeu_si128((__m128i *)(out + j * m + r), sum);
    }
    for (; r < m; r++) {
      __m256i s = _mm256_setzero_si256();
      for (int64_t q = 0; q < kd; q += 32) {
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(xj + q));
        s = _mm256_add_epi32(s, dot32(xv, w + r * kd + q, ones));
        if (w2) s = _mm256_add_epi32(s, dot32(xv, w2 + r * kd + q, ones));
      }
      const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      const __m128i u = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
      out[j * m + r] = _mm_cvtsi128_si32(_mm_add_epi32(u, _mm_shuffle_epi32(u, 0xB1)));
    }
  }
}

/* ---- depthwise ------------------------------------------------------------------------- */

/* 16 uint8 values of columns o * sw, o in [0, 16), as int16. */
static inline __m256i load16u(const uint8_t *x, int64_t sw) {
  if (sw == 1) return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)x));
  return _mm256_and_si256(_mm256_loadu_si256((const __m256i *)x), _mm256_set1_epi16(0xFF));
}

void ec_x86_qdw_plane_avx2(const uint8_t *xp, int64_t ld, const int8_t *w, int64_t kh,
                           int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                           int64_t oh, int64_t ow, int32_t bias, ec_qmul mul, const ec_qout *o,
                           uint8_t *y) {
  int64_t off[EC_QDW_MAX_TAPS + 1];
  __m256i wp[(EC_QDW_MAX_TAPS + 1) / 2];
  const int64_t taps = kh * kw;
  for (int64_t t = 0; t < taps; t++) off[t] = (t / kw) * dh * ld + (t % kw) * dw;
  off[taps] = 0;
  for (int64_t t = 0; t < taps; t += 2) {
    const int16_t w0 = w[t], w1 = t + 1 < taps ? w[t + 1] : 0;
    wp[t / 2] = _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)w1 << 16) | (uint16_t)w0));
  }
  const int32_t right = -mul.shift;
  const int32_t mask = (int32_t)(((int64_t)1 << right) - 1);
  const rq_consts k = {_mm256_set1_epi32(bias), _mm256_set1_epi32(mul.mult),
                       _mm256_set1_epi32(mask), _mm256_set1_epi32(mask >> 1),
                       _mm256_set1_epi32(o->zp), _mm256_set1_epi32(o->lo),
                       _mm256_set1_epi32(o->hi), _mm_cvtsi32_si128(right)};
  for (int64_t r = 0; r < oh; r++) {
    const uint8_t *row = xp + r * sh * ld;
    uint8_t *yr = y + r * ow;
    for (int64_t o0 = 0; o0 < ow; o0 += 16) {
      const uint8_t *base = row + o0 * sw;
      __m256i lo = _mm256_setzero_si256(), hi = lo;
      for (int64_t t = 0; t < taps; t += 2) {
        const __m256i xa = load16u(base + off[t], sw);
        const __m256i xb = t + 1 < taps ? load16u(base + off[t + 1], sw) : _mm256_setzero_si256();
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), wp[t / 2]));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), wp[t / 2]));
      }
      /* lo holds columns 0-3 and 8-11, hi 4-7 and 12-15 */
      const __m256i v0 = requant8(_mm256_permute2x128_si256(lo, hi, 0x20), &k);
      const __m256i v1 = requant8(_mm256_permute2x128_si256(lo, hi, 0x31), &k);
      const __m256i pk = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
      const __m128i l16 = _mm256_castsi256_si128(pk), h16 = _mm256_extracti128_si256(pk, 1);
      const __m128i b = o->is_signed ? _mm_packs_epi16(l16, h16) : _mm_packus_epi16(l16, h16);
      if (o0 + 16 <= ow) {
        _mm_storeu_si128((__m128i *)(yr + o0), b);
      } else {
        uint8_t t16[16];
        _mm_storeu_si128((__m128i *)t16, b);
        memcpy(yr + o0, t16, (size_t)(ow - o0));
      }
    }
  }
}
