/* Depthwise conv over a range of channel planes (NCHW), dilation 1, stride
 * 1 or 2, any kernel size, written once over vector macros and included by
 * dwconv_avx2.c and dwconv_avx512.c.
 *
 * Each plane is copied into the workspace with its zero padding made
 * explicit (horizontal stride 2: each row split into its even and odd
 * columns), so that every tap of every output row is one unaligned vector
 * load: y[oh, ow..] += w[ki, kj] * row(oh * sh + ki, kj & 1)[ow + kj / sw..].
 * The padding is the same for every plane: the workspace is zeroed once per
 * call and each plane overwrites only its interior. Four vectors of a row
 * are accumulated at once (independent FMA chains), then bias, residual and
 * activation are applied in registers and the row is stored, the last
 * vector masked. 3x3 and 5x5 get unrolled tap loops, unless the including
 * file defines DW_UNROLL to 0 (neon/dwconv_neon.c does in size-optimized
 * builds, where the compiler would not unroll them anyway).
 * Also included by neon/dwconv_neon.c (4-float vectors).
 * Workspace: ((oh - 1) * sh + kh) rows of row_stride * sw floats.
 *
 * That general path is the last resort: dw_planes (at the end) first tries
 * paths without the copy, each for the shapes it fits (DW_TRY's list; the
 * including file defines the macros of those it has). AVX-512 runs
 * MobileNetV2's depthwise layers on dw_narrow (3x3 stride 1, rows of at
 * most 14), dw_padrow (3x3 stride 1, 17..126) and dw_s2wide (3x3 stride 2,
 * rows over 16); the small-plane paths (flat, pair, s2row, small) take the
 * other planes of at most 16 columns, dw_s1w3 and dw_wide the other wide
 * ones. Every path adds a lane's taps in the order of the path it stands in
 * for (for planes of at most 16 columns: dw_rows' tail loop), so a fused
 * block's bands and the whole-plane conv give the same bits. */

#ifndef DW_UNROLL
#define DW_UNROLL 1
#endif

static inline void dw_copy_plane(const ec_dw_conv *a, const float *x, float *ws) {
  const int64_t rs = a->row_stride, step = rs * a->sw;
  /* only the rows and columns some output reads (a larger input leaves a
   * remainder of up to stride - 1 unread) */
  const int64_t hu = (a->oh - 1) * a->sh + a->kh - a->ph, wu0 = (a->ow - 1) * a->sw + a->kw - a->pw;
  const int64_t h = hu < a->h ? hu : a->h, wu = wu0 < a->w ? wu0 : a->w;
  for (int64_t ih = 0; ih < h; ih++) {
    const float *src = x + ih * a->w;
    float *row = ws + (ih + a->ph) * step;
    if (a->sw == 1) {
      float *dst = row + a->pw;
      int64_t c = 0;
      for (; c + VLEN <= wu; c += VLEN) V_STOREU(dst + c, V_LOADU(src + c));
      if (c < wu) V_STOREN(dst + c, V_LOADN(src + c, wu - c), wu - c);
    } else {
      /* x[i] lands at padded column i + pw: phase (i + pw) & 1, index (i + pw) >> 1 */
      const int64_t first = a->pw & 1; /* phase of x[0] */
      float *p0 = row + first * rs + (a->pw >> 1);             /* x[0], x[2], ... */
      float *p1 = row + (1 - first) * rs + ((a->pw + 1) >> 1); /* x[1], x[3], ... */
      DEINTERLEAVE(src, wu, p0, p1);
    }
  }
}

/* act(v + bias + residual) for the activations done in registers, in that order */
static inline VEC dw_act(VEC v, const ec_act *act) {
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: return V_MAX(v, V_SET1(0.0f));
    case EC_FB_ACTIVATION_CLIP: return V_MIN(V_MAX(v, V_SET1(act->alpha)), V_SET1(act->beta));
    default: return v;
  }
}

static inline VEC dw_finish(VEC v, VEC bias, const ec_act *act, const float *res, int64_t n) {
  v = V_ADD(v, bias);
  if (res) v = V_ADD(v, V_LOADN(res, n));
  return dw_act(v, act);
}

/* The activations dw_act leaves to a pass over the finished outputs (n from y). */
static inline void dw_act_rest(const ec_act *act, float *y, int64_t n) {
  if (act->kind != EC_FB_ACTIVATION_NONE && act->kind != EC_FB_ACTIVATION_RELU &&
      act->kind != EC_FB_ACTIVATION_CLIP)
    ACT_ROW(y, n, act);
}

/* Runs the statements after `end` on each plane of [begin, end) of a 3x3 conv,
 * with o (dw_plane_at), bias and taps[9] (broadcast once per plane) and act
 * in scope; then the activations not done in registers. */
#define DW_EACH_PLANE3(a, begin, end, ...)                                   \
  do {                                                                      \
    const ec_act act = *(a)->act;                                           \
    for (int64_t plane = (begin); plane < (end); plane++) {                 \
      const dw_plane o = dw_plane_at((a), plane);                           \
      const VEC bias = V_SET1(o.bias);                                      \
      VEC taps[9];                                                          \
      for (int i = 0; i < 9; i++) taps[i] = V_SET1(o.wt[i]);                \
      __VA_ARGS__;                                                          \
      dw_act_rest(&act, o.y, (a)->oh * (a)->ow);                            \
    }                                                                       \
  } while (0)

/* Tap column kj of two output vectors t and r (weight wv): even columns on
 * the chains s0 / u0, odd on s1 / u1, the order the one-vector paths add in. */
static inline __attribute__((always_inline)) void dw_fma_pair(int64_t kj, VEC wv, VEC t, VEC r,
                                                              VEC *s0, VEC *s1, VEC *u0,
                                                              VEC *u1) {
  if (kj & 1) {
    *s1 = V_FMA(wv, t, *s1);
    *u1 = V_FMA(wv, r, *u1);
  } else {
    *s0 = V_FMA(wv, t, *s0);
    *u0 = V_FMA(wv, r, *u0);
  }
}

/* DW_EACH_PLANE3 with every plane's output rows R at a time, then one at a
 * time: rows(R or 1, a, s, taps, x, oh, bias, act, res, y), s the path's
 * per-call state. */
#define DW_PLANES_BY_ROWS(R, rows, a, s, begin, end)                          \
  DW_EACH_PLANE3(a, begin, end, {                                           \
    int64_t oh = 0;                                                         \
    for (; oh + (R) <= (a)->oh; oh += (R))                                  \
      rows(R, a, s, taps, o.x, oh, bias, &act, o.res, o.y);                 \
    for (; oh < (a)->oh; oh++) rows(1, a, s, taps, o.x, oh, bias, &act, o.res, o.y); \
  })

/* Stores act(sum + bias [+ residual]) of R output rows from row oh by NV
 * vectors from vector v0 of a plane ow wide (sum[r * ld + v]): a row's last
 * vector masked, vectors past the row skipped. */
static inline __attribute__((always_inline)) void dw_store_block(
    const int R, const int NV, const VEC *sum, const int ld, int64_t ow, int64_t oh, int64_t v0,
    VEC bias, const ec_act *act, const float *res, float *y) {
  _Pragma("GCC unroll 4")
  for (int r = 0; r < R; r++)
    _Pragma("GCC unroll 8")
    for (int v = 0; v < NV; v++) {
      const int64_t o = (v0 + v) * VLEN, n = ow - o < VLEN ? ow - o : VLEN;
      if (n <= 0) continue;
      const int64_t at = (oh + r) * ow + o;
      const VEC val = dw_finish(sum[r * ld + v], bias, act, res ? res + at : NULL, n);
      if (n == VLEN)
        V_STOREU(y + at, val);
      else
        V_STOREN(y + at, val, n);
    }
}

/* The taps in registers when the kernel size is known at compile time (and
 * at most 5x5); returns whether they are. */
