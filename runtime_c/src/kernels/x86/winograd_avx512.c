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

void ec_x86_wino_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  wino_input(p, t0, nt, v);
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
/* base + off floats, from integers (a masked access's vector may start
 * before the tensor; its masked lanes are not touched). */
#define AT(base, off) ((uintptr_t)(base) + (uintptr_t)((intptr_t)(off) * (intptr_t)sizeof(float)))

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
      for (int xi = 0; xi < 36; xi++) in[xi] = V_LOADU(src + xi * mstride);
      for (int r = 0; r < 6; r++) at6v(in + r * 6, 1, tmp + r * 4, 1);
      const VEC bias = V_SET1(p->bias ? p->bias[m0 + mi] : 0.0f);
      for (int q = 0; q < 4; q++) at6v(tmp + q, 4, out + q, 4);
      const int64_t moff = mi * plane;
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
