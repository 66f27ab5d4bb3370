/* AVX2 entry points of the int8 kernels (qgemm_avx2.c, built with -mavx2
 * -mfma where CMake defines EDGEC_HAVE_X86_KERNELS). Same contracts as the
 * portable functions in kernels/ref/qgemm_core.h they stand in for; callers
 * check ec_cpu_features() first (ec_q_variant). */
#ifndef EDGEC_KERNELS_X86_QX86_H_
#define EDGEC_KERNELS_X86_QX86_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernels/ref/qgemm_core.h"

void ec_x86_q8_tile_avx2(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                         int32_t *tile);

/* GEMM and requantization in registers: weight rows [0, rows) (slivers of
 * EC_QMR, `sliver` bytes apart, from a and a2) times one activation sliver b;
 * rows r0 + i of o's per-row bias and multiplier; nr columns stored 8-bit at
 * y + i * rs + j. */
void ec_x86_q8_block_avx2(int64_t groups, const int8_t *a, const int8_t *a2, int64_t sliver,
                          int64_t rows, const uint8_t *b, int64_t nr, const ec_qout *o,
                          int64_t r0, uint8_t *y, int64_t rs);

/* Packs 4 rows at a time with byte interleaves (full groups of EC_QNR columns). */
void ec_x86_qpack_rows_avx2(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                            uint8_t *dst);

/* One contiguous output row: y[j] = clamp(zp + requant(acc[j] + bias, mul)), j < n.
 * mul.shift <= 0. */
void ec_x86_qrequant_row_avx2(const int32_t *acc, int64_t n, int32_t bias, ec_qmul mul,
                              int32_t zp, int32_t lo, int32_t hi, bool is_signed, void *y);

void ec_x86_qdots_avx2(int64_t m, int64_t kp, const int8_t *w, const int8_t *w2,
                       const uint8_t *x, int64_t n, int32_t *out);

/* QADD over a row: y[i] = clamp(zp_y + rq(rq((a[i*sa] - zp_a) << 20, mul_a)
 * + rq((b[i*sb] - zp_b) << 20, mul_b), mul_y)), strides 0 or 1; every
 * multiplier's shift <= 0 (qbinary.c checks). */
typedef struct ec_qadd_row {
  int32_t zp_a, zp_b, zp_y, lo, hi;
  ec_qmul mul_a, mul_b, mul_y;
  bool a_signed, b_signed, y_signed;
} ec_qadd_row;
void ec_x86_qadd_row_avx2(const ec_qadd_row *p, const uint8_t *a, int64_t sa, const uint8_t *b,
                          int64_t sb, int64_t n, uint8_t *y);

/* Depthwise int8 convolution of one plane from a padded uint8 copy (row
 * stride ld; every tap of every 16-column block inside it): y = clamp(zp +
 * requant(bias + sum over taps of w * x)), the input zero point folded into
 * bias. At most EC_QDW_MAX_TAPS taps; sw 1 or 2; mul.shift <= 0. */
#define EC_QDW_MAX_TAPS 64
void ec_x86_qdw_plane_avx2(const uint8_t *xp, int64_t ld, const int8_t *w, int64_t kh,
                           int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw,
                           int64_t oh, int64_t ow, int32_t bias, ec_qmul mul, const ec_qout *o,
                           uint8_t *y);

#endif /* EDGEC_KERNELS_X86_QX86_H_ */
