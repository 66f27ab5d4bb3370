/* Single-precision GEMM shared by Conv, ConvTranspose, Gemm and MatMul, with
 * a fused epilogue (scale, bias, residual add, activation), and the kernel
 * family dispatch (portable C or x86 SIMD, see EC_VARIANT_* in kernel.h).
 *
 * Packed layout. Both operands reach the register tile as slivers:
 *   A (m x k): slivers of EC_PACK_MR rows; in a sliver, element (i, p) is at
 *              [p * EC_PACK_MR + i]; rows past m are zero.
 *   B (k x n): slivers of EC_PACK_NR columns; element (p, j) at
 *              [p * EC_PACK_NR + j]; columns past n are zero.
 * Consecutive slivers are `sliver` floats apart. The compiler stores constant
 * weights in this layout over their whole K (sliver = K * width: see
 * edgec/lower/conv.py), and ec_sgemm_ex packs the other operands into the
 * workspace one cache block at a time. Every kernel family reads the same
 * layout: the portable kernel (6 x 8 tile), AVX2+FMA (6 x 16) and AVX-512
 * (12 x 32: two A slivers by two B slivers), so a file packed on one machine
 * runs on any other. */
#ifndef EDGEC_KERNELS_REF_GEMM_CORE_H_
#define EDGEC_KERNELS_REF_GEMM_CORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

/* Sliver widths of the packed layout (a format constant: files depend on
 * it) and cache blocks (KC, MC, NC). The Python lowering mirrors these in
 * edgec/lower/conv.py to pack weights and size scratch; keep them in sync. */
#define EC_PACK_MR 6
#define EC_PACK_NR 16
#define EC_GEMM_KC 256
#define EC_GEMM_MC 240 /* a multiple of 12 */
#define EC_GEMM_NC 1024 /* a multiple of 32 */

/* ---- kernel families ---------------------------------------------------- */

typedef enum ec_isa {
  EC_ISA_REF = 0,
  EC_ISA_AVX2 = 1,
  EC_ISA_AVX512 = 2,
  EC_ISA_NEON = 3, /* AArch64: the GEMM microkernel of kernels/neon */
} ec_isa;

static inline bool ec_isa_is_x86(ec_isa isa) {
  return isa == EC_ISA_AVX2 || isa == EC_ISA_AVX512;
}

/* The family an instruction runs: its variant's request, capped by what this
 * CPU supports (ref where it supports none). False if the family byte or a
 * layout flag outside `allowed_flags` is unknown. */
bool ec_variant_isa(uint16_t variant, uint16_t allowed_flags, ec_isa *out);

/* Register tile of a family: rows (MR) and columns (NR). */
int64_t ec_isa_tile_m(ec_isa isa);
int64_t ec_isa_tile_n(ec_isa isa);

/* ---- activation epilogue ------------------------------------------------ */

typedef struct ec_act {
  uint8_t kind; /* EC_FB_ACTIVATION_* */
  float alpha, beta;
} ec_act;

/* True if kind is a value of the Activation enum this runtime implements. */
bool ec_act_valid(uint8_t kind);

/* y[i] = act(y[i] + bias) for i in [0, n). */
void ec_act_apply(float *y, int64_t n, float bias, const ec_act *act);

/* What the last K block writes, element (i, j) of the call's C:
 *   C = act(alpha * S + beta * bias(i, j) + add(i, j))
 * S is the product (plus the old C when accumulating); bias(i, j) is
 * bias[i * bias_rs + j * bias_cs] with bias_cs 0 (per row or scalar) or 1
 * (per column or a matrix); add(i, j) is add[i * ld_add + j]. NULL pointers
 * contribute nothing. */
typedef struct ec_epilogue {
  float alpha, beta;
  const float *bias;
  int64_t bias_rs, bias_cs;
  const float *add;
  int64_t ld_add;
  ec_act act;
} ec_epilogue;

/* The epilogue of a sub-block whose origin is (i0, j0) in e's coordinates. */
ec_epilogue ec_epilogue_at(const ec_epilogue *e, int64_t i0, int64_t j0);

/* Applies e (NULL: nothing) to an h x w tile t (row stride ldt) and writes
 * it to c; with accumulate, c's old values are added to t first. */
void ec_gemm_store_tile(const float *t, int64_t ldt, float *c, int64_t ldc, int64_t h,
                        int64_t w, bool accumulate, const ec_epilogue *e);

/* ---- GEMM ----------------------------------------------------------------- */

/* An operand: a strided view (element (r, q) at data[r * rs + q * cs]) when
 * sliver == 0, else the packed layout above over the whole K. */
typedef struct ec_operand {
  const float *data;
  int64_t rs, cs;
  int64_t sliver;
} ec_operand;

/* Workspace bytes ec_sgemm_ex needs for these dimensions (a multiple of 64;
 * none is touched when both operands are packed, so it may then be NULL). */
size_t ec_sgemm_workspace(int64_t m, int64_t n, int64_t k);

/* C (m x n, row stride ldc) = epilogue(A . B [+ C if accumulate]).
 * epi may be NULL (plain product). workspace: ec_sgemm_workspace bytes,
 * 64-byte aligned. */
void ec_sgemm_ex(ec_isa isa, int64_t m, int64_t n, int64_t k, const ec_operand *a,
                 const ec_operand *b, float *c, int64_t ldc, bool accumulate,
                 const ec_epilogue *epi, void *workspace);

/* Strided operands, no epilogue. */
void ec_sgemm(ec_isa isa, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_rs,
              int64_t a_cs, const float *b, int64_t b_rs, int64_t b_cs, float *c,
              int64_t ldc, bool accumulate, void *workspace);

