/* QAVERAGE_POOL and QMAX_POOL: int8/uint8 NCHW pools over 1 or 2 spatial
 * axes (global pools are pools whose kernel covers the input), PoolOptions
 * and window rules as the float pools (kernels/ref/pool.c): windows clipped
 * to the input, the output shape decides ceil mode.
 *   average: y = zp_y + rq(sum of (x - zp_x) over the valid taps,
 *                          s_x / (s_y * count)), count = valid taps, or with
 *            count_include_pad the taps inside the padded input;
 *   max: the largest x of the window (the low end of the dtype when the window
 *        is empty), requantized when input and output quantizations differ;
 *        computed row by row (the column-wise max of the window's rows first).
 * rq() is the fixed-point requantization of qcommon.h; the multipliers for
 * every possible count are computed at prepare. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/pool_shape.h"
#include "kernels/ref/qcommon.h"

#define MAX_TAPS ((int64_t)1 << 20)

typedef struct qpool_params {
  bool average, count_pad, x_signed, y_signed, same;
  int64_t nc, in[2], out[2], k[2], s[2], d[2], pb[2], pe[2];
  int32_t zp_x, zp_y, lo, hi;
  ec_qmul rescale; /* max pool: s_x / s_y */
  ec_qmul *by_count; /* average: taps + 1 entries */
} qpool_params;

typedef struct qpool_ctx {
  const qpool_params *p;
  const void *x;
  void *y;
} qpool_ctx;

static ec_status prepare_qpool(ec_node *n, bool average) {
  ec_pool_shape sh;
  ec_status st = ec_pool_shape_read(n, 2, true, &sh);
  if (st != EC_OK) return st;
  const ec_pool_options *o = &n->opt.u.pool;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  st = ec_q_check_io(n);
  if (st != EC_OK) return st;
  const int32_t sp = sh.sp;
  qpool_params g;
  memset(&g, 0, sizeof g);
  for (int32_t a = 0; a < 2; a++) {
    const int32_t i = a - (2 - sp); /* 1-D: axis 0 is a unit axis */
    g.in[a] = i < 0 ? 1 : x->shape[2 + i];
    g.out[a] = i < 0 ? 1 : y->shape[2 + i];
    g.k[a] = i < 0 ? 1 : sh.k[i];
    g.s[a] = i < 0 ? 1 : sh.s[i];
    g.d[a] = i < 0 ? 1 : sh.d[i];
    g.pb[a] = i < 0 ? 0 : sh.pads[i];
    g.pe[a] = i < 0 ? 0 : sh.pads[sp + i];
    if (g.in[a] > ((int64_t)1 << 30))
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "input extent %lld", (long long)g.in[a]);
  }
  const int64_t taps = g.k[0] * g.k[1];
  if (taps > MAX_TAPS)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "window of %lld taps", (long long)taps);
  g.nc = x->shape[0] * x->shape[1];
  g.average = average;
  g.count_pad = o->count_include_pad;
  g.x_signed = x->dtype == EC_INT8;
  g.y_signed = y->dtype == EC_INT8;
  float sx, sy;
  st = ec_q_per_tensor(n, x, "input", &sx, &g.zp_x);
  if (st == EC_OK) st = ec_q_per_tensor(n, y, "output", &sy, &g.zp_y);
  if (st != EC_OK) return st;
  ec_q8_range(y->dtype, &g.lo, &g.hi);
  g.same = sx == sy && g.zp_x == g.zp_y && x->dtype == y->dtype;
  g.rescale = ec_qmul_from_double((double)sx / sy);
  const size_t table = average ? (size_t)(taps + 1) * sizeof(ec_qmul) : 0;
  st = ec_alloc_params(n, sizeof g + table);
  if (st != EC_OK) return st;
  qpool_params *p = n->params;
  *p = g;
  if (average) {
    p->by_count = (ec_qmul *)(p + 1);
    for (int64_t c = 1; c <= taps; c++)
      p->by_count[c] = ec_qmul_from_double((double)sx / ((double)sy * (double)c));
  }
  return EC_OK;
}

