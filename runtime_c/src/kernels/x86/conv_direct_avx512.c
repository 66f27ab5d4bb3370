/* Direct convolution for few input channels (C <= 4), AVX-512: the first
 * layer of most CNNs. im2col + GEMM runs it with K = C * kh * kw = 27 or
 * 147, so the GEMM's per-tile packing, store and epilogue weigh as much as
 * its multiply-adds; here every output element is accumulated in a register
 * over all C * kh * kw taps and stored once.
 *
 * Register tile: 8 output channels x 3 vectors of 16 output columns of one
 * output row (24 accumulators); per tap, 3 input loads and 8 broadcast
 * weights (embedded in the FMAs) feed 24 FMAs, so the loop is FMA-bound.
 * Per job (image, block of rb output rows) the workspace holds
 *  - the weight repacked as [ceil(M / 8)][tap][8] (zeros past M), taps in
 *    the order the tile walks them: (c, ki, phase, q) with kj = q * sw + phase,
 *    then the bias broadcast to 16 floats per channel (the tiles' sums start
 *    at it);
 *  - the job's input rows, zero-padded and split by column phase:
 *    row[c][r][phase][i] = x[c][ih0 + r][sw * i + phase - pw] (0 outside),
 *    so the input of tap kj for output column o is row[..][kj % sw][o + kj /
 *    sw]: one unaligned load per vector whatever the stride and the pads.
 * Rows are pl floats long (16 past the last vector any tile loads), so only
 * the stores are masked. */
#include <immintrin.h>
#include <string.h>

#include "generated/schema.h"
#include "kernels/x86/conv_direct_x86.h"
#include "kernels/x86/x86.h"

#define CB 8 /* output channels per register tile */
#define NV 3 /* vectors of 16 columns per register tile */
#define PF_ROWS 1 /* output prefetch distance in output rows */

static int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Floats from one phase row to the next: the columns a tile reads, rounded
 * up to 16, and 32 of slack for split_row's last stores. */
static int64_t phase_row(const ec_conv_direct *g) {
  return round_up(round_up(g->ow, 16) + (g->kw - 1) / g->sw, 16) + 32;
}

/* Input rows one job reads. */
static int64_t job_rows(const ec_conv_direct *g) { return (g->rb - 1) * g->sh + g->kh; }

/* The repacked weight, then the bias broadcast to 16 floats per output
 * channel (zeros past M or without a bias). */
static size_t weight_bytes(const ec_conv_direct *g) {
  const int64_t k = g->c * g->kh * g->kw;
  return (size_t)(round_up(ceil_div(g->m, CB) * CB * k * 4, 64) + ceil_div(g->m, CB) * CB * 64);
}

bool ec_x86_conv_direct_fits(const ec_conv_direct *g) {
  const int64_t lim = (int64_t)1 << 30;
  return g->c >= 1 && g->c <= EC_DIRECT_MAX_C && g->kh <= EC_DIRECT_MAX_K &&
         g->kw <= EC_DIRECT_MAX_K && g->sh >= 1 && g->sh <= EC_DIRECT_MAX_S && g->sw >= 1 &&
         g->sw <= EC_DIRECT_MAX_S && g->ph <= EC_DIRECT_MAX_K && g->pw <= EC_DIRECT_MAX_K &&
         g->ow < lim / 64 && g->oh < lim && g->h < lim && g->w_ < lim && g->m < lim / 256 &&
         g->oh * g->ow < lim && g->h * g->w_ < lim && g->rb >= 1;
}

size_t ec_x86_conv_direct_workspace(const ec_conv_direct *g) {
  return weight_bytes(g) +
         (size_t)round_up(g->c * job_rows(g) * g->sw * phase_row(g) * 4, 64);
}

/* The weight as [ceil(M / CB)][tap][CB], taps in the tile's order: one
 * strided column per output channel (packed: 6 floats between taps); then
 * the bias rows (see weight_bytes). */
