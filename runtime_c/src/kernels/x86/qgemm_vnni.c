/* AVX-512 VNNI int8 kernels (built with AVX-512 F/BW/DQ/VL + VNNI; callers
 * check EC_CPU_AVX512VNNI): the GEMM micro-kernel on the packed layouts of
 * kernels/ref/qgemm_core.h with the requantization in registers, the 4 x 16
 * tile, dot products for narrow activations, and the depthwise plane.
 *
 * vpdpbusd multiplies four u8 x s8 pairs and adds their sum straight into an
 * int32 lane: there is no int16 intermediate, so unlike the AVX2 maddubs
 * kernel nothing saturates and 8-bit weights need no split. The packed
 * layouts are the portable ones: an activation group (16 columns x 4 k) is
 * one zmm, a weight row's group is the 4 bytes broadcast against it.
 *
 * Requantization (qcommon.h), exact: with p = x * mult in 64-bit lanes
 * (x = acc + bias) and e = -shift >= 0,
 *   SRDHM:        t = (p + 2^30) >> 31
 *   RDIVPOT(t,e): (t + 2^(e-1) - [t < 0]) >> e   (e > 0; t itself for e = 0)
 * Since 2^(30+e) is a multiple of 2^31, t + 2^(e-1) = (p + 2^30 + 2^(30+e))
 * >> 31: one 64-bit add, and bits 31..62 of the sum give it in an int32
 * lane. t < 0 implies x < 0, and x < 0 with t >= 0 means t = 0, where
 * subtracting 1 changes nothing ((2^(e-1) - 1) >> e = 0), so the correction
 * is x >> 31 (arithmetic), added before the final shift. Rows where one of
 * these int32 values could overflow (a huge bias) or whose multiplier shifts
 * left take the scalar path. The zero point is added in int32; saturating
 * packs to 8 bits and a clamp on the bytes give clamp(sat(r + zp), lo, hi). */
#include <immintrin.h>
#include <string.h>

#include "kernels/x86/qx86.h"

#define VN_MAXS 2 /* weight slivers (EC_QMR rows each) per register tile */
#define VN_MAXV 3 /* activation slivers (EC_QNR columns each) per register tile */

static inline __mmask64 mask64(int64_t n) {
  return n >= 64 ? ~(__mmask64)0 : n <= 0 ? 0 : ((__mmask64)1 << n) - 1;
}

/* ---- requantization ------------------------------------------------------------ */

typedef struct vn_rq {
  __m512i bias, mult, k, zp;
  __mmask16 neg; /* lanes taking the x < 0 correction: all when e > 0 */
  __m128i count; /* e */
  /* the 8-bit store: clamp bounds as bytes, where the dtype's range is not enough */
  __m512i lo8, hi8;
  bool is_signed, clamp_lo, clamp_hi;
} vn_rq;

/* The per-output constants (zero point, dtype, clamp) of o. */
static inline void vn_rq_base(const ec_qout *o, vn_rq *k) {
  k->zp = _mm512_set1_epi32(o->zp);
  k->is_signed = o->is_signed;
  k->lo8 = _mm512_set1_epi8((char)o->lo);
  k->hi8 = _mm512_set1_epi8((char)o->hi);
  k->clamp_lo = o->lo > (o->is_signed ? -128 : 0);
  k->clamp_hi = o->hi < (o->is_signed ? 127 : 255);
}

/* The per-row constants; false when the row must take the scalar path: a
 * multiplier that shifts left, or values that could overflow int32 with
 * sums of magnitude up to accmax. */
static inline bool vn_rq_row(int32_t bias, ec_qmul mul, int64_t accmax, vn_rq *k) {
  const int64_t e = -(int64_t)mul.shift;
  const int64_t x = accmax + (bias < 0 ? -(int64_t)bias : bias); /* |acc + bias| <= x */
  if (e < 0 || x + (e > 0 ? (int64_t)1 << (e - 1) : 0) + 512 > INT32_MAX) return false;
  k->bias = _mm512_set1_epi32(bias);
  k->mult = _mm512_set1_epi64(mul.mult);
  k->k = _mm512_set1_epi64(((int64_t)1 << 30) + (e > 0 ? (int64_t)1 << (30 + e) : 0));
  k->neg = e > 0 ? 0xFFFF : 0;
  k->count = _mm_cvtsi32_si128((int)e);
  return true;
}

