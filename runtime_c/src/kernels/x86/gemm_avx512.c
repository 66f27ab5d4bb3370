/* AVX-512 GEMM on packed operands: a 12 x 32 register tile read from two A
 * slivers (6 rows each) and two B slivers (16 columns each): 24 zmm
 * accumulators, per k two loads of B and twelve broadcasts of A feeding 24
 * FMAs. Edge tiles use the 6-row and/or 16-column forms (so a missing
 * second sliver is never read) and masked loads/stores; the epilogue runs
 * in registers. The last n % 16 columns, when 8 or fewer, are
 * matrix-vector products at full lane width instead (cols_times_a): the
 * pixels of a 7x7 plane in a 1x1 conv, 49 = 32 + 16 + 1, padded to 64
 * before. (A 6 x 48 tile, 49 = 48 + 1, measured the same as 32 + 16.) */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

/* PREFETCHW (C's tiles, fetched for writing) is in every AVX-512 CPU */
#pragma GCC target("prfchw")

#define PMR EC_PACK_MR
#define PNR EC_PACK_NR
#define C_AHEAD 64 /* k steps (~1500 cycles of the 12 x 32 tile) */
#ifndef MAX_ROWS_PER_SET
#define MAX_ROWS_PER_SET 6 /* A read in place: rows of a tile in one L1 set */
#endif

static inline __mmask16 lane_mask(int64_t n) {
  n = n < 0 ? 0 : n > 16 ? 16 : n;
  return (__mmask16)((1u << n) - 1u);
}

/* ec_epilogue_at inlined: the out-of-line call returns the struct through
 * memory and the tile reloads it as a vector right after the scalar stores
 * (a store-forwarding stall per tile, ~25% of the kernel's cycles on a
 * 1x1 conv with K = 16). */
static inline ec_epilogue epi_at(const ec_epilogue *e, int64_t i0, int64_t j0) {
  ec_epilogue r = *e;
  if (r.bias) r.bias += i0 * r.bias_rs + j0 * r.bias_cs;
  if (r.add) r.add += i0 * r.ld_add + j0;
  return r;
}

static inline __m512 load16(const float *p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }

static inline int simple_act(uint8_t kind) {
  return kind == EC_FB_ACTIVATION_NONE || kind == EC_FB_ACTIVATION_RELU ||
         kind == EC_FB_ACTIVATION_CLIP || kind == EC_FB_ACTIVATION_LEAKY_RELU;
}

static inline __m512 act_simple(__m512 v, const ec_act *act) {
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case EC_FB_ACTIVATION_CLIP:
      return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(act->alpha)),
                           _mm512_set1_ps(act->beta));
    case EC_FB_ACTIVATION_LEAKY_RELU: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(act->alpha));
    }
    default: return v;
  }
}

/* The epilogue of one row (up to 32 values in v0, v1) at column 0 of the
 * tile; row is the tile row. Always inlined: out of line (gcc's choice with
 * this many call sites) its calls took a quarter of a K = 16 tile. */
