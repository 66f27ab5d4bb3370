/* Entry points of the direct AVX-512 convolution for few input channels
 * (conv_direct_avx512.c): the first layer of most CNNs (3 -> 32/64 channels,
 * 3x3 to 11x11 kernels, stride 1 to 4), where im2col + GEMM spends its time
 * on the short K loop and the unfolded copy. Kept out of x86.h, like
 * pool_x86.h. The caller (kernels/ref/conv.c) checks the CPU first and only
 * asks for group 1, dilation 1 and no residual. */
#ifndef EDGEC_KERNELS_X86_CONV_DIRECT_X86_H_
#define EDGEC_KERNELS_X86_CONV_DIRECT_X86_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ref/gemm_core.h"

/* Input channels, kernel side and stride it takes (ec_x86_conv_direct_fits). */
#define EC_DIRECT_MAX_C 4
#define EC_DIRECT_MAX_K 16
#define EC_DIRECT_MAX_S 4

typedef struct ec_conv_direct {
  const float *x, *w, *bias; /* NCHW input; weight; bias (M) or NULL */
  float *y;                  /* NCHW output */
  int64_t n, c, h, w_, m, oh, ow, kh, kw, sh, sw, ph, pw;
  bool packed;   /* weight [ceil(M / 6), C, kh, kw, 6] (EC_VARIANT_PACKED), else [M, C, kh, kw] */
  int64_t rb;    /* output rows per job */
  const ec_act *act;
} ec_conv_direct;

/* True where the shape is one this kernel runs (C, kernel and strides within
 * the limits above, sizes within int32 offsets). */
bool ec_x86_conv_direct_fits(const ec_conv_direct *g);

/* Workspace bytes per thread for g with g->rb output rows per job: the
 * weight repacked in panels of 8 channels, then the job's input rows,
 * zero-padded and split by column phase (mod sw). */
size_t ec_x86_conv_direct_workspace(const ec_conv_direct *g);

/* Jobs [begin, end) of n * ceil(oh / rb): (image, block of rb output rows),
 * every output channel; y = act(conv + bias). */
void ec_x86_conv_direct_avx512(const ec_conv_direct *g, int64_t begin, int64_t end,
                               uint8_t *workspace);

#endif /* EDGEC_KERNELS_X86_CONV_DIRECT_X86_H_ */
