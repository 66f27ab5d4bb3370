/* MaxPool / AveragePool rows, AVX-512 (pool_x86.h): 16 outputs of a row per
 * vector, straight from the input rows (no padded copy).
 *
 * Output vector o0..o0+15 of row oh folds, for each valid window row (the
 * first/count tables of pool.c) and each tap column kj, one vector of input
 * columns c0 + kj * dw + sw * l (c0 = o0 * sw - pad_w): stride 1 one load,
 * stride 2 two loads and one vpermt2ps keeping the even lanes. Vectors whose
 * columns all lie in the row load plainly; the others (the first and last of
 * a row, every vector of a narrow plane) use masked loads that fill the lanes
 * outside the row with the padding value (-FLT_MAX for max, 0 for average)
 * and do not read them, so they may start before a row or end past the
 * tensor. The masks are made once per vector, per tap column.
 *
 * Max gives pool.c's results bit for bit (max3_s2_rows: equal values): max as v > a ? v : a from
 * -FLT_MAX (vmaxps(v, a) returns a when v is NaN: NaN inputs are skipped),
 * the padding value never winning. Averages sum each window row, then the
 * rows, from +0 (an added padding 0 changes nothing) and multiply by the
 * reciprocal divisor (0 where it is 0): within a few ulp of pool.c's
 * quotient. Small stride-1 planes run flat (flat_fits below); a 1x1 output
 * whose window is exactly the input (global pools) reduces the contiguous
 * plane, with 4 vector accumulators. */
#include <float.h>
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/pool_x86.h"

#define MAX_KW 16 /* tap columns with masks kept per vector */

/* base + off floats as an address: masked loads may start before a row or
 * end past the tensor (their masked lanes are not read); made from integers
 * rather than by pointer arithmetic outside the array, which C leaves
 * undefined. */
#define AT(base, off) \
  ((const float *)((uintptr_t)(base) + (uintptr_t)((intptr_t)(off) * (intptr_t)sizeof(float))))

/* lanes lo..hi-1, clamped to 0..16 */
static inline __mmask16 range_mask(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo > 16 ? 16 : lo;
  hi = hi < 0 ? 0 : hi > 16 ? 16 : hi;
  if (hi <= lo) return 0;
  return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

static inline __m512 fold(const int MAX, __m512 acc, __m512 v) {
  return MAX ? _mm512_max_ps(v, acc) : _mm512_add_ps(acc, v);
}

/* 1 / d per lane, 0 where d is 0 (pool.c's AVG gives 0 there): the
 * averages multiply by it, as a vdivps per vector would cost more than the
 * taps (within 2 ulp of pool.c's quotient) */
static inline __m512 recip(__m512 d) {
  return _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ),
                             _mm512_set1_ps(1.0f), d);
}

/* The column side of a call, the same for every row and plane: per output
 * vector, whether all its loads lie inside the row, else the masks of its
 * loads per tap column and (average) its per-lane divisors along W. Kept
 * for the first and last PLAN_HALF vectors of a row; a vector between them
 * (rows over 2 * PLAN_HALF * 16 outputs) that is not inside makes its own. */
#define PLAN_HALF 8
typedef struct vec_cols {
  bool inside;
  __mmask16 m0[MAX_KW], m1[MAX_KW]; /* first and second load (stride 2) */
  __m512 recw; /* 1 / divisor along W per lane (recip) */
} vec_cols;

static void plan_vec(const ec_pool_params *p, int64_t sw, int64_t v, vec_cols *c) {
  const int64_t W = p->in[2], OW = p->out[2], kw = p->kernel_w, dw = p->dil[2];
  const int64_t o0 = v * 16, n = OW - o0 < 16 ? OW - o0 : 16, c0 = o0 * sw - p->pad_w;
  /* stride 2 reads all 32 columns of its two loads */
  c->inside = n == 16 && c0 >= 0 && c0 + 16 * sw - 1 + (kw - 1) * dw < W;
  /* stride 1 keeps lanes l < n in the row; stride 2 the columns c .. c + 2n - 2 */
  const int64_t span = sw == 1 ? n : 2 * n - 1;
  for (int64_t kj = 0; kj < kw; kj++) {
    const int64_t col = c0 + kj * dw, hi = W - col < span ? W - col : span;
    c->m0[kj] = range_mask(-col, hi);
    c->m1[kj] = sw == 1 ? 0 : range_mask(-col - 16, hi - 16);
  }
  const __mmask16 keep = (__mmask16)((1u << n) - 1u);
  const int64_t *dv = p->div[2] + o0;
  const __m256 lo = _mm512_cvtepi64_ps(_mm512_maskz_loadu_epi64((__mmask8)keep, dv));
  const __m256 hi = _mm512_cvtepi64_ps(_mm512_maskz_loadu_epi64((__mmask8)(keep >> 8), dv + 8));
  c->recw = recip(_mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1));
}