static inline __attribute__((always_inline)) bool dw_hoist_taps(const int KH, const int KW,
                                                                const float *wt, VEC *taps) {
  const bool hoist = KH && KH * KW <= 25;
  for (int64_t i = 0; hoist && i < KH * KW; i++) taps[i] = V_SET1(wt[i]);
  return hoist;
}

/* The output rows of one plane from its padded copy; KH/KW are the kernel
 * size when known at compile time (0: a->kh, a->kw). */
static inline __attribute__((always_inline)) void dw_rows(const int KH, const int KW,
                                                          const ec_dw_conv *a, const float *wt,
                                                          float bias_v, const float *res,
                                                          float *y, const float *ws) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw;
  const int64_t rs = a->row_stride, step = rs * a->sw, ow = a->ow;
  const int64_t odd = a->sw - 1; /* 0 or 1: tap kj reads phase kj & odd at kj >> odd */
  const VEC bias = V_SET1(bias_v);
  /* The taps broadcast once per plane into a local array, which the stores
   * to y cannot alias: the compiler keeps them in registers instead of
   * reloading each tap for every vector (half of the loads of a row). */
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act; /* a copy: the stores to y cannot change it, no reloads */
  const bool other_act = act.kind != EC_FB_ACTIVATION_NONE &&
                         act.kind != EC_FB_ACTIVATION_RELU && act.kind != EC_FB_ACTIVATION_CLIP;
  for (int64_t oh = 0; oh < a->oh; oh++) {
    float *yr = y + oh * ow;
    const float *rr = res ? res + oh * ow : NULL;
    const float *base = ws + oh * a->sh * step;
    int64_t o = 0;
    for (; o + 4 * VLEN <= ow; o += 4 * VLEN) {
      VEC s0 = V_SET1(0.0f), s1 = s0, s2 = s0, s3 = s0;
      for (int64_t ki = 0; ki < kh; ki++) {
        const float *row = base + ki * step + o;
        for (int64_t kj = 0; kj < kw; kj++) {
          const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
          const float *src = row + (kj & odd) * rs + (kj >> odd);
          s0 = V_FMA(wv, V_LOADU(src), s0);
          s1 = V_FMA(wv, V_LOADU(src + VLEN), s1);
          s2 = V_FMA(wv, V_LOADU(src + 2 * VLEN), s2);
          s3 = V_FMA(wv, V_LOADU(src + 3 * VLEN), s3);
        }
      }
      V_STOREU(yr + o, dw_finish(s0, bias, &act, rr ? rr + o : NULL, VLEN));
      V_STOREU(yr + o + VLEN, dw_finish(s1, bias, &act, rr ? rr + o + VLEN : NULL, VLEN));
      V_STOREU(yr + o + 2 * VLEN,
               dw_finish(s2, bias, &act, rr ? rr + o + 2 * VLEN : NULL, VLEN));
      V_STOREU(yr + o + 3 * VLEN,
               dw_finish(s3, bias, &act, rr ? rr + o + 3 * VLEN : NULL, VLEN));
    }
    for (; o < ow; o += VLEN) {
      const int64_t n = ow - o < VLEN ? ow - o : VLEN;
      VEC s0 = V_SET1(0.0f), s1 = s0;
      for (int64_t ki = 0; ki < kh; ki++) {
        const float *row = base + ki * step + o;
        for (int64_t kj = 0; kj < kw; kj++) {
          const float *src = row + (kj & odd) * rs + (kj >> odd);
          const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
          if (kj & 1)
            s1 = V_FMA(wv, V_LOADU(src), s1);
          else
            s0 = V_FMA(wv, V_LOADU(src), s0);
        }
      }
      const VEC v = dw_finish(V_ADD(s0, s1), bias, &act, rr ? rr + o : NULL, n);
      if (n == VLEN)
        V_STOREU(yr + o, v);
      else
        V_STOREN(yr + o, v, n);
    }
    if (other_act) ACT_ROW(yr, ow, &act);
  }
}

#ifdef DW_EVEN
/* Small planes (x86: ow <= 16, kw <= 8), without the padded copy: each tap
 * of each output vector is a masked load straight from the input row, the
 * mask keeping only the lanes whose column lies in the row (masked lanes are
 * not read, so the loads may start before the row or run past the tensor);
 * rows outside the input are skipped. Horizontal stride 2 loads two vectors
 * from the tap's first column and keeps their even lanes (DW_EVEN). The
 * masks are the same for every plane and row: made once per call, per
 * output vector (two at most) and tap column. DW_EVEN, DW_MASK,
 * DW_MASK_RANGE(lo, hi) (lanes lo..hi-1, 0 <= lo, hi <= VLEN) and
 * DW_LOADM(p, m) come from the including file; NEON keeps the padded copy.
 * Every path below adds a lane's taps in the order of dw_rows' tail loop
 * (row by row; even and odd columns in two sums, added last), the loop that
 * dw_rows runs for any ow <= 16: a plane gives the same bits whichever path
 * runs it (the fused inverted-residual block runs bands of a plane, the
 * plain conv the whole plane). */
/* Plane p's operands (image p / c, channel p % c). */
typedef struct dw_plane {
  const float *x, *wt, *res; /* res may be NULL */
  float *y;
  float bias;
} dw_plane;

static inline dw_plane dw_plane_at(const ec_dw_conv *a, int64_t plane) {
  const int64_t ch = plane % a->c, out = plane * a->oh * a->ow;
  return (dw_plane){a->x + plane * a->h * a->w, a->wt + ch * a->kh * a->kw,
                    a->res ? a->res + out : NULL, a->y + out, a->bias ? a->bias[ch] : 0.0f};
}

/* PLANE(KH, KW, a, STATE..., x, wt, bias, res, y) on each plane of [begin,
 * end): 3x3 and 5x5 with the kernel size known at compile time, any other
 * read from a (0, 0). */
#define DW_EACH_PLANE(PLANE, a, begin, end, ...)                                  \
  for (int64_t plane = (begin); plane < (end); plane++) {                         \
    const dw_plane o = dw_plane_at((a), plane);                                   \
    if ((a)->kh == 3 && (a)->kw == 3)                                             \
      PLANE(3, 3, (a), __VA_ARGS__, o.x, o.wt, o.bias, o.res, o.y);               \
    else if ((a)->kh == 5 && (a)->kw == 5)                                        \
      PLANE(5, 5, (a), __VA_ARGS__, o.x, o.wt, o.bias, o.res, o.y);               \
    else                                                                          \
      PLANE(0, 0, (a), __VA_ARGS__, o.x, o.wt, o.bias, o.res, o.y);               \
  }

/* base + off floats as an address: the masked loads may start before a row
 * or end past the tensor (their masked lanes are not read), and such an
 * address is made from integers rather than by pointer arithmetic outside
 * the array, which C leaves undefined. */
#define DW_AT(base, off) \
  ((const float *)((uintptr_t)(base) + (uintptr_t)((intptr_t)(off) * (intptr_t)sizeof(float))))

typedef struct dw_small {
  DW_MASK m[2][2][8]; /* [output vector][first, second load][tap column] */
  bool second[2];     /* stride 2: some kept lane comes from the second load */
  int64_t nv;         /* output vectors per row */
} dw_small;

static inline bool dw_small_fits(const ec_dw_conv *a) { return a->ow <= 16 && a->kw <= 8; }

static inline DW_MASK dw_small_mask(int64_t lo, int64_t hi) {
  lo = lo < 0 ? 0 : lo > VLEN ? VLEN : lo;
  hi = hi < 0 ? 0 : hi > VLEN ? VLEN : hi;
  return DW_MASK_RANGE(lo, hi < lo ? lo : hi);
}

