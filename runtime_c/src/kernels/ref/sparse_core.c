/* Portable sparse x dense products and the family dispatch; see
 * sparse_core.h. */
#include "kernels/ref/sparse_core.h"

#include <string.h>

bool ec_sp_variant_isa(uint16_t variant, ec_sp_isa *out) {
  ec_isa isa;
  if (!ec_variant_isa(variant, 0, &isa)) return false;
  *out = ec_sp_isa_of(isa);
  return true;
}

ec_status ec_sp_check_weight(const ec_node *n, const ec_tensor_desc *w, int32_t max_r) {
  if (w->storage != EC_FB_STORAGEKIND_CONSTANT || w->sparse.format == EC_FB_SPARSEFORMAT_DENSE)
    return ec_node_error(n, EC_ERR_FORMAT, "weight '%s' carries no sparse encoding", w->name);
  if (w->sparse.block_c != 1 || w->sparse.block_r > max_r)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "blocks of %dx%d (one column, at most %d "
                         "rows)", w->sparse.block_r, w->sparse.block_c, max_r);
  return EC_OK;
}

void ec_sp_epilogue_row(float *y, int64_t np, int64_t i, const ec_sp_epilogue *e) {
  const float bias = e->bias ? e->beta * e->bias[i] : 0.0f;
  if (e->alpha != 1.0f)
    for (int64_t p = 0; p < np; p++) y[p] *= e->alpha;
  if (e->res) {
    const float *res = e->res + i * e->ld_res;
    for (int64_t p = 0; p < np; p++) y[p] = (y[p] + bias) + res[p];
    ec_act_apply(y, np, 0.0f, &e->act);
  } else {
    ec_act_apply(y, np, bias, &e->act);
  }
}

static void ref_rows(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                     int64_t np, float *y, int64_t ldy, const ec_sp_epilogue *e) {
  const ec_sparse *w = sw->w;
  const int64_t br = w->block_r;
  for (int64_t r = r0; r < r1; r++) {
    float *yr = y + (r - r0) * ldy;
    memset(yr, 0, (size_t)np * sizeof(float));
    const int64_t brow = r / br, rr = r % br;
    for (int64_t j = w->indptr[brow]; j < w->indptr[brow + 1]; j++) {
      const float wv = sw->values[j * br + rr], *xr = x + sw->offs[j];
      for (int64_t p = 0; p < np; p++) yr[p] += wv * xr[p];
    }
    ec_sp_epilogue_row(yr, np, r - r0, e);
  }
}

#define GROUP_BYTES (32 << 10) /* input per column group: within L1 */

void ec_sp_plan_groups(int64_t cols, int64_t bytes_per_col, int64_t *groups, int64_t *span) {
  int64_t per = bytes_per_col > 0 ? GROUP_BYTES / bytes_per_col : cols;
  if (per < 1) per = 1;
  *groups = cols > per ? (cols + per - 1) / per : 1;
  *span = cols > 0 ? (cols + *groups - 1) / *groups : 1;
}

/* gptr ((brows) x (groups + 1) entries) for column ranges of span. */
static void group_pointers(const ec_sparse *w, int64_t groups, int64_t span, int32_t *gptr) {
  const int64_t brows = w->rows / w->block_r;
  for (int64_t b = 0; b < brows; b++) {
    int32_t *g = gptr + b * (groups + 1);
    int64_t j = w->indptr[b];
    for (int64_t k = 0; k < groups; k++) {
      g[k] = (int32_t)j;
      while (j < w->indptr[b + 1] && ec_sp_index(w, j) < (k + 1) * span) j++;
    }
    g[groups] = w->indptr[b + 1];
  }
}

bool ec_sp_scaled_offsets(const ec_sparse *w, int64_t scale, int32_t *offs) {
  for (int64_t j = 0; j < w->nnz; j++) {
    const int64_t idx = ec_sp_index(w, j);
    if (idx != 0 && scale > INT32_MAX / idx) return false;
    offs[j] = (int32_t)(idx * scale);
  }
  return true;
}

size_t ec_sp_weight_bytes(const ec_sparse *w, int64_t groups) {
  const size_t g = groups > 1 ? (size_t)(w->rows / w->block_r * (groups + 1)) : 0;
  return ec_align64((size_t)w->nnz * sizeof(int32_t)) + ec_align64(g * sizeof(int32_t));
}

ec_status ec_sp_weight_init(ec_node *n, ec_sp_weight *sw, const ec_sparse *w, int64_t scale,
                            int64_t groups, int64_t span, void *mem) {
  int32_t *offs = (int32_t *)mem, *gptr = NULL;
  if (groups > 1) {
    gptr = offs + ec_align64((size_t)w->nnz * sizeof(int32_t)) / sizeof(int32_t);
    group_pointers(w, groups, span, gptr);
  }
  *sw = (ec_sp_weight){w, NULL, offs, gptr, groups};
  if (scale && !ec_sp_scaled_offsets(w, scale, offs))
    return ec_node_error(n, EC_ERR_SHAPE, "input offsets exceed 32 bits");
  return EC_OK;
}

static void ref_gather(const ec_sparse *w, const float *values, int64_t r0, int64_t r1,
                       const float *x, float *y, const ec_sp_epilogue *e) {
  const int64_t br = w->block_r, bc = w->block_c;
  for (int64_t r = r0; r < r1; r++) {
    const int64_t brow = r / br, rr = r % br;
    float acc = 0.0f;
    for (int64_t j = w->indptr[brow]; j < w->indptr[brow + 1]; j++) {
      const float *xs = x + ec_sp_index(w, j) * bc, *v = values + (j * br + rr) * bc;
      for (int64_t c = 0; c < bc; c++) acc += v[c] * xs[c];
    }
    y[r - r0] = acc;
  }
  for (int64_t r = r0; r < r1; r++) {
    const float bias = e->bias ? e->beta * e->bias[r - r0] : 0.0f;
    y[r - r0] = e->alpha * y[r - r0] + bias;
  }
  ec_act_apply(y, r1 - r0, 0.0f, &e->act);
}

void ec_sp_rows(ec_sp_isa isa, const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                int64_t np, float *y, int64_t ldy, const ec_sp_epilogue *e) {
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (isa == EC_SP_AVX512 && ec_x86_sp_rows_avx512(sw, r0, r1, x, np, y, ldy, e)) return;
  if (isa != EC_SP_REF && ec_x86_sp_rows_avx2(sw, r0, r1, x, np, y, ldy, e)) return;
#endif
  (void)isa;
  ref_rows(sw, r0, r1, x, np, y, ldy, e);
}

void ec_sp_gather(ec_sp_isa isa, const ec_sparse *w, const float *values, int64_t r0,
                  int64_t r1, const float *x, float *y, const ec_sp_epilogue *e) {
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (isa != EC_SP_REF) {
    ec_x86_sp_gather_avx2(w, values, r0, r1, x, y, e);
    return;
  }
#endif
  (void)isa;
  ref_gather(w, values, r0, r1, x, y, e);
}