/* zp + requant(acc + bias) in int32 lanes (not yet clamped). */
static inline __m512i vn_requant(__m512i acc, const vn_rq *k) {
  const __m512i x = _mm512_add_epi32(acc, k->bias);
  const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, k->mult), k->k);
  const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), k->mult), k->k);
  /* bits 31..62: of pe into the even lanes, of po into the odd ones */
  __m512i t = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
  t = _mm512_mask_add_epi32(t, k->neg, t, _mm512_srai_epi32(x, 31));
  return _mm512_add_epi32(_mm512_sra_epi32(t, k->count), k->zp);
}

/* Up to 4 vectors of vn_requant results (v[i], i < nv) to bytes: saturating
 * packs (int32 -> int16 -> 8 bits, in 128-bit lane order, then one dword
 * permute), the clamp on the bytes; the first n (<= 16 nv) stored. */
static inline void vn_store(uint8_t *dst, int64_t n, const __m512i *v, int nv, const vn_rq *k) {
  const __m512i z = _mm512_setzero_si512();
  const __m512i ab = _mm512_packs_epi32(v[0], nv > 1 ? v[1] : z);
  const __m512i cd = nv > 2 ? _mm512_packs_epi32(v[2], nv > 3 ? v[3] : z) : z;
  __m512i b = k->is_signed ? _mm512_packs_epi16(ab, cd) : _mm512_packus_epi16(ab, cd);
  /* 128-bit lane L holds dword L of v0, v1, v2, v3: gather each vector's four */
  b = _mm512_permutexvar_epi32(
      _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), b);
  if (k->is_signed) {
    if (k->clamp_lo) b = _mm512_max_epi8(b, k->lo8);
    if (k->clamp_hi) b = _mm512_min_epi8(b, k->hi8);
  } else {
    if (k->clamp_lo) b = _mm512_max_epu8(b, k->lo8);
    if (k->clamp_hi) b = _mm512_min_epu8(b, k->hi8);
  }
  if (n >= 64)
    _mm512_storeu_si512((void *)dst, b);
  else
    _mm512_mask_storeu_epi8(dst, mask64(n), b);
}

/* One row of int32 sums the scalar way (qgemm_core.c requant_row_ref). */
static void rq_row_scalar(const int32_t *t, int64_t n, int32_t bias, ec_qmul mul,
                          const ec_qout *o, uint8_t *dst) {
  for (int64_t j = 0; j < n; j++) {
    /* 64-bit sums: the file's bias and a saturated requantization can overflow int32 */
    const int32_t v = ec_clamp_i32(
        ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)t[j] + bias), mul) + o->zp), o->lo,
        o->hi);
    dst[j] = o->is_signed ? (uint8_t)(int8_t)v : (uint8_t)v;
  }
}

/* ---- GEMM micro-kernel ---------------------------------------------------------- */

/* c[i][v] = rows [0, 4S) of the weight slivers at a (sliver bytes apart) times
 * the activation slivers v < V at b (bsliver bytes apart), over groups. */
static inline __attribute__((always_inline)) void vn_kernel(int64_t groups, const int8_t *a,
                                                            int64_t sliver, const uint8_t *b,
                                                            int64_t bsliver, const int S,
                                                            const int V,
                                                            __m512i c[VN_MAXS * EC_QMR][VN_MAXV]) {
#pragma GCC unroll 8
  for (int i = 0; i < 4 * S; i++)
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) c[i][v] = _mm512_setzero_si512();
  const int8_t *a1 = S > 1 ? a + sliver : a;
  const uint8_t *b1 = V > 1 ? b + bsliver : b, *b2 = V > 2 ? b + 2 * bsliver : b;
  for (int64_t g = 0; g < groups; g++) {
    __m512i bv[VN_MAXV];
    bv[0] = _mm512_loadu_si512((const void *)b);
    if (V > 1) bv[1] = _mm512_loadu_si512((const void *)b1);
    if (V > 2) bv[2] = _mm512_loadu_si512((const void *)b2);
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) {
      const int8_t *as = s ? a1 : a;
#pragma GCC unroll 4
      for (int i = 0; i < EC_QMR; i++) {
        int32_t w;
        memcpy(&w, as + i * EC_QKG, sizeof w);
        const __m512i wv = _mm512_set1_epi32(w);
#pragma GCC unroll 3
        for (int v = 0; v < V; v++)
          c[s * EC_QMR + i][v] = _mm512_dpbusd_epi32(c[s * EC_QMR + i][v], bv[v], wv);
      }
    }
    a += EC_QMR * EC_QKG;
    a1 += EC_QMR * EC_QKG;
    b += EC_QNR * EC_QKG;
    b1 += EC_QNR * EC_QKG;
    b2 += EC_QNR * EC_QKG;
  }
}

