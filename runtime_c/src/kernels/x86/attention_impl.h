/* Fused attention jobs (kernels/attention.h), written once over the vector
 * vocabulary (vec_avx2.h / vec_avx512.h) plus what the including file
 * defines:
 *   MR                       rows of the register tile (AVX-512 12, AVX2 6)
 *   TMASK, LANES(k)          a mask of the first k lanes, k clamped to [0, VLEN]
 *   V_LOAD_M(p, m), V_LOAD_F(p, m, fill)   masked load, 0 or fill in the other
 *                            lanes (which are not accessed: no fault past the end)
 *   V_STORE_M(p, m, v)       masked store
 *   V_SEL(m, a, b)           a in the lanes of m, b elsewhere
 *   V_HSUM(v)                horizontal sum, as float
 *   att_transpose(src, ss, dst, ds)   dst[c][r] = src[r][c] for a VLEN x VLEN
 *                            block (row strides ss and ds, in floats)
 *   EXP_LO, V_EXP2N(p, n, d) the exp's clamp (2^n stays >= FLT_MIN) and its
 *                            last step: p * 2^n, and 0 where d < EXP_LO (NaN
 *                            lanes kept), so no denormal is ever made
 *
 * One job = one head's block of qb query rows:
 *   1. S = scale * Q . Kt + bias into the workspace (qb x Sk), on a register
 *      tile of MR rows x 2 vectors that broadcasts Q straight from its rows
 *      (any row stride: no packing of Q, which each job reads once) and
 *      loads Kt rows (transposed once per head into the workspace when its
 *      columns are strided, as when the graph's Transpose of K was folded
 *      in). The epilogue also keeps each row's running max, per
 *      lane, so no pass looks for it;
 *   2. each row of S becomes exp(s - max) in place and its 1 / sum is kept
 *      (the lanes of the maxima and of the sums reduced VLEN rows at a time);
 *   3. Y = (S . V) * (1 / sum) per row, on the same tile, V read in place
 *      (rows of Dv contiguous floats) and Y written in place.
 * Deferring the 1 / sum to step 3's epilogue saves the softmax's third pass
 * over S: S is written once and read twice. The block stays in L1 across
 * the three steps (EC_ATT_BLOCK_FLOATS).
 *
 * The exp is Cephes' expf (the polynomial of act_impl.h's v_exp, ~1 ulp),
 * written so that a NaN argument stays NaN: a row holding a NaN, or whose
 * max is +-inf, then sums to NaN and its outputs are NaN, which is what the
 * reference's scalar softmax gives, without a check on the way. */

#include <math.h>

#define NT (2 * VLEN) /* columns of the register tile */

static inline int64_t att_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* What a tile's epilogue applies to row i, column j of acc:
 *   c = acc * (row_scale ? row_scale[i] : scale) + (bias ? bias[i * brs + j * bcs] : 0)
 * with bcs 0 (one value per row) or 1. */
typedef struct att_epi {
  float scale;
  const float *row_scale;
  const float *bias;
  int64_t brs, bcs;
  float *row_max; /* not NULL: row_max[i * VLEN + l] = max(itself, c[i][j]) over
                   * the row's columns j = l (mod VLEN), NaNs skipped */
} att_epi;

/* C[mr x nr] = epilogue(A[mr x kc] . B[kc x nr]); A row-major with row
 * stride lda, B with row stride ldb, C with ldc; mr <= MR, nr <= NT. Rows
 * past mr re-read row mr - 1 (never memory past the operand) and are not
 * stored; with !FULL, B and C are accessed through lane masks. */
