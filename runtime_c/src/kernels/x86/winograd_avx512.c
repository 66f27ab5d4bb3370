/* Winograd F(4x4, 3x3) transforms, AVX-512 (winograd_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx512.h"

#define VECI __m512i
#define MASK __mmask16
#define VI_SET1 _mm512_set1_epi32
#define VI_ADD _mm512_add_epi32
#define VI_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define M_FROM(v) _mm512_cmpneq_epi32_mask((v), _mm512_setzero_si512())
#define M_AND(a, b) ((MASK)((a) & (b)))
#define M_INRANGE(v, lo, hi)                                        \
  ((MASK)(_mm512_cmpge_epi32_mask((v), _mm512_set1_epi32(lo)) &     \
          _mm512_cmplt_epi32_mask((v), _mm512_set1_epi32(hi))))
#define V_GATHER(base, idx, m) \
  _mm512_mask_i32gather_ps(_mm512_setzero_ps(), (m), (idx), (base), 4)
#define V_SCATTER(base, idx, m, v) _mm512_mask_i32scatter_ps((base), (m), (idx), (v), 4)

#include "kernels/x86/act_impl.h"
#include "kernels/x86/winograd_impl.h"

/* base + off floats, from integers (a masked access's vector may start
 * before the tensor; its masked lanes are not touched). */
#define AT(base, off) ((uintptr_t)(base) + (uintptr_t)((intptr_t)(off) * (intptr_t)sizeof(float)))

/* The input transform (wino_input_t's result) without gathers: 16 tiles'
 * patches were 36 (F(2x2): 16) masked gathers per channel, ~35 cycles each
 * on Zen 4 (56x56 64-channel layer: 0.28 ms of its 0.95). The group's tiles
 * are cut into segments of consecutive tiles in one tile row (at most SEGN,
 * so that a segment's columns fit 32 floats); per segment and patch row, two
 * masked contiguous loads (the columns inside the image) and, per patch
 * column j, one permute picking column r * (l - la) + j for its lanes l,
 * blended into them. Rows and columns outside the image read as zero. */
typedef struct wseg {
  __mmask16 lanes;
  uint32_t cols; /* of the 32 loaded columns, those inside the image */
  int64_t off;   /* the segment's first column of row 0 of its image's channel 0, from x */
  int64_t y;     /* its input row 0 (may be outside the image) */
  __m512i idx;   /* r * (l - la): lane l's first column, from the load's start */
} wseg;

static inline __attribute__((always_inline)) void wino_input_fast(const int A, const bool HALF,
                                                                  const ec_wino *p, int64_t t0,
                                                                  int64_t nt, float *v) {
  const int R = A - 2, SEGN = (32 - A) / R + 1;
  const int64_t ld = p->c * p->tb, h = p->h, w = p->w, hw = h * w, per = p->ty * p->tx;
  const __m512i riota = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(R));
  for (int64_t g = 0; g < nt; g += VLEN) {
    wseg seg[VLEN];
    int ns = 0;
    const int64_t n = nt - g < VLEN ? nt - g : VLEN;
    for (int64_t l = 0; l < n; ns++) {
      const int64_t t = t0 + g + l, img = t / per, tr = t % per / p->tx, tc = t % p->tx;
      int64_t len = p->tx - tc < n - l ? p->tx - tc : n - l;
      len = len < SEGN ? len : SEGN;
      const int64_t x0 = tc * R - p->pw; /* the segment's first column */
      const int64_t a = x0 < 0 ? -x0 : 0, b = w - x0 < 32 ? w - x0 : 32;
      seg[ns].lanes = (__mmask16)(((1u << (l + len)) - 1) & ~((1u << l) - 1));
      seg[ns].cols = a < b ? (uint32_t)((((uint64_t)1 << b) - 1) & ~(((uint64_t)1 << a) - 1)) : 0;
      seg[ns].off = img * p->c * hw + x0;
      seg[ns].y = tr * R - p->ph;
      seg[ns].idx = _mm512_sub_epi32(riota, _mm512_set1_epi32((int32_t)(R * l)));
      l += len;
    }
    float *dst = v + g / PNR16 * p->c * PNR16;
    for (int64_t ch = 0; ch < p->c; ch++) {
      VEC tmp[36], out[36];
#pragma GCC unroll 6
      for (int i = 0; i < A; i++) {
        VEC d[6];
#pragma GCC unroll 6
        for (int j = 0; j < A; j++) d[j] = _mm512_setzero_ps();
        for (int k = 0; k < ns; k++) {
          const int64_t y = seg[k].y + i;
          if (y < 0 || y >= h) continue;
          const uintptr_t src = AT(p->x, seg[k].off + ch * hw + y * w);
          const VEC l0 = _mm512_maskz_loadu_ps((__mmask16)seg[k].cols, (const void *)src);
          const VEC l1 = _mm512_maskz_loadu_ps((__mmask16)(seg[k].cols >> 16),
                                               (const void *)(src + 16 * sizeof(float)));
#pragma GCC unroll 6
          for (int j = 0; j < A; j++)
            d[j] = _mm512_mask_mov_ps(
                d[j], seg[k].lanes,
                _mm512_permutex2var_ps(l0, _mm512_add_epi32(seg[k].idx, _mm512_set1_epi32(j)),
                                       l1));
        }
        btv(A, HALF, d, 1, tmp + i * A, 1);
      }
#pragma GCC unroll 6
      for (int q = 0; q < A; q++) btv(A, HALF, tmp + q, A, out + q, A);
#pragma GCC unroll 36
      for (int xi = 0; xi < A * A; xi++) V_STOREU(dst + xi * ld + ch * PNR16, out[xi]);
    }
  }
}