static inline __attribute__((always_inline)) void finish_row(float *c, __m512 v0, __m512 v1, int nv, __mmask16 m0,
                              __mmask16 m1, bool accumulate, const ec_epilogue *e,
                              int64_t row) {
  if (accumulate) {
    v0 = _mm512_add_ps(v0, load16(c, m0));
    if (nv == 2) v1 = _mm512_add_ps(v1, load16(c + 16, m1));
  }
  if (e) {
    if (e->alpha != 1.0f) {
      const __m512 al = _mm512_set1_ps(e->alpha);
      v0 = _mm512_mul_ps(v0, al);
      v1 = _mm512_mul_ps(v1, al);
    }
    if (e->bias) {
      const float *b = e->bias + row * e->bias_rs;
      const __m512 be = _mm512_set1_ps(e->beta);
      if (e->bias_cs == 0) {
        const __m512 bv = _mm512_mul_ps(be, _mm512_set1_ps(b[0]));
        v0 = _mm512_add_ps(v0, bv);
        v1 = _mm512_add_ps(v1, bv);
      } else {
        v0 = _mm512_add_ps(v0, _mm512_mul_ps(be, load16(b, m0)));
        if (nv == 2) v1 = _mm512_add_ps(v1, _mm512_mul_ps(be, load16(b + 16, m1)));
      }
    }
    if (e->add) {
      const float *a = e->add + row * e->ld_add;
      v0 = _mm512_add_ps(v0, load16(a, m0));
      if (nv == 2) v1 = _mm512_add_ps(v1, load16(a + 16, m1));
    }
    v0 = act_simple(v0, &e->act);
    if (nv == 2) v1 = act_simple(v1, &e->act);
  }
  _mm512_mask_storeu_ps(c, m0, v0);
  if (nv == 2) _mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* A 12-row tile's bias rows when it has none (see tile_b). */
static const float zero_rows[12 * PNR] __attribute__((aligned(64)));

/* Whether a B-in-place tile takes tile_b's short epilogue (its sums start at
 * the bias; a residual is added after). */
static inline bool short_epilogue(const ec_epilogue *e, bool accumulate) {
  return e && !accumulate && e->alpha == 1.0f && e->bias_cs == 0 &&
         (e->act.kind == EC_FB_ACTIVATION_NONE || e->act.kind == EC_FB_ACTIVATION_RELU ||
          e->act.kind == EC_FB_ACTIVATION_CLIP);
}

#define FMA_ROW(i, src)                                                  \
  do {                                                                   \
    const __m512 ai = _mm512_set1_ps(ASTR ? aq[(i) / 3][(i) % 3 * lda] : (src)[(i) % PMR]); \
    c##i##_0 = _mm512_fmadd_ps(ai, b0, c##i##_0);                \
    if (NV == 2) c##i##_1 = _mm512_fmadd_ps(ai, b1, c##i##_1);   \
  } while (0)

#define FINISH_ROW(i)                                                                     \
  if ((i) < MR && (i) < mr)                                                               \
  finish_row(c + (i) * ldc, c##i##_0, c##i##_1, NV, m0, m1, accumulate, e, (i))

/* One tile: MR (1..12; 6 or 12 on packed B) rows from one or two A slivers,
 * NV * 16 columns from one or two B slivers; mr rows and nr columns of it
 * valid. B's row p is at b + p * b_step (PNR in a sliver, the pixel count
 * when read in place from a 1x1 conv's input, INPLACE); MASKB loads only
 * the nr valid columns (in place, the lanes past them may be past the end
 * of the input); PF prefetches the in-place slice of the next 32 columns.
 * The 32-column forms prefetch the next tile's A slivers (pf0, pf1), on
 * packed B (not INPLACE) also the next column's B into L2 (pb). ASTR: A read in
 * place instead, row i at a + i * a_sliver, all MR rows. */
static inline __attribute__((always_inline)) void tile_b(
    const int MR, const int NV, const bool INPLACE, const bool MASKB, const bool PF,
    const bool ASTR, int64_t kc,
    const float *a, int64_t a_sliver, const float *b, int64_t b_sliver, int64_t b_step, float *c,
    int64_t ldc, int64_t mr, int64_t nr, bool accumulate, const ec_epilogue *e,
    const float *pf0, const float *pf1, const float *pb, int64_t pb_step, const float *bv) {
  /* B in place (1x1 convs: MobileNetV2's K = 16 / 24 expands), one K block,
   * a per-row bias, a residual or none and ReLU / Clip (or nothing): the
   * sums start at the bias and the epilogue below skips the general one's
   * per-row branches and reloads of *e (C's stores may alias it): its ~200
   * scalar uops per tile kept the next tile's FMAs out of the reorder
   * window. The bias comes broadcast per row (bv, 16 floats a row:
   * ec_x86_gemm_rows_avx512 fills it once per call), loaded as vectors: a
   * broadcast per row here (or an add per output vector in the epilogue)
   * cost ~40 cycles of a K = 16 tile's ~465 on Zen 4, loads none. */
  const bool fast = INPLACE && short_epilogue(e, accumulate);
#define BIAS_INIT(i) \
  c##i##_0 = c##i##_1 = INPLACE ? _mm512_load_ps(bv + (i) * PNR) : _mm512_setzero_ps()
  __m512 c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1,
      c7_0, c7_1, c8_0, c8_1, c9_0, c9_1, c10_0, c10_1, c11_0, c11_1;
  BIAS_INIT(0); BIAS_INIT(1); BIAS_INIT(2); BIAS_INIT(3); BIAS_INIT(4); BIAS_INIT(5);
  BIAS_INIT(6); BIAS_INIT(7); BIAS_INIT(8); BIAS_INIT(9); BIAS_INIT(10); BIAS_INIT(11);
#undef BIAS_INIT
  const float *a1 = MR > PMR ? a + a_sliver : a;
  /* ASTR: rows 3j, 3j + 1, 3j + 2 at aq[j] + {0, 1, 2} * lda (four
   * pointers and the stride, where twelve row pointers spilled) */
  const int64_t lda = a_sliver;
  const float *aq[4] = {a, a + 3 * lda, a + 6 * lda, a + 9 * lda};
  const float *bb1 = NV == 2 ? b + b_sliver : b;
  const __mmask16 m0 = lane_mask(nr), m1 = lane_mask(nr - 16);
  /* C's tile is fetched for writing (prefetchw) C_AHEAD k steps before the
   * end: the epilogue's loads and stores of C otherwise meet up to 36 lines
   * from L3 or memory after the FMA loop, where nothing overlaps them (a
   * cold C cost the 12 x 32 tile 8-9% on Zen 4, whose out-of-order window
   * does not reach past a 256-step loop; C is cold in every K block of a
   * large GEMM and in the first block of most). Phase 0 runs up to that
   * step, phase 1 the rest. Not with B in place (1x1 convs, MobileNetV2's
   * fused blocks): not measured to help there. */
  const int64_t kpf = INPLACE ? kc : kc > C_AHEAD ? kc - C_AHEAD : 0;
  int64_t p = 0;
  for (int ph = 0; ph < 2; ph++) {
    if (ph == 1 && !INPLACE)
      for (int64_t i = 0; i < MR && i < mr; i++) {
        __builtin_prefetch(c + i * ldc, 1, 3);
        __builtin_prefetch(c + i * ldc + (NV * PNR - 1), 1, 3);
        if (NV == 2) __builtin_prefetch(c + i * ldc + PNR, 1, 3);
      }
    const int64_t pend = ph == 0 ? kpf : kc;
#pragma GCC unroll 2
  for (; p < pend; p++) {
    if (PF) { /* the lines of floats 47 and 63 cover [32, 64) with [0, 32)'s last line */
      _mm_prefetch((const char *)(b + 3 * PNR - 1), _MM_HINT_T0);
      _mm_prefetch((const char *)(b + 4 * PNR - 1), _MM_HINT_T0);
    }
    const __m512 b0 = MASKB ? load16(b, m0) : _mm512_loadu_ps(b);
    const __m512 b1 = NV == 2 ? (MASKB ? load16(bb1, m1) : _mm512_loadu_ps(bb1)) : b0;
    FMA_ROW(0, a);
    if (MR > 1) FMA_ROW(1, a);
    if (MR > 2) FMA_ROW(2, a);
    if (MR > 3) FMA_ROW(3, a);
    if (MR > 4) FMA_ROW(4, a);
    if (MR > 5) FMA_ROW(5, a);
    if (MR > 6) FMA_ROW(6, a1);
    if (MR > 7) FMA_ROW(7, a1);
    if (MR > 8) FMA_ROW(8, a1);
    if (MR > 9) FMA_ROW(9, a1);
    if (MR > 10) FMA_ROW(10, a1);
    if (MR > 11) FMA_ROW(11, a1);
    /* The next tile's A slivers: a weight matrix used for few columns
     * (7x7 planes) is read once, from memory, and the hardware prefetchers
     * restart at every 4 KB page of its slivers. One prefetch per k step,
     * the two slivers in turn, each 48 bytes on from its last (every line
     * once or twice); the swap is register renaming. Also with B in place
     * (1x1 convs: the next row tile's slivers, from memory in the first
     * column of tiles; on Zen 4 MobileNetV2's 14x14 1x1 convs ran 5-15%
     * faster with it). Not in the 16-column
     * forms: 13 loads per 12 FMAs already hold the load ports there
     * (Winograd's 12 x 16 products ran 4% slower with it). */
    if (NV == 2) {
      if (!ASTR) _mm_prefetch((const char *)pf0, _MM_HINT_T0);
      if (!INPLACE) _mm_prefetch((const char *)pb, _MM_HINT_T1);
    }
    pb += pb_step;
    const float *pft = pf1;
    pf1 = pf0 + 2 * PMR;
    pf0 = pft;
    a += PMR;
    a1 += PMR;
    if (ASTR)
      for (int j = 0; j < 4; j++) aq[j]++;
    b += b_step;
    bb1 += b_step;
  }
  }
  if (fast) { /* the bias is in the sums */
    const float *add = e->add;
    const int64_t ld_add = e->ld_add;
    const bool clamp = e->act.kind != EC_FB_ACTIVATION_NONE;
    const bool clip = e->act.kind == EC_FB_ACTIVATION_CLIP;
    const __m512 lo = _mm512_set1_ps(clip ? e->act.alpha : 0.0f);
    const __m512 hi = _mm512_set1_ps(clip ? e->act.beta : __builtin_inff());
#define FAST_ROW(i)                                                          \
    if ((i) < MR && (i) < mr) {                                             \
      __m512 v0 = c##i##_0, v1 = c##i##_1;                                  \
      if (add) {                                                            \
        v0 = _mm512_add_ps(v0, load16(add + (i) * ld_add, m0));             \
        if (NV == 2) v1 = _mm512_add_ps(v1, load16(add + (i) * ld_add + PNR, m1)); \
      }                                                                     \
      if (clamp) {                                                          \
        v0 = _mm512_min_ps(_mm512_max_ps(v0, lo), hi);                      \
        v1 = _mm512_min_ps(_mm512_max_ps(v1, lo), hi);                      \
      }                                                                     \
      _mm512_mask_storeu_ps(c + (i) * ldc, m0, v0);                         \
      if (NV == 2) _mm512_mask_storeu_ps(c + (i) * ldc + PNR, m1, v1);      \
    }
    FAST_ROW(0) FAST_ROW(1) FAST_ROW(2) FAST_ROW(3) FAST_ROW(4) FAST_ROW(5)
    FAST_ROW(6) FAST_ROW(7) FAST_ROW(8) FAST_ROW(9) FAST_ROW(10) FAST_ROW(11)
#undef FAST_ROW
    return;
  }
  FINISH_ROW(0);
  FINISH_ROW(1);
  FINISH_ROW(2);
  FINISH_ROW(3);
  FINISH_ROW(4);
  FINISH_ROW(5);
  FINISH_ROW(6);
  FINISH_ROW(7);
  FINISH_ROW(8);
  FINISH_ROW(9);
  FINISH_ROW(10);
  FINISH_ROW(11);
  if (e && !simple_act(e->act.kind))
    for (int64_t i = 0; i < mr; i++) ec_x86_act_avx512(c + i * ldc, nr, &e->act);
}

#define tile(MR, NV, kc, a, a_sliver, b, b_sliver, c, ldc, mr, nr, acc, e, pf0, pf1, pb, pbs) \
  tile_b(MR, NV, false, false, false, ASTR, kc, a, a_sliver, b, b_sliver, PNR, c, ldc, mr, nr,  \
         acc, e, pf0, pf1, pb, pbs, NULL)

/* One row of A (m == 1, a matrix-vector product): the 12-row tile would
 * spend 11/12 of its FMAs on padding, and the product streams B from
 * memory, so: four B slivers at once, two k steps per iteration (eight
 * independent accumulators), B prefetched RB_AHEAD k steps (16 KB a sliver)
 * ahead into L2: a classifier's weight is read once per run, from memory,
 * and 2 KB ahead into L1 left the 1280 x 1000 one (MobileNetV2's) at ~25
 * GB/s (Zen 4: 0.21 -> 0.17 ms cold alone, the model 1.5-2.8% faster). */
#define RB_AHEAD 256
static void row_times_b(int64_t n, int64_t kc, const float *a, int64_t as, const float *b,
                        int64_t b_sliver, float *c, bool accumulate, const ec_epilogue *e) {
  for (int64_t j0 = 0; j0 < n; j0 += 4 * PNR) {
    const int64_t nr = n - j0 < 4 * PNR ? n - j0 : 4 * PNR, ns = (nr + PNR - 1) / PNR;
    const float *bs[4];
    for (int64_t s = 0; s < 4; s++) bs[s] = b + (j0 / PNR + (s < ns ? s : 0)) * b_sliver;
    __m512 acc[4][2];
    for (int s = 0; s < 4; s++) acc[s][0] = acc[s][1] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 2 <= kc; p += 2) {
      const __m512 a0 = _mm512_set1_ps(a[p * as]), a1 = _mm512_set1_ps(a[(p + 1) * as]);
      for (int s = 0; s < 4; s++) {
        _mm_prefetch((const char *)(bs[s] + (p + RB_AHEAD) * PNR), _MM_HINT_T1);
        acc[s][0] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(bs[s] + p * PNR), acc[s][0]);
        acc[s][1] = _mm512_fmadd_ps(a1, _mm512_loadu_ps(bs[s] + (p + 1) * PNR), acc[s][1]);
      }
    }
    if (p < kc) {
      const __m512 a0 = _mm512_set1_ps(a[p * as]);
      for (int s = 0; s < 4; s++)
        acc[s][0] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(bs[s] + p * PNR), acc[s][0]);
    }
    ec_epilogue ej;
    if (e) ej = epi_at(e, 0, j0);
    for (int64_t s = 0; s < ns; s++) {
      const int64_t w = nr - s * PNR;
      ec_epilogue es;
      if (e) es = epi_at(&ej, 0, s * PNR);
      finish_row(c + j0 + s * PNR, _mm512_add_ps(acc[s][0], acc[s][1]), _mm512_setzero_ps(), 1,
                 lane_mask(w), 0, accumulate, e ? &es : NULL, 0);
    }
    if (e && !simple_act(e->act.kind)) ec_x86_act_avx512(c + j0, nr, &e->act);
  }
}