typedef struct vn_block {
  int64_t groups, sliver, bsliver, accmax;
  const int8_t *a;
  const uint8_t *b;
  const ec_qout *o;
  int64_t r0, rs;
  uint8_t *y;
} vn_block;

/* The register tile of weight rows [i0, i0 + 4S) and columns [j0, j0 + 16V),
 * requantized; rows [i0, i0 + mr) and columns [j0, j0 + nc) stored. */
static inline __attribute__((always_inline)) void vn_tile_rq(const vn_block *g, const vn_rq *base,
                                                             int64_t i0, int64_t mr, int64_t j0,
                                                             int64_t nc, const int S,
                                                             const int V) {
  __m512i c[VN_MAXS * EC_QMR][VN_MAXV];
  vn_kernel(g->groups, g->a + i0 / EC_QMR * g->sliver, g->sliver,
            g->b + j0 / EC_QNR * g->bsliver, g->bsliver, S, V, c);
  vn_rq k = *base;
#pragma GCC unroll 8
  for (int i = 0; i < 4 * S; i++) {
    if (i >= mr) break;
    const int64_t r = g->r0 + i0 + i;
    const int32_t bias = g->o->bias ? g->o->bias[r] : 0;
    const ec_qmul mul = g->o->mul[r];
    uint8_t *dst = g->y + (i0 + i) * g->rs + j0;
    if (!vn_rq_row(bias, mul, g->accmax, &k)) {
      int32_t t[VN_MAXV * EC_QNR];
#pragma GCC unroll 3
      for (int v = 0; v < V; v++) _mm512_storeu_si512((void *)(t + 16 * v), c[i][v]);
      rq_row_scalar(t, nc, bias, mul, g->o, dst);
      continue;
    }
    __m512i q[VN_MAXV];
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) q[v] = vn_requant(c[i][v], &k);
    vn_store(dst, nc, q, V, &k);
  }
}

#define VN_TILE_FN(S, V)                                                                  \
  static void vn_tile_##S##V(const vn_block *g, const vn_rq *base, int64_t i0, int64_t mr,  \
                             int64_t j0, int64_t nc) {                                    \
    vn_tile_rq(g, base, i0, mr, j0, nc, S, V);                                            \
  }
VN_TILE_FN(2, 3)
VN_TILE_FN(2, 2)
VN_TILE_FN(2, 1)
VN_TILE_FN(1, 3)
VN_TILE_FN(1, 2)
VN_TILE_FN(1, 1)

void ec_x86_q8_block_vnni(int64_t groups, const int8_t *a, int64_t sliver, int64_t rows,
                          const uint8_t *b, int64_t bsliver, int64_t cols, const ec_qout *o,
                          int64_t r0, uint8_t *y, int64_t rs) {
  const vn_block g = {groups, sliver, bsliver, groups * EC_QKG * 255 * 128, a, b, o, r0, rs, y};
  vn_rq base;
  vn_rq_base(o, &base);
  const int64_t step = VN_MAXV * EC_QNR;
  for (int64_t j0 = 0; j0 < cols; j0 += step) {
    const int64_t nc = cols - j0 < step ? cols - j0 : step;
    const int64_t v = (nc + EC_QNR - 1) / EC_QNR;
    for (int64_t i0 = 0; i0 < rows; i0 += VN_MAXS * EC_QMR) {
      const int64_t mr = rows - i0 < VN_MAXS * EC_QMR ? rows - i0 : VN_MAXS * EC_QMR;
      if (mr > EC_QMR) {
        if (v == 3) vn_tile_23(&g, &base, i0, mr, j0, nc);
        else if (v == 2) vn_tile_22(&g, &base, i0, mr, j0, nc);
        else vn_tile_21(&g, &base, i0, mr, j0, nc);
      } else {
        if (v == 3) vn_tile_13(&g, &base, i0, mr, j0, nc);
        else if (v == 2) vn_tile_12(&g, &base, i0, mr, j0, nc);
        else vn_tile_11(&g, &base, i0, mr, j0, nc);
      }
    }
  }
}