static inline __attribute__((always_inline)) void att_tile_t(
    const bool FULL, int64_t mr, int64_t nr, int64_t kc, const float *a, int64_t lda,
    const float *b, int64_t ldb, float *c, int64_t ldc, const att_epi *e) {
  const float *ar[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) ar[i] = a + (i < mr ? i : mr - 1) * lda;
  const TMASK m0 = LANES(nr), m1 = LANES(nr - VLEN);
  VEC acc[MR][2]; /* every loop over i is unrolled, so acc lives in registers */
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = V_SET1(0.0f);
  for (int64_t p = 0; p < kc; p++) {
    const VEC b0 = FULL ? V_LOADU(b) : V_LOAD_M(b, m0);
    const VEC b1 = FULL ? V_LOADU(b + VLEN) : V_LOAD_M(b + VLEN, m1);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      const VEC ai = V_SET1(ar[i][p]);
      acc[i][0] = V_FMA(ai, b0, acc[i][0]);
      acc[i][1] = V_FMA(ai, b1, acc[i][1]);
    }
    b += ldb;
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    if (i >= mr) break;
    const VEC s = V_SET1(e->row_scale ? e->row_scale[i] : e->scale);
    VEC v0 = V_MUL(acc[i][0], s), v1 = V_MUL(acc[i][1], s);
    if (e->bias) {
      const float *br = e->bias + i * e->brs;
      if (e->bcs == 0) {
        const VEC bv = V_SET1(br[0]);
        v0 = V_ADD(v0, bv);
        v1 = V_ADD(v1, bv);
      } else {
        v0 = V_ADD(v0, FULL ? V_LOADU(br) : V_LOAD_M(br, m0));
        v1 = V_ADD(v1, FULL ? V_LOADU(br + VLEN) : V_LOAD_M(br + VLEN, m1));
      }
    }
    if (e->row_max) {
      float *rm = e->row_max + i * VLEN;
      const VEC ninf = V_SET1(-INFINITY);
      const VEC w0 = FULL ? v0 : V_SEL(m0, v0, ninf), w1 = FULL ? v1 : V_SEL(m1, v1, ninf);
      /* V_MAX(x, acc) returns acc where x is NaN */
      V_STOREU(rm, V_MAX(w1, V_MAX(w0, V_LOADU(rm))));
    }
    float *cr = c + i * ldc;
    if (FULL) {
      V_STOREU(cr, v0);
      V_STOREU(cr + VLEN, v1);
    } else {
      V_STORE_M(cr, m0, v0);
      V_STORE_M(cr + VLEN, m1, v1);
    }
  }
}

/* C[m x n] = epilogue(A . B) over tiles; e's row_scale and bias follow the rows. */
static void att_gemm(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                     const float *b, int64_t ldb, float *c, int64_t ldc, const att_epi *e) {
  for (int64_t j0 = 0; j0 < n; j0 += NT) {
    const int64_t nr = att_min(NT, n - j0);
    for (int64_t i0 = 0; i0 < m; i0 += MR) {
      att_epi et = *e;
      if (et.row_scale) et.row_scale += i0;
      if (et.row_max) et.row_max += i0 * VLEN;
      if (et.bias) et.bias += i0 * et.brs + j0 * et.bcs;
      const int64_t mr = att_min(MR, m - i0);
      if (nr == NT)
        att_tile_t(true, mr, nr, kc, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0, ldc, &et);
      else
        att_tile_t(false, mr, nr, kc, a + i0 * lda, lda, b + j0, ldb, c + i0 * ldc + j0, ldc,
                   &et);
    }
  }
}

/* exp(d) for d <= 0 (or NaN, which stays NaN): Cephes' expf. */
static inline VEC att_exp(VEC d) {
  const VEC x = V_MAX(V_SET1(EXP_LO), d); /* V_MAX(a, b) returns b where b is NaN */
  const VEC n = V_ROUND(V_MUL(x, V_SET1(1.44269504088896341f)));
  VEC r = V_FNMA(n, V_SET1(0.693359375f), x);
  r = V_FNMA(n, V_SET1(-2.12194440e-4f), r);
  VEC p = V_SET1(1.9875691500E-4f);
  p = V_FMA(p, r, V_SET1(1.3981999507E-3f));
  p = V_FMA(p, r, V_SET1(8.3334519073E-3f));
  p = V_FMA(p, r, V_SET1(4.1665795894E-2f));
  p = V_FMA(p, r, V_SET1(1.6666665459E-1f));
  p = V_FMA(p, r, V_SET1(5.0000001201E-1f));
  p = V_FMA(p, V_MUL(r, r), V_ADD(r, V_SET1(1.0f)));
  return V_EXP2N(p, n, d);
}