/* Output rows [begin, end); KW/SW the tap columns and horizontal stride when
 * known at compile time (KW 0: p->kernel_w), MAX the kind. Each window row
 * is folded on its own (kw taps) and then into the output vector: the rows'
 * chains overlap, where one chain of kh * kw dependent ops would leave the
 * core waiting on its latency. */
static inline __attribute__((always_inline)) void pool_rows(const int MAX, const int KW,
                                                            const int SW,
                                                            const ec_pool_params *p,
                                                            const float *x, float *y,
                                                            int64_t begin, int64_t end) {
  const int64_t W = p->in[2], OH = p->out[1], OW = p->out[2], kw = KW ? KW : p->kernel_w;
  const int64_t dw = p->dil[2], dh = p->dil[1], pw = p->pad_w, plane = p->in[1] * W;
  const int64_t nv = (OW + 15) / 16;
  const __m512 fill = MAX ? _mm512_set1_ps(-FLT_MAX) : _mm512_setzero_ps();
  const __m512i even =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  vec_cols plan[2 * PLAN_HALF], own;
  for (int64_t v = 0; v < nv && v < 2 * PLAN_HALF; v++)
    plan_vec(p, SW, v < PLAN_HALF || nv <= 2 * PLAN_HALF ? v : nv - 2 * PLAN_HALF + v, &plan[v]);
  /* (plane, oh) of row r counted up: a 64-bit division per row would cost
   * as much as a narrow row's taps */
  int64_t oh = begin % OH;
  const float *xp = x + begin / OH * plane;
  for (int64_t r = begin; r < end; r++, oh++) {
    if (oh == OH) oh = 0, xp += plane;
    float *yr = y + r * OW;
    const int64_t fh = p->first[1][oh], ch = p->count[1][oh];
    const float divh = (float)p->div[1][oh];
    /* scalar: a vdivps per row costs as much as a narrow row's taps */
    const __m512 rech = _mm512_set1_ps(divh > 0 ? 1.0f / divh : 0.0f);
    const __m512 rec_in = _mm512_set1_ps(divh > 0 ? 1.0f / (divh * (float)kw) : 0.0f);
    for (int64_t v = 0; v < nv; v++) {
      const int64_t o0 = v * 16, c0 = o0 * SW - pw;
      const vec_cols *c;
      if (nv <= 2 * PLAN_HALF || v < PLAN_HALF) {
        c = &plan[v];
      } else if (v >= nv - PLAN_HALF) {
        c = &plan[v - (nv - 2 * PLAN_HALF)];
      } else {
        c = &own;
        if (c0 < 0 || c0 + 16 * SW - 1 + (kw - 1) * dw >= W) plan_vec(p, SW, v, &own);
        else own.inside = true;
      }
      __m512 acc = fill;
      if (c->inside) {
        for (int64_t i = 0; i < ch; i++) {
          const float *src = xp + (fh + i * dh) * W + c0;
          __m512 racc = fill;
          for (int64_t kj = 0; kj < kw; kj++, src += dw) {
            const __m512 t = SW == 1 ? _mm512_loadu_ps(src)
                                     : _mm512_permutex2var_ps(_mm512_loadu_ps(src), even,
                                                              _mm512_loadu_ps(src + 16));
            racc = kj ? fold(MAX, racc, t) : (MAX ? _mm512_max_ps(t, fill) : t);
          }
          acc = i ? fold(MAX, acc, racc) : racc;
        }
        if (!MAX) acc = _mm512_mul_ps(acc, rec_in);
        _mm512_storeu_ps(yr + o0, acc);
        continue;
      }
      for (int64_t i = 0; i < ch; i++) {
        const float *row = xp + (fh + i * dh) * W;
        __m512 racc = fill;
        for (int64_t kj = 0; kj < kw; kj++) {
          const int64_t col = c0 + kj * dw;
          const __m512 a = _mm512_mask_loadu_ps(fill, c->m0[kj], AT(row, col));
          const __m512 t = SW == 1 ? a
                                   : _mm512_permutex2var_ps(
                                         a, even, _mm512_mask_loadu_ps(fill, c->m1[kj], AT(row, col + 16)));
          racc = kj ? fold(MAX, racc, t) : (MAX ? _mm512_max_ps(t, fill) : t);
        }
        acc = i ? fold(MAX, acc, racc) : racc;
      }
      if (!MAX) acc = _mm512_mul_ps(acc, _mm512_mul_ps(c->recw, rech));
      const int64_t n = OW - o0 < 16 ? OW - o0 : 16;
      _mm512_mask_storeu_ps(yr + o0, (__mmask16)((1u << n) - 1u), acc);
    }
  }
}