/* Valid taps [t0, t1) of output position o on axis a, and the count of taps
 * inside the padded input. */
static void taps_of(const qpool_params *p, int a, int64_t o, int64_t *t0, int64_t *t1,
                    int64_t *padded) {
  const int64_t start = o * p->s[a] - p->pb[a];
  int64_t lo = 0, hi = 0, pc = 0;
  bool first = true;
  for (int64_t t = 0; t < p->k[a]; t++) {
    const int64_t pos = start + t * p->d[a];
    if (pos >= -p->pb[a] && pos < p->in[a] + p->pe[a]) pc++;
    if (pos < 0 || pos >= p->in[a]) continue;
    if (first) lo = t, first = false;
    hi = t + 1;
  }
  *t0 = lo;
  *t1 = hi;
  *padded = pc;
}

/* The max pool's output from the window's largest input (m, source dtype). */
static int32_t max_out(const qpool_params *p, int32_t m) {
  if (p->same) return m;
  return ec_sat_i32((int64_t)ec_requant(ec_sat_i32((int64_t)m - p->zp_x), p->rescale) + p->zp_y);
}

static void plane(const qpool_params *p, const qpool_ctx *c, int64_t pl) {
  const int64_t xoff = pl * p->in[0] * p->in[1], yoff = pl * p->out[0] * p->out[1];
  for (int64_t oh = 0; oh < p->out[0]; oh++) {
    int64_t h0, h1, hp;
    taps_of(p, 0, oh, &h0, &h1, &hp);
    for (int64_t ow = 0; ow < p->out[1]; ow++) {
      int64_t w0, w1, wp;
      taps_of(p, 1, ow, &w0, &w1, &wp);
      int32_t acc = p->average ? 0 : INT32_MIN;
      int64_t count = 0;
      for (int64_t ti = h0; ti < h1; ti++) {
        const int64_t ih = oh * p->s[0] - p->pb[0] + ti * p->d[0];
        if (ih < 0 || ih >= p->in[0]) continue;
        for (int64_t tj = w0; tj < w1; tj++) {
          const int64_t iw = ow * p->s[1] - p->pb[1] + tj * p->d[1];
          if (iw < 0 || iw >= p->in[1]) continue;
          const int32_t v = ec_q8_load(c->x, p->x_signed, xoff + ih * p->in[1] + iw);
          if (p->average)
            acc += v - p->zp_x;
          else
            acc = v > acc ? v : acc;
          count++;
        }
      }
      int32_t out;
      if (p->average) {
        const int64_t div = p->count_pad ? hp * wp : count;
        out = div == 0 ? p->zp_y
                       : ec_sat_i32((int64_t)ec_requant(acc, p->by_count[div]) + p->zp_y);
      } else if (count == 0) {
        out = p->lo;
      } else {
        out = max_out(p, acc);
      }
      ec_q8_store(c->y, p->y_signed, yoff + oh * p->out[1] + ow, ec_clamp_i32(out, p->lo, p->hi));
    }
  }
}

/* Max pool of one plane, row by row: the column-wise max of the window's
 * valid input rows into vm (bytes in an order-preserving uint8 form: int8
 * with its sign bit flipped; loops the compiler vectorizes), then the max
 * along each window's valid columns. Same results as plane(). */
