/* Entry points of the x86-64 row normalizations (rownorm_impl.h): Softmax,
 * LogSoftmax and LayerNormalization over contiguous rows, built with the
 * same per-file ISA flags as the other kernels of this directory (x86.h).
 * Kept out of x86.h so the float-GEMM family's header does not grow with
 * every elementwise kernel. Callers check the CPU first (ec_variant_isa) and
 * keep the portable kernels (kernels/ref/softmax.c, layer_norm.c) for
 * strided axes and other ISAs; the results are within a few ulp of theirs. */
#ifndef EDGEC_KERNELS_X86_ROWNORM_X86_H_
#define EDGEC_KERNELS_X86_ROWNORM_X86_H_

#include <stdbool.h>
#include <stdint.h>

/* Rows [begin, end) of n floats each, x and y row-major (y may be x):
 * y = exp(x - max) / sum (or, log, x - max - log(sum)). */
void ec_x86_softmax_rows_avx2(const float *x, float *y, int64_t n, int64_t begin, int64_t end,
                              bool log_form);
void ec_x86_softmax_rows_avx512(const float *x, float *y, int64_t n, int64_t begin,
                                int64_t end, bool log_form);

/* LayerNormalization of rows of cols floats: y = (x - mean) / sqrt(var + epsilon)
 * * scale + bias. scale and bias (either may be NULL) hold cols values, or,
 * per_channel, one per channel: row r uses [r % channels]. */
typedef struct ec_ln_rows {
  const float *x, *scale, *bias;
  float *y;
  int64_t cols, channels;
  bool per_channel;
  float epsilon;
} ec_ln_rows;

void ec_x86_layer_norm_rows_avx2(const ec_ln_rows *a, int64_t begin, int64_t end);
void ec_x86_layer_norm_rows_avx512(const ec_ln_rows *a, int64_t begin, int64_t end);

#endif /* EDGEC_KERNELS_X86_ROWNORM_X86_H_ */