/* Max, 3 tap columns at stride 2 (the 3x3/s2 pools after a stem), output
 * rows [begin, end): columns first down the window rows, then across. Block
 * b of an output row holds the vertical maxima V of input columns
 * c0 = 32 b - pad_w .. c0 + 31 (two loads per window row, no shuffles); its
 * even columns E and odd columns O are two vpermt2ps, and output vector b is
 * max(E, O, E shifted by one lane with the next block's E[0]) - 2 shuffles
 * instead of pool_rows' 3 per window row, and a third of its loads. The
 * next block's E[0] is the first column of its first load (the block after
 * the last loads only that one vector, and only when the last output vector
 * is full: a partial one finds it in its own E). Equal to pool.c's maxima (NaN
 * skipped likewise); a tie of +0 and -0 may keep the other zero. */
#define MAX3_S2_BLOCKS 64 /* blocks planned per call: output rows up to 1024 (wider: pool_rows) */

/* Vertical maxima over the window rows of one block's columns c0.. c0+31 (a:
 * the first 16, b: the second; b only if WITH_B). */
static inline __attribute__((always_inline)) void max3_s2_block(
    const int WITH_B, const float *top, int64_t rows, int64_t row_step, int64_t c0,
    bool inside, __mmask16 ma, __mmask16 mb, __m512 *a, __m512 *b) {
  const __m512 fill = _mm512_set1_ps(-FLT_MAX);
  __m512 va = fill, vb = fill;
  for (int64_t i = 0; i < rows; i++, top += row_step) {
    va = _mm512_max_ps(inside ? _mm512_loadu_ps(top + c0) : _mm512_mask_loadu_ps(fill, ma, AT(top, c0)), va);
    if (WITH_B)
      vb = _mm512_max_ps(inside ? _mm512_loadu_ps(top + c0 + 16)
                                : _mm512_mask_loadu_ps(fill, mb, AT(top, c0 + 16)),
                         vb);
  }
  *a = va;
  *b = vb;
}

/* One output row of max3_s2_rows from its window rows top, top + step, ..
 * (rows of them; ROWS when known at compile time). NEXT: the last vector
 * is full, so its last lane needs the first column of one more block. */