static void repack_weight(const ec_conv_direct *g, float *w8) {
  const int64_t k = g->c * g->kh * g->kw, panels = ceil_div(g->m, CB);
  float *b16 = w8 + round_up(panels * CB * k, 16);
  for (int64_t m = 0; m < panels * CB; m++)
    _mm512_store_ps(b16 + 16 * m, _mm512_set1_ps(g->bias && m < g->m ? g->bias[m] : 0.0f));
  for (int64_t m = 0; m < panels * CB; m++) {
    float *d = w8 + (m / CB) * k * CB + m % CB;
    if (m >= g->m) {
      for (int64_t t = 0; t < k; t++) d[t * CB] = 0.0f;
      continue;
    }
    const int64_t ts = g->packed ? 6 : 1;
    const float *src = g->packed ? g->w + (m / 6) * k * 6 + m % 6 : g->w + m * k;
    for (int64_t c = 0; c < g->c; c++)
      for (int64_t ki = 0; ki < g->kh; ki++) {
        const float *sr = src + (c * g->kh + ki) * g->kw * ts;
        for (int64_t ph = 0; ph < g->sw; ph++)
          for (int64_t kj = ph; kj < g->kw; kj += g->sw, d += CB) *d = sr[kj * ts];
      }
  }
}

/* d[phase * pl + i] = src[sw * i + phase - pw] for i in [0, pl), 0 outside
 * [0, w). */
static void split_row(const ec_conv_direct *g, const float *src, float *d, int64_t pl) {
  const int64_t w = g->w_, sw = g->sw;
  if (sw == 2) {
    /* Phase r is the even or the odd inputs (parity q of r - pw), shifted
     * right by o = -floor((r - pw) / 2) >= 0: per 32 inputs, two loads (masked
     * past w, so the values past the row are zeros) and two permutes give 16
     * of each. */
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                          2, 0);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    float *dq[2];
    int64_t oq[2];
    for (int64_t r = 0; r < 2; r++) {
      const int64_t dd = r - g->pw, q = dd & 1;
      dq[q] = d + r * pl;
      oq[q] = -((dd - q) / 2);
      memset(dq[q], 0, (size_t)oq[q] * sizeof(float));
    }
    const int64_t need = pl - 32; /* oq differ by at most 1: stores end below pl */
    int64_t j = 0;
    for (; oq[0] + j < need || oq[1] + j < need; j += 16) {
      const int64_t b = 2 * j;
      __m512 a, c;
      if (b + 32 <= w) {
        a = _mm512_loadu_ps(src + b);
        c = _mm512_loadu_ps(src + b + 16);
      } else {
        const uint32_t bits = b >= w ? 0 : (uint32_t)((1ull << (w - b)) - 1);
        a = _mm512_maskz_loadu_ps((__mmask16)(bits & 0xffff), src + b);
        c = _mm512_maskz_loadu_ps((__mmask16)(bits >> 16), src + b + 16);
      }
      _mm512_storeu_ps(dq[0] + oq[0] + j, _mm512_permutex2var_ps(a, even, c));
      _mm512_storeu_ps(dq[1] + oq[1] + j, _mm512_permutex2var_ps(a, odd, c));
    }
    for (int64_t q = 0; q < 2; q++)
      if (oq[q] + j < pl) memset(dq[q] + oq[q] + j, 0, (size_t)(pl - oq[q] - j) * sizeof(float));
    return;
  }
  if (sw == 1) {
    /* one copy, zero margins */
    const int64_t a = g->pw < pl ? g->pw : pl;
    const int64_t n = w < pl - a ? w : pl - a;
    memset(d, 0, (size_t)a * sizeof(float));
    memcpy(d + a, src, (size_t)n * sizeof(float));
    memset(d + a + n, 0, (size_t)(pl - a - n) * sizeof(float));
    return;
  }
  /* sw >= 3: 16 columns per gather, lanes outside [0, w) masked off */
  const __m512i lane = _mm512_mullo_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
      _mm512_set1_epi32((int)sw));
  const __m512i wv = _mm512_set1_epi32((int)w);
  for (int64_t ph = 0; ph < sw; ph++)
    for (int64_t i = 0; i < pl; i += 16) {
      const __m512i j = _mm512_add_epi32(lane, _mm512_set1_epi32((int)(sw * i + ph - g->pw)));
      const __mmask16 in = _mm512_cmpge_epi32_mask(j, _mm512_setzero_si512()) &
                           _mm512_cmplt_epi32_mask(j, wv);
      _mm512_storeu_ps(d + ph * pl + i,
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, j, src, 4));
    }
}

