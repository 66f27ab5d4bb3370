/* Sparse x dense row products (kernels/ref/sparse_core.h, ec_sp_rows),
 * written once over a few vector macros and included by
 * sparse_spmm_avx2.c and sparse_spmm_avx512.c, which define:
 *   VEC, VLEN, MASK_T             vector of VLEN floats, a lane mask
 *   V_ZERO(), V_SET1(f), V_BCAST(p)
 *   V_LOAD(p), V_LOADM(p, m)      unaligned; masked lanes read as 0
 *   V_STORE(p, v), V_STOREM(p, m, v)
 *   V_FMA(a, b, c) = a * b + c, V_ADD, V_MUL, V_MAX, V_MIN
 *   V_MASK(n)                     the first n lanes (1 <= n <= VLEN)
 *   CSR_VECS, B4_VECS             vectors per pass of a CSR row / 4x1 block row
 *   SP_ROWS                       the exported function's name
 *   SH_VECS, SP_SHIFT             the shift form of convs (ec_sp_shift, at the
 *                                 end): vectors per pass, the function's name
 *   SH_REGS                       (AVX-512) its register form
 *
 * CSR: for a pixel chunk of up to CSR_VECS vectors (chunks balanced over
 * the width) and each output row, the row's stored weights are broadcast and
 * multiply the selected input rows (at x + offs[j]) into the accumulators
 * (one load + one FMA per vector and weight); with at most CSR_VECS / 2
 * vectors, two accumulator sets take alternate weights (enough FMA chains in
 * flight). The epilogue (scale, bias, residual, activation) runs on the
 * accumulators before the one store. With several column groups (inputs
 * kept within L1), groups run one after the other over all rows, partial
 * sums waiting in Y. 4x1 blocks: four output rows share each selected input
 * row, so a load feeds four FMAs. The last vector of a chunk is masked, so
 * any width works without reading past a row. */

#define SP_INLINE static inline __attribute__((always_inline))

/* act(alpha * acc + bias + res) for one vector; kinds without a vector form
 * here are left for the portable pass after the store (see needs_scalar). */
SP_INLINE VEC sp_finish(VEC acc, const ec_sp_epilogue *e, VEC bias, const float *res,
                        MASK_T m, bool masked) {
  VEC v = V_FMA(acc, V_SET1(e->alpha), bias);
  if (res) v = V_ADD(v, masked ? V_LOADM(res, m) : V_LOAD(res));
  const VEC zero = V_ZERO();
  switch (e->act.kind) {
    case EC_FB_ACTIVATION_RELU: return V_MAX(v, zero);
    case EC_FB_ACTIVATION_CLIP:
      return V_MIN(V_MAX(v, V_SET1(e->act.alpha)), V_SET1(e->act.beta));
    case EC_FB_ACTIVATION_LEAKY_RELU:
      return V_FMA(V_MIN(v, zero), V_SET1(e->act.alpha), V_MAX(v, zero));
    case EC_FB_ACTIVATION_HARD_SIGMOID:
      return V_MIN(V_MAX(V_FMA(v, V_SET1(e->act.alpha), V_SET1(e->act.beta)), zero),
                   V_SET1(1.0f));
    case EC_FB_ACTIVATION_HARD_SWISH:
      return V_MUL(v, V_MIN(V_MAX(V_FMA(v, V_SET1(1.0f / 6.0f), V_SET1(0.5f)), zero),
                            V_SET1(1.0f)));
    default: return v;
  }
}

static bool needs_scalar(uint8_t kind) {
  return kind == EC_FB_ACTIVATION_SIGMOID || kind == EC_FB_ACTIVATION_TANH ||
         kind == EC_FB_ACTIVATION_GELU;
}

/* Stores accumulator v of a row of nv (the last one masked). */
SP_INLINE void sp_store(VEC acc, int v, int nv, MASK_T last, float *yr, VEC bias,
                        const float *res, const ec_sp_epilogue *e) {
  const bool masked = v == nv - 1;
  const VEC out = sp_finish(acc, e, bias, res ? res + v * VLEN : NULL, last, masked);
  if (masked)
    V_STOREM(yr + v * VLEN, last, out);
  else
    V_STORE(yr + v * VLEN, out);
}

SP_INLINE VEC sp_bias(const ec_sp_epilogue *e, int64_t i) {
  return V_SET1(e->bias ? e->beta * e->bias[i] : 0.0f);
}