static void dw_small_init(const ec_dw_conv *a, dw_small *s) {
  memset(s, 0, sizeof *s);
  s->nv = (a->ow + VLEN - 1) / VLEN;
  for (int64_t v = 0; v < s->nv; v++) {
    const int64_t o0 = v * VLEN, nvalid = a->ow - o0 < VLEN ? a->ow - o0 : VLEN;
    s->second[v] = a->sw == 2 && 2 * (nvalid - 1) >= VLEN;
    for (int64_t kj = 0; kj < a->kw; kj++) {
      const int64_t c = a->sw * o0 + kj - a->pw; /* the column of lane 0 */
      s->m[v][0][kj] = dw_small_mask(-c, a->w - c);
      s->m[v][1][kj] = dw_small_mask(-c - VLEN, a->w - c - VLEN);
    }
  }
}

static inline __attribute__((always_inline)) void dw_small_plane(
    const int KH, const int KW, const int SW, const ec_dw_conv *a, const dw_small *s,
    const float *x, const float *wt, float bias_v, const float *res, float *y) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, ow = a->ow, w = a->w;
  const VEC bias = V_SET1(bias_v), zero = V_SET1(0.0f);
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act;
  for (int64_t oh = 0; oh < a->oh; oh++) {
    const int64_t top = oh * a->sh - a->ph; /* input row of ki = 0 */
    const int64_t k0 = top < 0 ? -top : 0, k1 = a->h - top < kh ? a->h - top : kh;
    for (int64_t v = 0; v < s->nv; v++) {
      const int64_t o0 = v * VLEN, n = ow - o0 < VLEN ? ow - o0 : VLEN;
      VEC s0 = zero, s1 = zero;
      for (int64_t ki = k0; ki < k1; ki++) {
        const float *row = x + (top + ki) * w; /* a row of the input */
        const int64_t c0 = SW * o0 - a->pw;
        for (int64_t kj = 0; kj < kw; kj++) {
          const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
          VEC t = DW_LOADM(DW_AT(row, c0 + kj), s->m[v][0][kj]);
          if (SW == 2)
            t = DW_EVEN(t, s->second[v] ? DW_LOADM(DW_AT(row, c0 + kj + VLEN), s->m[v][1][kj])
                                        : zero);
          if (kj & 1)
            s1 = V_FMA(wv, t, s1);
          else
            s0 = V_FMA(wv, t, s0);
        }
      }
      V_STOREN(y + oh * ow + o0,
               dw_finish(V_ADD(s0, s1), bias, &act, res ? res + oh * ow + o0 : NULL, n), n);
    }
  }
  dw_act_rest(&act, y, a->oh * ow);
}

static void dw_small_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  dw_small s;
  dw_small_init(a, &s);
  for (int64_t plane = begin; plane < end; plane++) {
    const dw_plane o = dw_plane_at(a, plane);
    if (a->kh == 3 && a->kw == 3 && a->sw == 1)
      dw_small_plane(3, 3, 1, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else if (a->kh == 3 && a->kw == 3)
      dw_small_plane(3, 3, 2, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else if (a->kh == 5 && a->kw == 5 && a->sw == 1)
      dw_small_plane(5, 5, 1, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else if (a->kh == 5 && a->kw == 5)
      dw_small_plane(5, 5, 2, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else if (a->sw == 1)
      dw_small_plane(0, 0, 1, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else
      dw_small_plane(0, 0, 2, a, &s, o.x, o.wt, o.bias, o.res, o.y);
  }
}

/* Stride 1 with the output as wide as the input ("same" padding, ow == w,
 * oh * ow small): output pixel p = oh * w + o reads x[p + (ki - ph) * w +
 * kj - pw], so the plane is one flat vector run with one offset per tap, a
 * vector spanning several rows; the mask of a tap at a vector keeps the
 * lanes whose row and column are inside the input (made once per call:
 * vectors x taps masks, at most DW_FLAT_MASKS). 7x7: 4 vectors of 16 per
 * tap instead of 7 rows of 7 lanes. */
static inline bool dw_flat_fits(const ec_dw_conv *a) {
  const int64_t nv = (a->oh * a->ow + VLEN - 1) / VLEN;
  return a->sh == 1 && a->sw == 1 && a->ow == a->w && a->ow <= 16 && a->oh * a->ow <= 256 &&
         nv * a->kh * a->kw <= DW_FLAT_MASKS;
}

static void dw_flat_masks(const ec_dw_conv *a, DW_MASK *m) {
  const int64_t np = a->oh * a->ow, nv = (np + VLEN - 1) / VLEN, kh = a->kh, kw = a->kw;
  unsigned bits[DW_FLAT_MASKS];
  memset(bits, 0, sizeof bits);
  for (int64_t p = 0, r = 0, col = 0; p < np; p++) { /* output pixel p at (r, col) */
    unsigned *b = bits + p / VLEN * kh * kw;
    for (int64_t ki = 0; ki < kh; ki++) {
      if (r + ki - a->ph < 0 || r + ki - a->ph >= a->h) continue;
      for (int64_t kj = 0; kj < kw; kj++)
        if (col + kj - a->pw >= 0 && col + kj - a->pw < a->w) b[ki * kw + kj] |= 1u << p % VLEN;
    }
    if (++col == a->ow) col = 0, r++;
  }
  for (int64_t i = 0; i < nv * kh * kw; i++) m[i] = DW_MASK_BITS(bits[i]);
}

static inline __attribute__((always_inline)) void dw_flat_plane(
    const int KH, const int KW, const ec_dw_conv *a, const DW_MASK *m, const float *x,
    const float *wt, float bias_v, const float *res, float *y) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, np = a->oh * a->ow;
  const VEC bias = V_SET1(bias_v), zero = V_SET1(0.0f);
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act;
  const int64_t off0 = -a->ph * a->w - a->pw; /* tap (0, 0) of pixel 0, from x */
  int64_t p0 = 0;
  /* two vectors at once, their sums interleaved: one vector's two chains
   * (kh * kw / 2 dependent FMAs, then the finish) leave the FMA unit idle
   * (Zen 4: 20 cycles per vector with plain loads, about 12 with 2) */
  for (; p0 + 2 * VLEN <= np; p0 += 2 * VLEN, m += 2 * kh * kw) {
    const DW_MASK *mb = m + kh * kw;
    VEC s0 = zero, s1 = zero, u0 = zero, u1 = zero;
    for (int64_t ki = 0; ki < kh; ki++)
      for (int64_t kj = 0; kj < kw; kj++) {
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        const int64_t at = off0 + p0 + ki * a->w + kj;
        const VEC t = DW_LOADM(DW_AT(x, at), m[ki * kw + kj]);
        const VEC r = DW_LOADM(DW_AT(x, at + VLEN), mb[ki * kw + kj]);
        dw_fma_pair(kj, wv, t, r, &s0, &s1, &u0, &u1);
      }
    V_STOREU(y + p0, dw_finish(V_ADD(s0, s1), bias, &act, res ? res + p0 : NULL, VLEN));
    V_STOREU(y + p0 + VLEN,
             dw_finish(V_ADD(u0, u1), bias, &act, res ? res + p0 + VLEN : NULL, VLEN));
  }
  for (; p0 < np; p0 += VLEN, m += kh * kw) {
    const int64_t n = np - p0 < VLEN ? np - p0 : VLEN;
    VEC s0 = zero, s1 = zero;
    for (int64_t ki = 0; ki < kh; ki++)
      for (int64_t kj = 0; kj < kw; kj++) {
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        const VEC t = DW_LOADM(DW_AT(x, off0 + p0 + ki * a->w + kj), m[ki * kw + kj]);
        if (kj & 1)
          s1 = V_FMA(wv, t, s1);
        else
          s0 = V_FMA(wv, t, s0);
      }
    V_STOREN(y + p0, dw_finish(V_ADD(s0, s1), bias, &act, res ? res + p0 : NULL, n), n);
  }
  dw_act_rest(&act, y, np);
}

static void dw_flat_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  DW_MASK m[DW_FLAT_MASKS];
  dw_flat_masks(a, m);
  DW_EACH_PLANE(dw_flat_plane, a, begin, end, m)
}
#endif

#ifdef DW_PAIR
/* AVX-512, stride 2 on both axes with 2 * ow <= 16: two output rows per
 * vector (y's rows are contiguous, so the pair is 2 * ow contiguous floats).
 * Per tap, one masked load from each of the two input rows (from the tap's
 * column) and one vpermt2ps keeping the even lanes of the first in lanes
 * [0, ow) and of the second in [ow, 2 * ow): half the permutes and FMAs of
 * the row-by-row form. A row outside the input (or the missing second row of
 * an odd count) is read from a row of zeros: the masks stay the same for
 * every row (k registers; a mask made per row would cost a GPR-to-mask move,
 * on the permutes' port, per load). The input is at most 2 * ow + kw <= 24
 * floats wide, within the zero row. */
static const float dw_zero_row[32];
static inline bool dw_pair_fits(const ec_dw_conv *a) {
  return a->sh == 2 && a->sw == 2 && 2 * a->ow <= VLEN && a->kw <= 8;
}

static inline __attribute__((always_inline)) void dw_pair_plane(
    const int KH, const int KW, const ec_dw_conv *a, const __mmask16 *cm, __m512i idx,
    const float *x, const float *wt, float bias_v, const float *res, float *y) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, ow = a->ow, w = a->w;
  const VEC bias = V_SET1(bias_v), zero = V_SET1(0.0f);
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act;
  const bool one = 2 * (ow - 1) + kw <= VLEN; /* lane 2 * (ow - 1) + kj of the row's load */
  for (int64_t oh = 0; oh < a->oh; oh += 2) {
    const bool two = oh + 1 < a->oh;
    const int64_t n = two ? 2 * ow : ow, top = 2 * oh - a->ph;
    VEC s0 = zero, s1 = zero;
    for (int64_t ki = 0; ki < kh; ki++) {
      const int64_t ra = top + ki, rb = ra + 2;
      const float *pa = ra >= 0 && ra < a->h ? x + ra * w : dw_zero_row;
      const float *pb = two && rb >= 0 && rb < a->h ? x + rb * w : dw_zero_row;
      /* one load per row when every tap's columns lie in it (the masked
       * loads, not the permutes, bound this loop on Zen 4) */
      const VEC va = one ? _mm512_maskz_loadu_ps(cm[8], DW_AT(pa, -a->pw)) : zero;
      const VEC vb = one ? _mm512_maskz_loadu_ps(cm[8], DW_AT(pb, -a->pw)) : zero;
      for (int64_t kj = 0; kj < kw; kj++) {
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        const VEC t =
            one ? _mm512_permutex2var_ps(va, _mm512_add_epi32(idx, _mm512_set1_epi32((int)kj)), vb)
                : _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(cm[kj], DW_AT(pa, kj - a->pw)), idx,
                                         _mm512_maskz_loadu_ps(cm[kj], DW_AT(pb, kj - a->pw)));
        if (kj & 1)
          s1 = V_FMA(wv, t, s1);
        else
          s0 = V_FMA(wv, t, s0);
      }
    }
    V_STOREN(y + oh * ow,
             dw_finish(V_ADD(s0, s1), bias, &act, res ? res + oh * ow : NULL, n), n);
  }
  dw_act_rest(&act, y, a->oh * ow);
}