/* The job's input rows [ih0, ih0 + nr) of image x into rows (see the top). */
static void fill_rows(const ec_conv_direct *g, const float *x, int64_t ih0, int64_t nr,
                      int64_t pl, float *rows) {
  const int64_t rs = g->sw * pl;
  for (int64_t c = 0; c < g->c; c++)
    for (int64_t r = 0; r < nr; r++) {
      float *d = rows + (c * nr + r) * rs;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= g->h)
        memset(d, 0, (size_t)rs * sizeof(float));
      else
        split_row(g, x + (c * g->h + ih) * g->w_, d, pl);
    }
}

/* The activation over a tile's stored rows (rare kinds), act_avx512.c's. */
static void act_tile(const ec_act *act, float *y, int64_t ys, int64_t rows, int64_t cols) {
  for (int64_t j = 0; j < rows; j++) ec_x86_act_avx512(y + j * ys, cols, act);
}

/* One register tile: CB channels x nv vectors from in (the first input row
 * of the tile's output row at column o0; channel c's rows cs floats on, input
 * rows rs apart, phases pl apart); w the panel's repacked weight, bias its
 * bias rows (16 floats a channel). Stores act(bias + sums) to y (channel m
 * at y + m * ys), columns [0, cols), channels [0, mc). */
static inline __attribute__((always_inline)) void tile(
    const ec_conv_direct *g, const float *in, int64_t cs, int64_t rs, int64_t pl,
    const float *w, const float *bias, float *y, int64_t ys, int64_t cols, int64_t mc,
    const int nv, const int64_t kw_c, const int64_t sw_c, uintptr_t pf) {
  /* the output lines of the same tile PF_ROWS output rows on: with cold
   * output lines (a stem's output is past L2) the stores otherwise wait on
   * their misses, CB channel planes at a time (Zen 4: squeezenet's stem in
   * the model 0.81 -> 0.71 ms with this prefetch, 0.58 with the panel-major
   * job order below). A read prefetch: the line comes exclusive, and
   * prefetchw measured no better. */
  for (int j = 0; j < CB; j++)
    for (int v = 0; v < nv; v++)
      _mm_prefetch((const char *)(pf + (uintptr_t)((j * ys + 16 * v) * 4)), _MM_HINT_T0);
  /* the sums start at the bias, loaded as vectors (broadcasts or adds per
   * tile cost a K = 16 GEMM tile ~40 cycles on Zen 4, loads none) */
  __m512 acc[CB][NV];
  for (int j = 0; j < CB; j++)
    for (int v = 0; v < nv; v++) acc[j][v] = _mm512_load_ps(bias + 16 * j);
  /* kw_c and sw_c: compile-time kernel width and stride (0: g's), so that
   * the common stems' tap loops unroll completely. */
  const int64_t sw = sw_c ? sw_c : g->sw, kw = kw_c ? kw_c : g->kw;
  for (int64_t c = 0; c < g->c; c++)
    for (int64_t ki = 0; ki < g->kh; ki++) {
      const float *r = in + c * cs + ki * rs;
#pragma GCC unroll 4
      for (int64_t ph = 0; ph < sw; ph++) {
        const float *pr = r + ph * pl;
#pragma GCC unroll 16
        for (int64_t kj = ph; kj < kw; kj += sw, pr++, w += CB) {
          __m512 xv[NV];
          for (int v = 0; v < nv; v++) xv[v] = _mm512_loadu_ps(pr + 16 * v);
          for (int j = 0; j < CB; j++) {
            const __m512 wb = _mm512_set1_ps(w[j]);
            for (int v = 0; v < nv; v++) acc[j][v] = _mm512_fmadd_ps(xv[v], wb, acc[j][v]);
          }
        }
      }
    }
  /* The epilogue unrolled over the channels with no per-vector dispatch, so
   * that the accumulators stay in registers (a loop over a switch on the
   * activation kept them on the stack: MobileNetV2's stem alone 0.276 ms
   * against 0.251).
   * ReLU and Clip are a clamp here; any other activation runs over the
   * stored rows afterwards, from L1. */
  const uint8_t kind = g->act->kind;
  const bool relu = kind == EC_FB_ACTIVATION_RELU, clip = kind == EC_FB_ACTIVATION_CLIP;
  const __m512 lo = _mm512_set1_ps(clip ? g->act->alpha : 0.0f);
  const __m512 hi = _mm512_set1_ps(clip ? g->act->beta : __builtin_inff());
  const __mmask16 last = (__mmask16)((1u << (cols - 16 * (nv - 1))) - 1);
#pragma GCC unroll 8
  for (int j = 0; j < CB; j++) {
    if (j >= mc) break;
    float *yj = y + j * ys;
#pragma GCC unroll 3
    for (int v = 0; v < nv; v++) {
      __m512 o = acc[j][v];
      if (relu || clip) o = _mm512_min_ps(_mm512_max_ps(o, lo), hi);
      if (v < nv - 1) _mm512_storeu_ps(yj + 16 * v, o);
      else _mm512_mask_storeu_ps(yj + 16 * v, last, o);
    }
  }
  if (!relu && !clip && kind != EC_FB_ACTIVATION_NONE) act_tile(g->act, y, ys, mc, cols);
}

