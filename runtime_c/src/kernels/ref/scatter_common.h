/* Shared by ScatterElements and ScatterND: combining an update into the
 * output element (AxisOptions.flags bits 0-2: 0 replace, 1 add, 2 mul,
 * 3 max, 4 min), for every dtype the runtime has (replace: any dtype;
 * reductions: float32, float16 computed in float32, int8, uint8, int32,
 * int64). */
#ifndef EDGEC_KERNELS_REF_SCATTER_COMMON_H_
#define EDGEC_KERNELS_REF_SCATTER_COMMON_H_

#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#include "kernels/ref/f16.h"

enum { EC_SCATTER_NONE = 0, EC_SCATTER_ADD, EC_SCATTER_MUL, EC_SCATTER_MAX, EC_SCATTER_MIN };

static inline ec_status ec_scatter_check_mode(const ec_node *n, uint32_t mode, ec_dtype dt) {
  if (mode > EC_SCATTER_MIN)
    return ec_node_error(n, EC_ERR_FORMAT, "reduction %u is not one of 0-4", mode);
  if (mode != EC_SCATTER_NONE && (dt == EC_BOOL || ec_dtype_is_wide(dt)))
    return ec_node_error(n, EC_ERR_DTYPE, "reduction %u on %s", mode, ec_dtype_name(dt));
  return EC_OK;
}

#define EC_SCATTER_COMBINE(T, D, S, MODE)                                       \
  switch (MODE) {                                                               \
    case EC_SCATTER_ADD: *(D) = (T)(*(D) + *(S)); break;                        \
    case EC_SCATTER_MUL: *(D) = (T)(*(D) * *(S)); break;                        \
    case EC_SCATTER_MAX: if (*(S) > *(D)) *(D) = *(S); break;                   \
    case EC_SCATTER_MIN: if (*(S) < *(D)) *(D) = *(S); break;                   \
    default: *(D) = *(S); break;                                                \
  }

/* Combines count consecutive elements of src into dst. */
static inline void ec_scatter_combine(ec_dtype dt, uint32_t mode, void *dst, const void *src,
                                      int64_t count) {
  if (mode == EC_SCATTER_NONE) {
    memcpy(dst, src, (size_t)count * ec_dtype_size(dt));
    return;
  }
  for (int64_t i = 0; i < count; i++) {
    switch (dt) {
      case EC_FLOAT32: EC_SCATTER_COMBINE(float, (float *)dst + i, (const float *)src + i, mode)
        break;
      case EC_INT8: EC_SCATTER_COMBINE(int8_t, (int8_t *)dst + i, (const int8_t *)src + i, mode)
        break;
      case EC_UINT8:
        EC_SCATTER_COMBINE(uint8_t, (uint8_t *)dst + i, (const uint8_t *)src + i, mode)
        break;
      case EC_INT32:
        EC_SCATTER_COMBINE(int32_t, (int32_t *)dst + i, (const int32_t *)src + i, mode)
        break;
      case EC_INT64:
        EC_SCATTER_COMBINE(int64_t, (int64_t *)dst + i, (const int64_t *)src + i, mode)
        break;
      case EC_FLOAT16: {
        float d = ec_f16_to_f32(((uint16_t *)dst)[i]);
        const float s = ec_f16_to_f32(((const uint16_t *)src)[i]);
        EC_SCATTER_COMBINE(float, &d, &s, mode)
        ((uint16_t *)dst)[i] = ec_f32_to_f16(d);
        break;
      }
      default: break;
    }
  }
}

#endif /* EDGEC_KERNELS_REF_SCATTER_COMMON_H_ */
