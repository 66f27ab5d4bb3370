/* Winograd F(r x r, 3x3) input and output transforms, r = 4 or 2 (conv.c's
 * Winograd path; layouts in kernels/ref/gemm_core.h), vectorized over
 * tiles: lane l of a vector is tile t0 + g + l, so a transformed value of
 * VLEN tiles is one contiguous store into the packed B sliver (16 tiles
 * wide). The input patches are read with masked gathers (out-of-image lanes
 * read as zero); outputs are written with masked scatters (bounds, bias,
 * residual and activation applied per lane; winograd_avx512.c stores its
 * F(4x4) outputs contiguously instead, wino_output_f4). Included by winograd_avx2.c
 * and winograd_avx512.c, which define VEC/VECI/MASK and the V_* macros;
 * needs act_impl.h's v_act. Indices are int32: conv.c takes this path only
 * when the input and output have fewer than 2^31 elements. */

#define PNR16 EC_PACK_NR

static inline void bt6v(const VEC *in, int is, VEC *out, int os) {
  const VEC i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is], i4 = in[4 * is],
            i5 = in[5 * is];
  const VEC four = V_SET1(4.0f), five = V_SET1(5.0f), two = V_SET1(2.0f);
  out[0] = V_ADD(V_FNMA(five, i2, V_MUL(four, i0)), i4);
  out[os] = V_ADD(V_FNMA(four, V_ADD(i1, i2), i3), i4);
  out[2 * os] = V_ADD(V_FMA(four, V_SUB(i1, i2), V_SUB(V_SET1(0.0f), i3)), i4);
  out[3 * os] = V_ADD(V_FMA(two, V_SUB(i3, i1), V_SUB(V_SET1(0.0f), i2)), i4);
  out[4 * os] = V_ADD(V_FMA(two, V_SUB(i1, i3), V_SUB(V_SET1(0.0f), i2)), i4);
  out[5 * os] = V_ADD(V_FNMA(five, i3, V_MUL(four, i1)), i5);
}

static inline void at6v(const VEC *in, int is, VEC *out, int os) {
  const VEC i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is], i4 = in[4 * is],
            i5 = in[5 * is];
  const VEC s12 = V_ADD(i1, i2), d12 = V_SUB(i1, i2), s34 = V_ADD(i3, i4), d34 = V_SUB(i3, i4);
  out[0] = V_ADD(V_ADD(i0, s12), s34);
  out[os] = V_FMA(V_SET1(2.0f), d34, d12);
  out[2 * os] = V_FMA(V_SET1(4.0f), s34, s12);
  out[3 * os] = V_ADD(V_FMA(V_SET1(8.0f), d34, d12), i5);
}

/* B^T and A^T of F(r x r, 3x3), a = r + 2. */
/* HALF (F(2x2) only): rows 1 and 2 of B^T halved, for a U made with rows 1
 * and 2 of G doubled (winograd_avx512.c's on-the-fly form; exact, powers of 2). */
static inline void btv(const int A, const bool HALF, const VEC *in, int is, VEC *out, int os) {
  if (A == 4) {
    const VEC i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is];
    out[0] = V_SUB(i0, i2);
    out[os] = HALF ? V_MUL(V_SET1(0.5f), V_ADD(i1, i2)) : V_ADD(i1, i2);
    out[2 * os] = HALF ? V_MUL(V_SET1(0.5f), V_SUB(i2, i1)) : V_SUB(i2, i1);
    out[3 * os] = V_SUB(i1, i3);
  } else {
    bt6v(in, is, out, os);
  }
}

static inline void atv(const int A, const VEC *in, int is, VEC *out, int os) {
  if (A == 4) {
    const VEC i0 = in[0], i1 = in[is], i2 = in[2 * is], i3 = in[3 * is];
    out[0] = V_ADD(V_ADD(i0, i1), i2);
    out[os] = V_SUB(V_SUB(i1, i2), i3);
  } else {
    at6v(in, is, out, os);
  }
}

/* Per-lane tile geometry of tiles [t, t + VLEN): image, first row/col. */
static inline void tile_lanes(const ec_wino *p, int64_t t, int64_t end, int32_t *img,
                              int32_t *y0, int32_t *x0, int32_t *ok) {
  const int64_t per_image = p->ty * p->tx;
  for (int l = 0; l < VLEN; l++) {
    const int64_t tt = t + l < end ? t + l : end - 1;
    img[l] = (int32_t)(tt / per_image);
    y0[l] = (int32_t)(tt % per_image / p->tx * p->r);
    x0[l] = (int32_t)(tt % p->tx * p->r);
    ok[l] = t + l < end ? -1 : 0;
  }
}