SP_INLINE const float *sp_res(const ec_sp_epilogue *e, int64_t i, int64_t p0) {
  return e->res ? e->res + i * e->ld_res + p0 : NULL;
}

/* The stored blocks of block row b in column group g. */
SP_INLINE void sp_range(const ec_sp_weight *sw, int64_t b, int64_t g, int64_t *jb,
                        int64_t *je) {
  if (sw->gptr) {
    const int32_t *gp = sw->gptr + b * (sw->groups + 1) + g;
    *jb = gp[0];
    *je = gp[1];
  } else {
    *jb = sw->w->indptr[b];
    *je = sw->w->indptr[b + 1];
  }
}

/* The partial sums of a row so far (zero before the first group). */
SP_INLINE VEC sp_partial(const float *yr, int v, int nv, MASK_T last, bool first) {
  if (first) return V_ZERO();
  return v == nv - 1 ? V_LOADM(yr + v * VLEN, last) : V_LOAD(yr + v * VLEN);
}

SP_INLINE void sp_store_raw(VEC acc, int v, int nv, MASK_T last, float *yr) {
  if (v == nv - 1)
    V_STOREM(yr + v * VLEN, last, acc);
  else
    V_STORE(yr + v * VLEN, acc);
}

/* CSR rows of nv vectors, one column group after the other (partial sums
 * wait in Y). With few vectors, two accumulator sets take alternate weights
 * so that enough FMA chains are in flight. */
SP_INLINE void csr_chunk(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                         float *y, int64_t ldy, int64_t p0, int64_t n,
                         const ec_sp_epilogue *e, const int nv, MASK_T last) {
  const float *values = sw->values;
  const int32_t *offs = sw->offs;
  const bool dual = nv <= CSR_VECS / 2;
  for (int64_t g = 0; g < sw->groups; g++) {
    const bool first = g == 0, final = g == sw->groups - 1;
    for (int64_t r = r0; r < r1; r++) {
      float *yr = y + (r - r0) * ldy;
      int64_t j, je;
      sp_range(sw, r, g, &j, &je);
      VEC acc[CSR_VECS], acc2[CSR_VECS];
#pragma GCC unroll 8
      for (int v = 0; v < nv; v++) {
        acc[v] = sp_partial(yr, v, nv, last, first);
        acc2[v] = V_ZERO();
      }
      if (dual) {
        for (; j + 2 <= je; j += 2) {
          const float *xa = x + offs[j], *xb = x + offs[j + 1];
          const VEC wa = V_BCAST(values + j), wb = V_BCAST(values + j + 1);
#pragma GCC unroll 8
          for (int v = 0; v < nv - 1; v++) {
            acc[v] = V_FMA(wa, V_LOAD(xa + v * VLEN), acc[v]);
            acc2[v] = V_FMA(wb, V_LOAD(xb + v * VLEN), acc2[v]);
          }
          acc[nv - 1] = V_FMA(wa, V_LOADM(xa + (nv - 1) * VLEN, last), acc[nv - 1]);
          acc2[nv - 1] = V_FMA(wb, V_LOADM(xb + (nv - 1) * VLEN, last), acc2[nv - 1]);
        }
      }
      for (; j < je; j++) {
        const float *xr = x + offs[j];
        const VEC wv = V_BCAST(values + j);
#pragma GCC unroll 8
        for (int v = 0; v < nv - 1; v++) acc[v] = V_FMA(wv, V_LOAD(xr + v * VLEN), acc[v]);
        acc[nv - 1] = V_FMA(wv, V_LOADM(xr + (nv - 1) * VLEN, last), acc[nv - 1]);
      }
      if (!final) {
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++)
          sp_store_raw(dual ? V_ADD(acc[v], acc2[v]) : acc[v], v, nv, last, yr);
        continue;
      }
      const VEC bias = sp_bias(e, r - r0);
      const float *res = sp_res(e, r - r0, p0);
#pragma GCC unroll 8
      for (int v = 0; v < nv; v++)
        sp_store(dual ? V_ADD(acc[v], acc2[v]) : acc[v], v, nv, last, yr, bias, res, e);
      if (needs_scalar(e->act.kind)) ec_act_apply(yr, n, 0.0f, &e->act);
    }
  }
}