static inline __attribute__((always_inline)) void max3_s2_row(
    const int ROWS, const int NEXT, const float *top, int64_t rows, int64_t step, int64_t pad_w,
    int64_t nv, const bool *inside, const __mmask16 *ma, const __mmask16 *mb, __mmask16 tail,
    float *yr) {
  const __m512i even =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd =
      _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  if (ROWS) rows = ROWS;
  __m512 a, b;
  max3_s2_block(1, top, rows, step, -pad_w, inside[0], ma[0], mb[0], &a, &b);
  __m512 e = _mm512_permutex2var_ps(a, even, b), o = _mm512_permutex2var_ps(a, odd, b);
  for (int64_t v = 1; v <= nv; v++) {
    const int64_t c0 = v * 32 - pad_w;
    __m512 e_next = e;
    if (v < nv) {
      max3_s2_block(1, top, rows, step, c0, inside[v], ma[v], mb[v], &a, &b);
      e_next = _mm512_permutex2var_ps(a, even, b);
    } else if (NEXT) { /* only its first column: a[0] */
      max3_s2_block(0, top, rows, step, c0, inside[v], ma[v], mb[v], &e_next, &b);
    }
    const __m512 e2 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(e_next), _mm512_castps_si512(e), 1));
    const __m512 out = _mm512_max_ps(e2, _mm512_max_ps(o, e));
    if (v < nv) {
      _mm512_storeu_ps(yr + (v - 1) * 16, out);
      e = e_next;
      o = _mm512_permutex2var_ps(a, odd, b);
    } else {
      _mm512_mask_storeu_ps(yr + (v - 1) * 16, tail, out);
    }
  }
}

static void max3_s2_rows(const ec_pool_params *p, const float *x, float *y, int64_t begin,
                         int64_t end) {
  const int64_t W = p->in[2], OH = p->out[1], OW = p->out[2], step = p->dil[1] * W;
  const int64_t plane = p->in[1] * W, nv = (OW + 15) / 16, pad_w = p->pad_w;
  /* per block (nv output vectors, then the one whose first column ends the
   * last window): where its loads lie in the row, the same for every row */
  __mmask16 ma[MAX3_S2_BLOCKS + 1], mb[MAX3_S2_BLOCKS + 1];
  bool inside[MAX3_S2_BLOCKS + 1];
  for (int64_t v = 0; v <= nv; v++) {
    const int64_t c0 = v * 32 - pad_w;
    inside[v] = c0 >= 0 && c0 + 32 <= W;
    ma[v] = range_mask(-c0, W - c0);
    mb[v] = range_mask(-c0 - 16, W - c0 - 16);
  }
  /* a partial last vector finds the column after its last even one in its
   * own block (lane n_last of E): no loads of the block after it */
  const int64_t n_last = OW - (nv - 1) * 16;
  const bool next = n_last == 16;
  const __mmask16 tail = (__mmask16)((1u << n_last) - 1u);
  int64_t oh = begin % OH;
  const float *xp = x + begin / OH * plane;
  for (int64_t r = begin; r < end; r++, oh++) {
    if (oh == OH) oh = 0, xp += plane;
    float *yr = y + r * OW;
    const float *top = xp + p->first[1][oh] * W;
    const int64_t rows = p->count[1][oh];
    if (rows == 3 && !next)
      max3_s2_row(3, 0, top, 3, step, pad_w, nv, inside, ma, mb, tail, yr);
    else if (rows == 3)
      max3_s2_row(3, 1, top, 3, step, pad_w, nv, inside, ma, mb, tail, yr);
    else
      max3_s2_row(0, 1, top, rows, step, pad_w, nv, inside, ma, mb, tail, yr);
  }
}

/* Stride-1 planes as wide as their input (OW == W: "same" padding) and small
 * (at most FLAT_PIX outputs, FLAT_TAPS taps): output pixel q = oh * W + ow
 * reads x[q + (ki - pad_h) * W + kj - pad_w], so the plane is one flat run of
 * vectors that span several rows, one offset per tap; the mask of a tap at a
 * vector keeps the lanes whose input row and column lie in the plane (made
 * once per call, as bitmaps per tap). A 7x7 plane is 4 vectors instead of 7
 * rows of 7 lanes, a 14x14 plane 13 instead of 14, without per-row work. */
#define FLAT_PIX 1024
#define FLAT_TAPS 25
typedef struct flat_plan {
  uint16_t m[FLAT_PIX / 16][FLAT_TAPS];
  float rec[FLAT_PIX]; /* average: 1 / divisor per output pixel */
} flat_plan;

static bool flat_fits(const ec_pool_params *p) {
  return p->stride_h == 1 && p->stride_w == 1 && p->dil[1] == 1 && p->dil[2] == 1 &&
         p->out[2] == p->in[2] && p->out[1] * p->out[2] <= FLAT_PIX &&
         p->kernel_h * p->kernel_w <= FLAT_TAPS;
}