static void max_plane_rows(const qpool_params *p, const qpool_ctx *c, int64_t pl, uint8_t *vm) {
  const int64_t iw = p->in[1];
  const uint8_t flip = p->x_signed ? 0x80 : 0;
  const uint8_t *x = (const uint8_t *)c->x + pl * p->in[0] * iw;
  const int64_t yoff = pl * p->out[0] * p->out[1];
  const int64_t k1 = p->k[1], s1 = p->s[1], d1 = p->d[1], span = (k1 - 1) * d1;
  int64_t ia = (p->pb[1] + s1 - 1) / s1, ib = 0;
  if (iw - 1 - span + p->pb[1] >= 0) ib = (iw - 1 - span + p->pb[1]) / s1 + 1;
  if (ib > p->out[1]) ib = p->out[1];
  if (ia > ib) ia = ib;
  for (int64_t oh = 0; oh < p->out[0]; oh++) {
    int64_t h0, h1, hp, rows = 0;
    taps_of(p, 0, oh, &h0, &h1, &hp);
    for (int64_t ti = h0; ti < h1; ti++) {
      const int64_t ih = oh * p->s[0] - p->pb[0] + ti * p->d[0];
      if (ih < 0 || ih >= p->in[0]) continue;
      const uint8_t *xr = x + ih * iw;
      if (rows++ == 0) {
        for (int64_t j = 0; j < iw; j++) vm[j] = (uint8_t)(xr[j] ^ flip);
      } else {
        for (int64_t j = 0; j < iw; j++) {
          const uint8_t v = (uint8_t)(xr[j] ^ flip);
          vm[j] = v > vm[j] ? v : vm[j];
        }
      }
    }
    int64_t ow = 0;
    if (rows > 0) /* outputs [ia, ib): every tap inside the row */
      for (ow = ia; ow < ib; ow++) {
        const uint8_t *v = vm + ow * s1 - p->pb[1];
        uint8_t m = v[0];
        if (k1 == 3 && d1 == 1) {
          m = v[1] > m ? v[1] : m;
          m = v[2] > m ? v[2] : m;
        } else {
          for (int64_t t = 1; t < k1; t++) m = v[t * d1] > m ? v[t * d1] : m;
        }
        const uint8_t raw = (uint8_t)(m ^ flip);
        const int32_t out = max_out(p, p->x_signed ? (int32_t)(int8_t)raw : (int32_t)raw);
        ec_q8_store(c->y, p->y_signed, yoff + oh * p->out[1] + ow, ec_clamp_i32(out, p->lo, p->hi));
      }
    for (ow = 0; ow < p->out[1]; ow++) {
      if (rows > 0 && ow == ia && ib > ia) ow = ib;
      if (ow >= p->out[1]) break;
      int64_t w0, w1, wp;
      taps_of(p, 1, ow, &w0, &w1, &wp);
      int32_t out = p->lo;
      if (rows > 0 && w1 > w0) {
        uint8_t m = 0;
        for (int64_t tj = w0; tj < w1; tj++) {
          const int64_t col = ow * p->s[1] - p->pb[1] + tj * p->d[1];
          if (col >= 0 && col < iw && vm[col] > m) m = vm[col];
        }
        const uint8_t raw = (uint8_t)(m ^ flip);
        out = max_out(p, p->x_signed ? (int32_t)(int8_t)raw : (int32_t)raw);
      }
      ec_q8_store(c->y, p->y_signed, yoff + oh * p->out[1] + ow, ec_clamp_i32(out, p->lo, p->hi));
    }
  }
}

#define MAX_ROW 4096 /* widest input row of the row-wise max pool (a stack buffer) */

static void qpool_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qpool_ctx *c = vc;
  const qpool_params *p = c->p;
  if (!p->average && p->in[1] <= MAX_ROW) {
    uint8_t vm[MAX_ROW];
    for (int64_t pl = begin; pl < end; pl++) max_plane_rows(p, c, pl, vm);
    return;
  }
  for (int64_t pl = begin; pl < end; pl++) plane(p, c, pl);
}

static void eval_qpool(const ec_node *n, const ec_exec *ex) {
  const qpool_params *p = n->params;
  qpool_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  ec_parallel_for(ex, p->nc, 1, qpool_range, &c);
}

static ec_status prepare_qavg(ec_node *n) { return prepare_qpool(n, true); }
static ec_status prepare_qmax(ec_node *n) { return prepare_qpool(n, false); }

EC_KERNEL(ec_kernel_qaverage_pool, "qaverage_pool", prepare_qavg, eval_qpool)
EC_KERNEL(ec_kernel_qmax_pool, "qmax_pool", prepare_qmax, eval_qpool)