void ec_x86_q8_tile_vnni(int64_t groups, const int8_t *a, const uint8_t *b, int32_t *tile) {
  __m512i c[VN_MAXS * EC_QMR][VN_MAXV];
  vn_kernel(groups, a, 0, b, 0, 1, 1, c);
  for (int i = 0; i < EC_QMR; i++) _mm512_storeu_si512((void *)(tile + i * EC_QNR), c[i][0]);
}

/* ---- dot products ------------------------------------------------------------------ */

static inline __m512i load_k(const void *p, int64_t left) {
  return left >= 64 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(0xFFFFFFFFu, p);
}

void ec_x86_qdots_vnni(int64_t m, int64_t kd, const int8_t *w, const uint8_t *x, int64_t n,
                       int32_t *out) {
  for (int64_t j = 0; j < n; j++) {
    const uint8_t *xj = x + j * kd;
    int64_t r = 0;
    for (; r + 4 <= m; r += 4) {
      __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
      const int8_t *w0 = w + r * kd;
      for (int64_t q = 0; q < kd; q += 64) { /* kd is a multiple of 32 */
        const __m512i xv = load_k(xj + q, kd - q);
        s0 = _mm512_dpbusd_epi32(s0, xv, load_k(w0 + q, kd - q));
        s1 = _mm512_dpbusd_epi32(s1, xv, load_k(w0 + kd + q, kd - q));
        s2 = _mm512_dpbusd_epi32(s2, xv, load_k(w0 + 2 * kd + q, kd - q));
        s3 = _mm512_dpbusd_epi32(s3, xv, load_k(w0 + 3 * kd + q, kd - q));
      }
      out[j * m + r] = _mm512_reduce_add_epi32(s0);
      out[j * m + r + 1] = _mm512_reduce_add_epi32(s1);
      out[j * m + r + 2] = _mm512_reduce_add_epi32(s2);
      out[j * m + r + 3] = _mm512_reduce_add_epi32(s3);
    }
    for (; r < m; r++) {
      __m512i s = _mm512_setzero_si512();
      for (int64_t q = 0; q < kd; q += 64)
        s = _mm512_dpbusd_epi32(s, load_k(xj + q, kd - q), load_k(w + r * kd + q, kd - q));
      out[j * m + r] = _mm512_reduce_add_epi32(s);
    }
  }
}

/* ---- depthwise ------------------------------------------------------------------------ */

/* Taps go 4 to a vpdpbusd group along a kernel row: lane j of the group
 * vector for kernel row ki, group gi holds the bytes of padded columns
 * (o0 + j) * sw + (4 gi + t) * dw, t < 4, of padded row r * sh + ki * dh.
 * One load covers it: 128-bit lane L of the vector takes the 16 bytes from
 * column (o0 + 4L) * sw (vpermd), and vpshufb picks, for its four outputs
 * j' and taps t, byte sw * j' + t * dw (<= 15 when sw + dw <= 5). */

bool ec_x86_qdw_vnni_fits(int64_t kh, int64_t kw, int64_t sw, int64_t dw) {
  return (sw == 1 || sw == 2) && dw >= 1 && sw + dw <= 5 && kh * ((kw + 3) / 4) <= EC_QDW_MAX_TAPS;
}

/* Fills the padded plane: the zero point around the (flipped) input. */
static void dw_pad_plane(const ec_qdw_vnni *a, uint8_t *xp) {
  const __m512i pad = _mm512_set1_epi8((char)(a->zp_byte ^ a->flip));
  const __m512i fl = _mm512_set1_epi8((char)a->flip);
  const int64_t full = a->ld / 64;
  const __mmask64 tail = ((__mmask64)1 << (a->ld % 64)) - 1;
  for (int64_t r = 0; r < a->pad_h; r++) {
    uint8_t *d = xp + r * a->ld;
    for (int64_t q = 0; q < full; q++) _mm512_storeu_si512((void *)(d + 64 * q), pad);
    _mm512_mask_storeu_epi8(d + 64 * full, tail, pad);
    const int64_t ih = r - a->ph;
    if (ih < 0 || ih >= a->h) continue;
    const uint8_t *src = a->x + ih * a->w;
    uint8_t *dst = d + a->pw;
    int64_t q = 0;
    for (; q + 64 <= a->w; q += 64)
      _mm512_storeu_si512((void *)(dst + q),
                          _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + q)), fl));
    if (q < a->w) {
      const __mmask64 m = ((__mmask64)1 << (a->w - q)) - 1;
      _mm512_mask_storeu_epi8(dst + q, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + q), fl));
    }
  }
}