static void dw_pair_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  __mmask16 cm[9]; /* per tap column; [8]: the row from column -pw */
  int32_t ix[16];
  for (int64_t kj = 0; kj < a->kw; kj++) cm[kj] = dw_small_mask(a->pw - kj, a->w + a->pw - kj);
  cm[8] = dw_small_mask(a->pw, a->w + a->pw);
  for (int64_t l = 0; l < 16; l++)
    ix[l] = (int32_t)(l < a->ow ? 2 * l : l < 2 * a->ow ? 16 + 2 * (l - a->ow) : 0);
  const __m512i idx = _mm512_loadu_si512(ix);
  DW_EACH_PLANE(dw_pair_plane, a, begin, end, cm, idx)
}

/* AVX-512, horizontal stride 2 with one output vector per row (ow <= 16)
 * whose taps all lie in two vectors of the input row (2 * (ow - 1) + kw <=
 * 32): the row is loaded once (two masked loads from column -pw) and each
 * tap column is one vpermt2ps of the pair (lanes 2 * l + kj), not two masked
 * loads and a permute per tap (dw_small: the loads bound it on Zen 4). Rows
 * outside the input skipped; taps in dw_small's order (the same bits). */
static inline bool dw_s2row_fits(const ec_dw_conv *a) {
  return a->sw == 2 && a->ow <= VLEN && 2 * (a->ow - 1) + a->kw <= 2 * VLEN;
}

/* Output row oh of dw_s2row_plane, any rows outside the input skipped. */
static inline __attribute__((always_inline)) void dw_s2row_one(
    const int KH, const int KW, const ec_dw_conv *a, const __mmask16 *cm, __m512i idx,
    const VEC *taps, bool hoist, const float *x, const float *wt, VEC bias, const float *res,
    float *y, int64_t oh) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, ow = a->ow, w = a->w;
  const VEC zero = V_SET1(0.0f);
  const ec_act act = *a->act;
  const int64_t top = oh * a->sh - a->ph; /* input row of ki = 0 */
  const int64_t k0 = top < 0 ? -top : 0, k1 = a->h - top < kh ? a->h - top : kh;
    VEC s0 = zero, s1 = zero;
    for (int64_t ki = k0; ki < k1; ki++) {
      const float *row = x + (top + ki) * w;
      const VEC va = _mm512_maskz_loadu_ps(cm[0], DW_AT(row, -a->pw));
      const VEC vb = _mm512_maskz_loadu_ps(cm[1], DW_AT(row, VLEN - a->pw));
      for (int64_t kj = 0; kj < kw; kj++) {
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        const VEC t =
            _mm512_permutex2var_ps(va, _mm512_add_epi32(idx, _mm512_set1_epi32((int)kj)), vb);
        if (kj & 1)
          s1 = V_FMA(wv, t, s1);
        else
          s0 = V_FMA(wv, t, s0);
      }
    }
  V_STOREN(y + oh * ow, dw_finish(V_ADD(s0, s1), bias, &act, res ? res + oh * ow : NULL, ow), ow);
}


static inline __attribute__((always_inline)) void dw_s2row_plane(
    const int KH, const int KW, const ec_dw_conv *a, const __mmask16 *cm, __m512i idx,
    const float *x, const float *wt, float bias_v, const float *res, float *y) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, ow = a->ow, w = a->w;
  const VEC bias = V_SET1(bias_v), zero = V_SET1(0.0f);
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act;
  /* two output rows at once where all their taps lie inside the input (the
   * independent sums side by side: each lane's chains are latency-bound) */
  for (int64_t oh = 0; oh < a->oh;) {
    const int64_t top = oh * a->sh - a->ph; /* input row of ki = 0 */
    if (!(oh + 1 < a->oh && top >= 0 && top + a->sh + kh <= a->h)) {
      dw_s2row_one(KH, KW, a, cm, idx, taps, hoist, x, wt, bias, res, y, oh);
      oh++;
      continue;
    }
    VEC s0 = zero, s1 = zero, u0 = zero, u1 = zero;
    for (int64_t ki = 0; ki < kh; ki++) {
      const float *ra = x + (top + ki) * w, *rb = x + (top + a->sh + ki) * w;
      const VEC va = _mm512_maskz_loadu_ps(cm[0], DW_AT(ra, -a->pw));
      const VEC vb = _mm512_maskz_loadu_ps(cm[1], DW_AT(ra, VLEN - a->pw));
      const VEC wa = _mm512_maskz_loadu_ps(cm[0], DW_AT(rb, -a->pw));
      const VEC wb = _mm512_maskz_loadu_ps(cm[1], DW_AT(rb, VLEN - a->pw));
      for (int64_t kj = 0; kj < kw; kj++) {
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        const __m512i ik = _mm512_add_epi32(idx, _mm512_set1_epi32((int)kj));
        const VEC t = _mm512_permutex2var_ps(va, ik, vb), r = _mm512_permutex2var_ps(wa, ik, wb);
        dw_fma_pair(kj, wv, t, r, &s0, &s1, &u0, &u1);
      }
    }
    V_STOREN(y + oh * ow, dw_finish(V_ADD(s0, s1), bias, &act, res ? res + oh * ow : NULL, ow),
             ow);
    V_STOREN(y + (oh + 1) * ow,
             dw_finish(V_ADD(u0, u1), bias, &act, res ? res + (oh + 1) * ow : NULL, ow), ow);
    oh += 2;
  }
  dw_act_rest(&act, y, a->oh * ow);
}