/* One K block on packed operands: C[0:m, 0:n] (+)= A . B over kc, then the
 * epilogue when epi is not NULL (the last block). a points at the first
 * sliver (a_sliver floats to the next), b likewise. */
void ec_gemm_packed(ec_isa isa, int64_t m, int64_t n, int64_t kc, const float *a,
                    int64_t a_sliver, const float *b, int64_t b_sliver, float *c, int64_t ldc,
                    bool accumulate, const ec_epilogue *epi);

/* Packs B[0:kc, 0:nc] (element (p, j) at b[p * rs + j * cs]) into slivers
 * of EC_PACK_NR columns, kc * EC_PACK_NR floats apart. */
void ec_pack_b(int64_t kc, int64_t nc, const float *b, int64_t rs, int64_t cs,
               float *restrict dst);

/* a * b <= 2^40 for non-negative a and b. Prepare functions check their
 * products with it: a file whose tensors have a 0 dimension may have huge
 * other ones, and the products must not overflow. */
static inline bool ec_fits(int64_t a, int64_t b) {
  return a == 0 || b <= ((int64_t)1 << 40) / a;
}

/* Rounds a byte count up to the workspace alignment. */
static inline size_t ec_align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

static inline int64_t ec_round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

/* ---- geometry shared by Conv and ConvTranspose --------------------------- */

/* Strides, dilations and begin/end pads of a 1-D or 2-D conv, widened to
 * 2-D (a 1-D conv is a 2-D one of height 1). */
typedef struct ec_conv_geom {
  int64_t stride[2], dilation[2], pad_begin[2], pad_end[2];
} ec_conv_geom;

/* Reads ConvOptions lists for `spatial` (1 or 2) axes; an empty list means
 * the default. False if a list has another length or a value is out of
 * range (stride/dilation in [1, 2^30], pads in [0, 2^30]). */
bool ec_conv_geom_read(const ec_conv_options *o, int32_t spatial, ec_conv_geom *g);

/* The geometry of a 1-D or 2-D Conv (conv.c, qconv.c), widened to 2-D: the
 * input (n, c, h, w), the output (n, m, oh, ow), the kernel kh x kw, strides,
 * dilations, begin and end pads, the group and the channels per group. A
 * kernel's params embed it as
 *     union { ec_conv_shape shape; struct { EC_CONV_SHAPE_FIELDS; }; };
 * to read the fields by name. */
#define EC_CONV_SHAPE_FIELDS                                                    \
  int64_t n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, pe_h, pe_w, \
      group, cg, mg
typedef struct ec_conv_shape {
  EC_CONV_SHAPE_FIELDS;
} ec_conv_shape;

/* Reads n's geometry into s, with m output channels and the kernel kh x kw
 * as the caller's weight layout gives them and wc the weight's input
 * channels, and checks it: ConvOptions lists for the input's spatial axes,
 * the group dividing C and M, wc = C / group, kh, kw >= 1, the output's N and
 * M, sizes (ec_fits), each output extent from input, kernel and options.
 * Defined in conv.c (it reports through ec_node_error, which the standalone
 * GEMM harnesses that compile this file alone do not link). */
ec_status ec_conv_shape_read(const ec_node *n, int64_t m, int64_t kh, int64_t kw, int64_t wc,
                             ec_conv_shape *s);

/* Positions [lo, hi) within [0, count) of i for which i * step + off lies
 * in [0, limit). */
void ec_valid_range(int64_t off, int64_t step, int64_t limit, int64_t count, int64_t *lo,
                    int64_t *hi);

/* ---- Winograd F(r x r, 3x3), r = 4 or 2 -------------------------------------
 * Conv 3x3, stride 1, dilation 1, group 1 (conv.c, EC_VARIANT_WINOGRAD):
 * Y = A^T [U (.) V] A per r x r output tile, with a = r + 2 and a^2 = 36
 * (F(4x4, 3x3)) or 16 (F(2x2, 3x3)) products per tile: U = G g G^T (done by
 * the compiler: weight [a^2, ceil(M / 6), C, 6], a^2 A operands; or, with
 * EC_VARIANT_WINOGRAD_OTF, by the kernel per panel of 12 output channels from
 * the raw weight [ceil(M / 6), 9, C, 6] into the same A layout), V = B^T d B
 * of the a x a input patch d. Tiles are numbered over (image, tile row,
 * tile column); a block of tb tiles (a multiple of 16) is transformed into
 * v[xi * c * tb + (t / 16) * c * 16 + ch * 16 + t % 16] (a^2 packed B
 * operands), multiplied into mbuf[xi * mstride + m * tb + t] and
 * transformed back. */
typedef struct ec_wino {
  const float *x, *bias, *res; /* bias, res may be NULL */
  float *y;
  int64_t n, c, h, w, m, oh, ow, ph, pw;
  int64_t r;      /* output tile size: 4 or 2 */
  int64_t ty, tx; /* tiles per image: ceil(oh / r) x ceil(ow / r) */
  int64_t tb;     /* tiles per block */
  ec_act act;
} ec_wino;

/* On the fly (EC_VARIANT_WINOGRAD_OTF): U = G g G^T of n (output, input)
 * channel pairs, lane i of tap k (kernel row * 3 + column) read from
 * g[k * gs + i], point xi (row * a + column) written to u[xi * us + i]. */
void ec_wino_weight_ref(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                        int64_t n);
/* Tiles [t0, t0 + nt) of all channels into v. */
void ec_wino_input_ref(const ec_wino *p, int64_t t0, int64_t nt, float *v);
/* Output channels [m0, m0 + mb) of tiles [t0, t0 + nt) from mbuf to y, with
 * bias, residual and activation. */
void ec_wino_output_ref(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                        const float *mbuf, int64_t mstride);

#endif /* EDGEC_KERNELS_REF_GEMM_CORE_H_ */
