/* MaxPool, AveragePool and LpPool on float32 NCHW tensors with 1, 2 or 3
 * spatial axes (global pools are pools whose kernel covers the input).
 *
 * PoolOptions give kernel, strides, dilations (one entry per spatial axis;
 * strides and dilations may be empty = all 1) and pads ([begin..., end...],
 * may be empty = all 0). The output shape decides ceil_mode: each spatial
 * output extent is either floor((in + pads - ek) / s) + 1 or, in ceil mode,
 * ceil(...) + 1 less a last window that would start in the end padding
 * (onnxruntime's rule), ek = (k - 1) * d + 1. Windows are clipped to the
 * input: max/lp pools see only valid elements; AveragePool divides by the
 * valid count, or with count_include_pad by the count of taps inside the
 * padded input [-pad_begin, in + pad_end) (windows running past the end
 * padding in ceil mode are not padded further). A window with no valid
 * element gives the lowest float (max) or 0 (average, lp); max pooling
 * skips NaN inputs.
 *
 * prepare turns the options into per-axis tables (first valid input index,
 * number of valid taps, divisor count per output position), so eval only
 * walks them. Work is split over (n*c, out_d, out_h) rows. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "kernel.h"
#include "kernels/ref/pool_shape.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/ref/gemm_core.h"
#include "kernels/x86/pool_x86.h"
#endif

#define SPATIAL EC_POOL_MAX_SPATIAL
#define GRAIN_WORK 32768
#define MAX_PARAM ((int64_t)1 << 31)

typedef ec_pool_params pool_params;

typedef struct pool_ctx {
  const pool_params *p;
  const float *x;
  float *y;
} pool_ctx;

static uint8_t expected_kind(uint16_t opcode) {
  switch (opcode) {
    case EC_FB_OPCODE_MAX_POOL: return EC_FB_POOLKIND_MAX;
    case EC_FB_OPCODE_AVERAGE_POOL: return EC_FB_POOLKIND_AVERAGE;
    default: return EC_FB_POOLKIND_LP;
  }
}

static const char *kind_name(uint8_t kind) {
  return kind == EC_FB_POOLKIND_MAX ? "max" : kind == EC_FB_POOLKIND_AVERAGE ? "average" : "lp";
}

/* Reads option list l (n entries expected, or empty = def) into v. */
static ec_status read_list(const ec_node *n, const ec_ints *l, int32_t want, int64_t def,
                           int64_t lo, const char *what, int64_t *v) {
  if (l->n != 0 && l->n != want)
    return ec_node_error(n, EC_ERR_FORMAT, "%s has %d entries, expected %d", what, l->n, want);
  for (int32_t i = 0; i < want; i++) {
    v[i] = l->n ? l->v[i] : def;
    if (v[i] < lo || v[i] > MAX_PARAM)
      return ec_node_error(n, EC_ERR_FORMAT, "%s[%d] is %lld, outside [%lld, %lld]", what, i,
                           (long long)v[i], (long long)lo, (long long)MAX_PARAM);
  }
  return EC_OK;
}

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; } /* a >= 0, b > 0 */

/* a * b for a, b >= 0, saturating at 2^40 (only sizes work for the grain). */
static int64_t sat_mul(int64_t a, int64_t b) {
  const int64_t cap = (int64_t)1 << 40;
  if (a == 0 || b == 0) return 0;
  return a > cap / b ? cap : a * b;
}

