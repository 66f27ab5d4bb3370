/* Pad of any dtype. PadOptions.pads is [begin per axis..., end per axis...];
 * a negative pad crops. As in onnxruntime, cropping happens first and the
 * modes pad what is left:
 *   constant  the value PadOptions.value (converted to the dtype: truncated
 *             toward zero and saturated for integers, != 0 for bool),
 *   reflect   mirror without repeating the edge (repeatedly, if the pad is
 *             wider than the axis),
 *   edge      repeat the edge element,
 *   wrap      continue periodically.
 * prepare turns every output axis into a table of input indices (-1 =
 * constant); eval walks the output row by row, copying the interior of each
 * row with one memcpy. */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/elem.h"

#define GRAIN_ELEMS 16384
#define MAX_PAD ((int64_t)1 << 40)

typedef struct pad_params {
  int32_t rank;                   /* >= 1 */
  int64_t es;
  int64_t shape[EC_MAX_RANK];     /* output dimensions */
  int64_t istride[EC_MAX_RANK];   /* input bytes per step of each axis */
  int64_t map_at[EC_MAX_RANK];    /* start of each axis' table in map */
  int64_t inner_begin, inner_len; /* output span of the last axis copied as is */
  int64_t inner_src;              /* its first input index */
  bool fill_memset;
  uint8_t fill[8];                /* the constant, es bytes */
  int64_t map[];                  /* per axis, per output index: input index or -1 */
} pad_params;

/* v in the dtype: truncated toward zero and saturated for integers. */
static void encode_value(float v, ec_dtype dt, uint8_t out[8]) {
  union { uint64_t u; double d; } tmp = {0};
  ec_store_f64(dt, &tmp, 0, v);
  memcpy(out, &tmp, 8);
}

static int64_t pos_mod(int64_t a, int64_t m) {
  const int64_t r = a % m;
  return r < 0 ? r + m : r;
}

static ec_status prepare_pad(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *in = n->tin[0], *out = n->tout[0];
  st = ec_check_dtype(n, out, in->dtype, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_PADOPTIONS);
  if (st != EC_OK) return st;
  const ec_pad_options *o = &n->opt.u.pad;
  if (o->mode > EC_FB_PADMODE_WRAP)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "pad mode %u", o->mode);
  const int32_t r = in->rank;
  if (out->rank != r || o->pads.n != 2 * r)
    return ec_node_error(n, EC_ERR_SHAPE, "input rank %d, output rank %d, %d pads", r,
                         out->rank, o->pads.n);
  /* rank 0 is handled as one axis of one element with no padding */
  const int32_t rr = r > 0 ? r : 1;
  int64_t total = 0;
  for (int32_t d = 0; d < r; d++) {
    const int64_t b = o->pads.v[d], e = o->pads.v[r + d];
    if (b > MAX_PAD || b < -MAX_PAD || e > MAX_PAD || e < -MAX_PAD)
      return ec_node_error(n, EC_ERR_SHAPE, "axis %d: pads %lld, %lld are implausible", d,
                           (long long)b, (long long)e);
    if (in->shape[d] + b + e != out->shape[d])
      return ec_node_error(n, EC_ERR_SHAPE, "axis %d: %lld %+lld %+lld is not the output's %lld",
                           d, (long long)in->shape[d], (long long)b, (long long)e,
                           (long long)out->shape[d]);
    total += out->shape[d];
  }
  if (r == 0) total = 1;
  if (out->numel == 0) return ec_alloc_params(n, sizeof(pad_params)); /* nothing to do */
  st = ec_alloc_params(n, sizeof(pad_params) + (size_t)total * sizeof(int64_t));
  if (st != EC_OK) return st;
  pad_params *p = n->params;
  p->rank = rr;
  p->es = (int64_t)ec_dtype_size(in->dtype);
  encode_value(o->value, in->dtype, p->fill);
  p->fill_memset = true;
  for (int64_t i = 1; i < p->es; i++) p->fill_memset &= p->fill[i] == p->fill[0];
  int64_t s = p->es, at = 0;
  /* an empty input is only read through constant padding, i.e. never */
  for (int32_t d = rr - 1; d >= 0 && in->numel > 0; d--) {
    p->istride[d] = s;
    s *= r > 0 ? in->shape[d] : 1;
  }
  for (int32_t d = 0; d < rr; d++) {
    const int64_t dim = r > 0 ? in->shape[d] : 1;
    const int64_t b = r > 0 ? o->pads.v[d] : 0, e = r > 0 ? o->pads.v[r + d] : 0;
    const int64_t lo = b < 0 ? -b : 0, hi = e < 0 ? dim + e : dim;
    const int64_t m = hi > lo ? hi - lo : 0; /* what is left after cropping */
    const int64_t head = b > 0 ? b : 0;
    const int64_t size = r > 0 ? out->shape[d] : 1;
    p->shape[d] = size;
    p->map_at[d] = at;
    if (m == 0 && size > 0 && o->mode != EC_FB_PADMODE_CONSTANT)
      return ec_node_error(n, EC_ERR_SHAPE, "axis %d is empty after cropping: nothing to pad "
                           "from", d);
    for (int64_t i = 0; i < size; i++) {
      const int64_t q = i - head; /* position in the cropped axis */
      int64_t src;
      if (q >= 0 && q < m) {
        src = q;
      } else {
        switch (o->mode) {
          case EC_FB_PADMODE_EDGE: src = q < 0 ? 0 : m - 1; break;
          case EC_FB_PADMODE_WRAP: src = pos_mod(q, m); break;
          case EC_FB_PADMODE_REFLECT:
            if (m == 1) {
              src = 0;
            } else {
              src = pos_mod(q, 2 * (m - 1));
              if (src >= m) src = 2 * (m - 1) - src;
            }
            break;
          default: src = -1; break;
        }
      }
      p->map[at + i] = src < 0 ? -1 : lo + src;
    }
    if (d == rr - 1) {
      p->inner_begin = head < size ? head : size;
      p->inner_len = m < size - p->inner_begin ? m : size - p->inner_begin;
      p->inner_src = lo;
    }
    at += size;
  }
  return EC_OK;
}