void ec_x86_wino_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  if (p->r == 2)
    wino_input_fast(4, false, p, t0, nt, v);
  else
    wino_input_fast(6, false, p, t0, nt, v);
}

/* F(4x4, 3x3) output with contiguous stores instead of scatters. Per
 * output channel, the 16 transformed values (vectors over 16 tiles) of tile
 * row r are transposed so that vector j holds row r of tiles 4j..4j+3
 * (4 floats each). When those 4 tiles lie side by side in one tile row and
 * inside the image, that is 16 contiguous outputs: one load of the residual,
 * one store. Otherwise each tile's 4 lanes are loaded and stored with a
 * masked access at the tile's address less 4 * (its lane in the group, an
 * address made from integers: it may lie before the tensor), so
 * its lanes land on its columns (columns past the image and rows past it are
 * masked off; disabled lanes are not accessed). */
static void wino_output_f4(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                           const float *mbuf, int64_t mstride) {
  const int32_t oh = (int32_t)p->oh, ow = (int32_t)p->ow, plane = oh * ow;
  for (int64_t g = 0; g < nt; g += VLEN) {
    int32_t img[VLEN], y0[VLEN], x0[VLEN], ok[VLEN];
    tile_lanes(p, t0 + g, t0 + nt, img, y0, x0, ok);
    int64_t off[VLEN];  /* element of lane 4 * (l / 4) of tile l's first row */
    int nrow[VLEN];     /* rows of tile l inside the image (0: no tile) */
    __mmask16 cm[VLEN]; /* lanes of tile l inside the image */
    int fast[4];        /* tiles 4j..4j+3: one contiguous row of 16 */
    for (int l = 0; l < VLEN; l++) {
      off[l] = ((int64_t)img[l] * p->m + m0) * plane + (int64_t)y0[l] * ow + x0[l] - 4 * (l & 3);
      nrow[l] = ok[l] ? (oh - y0[l] < 4 ? oh - y0[l] : 4) : 0;
      const int nc = ow - x0[l] < 4 ? ow - x0[l] : 4;
      cm[l] = (__mmask16)(((1u << nc) - 1) << (4 * (l & 3)));
    }
    for (int j = 0; j < 4; j++) {
      const int l = 4 * j;
      fast[j] = ok[l + 3] && img[l + 3] == img[l] && y0[l + 3] == y0[l] &&
                x0[l + 3] == x0[l] + 12 && x0[l] + 16 <= ow;
    }
    for (int64_t mi = 0; mi < mb; mi++) {
      VEC in[36], tmp[24], out[16];
      const float *src = mbuf + mi * p->tb + g;
#pragma GCC unroll 36
      for (int xi = 0; xi < 36; xi++) in[xi] = V_LOADU(src + xi * mstride);
#pragma GCC unroll 6
      for (int r = 0; r < 6; r++) at6v(in + r * 6, 1, tmp + r * 4, 1);
      const VEC bias = V_SET1(p->bias ? p->bias[m0 + mi] : 0.0f);
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++) at6v(tmp + q, 4, out + q, 4);
      const int64_t moff = mi * plane;
#pragma GCC unroll 4
      for (int r = 0; r < 4; r++) {
        const VEC a = V_ADD(out[r * 4], bias), b = V_ADD(out[r * 4 + 1], bias),
                  c = V_ADD(out[r * 4 + 2], bias), d = V_ADD(out[r * 4 + 3], bias);
        const VEC t0v = _mm512_unpacklo_ps(a, b), t1v = _mm512_unpackhi_ps(a, b);
        const VEC t2v = _mm512_unpacklo_ps(c, d), t3v = _mm512_unpackhi_ps(c, d);
        /* u_i, 128-bit lane k: row r of tile 4k + i */
        const VEC u0 = _mm512_shuffle_ps(t0v, t2v, 0x44), u1 = _mm512_shuffle_ps(t0v, t2v, 0xEE);
        const VEC u2 = _mm512_shuffle_ps(t1v, t3v, 0x44), u3 = _mm512_shuffle_ps(t1v, t3v, 0xEE);
        const VEC v0 = _mm512_shuffle_f32x4(u0, u1, 0x44), v1 = _mm512_shuffle_f32x4(u0, u1, 0xEE);
        const VEC v2 = _mm512_shuffle_f32x4(u2, u3, 0x44), v3 = _mm512_shuffle_f32x4(u2, u3, 0xEE);
        VEC tr[4];
        tr[0] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        tr[1] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        tr[2] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        tr[3] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) {
          const int l = 4 * j;
          const int64_t e = moff + (int64_t)r * ow;
          VEC val = tr[j];
          if (fast[j]) {
            if (r >= nrow[l]) continue;
            if (p->res) val = V_ADD(val, V_LOADU(p->res + off[l] + e));
            V_STOREU(p->y + off[l] + e, v_act(val, p->act.kind, p->act.alpha, p->act.beta));
            continue;
          }
          __mmask16 k[4];
          for (int i = 0; i < 4; i++) k[i] = r < nrow[l + i] ? cm[l + i] : 0;
          if (p->res) {
            VEC rv = _mm512_setzero_ps();
            for (int i = 0; i < 4; i++)
              if (k[i]) rv = _mm512_mask_loadu_ps(rv, k[i], (const float *)AT(p->res, off[l + i] + e));
            val = V_ADD(val, rv);
          }
          val = v_act(val, p->act.kind, p->act.alpha, p->act.beta);
          for (int i = 0; i < 4; i++)
            if (k[i]) _mm512_mask_storeu_ps((float *)AT(p->y, off[l + i] + e), k[i], val);
        }
      }
    }
  }
}