/* 4x1 blocks: four output rows share each selected input row. */
SP_INLINE void b4_chunk(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x,
                        float *y, int64_t ldy, int64_t p0, int64_t n,
                        const ec_sp_epilogue *e, const int nv, MASK_T last) {
  const float *values = sw->values;
  const int32_t *offs = sw->offs;
  for (int64_t g = 0; g < sw->groups; g++) {
    const bool first = g == 0, final = g == sw->groups - 1;
    for (int64_t r = r0; r < r1; r += 4) {
      VEC acc[4][B4_VECS];
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++)
          acc[q][v] = sp_partial(y + (r - r0 + q) * ldy, v, nv, last, first);
      int64_t j, je;
      sp_range(sw, r / 4, g, &j, &je);
      for (; j < je; j++) {
        const float *xr = x + offs[j];
        VEC xv[B4_VECS];
#pragma GCC unroll 4
        for (int v = 0; v < nv - 1; v++) xv[v] = V_LOAD(xr + v * VLEN);
        xv[nv - 1] = V_LOADM(xr + (nv - 1) * VLEN, last);
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
          const VEC wv = V_BCAST(values + 4 * j + q);
#pragma GCC unroll 4
          for (int v = 0; v < nv; v++) acc[q][v] = V_FMA(wv, xv[v], acc[q][v]);
        }
      }
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++) {
        float *yr = y + (r - r0 + q) * ldy;
        if (!final) {
#pragma GCC unroll 4
          for (int v = 0; v < nv; v++) sp_store_raw(acc[q][v], v, nv, last, yr);
          continue;
        }
        const VEC bias = sp_bias(e, r - r0 + q);
        const float *res = sp_res(e, r - r0 + q, p0);
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) sp_store(acc[q][v], v, nv, last, yr, bias, res, e);
        if (needs_scalar(e->act.kind)) ec_act_apply(yr, n, 0.0f, &e->act);
      }
    }
  }
}

#define SP_CASE(FN, N)                                                            \
  case N:                                                                         \
    FN(sw, r0, r1, x + p0, y + p0, ldy, p0, n, e, N, last);                       \
    break

bool SP_ROWS(const ec_sp_weight *sw, int64_t r0, int64_t r1, const float *x, int64_t np,
             float *y, int64_t ldy, const ec_sp_epilogue *e) {
  const ec_sparse *w = sw->w;
  const bool csr = w->block_r == 1 && w->block_c == 1;
  if (!csr && !(w->block_r == 4 && w->block_c == 1)) return false;
  /* chunks of at most max_vecs vectors, balanced (a thin last chunk would
   * cost as much per weight as a full one) */
  const int64_t max_width = (csr ? CSR_VECS : B4_VECS) * VLEN;
  const int64_t chunks = (np + max_width - 1) / max_width;
  const int64_t width = chunks ? (np + chunks - 1) / chunks : 0;
  for (int64_t p0 = 0; p0 < np; p0 += width) {
    const int64_t n = np - p0 < width ? np - p0 : width;
    const int nv = (int)((n + VLEN - 1) / VLEN);
    const MASK_T last = V_MASK((int)(n - (int64_t)(nv - 1) * VLEN));
    if (csr) {
      switch (nv) {
        SP_CASE(csr_chunk, 1); SP_CASE(csr_chunk, 2);
        SP_CASE(csr_chunk, 3); SP_CASE(csr_chunk, 4);
#if CSR_VECS > 4
        SP_CASE(csr_chunk, 5); SP_CASE(csr_chunk, 6);
        SP_CASE(csr_chunk, 7); SP_CASE(csr_chunk, 8);
#endif
        default: break;
      }
    } else {
      switch (nv) {
        SP_CASE(b4_chunk, 1); SP_CASE(b4_chunk, 2);
#if B4_VECS > 2
        SP_CASE(b4_chunk, 3); SP_CASE(b4_chunk, 4);
#endif
        default: break;
      }
    }
  }
  return true;
}

/* ---- the shift form of stride-1 convs (sparse_core.h, ec_sp_shift) ------- */

/* One class segment over nv vectors of the tile: S = sum of w_j * x[offs_j];
 * the last vector masked (lanes past the tile read as zero). */