/* Columns [j0, j1) by the 12 x 32 tile and its edge forms; ASTR: A read in
 * place, row i at a + i * a_sliver. */
static inline __attribute__((always_inline)) void tiles32(
    const bool ASTR, int64_t m, int64_t j0, int64_t j1, int64_t kc, const float *a,
                    int64_t a_sliver, const float *b, int64_t b_sliver, float *c, int64_t ldc,
                    bool accumulate, const ec_epilogue *epi) {
  /* The next column's two B slivers into L2 while this column runs, in
   * shares: the first half of the tiles take sliver 0, the rest sliver 1,
   * each share read over the tile's kc steps, one prefetch per step. A
   * weight used for few rows (BERT's 128 tokens) is streamed once from L3
   * or memory, and a column's first tile would wait on all of it. */
  const int64_t nt = (m + 2 * PMR - 1) / (2 * PMR), h = nt > 1 ? nt / 2 : 1;
  for (; j0 < j1; j0 += 2 * PNR) {
    const int64_t nr = j1 - j0 < 2 * PNR ? j1 - j0 : 2 * PNR;
    const float *bj = b + j0 / PNR * b_sliver;
    const float *bn = j0 + 2 * PNR < j1 ? bj + 2 * b_sliver : bj;
    for (int64_t i0 = 0; i0 < m; i0 += 2 * PMR) {
      const int64_t t = i0 / (2 * PMR), sl = t < h ? 0 : 1, parts = sl ? nt - h : h;
      const float *pb = bn + sl * b_sliver + (t - sl * h) * kc * PNR / parts;
      const int64_t pb_step = (PNR + parts - 1) / parts;
      const int64_t mr = m - i0 < 2 * PMR ? m - i0 : 2 * PMR;
      const float *ai = ASTR ? a + i0 * a_sliver : a + i0 / PMR * a_sliver;
      float *cij = c + i0 * ldc + j0;
      ec_epilogue e;
      if (epi) e = epi_at(epi, i0, j0);
      const ec_epilogue *ep = epi ? &e : NULL;
      /* the next tile down, or the first of the next column */
      const int64_t in = i0 + 2 * PMR < m ? i0 + 2 * PMR : 0;
      const float *pf0 = a + in / PMR * a_sliver;
      const float *pf1 = m - in > PMR ? pf0 + a_sliver : pf0;
#define TILE(MR_, NV_) \
  tile(MR_, NV_, kc, ai, a_sliver, bj, b_sliver, cij, ldc, mr, nr, accumulate, ep, pf0, pf1, \
       pb, pb_step)
      /* MR = mr rounded up to even: the last 8 rows of M = 128 (BERT's
       * tokens, 10 x 12 + 8) as 12 cost 3% of the product */
#define TILE_NV(MR_) \
  if (nr > PNR)      \
    TILE(MR_, 2);    \
  else               \
    TILE(MR_, 1)
      switch ((mr + 1) / 2) {
        case 1:
        case 2:
        case 3: TILE_NV(6); break;
        case 4: TILE_NV(8); break;
        case 5: TILE_NV(10); break;
        default: TILE_NV(12); break;
      }
#undef TILE_NV
#undef TILE
    }
  }
}