static void dw_s2row_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  const __mmask16 cm[2] = {dw_small_mask(a->pw, a->w + a->pw),
                           dw_small_mask(a->pw - VLEN, a->w + a->pw - VLEN)};
  int32_t ix[16];
  for (int64_t l = 0; l < 16; l++) ix[l] = (int32_t)(l < a->ow ? 2 * l : 0);
  const __m512i idx = _mm512_loadu_si512(ix);
  DW_EACH_PLANE(dw_s2row_plane, a, begin, end, cm, idx)
}
#endif

#ifdef DW_WIDE
/* Stride 1, rows wider than a vector (16 < ow <= 16 * VLEN; AVX-512), also
 * without the padded copy (on Zen 4 the copy, its masked tail stores
 * included, took a third of the time at 56 columns): each tap of each
 * output vector is a masked load from the input row (the mask, made once
 * per call per vector and tap column, keeps the lanes inside the row: the
 * padding; vectors clear of the edges use plain loads), rows outside the
 * input skipped. Four output rows at once share each loaded input vector
 * (kh + 3 rows of loads for 4 * kh rows of taps: the loads, not the FMAs,
 * bound this loop on Zen 4; 1 row: +25%, 2 rows: +0% against the copy).
 * A lane's taps are added in dw_rows' order: vectors of its 4-vector loop
 * on one chain, the rest (its tail loop) on two, even and odd tap columns,
 * added last; a plane gives the same bits as the padded copy's path. */
typedef struct dw_wide {
  DW_MASK m[16][8]; /* [output vector][tap column] */
  bool inner[16];    /* every tap column's lanes inside the row: plain loads */
  int64_t nv, full; /* vectors per row; those in groups of 4 (one chain) */
} dw_wide;

static inline bool dw_wide_fits(const ec_dw_conv *a) {
  return a->sh == 1 && a->sw == 1 && a->ow > VLEN && a->ow <= 16 * VLEN && a->kw <= 8;
}

static void dw_wide_init(const ec_dw_conv *a, dw_wide *s) {
  s->nv = (a->ow + VLEN - 1) / VLEN;
  s->full = a->ow / (4 * VLEN) * 4;
  for (int64_t v = 0; v < s->nv; v++) {
    s->inner[v] = v * VLEN - a->pw >= 0 && v * VLEN + a->kw - 1 - a->pw + VLEN <= a->w;
    for (int64_t kj = 0; kj < a->kw; kj++) {
      const int64_t c = v * VLEN + kj - a->pw; /* the column of lane 0 */
      s->m[v][kj] = dw_small_mask(-c, a->w - c);
    }
  }
}

/* Output rows oh..oh + R - 1, vectors v0..v0 + NV - 1; ONE: one chain. */
static inline __attribute__((always_inline)) void dw_wide_block(
    const int R, const int NV, const int ONE, const int KH, const int KW, const ec_dw_conv *a,
    const dw_wide *s, const VEC *taps, bool hoist, const float *wt, const float *x, int64_t oh,
    int64_t v0, VEC bias, const ec_act *act, const float *res, float *y) {
  const int64_t kh = KH ? KH : a->kh, kw = KW ? KW : a->kw, w = a->w, ow = a->ow;
  VEC e[4][4], d[4][4];
  _Pragma("GCC unroll 16")
  for (int r = 0; r < R; r++)
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; v++) e[r][v] = d[r][v] = V_SET1(0.0f);
  _Pragma("GCC unroll 16")
  for (int64_t t = 0; t < kh + R - 1; t++) {
    const int64_t ih = oh - a->ph + t;
    if (ih < 0 || ih >= a->h) continue;
    const float *row = x + ih * w;
    _Pragma("GCC unroll 16")
    for (int64_t kj = 0; kj < kw; kj++) {
      VEC xv[4];
      _Pragma("GCC unroll 16")
      for (int v = 0; v < NV; v++)
        xv[v] = s->inner[v0 + v] ? V_LOADU(row + (v0 + v) * VLEN + kj - a->pw)
                                 : DW_LOADM(DW_AT(row, (v0 + v) * VLEN + kj - a->pw),
                                            s->m[v0 + v][kj]);
      _Pragma("GCC unroll 16")
      for (int r = 0; r < R; r++) {
        const int64_t ki = t - r;
        if (ki < 0 || ki >= kh) continue;
        const VEC wv = hoist ? taps[ki * kw + kj] : V_SET1(wt[ki * kw + kj]);
        _Pragma("GCC unroll 16")
        for (int v = 0; v < NV; v++) {
          if (ONE || !(kj & 1))
            e[r][v] = V_FMA(wv, xv[v], e[r][v]);
          else
            d[r][v] = V_FMA(wv, xv[v], d[r][v]);
        }
      }
    }
  }
  _Pragma("GCC unroll 16")
  for (int r = 0; r < R; r++)
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; v++) {
      const int64_t o = (v0 + v) * VLEN, n = ow - o < VLEN ? ow - o : VLEN;
      const int64_t at = (oh + r) * ow + o;
      const VEC val = dw_finish(ONE ? e[r][v] : V_ADD(e[r][v], d[r][v]), bias, act,
                                res ? res + at : NULL, n);
      if (n == VLEN)
        V_STOREU(y + at, val);
      else
        V_STOREN(y + at, val, n);
    }
}

static inline __attribute__((always_inline)) void dw_wide_rows(
    const int R, const int KH, const int KW, const ec_dw_conv *a, const dw_wide *s,
    const VEC *taps, bool hoist, const float *wt, const float *x, int64_t oh, VEC bias,
    const ec_act *act, const float *res, float *y) {
  for (int64_t v = 0; v < s->full; v += 4)
    dw_wide_block(R, 4, 1, KH, KW, a, s, taps, hoist, wt, x, oh, v, bias, act, res, y);
  /* the rest on two chains, at most 8 sums per row block */
  const int64_t rest = s->nv - s->full;
  if (R > 2 && rest > 2) {
    dw_wide_block(R, 2, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full, bias, act, res, y);
    if (rest == 3)
      dw_wide_block(R, 1, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full + 2, bias, act, res, y);
    else
      dw_wide_block(R, 2, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full + 2, bias, act, res, y);
    return;
  }
  switch (rest) {
    case 1: dw_wide_block(R, 1, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full, bias, act, res, y); break;
    case 2: dw_wide_block(R, 2, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full, bias, act, res, y); break;
    case 3: dw_wide_block(R, 3, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full, bias, act, res, y); break;
    case 4: dw_wide_block(R, 4, 0, KH, KW, a, s, taps, hoist, wt, x, oh, s->full, bias, act, res, y); break;
    default: break;
  }
}

static inline __attribute__((always_inline)) void dw_wide_plane(
    const int KH, const int KW, const ec_dw_conv *a, const dw_wide *s, const float *x,
    const float *wt, float bias_v, const float *res, float *y) {
  const VEC bias = V_SET1(bias_v);
  VEC taps[25];
  const bool hoist = dw_hoist_taps(KH, KW, wt, taps);
  const ec_act act = *a->act;
  int64_t oh = 0;
  for (; oh + 4 <= a->oh; oh += 4)
    dw_wide_rows(4, KH, KW, a, s, taps, hoist, wt, x, oh, bias, &act, res, y);
  for (; oh + 2 <= a->oh; oh += 2)
    dw_wide_rows(2, KH, KW, a, s, taps, hoist, wt, x, oh, bias, &act, res, y);
  for (; oh < a->oh; oh++) dw_wide_rows(1, KH, KW, a, s, taps, hoist, wt, x, oh, bias, &act, res, y);
  dw_act_rest(&act, y, a->oh * a->ow);
}