SP_INLINE void shift_chunk(const float *values, const int32_t *offs, int64_t j, int64_t je,
                           const float *x, float *s, const int nv, MASK_T last) {
  VEC acc[SH_VECS], acc2[SH_VECS];
  const bool dual = nv <= CSR_VECS / 2;
#pragma GCC unroll 16
  for (int v = 0; v < nv; v++) acc[v] = acc2[v] = V_ZERO();
  if (dual) {
    for (; j + 2 <= je; j += 2) {
      const float *xa = x + offs[j], *xb = x + offs[j + 1];
      const VEC wa = V_BCAST(values + j), wb = V_BCAST(values + j + 1);
#pragma GCC unroll 16
      for (int v = 0; v < nv - 1; v++) {
        acc[v] = V_FMA(wa, V_LOAD(xa + v * VLEN), acc[v]);
        acc2[v] = V_FMA(wb, V_LOAD(xb + v * VLEN), acc2[v]);
      }
      acc[nv - 1] = V_FMA(wa, V_LOADM(xa + (nv - 1) * VLEN, last), acc[nv - 1]);
      acc2[nv - 1] = V_FMA(wb, V_LOADM(xb + (nv - 1) * VLEN, last), acc2[nv - 1]);
    }
  }
  for (; j < je; j++) {
    const float *xr = x + offs[j];
    const VEC wv = V_BCAST(values + j);
#pragma GCC unroll 16
    for (int v = 0; v < nv - 1; v++) acc[v] = V_FMA(wv, V_LOAD(xr + v * VLEN), acc[v]);
    acc[nv - 1] = V_FMA(wv, V_LOADM(xr + (nv - 1) * VLEN, last), acc[nv - 1]);
  }
#pragma GCC unroll 16
  for (int v = 0; v < nv; v++) V_STORE(s + v * VLEN, dual ? V_ADD(acc[v], acc2[v]) : acc[v]);
}

#define SH_CASE(N)                                                                \
  case N:                                                                         \
    shift_chunk(s->values, s->offs, jb, je, x + v0 * VLEN, sk + v0 * VLEN, N, mask); \
    break

/* Output channel m: the class sums of its stored weights of column group g
 * into sb (one run of pitch floats per class); the classes with weights
 * listed in used. */
SP_INLINE int shift_sums(const ec_sp_shift *s, int64_t m, int64_t g, const float *x,
                         int64_t tq, float *sb, int32_t *used) {
  const int64_t nvt = (tq + VLEN - 1) / VLEN;
  const int64_t nch = (nvt + SH_VECS - 1) / SH_VECS, cv = (nvt + nch - 1) / nch;
  const MASK_T full = V_MASK(VLEN), tail = V_MASK((int)(tq - (nvt - 1) * VLEN));
  const int32_t *seg = s->segs + (g * s->rows + m) * s->classes;
  int nused = 0;
  for (int64_t k = 0; k < s->classes; k++) {
    const int64_t jb = seg[k], je = seg[k + 1];
    if (jb == je) continue;
    used[nused++] = (int32_t)k;
    float *sk = sb + k * s->pitch + s->lead;
    for (int64_t v0 = 0; v0 < nvt; v0 += cv) {
      const int nv = (int)(nvt - v0 < cv ? nvt - v0 : cv);
      const MASK_T mask = v0 + nv == nvt ? tail : full;
      switch (nv) {
        SH_CASE(1); SH_CASE(2); SH_CASE(3); SH_CASE(4);
        SH_CASE(5); SH_CASE(6); SH_CASE(7); SH_CASE(8);
#if SH_VECS > 8
        SH_CASE(9); SH_CASE(10); SH_CASE(11); SH_CASE(12);
        SH_CASE(13); SH_CASE(14); SH_CASE(15); SH_CASE(16);
#endif
        default: break;
      }
    }
  }
  return nused;
}

/* Output channel m (row i = m - m0 of the call): its class sums in sb
 * shifted and added to the partial sums of earlier groups (pm); stored back
 * to pm, or, after the last group, through the epilogue into Y. */
