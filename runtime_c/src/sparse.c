/* Verification of sparse constant encodings; see sparse.h. */
#include "sparse.h"

#include <string.h>

#define MAX_BLOCK 64

/* "tensor I ('NAME'): ..." */
#define T_ERR(i, name, ...) ec_tensor_error(EC_ERR_FORMAT, i, name, __VA_ARGS__)

static int64_t load_index(const uint8_t *p, uint8_t bytes, int64_t j) {
  if (bytes == 2) {
    uint16_t v;
    memcpy(&v, p + 2 * j, sizeof v);
    return v;
  }
  int32_t v;
  memcpy(&v, p + 4 * j, sizeof v);
  return v;
}

static ec_status check_block(const ec_sparse_raw *raw, size_t i, const ec_tensor_desc *td,
                             int64_t rows, int64_t cols, int32_t *br, int32_t *bc) {
  *br = *bc = 1;
  if (raw->format == EC_FB_SPARSEFORMAT_CSR) {
    if (raw->n_block != 0 && (raw->n_block != 2 || raw->block[0] != 1 || raw->block[1] != 1))
      return T_ERR(i, td->name, "CSR with a block other than [1, 1]");
    return EC_OK;
  }
  if (raw->n_block != 2)
    return T_ERR(i, td->name, "BLOCK_CSR needs a block of 2 dims, has %u", raw->n_block);
  *br = raw->block[0];
  *bc = raw->block[1];
  if (*br < 1 || *bc < 1 || *br > MAX_BLOCK || *bc > MAX_BLOCK)
    return T_ERR(i, td->name, "block [%d, %d] outside [1, %d]", *br, *bc, MAX_BLOCK);
  if (rows % *br != 0 || cols % *bc != 0)
    return T_ERR(i, td->name, "block [%d, %d] does not tile its %lld x %lld matrix", *br, *bc,
                 (long long)rows, (long long)cols);
  return EC_OK;
}

ec_status ec_sparse_verify(const ec_sparse_raw *raw, size_t i, ec_tensor_desc *td) {
  if (raw->format == EC_FB_SPARSEFORMAT_N_OF_M)
    return ec_tensor_error(EC_ERR_UNSUPPORTED, i, td->name,
                           "N_OF_M sparse encoding is not read by this runtime");
  if (raw->format != EC_FB_SPARSEFORMAT_CSR && raw->format != EC_FB_SPARSEFORMAT_BLOCK_CSR)
    return T_ERR(i, td->name,
                 "sparse format %u is not CSR or BLOCK_CSR (a dense tensor carries no descriptor)",
                 raw->format);
  if (td->storage != EC_FB_STORAGEKIND_CONSTANT)
    return T_ERR(i, td->name, "only constants can be stored sparse");
  if (td->rank < 2 || td->numel == 0)
    return T_ERR(i, td->name, "a sparse tensor needs rank >= 2 and elements");
  const int64_t rows = td->shape[0], cols = td->numel / rows;
  int32_t br, bc;
  ec_status st = check_block(raw, i, td, rows, cols, &br, &bc);
  if (st != EC_OK) return st;
  if (raw->index_bytes != 2 && raw->index_bytes != 4)
    return T_ERR(i, td->name, "index width %u bytes (2 or 4)", raw->index_bytes);
  const int64_t brows = rows / br, bcols = cols / bc;
  if (raw->indptr_size != (uint64_t)(brows + 1) * 4)
    return T_ERR(i, td->name, "indptr segment of %llu bytes, %lld block rows need %lld",
                 (unsigned long long)raw->indptr_size, (long long)brows,
                 (long long)((brows + 1) * 4));
  if ((uintptr_t)raw->indptr % 4 != 0 || (uintptr_t)raw->indices % raw->index_bytes != 0)
    return T_ERR(i, td->name, "indptr or indices misaligned");
  /* indptr: from 0, non-decreasing, at most bcols per row */
  const int32_t *indptr = (const int32_t *)(const void *)raw->indptr;
  if (indptr[0] != 0)
    return T_ERR(i, td->name, "indptr starts at %d, not 0", indptr[0]);
  for (int64_t r = 0; r < brows; r++) {
    const int64_t count = (int64_t)indptr[r + 1] - indptr[r];
    if (count < 0 || count > bcols)
      return T_ERR(i, td->name, "indptr not monotone or row %lld holds %lld of %lld columns",
                   (long long)r, (long long)count, (long long)bcols);
  }
  const int64_t nnz = indptr[brows];
  if (raw->indices_size != (uint64_t)nnz * raw->index_bytes)
    return T_ERR(i, td->name, "indices segment of %llu bytes, %lld stored values need %lld",
                 (unsigned long long)raw->indices_size, (long long)nnz,
                 (long long)(nnz * raw->index_bytes));
  /* nnz <= brows * bcols, so the values fit in numel elements */
  const uint64_t values = (uint64_t)nnz * (uint64_t)br * (uint64_t)bc *
                          ec_dtype_size(td->dtype);
  if (td->size != values)
    return T_ERR(i, td->name, "%zu bytes of values, %lld stored %s blocks of %dx%d need %llu",
                 td->size, (long long)nnz, ec_dtype_name(td->dtype), br, bc,
                 (unsigned long long)values);
  for (int64_t r = 0; r < brows; r++) {
    int64_t prev = -1;
    for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) {
      const int64_t col = load_index(raw->indices, raw->index_bytes, j);
      if (col <= prev || col >= bcols)
        return T_ERR(i, td->name,
                     "row %lld: column index %lld out of range [0, %lld) or not increasing",
                     (long long)r, (long long)col, (long long)bcols);
      prev = col;
    }
  }
  ec_sparse *s = &td->sparse;
  s->format = raw->format;
  s->index_bytes = raw->index_bytes;
  s->block_r = br;
  s->block_c = bc;
  s->rows = rows;
  s->cols = cols;
  s->nnz = nnz;
  s->indptr = indptr;
  s->indices = raw->indices;
  return EC_OK;
}

ec_status ec_sparse_check_operands(const ec_node *n) {
  const bool reader = n->opcode == EC_FB_OPCODE_SPARSE_GEMM ||
                      n->opcode == EC_FB_OPCODE_SPARSE_CONV;
  const bool ir = n->opcode == EC_FB_OPCODE_INVERTED_RESIDUAL;
  for (int32_t k = 0; k < n->n_in; k++) {
    const ec_tensor_desc *t = n->tin[k];
    if (t && t->sparse.format != EC_FB_SPARSEFORMAT_DENSE && !(reader && k == 1) &&
        !(ir && (k == 1 || k == 5)))
      return ec_set_error(EC_ERR_FORMAT,
                          "instruction %u ('%s'): input %d '%s' is stored sparse; only the "
                          "weight (input 1) of SPARSE_GEMM and SPARSE_CONV and the 1x1 "
                          "weights (inputs 1, 5) of INVERTED_RESIDUAL may be",
                          n->index, n->name, (int)k, t->name);
  }
  return EC_OK;
}