/* vpshufb control: byte 4j' + t of each 128-bit lane <- byte sw * j' + t * dw */
static __m512i dw_shuffle(int64_t sw, int64_t dw) {
  if (sw == 1 && dw == 1)
    return _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6));
  if (sw == 2 && dw == 1)
    return _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9));
  char sh[16];
  for (int b = 0; b < 16; b++) sh[b] = (char)(sw * (b / 4) + (b % 4) * dw);
  return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)sh));
}

typedef struct dw_ctx {
  const ec_qdw_vnni *a;
  const __m512i *wv;
  const vn_rq *k;
  __m512i perm, shuf;
  __mmask16 lm;
} dw_ctx;

/* NB blocks of 16 outputs of one row from column o0 (16 NB >= n > 16 (NB - 1) stored). */
static inline __attribute__((always_inline)) void dw_blocks(const dw_ctx *d, const uint8_t *row0,
                                                            int64_t o0, int64_t n, uint8_t *yr,
                                                            const int KH, const int KG,
                                                            const int NB) {
  const ec_qdw_vnni *a = d->a;
  const int64_t kh = KH ? KH : a->kh, kg = KG ? KG : (a->kw + 3) / 4;
  __m512i acc[4];
#pragma GCC unroll 4
  for (int b = 0; b < NB; b++) acc[b] = _mm512_setzero_si512();
  for (int64_t ki = 0; ki < kh; ki++)
    for (int64_t gi = 0; gi < kg; gi++) {
      const uint8_t *src = row0 + ki * a->dh * a->ld + o0 * a->sw + 4 * gi * a->dw;
      const __m512i w = d->wv[ki * kg + gi];
#pragma GCC unroll 4
      for (int b = 0; b < NB; b++) {
        const __m512i v = _mm512_shuffle_epi8(
            _mm512_permutexvar_epi32(d->perm, _mm512_maskz_loadu_epi32(d->lm, src + 16 * b * a->sw)),
            d->shuf);
        acc[b] = _mm512_dpbusd_epi32(acc[b], v, w);
      }
    }
#pragma GCC unroll 4
  for (int b = 0; b < NB; b++) acc[b] = vn_requant(acc[b], d->k);
  vn_store(yr + o0, n, acc, NB, d->k);
}

static inline __attribute__((always_inline)) void dw_rows(const dw_ctx *d, const uint8_t *xp,
                                                          uint8_t *y, const int KH,
                                                          const int KG) {
  const ec_qdw_vnni *a = d->a;
  for (int64_t r = 0; r < a->oh; r++) {
    const uint8_t *row0 = xp + r * a->sh * a->ld;
    uint8_t *yr = y + r * a->ow;
    int64_t o0 = 0;
    for (; o0 + 64 <= a->ow; o0 += 64) dw_blocks(d, row0, o0, 64, yr, KH, KG, 4);
    const int64_t n = a->ow - o0;
    if (n > 48)
      dw_blocks(d, row0, o0, n, yr, KH, KG, 4);
    else if (n > 32)
      dw_blocks(d, row0, o0, n, yr, KH, KG, 3);
    else if (n > 16)
      dw_blocks(d, row0, o0, n, yr, KH, KG, 2);
    else if (n > 0)
      dw_blocks(d, row0, o0, n, yr, KH, KG, 1);
  }
}

