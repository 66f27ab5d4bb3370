#define EC_QCOMMON_DEFINE_REQUANT /* its out-of-line copy in size builds */
#include "kernels/ref/qcommon.h"

#include <math.h>
#include <string.h>

#include "kernels/cpu.h"

ec_qmul ec_qmul_from_double(double real) {
  ec_qmul q = {0, 0};
  /* below 2^-33, e < -32 (below half a unit, as below); past it real is a
   * normal double */
  if (!(real >= 0x1p-33) || !isfinite(real)) return q;
  /* real = frac * 2^e, frac in [0.5, 1): frexp from the bits (no libm import) */
  uint64_t bits;
  memcpy(&bits, &real, sizeof bits);
  int e = (int)(bits >> 52) - 1022;
  bits = (bits & 0x000fffffffffffffull) | 0x3fe0000000000000ull;
  double frac;
  memcpy(&frac, &bits, sizeof frac);
  int64_t m = (int64_t)llround(frac * (double)((int64_t)1 << 31));
  if (m == ((int64_t)1 << 31)) {
    m /= 2;
    e++;
  }
  if (e < -31) return q; /* below half a unit for any int32 input */
  if (e > 30) {
    e = 30;
    m = INT32_MAX;
  }
  q.mult = (int32_t)m;
  q.shift = e;
  return q;
}

bool ec_is_q8(ec_dtype dtype) { return dtype == EC_INT8 || dtype == EC_UINT8; }

ec_status ec_q_check_q8(const ec_node *n, const ec_tensor_desc *t, const char *what) {
  if (ec_is_q8(t->dtype)) return EC_OK;
  return ec_node_error(n, EC_ERR_DTYPE, "%s is %s (int8 or uint8)", what, ec_dtype_name(t->dtype));
}

ec_status ec_q_check_io(const ec_node *n) {
  if (ec_is_q8(n->tin[0]->dtype) && ec_is_q8(n->tout[0]->dtype)) return EC_OK;
  return ec_node_error(n, EC_ERR_DTYPE, "input and output must be int8 or uint8");
}

void ec_q8_range(ec_dtype dtype, int32_t *lo, int32_t *hi) {
  *lo = dtype == EC_INT8 ? -128 : 0;
  *hi = dtype == EC_INT8 ? 127 : 255;
}

static bool valid_scale(float s) { return isfinite(s) && s > 0.0f; }

ec_status ec_q_per_tensor(const ec_node *n, const ec_tensor_desc *t, const char *what,
                          float *scale, int32_t *zero_point) {
  if (t->quant.n != 1 || t->quant.axis != -1 || t->quant.scales == NULL)
    return ec_node_error(n, EC_ERR_FORMAT, "%s '%s' needs per-tensor quantization", what,
                         t->name);
  const float s = t->quant.scales[0];
  const int64_t zp = t->quant.zero_points ? t->quant.zero_points[0] : 0;
  int32_t lo = INT32_MIN, hi = INT32_MAX;
  if (ec_is_q8(t->dtype)) ec_q8_range(t->dtype, &lo, &hi);
  if (!valid_scale(s))
    return ec_node_error(n, EC_ERR_FORMAT, "%s '%s': scale %g", what, t->name, (double)s);
  if (zp < lo || zp > hi)
    return ec_node_error(n, EC_ERR_FORMAT, "%s '%s': zero point %lld outside its dtype", what,
                         t->name, (long long)zp);
  *scale = s;
  *zero_point = (int32_t)zp;
  return EC_OK;
}

ec_status ec_q_check_weight(const ec_node *n, const ec_tensor_desc *w, int32_t axis,
                            int64_t channels) {
  if (w->dtype != EC_INT8)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "weight '%s' is %s (int8 only)", w->name,
                         ec_dtype_name(w->dtype));
  if (w->quant.n == 0 || w->quant.scales == NULL)
    return ec_node_error(n, EC_ERR_FORMAT, "weight '%s' has no quantization", w->name);
  if (w->quant.axis == -1 ? w->quant.n != 1
                          : (w->quant.axis != axis || w->quant.n != channels))
    return ec_node_error(n, EC_ERR_FORMAT,
                         "weight '%s': quantization must be per tensor or along axis %d",
                         w->name, axis);
  for (int32_t i = 0; i < w->quant.n; i++) {
    if (w->quant.zero_points && w->quant.zero_points[i] != 0)
      return ec_node_error(n, EC_ERR_UNSUPPORTED,
                           "weight '%s': zero point %lld (symmetric weights only)", w->name,
                           (long long)w->quant.zero_points[i]);
    if (!valid_scale(w->quant.scales[i]) && w->quant.scales[i] != 0.0f)
      return ec_node_error(n, EC_ERR_FORMAT, "weight '%s': scale %g", w->name,
                           (double)w->quant.scales[i]);
  }
  return EC_OK;
}

float ec_q_weight_scale(const ec_tensor_desc *w, int64_t c) {
  return w->quant.scales[w->quant.n == 1 ? 0 : c];
}

/* round(v) clamped into [lo, hi], NaN to lo. */
static int32_t quantize_bound(double v, int32_t lo, int32_t hi) {
  if (!(v > lo)) return lo;
  if (!(v < hi)) return hi;
  return (int32_t)lrint(v);
}

ec_status ec_q_act_clamp(const ec_node *n, uint8_t activation, float alpha, float beta,
                         ec_dtype dtype, float scale, int32_t zp, int32_t *lo, int32_t *hi) {
  ec_q8_range(dtype, lo, hi);
  switch (activation) {
    case EC_FB_ACTIVATION_NONE: return EC_OK;
    case EC_FB_ACTIVATION_RELU:
      if (zp > *lo) *lo = zp;
      return EC_OK;
    case EC_FB_ACTIVATION_CLIP: {
      const int32_t a = quantize_bound(zp + (double)alpha / scale, *lo, *hi);
      const int32_t b = quantize_bound(zp + (double)beta / scale, *lo, *hi);
      if (a > *lo) *lo = a;
      if (b < *hi) *hi = b;
      if (*lo > *hi) *hi = *lo;
      return EC_OK;
    }
    default:
      return ec_node_error(n, EC_ERR_UNSUPPORTED,
                           "fused activation %u has no int8 form (RELU and CLIP only)",
                           activation);
  }
}

bool ec_q_variant(uint16_t variant, bool *blocked, ec_q_isa *isa) {
  const uint16_t family = variant & EC_VARIANT_FAMILY_MASK;
  if ((variant & ~(uint16_t)EC_VARIANT_FAMILY_MASK) != 0 || family > EC_VARIANT_AVX512)
    return false;
  *blocked = family != EC_VARIANT_REF;
  const uint32_t f = ec_cpu_features();
  *isa = EC_Q_PORTABLE;
  if (*blocked && (f & EC_CPU_AVX2)) *isa = EC_Q_AVX2;
  if (*blocked && family != EC_VARIANT_AVX2 && (f & EC_CPU_AVX512VNNI)) *isa = EC_Q_VNNI;
#if defined(EDGEC_HAVE_NEON_KERNELS)
  if (*blocked) *isa = EC_Q_NEON; /* NEON is part of every AArch64 core */
#endif
  return true;
}