/* The tiles of one output row and channel panel, for a compile-time kernel
 * width and stride (0: runtime). */
static inline __attribute__((always_inline)) void row_tiles_k(
    const ec_conv_direct *g, const float *in, int64_t cs, int64_t rs, int64_t pl,
    const float *w, const float *bias, float *y, int64_t ys, int64_t mc, const int64_t kw,
    const int64_t sw, uintptr_t pf) {
  int64_t o0 = 0;
  for (; o0 + 16 * NV <= g->ow; o0 += 16 * NV)
    tile(g, in + o0, cs, rs, pl, w, bias, y + o0, ys, 16 * NV, mc, NV, kw, sw,
         pf + (uintptr_t)(o0 * 4));
  const uintptr_t pt = pf + (uintptr_t)(o0 * 4);
  const int64_t left = g->ow - o0;
  if (left > 32)
    tile(g, in + o0, cs, rs, pl, w, bias, y + o0, ys, left, mc, 3, kw, sw, pt);
  else if (left > 16)
    tile(g, in + o0, cs, rs, pl, w, bias, y + o0, ys, left, mc, 2, kw, sw, pt);
  else if (left > 0)
    tile(g, in + o0, cs, rs, pl, w, bias, y + o0, ys, left, mc, 1, kw, sw, pt);
}

#define ROW_TILES(name, kw, sw)                                                              \
  static void name(const ec_conv_direct *g, const float *in, int64_t cs, int64_t rs,         \
                   int64_t pl, const float *w, const float *bias, float *y, int64_t ys,      \
                   int64_t mc, uintptr_t pf) {                                               \
    row_tiles_k(g, in, cs, rs, pl, w, bias, y, ys, mc, kw, sw, pf);                          \
  }
ROW_TILES(row_tiles_any, 0, 0)
ROW_TILES(row_tiles_3s1, 3, 1)
ROW_TILES(row_tiles_3s2, 3, 2)
ROW_TILES(row_tiles_5s2, 5, 2)
ROW_TILES(row_tiles_7s2, 7, 2)
ROW_TILES(row_tiles_11s4, 11, 4)