static inline __attribute__((always_inline)) void wino_input_t(const int A, const bool HALF,
                                                               const ec_wino *p,
                                                               int64_t t0, int64_t nt,
                                                               float *v) {
  const int64_t ld = p->c * p->tb;
  const int32_t h = (int32_t)p->h, w = (int32_t)p->w, hw = h * w;
  for (int64_t g = 0; g < nt; g += VLEN) {
    int32_t img[VLEN], y0[VLEN], x0[VLEN], ok[VLEN];
    tile_lanes(p, t0 + g, t0 + nt, img, y0, x0, ok);
    for (int l = 0; l < VLEN; l++) {
      y0[l] -= (int32_t)p->ph;
      x0[l] -= (int32_t)p->pw;
    }
    const VECI vy = VI_LOADU(y0), vx = VI_LOADU(x0);
    const MASK valid = M_FROM(VI_LOADU(ok));
    MASK rows[6], cols[6];
    for (int r = 0; r < A; r++) {
      rows[r] = M_AND(valid, M_INRANGE(VI_ADD(vy, VI_SET1(r)), 0, h));
      cols[r] = M_INRANGE(VI_ADD(vx, VI_SET1(r)), 0, w);
    }
    /* element (ch, r, q) of lane l: x[img * c * hw + ch * hw + (y0 + r) * w + x0 + q] */
    int32_t base[VLEN];
    for (int l = 0; l < VLEN; l++) base[l] = img[l] * (int32_t)p->c * hw + y0[l] * w + x0[l];
    VECI vbase = VI_LOADU(base);
    float *dst = v + g / PNR16 * p->c * PNR16 + g % PNR16;
    for (int64_t ch = 0; ch < p->c; ch++) {
      VEC tmp[36], out[36];
      for (int r = 0; r < A; r++) {
        VEC d[6];
        const VECI rb = VI_ADD(vbase, VI_SET1(r * w));
        for (int q = 0; q < A; q++)
          d[q] = V_GATHER(p->x, VI_ADD(rb, VI_SET1(q)), M_AND(rows[r], cols[q]));
        btv(A, HALF, d, 1, tmp + r * A, 1);
      }
      for (int q = 0; q < A; q++) btv(A, HALF, tmp + q, A, out + q, A);
      for (int xi = 0; xi < A * A; xi++) V_STOREU(dst + xi * ld + ch * PNR16, out[xi]);
      vbase = VI_ADD(vbase, VI_SET1(hw));
    }
  }
}

static inline __attribute__((always_inline)) void wino_output_t(const int A, const ec_wino *p,
                                                                int64_t t0, int64_t nt,
                                                                int64_t m0, int64_t mb,
                                                                const float *mbuf,
                                                                int64_t mstride) {
  const int R = A - 2;
  const int32_t oh = (int32_t)p->oh, ow = (int32_t)p->ow, plane = oh * ow;
  for (int64_t g = 0; g < nt; g += VLEN) {
    int32_t img[VLEN], y0[VLEN], x0[VLEN], ok[VLEN], base[VLEN];
    tile_lanes(p, t0 + g, t0 + nt, img, y0, x0, ok);
    const VECI vy = VI_LOADU(y0), vx = VI_LOADU(x0);
    const MASK valid = M_FROM(VI_LOADU(ok));
    MASK rows[4], cols[4];
    for (int r = 0; r < R; r++) {
      rows[r] = M_AND(valid, M_INRANGE(VI_ADD(vy, VI_SET1(r)), 0, oh));
      cols[r] = M_INRANGE(VI_ADD(vx, VI_SET1(r)), 0, ow);
    }
    for (int l = 0; l < VLEN; l++)
      base[l] = (img[l] * (int32_t)p->m + (int32_t)m0) * plane + y0[l] * ow + x0[l];
    VECI vbase = VI_LOADU(base);
    for (int64_t mi = 0; mi < mb; mi++) {
      VEC in[36], tmp[24], out[16];
      const float *src = mbuf + mi * p->tb + g;
#pragma GCC unroll 36
      for (int xi = 0; xi < A * A; xi++) in[xi] = V_LOADU(src + xi * mstride);
#pragma GCC unroll 6
      for (int r = 0; r < A; r++) atv(A, in + r * A, 1, tmp + r * R, 1);
#pragma GCC unroll 4
      for (int q = 0; q < R; q++) atv(A, tmp + q, R, out + q, R);
      const VEC bias = V_SET1(p->bias ? p->bias[m0 + mi] : 0.0f);
#pragma GCC unroll 4
      for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int q = 0; q < R; q++) {
          const MASK mk = M_AND(rows[r], cols[q]);
          const VECI idx = VI_ADD(vbase, VI_SET1(r * ow + q));
          VEC val = V_ADD(out[r * R + q], bias);
          if (p->res) val = V_ADD(val, V_GATHER(p->res, idx, mk));
          val = v_act(val, p->act.kind, p->act.alpha, p->act.beta);
          V_SCATTER(p->y, idx, mk, val);
        }
      vbase = VI_ADD(vbase, VI_SET1(plane));
    }
  }
}