SP_INLINE void shift_combine(const ec_sp_shift *s, int64_t i, int64_t rows, const float *sb,
                             const int32_t *used, int nused, float *pm, bool first,
                             bool final, float *y, int64_t ldy, const ec_sp_epilogue *e) {
  const int64_t tq = rows * s->wq, nvt = (tq + VLEN - 1) / VLEN, ow = s->ow;
  const MASK_T full = V_MASK(VLEN);
  const float *src[EC_SP_SHIFT_MAX_CLASSES];
  for (int u = 0; u < nused; u++) src[u] = sb + used[u] * s->pitch + s->lead + s->shift[used[u]];
  if (!final) {
    for (int64_t v = 0; v < nvt; v++) {
      VEC acc = first ? V_ZERO() : V_LOAD(pm + v * VLEN);
      for (int u = 0; u < nused; u++) acc = V_ADD(acc, V_LOAD(src[u] + v * VLEN));
      V_STORE(pm + v * VLEN, acc);
    }
    return;
  }
  const VEC bias = sp_bias(e, i);
  float *ym = y + i * ldy;
  const float *rm = e->res ? e->res + i * e->ld_res : NULL;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c0 = 0; c0 < ow; c0 += VLEN) {
      const bool masked = ow - c0 < VLEN;
      const MASK_T cm = masked ? V_MASK((int)(ow - c0)) : full;
      const int64_t q = r * s->wq + c0;
      VEC acc = first ? V_ZERO() : V_LOADM(pm + q, cm);
      for (int u = 0; u < nused; u++) acc = V_ADD(acc, V_LOADM(src[u] + q, cm));
      const VEC out = sp_finish(acc, e, bias, rm ? rm + r * ow + c0 : NULL, cm, masked);
      if (masked)
        V_STOREM(ym + r * ow + c0, cm, out);
      else
        V_STORE(ym + r * ow + c0, out);
    }
  }
  if (needs_scalar(e->act.kind)) ec_act_apply(ym, rows * ow, 0.0f, &e->act);
}

#if defined(SH_REGS)
/* The register form (AVX-512, at most 3 classes, shifts under a vector, a
 * tile of at most REG_ACCS / classes vectors): each class's sums stay in
 * registers and are shifted by one two-source permute per vector (zeros past
 * the tile's ends: before its start lies the zero tail of the row above,
 * after its end only columns past the output width). With few vectors, two
 * accumulator sets take alternate weights. */
SP_INLINE void reg_sums(const ec_sp_shift *s, const int32_t *seg, const float *x, VEC *out,
                        const int nc, const int nv, MASK_T last, const __m512i *idx) {
  VEC acc[3][16], acc2[3][16];
  const bool dual = 2 * nc * nv <= 24;
#pragma GCC unroll 3
  for (int k = 0; k < nc; k++) {
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++) acc[k][v] = acc2[k][v] = V_ZERO();
    int64_t j = seg[k];
    const int64_t je = seg[k + 1];
    if (dual) {
      for (; j + 2 <= je; j += 2) {
        const float *xa = x + s->offs[j], *xb = x + s->offs[j + 1];
        const VEC wa = V_BCAST(s->values + j), wb = V_BCAST(s->values + j + 1);
#pragma GCC unroll 16
        for (int v = 0; v < nv - 1; v++) {
          acc[k][v] = V_FMA(wa, V_LOAD(xa + v * VLEN), acc[k][v]);
          acc2[k][v] = V_FMA(wb, V_LOAD(xb + v * VLEN), acc2[k][v]);
        }
        acc[k][nv - 1] = V_FMA(wa, V_LOADM(xa + (nv - 1) * VLEN, last), acc[k][nv - 1]);
        acc2[k][nv - 1] = V_FMA(wb, V_LOADM(xb + (nv - 1) * VLEN, last), acc2[k][nv - 1]);
      }
    }
    for (; j < je; j++) {
      const float *xr = x + s->offs[j];
      const VEC wv = V_BCAST(s->values + j);
#pragma GCC unroll 16
      for (int v = 0; v < nv - 1; v++) acc[k][v] = V_FMA(wv, V_LOAD(xr + v * VLEN), acc[k][v]);
      acc[k][nv - 1] = V_FMA(wv, V_LOADM(xr + (nv - 1) * VLEN, last), acc[k][nv - 1]);
    }
    if (dual) {
#pragma GCC unroll 16
      for (int v = 0; v < nv; v++) acc[k][v] = V_ADD(acc[k][v], acc2[k][v]);
    }
  }
#pragma GCC unroll 16
  for (int v = 0; v < nv; v++) out[v] = V_ZERO();
#pragma GCC unroll 3
  for (int k = 0; k < nc; k++) {
    const int32_t sk = s->shift[k];
#pragma GCC unroll 16
    for (int v = 0; v < nv; v++) {
      VEC t = acc[k][v];
      if (sk > 0)
        t = _mm512_permutex2var_ps(acc[k][v], idx[k], v + 1 < nv ? acc[k][v + 1] : V_ZERO());
      else if (sk < 0)
        t = _mm512_permutex2var_ps(v > 0 ? acc[k][v - 1] : V_ZERO(), idx[k], acc[k][v]);
      out[v] = V_ADD(out[v], t);
    }
  }
}

#define REG_CASE(NC, NV)                                              \
  case (NC) * 32 + (NV):                                              \
    reg_sums(s, seg, x, out, NC, NV, last, idx);                      \
    break

