/* Element access by dtype: see elem.h. */
#include "kernels/ref/elem.h"

#include <math.h>

#include "kernels/ref/f16.h"

bool ec_dtype_is_float(ec_dtype dt) {
  return dt == EC_FLOAT32 || dt == EC_FLOAT16 || dt == EC_FLOAT64 || dt == EC_BFLOAT16;
}

bool ec_dtype_is_unsigned(ec_dtype dt) {
  return dt == EC_UINT8 || dt == EC_UINT16 || dt == EC_UINT32 || dt == EC_UINT64 ||
         dt == EC_BOOL;
}

uint64_t ec_load_bits(ec_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case EC_INT8: return (uint64_t)(int64_t)((const int8_t *)p)[i];
    case EC_INT16: return (uint64_t)(int64_t)((const int16_t *)p)[i];
    case EC_INT32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
    case EC_INT64: case EC_UINT64: return ((const uint64_t *)p)[i];
    case EC_UINT16: return ((const uint16_t *)p)[i];
    case EC_UINT32: return ((const uint32_t *)p)[i];
    default: return ((const uint8_t *)p)[i]; /* uint8, bool */
  }
}

double ec_load_f64(ec_dtype dt, const void *p, int64_t i) {
  switch (dt) {
    case EC_FLOAT32: return ((const float *)p)[i];
    case EC_FLOAT64: return ((const double *)p)[i];
    case EC_FLOAT16: return ec_f16_to_f32(((const uint16_t *)p)[i]);
    case EC_BFLOAT16: return ec_bf16_to_f32(((const uint16_t *)p)[i]);
    default: {
      const uint64_t v = ec_load_bits(dt, p, i);
      return ec_dtype_is_unsigned(dt) ? (double)v : (double)(int64_t)v;
    }
  }
}

void ec_store_bits(ec_dtype dt, void *p, int64_t i, uint64_t v) {
  switch (ec_dtype_size(dt)) {
    case 1: ((uint8_t *)p)[i] = dt == EC_BOOL ? v != 0 : (uint8_t)v; break;
    case 2: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: ((uint64_t *)p)[i] = v; break;
  }
}

void ec_store_f64(ec_dtype dt, void *p, int64_t i, double v) {
  switch (dt) {
    case EC_FLOAT32: ((float *)p)[i] = (float)v; return;
    case EC_FLOAT64: ((double *)p)[i] = v; return;
    case EC_FLOAT16: ((uint16_t *)p)[i] = ec_f32_to_f16((float)v); return;
    case EC_BFLOAT16: ((uint16_t *)p)[i] = ec_f32_to_bf16((float)v); return;
    case EC_BOOL: ((uint8_t *)p)[i] = v != 0.0; return;
    default: break;
  }
  /* integers: truncate toward zero, saturate; 2^bits is exact in double */
  const int bits = (int)ec_dtype_size(dt) * 8;
  uint64_t r;
  if (isnan(v)) {
    r = 0;
  } else if (ec_dtype_is_unsigned(dt)) {
    const double top = 2.0 * (double)((uint64_t)1 << (bits - 1));
    r = v <= 0.0 ? 0u : v >= top ? UINT64_MAX >> (64 - bits) : (uint64_t)v;
  } else {
    const double top = (double)((uint64_t)1 << (bits - 1));
    r = v >= top    ? (UINT64_MAX >> (65 - bits))
        : v <= -top ? (uint64_t)0 - ((uint64_t)1 << (bits - 1))
                    : (uint64_t)(int64_t)v;
  }
  ec_store_bits(dt, p, i, r);
}

uint16_t ec_f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  if (a >= 0x38800000u && a < 0x47800000u)
    return (uint16_t)(sign | ((a + 0xc8000fffu + ((a >> 13) & 1u)) >> 13));
  const int32_t e = (int32_t)(a >> 23) - 127;
  const uint32_t m = a & 0x7fffffu;
  if (e > 15) return (uint16_t)(sign | 0x7c00u);
  const int32_t shift = -(e + 1); /* subnormal half: round(|f| * 2^24) */
  if (shift > 24) return sign;
  const uint32_t full = m | 0x800000u;
  uint32_t q = full >> shift;
  const uint32_t rem = full & ((1u << shift) - 1u), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return (uint16_t)(sign | q);
}