bool ec_x86_qdw_plane_vnni(const ec_qdw_vnni *a, uint8_t *xp, uint8_t *y) {
  vn_rq k;
  vn_rq_base(a->o, &k);
  if (!vn_rq_row(a->bias, a->mul, a->kh * a->kw * 255 * 128, &k)) return false;
  const int64_t kg = (a->kw + 3) / 4;
  __m512i wv[EC_QDW_MAX_TAPS];
  for (int64_t ki = 0; ki < a->kh; ki++)
    for (int64_t gi = 0; gi < kg; gi++) {
      uint32_t w4 = 0;
      for (int64_t t = 0; t < 4 && 4 * gi + t < a->kw; t++)
        w4 |= (uint32_t)(uint8_t)a->wt[ki * a->kw + 4 * gi + t] << (8 * t);
      wv[ki * kg + gi] = _mm512_set1_epi32((int32_t)w4);
    }
  dw_pad_plane(a, xp);
  /* vpermd: lane L, dword i <- dword sw * L + i; vpshufb: byte 4j' + t <- sw * j' + t * dw */
  const dw_ctx d = {a, wv, &k,
                    a->sw == 1 ? _mm512_setr_epi32(0, 1, 2, 3, 1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6)
                               : _mm512_setr_epi32(0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7, 8, 9),
                    dw_shuffle(a->sw, a->dw), a->sw == 1 ? 0x7F : 0x3FF};
  if (a->kh == 3 && kg == 1)
    dw_rows(&d, xp, y, 3, 1);
  else
    dw_rows(&d, xp, y, 0, 0);
  return true;
}

/* ---- direct convolution: packing shifted rows ----------------------------------------- */

void ec_x86_qpack_shift_vnni(const ec_qshift *s, int64_t p0, int64_t n, uint8_t *dst) {
  const int64_t hw = s->h * s->w, taps = s->kh * s->kw, kp = taps * s->cg;
  const __m128i zp = _mm_set1_epi8((char)s->zp_byte);
  const __m512i fl = _mm512_set1_epi8((char)s->flip);
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i wv = _mm512_set1_epi32((int32_t)s->w), hv = _mm512_set1_epi32((int32_t)s->h);
  for (int64_t b = 0; 16 * b < n; b++) {
    const int64_t q0 = p0 + 16 * b;
    const __mmask16 live = n - 16 * b >= 16 ? 0xFFFF : (__mmask16)((1u << (n - 16 * b)) - 1u);
    /* output row and column of each lane (the output is as wide as the input) */
    __m512i owv = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(q0 % s->w)), lane);
    __m512i ohv = _mm512_set1_epi32((int32_t)(q0 / s->w));
    for (;;) {
      const __mmask16 wrap = _mm512_cmpge_epi32_mask(owv, wv);
      if (!wrap) break;
      owv = _mm512_mask_sub_epi32(owv, wrap, owv, wv);
      ohv = _mm512_mask_add_epi32(ohv, wrap, ohv, _mm512_set1_epi32(1));
    }
    uint8_t *d = dst + b * kp * EC_QNR;
    for (int64_t t = 0; t < taps; t++) {
      const int64_t dy = t / s->kw * s->dh - s->ph, dx = t % s->kw * s->dw - s->pw;
      const __mmask16 m =
          live &
          _mm512_cmplt_epu32_mask(_mm512_add_epi32(ohv, _mm512_set1_epi32((int32_t)dy)), hv) &
          _mm512_cmplt_epu32_mask(_mm512_add_epi32(owv, _mm512_set1_epi32((int32_t)dx)), wv);
      /* lanes outside the input are not read (no fault): the address may leave the plane */
      const uintptr_t src = (uintptr_t)s->x + (uintptr_t)(q0 + dy * s->w + dx);
      for (int64_t c = 0; c < s->cg; c += 4) {
        const uintptr_t p = src + (uintptr_t)(c * hw);
        const __m512i r0 = _mm512_cvtepu8_epi32(_mm_mask_loadu_epi8(zp, m, (const void *)p));
        const __m512i r1 =
            _mm512_cvtepu8_epi32(_mm_mask_loadu_epi8(zp, m, (const void *)(p + (uintptr_t)hw)));
        const __m512i r2 = _mm512_cvtepu8_epi32(
            _mm_mask_loadu_epi8(zp, m, (const void *)(p + 2 * (uintptr_t)hw)));
        const __m512i r3 = _mm512_cvtepu8_epi32(
            _mm_mask_loadu_epi8(zp, m, (const void *)(p + 3 * (uintptr_t)hw)));
        /* (r0 | r1 << 8) | (r2 << 16 | r3 << 24), then the sign flip */
        const __m512i lo = _mm512_or_si512(r0, _mm512_slli_epi32(r1, 8));
        const __m512i hi = _mm512_or_si512(_mm512_slli_epi32(r2, 16), _mm512_slli_epi32(r3, 24));
        _mm512_storeu_si512((void *)(d + (t * s->cg + c) * EC_QNR),
                            _mm512_ternarylogic_epi32(lo, hi, fl, 0x56)); /* (a | b) ^ c */
      }
    }
  }
}