static void shift_regs(const ec_sp_shift *s, int64_t m0, int64_t m1, const float *x,
                       int64_t rows, float *y, int64_t ldy, float *part,
                       const ec_sp_epilogue *e) {
  const int64_t tq = rows * s->wq, nvt = (tq + VLEN - 1) / VLEN, tqp = nvt * VLEN;
  const MASK_T last = V_MASK((int)(tq - (nvt - 1) * VLEN));
  const int nc = (int)s->classes;
  __m512i idx[3];
  for (int k = 0; k < nc; k++) /* lane i takes element i + shift of the pair */
    idx[k] = _mm512_add_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(s->shift[k] + (s->shift[k] < 0 ? 16 : 0)));
  for (int64_t g = 0; g < s->groups; g++) {
    const bool first = g == 0, final = g == s->groups - 1;
    for (int64_t m = m0; m < m1; m++) {
      const int32_t *seg = s->segs + (g * s->rows + m) * s->classes;
      VEC out[16];
      switch (nc * 32 + (int)nvt) {
        REG_CASE(1, 1); REG_CASE(1, 2); REG_CASE(1, 3); REG_CASE(1, 4);
        REG_CASE(1, 5); REG_CASE(1, 6); REG_CASE(1, 7); REG_CASE(1, 8);
        REG_CASE(1, 9); REG_CASE(1, 10); REG_CASE(1, 11); REG_CASE(1, 12);
        REG_CASE(1, 13); REG_CASE(1, 14); REG_CASE(1, 15); REG_CASE(1, 16);
        REG_CASE(2, 1); REG_CASE(2, 2); REG_CASE(2, 3); REG_CASE(2, 4);
        REG_CASE(2, 5); REG_CASE(2, 6); REG_CASE(2, 7); REG_CASE(2, 8);
        REG_CASE(2, 9); REG_CASE(2, 10); REG_CASE(2, 11); REG_CASE(2, 12);
        REG_CASE(3, 1); REG_CASE(3, 2); REG_CASE(3, 3); REG_CASE(3, 4);
        REG_CASE(3, 5); REG_CASE(3, 6); REG_CASE(3, 7); REG_CASE(3, 8);
        default: return; /* not planned */
      }
      float *pm = part + (m - m0) * tqp;
      for (int64_t v = 0; v < nvt; v++)
        V_STORE(pm + v * VLEN, first ? out[v] : V_ADD(out[v], V_LOAD(pm + v * VLEN)));
      if (final) shift_combine(s, m - m0, rows, NULL, NULL, 0, pm, false, true, y, ldy, e);
    }
  }
}
#endif

/* Output channels [m0, m1) (at most 16) over a tile of rows x wq slab
 * positions at x: class sums into sbuf, combined (partial sums of earlier
 * column groups in part, (m1 - m0) x tqp) and, after the last group, the
 * epilogue on the way to Y (row i at y + i * ldy, tile row r at + r * ow).
 * sbuf holds two sets of class runs: channel m's sums are combined after
 * channel m + 1's are computed, so that the shifted loads do not wait on
 * the stores just made (a load spanning two stores is not forwarded). */
bool SP_SHIFT(const ec_sp_shift *s, int64_t m0, int64_t m1, const float *x, int64_t rows,
              float *y, int64_t ldy, float *part, float *sbuf, const ec_sp_epilogue *e) {
#if defined(SH_REGS)
  if (s->regs) {
    shift_regs(s, m0, m1, x, rows, y, ldy, part, e);
    return true;
  }
#endif
  const int64_t tq = rows * s->wq, tqp = (tq + VLEN - 1) / VLEN * VLEN;
  const int64_t set = s->classes * s->pitch;
  int32_t used[2][EC_SP_SHIFT_MAX_CLASSES];
  int nused[2] = {0, 0};
  for (int64_t g = 0; g < s->groups; g++) {
    const bool first = g == 0, final = g == s->groups - 1;
    for (int64_t m = m0; m <= m1; m++) {
      const int b = (int)(m & 1);
      if (m < m1) nused[b] = shift_sums(s, m, g, x, tq, sbuf + b * set, used[b]);
      if (m > m0)
        shift_combine(s, m - 1 - m0, rows, sbuf + (1 - b) * set, used[1 - b], nused[1 - b],
                      part + (m - 1 - m0) * tqp, first, final, y, ldy, e);
    }
  }
  return true;
}
