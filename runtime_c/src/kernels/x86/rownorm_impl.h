/* Softmax, LogSoftmax and LayerNormalization over contiguous rows, written
 * once over the vector vocabulary (vec_avx2.h / vec_avx512.h) plus a few
 * tail and reduction macros the including file defines:
 *   TMASK, TAIL_MASK(k)         a mask of the first k lanes (0 < k < VLEN)
 *   V_LOAD_TAIL(p, m, fill)     masked load, fill in the other lanes (no
 *                               access past the row: masked lanes do not fault)
 *   V_STORE_TAIL(p, m, v)       masked store
 *   V_KEEP_GE(v, d, lo)         v where d >= lo, else +0
 *   NANACC, NAN_INIT, NAN_ACC(acc, v), NAN_ANY(acc)   "has the row a NaN"
 *   V_HMAX(v), V_HSUM(v)        horizontal max and sum, as float
 *   DVEC, DV_ZERO, DV_ACC(a0, a1, v), DV_HSUM(a0, a1)   v's lanes added to
 *                               two double vectors, and their total
 * The exp is act_impl.h's v_exp (Cephes expf, ~1 ulp), shared with the
 * activations.
 *
 * Both kernels make three passes over a row; BERT's rows (128 or 384
 * floats) stay in L1 between them, so the passes cost ALU work, not memory
 * traffic, and the exp pass dominates. Sums are taken in float vector
 * accumulators over chunks of CHUNK elements and the chunk totals added in
 * double: per-lane float error stays bounded on long rows (the reference
 * sums in double) without paying for double vectors in the inner loop. */

#include <math.h>

#include "kernels/x86/act_impl.h"

#define CHUNK (32 * VLEN)
/* v_exp clamps its argument here (exp = FLT_MIN); below it, the reference's
 * expf gives a denormal or 0, and so do we (0: an absolute error under
 * 1.2e-38 on a row whose sum is >= 1). A -inf mask therefore gives exact 0s. */
#define EXP_LO (-87.33654f)

/* ---- Softmax / LogSoftmax ------------------------------------------------------- */

/* The reference's row (kernels/ref/softmax.c) for the rows the vector path
 * does not take: a NaN or an infinite max makes the whole row NaN there
 * (exp(NaN), or inf - inf), and v_exp's clamping would not propagate it. */
