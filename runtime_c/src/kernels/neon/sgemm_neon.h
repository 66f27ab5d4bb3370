/* AArch64 NEON fp32 GEMM (src/kernels/neon/, compiled only for AArch64
 * targets: see runtime_c/CMakeLists.txt) and the Arm CPU feature bits.
 *
 * Layout. The kernel reads the packed layout of kernels/ref/gemm_core.h
 * unchanged (A in slivers of EC_PACK_MR = 6 rows, B in slivers of
 * EC_PACK_NR = 16 columns, zero-padded), so weights the compiler pre-packed
 * for the ref/x86 families run here as they are. Its register tile is
 * 6 x 16: 24 q-register accumulators, per two k steps three loads of A
 * (12 floats) and eight of B feeding 48 `fmla v.4s, v.4s, v.s[lane]`
 * (vfmaq_laneq_f32); with the four B vectors and three A vectors that is 31
 * of the 32 vector registers. It has the compute density of the classic
 * 8 x 12 NEON tile (96 multiply-adds per k step for 24 accumulators) and
 * needs no layout of its own (8 x 12 would need 8-row / 12-column slivers,
 * i.e. a second packed format for the compiler to emit).
 *
 * ---- Integration hook (for the dispatcher in kernels/ref/gemm_core.c) -----
 *
 *   1. CMake: add `set(EDGEC_ARCH_DEFINITIONS EDGEC_HAVE_NEON_KERNELS=1)` in
 *      the aarch64 branch (the sources are already globbed there).
 *   2. gemm_core.h: add EC_ISA_NEON to ec_isa; ec_isa_tile_m/n return 6 and
 *      16 for it.
 *   3. ec_variant_isa: on AArch64 (EDGEC_HAVE_NEON_KERNELS) EC_VARIANT_BEST
 *      (and an EC_VARIANT_NEON, if kernel.h gets one) maps to EC_ISA_NEON;
 *      EC_VARIANT_REF stays ref, and the x86-only families fall back to NEON
 *      like any family this CPU lacks. Advanced SIMD is mandatory in
 *      Armv8-A (and the Linux/Android/Apple AArch64 ABIs), so there is no run
 *      time check for the fp32 kernel; ec_cpu_arm_features() only matters for
 *      the dotprod / i8mm int8 kernels to come.
 *   4. ec_gemm_packed:
 *        #if defined(EDGEC_HAVE_NEON_KERNELS)
 *          if (isa == EC_ISA_NEON) {
 *            ec_neon_gemm_packed(m, n, kc, a, a_sliver, b, b_sliver, c, ldc,
 *                                accumulate, epi);
 *            return;
 *          }
 *        #endif
 *      ec_sgemm_ex then packs and blocks exactly as for the other families
 *      (including pre-packed operands and the fused epilogue), and its
 *      m == 1 gemv shortcut should stay limited to EC_ISA_REF as it is now
 *      (ec_neon_gemm_packed has its own row path).
 *
 * ec_sgemm_neon below is a self-contained driver (its own packing and cache
 * blocking, no epilogue) used by runtime_c/tests/test_sgemm_neon.c and the
 * instruction-count bench; the runtime does not need it once step 4 is in. */
#ifndef EDGEC_KERNELS_NEON_SGEMM_NEON_H_
#define EDGEC_KERNELS_NEON_SGEMM_NEON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ref/gemm_core.h"

/* Same contract as ec_gemm_packed (gemm_core.h): one K block on packed
 * operands, C[0:m, 0:n] (+)= A . B over kc, then the epilogue when epi is not
 * NULL. Results equal the portable kernel's up to rounding (fused
 * multiply-adds); the epilogue is applied with the same operations in the
 * same order as ec_gemm_store_tile. */
void ec_neon_gemm_packed(int64_t m, int64_t n, int64_t kc, const float *a, int64_t a_sliver,
                         const float *b, int64_t b_sliver, float *c, int64_t ldc,
                         bool accumulate, const ec_epilogue *epi);

/* Workspace bytes ec_sgemm_neon needs (a multiple of 64; the same blocks as
 * ec_sgemm_workspace, so that size also suffices). 0 when m, n or k <= 0. */
size_t ec_sgemm_neon_workspace(int64_t m, int64_t n, int64_t k);

/* C (m x n, row stride ldc) = A . B, or C += A . B when accumulate.
 * Element (i, p) of A is a[i * a_rs + p * a_cs], element (p, j) of B is
 * b[p * b_rs + j * b_cs] (so transposed operands need no copy). Blocked
 * EC_GEMM_NC x EC_GEMM_KC x EC_GEMM_MC like ec_sgemm_ex. workspace:
 * ec_sgemm_neon_workspace bytes (any float alignment is correct; 64 bytes,
 * as ec_sgemm_ex asks, is best). k <= 0 writes zeros (or leaves C as it is
 * when accumulating). Single-threaded. */
void ec_sgemm_neon(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs, int64_t a_cs,
                   const float *b, int64_t b_rs, int64_t b_cs, float *c, int64_t ldc,
                   bool accumulate, void *workspace);

/* ---- Arm CPU features (cpu_arm.c) ------------------------------------------ */

enum {
  EC_CPU_ARM_ASIMD = 1u << 0,   /* Advanced SIMD (NEON): always set on AArch64 */
  EC_CPU_ARM_FP16 = 1u << 1,    /* FP16 arithmetic, scalar and vector (FPHP+ASIMDHP) */
  EC_CPU_ARM_DOTPROD = 1u << 2, /* SDOT/UDOT (Armv8.2 FEAT_DotProd, HWCAP_ASIMDDP) */
  EC_CPU_ARM_I8MM = 1u << 3,    /* SMMLA/USMMLA/USDOT (Armv8.6 FEAT_I8MM, HWCAP2_I8MM) */
};

/* The EC_CPU_ARM_* bits of this CPU, as the OS reports them (Linux and
 * Android: getauxval(AT_HWCAP / AT_HWCAP2); Apple: sysctl hw.optional.arm.*;
 * elsewhere on AArch64 only EC_CPU_ARM_ASIMD). 0 on other architectures.
 * No state, thread-safe, a few hundred cycles: meant for prepare steps. */
uint32_t ec_cpu_arm_features(void);

#endif /* EDGEC_KERNELS_NEON_SGEMM_NEON_H_ */