static void set_bits(uint64_t *b, int64_t a, int64_t e) {
  while (a < e) {
    const int64_t o = a % 64, cnt = 64 - o < e - a ? 64 - o : e - a;
    b[a / 64] |= (cnt == 64 ? ~0ull : ((1ull << cnt) - 1)) << o;
    a += cnt;
  }
}

static void flat_init(const ec_pool_params *p, bool max, flat_plan *f) {
  const int64_t H = p->in[1], W = p->in[2], OH = p->out[1], np = OH * W, nv = (np + 15) / 16;
  const int64_t kh = p->kernel_h, kw = p->kernel_w, ph = p->pad_h, pw = p->pad_w;
  for (int64_t ki = 0; ki < kh; ki++)
    for (int64_t kj = 0; kj < kw; kj++) {
      uint64_t bits[FLAT_PIX / 64] = {0};
      const int64_t lo = pw - kj > 0 ? pw - kj : 0, hi = W + pw - kj < W ? W + pw - kj : W;
      for (int64_t oh = 0; oh < OH; oh++) {
        const int64_t ir = oh - ph + ki;
        if (ir >= 0 && ir < H && hi > lo) set_bits(bits, oh * W + lo, oh * W + hi);
      }
      for (int64_t v = 0; v < nv; v++)
        f->m[v][ki * kw + kj] = (uint16_t)(bits[v / 4] >> (16 * (v % 4)));
    }
  if (max) return;
  for (int64_t oh = 0, q = 0; oh < OH; oh++) {
    const float dh = (float)p->div[1][oh], rh = dh > 0 ? 1.0f / dh : 0.0f;
    for (int64_t ow = 0; ow < W; ow++, q++) {
      const float dw = (float)p->div[2][ow];
      f->rec[q] = dw > 0 ? rh / dw : 0.0f;
    }
  }
  for (int64_t q = np; q < nv * 16; q++) f->rec[q] = 0.0f;
}

static inline __attribute__((always_inline)) void flat_planes(
    const int MAX, const int KH, const int KW, const ec_pool_params *p, const flat_plan *f,
    const float *x, float *y, int64_t begin, int64_t end) {
  const int64_t W = p->in[2], np = p->out[1] * W, nv = (np + 15) / 16, plane = p->in[1] * W;
  const int64_t kh = KH ? KH : p->kernel_h, kw = KW ? KW : p->kernel_w;
  const int64_t off0 = -p->pad_h * W - p->pad_w;
  const __m512 fill = MAX ? _mm512_set1_ps(-FLT_MAX) : _mm512_setzero_ps();
  for (int64_t pl = begin; pl < end; pl++) {
    const float *xp = x + pl * plane;
    float *yp = y + pl * np;
    for (int64_t v = 0; v < nv; v++) {
      const int64_t p0 = v * 16;
      const uint16_t *m = f->m[v];
      __m512 acc = fill;
      for (int64_t ki = 0; ki < kh; ki++) {
        __m512 racc = fill;
        for (int64_t kj = 0; kj < kw; kj++) {
          const __m512 t = _mm512_mask_loadu_ps(fill, (__mmask16)m[ki * kw + kj],
                                                AT(xp, off0 + p0 + ki * W + kj));
          racc = kj ? fold(MAX, racc, t) : (MAX ? _mm512_max_ps(t, fill) : t);
        }
        acc = ki ? fold(MAX, acc, racc) : racc;
      }
      if (!MAX) acc = _mm512_mul_ps(acc, _mm512_loadu_ps(f->rec + p0));
      const int64_t n = np - p0 < 16 ? np - p0 : 16;
      _mm512_mask_storeu_ps(yp + p0, (__mmask16)((1u << n) - 1u), acc);
    }
  }
}

/* Planes [begin, end) of a flat_fits pool. */
static void flat_run(bool max, const ec_pool_params *p, const float *x, float *y, int64_t begin,
                     int64_t end) {
  flat_plan f;
  flat_init(p, max, &f);
  const bool k3 = p->kernel_h == 3 && p->kernel_w == 3;
  if (max && k3) flat_planes(1, 3, 3, p, &f, x, y, begin, end);
  else if (max) flat_planes(1, 0, 0, p, &f, x, y, begin, end);
  else if (k3) flat_planes(0, 3, 3, p, &f, x, y, begin, end);
  else flat_planes(0, 0, 0, p, &f, x, y, begin, end);
}