static void row_tiles(const ec_conv_direct *g, const float *in, int64_t cs, int64_t rs,
                      int64_t pl, const float *w, const float *bias, float *y, int64_t ys,
                      int64_t mc, uintptr_t pf) {
  const int64_t kw = g->kw, sw = g->sw;
  if (kw == 3 && sw == 1) row_tiles_3s1(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
  else if (kw == 3 && sw == 2) row_tiles_3s2(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
  else if (kw == 5 && sw == 2) row_tiles_5s2(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
  else if (kw == 7 && sw == 2) row_tiles_7s2(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
  else if (kw == 11 && sw == 4) row_tiles_11s4(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
  else row_tiles_any(g, in, cs, rs, pl, w, bias, y, ys, mc, pf);
}

/* The next job's input rows, prefetched a share per output row of this job:
 * fill_rows reads them from memory in a burst (a stem's input was last read
 * a whole model run ago), which left MobileNetV2's stem 20% slower than with
 * its input cached. One contiguous span per input channel. */
typedef struct input_prefetch {
  const char *span[EC_DIRECT_MAX_C];
  int64_t spans, bytes, per; /* spans of bytes each; bytes per step */
  int64_t c, at;             /* cursor: span, byte */
} input_prefetch;

static void next_job_input(const ec_conv_direct *g, int64_t job, int64_t blocks, int64_t steps,
                           input_prefetch *q) {
  q->spans = q->c = q->at = q->bytes = q->per = 0;
  if (job < 0) return;
  const int64_t img = job / blocks, oh0 = job % blocks * g->rb;
  const int64_t nb = g->oh - oh0 < g->rb ? g->oh - oh0 : g->rb;
  int64_t r0 = oh0 * g->sh - g->ph, r1 = r0 + (nb - 1) * g->sh + g->kh;
  r0 = r0 < 0 ? 0 : r0;
  r1 = r1 > g->h ? g->h : r1;
  if (r1 <= r0) return;
  for (int64_t c = 0; c < g->c; c++)
    q->span[c] = (const char *)(g->x + ((img * g->c + c) * g->h + r0) * g->w_);
  q->spans = g->c;
  q->bytes = (r1 - r0) * g->w_ * 4;
  q->per = ceil_div(g->c * q->bytes, steps);
}

static void prefetch_some(input_prefetch *q) {
  for (int64_t n = 0; n < q->per && q->c < q->spans; n += 64) {
    _mm_prefetch(q->span[q->c] + q->at, _MM_HINT_T0);
    q->at += 64;
    if (q->at >= q->bytes) q->at = 0, q->c++;
  }
}

void ec_x86_conv_direct_avx512(const ec_conv_direct *g, int64_t begin, int64_t end,
                               uint8_t *workspace) {
  float *w8 = (float *)workspace;
  float *rows = (float *)(workspace + weight_bytes(g));
  const int64_t k = g->c * g->kh * g->kw, pl = phase_row(g), rs = g->sw * pl;
  const int64_t blocks = ceil_div(g->oh, g->rb), p = g->oh * g->ow;
  repack_weight(g, w8); /* per range: conv.c runs one range per thread */
  const float *b16 = w8 + round_up(ceil_div(g->m, CB) * CB * k, 16);
  for (int64_t job = begin; job < end; job++) {
    const int64_t img = job / blocks, oh0 = job % blocks * g->rb;
    const int64_t nb = g->oh - oh0 < g->rb ? g->oh - oh0 : g->rb;
    const int64_t nr = (nb - 1) * g->sh + g->kh, cs = nr * rs;
    fill_rows(g, g->x + img * g->c * g->h * g->w_, oh0 * g->sh - g->ph, nr, pl, rows);
    input_prefetch pfi;
    next_job_input(g, job + 1 < end ? job + 1 : -1, blocks, ceil_div(g->m, CB) * nb, &pfi);
    float *yimg = g->y + img * g->m * p;
    /* Panel-major: CB channel planes written row after row (sequential
     * streams) rather than all M planes per row; the job's input rows are
     * read again per panel, from L2. */
    for (int64_t m0 = 0; m0 < g->m; m0 += CB) {
      const float *wp = w8 + m0 * k;
      const float *bias = b16 + m0 * 16;
      const int64_t mc = g->m - m0 < CB ? g->m - m0 : CB;
      for (int64_t r = 0; r < nb; r++) {
        const float *in = rows + r * g->sh * rs;
        float *y = yimg + (oh0 + r) * g->ow + m0 * p;
        /* past the job's rows, the image or the buffer: harmless */
        const uintptr_t pf = (uintptr_t)y + (uintptr_t)(PF_ROWS * g->ow * 4);
        row_tiles(g, in, cs, rs, pl, wp, bias, y, p, mc, pf);
        prefetch_some(&pfi);
      }
    }
  }
}