void ec_x86_wino_output_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                               const float *mbuf, int64_t mstride) {
  if (p->r == 4)
    wino_output_f4(p, t0, nt, m0, mb, mbuf, mstride);
  else
    wino_output(p, t0, nt, m0, mb, mbuf, mstride);
}

void ec_x86_wino_weight_avx512(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                               int64_t n) {
  wino_weight(r, g, gs, u, us, n);
}

/* ---- On the fly (EC_VARIANT_WINOGRAD_OTF), one job ---------------------------
 * The 7x7 layers' weights (512 x 512 x 9 floats at ResNet-18's layer 4) are
 * used by 16 tiles only, read once per run from L3 or memory, and their
 * transform used to run apart from the GEMMs: U of a 12-channel panel made
 * whole (16 x 12 x C floats, 0.4 MB at C = 512) went through L2, its stores
 * cost as much as a third of the GEMMs, and the raw stream stalled it. Here,
 * per panel of up to 12 output channels (two A slivers) and chunk of
 * OTF_KC input channels: U of the chunk into u (in L1), then the 16
 * products U_xi . V_xi of the chunk added into the panel's rows of mbuf
 * (16 x min(mb, 12) x tb) by the 12 x 16 register tile below; after the last
 * chunk, the panel's output transform. The GEMMs of panel k prefetch panel
 * k + 1's raw slivers (contiguous, [sliver][9][C][6]) into L2, spread evenly
 * over their k steps, so the stream overlaps the arithmetic. U is made with
 * rows and columns 1 and 2 of G doubled (adds only; the input transform
 * halves the same rows of B^T, exactly), and its corners are raw taps, read
 * in place. F(4x4) (the 14x14 layers) measured slower chunked, 0.98 vs 0.83
 * ms at 256 channels (36 matrices per chunk, accumulators reloaded every 16
 * channels): otf_f4 keeps conv.c's whole-panel U and takes the rest (0.80). */

