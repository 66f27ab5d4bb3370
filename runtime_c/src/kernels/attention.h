/* Fused attention (ATTENTION, kernels/ref/attention.c): what the portable
 * kernel and the x86 ones (kernels/x86/attention_impl.h) share.
 *
 *   Y = softmax(scale * Q . Kt + bias) . V    per (batch b, head h)
 *
 * Every operand is a strided view over [B, H, rows, cols] (strides in
 * elements, 0 along a broadcast or unit axis): Q [B, H, Sq, Dk],
 * Kt [B, H, Dk, Sk], V [B, H, Sk, Dv], bias [B, H, Sq, Sk], Y [B, H, Sq, Dv].
 * The bias is stored row-major without a perm, so its column stride is 0 or 1.
 *
 * Work is cut into jobs of (b * H + h, block of `qb` query rows): job j
 * covers rows [(j % nqb) * qb, +qb) of head j / nqb. A job's scores live
 * only in the workspace of the thread that runs it (qb x Sk floats), never
 * in the arena: the full [Sq, Sk] score matrix of a head is never stored. */
#ifndef EDGEC_KERNELS_ATTENTION_H_
#define EDGEC_KERNELS_ATTENTION_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Query rows per job: a score block of about ATT_BLOCK_FLOATS floats (24 KiB:
 * it stays in L1 between the product that writes it, the softmax and the
 * product that reads it), in whole 12-row register tiles, 12 to 96 rows.
 * edgec/passes/fuse_attention.py mirrors this and the workspace layout to
 * size Instruction.scratch_size. */
#define EC_ATT_BLOCK_FLOATS 6144
#define EC_ATT_ROW_ALIGN 12
#define EC_ATT_MAX_ROWS 96
#define EC_ATT_COL_ALIGN 16 /* row pitch of the packed Kt and of the scores */

typedef struct ec_att {
  const float *q, *k, *v, *bias; /* bias may be NULL */
  float *y;
  int64_t b, h, sq, sk, dk, dv;
  int64_t qs[4], ks[4], vs[4], ms[4], ys[4]; /* strides of the [B, H, rows, cols] views */
  float scale;
  int64_t qb, nqb; /* query rows per job, jobs per head */
  /* per-thread workspace (byte offsets, each 64-byte aligned): Kt packed
   * row-major [Dk, ldk] when its columns are not contiguous; a Q block
   * [qb, Dk] and V [Sk, Dv] likewise; the scores [qb, lds]; the rows'
   * 1 / sum [qb16]; a Y block [qb, Dv] when Y's columns are not contiguous;
   * the rows' running max, then their sums, one vector each [qb16, 16]
   * (qb16: qb rounded up to 16) */
  int64_t ldk, lds;
  size_t off_kt, off_q, off_v, off_s, off_inv, off_y, off_max, ws_size;
} ec_att;

/* qb, nqb, ldk, lds and the workspace offsets and size of a, from its sizes.
 * False when a size would overflow. */
bool ec_att_layout(ec_att *a);

/* Jobs [begin, end); ws: the calling thread's workspace (ws_size bytes). */
void ec_att_jobs_ref(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws);
#if defined(EDGEC_HAVE_X86_KERNELS)
void ec_x86_attention_avx2(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws);
void ec_x86_attention_avx512(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws);
#endif

#endif /* EDGEC_KERNELS_ATTENTION_H_ */