/* Lanes [k, k + 16) of hi:lo (valignd). */
#define shift_ps(hi, lo, k) _mm512_castsi512_ps(_mm512_alignr_epi32((hi), (lo), (k)))

#define MV_COLS 4 /* columns per matrix-vector pass */

/* R (1..MV_COLS) columns of C as matrix-vector products. A sliver is 6 * kc
 * contiguous floats, row i of k step p at [6p + i]; multiplying it lane by
 * lane with bx[6p + i] = B(p, column) uses whole vectors, 48 floats (eight k
 * steps) per three FMAs, and a sliver's row sums come out of the 48 lanes at
 * the end (lane l belongs to row l % 6). bx: R columns, each 6 * kc floats,
 * kc a multiple of 8 (the tail zero in bx, so that A's tail is read but
 * weighs nothing; A's sliver is padded to a whole k step only, so the last
 * partial group is masked). */
static inline __attribute__((always_inline)) void cols_times_a(
    const int R, int64_t m, int64_t kc, const float *a, int64_t a_sliver, const float *bx,
    float *c, int64_t ldc, bool accumulate, const ec_epilogue *epi) {
  const int64_t len = kc * PMR, full = len / 48 * 48, rest = len - full;
  const __mmask16 r0 = lane_mask(rest), r1 = lane_mask(rest - 16), r2 = lane_mask(rest - 32);
  for (int64_t i0 = 0; i0 < m; i0 += PMR) {
    const float *as = a + i0 / PMR * a_sliver;
    __m512 acc[MV_COLS][3];
    for (int t = 0; t < R; t++) acc[t][0] = acc[t][1] = acc[t][2] = _mm512_setzero_ps();
    for (int64_t q = 0; q < full; q += 48) {
      const __m512 a0 = _mm512_loadu_ps(as + q), a1 = _mm512_loadu_ps(as + q + 16),
                   a2 = _mm512_loadu_ps(as + q + 32);
      for (int t = 0; t < R; t++) {
        const float *x = bx + t * len + q;
        acc[t][0] = _mm512_fmadd_ps(a0, _mm512_loadu_ps(x), acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(a1, _mm512_loadu_ps(x + 16), acc[t][1]);
        acc[t][2] = _mm512_fmadd_ps(a2, _mm512_loadu_ps(x + 32), acc[t][2]);
      }
    }
    if (rest) {
      const __m512 a0 = load16(as + full, r0), a1 = load16(as + full + 16, r1),
                   a2 = load16(as + full + 32, r2);
      for (int t = 0; t < R; t++) {
        const float *x = bx + t * len + full;
        acc[t][0] = _mm512_fmadd_ps(a0, load16(x, r0), acc[t][0]);
        acc[t][1] = _mm512_fmadd_ps(a1, load16(x + 16, r1), acc[t][1]);
        acc[t][2] = _mm512_fmadd_ps(a2, load16(x + 32, r2), acc[t][2]);
      }
    }
    /* Row sums: l[0..48) = acc[t][0..3); rows are lanes mod 6, so l[0..16)
     * + l[24..40) + l[12..28) + l[36..48) holds groups {0,1,4,5,2,3,6,7} in
     * lanes 0..11, and lanes 0..5 plus lanes 6..11 are the six sums. */
    float rows[MV_COLS][16];
    for (int t = 0; t < R; t++) {
      const __m512i l0 = _mm512_castps_si512(acc[t][0]), l1 = _mm512_castps_si512(acc[t][1]),
                    l2 = _mm512_castps_si512(acc[t][2]);
      const __m512 y = _mm512_add_ps(acc[t][0], shift_ps(l2, l1, 8));
      const __m512 w = _mm512_add_ps(y, _mm512_add_ps(shift_ps(l1, l0, 12), shift_ps(l2, l2, 4)));
      const __m512i wi = _mm512_castps_si512(w);
      _mm512_storeu_ps(rows[t], _mm512_add_ps(w, shift_ps(wi, wi, 6)));
    }
    /* transposed to rows of R columns, then the tiles' row epilogue */
    const int64_t mr = m - i0 < PMR ? m - i0 : PMR;
    const __mmask16 mk = lane_mask(R);
    ec_epilogue e;
    if (epi) e = epi_at(epi, i0, 0);
    for (int64_t i = 0; i < mr; i++) {
      float row[16];
      for (int t = 0; t < R; t++) row[t] = rows[t][i];
      const __m512 v = _mm512_maskz_loadu_ps(mk, row);
      finish_row(c + (i0 + i) * ldc, v, v, 1, mk, 0, accumulate, epi ? &e : NULL, i);
      if (epi && !simple_act(epi->act.kind)) ec_x86_act_avx512(c + (i0 + i) * ldc, R, &epi->act);
    }
  }
}

/* Columns [j0, n) (at most 8, within one B sliver) as matrix-vector
 * products; kc <= EC_GEMM_KC. */
static void tail_cols(int64_t m, int64_t j0, int64_t n, int64_t kc, const float *a,
                      int64_t a_sliver, const float *b, int64_t b_sliver, float *c,
                      int64_t ldc, bool accumulate, const ec_epilogue *epi) {
  float bx[MV_COLS * PMR * EC_GEMM_KC];
  for (; j0 < n; j0 += MV_COLS) {
    const int r = n - j0 < MV_COLS ? (int)(n - j0) : MV_COLS;
    const float *bs = b + j0 / PNR * b_sliver + j0 % PNR;
    for (int t = 0; t < r; t++)
      for (int64_t p = 0; p < kc; p++) {
        const float v = bs[p * PNR + t];
        for (int i = 0; i < PMR; i++) bx[t * kc * PMR + p * PMR + i] = v;
      }
    ec_epilogue e;
    if (epi) e = epi_at(epi, 0, j0);
    const ec_epilogue *ep = epi ? &e : NULL;
    switch (r) {
      case 1: cols_times_a(1, m, kc, a, a_sliver, bx, c + j0, ldc, accumulate, ep); break;
      case 2: cols_times_a(2, m, kc, a, a_sliver, bx, c + j0, ldc, accumulate, ep); break;
      case 3: cols_times_a(3, m, kc, a, a_sliver, bx, c + j0, ldc, accumulate, ep); break;
      default: cols_times_a(4, m, kc, a, a_sliver, bx, c + j0, ldc, accumulate, ep); break;
    }
  }
}

void ec_x86_gemm_packed_avx512(int64_t m, int64_t n, int64_t kc, const float *a,
                               int64_t a_sliver, const float *b, int64_t b_sliver, float *c,
                               int64_t ldc, bool accumulate, const ec_epilogue *epi) {
  if (m == 1) {
    row_times_b(n, kc, a, PMR, b, b_sliver, c, accumulate, epi);
    return;
  }
  /* The last n % 16 columns as matrix-vector products when few: a pass of
   * up to 4 costs about (3 + 3r) / 8 cycles per 12 rows and k step against
   * ~6.5 for the 16-wide edge tile (which would spend 16 - r lanes on
   * padding). kc <= EC_GEMM_KC always holds under ec_sgemm_ex. */
  const int64_t t = n % PNR;
  const int64_t mv = t > 0 && t <= 2 * MV_COLS && kc <= EC_GEMM_KC ? t : 0;
  tiles32(false, m, 0, n - mv, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
  if (mv) tail_cols(m, n - mv, n, kc, a, a_sliver, b, b_sliver, c, ldc, accumulate, epi);
}

void ec_x86_gemv_avx512(int64_t n, int64_t k, const float *a, int64_t as, const float *b,
                        int64_t b_sliver, float *c, bool accumulate, const ec_epilogue *epi) {
  row_times_b(n, k, a, as, b, b_sliver, c, accumulate, epi);
}

bool ec_x86_gemm_astr_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                             const float *b, int64_t b_sliver, float *c, int64_t ldc,
                             bool accumulate, const ec_epilogue *epi) {
  /* the matrix-vector tail reads A's slivers */
  const int64_t t = n % PNR, mf = m / (2 * PMR) * (2 * PMR);
  if (mf == 0 || kc > EC_GEMM_KC || (t > 0 && t <= 2 * MV_COLS)) return false;
  /* The twelve rows' lines must spread over L1's sets (64 of 64-byte lines
   * a way, 8 ways): a row stride of 4 KB puts all twelve in one set, and
   * the 1024^3 GEMM ran at 101 GFLOP/s against 107 packed. Six a set
   * (strides of 2 or 6 KB: BERT's 128 x 384 x 1536) measured as fast as
   * pre-packed A. */
  int per_set[64] = {0};
  for (int64_t i = 0; i < 2 * PMR; i++)
    if (++per_set[(i * lda * (int64_t)sizeof(float)) >> 6 & 63] > MAX_ROWS_PER_SET) return false;
  tiles32(true, mf, 0, n, kc, a, lda, b, b_sliver, c, ldc, accumulate, epi);
  if (mf < m) { /* the last m % 12 rows packed (the tiles read all 12) */
    _Alignas(64) float ap[2 * PMR * EC_GEMM_KC];
    ec_x86_pack_a_avx512(m - mf, kc, a + mf * lda, lda, ap);
    ec_epilogue e;
    if (epi) e = epi_at(epi, mf, 0);
    tiles32(false, m - mf, 0, n, kc, ap, kc * PMR, b, b_sliver, c + mf * ldc, ldc, accumulate,
            epi ? &e : NULL);
  }
  return true;
}

/* Columns [j0, j1) of C = A . B with B read in place (row p at b + p * ldb):
 * the 12 x 32 tile and its edge forms, masked loads on the last partial
 * tile. */
/* The row tile of tiles32_rows: MR = mr rounded up to even, so that the
 * last rows of M = 16 (4) or 32 (8) are not computed as 6 or 12. */
static inline __attribute__((always_inline)) void rows_tile(
    const int NV, const bool MASKB, const bool PF, int64_t k, const float *a, int64_t a_sliver,
    const float *b, int64_t ldb, float *c, int64_t ldc, int64_t mr, int64_t nr, bool acc,
    const ec_epilogue *e, const float *pf0, const float *pf1, const float *bv) {
#define RT(MR) \
  tile_b(MR, NV, true, MASKB, PF, false, k, a, a_sliver, b, PNR, ldb, c, ldc, mr, nr, acc, e, pf0, \
         pf1, a, 0, bv)
  switch ((mr + 1) / 2) {
    case 1: RT(2); break;
    case 2: RT(4); break;
    case 3: RT(6); break;
    case 4: RT(8); break;
    case 5: RT(10); break;
    default: RT(12); break;
  }
#undef RT
}

/* Columns [j0, j1) of C = A . B with B read in place (row p at b + p * ldb):
 * 12 x 32 tiles, the last rows and columns in narrower forms (masked loads
 * on the last partial tile). */
static void tiles32_rows(int64_t m, int64_t j0, int64_t j1, int64_t k, const float *a,
                         int64_t a_sliver, const float *b, int64_t ldb, float *c, int64_t ldc,
                         bool accumulate, const ec_epilogue *epi, const float *bv) {
  for (; j0 < j1; j0 += 2 * PNR) {
    const int64_t nr = j1 - j0 < 2 * PNR ? j1 - j0 : 2 * PNR;
    const float *bj = b + j0;
    for (int64_t i0 = 0; i0 < m; i0 += 2 * PMR) {
      const int64_t mr = m - i0 < 2 * PMR ? m - i0 : 2 * PMR;
      const float *ai = a + i0 / PMR * a_sliver;
      float *cij = c + i0 * ldc + j0;
      ec_epilogue e;
      if (epi) e = epi_at(epi, i0, j0);
      const ec_epilogue *ep = epi ? &e : NULL;
      /* the next tile down's A slivers in the first column of tiles (A's
       * block comes from memory or L3 there; after, from L2, and fetching
       * it into L1 early cost ResNet-50's 1x1 convs 2-5%): the tile's own
       * elsewhere (hits in L1) */
      const int64_t in = i0 + 2 * PMR < m && j0 == 0 ? i0 + 2 * PMR : i0;
      const float *pf0 = a + in / PMR * a_sliver;
      const float *pf1 = m - in > PMR ? pf0 + a_sliver : pf0;
      /* the first row tile fetches the next tile's slice of B: K row
       * streams are too many for the hardware prefetchers */
#define RT2(NV_, MASKB_, PF_)                                                              \
  rows_tile(NV_, MASKB_, PF_, k, ai, a_sliver, bj, ldb, cij, ldc, mr, nr, accumulate, ep, pf0, \
            pf1, bv ? bv + i0 * PNR : zero_rows)
      if (nr == 2 * PNR && i0 == 0 && j1 - j0 > 2 * PNR)
        RT2(2, false, true);
      else if (nr == 2 * PNR)
        RT2(2, false, false);
      else if (nr > PNR)
        RT2(2, true, false);
      else
        RT2(1, true, false);
#undef RT2
    }
  }
}

void ec_x86_gemm_rows_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_sliver,
                             const float *b, int64_t ldb, float *c, int64_t ldc,
                             const ec_epilogue *epi) {
  /* The last n % 16 <= 8 columns as matrix-vector products, as in
   * ec_x86_gemm_packed_avx512: those few columns packed here. */
  const int64_t t = n % PNR;
  const int64_t mv = m > 1 && t > 0 && t <= 2 * MV_COLS ? t : 0;
  float bv[EC_GEMM_MC + 2 * PMR][PNR] __attribute__((aligned(64)));
  /* K in chunks of KC as ec_sgemm_ex cuts it (a chunk's K x 32 slice of B
   * stays in L1 across the row tiles), accumulating in C */
  for (int64_t pc = 0; pc < k || pc == 0; pc += EC_GEMM_KC) {
    const int64_t kc = k - pc < EC_GEMM_KC ? k - pc : EC_GEMM_KC;
    const bool acc = pc > 0, last = pc + kc >= k;
    const float *ap = a + pc * PMR, *bp = b + pc * ldb;
    const ec_epilogue *ep = last ? epi : NULL;
    /* the first column tile's slice up front (the tiles prefetch the next
     * one's): a job of one tile (two threads cut 169 pixels into 32s) would
     * otherwise meet every line of it as a miss in the FMA loop */
    for (int64_t p = 0; p < kc; p++) {
      const float *r = bp + p * ldb;
      _mm_prefetch((const char *)r, _MM_HINT_T0);
      _mm_prefetch((const char *)(r + PNR - 1), _MM_HINT_T0);
      _mm_prefetch((const char *)(r + 2 * PNR - 1), _MM_HINT_T0);
    }
    /* rows in blocks of MC, as ec_sgemm_ex: a block's A (240 x 256 floats)
     * stays in L2 across the column tiles (512 -> 1000 at 13x13 streamed
     * its 1 MB chunk of A from L3 per column tile without) */
    for (int64_t ic = 0; ic < m; ic += EC_GEMM_MC) {
      const int64_t mc = m - ic < EC_GEMM_MC ? m - ic : EC_GEMM_MC;
      ec_epilogue eb;
      if (ep) eb = epi_at(ep, ic, 0);
      /* the block's per-row bias broadcast to 16 floats a row (zeros past
       * mc, up to the last 12-row tile's end) for the tiles' sums to start at */
      const bool rowbias = ep && eb.bias && short_epilogue(&eb, acc);
      if (rowbias)
        for (int64_t i = 0; i < mc + 2 * PMR; i++)
          _mm512_store_ps(bv[i], _mm512_set1_ps(i < mc ? eb.beta * eb.bias[i * eb.bias_rs] : 0.0f));
      tiles32_rows(mc, 0, n - mv, kc, ap + ic / PMR * a_sliver, a_sliver, bp, ldb, c + ic * ldc,
                   ldc, acc, ep ? &eb : NULL, rowbias ? bv[0] : NULL);
    }
    if (!mv) continue;
    float bt[EC_GEMM_KC * PNR];
    const float *src = bp + (n - mv);
    for (int64_t p = 0; p < kc; p++)
      _mm512_storeu_ps(bt + p * PNR, load16(src + p * ldb, lane_mask(mv)));
    ec_epilogue e;
    if (ep) e = epi_at(ep, 0, n - mv);
    tail_cols(m, 0, mv, kc, ap, a_sliver, bt, kc * PNR, c + (n - mv), ldc, acc, ep ? &e : NULL);
  }
}