typedef struct pad_ctx {
  const pad_params *p;
  const uint8_t *x;
  uint8_t *y;
} pad_ctx;

static void fill(const pad_params *p, uint8_t *d, int64_t count) {
  if (p->fill_memset) {
    memset(d, p->fill[0], (size_t)(count * p->es));
    return;
  }
  for (int64_t i = 0; i < count; i++) memcpy(d + i * p->es, p->fill, (size_t)p->es);
}

/* Output elements [i0, i1) of the last axis through its table. */
static void put_mapped(const pad_params *p, uint8_t *row, const uint8_t *src, int64_t i0,
                       int64_t i1) {
  const int32_t k = p->rank - 1;
  const int64_t *map = p->map + p->map_at[k], es = p->es, st = p->istride[k];
  for (int64_t i = i0; i < i1; i++) {
    if (map[i] < 0)
      fill(p, row + i * es, 1);
    else
      memcpy(row + i * es, src + map[i] * st, (size_t)es);
  }
}

static void pad_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const pad_ctx *c = vc;
  const pad_params *p = c->p;
  const int32_t k = p->rank - 1;
  const int64_t len = p->shape[k], es = p->es;
  for (int64_t row = begin; row < end; row++) {
    uint8_t *dst = c->y + row * len * es;
    int64_t flat = row, off = 0;
    bool inside = true;
    for (int32_t d = k - 1; d >= 0; d--) {
      const int64_t src = p->map[p->map_at[d] + flat % p->shape[d]];
      flat /= p->shape[d];
      if (src < 0) inside = false;
      off += src * p->istride[d];
    }
    if (!inside) {
      fill(p, dst, len);
      continue;
    }
    const uint8_t *src = c->x + off;
    const int64_t a = p->inner_begin, b = a + p->inner_len;
    put_mapped(p, dst, src, 0, a);
    if (b > a)
      memcpy(dst + a * es, src + p->inner_src * p->istride[k], (size_t)((b - a) * es));
    put_mapped(p, dst, src, b, len);
  }
}

static void eval_pad(const ec_node *n, const ec_exec *ex) {
  const pad_params *p = n->params;
  if (n->tout[0]->numel == 0) return;
  const int64_t len = p->shape[p->rank - 1];
  pad_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  int64_t grain = GRAIN_ELEMS / len;
  ec_parallel_for(ex, n->tout[0]->numel / len, grain > 0 ? grain : 1, pad_range, &c);
}

EC_KERNEL(ec_kernel_pad, "pad", prepare_pad, eval_pad)
