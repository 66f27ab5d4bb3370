/* x86 entry points of the int8 kernels: AVX2 (qgemm_avx2.c, built with -mavx2
 * -mfma) and AVX-512 VNNI (qgemm_vnni.c, built with AVX-512 F/BW/DQ/VL +
 * VNNI), where CMake defines EDGEC_HAVE_X86_KERNELS. Same contracts as the
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
/* The same on AVX-512 (qgemm_vnni.c: callers check EC_CPU_AVX512VNNI). */
void ec_x86_qadd_row_vnni(const ec_qadd_row *p, const uint8_t *a, int64_t sa, const uint8_t *b,
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

/* ---- AVX-512 VNNI (vpdpbusd: no int16 step, so weights are never split) ---- */

/* The EC_QMR x EC_QNR int32 tile (ec_qgemm_tile without a second half). */
void ec_x86_q8_tile_vnni(int64_t groups, const int8_t *a, const uint8_t *b, int32_t *tile);

/* Per output row (channel), the constants of the requantization in
 * registers, computed at prepare by ec_x86_qrows_vnni for all rows of o with
 * sums over kp (padded) k; rows it cannot take exactly (a bias that could
 * overflow int32 with the sums, a multiplier that shifts left) are marked for
 * the scalar path. */
typedef struct ec_qrow_vnni {
  int64_t k;    /* 2^30 + 2^(30+e) + zp * 2^(31+e) (qgemm_vnni.c) */
  int32_t mult; /* Q31 mantissa */
  int32_t init; /* the bias, the sums' start (fast rows) */
  int32_t e;    /* right shift */
  int32_t fast; /* 0: the scalar path */
} ec_qrow_vnni;
void ec_x86_qrows_vnni(const ec_qout *o, int64_t rows, int64_t kp, ec_qrow_vnni *out);

/* GEMM and requantization in registers (8 x 48 register tiles): weight rows
 * [0, rows) (slivers of EC_QMR, `sliver` bytes apart) times activation
 * columns [0, cols) (slivers of EC_QNR, `bsliver` bytes apart, the last one
 * zero padded); rows r0 + i of o's per-row bias and multiplier (and of rq,
 * ec_x86_qrows_vnni of o); stored 8-bit at y + i * rs + j. Exact for any bias
 * and multiplier. */
void ec_x86_q8_block_vnni(int64_t groups, const int8_t *a, int64_t sliver, int64_t rows,
                          const uint8_t *b, int64_t bsliver, int64_t cols, const ec_qout *o,
                          const ec_qrow_vnni *rq, int64_t r0, uint8_t *y, int64_t rs);

/* ec_qgemm_dots for unsplit weights. */
void ec_x86_qdots_vnni(int64_t m, int64_t kd, const int8_t *w, const uint8_t *x, int64_t n,
                       int32_t *out);

/* Depthwise int8 convolution with vpdpbusd, 4 taps of a kernel row per
 * group, read straight from the input with masked loads (the zero point as
 * padding) or, given a buffer, from a padded copy of each plane (for wide
 * planes: plain loads), for shapes where ec_x86_qdw_vnni_fits. */
typedef struct ec_qdw_plan { /* narrow planes: two output rows per vector */
  int32_t idx[16];          /* vpermt2d: dwords of the two rows' padded bytes */
  int8_t shuf[64];          /* vpshufb: each output's 4 taps */
  int64_t bytes_a, bytes_b; /* bytes read from each row */
} ec_qdw_plan;
/* Fills *plan for planes whose output rows are at most 8 wide; false where
 * the two-rows form does not apply. */
bool ec_x86_qdw_vnni_plan(int64_t kw, int64_t sw, int64_t dw, int64_t ow, ec_qdw_plan *plan);
typedef struct ec_qdw_vnni {
  int64_t c, h, w, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
  uint8_t flip;      /* 0x80 for int8 sources */
  uint8_t zp_byte;   /* the input zero point as a source byte */
  const int32_t *w4; /* packed weights: kh * ceil(kw / 4) dwords per channel
                        (ec_x86_qdw_weights_vnni) */
  const ec_qrow_vnni *rows; /* per channel: ec_x86_qrows_vnni with kp = kh * kw */
  const ec_qout *o;
  const ec_qdw_plan *plan; /* two output rows per vector, or NULL */
  /* wide planes: a buffer for a padded copy of a plane (pad_h rows of ld
   * bytes, ld >= round_up(ow, 16) * sw + (kw - 1) * dw + 32), or NULL */
  uint8_t *xp;
  int64_t pad_h, ld;
} ec_qdw_vnni;
bool ec_x86_qdw_vnni_fits(int64_t kh, int64_t kw, int64_t sw, int64_t dw);
void ec_x86_qdw_weights_vnni(const int8_t *wt, int64_t kh, int64_t kw, int32_t *w4);
/* Planes [begin, end) of x (plane p: channel p % c) into y, except those
 * whose channel's row is not fast (a multiplier that shifts left, a bias that
 * could overflow int32): left to the caller. */
void ec_x86_qdw_planes_vnni(const ec_qdw_vnni *a, const uint8_t *x, int64_t begin, int64_t end,
                            uint8_t *y);

/* Direct convolution, stride 1, output as wide as the input: the GEMM panel
 * of output pixels [p0, p0 + n) packed straight from the input (no im2col),
 * K ordered (kernel row, kernel column, channel) -- the weights are packed in
 * that order -- so each group of 4 k is 4 channels of one tap: 16 pixels of
 * each read with one masked load at the tap's offset (the zero point where
 * the tap falls outside the input). cg a multiple of 4; slivers of EC_QNR
 * columns kh * kw * cg * EC_QNR bytes apart. */
typedef struct ec_qshift {
  const uint8_t *x; /* the group's first input plane */
  int64_t cg, h, w, kh, kw, dh, dw, ph, pw;
  uint8_t flip, zp_byte;
} ec_qshift;
void ec_x86_qpack_shift_vnni(const ec_qshift *s, int64_t p0, int64_t n, uint8_t *dst);

/* Any convolution with horizontal stride 1 or 2, output rows at least
 * EC_QPACK_MIN_OW wide, kernels of up to EC_QPACK_MAX_TAPS taps: the
 * GEMM panel of output pixels [p0, p0 + n) packed straight from the input
 * (im2col and packing in one pass), K in the weights' own order (channel,
 * kernel row, kernel column); each 16-pixel block's pixels split by output
 * row, each piece one masked load per k (the zero point outside the input).
 * Slivers of EC_QNR columns round_up(K, 4) * EC_QNR bytes apart. */
#define EC_QPACK_MIN_OW 3
#define EC_QPACK_MAX_SEGS 8 /* 16 pixels on output rows >= 3 wide: at most 7 pieces */
#define EC_QPACK_MAX_TAPS 64
typedef struct ec_qconvpack {
  const uint8_t *x; /* the group's first input plane */
  int64_t cg, h, w, kh, kw, sh, sw, dh, dw, ph, pw, ow;
  uint8_t flip, zp_byte;
} ec_qconvpack;
void ec_x86_qpack_conv_vnni(const ec_qconvpack *s, int64_t p0, int64_t n, uint8_t *dst);

#endif /* EDGEC_KERNELS_X86_QX86_H_ */