/* Planes [begin, end) of a global pool: y = max or sum / divisor of the
 * plane's n floats. */
static void pool_global(bool max, const ec_pool_params *p, const float *x, float *y,
                        int64_t begin, int64_t end) {
  const int64_t n = p->in[1] * p->in[2];
  const __m512 fill = max ? _mm512_set1_ps(-FLT_MAX) : _mm512_setzero_ps();
  const float d = (float)p->div[1][0] * (float)p->div[2][0];
  for (int64_t r = begin; r < end; r++) {
    const float *xp = x + r * n;
    __m512 a0 = fill, a1 = fill, a2 = fill, a3 = fill;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
      a0 = fold(max, a0, _mm512_loadu_ps(xp + i));
      a1 = fold(max, a1, _mm512_loadu_ps(xp + i + 16));
      a2 = fold(max, a2, _mm512_loadu_ps(xp + i + 32));
      a3 = fold(max, a3, _mm512_loadu_ps(xp + i + 48));
    }
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
      a0 = fold(max, a0, _mm512_mask_loadu_ps(fill, m, xp + i));
    }
    if (max) {
      y[r] = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(a0, a1), _mm512_max_ps(a2, a3)));
    } else {
      const float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
      y[r] = d > 0 ? s / d : 0.0f;
    }
  }
}

bool ec_x86_pool_rows_avx512(const ec_pool_params *p, const float *x, float *y, int64_t begin,
                             int64_t end) {
  const bool max = p->kind == EC_FB_POOLKIND_MAX;
  if (p->kind != EC_FB_POOLKIND_MAX && p->kind != EC_FB_POOLKIND_AVERAGE) return false;
  /* 1-D and 2-D pools (a 3-D pool of depth 1 with no depth window too) */
  if (p->in[0] != 1 || p->out[0] != 1 || p->count[0][0] != 1 || p->div[0][0] != 1) return false;
  const int64_t H = p->in[1], W = p->in[2];
  if (p->out[1] == 1 && p->out[2] == 1 && p->first[1][0] == 0 && p->count[1][0] == H &&
      p->first[2][0] == 0 && p->count[2][0] == W && p->dil[1] == 1 && p->dil[2] == 1) {
    pool_global(max, p, x, y, begin, end);
    return true;
  }
  const int64_t kw = p->kernel_w, sw = p->stride_w, OH = p->out[1];
  if (kw > MAX_KW || sw > 2) return false;
  if (flat_fits(p)) {
    /* whole planes flat; the partial planes at the ends of the range by rows */
    const int64_t pb = (begin + OH - 1) / OH, pe = end / OH;
    if (pb < pe) {
      flat_run(max, p, x, y, pb, pe);
      if (begin < pb * OH) ec_x86_pool_rows_avx512(p, x, y, begin, pb * OH);
      if (pe * OH < end) ec_x86_pool_rows_avx512(p, x, y, pe * OH, end);
      return true;
    }
  }
  if (max && kw == 3 && sw == 2 && p->dil[2] == 1 && (p->out[2] + 15) / 16 <= MAX3_S2_BLOCKS) {
    max3_s2_rows(p, x, y, begin, end);
    return true;
  }
#define FORMS(MAX)                                                   \
  if (kw == 3 && sw == 1) pool_rows(MAX, 3, 1, p, x, y, begin, end); \
  else if (kw == 3) pool_rows(MAX, 3, 2, p, x, y, begin, end);       \
  else if (kw == 2 && sw == 1) pool_rows(MAX, 2, 1, p, x, y, begin, end); \
  else if (kw == 2) pool_rows(MAX, 2, 2, p, x, y, begin, end);       \
  else if (sw == 1) pool_rows(MAX, 0, 1, p, x, y, begin, end);       \
  else pool_rows(MAX, 0, 2, p, x, y, begin, end);
  if (max) {
    FORMS(1)
  } else {
    FORMS(0)
  }
#undef FORMS
  return true;
}
