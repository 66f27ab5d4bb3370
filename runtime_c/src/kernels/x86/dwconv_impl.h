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
 * Workspace: ((oh - 1) * sh + kh) rows of row_stride * sw floats. */

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

static inline VEC dw_finish(VEC v, VEC bias, const ec_act *act, const float *res, int64_t n) {
  v = V_ADD(v, bias);
  if (res) v = V_ADD(v, V_LOADN(res, n));
  switch (act->kind) {
    case EC_FB_ACTIVATION_RELU: return V_MAX(v, V_SET1(0.0f));
    case EC_FB_ACTIVATION_CLIP: return V_MIN(V_MAX(v, V_SET1(act->alpha)), V_SET1(act->beta));
    default: return v;
  }
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
  const bool hoist = KH && KH * KW <= 25;
  for (int64_t i = 0; hoist && i < KH * KW; i++) taps[i] = V_SET1(wt[i]);
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

static void dw_planes(const ec_dw_conv *a, int64_t begin, int64_t end, float *ws) {
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