ec_status ec_pool_shape_read(ec_node *n, int32_t max_sp, bool any_ceil, ec_pool_shape *g) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_options(n, EC_FB_OPOPTIONS_POOLOPTIONS);
  if (st != EC_OK) return st;
  const ec_pool_options *o = &n->opt.u.pool;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  if (x->rank < 3 || x->rank > 2 + max_sp)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "input of rank %d (pools of 1 to %d spatial axes)",
                         x->rank, max_sp);
  if (y->rank != x->rank || y->shape[0] != x->shape[0] || y->shape[1] != x->shape[1])
    return ec_node_error(n, EC_ERR_SHAPE, "output shape does not keep the input's N and C");
  const int32_t sp = g->sp = x->rank - 2;
  if (o->kernel.n != sp)
    return ec_node_error(n, EC_ERR_FORMAT, "kernel has %d entries for %d spatial axes",
                         o->kernel.n, sp);
  st = read_list(n, &o->kernel, sp, 1, 1, "kernel", g->k);
  if (st == EC_OK) st = read_list(n, &o->strides, sp, 1, 1, "strides", g->s);
  if (st == EC_OK) st = read_list(n, &o->dilations, sp, 1, 1, "dilations", g->d);
  if (st == EC_OK) st = read_list(n, &o->pads, 2 * sp, 0, 0, "pads", g->pads);
  if (st != EC_OK) return st;
  for (int32_t a = 0; a < sp; a++) {
    const int64_t in = x->shape[2 + a], out = y->shape[2 + a], s = g->s[a];
    const int64_t ek = (g->k[a] - 1) * g->d[a] + 1, span = in + g->pads[a] + g->pads[sp + a];
    if (span < ek)
      return ec_node_error(n, EC_ERR_SHAPE,
                           "spatial axis %d: padded extent %lld is smaller than the window %lld",
                           a, (long long)span, (long long)ek);
    const int64_t floor_out = (span - ek) / s + 1, ceil_all = ceil_div(span - ek, s) + 1;
    const int64_t ceil_out = ceil_all - ((ceil_all - 1) * s >= in + g->pads[a]);
    if (out != floor_out && out != ceil_out &&
        !(any_ceil && (out == ceil_all || out == ceil_all - 1)))
      return ec_node_error(n, EC_ERR_SHAPE,
                           "spatial axis %d: output extent %lld, expected %lld (or %lld in ceil "
                           "mode)", a, (long long)out, (long long)floor_out, (long long)ceil_out);
  }
  return EC_OK;
}

