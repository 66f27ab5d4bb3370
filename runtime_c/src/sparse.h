/* Verification of sparse constant encodings (Tensor.sparse, layout in
 * schemas/edgec.fbs) at load: after it, the SPARSE_* kernels read indptr,
 * indices and values without a check. */
#ifndef EDGEC_SPARSE_H_
#define EDGEC_SPARSE_H_

#include <stddef.h>
#include <stdint.h>

#include "kernel.h"

/* The fields of a SparseEncoding table and the bytes of its two segments, as
 * the loader resolved them (the segments already bounds-checked against the
 * file). */
typedef struct ec_sparse_raw {
  uint8_t format;
  uint8_t index_bytes;
  uint32_t n_block; /* entries in SparseEncoding.block */
  int32_t block[2]; /* the first two */
  const uint8_t *indptr;
  uint64_t indptr_size;
  const uint8_t *indices;
  uint64_t indices_size;
} ec_sparse_raw;

/* Checks raw against tensor `index` (td: shape, dtype and storage decoded;
 * td->size the bytes of its stored values): format, block shape, indptr
 * (size, start, monotone, per-row counts, total), indices (size, alignment,
 * range, strictly increasing per row) and the values' size. Fills
 * td->sparse, or records a message and returns EC_ERR_FORMAT
 * (EC_ERR_UNSUPPORTED for a format this runtime does not read). */
ec_status ec_sparse_verify(const ec_sparse_raw *raw, size_t index, ec_tensor_desc *td);

/* A sparse tensor may only be the weight (input 1) of SPARSE_GEMM or
 * SPARSE_CONV, or a 1x1 weight (input 1 or 5) of INVERTED_RESIDUAL (which
 * checks its shape and blocks at prepare): every other kernel would read
 * numel dense values. */
ec_status ec_sparse_check_operands(const ec_node *node);

#endif /* EDGEC_SPARSE_H_ */