#define OTF_KC 32  /* input channels per chunk */
#define OTF_PAD 16 /* floats between the chunk's matrices (L1 sets) */
#define OTF_US (2 * OTF_KC * EC_PACK_MR + OTF_PAD) /* floats per chunk matrix */

/* U' = G' g G'^T, G' = [1 0 0; 1 1 1; 1 -1 1; 0 0 1] (F(2x2)'s G with rows 1
 * and 2 doubled), of n lanes (tap t at g + t * gs; the tail masked) into
 * u[xi * OTF_US + lane], the corners xi = 0, 3, 12, 15 (taps 0, 2, 6, 8)
 * not stored. */
static inline void otf_weight_f2(const float *g, int64_t gs, float *u, int64_t n) {
  const float *g0 = g, *g3 = g + 3 * gs, *g6 = g + 6 * gs;
  for (int64_t i = 0; i < n; i += VLEN) {
    const __mmask16 m = n - i >= VLEN ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
    VEC r[4][3];
    for (int b = 0; b < 3; b++) {
      const VEC x0 = _mm512_maskz_loadu_ps(m, g0 + b * gs + i);
      const VEC x1 = _mm512_maskz_loadu_ps(m, g3 + b * gs + i);
      const VEC x2 = _mm512_maskz_loadu_ps(m, g6 + b * gs + i);
      const VEC t = V_ADD(x0, x2);
      r[0][b] = x0, r[1][b] = V_ADD(t, x1), r[2][b] = V_SUB(t, x1), r[3][b] = x2;
    }
    float *d = u + i;
    for (int q = 0; q < 4; q++) {
      const VEC t = V_ADD(r[q][0], r[q][2]);
      _mm512_mask_storeu_ps(d + (q * 4 + 1) * OTF_US, m, V_ADD(t, r[q][1]));
      _mm512_mask_storeu_ps(d + (q * 4 + 2) * OTF_US, m, V_SUB(t, r[q][1]));
      if (q == 1 || q == 2) {
        _mm512_mask_storeu_ps(d + (q * 4) * OTF_US, m, r[q][0]);
        _mm512_mask_storeu_ps(d + (q * 4 + 3) * OTF_US, m, r[q][2]);
      }
    }
  }
}

/* Rows [0, mr) of out[r * ldo + 0..16) (+)= U . V over kc steps: U's slivers
 * u0, u1 (6 floats per k step; S = 1: u0 only), V 16 floats per k step.
 * Every 4 k steps npf lines of [*pf, pfe) are prefetched into L2. */
static inline __attribute__((always_inline)) void otf_tile(const int S, int64_t kc,
                                                           const float *u0, const float *u1,
                                                           const float *vb, float *out,
                                                           int64_t ldo, int64_t mr, bool add,
                                                           const char **pf, const char *pfe,
                                                           int64_t npf) {
  __m512 acc[12];
#pragma GCC unroll 12
  for (int r = 0; r < 6 * S; r++)
    acc[r] = add && r < mr ? _mm512_loadu_ps(out + r * ldo) : _mm512_setzero_ps();
  const char *q = *pf;
  int64_t k = 0;
  for (; k + 4 <= kc; k += 4) {
    for (int64_t i = 0; i < npf; i++)
      if (q < pfe) {
        _mm_prefetch(q, _MM_HINT_T1);
        q += 64;
      }
#pragma GCC unroll 4
    for (int kk = 0; kk < 4; kk++) {
      const __m512 b = _mm512_loadu_ps(vb + (k + kk) * PNR16);
#pragma GCC unroll 6
      for (int r = 0; r < 6; r++)
        acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(u0[(k + kk) * 6 + r]), b, acc[r]);
      if (S == 2) {
#pragma GCC unroll 6
        for (int r = 0; r < 6; r++)
          acc[6 + r] = _mm512_fmadd_ps(_mm512_set1_ps(u1[(k + kk) * 6 + r]), b, acc[6 + r]);
      }
    }
  }
  for (; k < kc; k++) {
    const __m512 b = _mm512_loadu_ps(vb + k * PNR16);
#pragma GCC unroll 6
    for (int r = 0; r < 6; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(u0[k * 6 + r]), b, acc[r]);
    if (S == 2) {
#pragma GCC unroll 6
      for (int r = 0; r < 6; r++)
        acc[6 + r] = _mm512_fmadd_ps(_mm512_set1_ps(u1[k * 6 + r]), b, acc[6 + r]);
    }
  }
  *pf = q;
