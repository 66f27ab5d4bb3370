/* Sparse x dense products shared by SPARSE_CONV and SPARSE_GEMM, over a
 * weight decoded and verified at load (ec_sparse in kernel.h: CSR or
 * BLOCK_CSR, rows = output channels/features, columns = reduction index).
 *
 * Two shapes of work:
 *   ec_sp_rows: Y[r, 0:np] = epi(sum over stored W[r, k] * X[k, 0:np]) for a
 *     range of output rows against a dense panel X whose rows are the
 *     reduction index ("Fast Sparse ConvNets": each stored weight selects an
 *     input row and scales a contiguous vector of pixels into the output).
 *   ec_sp_gather: y[r] = epi(sum over stored W[r, k] * x[k]) for one input
 *     vector (a fully connected layer at batch 1).
 * Families: portable C (the oracle) and x86 AVX2+FMA / AVX-512, chosen at
 * prepare from Instruction.variant capped by the CPU. */
#ifndef EDGEC_KERNELS_REF_SPARSE_CORE_H_
#define EDGEC_KERNELS_REF_SPARSE_CORE_H_

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"

typedef enum ec_sp_isa { EC_SP_REF = 0, EC_SP_AVX2 = 1, EC_SP_AVX512 = 2 } ec_sp_isa;

/* The family an instruction runs: EC_VARIANT_REF -> portable; BEST, AVX2,
 * AVX512 -> the best this CPU has up to that. False for unknown bits. */
bool ec_sp_variant_isa(uint16_t variant, ec_sp_isa *out);

/* The family of the dense kernels' isa (ec_variant_isa): portable for
 * NEON too. */
static inline ec_sp_isa ec_sp_isa_of(ec_isa isa) {
  return isa == EC_ISA_AVX512 ? EC_SP_AVX512 : isa == EC_ISA_AVX2 ? EC_SP_AVX2 : EC_SP_REF;
}

/* What is stored for row i of a call (i relative to its first row):
 *   y = act(alpha * S + beta * bias[i] + res[i * ld_res + p])
 * bias and res may be NULL. */
typedef struct ec_sp_epilogue {
  float alpha, beta;
  const float *bias;
  const float *res;
  int64_t ld_res;
  ec_act act;
} ec_sp_epilogue;

/* The stored blocks the products read, prepared once per instruction:
 * values, the input offset of each block (offs[j]: the caller turns column
 * indices into offsets for its layout of X) and, to keep the input a
 * product reads inside the L1 cache, the columns cut into `groups` ranges of
 * `span` columns: gptr[brow * (groups + 1) + g] is the first block of block
 * row brow in column range g (groups == 1: gptr NULL, indptr serves). */
typedef struct ec_sp_weight {
  const ec_sparse *w;
  const float *values;
  const int32_t *offs;
  const int32_t *gptr;
  int64_t groups;
} ec_sp_weight;

/* Rows [r0, r1) of the product (r0 and r1 multiples of block_r, or r1 the
 * matrix's rows), each np wide. The input row of stored block j starts at
 * x + offs[j]; Y row r0 + i at y + i * ldy; bias and res relative to row r0.
 * Blocks must have one column (block_c == 1). With several column groups, Y
 * holds partial sums between them. */
void ec_sp_rows(ec_sp_isa isa, const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                int64_t np, float *y, int64_t ldy, const ec_sp_epilogue *e);

/* The one check of a weight the row products read: a constant stored
 * sparse (else EC_ERR_FORMAT, "weight 'NAME' carries no sparse encoding"),
 * in blocks of one column and at most max_r rows (else EC_ERR_UNSUPPORTED,
 * "blocks of RxC (one column, at most MAX_R rows)"). */
ec_status ec_sp_check_weight(const ec_node *n, const ec_tensor_desc *w, int32_t max_r);

/* Column groups for a product whose input holds `bytes_per_col` bytes per
 * column (at most 32 KiB of input per group): how many, and their span. */
void ec_sp_plan_groups(int64_t cols, int64_t bytes_per_col, int64_t *groups, int64_t *span);

/* offs[j] = index(j) * scale for every stored block of w, or false if an
 * offset would not fit in int32. */
bool ec_sp_scaled_offsets(const ec_sparse *w, int64_t scale, int32_t *offs);

/* Bytes ec_sp_weight_init writes for w in `groups` column groups: the
 * offsets, then (groups > 1) the group pointers, each 64-byte aligned. */
size_t ec_sp_weight_bytes(const ec_sparse *w, int64_t groups);

/* The one setup of a sparse weight's ec_sp_weight (values NULL: the caller
 * sets them at eval) in mem (ec_sp_weight_bytes(w, groups), 64-byte
 * aligned): offs[j] = index(j) * scale (scale 0: the caller has written
 * them), and for groups > 1 the pointers of column ranges of span. Records
 * "input offsets exceed 32 bits" on n (EC_ERR_SHAPE) if one does not fit. */
ec_status ec_sp_weight_init(ec_node *n, ec_sp_weight *sw, const ec_sparse *w, int64_t scale,
                            int64_t groups, int64_t span, void *mem);

/* y[i] for rows [r0, r1) of W against the vector x (cols entries); bias
 * relative to r0, res ignored. */
void ec_sp_gather(ec_sp_isa isa, const ec_sparse *w, const float *values, int64_t r0,
                  int64_t r1, const float *x, float *y, const ec_sp_epilogue *e);

/* The stored column (block column) of entry j. */
static inline int64_t ec_sp_index(const ec_sparse *w, int64_t j) {
  return w->index_bytes == 2 ? (int64_t)((const uint16_t *)w->indices)[j]
                             : (int64_t)((const int32_t *)w->indices)[j];
}

