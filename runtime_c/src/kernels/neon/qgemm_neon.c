/* AArch64 int8 kernels, plain Armv8.0 NEON (see neon.h): the 4 x 16 GEMM
 * micro-kernel with 16-bit products accumulated by smlal (the sdot one is in
 * qgemm_dotprod.c), dot products for narrow activations, requantization of a
 * tile and activation packing. Bit-exact with the portable code of
 * kernels/ref/qgemm_core.c. */
#include "kernels/neon/neon.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include <arm_neon.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/neon/sgemm_neon.h"

bool ec_neon_dotprod(void) {
  static _Atomic int state; /* 0: not checked yet, 1: no, 2: yes */
  int s = atomic_load_explicit(&state, memory_order_relaxed);
  if (s == 0) {
    s = (ec_cpu_arm_features() & EC_CPU_ARM_DOTPROD) ? 2 : 1;
    atomic_store_explicit(&state, s, memory_order_relaxed);
  }
  return s == 2;
}

/* ---- micro-kernel ------------------------------------------------------------------ */

/* Row i of the tile += x_l (columns 0-7 in xl, 8-15 in xh, 16 bits) * W[i][l],
 * lane `lane` of wv (rows 0-1 in w01, 2-3 in w23: lane (i % 2) * 4 + l). */
#define MLA_ROW(i, wv, lane)                                              \
  do {                                                                    \
    c##i##0 = vmlal_laneq_s16(c##i##0, vget_low_s16(xl), wv, lane);       \
    c##i##1 = vmlal_high_laneq_s16(c##i##1, xl, wv, lane);                \
    c##i##2 = vmlal_laneq_s16(c##i##2, vget_low_s16(xh), wv, lane);       \
    c##i##3 = vmlal_high_laneq_s16(c##i##3, xh, wv, lane);                \
  } while (0)

#define K_STEP(l)                                                                     \
  do {                                                                                \
    const int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv.val[l])));   \
    const int16x8_t xh = vreinterpretq_s16_u16(vmovl_high_u8(xv.val[l]));           \
    MLA_ROW(0, w01, l);                                                               \
    MLA_ROW(1, w01, 4 + (l));                                                         \
    MLA_ROW(2, w23, l);                                                               \
    MLA_ROW(3, w23, 4 + (l));                                                         \
  } while (0)