static void softmax_row_scalar(const float *x, float *y, int64_t n, bool log_form) {
  float m = -INFINITY;
  for (int64_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
  double sum = 0.0;
  if (log_form) {
    for (int64_t k = 0; k < n; k++) sum += expf(x[k] - m);
    const float ls = (float)log(sum);
    for (int64_t k = 0; k < n; k++) y[k] = (x[k] - m) - ls;
  } else {
    for (int64_t k = 0; k < n; k++) {
      const float e = expf(x[k] - m);
      y[k] = e;
      sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t k = 0; k < n; k++) y[k] *= inv;
  }
}

static inline VEC exp_shifted(VEC v, VEC vm) {
  const VEC d = V_SUB(v, vm); /* <= 0: vm is the row's (finite) max */
  return V_KEEP_GE(v_exp(d), d, V_SET1(EXP_LO));
}

/* sum of exp(x - m) over [0, len), len <= CHUNK, storing the exps to y.
 * Two accumulators: the adds' latency hides behind the ~20-instruction exp. */
static inline float exp_sum_chunk(const float *x, float *y, int64_t len, VEC vm) {
  VEC s0 = V_SET1(0.0f), s1 = V_SET1(0.0f);
  int64_t i = 0;
  for (; i + 2 * VLEN <= len; i += 2 * VLEN) {
    const VEC e0 = exp_shifted(V_LOADU(x + i), vm);
    const VEC e1 = exp_shifted(V_LOADU(x + i + VLEN), vm);
    V_STOREU(y + i, e0);
    V_STOREU(y + i + VLEN, e1);
    s0 = V_ADD(s0, e0);
    s1 = V_ADD(s1, e1);
  }
  if (i + VLEN <= len) {
    const VEC e = exp_shifted(V_LOADU(x + i), vm);
    V_STOREU(y + i, e);
    s0 = V_ADD(s0, e);
    i += VLEN;
  }
  if (i < len) {
    const TMASK tm = TAIL_MASK(len - i);
    /* -inf in the missing lanes: exp gives 0 there */
    const VEC e = exp_shifted(V_LOAD_TAIL(x + i, tm, V_SET1(-INFINITY)), vm);
    V_STORE_TAIL(y + i, tm, e);
    s1 = V_ADD(s1, e);
  }
  return V_HSUM(V_ADD(s0, s1));
}

/* The same sum in double lanes, for LogSoftmax: there y = (x - m) - log(sum)
 * is near 0 for the largest x, and a float sum's rounding (an ulp of 1)
 * would be a large relative error of log(sum) ~ sum - 1. Softmax only needs
 * the sum to a relative ulp, so it keeps the cheaper float sum. */
static inline double exp_sum_chunk_d(const float *x, int64_t len, VEC vm) {
  DVEC a0 = DV_ZERO, a1 = DV_ZERO;
  int64_t i = 0;
  for (; i + VLEN <= len; i += VLEN) DV_ACC(a0, a1, exp_shifted(V_LOADU(x + i), vm));
  if (i < len)
    DV_ACC(a0, a1, exp_shifted(V_LOAD_TAIL(x + i, TAIL_MASK(len - i), V_SET1(-INFINITY)), vm));
  return DV_HSUM(a0, a1);
}

static void softmax_row(const float *x, float *y, int64_t n, bool log_form) {
  /* pass 1: the max. V_MAX(v, acc) returns acc for a NaN v, so NaNs are
   * skipped here as in the reference, and flagged on the side. */
  const VEC ninf = V_SET1(-INFINITY);
  VEC m0 = ninf, m1 = ninf;
  NANACC bad = NAN_INIT;
  int64_t i = 0;
  for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
    const VEC a = V_LOADU(x + i), b = V_LOADU(x + i + VLEN);
    m0 = V_MAX(a, m0);
    m1 = V_MAX(b, m1);
    NAN_ACC(bad, a);
    NAN_ACC(bad, b);
  }
  for (; i + VLEN <= n; i += VLEN) {
    const VEC a = V_LOADU(x + i);
    m0 = V_MAX(a, m0);
    NAN_ACC(bad, a);
  }
  if (i < n) {
    const VEC a = V_LOAD_TAIL(x + i, TAIL_MASK(n - i), ninf);
    m1 = V_MAX(a, m1);
    NAN_ACC(bad, a);
  }
  const float m = V_HMAX(V_MAX(m0, m1));
  if (NAN_ANY(bad) || !isfinite(m)) {
    softmax_row_scalar(x, y, n, log_form);
    return;
  }

  /* pass 2: the exps (kept in y for Softmax) and their sum */
  const VEC vm = V_SET1(m);
  double sum = 0.0;
  for (int64_t c = 0; c < n; c += CHUNK) {
    const int64_t len = n - c < CHUNK ? n - c : CHUNK;
    sum += log_form ? exp_sum_chunk_d(x + c, len, vm) : exp_sum_chunk(x + c, y + c, len, vm);
  }

  /* pass 3: scale, or shift (the reference's formulas, in its order) */
  if (log_form) {
    const VEC ls = V_SET1((float)log(sum));
    for (i = 0; i + VLEN <= n; i += VLEN)
      V_STOREU(y + i, V_SUB(V_SUB(V_LOADU(x + i), vm), ls));
    if (i < n) {
      const TMASK tm = TAIL_MASK(n - i);
      V_STORE_TAIL(y + i, tm, V_SUB(V_SUB(V_LOAD_TAIL(x + i, tm, vm), vm), ls));
    }
  } else {
    const VEC inv = V_SET1((float)(1.0 / sum));
    for (i = 0; i + VLEN <= n; i += VLEN) V_STOREU(y + i, V_MUL(V_LOADU(y + i), inv));
    if (i < n) {
      const TMASK tm = TAIL_MASK(n - i);
      V_STORE_TAIL(y + i, tm, V_MUL(V_LOAD_TAIL(y + i, tm, inv), inv));
    }
  }
}

static inline void softmax_rows(const float *x, float *y, int64_t n, int64_t begin, int64_t end,
                                bool log_form) {
  for (int64_t r = begin; r < end; r++) softmax_row(x + r * n, y + r * n, n, log_form);
}

/* ---- LayerNormalization --------------------------------------------------------- */

/* sum of x over [0, len), len <= CHUNK */
static inline float sum_chunk(const float *x, int64_t len) {
  VEC s0 = V_SET1(0.0f), s1 = V_SET1(0.0f);
  int64_t i = 0;
  for (; i + 2 * VLEN <= len; i += 2 * VLEN) {
    s0 = V_ADD(s0, V_LOADU(x + i));
    s1 = V_ADD(s1, V_LOADU(x + i + VLEN));
  }
  if (i + VLEN <= len) {
    s0 = V_ADD(s0, V_LOADU(x + i));
    i += VLEN;
  }
  if (i < len) s1 = V_ADD(s1, V_LOAD_TAIL(x + i, TAIL_MASK(len - i), V_SET1(0.0f)));
  return V_HSUM(V_ADD(s0, s1));
}

/* sums of d and d^2, d = x - m, over [0, len), len <= CHUNK */
static inline void dev_chunk(const float *x, int64_t len, VEC vm, float *s1_out,
                             float *s2_out) {
  VEC a0 = V_SET1(0.0f), a1 = V_SET1(0.0f), q0 = V_SET1(0.0f), q1 = V_SET1(0.0f);
  int64_t i = 0;
  for (; i + 2 * VLEN <= len; i += 2 * VLEN) {
    const VEC d0 = V_SUB(V_LOADU(x + i), vm), d1 = V_SUB(V_LOADU(x + i + VLEN), vm);
    a0 = V_ADD(a0, d0);
    a1 = V_ADD(a1, d1);
    q0 = V_FMA(d0, d0, q0);
    q1 = V_FMA(d1, d1, q1);
  }
  if (i + VLEN <= len) {
    const VEC d = V_SUB(V_LOADU(x + i), vm);
    a0 = V_ADD(a0, d);
    q0 = V_FMA(d, d, q0);
    i += VLEN;
  }
  if (i < len) {
    /* m in the missing lanes: d = 0 there */
    const VEC d = V_SUB(V_LOAD_TAIL(x + i, TAIL_MASK(len - i), vm), vm);
    a1 = V_ADD(a1, d);
    q1 = V_FMA(d, d, q1);
  }
  *s1_out = V_HSUM(V_ADD(a0, a1));
  *s2_out = V_HSUM(V_ADD(q0, q1));
}