static void dw_wide_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  dw_wide s;
  dw_wide_init(a, &s);
  for (int64_t plane = begin; plane < end; plane++) {
    const dw_plane o = dw_plane_at(a, plane);
    if (a->kh == 3 && a->kw == 3)
      dw_wide_plane(3, 3, a, &s, o.x, o.wt, o.bias, o.res, o.y);
    else
      dw_wide_plane(0, 0, a, &s, o.x, o.wt, o.bias, o.res, o.y);
  }
}
#endif

#ifdef DW_NARROW
/* AVX-512, 3x3 stride 1 with pad 1 left and right and rows of at most 14
 * (MobileNetV2's 14x14 planes): each input row is one masked load into
 * lanes 1..w of a vector whose lanes 0 and w + 1 are the zero padding, and
 * its three tap columns are that vector and it moved down one and two lanes
 * (valignd from zeros): one load and two shuffles per input row, no mask per
 * tap (the flat path moves 9 masks a vector from memory, slow on Zen 4).
 * Four output rows at once share their input rows; rows outside the input
 * are zeros. A lane's taps are added in dw_rows' tail order (even and odd
 * tap columns on two chains, row by row), as every small-plane path: the
 * same bits as the flat path. */
/* One input row's three taps of ki for one sum: c0 (tap column 0), c0 down
 * one lane (column 1) and down two (column 2), with hi's lanes moved in past
 * lane 15. Even tap columns on *e, odd on *d (dw_rows' tail order; e == d:
 * one chain in (ki, kj) order). */
static inline __attribute__((always_inline)) void dw_row_taps3(const VEC *tap, __m512 c0,
                                                               __m512 hi, VEC *e, VEC *d) {
  const __m512i lo = _mm512_castps_si512(c0), h = _mm512_castps_si512(hi);
  *e = V_FMA(tap[0], c0, *e);
  *d = V_FMA(tap[1], _mm512_castsi512_ps(_mm512_alignr_epi32(h, lo, 1)), *d);
  *e = V_FMA(tap[2], _mm512_castsi512_ps(_mm512_alignr_epi32(h, lo, 2)), *e);
}

static inline bool dw_narrow_fits(const ec_dw_conv *a) {
  return a->kh == 3 && a->kw == 3 && a->sh == 1 && a->sw == 1 && a->pw == 1 && a->ow == a->w &&
         a->w + 2 <= VLEN;
}

/* Output rows oh..oh + R - 1 of one plane. */
static inline __attribute__((always_inline)) void dw_narrow_rows(
    const int R, const ec_dw_conv *a, const VEC *taps, __mmask16 in, __mmask16 out,
    const float *x, int64_t oh, VEC bias, const ec_act *act, const float *res, float *y) {
  const int64_t w = a->w;
  const __m512 zero = _mm512_setzero_ps();
  VEC s0[4], s1[4];
  _Pragma("GCC unroll 4")
  for (int r = 0; r < R; r++) s0[r] = s1[r] = zero;
  _Pragma("GCC unroll 6")
  for (int t = 0; t < R + 2; t++) {
    const int64_t ih = oh - a->ph + t;
    if (ih < 0 || ih >= a->h) continue; /* zeros: adding them changes no sum */
    const __m512 c0 = _mm512_maskz_loadu_ps(in, DW_AT(x, ih * w - 1));
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++)
      if (t - r >= 0 && t - r <= 2) dw_row_taps3(taps + (t - r) * 3, c0, zero, &s0[r], &s1[r]);
  }
  _Pragma("GCC unroll 4")
  for (int r = 0; r < R; r++) {
    const int64_t at = (oh + r) * w;
    _mm512_mask_storeu_ps(y + at, out,
                          dw_finish(V_ADD(s0[r], s1[r]), bias, act, res ? res + at : NULL, w));
  }
}

/* Rows of at most 7 (7x7 planes): two output rows per vector, rows oh and
 * oh + 1 in lanes 0..w-1 and w+1..2w; lane 0 and lane w + 1 (the right pad
 * of the first, the left pad of the second) are zeros, as is what valignd
 * moves in past lane 15. An input vector holds rows r and r + 1 (two masked
 * loads), the ki-th tap row of the pair starting at oh + ki - ph. R pairs
 * (2R output rows) share their 2R + 1 input vectors. */
typedef struct dw_pair_masks {
  __mmask16 in_a, in_b, out_a, out_b;
} dw_pair_masks;

static inline __attribute__((always_inline)) void dw_narrow2_rows(
    const int R, const ec_dw_conv *a, const VEC *taps, const dw_pair_masks *k, const float *x,
    int64_t oh, VEC bias, const ec_act *act, const float *res, float *y) {
  const int64_t w = a->w;
  const __m512 zero = _mm512_setzero_ps();
  VEC s0[3], s1[3];
  _Pragma("GCC unroll 3")
  for (int q = 0; q < R; q++) s0[q] = s1[q] = zero;
  _Pragma("GCC unroll 7")
  for (int u = 0; u < 2 * R + 1; u++) {
    const int64_t ra = oh - a->ph + u, rb = ra + 1;
    __m512 c0 = zero;
    if (ra >= 0 && ra < a->h) c0 = _mm512_maskz_loadu_ps(k->in_a, DW_AT(x, ra * w - 1));
    if (rb >= 0 && rb < a->h) c0 = _mm512_mask_loadu_ps(c0, k->in_b, DW_AT(x, rb * w - w - 2));
    _Pragma("GCC unroll 3")
    for (int q = 0; q < R; q++)
      if (u - 2 * q >= 0 && u - 2 * q <= 2)
        dw_row_taps3(taps + (u - 2 * q) * 3, c0, zero, &s0[q], &s1[q]);
  }
  _Pragma("GCC unroll 3")
  for (int q = 0; q < R; q++) {
    const int64_t at = (oh + 2 * q) * w; /* row b's lane w + 1 at at + w */
    VEC v = V_ADD(V_ADD(s0[q], s1[q]), bias);
    if (res)
      v = V_ADD(v, _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(k->out_a, res + at), k->out_b,
                                        DW_AT(res, at - 1)));
    v = dw_act(v, act);
    _mm512_mask_storeu_ps(y + at, k->out_a, v);
    _mm512_mask_storeu_ps((float *)DW_AT(y, at - 1), k->out_b, v);
  }
}

static void dw_narrow_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  const __mmask16 in = dw_small_mask(1, a->w + 1), out = dw_small_mask(0, a->w);
  const int64_t w = a->w;
  const dw_pair_masks pk = {in, dw_small_mask(w + 2, 2 * w + 2), out,
                            dw_small_mask(w + 1, 2 * w + 1)};
  const bool pairs = 2 * w + 2 <= VLEN;
  DW_EACH_PLANE3(a, begin, end, {
    int64_t oh = 0;
    if (pairs) {
      for (; oh + 6 <= a->oh; oh += 6)
        dw_narrow2_rows(3, a, taps, &pk, o.x, oh, bias, &act, o.res, o.y);
      for (; oh + 2 <= a->oh; oh += 2)
        dw_narrow2_rows(1, a, taps, &pk, o.x, oh, bias, &act, o.res, o.y);
    }
    for (; oh + 4 <= a->oh; oh += 4) dw_narrow_rows(4, a, taps, in, out, o.x, oh, bias, &act, o.res, o.y);
    for (; oh < a->oh; oh++) dw_narrow_rows(1, a, taps, in, out, o.x, oh, bias, &act, o.res, o.y);
  });
}
#endif

