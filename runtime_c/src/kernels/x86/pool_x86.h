/* Entry point of the x86-64 MaxPool / AveragePool rows (pool_avx512.c),
 * built with the per-file ISA flags of this directory (x86.h). Kept out of
 * x86.h, like rownorm_x86.h. The caller (kernels/ref/pool.c) checks the CPU
 * first (ec_variant_isa) and keeps its portable rows for what this one
 * declines. */
#ifndef EDGEC_KERNELS_X86_POOL_X86_H_
#define EDGEC_KERNELS_X86_POOL_X86_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ref/pool_shape.h"

/* Output rows [begin, end) of pool.c's row space (n * c * out_d * out_h) of
 * a max or average pool: the same values as pool.c's rows (max bit for bit;
 * averages within rounding of the same sums). Returns false, writing
 * nothing, for what it does not run: LP pools, a depth axis (3-D pools),
 * horizontal strides above 2. */
bool ec_x86_pool_rows_avx512(const ec_pool_params *p, const float *x, float *y, int64_t begin,
                             int64_t end);

#endif /* EDGEC_KERNELS_X86_POOL_X86_H_ */
