/* Shared pieces of the int8 kernels (opcodes 300-311).
 *
 * Quantization: real = scale * (q - zero_point), from Tensor.quant (per
 * tensor, or per channel along quant.axis). Activations are int8 or uint8,
 * asymmetric, per tensor; weights int8, symmetric (zero point 0), per output
 * channel; biases int32 in units of input_scale * weight_scale[c].
 *
 * Requantization is fixed point, as gemmlowp and TFLite do it: a real
 * multiplier M (e.g. input_scale * weight_scale / output_scale) becomes, at
 * prepare, a Q31 mantissa m in [2^30, 2^31) and a power-of-two exponent e
 * with M ~= m * 2^(e - 31). At eval
 *   y = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(e,0), m),
 *                           max(-e, 0))
 * SRDHM rounds half up ((x*m + 2^30) >> 31), the power-of-two division
 * rounds half away from zero. The left shift (M >= 1) saturates to int32
 * (TFLite leaves that overflow undefined). The result is within one unit of
 * round(x * M) (tests/quant check it against float64). */
#ifndef EDGEC_KERNELS_REF_QCOMMON_H_
#define EDGEC_KERNELS_REF_QCOMMON_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"

/* ---- fixed-point requantization ------------------------------------------ */

typedef struct ec_qmul {
  int32_t mult;  /* Q31 mantissa, 0 or in [2^30, 2^31) */
  int32_t shift; /* power of two: > 0 left, < 0 right; in [-31, 30] */
} ec_qmul;

/* The fixed-point form of a real multiplier >= 0 (0 for underflow, and for
 * values past 2^30, which saturate). */
ec_qmul ec_qmul_from_double(double real);

