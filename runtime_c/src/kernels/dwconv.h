/* The SIMD depthwise conv kernels' argument block (conv.c fills it; the
 * kernels are kernels/x86/dwconv_impl.h, instantiated for AVX2, AVX-512 and
 * AArch64 NEON). */
#ifndef EDGEC_KERNELS_DWCONV_H_
#define EDGEC_KERNELS_DWCONV_H_

#include <stdint.h>

#include "kernels/ref/gemm_core.h"

/* A depthwise conv (conv.c), NCHW: dilation 1, stride 1 or 2 on both axes.
 * Plane p (image p / c, channel p % c): y = act(conv(x, wt) + bias [+ res]). */
typedef struct ec_dw_conv {
  const float *x, *wt, *bias, *res; /* bias and res may be NULL */
  float *y;
  int64_t c, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
  int64_t row_stride; /* floats per padded row (conv.c dw_row_stride) */
  const ec_act *act;
} ec_dw_conv;

/* Floats per padded row (row_stride above; conv.c's dw_row_stride is the
 * same formula): the output width plus the kernel's overhang, rounded up so
 * that every vector of a row stays inside it. */
static inline int64_t ec_dw_row_stride(int64_t ow, int64_t kw) {
  return (ow + kw + 15) / 16 * 16 + 16;
}

#endif /* EDGEC_KERNELS_DWCONV_H_ */
