/* Numpy-style broadcasting of up to three operands against an output
 * shape, with adjacent dimensions merged so the inner loop is as long as
 * possible. Computed once in prepare. */
#ifndef EDGEC_KERNELS_BROADCAST_H_
#define EDGEC_KERNELS_BROADCAST_H_

#include "kernel.h"

#define EC_BCAST_MAX_OPERANDS 3

typedef struct ec_bcast {
  int32_t rank;   /* after merging; >= 1 */
  int32_t n_operands;
  int64_t shape[EC_MAX_RANK];
  int64_t stride[EC_BCAST_MAX_OPERANDS][EC_MAX_RANK]; /* elements; 0 = broadcast */
  int64_t numel;
} ec_bcast;

/* Fails with EC_ERR_SHAPE if an operand does not broadcast to out. */
ec_status ec_bcast_init(const ec_node *node, const ec_tensor_desc *out,
                        const ec_tensor_desc *const *operands, int32_t n,
                        ec_bcast *b);

/* prepare of a kernel that broadcasts its inputs 0..n-1 to output 0: with
 * an empty output only the shapes are checked (ec_bcast_init multiplies
 * operand dimensions, which an empty operand may have huge) and
 * node->params stays NULL; otherwise node->params is an ec_bcast. */
ec_status ec_bcast_prepare(ec_node *node, int32_t n);

/* The start of the flat output range [begin, ...) as a multi-index and the
 * matching operand offsets. */
typedef struct ec_bcast_iter {
  int64_t idx[EC_MAX_RANK];
  int64_t off[EC_BCAST_MAX_OPERANDS];
} ec_bcast_iter;

void ec_bcast_seek(const ec_bcast *b, int64_t begin, ec_bcast_iter *it);
/* Advances by count elements, which must not cross the end of a row. */
void ec_bcast_advance(const ec_bcast *b, int64_t count, ec_bcast_iter *it);

/* Walks the flat output range [begin, end) in pieces that stay inside one
 * innermost row: row(ctx, off, start, len) with off[k] operand k's offset
 * at output element `start`; its element i is at
 * off[k] + i * b->stride[k][b->rank - 1]. */
typedef void (*ec_bcast_row_fn)(const void *ctx, const int64_t *off, int64_t start,
                                int64_t len);
void ec_bcast_rows(const ec_bcast *b, int64_t begin, int64_t end, ec_bcast_row_fn row,
                   const void *ctx);

#endif /* EDGEC_KERNELS_BROADCAST_H_ */