static inline int32_t ec_sat_i32(int64_t v) {
  return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

/* Arithmetic right shift of a signed value (floor division by 2^s). */
static inline int64_t ec_asr64(int64_t v, int s) {
  return v >= 0 ? v >> s : -(int64_t)((-(uint64_t)v - 1) >> s) - 1;
}

/* (a * b + 2^30) >> 31 (the saturating case a == b == INT32_MIN cannot
 * occur: b is a mantissa >= 0). */
static inline int32_t ec_srdhm(int32_t a, int32_t b) {
  return (int32_t)ec_asr64((int64_t)a * b + ((int64_t)1 << 30), 31);
}

/* x / 2^e rounded half away from zero, e in [0, 31]. */
static inline int32_t ec_rdivpot(int32_t x, int32_t e) {
  const int32_t mask = (int32_t)(((int64_t)1 << e) - 1);
  const int32_t rem = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (int32_t)(ec_asr64(x, e) + (rem > threshold ? 1 : 0));
}

/* x * M in fixed point. Inline in speed builds; at -Os gcc calls it rather
 * than inlining it anyway, so a size build has one copy (qcommon.c) instead
 * of one per file. */
#if defined(__OPTIMIZE_SIZE__)
int32_t ec_requant(int32_t x, ec_qmul q);
#endif
#if !defined(__OPTIMIZE_SIZE__) || defined(EC_QCOMMON_DEFINE_REQUANT)
#if defined(__OPTIMIZE_SIZE__)
int32_t ec_requant(int32_t x, ec_qmul q) {
#else
static inline int32_t ec_requant(int32_t x, ec_qmul q) {
#endif
  const int32_t left = q.shift > 0 ? q.shift : 0, right = q.shift > 0 ? 0 : -q.shift;
  const int32_t xs = left ? ec_sat_i32((int64_t)x * ((int64_t)1 << left)) : x;
  return ec_rdivpot(ec_srdhm(xs, q.mult), right);
}
#endif

/* a * b <= 2^40 for non-negative a and b (size products checked at prepare). */
static inline bool ec_q_fits(int64_t a, int64_t b) {
  return a == 0 || b <= ((int64_t)1 << 40) / a;
}

static inline int32_t ec_clamp_i32(int32_t v, int32_t lo, int32_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* ---- quantization parameters of operands ---------------------------------- */

/* True for INT8 and UINT8. */
bool ec_is_q8(ec_dtype dtype);
/* Range of the dtype (int8: [-128, 127], uint8: [0, 255]). */
/* t is int8 or uint8: EC_ERR_DTYPE, "WHAT is %s (int8 or uint8)". */
ec_status ec_q_check_q8(const ec_node *n, const ec_tensor_desc *t, const char *what);
/* Input 0 and output 0 int8 or uint8: EC_ERR_DTYPE, "input and output must be
 * int8 or uint8". */
ec_status ec_q_check_io(const ec_node *n);
void ec_q8_range(ec_dtype dtype, int32_t *lo, int32_t *hi);

/* Per-tensor scale and zero point of t; fails (naming what) if t has no
 * quantization, or one that is not per tensor, or a scale that is not
 * positive and finite, or a zero point outside its dtype's range. */
ec_status ec_q_per_tensor(const ec_node *n, const ec_tensor_desc *t, const char *what,
                          float *scale, int32_t *zero_point);

/* Scale of channel c of a weight quantized per tensor or along `axis`, all
 * zero points 0; checks that once (ec_q_check_weight) before calling
 * ec_q_weight_scale. */
ec_status ec_q_check_weight(const ec_node *n, const ec_tensor_desc *w, int32_t axis,
                            int64_t channels);
float ec_q_weight_scale(const ec_tensor_desc *w, int64_t c);

/* Output clamp [lo, hi] in quantized units for a fused activation
 * (NONE, RELU, CLIP with bounds alpha..beta) on an output of dtype, scale,
 * zero point; fails for other activations. */
ec_status ec_q_act_clamp(const ec_node *n, uint8_t activation, float alpha, float beta,
                         ec_dtype dtype, float scale, int32_t zp, int32_t *lo, int32_t *hi);

/* Reads an 8-bit quantized element as int32 (int8 or uint8 storage). */
static inline int32_t ec_q8_load(const void *p, bool is_signed, int64_t i) {
  return is_signed ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const uint8_t *)p)[i];
}

static inline void ec_q8_store(void *p, bool is_signed, int64_t i, int32_t v) {
  if (is_signed)
    ((int8_t *)p)[i] = (int8_t)v;
  else
    ((uint8_t *)p)[i] = (uint8_t)v;
}

/* ---- kernel family -------------------------------------------------------- */

/* Instruction.variant of the int8 kernels: family byte 0 (EC_VARIANT_REF)
 * runs the plain reference loops; any other known family runs the blocked
 * path, on the best int8 micro-kernels the family allows and the CPU has:
 * EC_VARIANT_AVX2 caps them at AVX2 (vpmaddubsw), EC_VARIANT_AVX512 and
 * EC_VARIANT_BEST take AVX-512 VNNI (vpdpbusd) where the CPU has it; on
 * AArch64 every blocked family runs NEON (sdot where the CPU has dotprod). No
 * layout flags (the weights are packed at prepare). False for an unknown
 * variant. */
typedef enum ec_q_isa {
  EC_Q_PORTABLE = 0, /* blocked loops in C */
  EC_Q_AVX2 = 1,     /* AVX2 maddubs/madd micro-kernels (qgemm_avx2.c) */
  EC_Q_VNNI = 2,     /* AVX-512 VNNI micro-kernels (qgemm_vnni.c); AVX2 for the rest */
  EC_Q_NEON = 3,     /* AArch64 NEON micro-kernels, sdot when the CPU has it (neon/neon.h) */
} ec_q_isa;
bool ec_q_variant(uint16_t variant, bool *blocked, ec_q_isa *isa);

/* Parallel grain for elementwise int8 loops (elements per job). */
#define EC_Q_GRAIN 16384

#endif /* EDGEC_KERNELS_REF_QCOMMON_H_ */