/* Applies e to row i's np outputs in place (the portable epilogue). */
void ec_sp_epilogue_row(float *y, int64_t np, int64_t i, const ec_sp_epilogue *e);

#if defined(EDGEC_HAVE_X86_KERNELS)
/* kernels/x86/sparse_spmm_avx2.c, sparse_spmm_avx512.c: same contracts;
 * the row functions return false for a block shape they leave to the
 * portable code (they handle CSR and 4x1 blocks). */
bool ec_x86_sp_rows_avx2(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                         int64_t np, float *y, int64_t ldy, const ec_sp_epilogue *e);
void ec_x86_sp_gather_avx2(const ec_sparse *w, const float *values, int64_t r0, int64_t r1,
                           const float *x, float *y, const ec_sp_epilogue *e);
bool ec_x86_sp_rows_avx512(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                           int64_t np, float *y, int64_t ldy, const ec_sp_epilogue *e);

/* SPARSE_CONV on x86, the "shift" form (kernels/x86/sparse_shift.c; the
 * portable code keeps the slab of shifted copies in sparse_conv.c). One
 * zero-padded copy of the input rows the band reads, split into stride
 * phases: plane (c, py, px) row t holds input row (oh0 + t) * sh + py - ph,
 * its column j input column j * sw + px, row pitch wq, zero past the
 * input. Tap (c, ki, kj) reads its plane at row ki * dh / sh, column q of
 * every tile position q: an aligned run for every tap. The weights of one
 * output channel are sorted by tap column kj ("class"); each class's sums
 * S_kj go to a buffer, and output q is the sum over kj of S_kj[q +
 * shift_kj], shift = floor((kj * dw - pw) / sw) (taps of one shift share a
 * class: with a stride, they read different phases): the column shift is paid
 * once per output instead of once per weight. A shifted read that leaves a
 * row lands on zero columns (of the previous row, or the buffer's zero
 * guards), which is what the pads contribute. */
#define EC_SP_SHIFT_MAX_CLASSES 16
#define EC_SP_SHIFT_MAX_STRIDE 8

typedef struct ec_sp_shift {
  const float *values;  /* stored weights, by (column group, row, class): the order
                           a call reads them in */
  const int32_t *offs;  /* their slab offsets */
  const int32_t *segs;  /* groups * rows * classes + 1 segment starts */
  int64_t rows, groups, classes;
  int64_t wq, ow;       /* slab row pitch; output columns kept per row */
  int64_t lead, pitch;  /* class buffer: zeros before S (>= pw), floats per class */
  bool regs;            /* AVX-512: class sums in registers, shifted by permutes */
  int32_t shift[EC_SP_SHIFT_MAX_CLASSES]; /* class kj reads S at q + shift[kj] */
} ec_sp_shift;

/* The geometry of a shift-form conv, planned at prepare. */
typedef struct ec_sp_shift_conv {
  int64_t c, h, w, m, oh, ow, kh, kw, sy, sx, ph, pw, dh, dw; /* sy, sx: strides */
  int64_t band, slab_rows, trows, tqp;
  int64_t npy, npx;                        /* phases some weight reads */
  int8_t py_slot[EC_SP_SHIFT_MAX_STRIDE];  /* their dense numbers, -1: unread */
  int8_t px_slot[EC_SP_SHIFT_MAX_STRIDE];
  int8_t phase[EC_SP_SHIFT_MAX_CLASSES];   /* column phase of tap column kj */
  int8_t cls[EC_SP_SHIFT_MAX_CLASSES];     /* its class (taps of one shift share one) */
  size_t slab_bytes, sbuf_bytes, ws_bytes;
  ec_sp_shift sh; /* values/offs/segs filled by ec_sp_shift_layout */
} ec_sp_shift_conv;

/* Plans s (geometry fields set by the caller) for weight w; false where the
 * shift form does not apply or needs more than scratch bytes per thread. */
bool ec_sp_shift_plan(ec_sp_shift_conv *s, const ec_sparse *w, size_t scratch,
                      ec_sp_isa isa);
/* Bytes of the layout ec_sp_shift_layout writes. */
size_t ec_sp_shift_layout_bytes(const ec_sp_shift_conv *s, const ec_sparse *w);
/* Writes the sorted weights, offsets and segments into mem and points
 * s->sh at them; false if out of memory. */
bool ec_sp_shift_layout(ec_sp_shift_conv *s, const ec_sparse *w, const float *values,
                        void *mem);
/* Output channels [m0, m1) of the band of output rows starting at band *
 * s->band of one image: x the image's input, y and res (NULL: none) its
 * output planes, bias the layer's (NULL: none). */
void ec_sp_shift_job(const ec_sp_shift_conv *s, ec_sp_isa isa, const float *x, float *y,
                     const float *res, const float *bias, const ec_act *act, int64_t band,
                     int64_t m0, int64_t m1, uint8_t *ws);
bool ec_x86_sp_shift_avx2(const ec_sp_shift *s, int64_t m0, int64_t m1, const float *x,
                          int64_t rows, float *y, int64_t ldy, float *part, float *sbuf,
                          const ec_sp_epilogue *e);
bool ec_x86_sp_shift_avx512(const ec_sp_shift *s, int64_t m0, int64_t m1, const float *x,
                            int64_t rows, float *y, int64_t ldy, float *part, float *sbuf,
                            const ec_sp_epilogue *e);
#endif

#endif /* EDGEC_KERNELS_REF_SPARSE_CORE_H_ */
