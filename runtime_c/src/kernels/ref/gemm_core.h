/* Portable single-precision GEMM shared by Conv, ConvTranspose, Gemm and
 * MatMul, plus the fused activation epilogue they all apply.
 *
 * C (m x n, row stride ldc) = A (m x k) . B (k x n), added to C instead of
 * overwriting it when accumulate is set. A and B are strided views: element
 * (i, p) of A is a[i * a_rs + p * a_cs] and element (p, j) of B is
 * b[p * b_rs + j * b_cs], so transposed operands need no copy. Both are
 * packed into the caller's workspace (ec_sgemm_workspace bytes, 64-byte
 * aligned) in cache-sized blocks; the inner kernel is plain C that gcc -O3
 * vectorizes for any SIMD width. */
#ifndef EDGEC_KERNELS_REF_GEMM_CORE_H_
#define EDGEC_KERNELS_REF_GEMM_CORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

/* Register tile (MR x NR) and cache blocks (KC, MC, NC). The Python lowering
 * mirrors these in edgec/lower/conv.py to size scratch; keep them in sync. */
#define EC_GEMM_MR 6
#define EC_GEMM_NR 8
#define EC_GEMM_KC 256
#define EC_GEMM_MC 120
#define EC_GEMM_NC 1024

/* Workspace bytes ec_sgemm needs for these dimensions (a multiple of 64). */
size_t ec_sgemm_workspace(int64_t m, int64_t n, int64_t k);

void ec_sgemm(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs,
              int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c,
              int64_t ldc, bool accumulate, void *workspace);

/* a * b <= 2^40 for non-negative a and b. Prepare functions check their
 * products with it: a file whose tensors have a 0 dimension may have huge
 * other ones, and the products must not overflow. */
static inline bool ec_fits(int64_t a, int64_t b) {
  return a == 0 || b <= ((int64_t)1 << 40) / a;
}

/* Rounds a byte count up to the workspace alignment. */
static inline size_t ec_align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* ---- activation epilogue ------------------------------------------------ */

typedef struct ec_act {
  uint8_t kind; /* EC_FB_ACTIVATION_* */
  float alpha, beta;
} ec_act;

/* True if kind is a value of the Activation enum this runtime implements. */
bool ec_act_valid(uint8_t kind);

/* y[i] = act(y[i] + bias) for i in [0, n). */
void ec_act_apply(float *y, int64_t n, float bias, const ec_act *act);

/* ---- geometry shared by Conv and ConvTranspose --------------------------- */

/* Strides, dilations and begin/end pads of a 1-D or 2-D conv, widened to
 * 2-D (a 1-D conv is a 2-D one of height 1). */
typedef struct ec_conv_geom {
  int64_t stride[2], dilation[2], pad_begin[2], pad_end[2];
} ec_conv_geom;

/* Reads ConvOptions lists for `spatial` (1 or 2) axes; an empty list means
 * the default. False if a list has another length or a value is out of
 * range (stride/dilation in [1, 2^30], pads in [0, 2^30]). */
bool ec_conv_geom_read(const ec_conv_options *o, int32_t spatial, ec_conv_geom *g);

/* Positions [lo, hi) within [0, count) of i for which i * step + off lies
 * in [0, limit). */
void ec_valid_range(int64_t off, int64_t step, int64_t limit, int64_t count, int64_t *lo,
                    int64_t *hi);

#endif /* EDGEC_KERNELS_REF_GEMM_CORE_H_ */