#define STORE_ROW(i)                        \
  do {                                      \
    vst1q_s32(tile + (i) * 16, c##i##0);     \
    vst1q_s32(tile + (i) * 16 + 4, c##i##1); \
    vst1q_s32(tile + (i) * 16 + 8, c##i##2); \
    vst1q_s32(tile + (i) * 16 + 12, c##i##3); \
  } while (0)

_Static_assert(EC_QMR == 4 && EC_QNR == 16 && EC_QKG == 4,
               "the NEON int8 tile is written for 4 x 16 tiles and groups of 4");

void ec_neon_q8_tile(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                     int32_t *tile) {
  if (ec_neon_dotprod()) {
    ec_neon_q8_tile_dot(groups, a, a2, b, tile);
    return;
  }
  const int32x4_t z = vdupq_n_s32(0);
  int32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
  int32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
  for (int pass = 0; pass < (a2 ? 2 : 1); pass++) {
    const int8_t *ap = pass ? a2 : a;
    const uint8_t *bp = b;
    for (int64_t g = 0; g < groups; g++) {
      const int8x16_t wv = vld1q_s8(ap);
      const int16x8_t w01 = vmovl_s8(vget_low_s8(wv)), w23 = vmovl_high_s8(wv);
      const uint8x16x4_t xv = vld4q_u8(bp); /* val[l][j] = X[4g + l][j] */
      K_STEP(0);
      K_STEP(1);
      K_STEP(2);
      K_STEP(3);
      ap += EC_QMR * EC_QKG;
      bp += EC_QNR * EC_QKG;
    }
  }
  STORE_ROW(0);
  STORE_ROW(1);
  STORE_ROW(2);
  STORE_ROW(3);
}

/* ---- dot products ---------------------------------------------------------------- */

/* acc += w[0:16] * x[0:16] in four int32 lanes, x already widened (xl, xh). */
static inline int32x4_t dot16(int32x4_t acc, const int8_t *w, int16x8_t xl, int16x8_t xh) {
  const int8x16_t wv = vld1q_s8(w);
  const int16x8_t wl = vmovl_s8(vget_low_s8(wv)), wh = vmovl_high_s8(wv);
  acc = vmlal_s16(acc, vget_low_s16(wl), vget_low_s16(xl));
  acc = vmlal_high_s16(acc, wl, xl);
  acc = vmlal_s16(acc, vget_low_s16(wh), vget_low_s16(xh));
  return vmlal_high_s16(acc, wh, xh);
}

void ec_neon_qdots(int64_t m, int64_t kd, const int8_t *w, const int8_t *w2, const uint8_t *x,
                   int64_t n, int32_t *out) {
  if (ec_neon_dotprod()) {
    ec_neon_qdots_dot(m, kd, w, w2, x, n, out);
    return;
  }
  for (int64_t j = 0; j < n; j++) {
    const uint8_t *xj = x + j * kd;
    for (int64_t r = 0; r < m; r += 4) {
      /* rows past m repeat the last one; their sums are not stored */
      const int64_t o1 = (r + 1 < m ? r + 1 : m - 1) * kd, o2 = (r + 2 < m ? r + 2 : m - 1) * kd;
      const int64_t o3 = (r + 3 < m ? r + 3 : m - 1) * kd;
      const int32x4_t z = vdupq_n_s32(0);
      int32x4_t s0 = z, s1 = z, s2 = z, s3 = z;
      for (int pass = 0; pass < (w2 ? 2 : 1); pass++) {
        const int8_t *base = pass ? w2 : w;
        for (int64_t q = 0; q < kd; q += 16) {
          const uint8x16_t xv = vld1q_u8(xj + q);
          const int16x8_t xl = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(xv)));
          const int16x8_t xh = vreinterpretq_s16_u16(vmovl_high_u8(xv));
          s0 = dot16(s0, base + r * kd + q, xl, xh);
          s1 = dot16(s1, base + o1 + q, xl, xh);
          s2 = dot16(s2, base + o2 + q, xl, xh);
          s3 = dot16(s3, base + o3 + q, xl, xh);
        }
      }
      const int32x4_t sum = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
      if (r + 4 <= m) {
        vst1q_s32(out + j * m + r, sum);
      } else {
        int32_t t[4];
        vst1q_s32(t, sum);
        memcpy(out + j * m + r, t, (size_t)(m - r) * sizeof(int32_t));
      }
    }
  }
}

/* ---- requantization ---------------------------------------------------------------- */

/* ec_requant + zero point + clamp on four lanes (qcommon.h):
 *   sat(acc + bias) -> sat(<< left) -> sqrdmulh (= ec_srdhm) -> rounding
 *   shift right, half away from zero (x - 1 for negative x, then srshl's
 *   round half up) -> sat(+ zp) -> clamp. */
typedef struct rq4 {
  int32x4_t bias, left, mult, right, zp, lo, hi; /* right: minus the right shift */
} rq4;

static inline int32x4_t requant4(int32x4_t v, const rq4 *k) {
  v = vqshlq_s32(vqaddq_s32(v, k->bias), k->left);
  v = vqrdmulhq_s32(v, k->mult);
  v = vqaddq_s32(v, vshrq_n_s32(vandq_s32(v, k->right), 31));
  v = vqaddq_s32(vrshlq_s32(v, k->right), k->zp);
  return vminq_s32(vmaxq_s32(v, k->lo), k->hi);
}

void ec_neon_qrequant_tile(const int32_t *tile, int64_t mr, int64_t nr, int64_t r0,
                           const ec_qout *o, uint8_t *y, int64_t rs, int64_t cs) {
  rq4 k;
  k.zp = vdupq_n_s32(o->zp);
  k.lo = vdupq_n_s32(o->lo);
  k.hi = vdupq_n_s32(o->hi);
  for (int64_t i = 0; i < mr; i++) {
    const ec_qmul mul = o->mul[r0 + i];
    k.bias = vdupq_n_s32(o->bias ? o->bias[r0 + i] : 0);
    k.left = vdupq_n_s32(mul.shift > 0 ? mul.shift : 0);
    k.right = vdupq_n_s32(mul.shift > 0 ? 0 : mul.shift);
    k.mult = vdupq_n_s32(mul.mult);
    const int32_t *t = tile + i * EC_QNR;
    /* clamped to the output dtype's range: the low byte is the value */
    const int16x8_t h0 = vcombine_s16(vmovn_s32(requant4(vld1q_s32(t), &k)),
                                      vmovn_s32(requant4(vld1q_s32(t + 4), &k)));
    const int16x8_t h1 = vcombine_s16(vmovn_s32(requant4(vld1q_s32(t + 8), &k)),
                                      vmovn_s32(requant4(vld1q_s32(t + 12), &k)));
    const uint8x16_t v = vreinterpretq_u8_s8(vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
    uint8_t *row = y + i * rs;
    if (cs == 1 && nr == EC_QNR) {
      vst1q_u8(row, v);
    } else {
      uint8_t b[16];
      vst1q_u8(b, v);
      for (int64_t j = 0; j < nr; j++) row[j * cs] = b[j];
    }
  }
}

/* ---- packing ----------------------------------------------------------------------- */

void ec_neon_qpack_rows(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                        uint8_t *dst) {
  const int64_t kp = ec_q_round_up(k, EC_QKG), np = ec_q_round_up(n, EC_QNR);
  const uint8x16_t fl = vdupq_n_u8(flip);
  for (int64_t j0 = 0; j0 < np; j0 += EC_QNR) {
    uint8_t *s = dst + j0 * kp;
    for (int64_t g = 0; g < kp; g += EC_QKG) {
      uint8_t *d = s + g * EC_QNR;
      if (j0 + EC_QNR <= n && g + EC_QKG <= k) { /* 4 rows of 16: st4 interleaves them */
        const uint8_t *p = src + g * ld + j0;
        uint8x16x4_t v;
        v.val[0] = veorq_u8(vld1q_u8(p), fl);
        v.val[1] = veorq_u8(vld1q_u8(p + ld), fl);
        v.val[2] = veorq_u8(vld1q_u8(p + 2 * ld), fl);
        v.val[3] = veorq_u8(vld1q_u8(p + 3 * ld), fl);
        vst4q_u8(d, v);
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

/* Each column's k bytes are contiguous: 4 groups (16 bytes) of 4 columns are
 * a 4 x 4 transpose of 32-bit words. */
void ec_neon_qpack_cols(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                        uint8_t *dst) {
  const int64_t kp = ec_q_round_up(k, EC_QKG), np = ec_q_round_up(n, EC_QNR);
  const uint8x16_t fl = vdupq_n_u8(flip);
  const int64_t k16 = k / 16 * 16;
  memset(dst, 0, (size_t)(kp * np));
  for (int64_t col = 0; col < n; col += 4) {
    uint8_t *s = dst + (col / EC_QNR) * kp * EC_QNR + (col % EC_QNR) * EC_QKG;
    if (col + 4 <= n) {
      const uint8_t *x = src + col * ld;
      for (int64_t q = 0; q < k16; q += 16) {
        const uint32x4_t r0 = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(x + q), fl));
        const uint32x4_t r1 = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(x + ld + q), fl));
        const uint32x4_t r2 = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(x + 2 * ld + q), fl));
        const uint32x4_t r3 = vreinterpretq_u32_u8(veorq_u8(vld1q_u8(x + 3 * ld + q), fl));
        const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(r0, r1));
        const uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(r0, r1));
        const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(r2, r3));
        const uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(r2, r3));
        uint8_t *d = s + (q / EC_QKG) * EC_QNR * EC_QKG; /* group q / 4, columns col.. */
        vst1q_u8(d, vreinterpretq_u8_u64(vtrn1q_u64(t0, t2)));
        vst1q_u8(d + 64, vreinterpretq_u8_u64(vtrn1q_u64(t1, t3)));
        vst1q_u8(d + 128, vreinterpretq_u8_u64(vtrn2q_u64(t0, t2)));
        vst1q_u8(d + 192, vreinterpretq_u8_u64(vtrn2q_u64(t1, t3)));
      }
    }
    const int64_t q0 = col + 4 <= n ? k16 : 0;
    for (int64_t c = col; c < col + 4 && c < n; c++) {
      uint8_t *sc = s + (c - col) * EC_QKG;
      const uint8_t *x = src + c * ld;
      for (int64_t q = q0; q < k; q++)
        sc[(q / EC_QKG) * EC_QNR * EC_QKG + q % EC_QKG] = x[q] ^ flip;
    }
  }
}

#else /* not AArch64: CMake builds this directory only for AArch64 */
typedef int ec_qgemm_neon_unused_t;
#endif