#ifdef DW_NARROW
/* Wider rows the same way (ow == w, w + 2 <= 128: MobileNetV2's 28, 56 and
 * 112): a row is nv = ceil((w + 2) / 16) vectors, vector j holding columns
 * 16j - 1 .. 16j + 14 (one load from column 16j - 1, masked on the first
 * vector's lane 0 and past the row's end), and output vector j's tap
 * columns are vector j and valignd of vectors j, j + 1 by one and two lanes
 * (a zero vector past the last): one load and two shuffles per input vector
 * where dw_s1w3 loads three, two of them across a line. R output rows by
 * all nv vectors at once (R * nv <= 16 sums); one chain per sum, taps in
 * (ki, kj) order: dw_s1w3's order. */
static inline bool dw_padrow_fits(const ec_dw_conv *a) {
  return a->kh == 3 && a->kw == 3 && a->sh == 1 && a->sw == 1 && a->pw == 1 && a->ow == a->w &&
         a->w > VLEN && a->w + 2 <= 8 * VLEN;
}

static inline __attribute__((always_inline)) void dw_padrow_rows(
    const int R, const int NV, const ec_dw_conv *a, const VEC *taps, __mmask16 first,
    __mmask16 last, const float *x, int64_t oh, VEC bias, const ec_act *act, const float *res,
    float *y) {
  const int64_t w = a->w;
  VEC e[4][8];
  _Pragma("GCC unroll 4")
  for (int r = 0; r < R; r++)
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++) e[r][j] = _mm512_setzero_ps();
  _Pragma("GCC unroll 6")
  for (int t = 0; t < R + 2; t++) {
    const int64_t ih = oh - a->ph + t;
    if (ih < 0 || ih >= a->h) continue; /* zeros: adding them changes no sum */
    const float *row = x + ih * w;
    __m512 p[9];
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++)
      p[j] = j == 0        ? _mm512_maskz_loadu_ps(first, DW_AT(row, -1))
             : j == NV - 1 ? _mm512_maskz_loadu_ps(last, row + 16 * j - 1)
                           : _mm512_loadu_ps(row + 16 * j - 1);
    p[NV] = _mm512_setzero_ps();
    _Pragma("GCC unroll 8")
    for (int j = 0; j < NV; j++)
      _Pragma("GCC unroll 4")
      for (int r = 0; r < R; r++)
        if (t - r >= 0 && t - r <= 2)
          dw_row_taps3(taps + (t - r) * 3, p[j], p[j + 1], &e[r][j], &e[r][j]);
  }
  dw_store_block(R, NV, &e[0][0], 8, w, oh, 0, bias, act, res, y);
}

/* Per plane, R = 4 rows (2 past 4 vectors) then single rows. */
static inline __attribute__((always_inline)) void dw_padrow_plane(
    const int NV, const ec_dw_conv *a, const VEC *taps, __mmask16 first, __mmask16 last,
    const float *x, VEC bias, const ec_act *act, const float *res, float *y) {
  int64_t oh = 0;
  if (NV <= 4)
    for (; oh + 4 <= a->oh; oh += 4)
      dw_padrow_rows(4, NV, a, taps, first, last, x, oh, bias, act, res, y);
  for (; oh + 2 <= a->oh; oh += 2) dw_padrow_rows(2, NV, a, taps, first, last, x, oh, bias, act, res, y);
  for (; oh < a->oh; oh++) dw_padrow_rows(1, NV, a, taps, first, last, x, oh, bias, act, res, y);
}