#pragma GCC unroll 12
  for (int r = 0; r < 6 * S; r++)
    if (r < mr) _mm512_storeu_ps(out + r * ldo, acc[r]);
}

/* The raw slivers [*pf, *pfe) that panel q0's GEMMs prefetch: the job's
 * next panel, after its last one the panel at output channel nxt (a
 * multiple of 12; < 0: none), the one its thread claims next (conv.c's
 * panels claimed at run time). */
static void otf_next(const ec_wino *p, const float *w, int64_t m0, int64_t mb, int64_t q0,
                     int64_t nxt, const char **pf, const char **pfe) {
  const int64_t lanes = p->c * EC_PACK_MR, step = 2 * EC_PACK_MR;
  int64_t r0 = m0 + q0 + step, rows = mb - q0 - step;
  if (rows <= 0) r0 = nxt, rows = nxt >= 0 ? p->m - nxt : 0;
  rows = rows < step ? rows : step;
  const int64_t nns = rows > 0 ? (rows + EC_PACK_MR - 1) / EC_PACK_MR : 0;
  *pf = (const char *)(w + (nns > 0 ? r0 / EC_PACK_MR : 0) * 9 * lanes);
  *pfe = *pf + nns * 9 * lanes * (int64_t)sizeof(float);
}

/* F(4x4): conv.c's form (U of the panel made whole, 36 x 12 x C, into u at
 * conv.c's layout), with the GEMMs in otf_tile over all of C, the next
 * panel's raw slivers prefetched during them and the output transform per
 * panel. */
static void otf_f4(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb, int64_t nxt,
                   const float *v, const float *w, float *u, float *mbuf) {
  const int64_t c = p->c, lanes = c * EC_PACK_MR, tb = p->tb;
  const int64_t nsl = (nt + PNR16 - 1) / PNR16, step = 2 * EC_PACK_MR;
  const int64_t mstride = (mb < step ? mb : step) * tb;
  const int64_t groups = 36 * nsl * (c / 4);
  for (int64_t q0 = 0; q0 < mb; q0 += step) {
    const int64_t rows = mb - q0 < step ? mb - q0 : step;
    const int64_t ns = (rows + EC_PACK_MR - 1) / EC_PACK_MR, s0 = (m0 + q0) / EC_PACK_MR;
    const int64_t us = ns * lanes + OTF_PAD;
    for (int64_t s = 0; s < ns; s++)
      wino_weight(4, w + (s0 + s) * 9 * lanes, lanes, u + s * lanes, us, lanes);
    const char *pf, *pfe;
    otf_next(p, w, m0, mb, q0, nxt, &pf, &pfe);
    const int64_t npf = groups > 0 ? ((pfe - pf + 63) / 64 + groups - 1) / groups : 0;
    for (int64_t xi = 0; xi < 36; xi++) {
      const float *u0 = u + xi * us, *u1 = u0 + lanes;
      for (int64_t j = 0; j < nsl; j++) {
        const float *vb = v + xi * c * tb + j * c * PNR16;
        float *out = mbuf + xi * mstride + j * PNR16;
        if (ns == 2)
          otf_tile(2, c, u0, u1, vb, out, tb, rows, false, &pf, pfe, npf);
        else
          otf_tile(1, c, u0, u0, vb, out, tb, rows, false, &pf, pfe, npf);
      }
    }
    wino_output_f4(p, t0, nt, m0 + q0, rows, mbuf, mstride);
  }
}

