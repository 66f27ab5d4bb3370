/* The pools' shared prepare step (pool.c, qpool.c): operands, PoolOptions and
 * the output shape they imply. */
#ifndef EDGEC_KERNELS_REF_POOL_SHAPE_H_
#define EDGEC_KERNELS_REF_POOL_SHAPE_H_

#include "kernel.h"

#define EC_POOL_MAX_SPATIAL 3

/* sp spatial axes; per axis the kernel, stride and dilation (each in [1, 2^31])
 * and the pads begin (pads[a]) and end (pads[sp + a]), each in [0, 2^31]. */
typedef struct ec_pool_shape {
  int32_t sp;
  int64_t k[EC_POOL_MAX_SPATIAL], s[EC_POOL_MAX_SPATIAL], d[EC_POOL_MAX_SPATIAL];
  int64_t pads[2 * EC_POOL_MAX_SPATIAL];
} ec_pool_shape;

/* Checks one input and one output, PoolOptions, an input of rank 3 to
 * 2 + max_sp, an output keeping its N and C, reads the options' lists into s
 * (strides, dilations and pads may be empty: 1 and 0) and checks each output
 * extent: floor((in + pads - ek) / stride) + 1, or in ceil mode ceil(...) + 1
 * less a last window that would start in the end padding, ek = (k - 1) * d + 1;
 * with any_ceil (the int8 pools, as they always had it) also ceil(...) + 1 and
 * ceil(...) whatever the last window. Defined in pool.c. */
ec_status ec_pool_shape_read(ec_node *n, int32_t max_sp, bool any_ceil, ec_pool_shape *s);

/* The float pools' prepared form (pool.c; read by the x86 rows of
 * kernels/x86/pool_x86.h): 1-D and 2-D pools get unit leading axes. */
typedef struct ec_pool_params {
  uint8_t kind;
  int32_t p_mode; /* LP: 1, 2, or 0 = general p */
  float p, inv_p;
  int64_t nc;
  int64_t in[EC_POOL_MAX_SPATIAL], out[EC_POOL_MAX_SPATIAL], dil[EC_POOL_MAX_SPATIAL];
  int64_t taps; /* kernel volume, for the grain */
  uint8_t isa; /* ec_isa family to run (set in x86 builds only; else ref) */
  int64_t kernel_w, stride_w;
  int64_t pad_w, pad_h, stride_h, kernel_h; /* begin pads, H's stride and kernel (x86 builds) */
  int64_t w_lo, w_hi; /* outputs along W whose whole window is valid */
  /* per axis, out[a] entries each */
  int64_t *first[EC_POOL_MAX_SPATIAL]; /* input index of the first valid tap */
  int64_t *count[EC_POOL_MAX_SPATIAL]; /* valid taps */
  int64_t *div[EC_POOL_MAX_SPATIAL];   /* average divisor factor (valid or in-pad taps) */
} ec_pool_params;

#endif /* EDGEC_KERNELS_REF_POOL_SHAPE_H_ */