static void dw_padrow_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  const int64_t nv = (a->w + 2 + VLEN - 1) / VLEN;
  /* vector nv - 1 holds columns 16(nv - 1) - 1 ..: lanes up to column w - 1 */
  const __mmask16 first = dw_small_mask(1, VLEN),
                  last = dw_small_mask(0, a->w + 1 - VLEN * (nv - 1));
  DW_EACH_PLANE3(a, begin, end, {
    switch (nv) {
      case 2: dw_padrow_plane(2, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      case 3: dw_padrow_plane(3, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      case 4: dw_padrow_plane(4, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      case 5: dw_padrow_plane(5, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      case 6: dw_padrow_plane(6, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      case 7: dw_padrow_plane(7, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
      default: dw_padrow_plane(8, a, taps, first, last, o.x, bias, &act, o.res, o.y); break;
    }
  });
}
#endif

#ifdef DW_S1W3
/* AVX-512, 3x3 stride 1 (pad 1 on the left), 16 < ow <= 256: dw_wide's
 * loads with the branches out of the loop (its general form ran ~19
 * instructions per FMA on Zen 4: a mask move per load, a test per vector and
 * row, spills). Blocks of R output rows by one vector: the R + 2 input rows'
 * pointers set once per block, a row outside the input pointing at a row
 * of zeros (its taps add zeros: the sums are those of skipping it); each
 * row's three tap vectors are unaligned loads, masked only in the vectors
 * that reach past the row's ends. One chain per sum, taps in (ki, kj)
 * order, bias added last: dw_wide's order. */
static const float dw_zero_wide[16 * VLEN + 2 * VLEN] __attribute__((aligned(64)));

static inline bool dw_s1w3_fits(const ec_dw_conv *a) {
  return a->sh == 1 && a->sw == 1 && a->kh == 3 && a->kw == 3 && a->pw == 1 && a->ow > VLEN &&
         a->ow <= 16 * VLEN;
}

/* Output rows oh..oh + R - 1, vector v; rows[t]: input row oh - ph + t (or zeros). */
static inline __attribute__((always_inline)) void dw_s1w3_block(
    const int R, const int MASKED, const ec_dw_conv *a, const dw_wide *s, const VEC *taps,
    const float *const *rows, int64_t oh, int64_t v, VEC bias, const ec_act *act,
    const float *res, float *y) {
  const int64_t c = v * VLEN - 1; /* the column of lane 0 of tap column 0 */
  VEC e[4];
  _Pragma("GCC unroll 4")
  for (int r = 0; r < R; r++) e[r] = V_SET1(0.0f);
  _Pragma("GCC unroll 8")
  for (int t = 0; t < R + 2; t++) {
    VEC xv[3];
    _Pragma("GCC unroll 3")
    for (int kj = 0; kj < 3; kj++)
      xv[kj] = MASKED ? DW_LOADM(DW_AT(rows[t], c + kj), s->m[v][kj]) : V_LOADU(rows[t] + c + kj);
    _Pragma("GCC unroll 4")
    for (int r = 0; r < R; r++) {
      const int ki = t - r;
      if (ki < 0 || ki > 2) continue;
      _Pragma("GCC unroll 3")
      for (int kj = 0; kj < 3; kj++) e[r] = V_FMA(taps[ki * 3 + kj], xv[kj], e[r]);
    }
  }
  dw_store_block(R, 1, e, 1, a->ow, oh, v, bias, act, res, y);
}

static inline __attribute__((always_inline)) void dw_s1w3_rows(
    const int R, const ec_dw_conv *a, const dw_wide *s, const VEC *taps, const float *x,
    int64_t oh, VEC bias, const ec_act *act, const float *res, float *y) {
  const float *rows[6];
  _Pragma("GCC unroll 6")
  for (int t = 0; t < R + 2; t++) {
    const int64_t ih = oh - a->ph + t;
    rows[t] = ih >= 0 && ih < a->h ? x + ih * a->w : dw_zero_wide;
  }
  for (int64_t v = 0; v < s->nv; v++) {
    if (s->inner[v])
      dw_s1w3_block(R, 0, a, s, taps, rows, oh, v, bias, act, res, y);
    else
      dw_s1w3_block(R, 1, a, s, taps, rows, oh, v, bias, act, res, y);
  }
}

static void dw_s1w3_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  dw_wide s;
  dw_wide_init(a, &s);
  DW_PLANES_BY_ROWS(4, dw_s1w3_rows, a, &s, begin, end);
}
#endif

#ifdef DW_S2WIDE
/* AVX-512, 3x3 stride 2 (pad 1 on the left) with rows wider than a vector
 * (ow > 16), without the padded copy (on Zen 4 the copy, a vpermt2ps
 * deinterleave of every row, took as long as the taps: 42 cycles per output
 * vector in all). Output vector o reads input columns 2o - 1 .. 2o + 31:
 * two loads A, B from column 2o (masked past the row's end), their even
 * lanes E (tap column 1) and odd lanes O (column 2), and O moved up one
 * lane with the previous vector's O below it (column 0; zeros left of the
 * row). Per input row and vector: 2 loads, 2 vpermt2ps, 1 valignd; blocks
 * of R output rows share the input rows they both read (R = 2: 5 rows for
 * 6 row-taps). Rows outside the input skipped. One chain per sum, taps in
 * (ki, kj) order. */
static inline bool dw_s2wide_fits(const ec_dw_conv *a) {
  return a->sh == 2 && a->sw == 2 && a->kh == 3 && a->kw == 3 && a->pw == 1 && a->ow > VLEN &&
         a->ow <= 16 * VLEN;
}

typedef struct dw_s2wide {
  __mmask16 ma[16], mb[16]; /* per output vector: lanes of A, B inside the row */
  int64_t nv;
} dw_s2wide;

static void dw_s2wide_init(const ec_dw_conv *a, dw_s2wide *s) {
  s->nv = (a->ow + VLEN - 1) / VLEN;
  for (int64_t v = 0; v < s->nv; v++) {
    s->ma[v] = dw_small_mask(0, a->w - 2 * VLEN * v);
    s->mb[v] = dw_small_mask(0, a->w - 2 * VLEN * v - VLEN);
  }
}

/* Odd lanes of input columns c .. c + 31 of row (c a multiple of 32, v its
 * vector), masked past the row. */
static inline __m512 dw_s2wide_odd(const dw_s2wide *s, const float *row, int64_t v,
                                   __m512i iodd) {
  const int64_t c = 2 * VLEN * v;
  return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(s->ma[v], DW_AT(row, c)), iodd,
                                _mm512_maskz_loadu_ps(s->mb[v], DW_AT(row, c + VLEN)));
}

/* Output rows oh..oh + R - 1, vectors v0..v0 + NV - 1. */
static inline __attribute__((always_inline)) void dw_s2wide_block(
    const int R, const int NV, const ec_dw_conv *a, const dw_s2wide *s, const VEC *taps,
    const float *x, int64_t oh, int64_t v0, VEC bias, const ec_act *act, const float *res,
    float *y) {
  const __m512i ieven = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i iodd = _mm512_add_epi32(ieven, _mm512_set1_epi32(1));
  const int64_t w = a->w, ow = a->ow;
  VEC e[4][4];
  _Pragma("GCC unroll 16")
  for (int r = 0; r < R; r++)
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; v++) e[r][v] = V_SET1(0.0f);
  _Pragma("GCC unroll 16")
  for (int t = 0; t < 2 * (R - 1) + 3; t++) {
    const int64_t ih = 2 * oh - a->ph + t;
    if (ih < 0 || ih >= a->h) continue;
    const float *row = x + ih * w;
    /* column 2 * 16 * v0 - 1 and below: the previous vector's odd lanes */
    __m512 prev = v0 ? dw_s2wide_odd(s, row, v0 - 1, iodd) : _mm512_setzero_ps();
    _Pragma("GCC unroll 16")
    for (int v = 0; v < NV; v++) {
      const int64_t c = 2 * VLEN * (v0 + v); /* may lie past the row: masked */
      /* plain loads where the row covers the pair (a mask moved from
       * memory per load is slow on Zen 4) */
      const bool whole = s->mb[v0 + v] == 0xffff;
      const __m512 va =
          whole ? _mm512_loadu_ps(row + c) : _mm512_maskz_loadu_ps(s->ma[v0 + v], DW_AT(row, c));
      const __m512 vb = whole ? _mm512_loadu_ps(row + c + VLEN)
                              : _mm512_maskz_loadu_ps(s->mb[v0 + v], DW_AT(row, c + VLEN));
      const __m512 even = _mm512_permutex2var_ps(va, ieven, vb);
      const __m512 odd = _mm512_permutex2var_ps(va, iodd, vb);
      const __m512 left = _mm512_castsi512_ps(
          _mm512_alignr_epi32(_mm512_castps_si512(odd), _mm512_castps_si512(prev), 15));
      prev = odd;
      _Pragma("GCC unroll 16")
      for (int r = 0; r < R; r++) {
        const int ki = t - 2 * r;
        if (ki < 0 || ki >= 3) continue;
        e[r][v] = V_FMA(taps[ki * 3], left, e[r][v]);
        e[r][v] = V_FMA(taps[ki * 3 + 1], even, e[r][v]);
        e[r][v] = V_FMA(taps[ki * 3 + 2], odd, e[r][v]);
      }
    }
  }
  dw_store_block(R, NV, &e[0][0], 4, ow, oh, v0, bias, act, res, y);
}

/* Output rows oh..oh + R - 1, every vector of them, 4 at a time. */
static inline __attribute__((always_inline)) void dw_s2wide_rows(
    const int R, const ec_dw_conv *a, const dw_s2wide *s, const VEC *taps, const float *x,
    int64_t oh, VEC bias, const ec_act *act, const float *res, float *y) {
  int64_t v = 0;
  for (; v + 4 <= s->nv; v += 4) dw_s2wide_block(R, 4, a, s, taps, x, oh, v, bias, act, res, y);
  switch (s->nv - v) {
    case 1: dw_s2wide_block(R, 1, a, s, taps, x, oh, v, bias, act, res, y); break;
    case 2: dw_s2wide_block(R, 2, a, s, taps, x, oh, v, bias, act, res, y); break;
    case 3: dw_s2wide_block(R, 3, a, s, taps, x, oh, v, bias, act, res, y); break;
    default: break;
  }
}

static void dw_s2wide_planes(const ec_dw_conv *a, int64_t begin, int64_t end) {
  dw_s2wide s;
  dw_s2wide_init(a, &s);
  DW_PLANES_BY_ROWS(2, dw_s2wide_rows, a, &s, begin, end);
}
#endif

/* The first path that fits, in this order; else the padded copy. */
#define DW_TRY(path)                   \
  if (dw_##path##_fits(a)) {           \
    dw_##path##_planes(a, begin, end); \
    return;                            \
  }
static void dw_planes(const ec_dw_conv *a, int64_t begin, int64_t end, float *ws) {
#ifdef DW_NARROW
  DW_TRY(narrow);
#endif
#ifdef DW_EVEN
  DW_TRY(flat);
#ifdef DW_PAIR
  DW_TRY(pair);
  DW_TRY(s2row);
#endif
  DW_TRY(small);
#endif
#ifdef DW_NARROW
  DW_TRY(padrow);
#endif
#ifdef DW_S1W3
  DW_TRY(s1w3);
#endif
#ifdef DW_S2WIDE
  DW_TRY(s2wide);
#endif
#ifdef DW_WIDE
  DW_TRY(wide);
#endif
  const int64_t hp = (a->oh - 1) * a->sh + a->kh;
  memset(ws, 0, (size_t)(hp * a->row_stride * a->sw) * sizeof(float));
  for (int64_t plane = begin; plane < end; plane++) {
    const int64_t ch = plane % a->c;
    const float *wt = a->wt + ch * a->kh * a->kw;
    const float bias = a->bias ? a->bias[ch] : 0.0f;
    const float *res = a->res ? a->res + plane * a->oh * a->ow : NULL;
    float *y = a->y + plane * a->oh * a->ow;
    dw_copy_plane(a, a->x + plane * a->h * a->w, ws);
    if (DW_UNROLL && a->kh == 3 && a->kw == 3)
      dw_rows(3, 3, a, wt, bias, res, y, ws);
    else if (DW_UNROLL && a->kh == 5 && a->kw == 5)
      dw_rows(5, 5, a, wt, bias, res, y, ws);
    else
      dw_rows(0, 0, a, wt, bias, res, y, ws);
  }
}