/* A (mc x kc, row i at a + i * rs, contiguous along k) into slivers of 6
 * rows, as gemm_core.c's pack_a: 16 k steps of a sliver (96 floats, six
 * vectors) from six row vectors. Lane l of output vector q is row
 * i = (16q + l) % 6 at k step (16q + l) / 6: one two-source permute per row
 * pair (index: the k step, + 16 for the pair's odd row) and two blends. The
 * portable loop stores every float alone at a 24-byte stride (~2 cycles a
 * float on Zen 4: 7% of BERT's 128 x 384 x 1536 products). */
void ec_x86_pack_a_avx512(int64_t mc, int64_t kc, const float *a, int64_t rs,
                          float *restrict dst) {
  static const int32_t idx[PMR][16] = {
      {0, 16, 0, 16, 0, 16, 1, 17, 1, 17, 1, 17, 2, 18, 2, 18},
      {2, 18, 3, 19, 3, 19, 3, 19, 4, 20, 4, 20, 4, 20, 5, 21},
      {5, 21, 5, 21, 6, 22, 6, 22, 6, 22, 7, 23, 7, 23, 7, 23},
      {8, 24, 8, 24, 8, 24, 9, 25, 9, 25, 9, 25, 10, 26, 10, 26},
      {10, 26, 11, 27, 11, 27, 11, 27, 12, 28, 12, 28, 12, 28, 13, 29},
      {13, 29, 13, 29, 14, 30, 14, 30, 14, 30, 15, 31, 15, 31, 15, 31}};
  /* lanes from rows 2-3 and 4-5 (period 3 in q) */
  static const uint16_t msk[3][2] = {{0xc30c, 0x0c30}, {0x0c30, 0x30c3}, {0x30c3, 0xc30c}};
  for (int64_t i0 = 0; i0 < mc; i0 += PMR) {
    const int64_t h = mc - i0 < PMR ? mc - i0 : PMR;
    const float *r = a + i0 * rs;
    int64_t p = 0;
    for (; p + 16 <= kc; p += 16) {
      __m512 row[PMR];
      for (int i = 0; i < PMR; i++)
        row[i] = i < h ? _mm512_loadu_ps(r + i * rs + p) : _mm512_setzero_ps();
      for (int q = 0; q < PMR; q++) {
        const __m512i iq = _mm512_loadu_si512(idx[q]);
        const __m512 t0 = _mm512_permutex2var_ps(row[0], iq, row[1]);
        const __m512 t1 = _mm512_permutex2var_ps(row[2], iq, row[3]);
        const __m512 t2 = _mm512_permutex2var_ps(row[4], iq, row[5]);
        const __m512 o = _mm512_mask_mov_ps(t0, msk[q % 3][0], t1);
        _mm512_storeu_ps(dst + p * PMR + q * 16, _mm512_mask_mov_ps(o, msk[q % 3][1], t2));
      }
    }
    for (; p < kc; p++)
      for (int64_t i = 0; i < PMR; i++) dst[p * PMR + i] = i < h ? r[i * rs + p] : 0.0f;
    dst += kc * PMR;
  }
}