static ec_status prepare_pool(ec_node *n) {
  ec_pool_shape g;
  ec_status st = ec_pool_shape_read(n, SPATIAL, false, &g);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  st = ec_check_dtype(n, x, EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, y, EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  const ec_pool_options *o = &n->opt.u.pool;
  const uint8_t kind = expected_kind(n->opcode);
  if (o->kind != kind)
    return ec_node_error(n, EC_ERR_FORMAT, "pool kind %u does not match the %s pool opcode",
                         o->kind, kind_name(kind));
  if (kind == EC_FB_POOLKIND_LP && (o->p < 1 || o->p > 1024))
    return ec_node_error(n, EC_ERR_FORMAT, "p is %lld, expected 1..1024", (long long)o->p);
  const int32_t sp = g.sp;
  const int64_t *k = g.k, *s = g.s, *d = g.d, *pads = g.pads;

  /* Size the tables. */
  int64_t total = 0;
  for (int32_t a = 0; a < sp; a++) total += y->shape[2 + a];
  total += 3 * SPATIAL; /* unit axes and slack */
  if ((uint64_t)total > (SIZE_MAX - sizeof(pool_params)) / (3 * sizeof(int64_t)))
    return ec_node_error(n, EC_ERR_NO_MEMORY, "pool tables too large");
  st = ec_alloc_params(n, sizeof(pool_params) + (size_t)total * 3 * sizeof(int64_t));
  if (st != EC_OK) return st;
  pool_params *p = n->params;
#if defined(EDGEC_HAVE_X86_KERNELS)
  /* Instruction.variant: the x86 rows (kernels/x86/pool_x86.h) where the CPU
   * has them; other builds have only this kernel and ignore it. */
  ec_isa isa;
  if (!ec_variant_isa(n->variant, 0, &isa)) return ec_variant_error(n);
  p->isa = (uint8_t)isa;
  p->pad_w = pads[sp - 1];
  p->pad_h = sp >= 2 ? pads[sp - 2] : 0;
  p->stride_h = sp >= 2 ? s[sp - 2] : 1;
  p->kernel_h = sp >= 2 ? k[sp - 2] : 1;
#endif
  p->kind = kind;
  p->nc = x->shape[0] * x->shape[1];
  p->taps = 1;
  if (kind == EC_FB_POOLKIND_LP) {
    p->p_mode = o->p == 1 ? 1 : o->p == 2 ? 2 : 0;
    p->p = (float)o->p;
    p->inv_p = 1.0f / (float)o->p;
  }
  int64_t *cursor = (int64_t *)(p + 1);
  for (int32_t a = 0; a < SPATIAL; a++) {
    const int32_t src = a - (SPATIAL - sp); /* axis in the options, < 0 for unit axes */
    const int64_t in = src >= 0 ? x->shape[2 + src] : 1, out = src >= 0 ? y->shape[2 + src] : 1;
    const int64_t kk = src >= 0 ? k[src] : 1, ss = src >= 0 ? s[src] : 1;
    const int64_t dd = src >= 0 ? d[src] : 1;
    const int64_t pb = src >= 0 ? pads[src] : 0, pe = src >= 0 ? pads[sp + src] : 0;
    p->in[a] = in;
    p->out[a] = out;
    p->dil[a] = dd;
    p->taps = sat_mul(p->taps, kk);
    p->first[a] = cursor;
    p->count[a] = cursor + out;
    p->div[a] = cursor + 2 * out;
    cursor += 3 * (out > 0 ? out : 1);
    for (int64_t i = 0; i < out; i++) {
      const int64_t start = i * ss - pb;
      const int64_t j_lo = start >= 0 ? 0 : ceil_div(-start, dd);
      const int64_t j_hi = in - 1 - start >= 0 ? (in - 1 - start) / dd + 1 : 0;
      const int64_t hi = j_hi < kk ? j_hi : kk;
      const int64_t valid = hi > j_lo ? hi - j_lo : 0;
      const int64_t pad_hi = in + pe - 1 - start >= 0 ? (in + pe - 1 - start) / dd + 1 : 0;
      const int64_t in_pad = pad_hi < kk ? pad_hi : kk;
      p->first[a][i] = valid ? start + j_lo * dd : 0;
      p->count[a][i] = valid;
      p->div[a][i] = o->count_include_pad ? in_pad : valid;
    }
    if (a == SPATIAL - 1) {
      p->kernel_w = kk;
      p->stride_w = ss;
      int64_t lo = 0;
      while (lo < out && p->count[a][lo] != kk) lo++;
      int64_t hi = lo;
      while (hi < out && p->count[a][hi] == kk) hi++;
      /* Full windows form one range (valid taps only shrink at the ends); a
       * short range is not worth the second pass. */
      p->w_lo = hi - lo >= 4 ? lo : 0;
      p->w_hi = hi - lo >= 4 ? hi : 0;
    }
  }
  return EC_OK;
}

/* One output row (fixed nc, od, oh). STEP(a, v) folds input v into a;
 * FINISH(a, divisor) gives the output. Border outputs walk their clipped
 * windows one by one; interior outputs (whole window inside along W, the
 * range [w_lo, w_hi)) accumulate in the output row tap by tap, which keeps
 * the inner loop free of per-output bookkeeping. */
#define POOL_ROW(NAME, INIT, STEP, FINISH)                                                  \
  static void NAME(const pool_params *p, const float *xp, float *yr, int64_t od,         \
                   int64_t oh) {                                                           \
    const int64_t IH = p->in[1], IW = p->in[2];                                            \
    const int64_t fd = p->first[0][od], cd = p->count[0][od], dd = p->dil[0];              \
    const int64_t fh = p->first[1][oh], ch = p->count[1][oh], dh = p->dil[1];              \
    const int64_t dw = p->dil[2], sw = p->stride_w, kw = p->kernel_w;                      \
    const int64_t lo = p->w_lo, hi = p->w_hi;                                              \
    const double divdh = (double)p->div[0][od] * (double)p->div[1][oh];                    \
    (void)divdh;                                                                           \
    for (int64_t ow = 0; ow < p->out[2]; ow++) {                                           \
      if (ow == lo && hi > lo) ow = hi;                                                    \
      if (ow >= p->out[2]) break;                                                          \
      const int64_t fw = p->first[2][ow], cw = p->count[2][ow];                            \
      float a = (INIT);                                                                    \
      for (int64_t i = 0; i < cd; i++) {                                                   \
        for (int64_t j = 0; j < ch; j++) {                                                 \
          const float *row = xp + ((fd + i * dd) * IH + fh + j * dh) * IW + fw;            \
          for (int64_t t = 0; t < cw; t++) a = STEP(a, row[t * dw]);                       \
        }                                                                                  \
      }                                                                                    \
      const double divisor = divdh * (double)p->div[2][ow];                                \
      (void)divisor;                                                                       \
      yr[ow] = FINISH(a, divisor);                                                         \
    }                                                                                      \
    if (hi <= lo) return;                                                                  \
    for (int64_t ow = lo; ow < hi; ow++) yr[ow] = (INIT);                                  \
    for (int64_t i = 0; i < cd; i++) {                                                     \
      for (int64_t j = 0; j < ch; j++) {                                                   \
        const float *row = xp + ((fd + i * dd) * IH + fh + j * dh) * IW + p->first[2][lo]; \
        for (int64_t t = 0; t < kw; t++) {                                                 \
          const float *src = row + t * dw;                                                 \
          float *dst = yr + lo;                                                            \
          for (int64_t m = 0; m < hi - lo; m++) dst[m] = STEP(dst[m], src[m * sw]);        \
        }                                                                                  \
      }                                                                                    \
    }                                                                                      \
    const double divisor = divdh * (double)kw;                                             \
    (void)divisor;                                                                         \
    for (int64_t ow = lo; ow < hi; ow++) yr[ow] = FINISH(yr[ow], divisor);                 \
  }

/* Max skips NaN inputs (a NaN never compares greater). */
#define MAX_STEP(a, v) ((v) > (a) ? (v) : (a))
#define SUM_STEP(a, v) ((a) + (v))
#define SAME(a, d) (a)
#define AVG(a, d) ((d) > 0 ? (a) / (float)(d) : 0.0f)

/* LpPool (rare) has one row function for every p; the mode test in the
 * inner loop costs it speed, not accuracy: p = 1 sums |v|, p = 2 sums v * v
 * and takes sqrtf, other p go through powf. */
static inline float lp_step(const pool_params *p, float a, float v) {
  return p->p_mode == 1 ? a + fabsf(v) : p->p_mode == 2 ? a + v * v : a + powf(fabsf(v), p->p);
}
static inline float lp_finish(const pool_params *p, float a) {
  return p->p_mode == 1 ? a : p->p_mode == 2 ? sqrtf(a) : powf(a, p->inv_p);
}
#define LP_STEP(a, v) lp_step(p, a, v)
#define LP_FINISH(a, d) lp_finish(p, a)

POOL_ROW(row_max, -FLT_MAX, MAX_STEP, SAME)
POOL_ROW(row_avg, 0.0f, SUM_STEP, AVG)
POOL_ROW(row_lp, 0.0f, LP_STEP, LP_FINISH)

static void pool_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const pool_ctx *c = vc;
  const pool_params *p = c->p;
  const int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2];
  const int64_t in_plane = p->in[0] * p->in[1] * p->in[2];
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->isa == EC_ISA_AVX512 && ec_x86_pool_rows_avx512(p, c->x, c->y, begin, end)) return;
#endif
  void (*row)(const pool_params *, const float *, float *, int64_t, int64_t) = row_max;
  if (p->kind == EC_FB_POOLKIND_AVERAGE) row = row_avg;
  if (p->kind == EC_FB_POOLKIND_LP) row = row_lp;
  for (int64_t r = begin; r < end; r++) {
    const int64_t nc = r / (OD * OH), rem = r % (OD * OH);
    row(p, c->x + nc * in_plane, c->y + r * OW, rem / OH, rem % OH);
  }
}

static void eval_pool(const ec_node *n, const ec_exec *ex) {
  const pool_params *p = n->params;
  pool_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  const int64_t rows = p->nc * p->out[0] * p->out[1];
  int64_t work = sat_mul(p->out[2], p->taps);
  if (work < 1) work = 1;
  const int64_t grain = GRAIN_WORK / work > 1 ? GRAIN_WORK / work : 1;
  ec_parallel_for(ex, rows, grain, pool_range, &c);
}

EC_KERNEL(ec_kernel_max_pool, "max_pool", prepare_pool, eval_pool)
EC_KERNEL(ec_kernel_average_pool, "average_pool", prepare_pool, eval_pool)
EC_KERNEL(ec_kernel_lp_pool, "lp_pool", prepare_pool, eval_pool)
