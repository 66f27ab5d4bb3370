/* Entry points of the x86-64 kernels: the files of this directory named
 * _avx2.c are built with -mavx2 -mfma, those named _avx512.c also with
 * AVX-512 F/BW/DQ/VL. Only compiled
 * where CMake defines EDGEC_HAVE_X86_KERNELS; callers check the CPU first
 * (ec_variant_isa in kernels/ref/gemm_core.h). Same contracts as the
 * portable functions they stand in for. */
#ifndef EDGEC_KERNELS_X86_X86_H_
#define EDGEC_KERNELS_X86_X86_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernels/dwconv.h"
#include "kernels/ref/gemm_core.h"

/* The sum of x[0..n) in double, on several chains (reduce.c's float32
 * ReduceSum / ReduceMean over a contiguous run). */
double ec_x86_sum_f32_avx2(const float *x, int64_t n);

/* ec_gemm_packed: 6 x 16 and 12 x 32 register tiles. */
void ec_x86_gemm_packed_avx2(int64_t m, int64_t n, int64_t kc, const float *a,
                             int64_t a_sliver, const float *b, int64_t b_sliver, float *c,
                             int64_t ldc, bool accumulate, const ec_epilogue *epi);
void ec_x86_gemm_packed_avx512(int64_t m, int64_t n, int64_t kc, const float *a,
                               int64_t a_sliver, const float *b, int64_t b_sliver, float *c,
                               int64_t ldc, bool accumulate, const ec_epilogue *epi);
/* ec_x86_gemm_packed_avx512 with A read in place (row i at a + i * lda, k
 * contiguous) instead of packed: no packing, and the broadcasts read the
 * rows directly (12 row streams; the last m % 12 rows packed on the stack).
 * False, with nothing done, where the kernel needs A packed (m < 12, kc over
 * EC_GEMM_KC, or n % 16 in 1..8: the matrix-vector tail). */
bool ec_x86_gemm_astr_avx512(int64_t m, int64_t n, int64_t kc, const float *a, int64_t lda,
                             const float *b, int64_t b_sliver, float *c, int64_t ldc,
                             bool accumulate, const ec_epilogue *epi);
/* One row of A (element p at a + p * as) times a pre-packed B of k rows
 * (slivers b_sliver floats apart), K not cut into blocks: each sliver is
 * read once, front to back (a batch-1 classifier's weight, streamed from
 * memory: in K blocks of 256 each block read a 16 KB piece of every sliver,
 * MobileNetV2's 1280 x 1000 classifier 0.27-0.31 ms, in one pass 0.23-0.25). */
void ec_x86_gemv_avx512(int64_t n, int64_t k, const float *a, int64_t as, const float *b,
                        int64_t b_sliver, float *c, bool accumulate, const ec_epilogue *epi);
/* A[0:mc, 0:kc] (row i at a + i * rs, k contiguous) into slivers of
 * EC_PACK_MR rows, kc * EC_PACK_MR floats apart (gemm_core.c's pack_a). */
void ec_x86_pack_a_avx512(int64_t mc, int64_t kc, const float *a, int64_t rs,
                          float *restrict dst);
/* C[m x n] = A . B with A packed (ec_x86_gemm_packed_avx512's slivers, k
 * deep) and B read in place, row p at b + p * ldb: a 1x1 conv's NCHW input
 * with ldb = its pixel count, so no packing of B. C is overwritten, then
 * epi applied (NULL: none). k == 0 gives the epilogue of zeros. */
void ec_x86_gemm_rows_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t a_sliver,
                             const float *b, int64_t ldb, float *c, int64_t ldc,
                             const ec_epilogue *epi);

/* y[i] = act(y[i]) for i in [0, n), vectorized (the transcendental ones
 * through polynomial approximations, within a few ulp of libm). */
void ec_x86_act_avx2(float *y, int64_t n, const ec_act *act);
void ec_x86_act_avx512(float *y, int64_t n, const ec_act *act);
/* y[i] = act(y[i] + s[i]) for i in [0, n) (conv.c's split input channels). */
void ec_x86_add_act_avx512(float *y, const float *s, int64_t n, const ec_act *act);

/* A depthwise conv (ec_dw_conv, kernels/dwconv.h): planes [begin, end);
 * workspace as conv.c declares it for this path. */
void ec_x86_dw_planes_avx2(const ec_dw_conv *a, int64_t begin, int64_t end, float *workspace);
void ec_x86_dw_planes_avx512(const ec_dw_conv *a, int64_t begin, int64_t end,
                             float *workspace);

/* Winograd F(4x4, 3x3) transforms: ec_wino_input_ref / ec_wino_output_ref
 * (gemm_core.h) vectorized over tiles. */
void ec_x86_wino_input_avx2(const ec_wino *p, int64_t t0, int64_t nt, float *v);
void ec_x86_wino_output_avx2(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                             const float *mbuf, int64_t mstride);
void ec_x86_wino_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v);
void ec_x86_wino_output_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                               const float *mbuf, int64_t mstride);
/* ec_wino_weight_ref vectorized over the channel pairs. */
void ec_x86_wino_weight_avx2(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                             int64_t n);
void ec_x86_wino_weight_avx512(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                               int64_t n);
/* One on-the-fly Winograd job (conv.c, EC_VARIANT_WINOGRAD_OTF): output
 * channels [m0, m0 + mb) (m0 a multiple of 12) of tiles [t0, t0 + nt): the
 * input transform into v, then per panel of 12 channels U from the raw
 * weight w ([ceil(M / 6), 9, C, 6]) into u (conv.c's panel: A2 * (C * 12 +
 * 16) floats), the products into mbuf (A2 * min(mb, 12) * tb floats) and the
 * output transform. False, touching nothing, where it does not apply
 * (F(2x2) with C < 32): conv.c's form runs. */
bool ec_x86_wino_otf_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                            float *v, const float *w, float *u, float *mbuf);
/* Its two halves, for conv.c's panels claimed at run time (one tile block,
 * several threads): whether they apply (false: F(2x2) with C < 32), the
 * input transform into v, and the rest of the job reading that v, its last
 * panel prefetching the raw weight of the panel at output channel nxt (a
 * multiple of 12; < 0: none). */
bool ec_x86_wino_otf_fits_avx512(const ec_wino *p);
void ec_x86_wino_otf_input_avx512(const ec_wino *p, int64_t t0, int64_t nt, float *v);
void ec_x86_wino_otf_gemm_avx512(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0,
                                 int64_t mb, int64_t nxt, const float *v, const float *w,
                                 float *u, float *mbuf);

/* conv.c's im2col (rows [k0, k0 + kc) x pixels [p0, p0 + tp) of one image
 * group's unfolded input into packed B slivers of 16), vectorized over the
 * 16 pixels of a sliver. Returns false, writing nothing, where the sizes do
 * not fit its int32 offsets or tp is over 1024. */
typedef struct ec_im2col_geo {
  int64_t h, w, kh, kw, sh, sw, dh, dw, ph, pw, ow;
} ec_im2col_geo;
bool ec_x86_im2col_avx512(const ec_im2col_geo *g, const float *x, int64_t k0, int64_t kc,
                          int64_t p0, int64_t tp, float *col);

#endif /* EDGEC_KERNELS_X86_X86_H_ */
