/* Blocked int8 GEMM shared by QCONV, QGEMM, QMATMUL and DYNAMIC_QGEMM:
 *   C (m x n, int32) = W (m x k, int8 weights) . X (k x n, uint8 activations)
 * W's rows are output channels; X's columns are pixels (conv) or rows of the
 * activation matrix (fully connected). int8 activations enter as uint8 with
 * their sign bit flipped (x + 128, zero point + 128), so one kernel serves
 * both dtypes.
 *
 * Packed layouts (built at prepare for W, per call in the workspace for X);
 * K is padded to kp = round_up(k, 4) and every 4 consecutive k form a group:
 *   W: slivers of EC_QMR rows, kp * EC_QMR bytes each; in a sliver, group g,
 *      row i, lane l is byte [g * EC_QMR * 4 + i * 4 + l] = W[i][4g + l].
 *   X: slivers of EC_QNR columns, kp * EC_QNR bytes each; group g, column j,
 *      lane l is byte [g * EC_QNR * 4 + j * 4 + l] = X[4g + l][j].
 * Padding (rows past m, columns past n, k past k) is zero.
 *
 * The AVX2 micro-kernel multiplies with _mm256_maddubs_epi16 (u8 x s8, two
 * products summed into a saturating int16) and _mm256_madd_epi16 with ones
 * (pairs of int16 into int32). The int16 sum of one pair, x0*w0 + x1*w1,
 * is at most 255 * (|w0| + |w1|), which overflows int16 when |w0| + |w1| >
 * 128. We keep the kernel exact for every int8 weight: prepare checks each
 * packed pair, and when any could saturate it stores the weight as two
 * halves, w = (w >> 1) + (w - (w >> 1)), each in [-64, 64], and runs the
 * micro-kernel on both (half the speed for that layer). edgec's quantizer
 * can store 7-bit weights (|w| <= 64, per channel) so that no layer needs the
 * split; imported models (QDQ, QLinearConv) keep their weights bit exact.
 * The AVX-512 VNNI micro-kernel (vpdpbusd: four u8 x s8 products summed
 * straight into int32) cannot saturate, so with EC_Q_VNNI the weights are
 * never split; nor with EC_Q_NEON (sdot, or 16-bit products accumulated by
 * smlal into int32: kernels/neon/neon.h). The portable micro-kernel computes
 * the same int32 sums directly. */
#ifndef EDGEC_KERNELS_REF_QGEMM_CORE_H_
#define EDGEC_KERNELS_REF_QGEMM_CORE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/ref/qcommon.h"

#define EC_QMR 4
#define EC_QNR 16
#define EC_QKG 4 /* k per group */

static inline int64_t ec_q_round_up(int64_t v, int64_t to) { return (v + to - 1) / to * to; }
static inline size_t ec_q_align64(size_t b) { return (b + 63) / 64 * 64; }

/* ---- packed weights --------------------------------------------------------- */

typedef struct ec_qweights {
  const int8_t *a;  /* slivers */
  const int8_t *a2; /* second halves when the weights could saturate maddubs, else NULL */
  int64_t m, k, kp, slivers;
} ec_qweights;

/* True if no packed pair (w[2j], w[2j+1]) of any row could saturate maddubs
 * (|w0| + |w1| <= 128). W element (r, q) at w[r * rs + q * cs]. */
bool ec_qweights_maddubs_safe(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k);

/* Bytes for the packed form of an m x k weight (one half; twice when split). */
size_t ec_qweights_bytes(int64_t m, int64_t k);

/* Packs W into dst (ec_qweights_bytes), or, with dst2, its two halves. */
void ec_qpack_weights(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                      int8_t *dst, int8_t *dst2);

/* Sum over k of W[r][k] for each row. */
void ec_qweights_row_sums(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                          int32_t *sums);

/* ---- packed activations ------------------------------------------------------ */

/* Bytes for the packed form of a k x n activation block. */
static inline size_t ec_qpanel_bytes(int64_t k, int64_t n) {
  return (size_t)(ec_q_round_up(k, EC_QKG) * ec_q_round_up(n, EC_QNR));
}

/* X element (q, j) at src[q * ld + j] (rows of k, columns contiguous), each
 * byte XORed with flip (0x80 for int8 sources). */
void ec_qpack_rows(ec_q_isa isa, const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                   uint8_t *dst);
/* X element (q, j) at src[j * ld + q] (each column contiguous in k). */
void ec_qpack_cols(const uint8_t *src, int64_t ld, int64_t k, int64_t n, uint8_t flip,
                   uint8_t *dst);

/* ---- micro-kernel and epilogues ---------------------------------------------- */

/* The EC_QMR x EC_QNR int32 tile of one weight sliver (a, and a2 when split;
 * never split for EC_Q_VNNI) by one activation sliver b over kp / 4 groups,
 * row-major into tile. */
void ec_qgemm_tile(ec_q_isa isa, int64_t groups, const int8_t *a, const int8_t *a2, const uint8_t *b,
                   int32_t *tile);

/* Requantizes rows [0, mr) x columns [0, nr) of a tile: for weight row
 * r0 + i, y = clamp(zp + requant(tile + bias[r0 + i], mul[r0 + i]), lo, hi)
 * stored 8-bit at y + i * rs + j * cs. bias may be NULL. */
typedef struct ec_qout {
  const int32_t *bias; /* per weight row, in accumulator units, input zero point folded in */
  const ec_qmul *mul;  /* per weight row */
  int32_t zp, lo, hi;
  bool is_signed;
} ec_qout;
void ec_qrequant_tile(ec_q_isa isa, const int32_t *tile, int64_t mr, int64_t nr, int64_t r0,
                      const ec_qout *o, void *y, int64_t rs, int64_t cs);

/* Dot products for narrow activations (a few columns): each weight row
 * (row-major, kd = round_up(k, EC_QDOTK) bytes, zero padded, possibly split
 * like the slivers) against each column (kd bytes, contiguous, zero padded):
 * out[j * m + r]. */
#define EC_QDOTK 32
#define EC_QDOT_MAX_COLS 4 /* QGEMM uses dots up to this many activation rows */
/* Packs W row-major into m * kd bytes (ec_qdots_bytes), or its two halves. */
size_t ec_qdots_bytes(int64_t m, int64_t k);
void ec_qpack_weights_dots(const int8_t *w, int64_t rs, int64_t cs, int64_t m, int64_t k,
                           int8_t *dst, int8_t *dst2);
void ec_qgemm_dots(ec_q_isa isa, int64_t m, int64_t kd, const int8_t *w, const int8_t *w2,
                   const uint8_t *x, int64_t n, int32_t *out);

#endif /* EDGEC_KERNELS_REF_QGEMM_CORE_H_ */