/* Which of scale and bias a row applies (per channel: neither, they are
 * folded into s and b). */
enum { LN_NONE, LN_SCALE, LN_BIAS, LN_BOTH };

/* y = (x - m) * s, then * scale[i] and/or + bias[i] by mode, + b. Always
 * inlined with a constant mode, so each case gets its own branch-free loop. */
static inline __attribute__((always_inline)) VEC ln_vec(VEC xv, VEC vm, VEC s, VEC b, VEC vs,
                                                        VEC vb, int mode) {
  const VEC t = V_MUL(V_SUB(xv, vm), s);
  switch (mode) {
    case LN_BOTH: return V_FMA(t, vs, vb);
    case LN_SCALE: return V_MUL(t, vs);
    case LN_BIAS: return V_ADD(t, vb);
    default: return V_ADD(t, b);
  }
}

static inline __attribute__((always_inline)) void ln_apply(const float *x, float *y,
                                                           int64_t cols, VEC vm, VEC s, VEC b,
                                                           const float *sc, const float *bi,
                                                           int mode) {
  const bool has_s = mode == LN_BOTH || mode == LN_SCALE;
  const bool has_b = mode == LN_BOTH || mode == LN_BIAS;
  int64_t i = 0;
  for (; i + VLEN <= cols; i += VLEN) {
    const VEC vs = has_s ? V_LOADU(sc + i) : b, vb = has_b ? V_LOADU(bi + i) : b;
    V_STOREU(y + i, ln_vec(V_LOADU(x + i), vm, s, b, vs, vb, mode));
  }
  if (i < cols) {
    const TMASK tm = TAIL_MASK(cols - i);
    const VEC vs = has_s ? V_LOAD_TAIL(sc + i, tm, b) : b;
    const VEC vb = has_b ? V_LOAD_TAIL(bi + i, tm, b) : b;
    V_STORE_TAIL(y + i, tm, ln_vec(V_LOAD_TAIL(x + i, tm, vm), vm, s, b, vs, vb, mode));
  }
}

static inline void layer_norm_rows(const ec_ln_rows *a, int64_t begin, int64_t end) {
  const int64_t cols = a->cols;
  for (int64_t r = begin; r < end; r++) {
    const float *x = a->x + r * cols;
    float *y = a->y + r * cols;
    /* pass 1: a float estimate of the mean; pass 2: the deviations from it
     * give both the correction of the mean and the variance (the corrected
     * two-pass algorithm: no cancellation of sum(x^2) - n mean^2 when the
     * mean is large against the spread). */
    double total = 0.0;
    for (int64_t c = 0; c < cols; c += CHUNK)
      total += sum_chunk(x + c, cols - c < CHUNK ? cols - c : CHUNK);
    const float m0 = (float)(total / (double)cols);
    const VEC vm0 = V_SET1(m0);
    double s1 = 0.0, s2 = 0.0;
    for (int64_t c = 0; c < cols; c += CHUNK) {
      float c1, c2;
      dev_chunk(x + c, cols - c < CHUNK ? cols - c : CHUNK, vm0, &c1, &c2);
      s1 += c1;
      s2 += c2;
    }
    const double dm = s1 / (double)cols;
    double var = s2 / (double)cols - dm * dm;
    if (var < 0.0) var = 0.0;
    const float inv = (float)(1.0 / sqrt(var + (double)a->epsilon));
    const VEC vm = V_SET1((float)((double)m0 + dm));

    /* pass 3 */
    const float *sc = a->scale, *bi = a->bias;
    if (a->per_channel) {
      const int64_t ch = r % a->channels;
      ln_apply(x, y, cols, vm, V_SET1(sc ? sc[ch] * inv : inv), V_SET1(bi ? bi[ch] : 0.0f),
               NULL, NULL, LN_NONE);
    } else if (sc && bi) {
      ln_apply(x, y, cols, vm, V_SET1(inv), V_SET1(0.0f), sc, bi, LN_BOTH);
    } else if (sc) {
      ln_apply(x, y, cols, vm, V_SET1(inv), V_SET1(0.0f), sc, NULL, LN_SCALE);
    } else if (bi) {
      ln_apply(x, y, cols, vm, V_SET1(inv), V_SET1(0.0f), NULL, bi, LN_BIAS);
    } else {
      ln_apply(x, y, cols, vm, V_SET1(inv), V_SET1(0.0f), NULL, NULL, LN_NONE);
    }
  }
}