/* x[0:n) = exp(x - m) in place; returns the sum as a vector whose lanes
 * add up to it. Rows of one chunk (32 vectors, BERT's 128 or 384 floats)
 * sum in float vectors; longer ones add their chunks' totals in double (as
 * rownorm_impl.h) and return the total in lane 0. */
static VEC att_exp_row(float *x, int64_t n, float m) {
  const VEC vm = V_SET1(m), ninf = V_SET1(-INFINITY);
  double total = 0.0;
  VEC s0 = V_SET1(0.0f), s1 = V_SET1(0.0f);
  for (int64_t c0 = 0; c0 < n; c0 += 32 * VLEN) {
    const int64_t end = att_min(n, c0 + 32 * VLEN);
    s0 = s1 = V_SET1(0.0f);
    int64_t k = c0;
    for (; k + 2 * VLEN <= end; k += 2 * VLEN) {
      const VEC e0 = att_exp(V_SUB(V_LOADU(x + k), vm));
      const VEC e1 = att_exp(V_SUB(V_LOADU(x + k + VLEN), vm));
      V_STOREU(x + k, e0);
      V_STOREU(x + k + VLEN, e1);
      s0 = V_ADD(s0, e0);
      s1 = V_ADD(s1, e1);
    }
    for (; k < end; k += VLEN) { /* -inf in the other lanes: their exp is 0 */
      const TMASK tl = LANES(end - k);
      const VEC e = att_exp(V_SUB(V_LOAD_F(x + k, tl, ninf), vm));
      V_STORE_M(x + k, tl, e);
      s1 = V_ADD(s1, e);
    }
    if (n > 32 * VLEN) total += (double)V_HSUM(V_ADD(s0, s1));
  }
  if (n <= 32 * VLEN) return V_ADD(s0, s1);
  float first[VLEN] = {(float)total};
  return V_LOADU(first);
}

/* out[r] = the max (or sum) of the VLEN floats of row r of rows[VLEN][VLEN]:
 * one transpose, then VLEN - 1 vector ops, instead of a horizontal
 * reduction per row with its latency. */
static inline VEC att_reduce_rows(const float *rows, bool max) {
  float t[VLEN * VLEN];
  att_transpose(rows, VLEN, t, VLEN);
  VEC acc = V_LOADU(t);
  for (int r = 1; r < VLEN; r++) acc = max ? V_MAX(V_LOADU(t + r * VLEN), acc)
                                           : V_ADD(acc, V_LOADU(t + r * VLEN));
  return acc;
}

/* Kt [dk, sk] (element (d, j) at k[d * rs + j * cs]) into kt, row pitch ld.
 * K stored [Sk, Dk] (rs == 1: the folded Transpose of BERT's K) goes by
 * VLEN x VLEN register transposes, the edges and other layouts element by
 * element. */
static void att_pack_kt(const float *k, int64_t rs, int64_t cs, int64_t dk, int64_t sk,
                        float *kt, int64_t ld) {
  int64_t j = 0;
  if (rs == 1) {
    for (; j + VLEN <= sk; j += VLEN) {
      int64_t d = 0;
      for (; d + VLEN <= dk; d += VLEN) att_transpose(k + j * cs + d, cs, kt + d * ld + j, ld);
      for (; d < dk; d++)
        for (int64_t jj = j; jj < j + VLEN; jj++) kt[d * ld + jj] = k[jj * cs + d];
    }
  }
  for (; j < sk; j++)
    for (int64_t d = 0; d < dk; d++) kt[d * ld + j] = k[d * rs + j * cs];
}