/* F(2x2): the chunked form described above. */
static void otf_f2(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb, int64_t nxt,
                   const float *v, const float *w, float *u, float *mbuf) {
  const int64_t c = p->c, lanes = c * EC_PACK_MR, tb = p->tb;
  const int64_t nsl = (nt + PNR16 - 1) / PNR16, step = 2 * EC_PACK_MR;
  const int64_t mstride = (mb < step ? mb : step) * tb;
  const int64_t groups = 16 * nsl * (c / 4); /* prefetch slots per panel */
  for (int64_t q0 = 0; q0 < mb; q0 += step) {
    const int64_t rows = mb - q0 < step ? mb - q0 : step;
    const int64_t ns = (rows + EC_PACK_MR - 1) / EC_PACK_MR, s0 = (m0 + q0) / EC_PACK_MR;
    const float *raw0 = w + s0 * 9 * lanes, *raw1 = ns == 2 ? raw0 + 9 * lanes : raw0;
    const char *pf, *pfe;
    otf_next(p, w, m0, mb, q0, nxt, &pf, &pfe);
    const int64_t npf = groups > 0 ? ((pfe - pf + 63) / 64 + groups - 1) / groups : 0;
    for (int64_t k0 = 0; k0 < c; k0 += OTF_KC) {
      const int64_t kc = c - k0 < OTF_KC ? c - k0 : OTF_KC;
      for (int64_t s = 0; s < ns; s++)
        otf_weight_f2(raw0 + s * 9 * lanes + k0 * EC_PACK_MR, lanes,
                      u + s * OTF_KC * EC_PACK_MR, kc * EC_PACK_MR);
      for (int64_t xi = 0; xi < 16; xi++) {
        const float *u0 = u + xi * OTF_US, *u1 = u0 + OTF_KC * EC_PACK_MR;
        if (xi == 0 || xi == 3 || xi == 12 || xi == 15) {
          const int64_t tap = (xi < 4 ? 0 : 6) + (xi % 4 == 0 ? 0 : 2);
          u0 = raw0 + tap * lanes + k0 * EC_PACK_MR;
          u1 = raw1 + tap * lanes + k0 * EC_PACK_MR;
        }
        for (int64_t j = 0; j < nsl; j++) {
          const float *vb = v + xi * c * tb + j * c * PNR16 + k0 * PNR16;
          float *out = mbuf + xi * mstride + j * PNR16;
          if (ns == 2)
            otf_tile(2, kc, u0, u1, vb, out, tb, rows, k0 > 0, &pf, pfe, npf);
          else
            otf_tile(1, kc, u0, u0, vb, out, tb, rows, k0 > 0, &pf, pfe, npf);
        }
      }
    }
    ec_x86_wino_output_avx512(p, t0, nt, m0 + q0, rows, mbuf, mstride);
  }
}

/* The kernels apply to F(4x4), and to F(2x2) with C large enough that the
 * chunk's U fits conv.c's panel (16 * (12 * C + 16) floats). */
bool ec_x86_wino_otf_fits_avx512(const ec_wino *p) {
  return p->r == 4 || (p->r == 2 && p->c >= OTF_KC);
}

void ec_x86_wino_otf_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  if (p->r == 4)
    wino_input_fast(6, false, p, t0, nt, v);
  else
    wino_input_fast(4, true, p, t0, nt, v);
}

void ec_x86_wino_otf_gemm_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0,
                                 int64_t mb, int64_t nxt, const float *v, const float *w,
                                 float *u, float *mbuf) {
  if (p->r == 4)
    otf_f4(p, t0, nt, m0, mb, nxt, v, w, u, mbuf);
  else
    otf_f2(p, t0, nt, m0, mb, nxt, v, w, u, mbuf);
}

bool ec_x86_wino_otf_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                            float *v, const float *w, float *u, float *mbuf) {
  if (!ec_x86_wino_otf_fits_avx512(p)) return false;
  ec_x86_wino_otf_input_avx512(p, t0, nt, v);
  ec_x86_wino_otf_gemm_avx512(p, t0, nt, m0, mb, -1, v, w, u, mbuf);
  return true;
}
