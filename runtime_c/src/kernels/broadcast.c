#include "kernels/broadcast.h"

#include <string.h>

ec_status ec_bcast_init(const ec_node *node, const ec_tensor_desc *out,
                        const ec_tensor_desc *const *operands, int32_t n,
                        ec_bcast *b) {
  int32_t r = out->rank;
  int64_t full[EC_BCAST_MAX_OPERANDS][EC_MAX_RANK];
  memset(b, 0, sizeof *b);
  b->n_operands = n;
  for (int32_t k = 0; k < n; k++) {
    const ec_tensor_desc *t = operands[k];
    if (t->rank > r)
      return ec_node_error(node, EC_ERR_SHAPE, "operand %d has rank %d > output rank %d",
                           k, t->rank, r);
    int64_t stride = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
      int32_t td = d - (r - t->rank);
      int64_t dim = td >= 0 ? t->shape[td] : 1;
      if (dim != out->shape[d] && dim != 1)
        return ec_node_error(node, EC_ERR_SHAPE,
                             "operand %d dimension %d is %lld, output has %lld", k, td,
                             (long long)dim, (long long)out->shape[d]);
      full[k][d] = (dim == 1 && out->shape[d] != 1) ? 0 : stride;
      stride *= dim;
    }
  }
  /* Merge dimension d into d+1 when every operand is contiguous across them. */
  int32_t m = 0;
  for (int32_t d = 0; d < r; d++) {
    if (out->shape[d] == 1) continue; /* size-1 axes carry no information */
    bool merge = m > 0;
    for (int32_t k = 0; merge && k < n; k++)
      merge = b->stride[k][m - 1] == full[k][d] * out->shape[d];
    if (merge) {
      b->shape[m - 1] *= out->shape[d];
      for (int32_t k = 0; k < n; k++) b->stride[k][m - 1] = full[k][d];
    } else {
      b->shape[m] = out->shape[d];
      for (int32_t k = 0; k < n; k++) b->stride[k][m] = full[k][d];
      m++;
    }
  }
  if (m == 0) { /* scalar output */
    b->shape[0] = 1;
    m = 1;
  }
  b->rank = m;
  b->numel = out->numel;
  return EC_OK;
}

ec_status ec_bcast_prepare(ec_node *n, int32_t count) {
  const ec_tensor_desc *out = n->tout[0];
  if (out->numel != 0) {
    ec_status st = ec_alloc_params(n, sizeof(ec_bcast));
    if (st == EC_OK) st = ec_bcast_init(n, out, n->tin, count, n->params);
    return st;
  }
  for (int32_t k = 0; k < count; k++) {
    const ec_tensor_desc *t = n->tin[k];
    if (t->rank > out->rank)
      return ec_node_error(n, EC_ERR_SHAPE, "operand %d has rank %d > output rank %d", k,
                           t->rank, out->rank);
    for (int32_t d = 0; d < t->rank; d++) {
      const int64_t dim = t->shape[d], o = out->shape[d + out->rank - t->rank];
      if (dim != o && dim != 1)
        return ec_node_error(n, EC_ERR_SHAPE, "operand %d dimension %d is %lld, output has %lld",
                             k, d, (long long)dim, (long long)o);
    }
  }
  return EC_OK;
}

void ec_bcast_seek(const ec_bcast *b, int64_t begin, ec_bcast_iter *it) {
  memset(it, 0, sizeof *it);
  for (int32_t d = b->rank - 1; d >= 0; d--) {
    it->idx[d] = begin % b->shape[d];
    begin /= b->shape[d];
    for (int32_t k = 0; k < b->n_operands; k++)
      it->off[k] += it->idx[d] * b->stride[k][d];
  }
}

void ec_bcast_advance(const ec_bcast *b, int64_t count, ec_bcast_iter *it) {
  int32_t d = b->rank - 1;
  it->idx[d] += count;
  for (int32_t k = 0; k < b->n_operands; k++) it->off[k] += count * b->stride[k][d];
  while (d > 0 && it->idx[d] == b->shape[d]) {
    for (int32_t k = 0; k < b->n_operands; k++)
      it->off[k] -= b->shape[d] * b->stride[k][d];
    it->idx[d] = 0;
    d--;
    it->idx[d]++;
    for (int32_t k = 0; k < b->n_operands; k++) it->off[k] += b->stride[k][d];
  }
}

void ec_bcast_rows(const ec_bcast *b, int64_t begin, int64_t end, ec_bcast_row_fn row,
                   const void *ctx) {
  const int32_t r = b->rank - 1;
  ec_bcast_iter it;
  ec_bcast_seek(b, begin, &it);
  while (begin < end) {
    int64_t len = b->shape[r] - it.idx[r];
    if (len > end - begin) len = end - begin;
    row(ctx, it.off, begin, len);
    begin += len;
    if (begin < end) ec_bcast_advance(b, len, &it);
  }
}
