/* float16 <-> float32 with integer code (no compiler support needed), for
 * Cast and the kernels that compute float16 in float32: round to nearest
 * even, overflow to inf, NaN kept. The normal-range rounding rebiases the
 * exponent (-112 << 23) and drops 13 mantissa bits, ties to even, without
 * branches; its carry may reach the exponent, up to inf. */
#ifndef EDGEC_KERNELS_REF_F16_H_
#define EDGEC_KERNELS_REF_F16_H_

#include <stdint.h>
#include <string.h>

static inline float ec_f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  uint32_t bits;
  if (e == 0x1f) {
    bits = sign | 0x7f800000u | (m << 13);
  } else if (e == 0) { /* zero or subnormal: m * 2^-24, exact in float */
    const float v = (float)m * 0x1p-24f;
    return sign ? -v : v;
  } else {
    bits = sign | ((e + 112u) << 23) | (m << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

/* float32 -> float16 (kernels/ref/elem.c): out of line, the float16 paths
 * are rare and the rounding is a few dozen instructions. */
uint16_t ec_f32_to_f16(float f);

/* bfloat16: the upper half of a float32; rounding to nearest even, NaN
 * kept (quiet). */
static inline float ec_bf16_to_f32(uint16_t h) {
  const uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static inline uint16_t ec_f32_to_bf16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
  return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#endif /* EDGEC_KERNELS_REF_F16_H_ */
