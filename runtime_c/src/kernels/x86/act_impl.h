/* Vectorized activations, written once over a few vector macros and
 * included by act_avx2.c and act_avx512.c (each defines VEC, VLEN and the
 * V_* operations). The transcendental ones use:
 *   exp:  Cephes' expf (range reduction by ln 2, degree-6 polynomial), ~1 ulp;
 *   erfc: the Chebyshev fit of Numerical Recipes (fractional error < 1.2e-7
 *         for all x >= 0), so GELU has no cancellation on either side;
 *   tanh: the rational fit Eigen and MLAS use, clamped at |x| = 7.905.
 * Results are within a few ulp of libm, not bit-identical to the portable
 * epilogue (kernels/ref/gemm_core.c). */

static inline VEC v_exp(VEC x) {
  x = V_MIN(V_MAX(x, V_SET1(-87.33654f)), V_SET1(88.3762626647949f));
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
  return V_MUL(p, V_POW2N(n));
}

/* erfc(a) for a >= 0 */
static inline VEC v_erfc_pos(VEC a) {
  const VEC t = V_DIV(V_SET1(1.0f), V_FMA(a, V_SET1(0.5f), V_SET1(1.0f)));
  VEC p = V_SET1(0.17087277f);
  p = V_FMA(p, t, V_SET1(-0.82215223f));
  p = V_FMA(p, t, V_SET1(1.48851587f));
  p = V_FMA(p, t, V_SET1(-1.13520398f));
  p = V_FMA(p, t, V_SET1(0.27886807f));
  p = V_FMA(p, t, V_SET1(-0.18628806f));
  p = V_FMA(p, t, V_SET1(0.09678418f));
  p = V_FMA(p, t, V_SET1(0.37409196f));
  p = V_FMA(p, t, V_SET1(1.00002368f));
  p = V_FMA(p, t, V_SET1(-1.26551223f));
  p = V_SUB(p, V_MUL(a, a));
  return V_MUL(t, v_exp(p));
}

static inline VEC v_tanh(VEC x) {
  const VEC lim = V_SET1(7.90531110763549805f);
  x = V_MIN(V_MAX(x, V_SUB(V_SET1(0.0f), lim)), lim);
  const VEC x2 = V_MUL(x, x);
  VEC p = V_SET1(-2.76076847742355e-16f);
  p = V_FMA(p, x2, V_SET1(2.00018790482477e-13f));
  p = V_FMA(p, x2, V_SET1(-8.60467152213735e-11f));
  p = V_FMA(p, x2, V_SET1(5.12229709037114e-08f));
  p = V_FMA(p, x2, V_SET1(1.48572235717979e-05f));
  p = V_FMA(p, x2, V_SET1(6.37261928875436e-04f));
  p = V_FMA(p, x2, V_SET1(4.89352455891786e-03f));
  p = V_MUL(p, x);
  VEC q = V_SET1(1.19825839466702e-06f);
  q = V_FMA(q, x2, V_SET1(1.18534705686654e-04f));
  q = V_FMA(q, x2, V_SET1(2.26843463243900e-03f));
  q = V_FMA(q, x2, V_SET1(4.89352518554385e-03f));
  return V_DIV(p, q);
}

static inline VEC v_act(VEC v, uint8_t kind, float alpha, float beta) {
  const VEC zero = V_SET1(0.0f), one = V_SET1(1.0f);
  switch (kind) {
    case EC_FB_ACTIVATION_RELU: return V_MAX(v, zero);
    case EC_FB_ACTIVATION_CLIP: return V_MIN(V_MAX(v, V_SET1(alpha)), V_SET1(beta));
    case EC_FB_ACTIVATION_LEAKY_RELU: return V_SELECT_GE0(v, v, V_MUL(v, V_SET1(alpha)));
    case EC_FB_ACTIVATION_SIGMOID:
      return V_DIV(one, V_ADD(one, v_exp(V_SUB(zero, v))));
    case EC_FB_ACTIVATION_TANH: return v_tanh(v);
    case EC_FB_ACTIVATION_HARD_SIGMOID:
      return V_MAX(zero, V_MIN(one, V_FMA(V_SET1(alpha), v, V_SET1(beta))));
    case EC_FB_ACTIVATION_HARD_SWISH:
      return V_MUL(v, V_MAX(zero, V_MIN(one, V_ADD(V_DIV(v, V_SET1(6.0f)), V_SET1(0.5f)))));
    case EC_FB_ACTIVATION_GELU: {
      const VEC z = V_MUL(v, V_SET1(0.7071067811865476f));
      const VEC e = v_erfc_pos(V_MAX(z, V_SUB(zero, z)));
      return V_MUL(V_MUL(V_SET1(0.5f), v), V_SELECT_GE0(v, V_SUB(V_SET1(2.0f), e), e));
    }
    default: return v;
  }
}

static inline void act_rows(float *y, int64_t n, const ec_act *act) {
  const uint8_t kind = act->kind;
  const float alpha = act->alpha, beta = act->beta;
  int64_t i = 0;
  for (; i + VLEN <= n; i += VLEN) V_STOREU(y + i, v_act(V_LOADU(y + i), kind, alpha, beta));
  if (i < n) {
    float buf[VLEN] = {0};
    for (int64_t j = i; j < n; j++) buf[j - i] = y[j];
    V_STOREU(buf, v_act(V_LOADU(buf), kind, alpha, beta));
    for (int64_t j = i; j < n; j++) y[j] = buf[j - i];
  }
}
