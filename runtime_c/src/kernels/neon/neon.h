/* AArch64 NEON kernels besides the fp32 GEMM (sgemm_neon.h): depthwise conv
 * and the int8 GEMM pieces. Compiled only where CMake defines
 * EDGEC_HAVE_NEON_KERNELS; same contracts as the portable functions they stand
 * in for (kernels/ref/qgemm_core.h, conv.c's depthwise path).
 *
 * int8. The packed layouts of qgemm_core.h are used as they are: a group of
 * 4 k values of one weight row or one activation column is 4 consecutive
 * bytes, which is exactly what `sdot` multiplies. Two micro-kernel families,
 * chosen at run time (ec_neon_dotprod, from ec_cpu_arm_features: the
 * auxiliary vector's HWCAP_ASIMDDP on Linux and Android):
 *   dotprod  (qgemm_dotprod.c, built with -march=armv8.2-a+dotprod): sdot on
 *            int8 x int8. Activations are uint8, so each is flipped to
 *            x - 128 (eor 0x80) and 128 * (row sum of W), itself an sdot of W
 *            by -128, is added back: exact in int32.
 *   plain    (qgemm_neon.c, Armv8.0): activations widened to 16 bits, products
 *            accumulated with smlal by lane (s16 x s16 -> s32): exact.
 * Neither can saturate, so prepare never splits the weights for NEON (as it
 * does for AVX2's maddubs); split ones (a2 != NULL) would run as two passes
 * over the same accumulators. Requantization is the
 * gemmlowp NEON sequence (sqrdmulh, then a rounding shift with the
 * away-from-zero fixup), bit-exact with ec_requant for every shift. */
#ifndef EDGEC_KERNELS_NEON_NEON_H_
#define EDGEC_KERNELS_NEON_NEON_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernels/dwconv.h"
#include "kernels/ref/qgemm_core.h"

/* ---- fp32 depthwise conv (dwconv_neon.c: x86/dwconv_impl.h with 4-float vectors) */

void ec_neon_dw_planes(const ec_dw_conv *a, int64_t begin, int64_t end, float *workspace);

/* ---- int8 ------------------------------------------------------------------------ */

/* True when the CPU has sdot/udot (checked once, then cached). */
bool ec_neon_dotprod(void);

/* ec_qgemm_tile, ec_qgemm_dots, ec_qrequant_tile, ec_qpack_rows, ec_qpack_cols */
void ec_neon_q8_tile(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                     int32_t *tile);
void ec_neon_qdots(int64_t m, int64_t kd, const int8_t *w, const int8_t *w2, const uint8_t *x,
                   int64_t n, int32_t *out);
void ec_neon_qrequant_tile(const int32_t *tile, int64_t mr, int64_t nr, int64_t r0,
                           const ec_qout *o, uint8_t *y, int64_t rs, int64_t cs);
void ec_neon_qpack_rows(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                        uint8_t *dst);
void ec_neon_qpack_cols(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                        uint8_t *dst);

/* The sdot versions (qgemm_dotprod.c); call only when ec_neon_dotprod(). */
void ec_neon_q8_tile_dot(int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                         int32_t *tile);
void ec_neon_qdots_dot(int64_t m, int64_t kd, const int8_t *w, const int8_t *w2,
                       const uint8_t *x, int64_t n, int32_t *out);

#endif /* EDGEC_KERNELS_NEON_NEON_H_ */