static inline void att_jobs(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws) {
  float *kt = (float *)(ws + a->off_kt), *qw = (float *)(ws + a->off_q);
  float *vw = (float *)(ws + a->off_v), *s = (float *)(ws + a->off_s);
  float *inv = (float *)(ws + a->off_inv), *yw = (float *)(ws + a->off_y);
  float *rmax = (float *)(ws + a->off_max); /* [rows_p][VLEN] */
  const int64_t sk = a->sk, dk = a->dk, dv = a->dv, lds = a->lds;
  int64_t head = -1;
  const float *kp = NULL, *vp = NULL;
  int64_t ldkp = 0, ldvp = 0;
  for (int64_t job = begin; job < end; job++) {
    const int64_t bh = job / a->nqb, i0 = job % a->nqb * a->qb;
    const int64_t b = bh / a->h, h = bh % a->h, rows = att_min(a->qb, a->sq - i0);
    if (bh != head) { /* consecutive jobs of a thread share the head's Kt and V */
      const float *k = a->k + b * a->ks[0] + h * a->ks[1];
      if (a->ks[3] == 1) {
        kp = k, ldkp = a->ks[2];
      } else { /* Kt's columns are strided (K stored [Sk, Dk]): transpose it once */
        att_pack_kt(k, a->ks[2], a->ks[3], dk, sk, kt, a->ldk);
        kp = kt, ldkp = a->ldk;
      }
      const float *v = a->v + b * a->vs[0] + h * a->vs[1];
      if (a->vs[3] == 1) {
        vp = v, ldvp = a->vs[2];
      } else {
        for (int64_t j = 0; j < sk; j++)
          for (int64_t c = 0; c < dv; c++) vw[j * dv + c] = v[j * a->vs[2] + c * a->vs[3]];
        vp = vw, ldvp = dv;
      }
      head = bh;
    }
    const float *q = a->q + b * a->qs[0] + h * a->qs[1] + i0 * a->qs[2];
    int64_t ldq = a->qs[2];
    if (a->qs[3] != 1) {
      for (int64_t i = 0; i < rows; i++)
        for (int64_t d = 0; d < dk; d++) qw[i * dk + d] = q[i * a->qs[2] + d * a->qs[3]];
      q = qw, ldq = dk;
    }
    /* rows rounded up to whole groups of VLEN for att_reduce_rows (the
     * workspace has room); the padding rows are -inf, then sum 1 */
    const int64_t rows_p = (rows + VLEN - 1) / VLEN * VLEN;
    for (int64_t i = 0; i < rows_p * VLEN; i++) rmax[i] = -INFINITY;
    const att_epi e1 = {a->scale, NULL,
                        a->bias ? a->bias + b * a->ms[0] + h * a->ms[1] + i0 * a->ms[2] : NULL,
                        a->ms[2], a->ms[3], rmax};
    att_gemm(rows, sk, dk, q, ldq, kp, ldkp, s, lds, &e1);
    /* inv holds the rows' maxima until it takes their 1 / sum */
    for (int64_t g = 0; g < rows; g += VLEN)
      V_STOREU(inv + g, att_reduce_rows(rmax + g * VLEN, true));
    /* rmax's rows are spent: they take the exp sums' vectors */
    for (int64_t i = 0; i < rows_p; i++)
      V_STOREU(rmax + i * VLEN, i < rows ? att_exp_row(s + i * lds, sk, inv[i]) : V_SET1(1.0f));
    for (int64_t g = 0; g < rows; g += VLEN)
      V_STOREU(inv + g, V_DIV(V_SET1(1.0f), att_reduce_rows(rmax + g * VLEN, false)));
    float *y = a->y + b * a->ys[0] + h * a->ys[1] + i0 * a->ys[2];
    const bool direct = a->ys[3] == 1;
    const att_epi e2 = {1.0f, inv, NULL, 0, 0, NULL};
    att_gemm(rows, dv, sk, s, lds, vp, ldvp, direct ? y : yw, direct ? a->ys[2] : dv, &e2);
    if (!direct)
      for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < dv; c++) y[i * a->ys[2] + c * a->ys[3]] = yw[i * dv + c];
  }
}
