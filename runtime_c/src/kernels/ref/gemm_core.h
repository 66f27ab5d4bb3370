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

#endif /* EDGEC_KERNELS_REF_GEMM_CORE_H_ */