static inline void wino_input(const ec_wino *p, int64_t t0, int64_t nt, float *v) {
  if (p->r == 2)
    wino_input_t(4, false, p, t0, nt, v);
  else
    wino_input_t(6, false, p, t0, nt, v);
}

static void wino_output(const ec_wino *p, int64_t t0, int64_t nt, int64_t m0, int64_t mb,
                        const float *mbuf, int64_t mstride) {
  if (p->r == 2)
    wino_output_t(4, p, t0, nt, m0, mb, mbuf, mstride);
  else
    wino_output_t(6, p, t0, nt, m0, mb, mbuf, mstride);
}

/* G (g0, g1, g2) of F(a - 2 x a - 2, 3x3) into o[0..a) at stride os
 * (ec_wino_weight_ref's wino_g, the same operations per lane). */
static inline void gv(const int A, VEC g0, VEC g1, VEC g2, VEC *o, int os) {
  if (A == 4) {
    const VEC half = V_SET1(0.5f), t = V_MUL(half, V_ADD(g0, g2)), h = V_MUL(half, g1);
    o[0] = g0, o[os] = V_ADD(t, h), o[2 * os] = V_SUB(t, h), o[3 * os] = g2;
    return;
  }
  const VEC t = V_ADD(g0, g2), sixth = V_SET1(-1.0f / 6);
  const VEC p = V_FMA(g0, V_SET1(1.0f / 24), V_MUL(g2, V_SET1(1.0f / 6)));
  const VEC q = V_MUL(g1, V_SET1(1.0f / 12));
  o[0] = V_MUL(g0, V_SET1(0.25f));
  o[os] = V_MUL(V_ADD(t, g1), sixth);
  o[2 * os] = V_MUL(V_SUB(t, g1), sixth);
  o[3 * os] = V_ADD(p, q);
  o[4 * os] = V_SUB(p, q);
  o[5 * os] = g2;
}

/* ec_wino_weight_ref over VLEN lanes at a time; the tail in the portable code. */
static inline __attribute__((always_inline)) void wino_weight_t(const int A, const float *g,
                                                                int64_t gs, float *u,
                                                                int64_t us, int64_t n) {
  int64_t i = 0;
  for (; i + VLEN <= n; i += VLEN) {
    VEC tmp[18];
#pragma GCC unroll 3
    for (int row = 0; row < 3; row++)
      gv(A, V_LOADU(g + (row * 3) * gs + i), V_LOADU(g + (row * 3 + 1) * gs + i),
         V_LOADU(g + (row * 3 + 2) * gs + i), tmp + row * A, 1);
#pragma GCC unroll 6
    for (int j = 0; j < A; j++) {
      VEC out[6]; /* column j of U, stored as it is made */
      gv(A, tmp[j], tmp[A + j], tmp[2 * A + j], out, 1);
#pragma GCC unroll 6
      for (int q = 0; q < A; q++) V_STOREU(u + (q * A + j) * us + i, out[q]);
    }
  }
  if (i < n) ec_wino_weight_ref(A - 2, g + i, gs, u + i, us, n - i);
}

static void wino_weight(int64_t r, const float *g, int64_t gs, float *u, int64_t us,
                        int64_t n) {
  if (r == 2)
    wino_weight_t(4, g, gs, u, us, n);
  else
    wino_weight_t(6, g, gs, u, us, n);
}
