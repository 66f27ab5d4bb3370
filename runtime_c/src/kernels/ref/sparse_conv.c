/* SPARSE_CONV: a group-1 Conv (1-D or 2-D, NCHW, float32) whose weight is
 * stored sparse (ec_sparse: rows = output channels, columns = (c, kh, kw);
 * blocks of one column), with optional bias (input 2), optional residual
 * addend of the output's shape (input 3) and the ConvOptions activation, as
 * CONV has them. Each stored weight scales a contiguous run of input pixels
 * into its output channel's run of output pixels (the "Fast Sparse
 * ConvNets" layout); prepare turns every stored column into the offset of
 * that input run. Two paths:
 *   pointwise (1x1, stride 1, no pads): straight from the input, a tile of
 *     up to TP_PW pixels at a time; on x86, where the plane is no whole
 *     number of vectors (MobileNetV2's 14x14 and 7x7) and the scratch
 *     holds it, the tile of every input channel is first copied to a pitch
 *     of whole vectors, so that every load of the row products is aligned
 *     instead of most of them splitting across two cache lines;
 *   slab (everything else: any kernel, stride, pads, dilation): a band of
 *     output rows at a time, the input it reads is copied, zero-padded and
 *     split into stride phases, into a slab in the workspace:
 *       [variants][C][sh][slab_rows][wq]
 *     phase py of channel c holds padded input rows (oh0 + t) * sh + py; a
 *     column variant holds padded columns (col + shift) * sw + px. Tap (ki,
 *     kj) of output pixel q = row * wq + col then reads phase (ki*dh % sh)
 *     at row + ki*dh / sh, column col + kj*dw / sw of its variant: a tile of
 *     consecutive q is one contiguous run per weight (columns past the
 *     output width are computed and dropped). Variants: where rounding the
 *     phase width wp = OW + (kw - 1) * dw / sw up to a multiple of 16 wastes
 *     at most 1/8 and kw <= 3, wq is that and each tap kj has its own
 *     variant, shifted so that every load is aligned (variants = kw);
 *     otherwise wq = wp and one variant per column phase (variants = sw), the
 *     shift in the offset. Only the planes some stored weight reads are built.
 *     Tiles of up to TQ go through a small buffer into Y, with the epilogue.
 * Jobs are (image, pixel tile or band, output-channel block); channel
 * blocks split only when there are too few tiles to share.
 * Workspace per thread (edgec/passes/sparsify.py mirrors it): pointwise 0,
 * or align64(4 * C * round_up(tp, 16)) for the aligned copy (plane not a
 * multiple of 16 floats; files from before it have 0 and keep the direct
 * reads), else align64(4 * variants * C * sh * slab_rows * wq)
 * + align64(4 * RBLK * tq), with band = clamp(ceil(BAND_Q / wq), 1, OH),
 * slab_rows = band + (kh - 1) * dh / sh, tq = min(TQ, (band - 1) * wq + OW)
 * (rounded up to 16 when aligned). */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/sparse_core.h"

#define TP_PW 128   /* pixels per pointwise tile */
#define BAND_Q 1024 /* slab: aim for this many q per band */
#define TQ 128      /* slab: q per tile */
#define RBLK 16     /* slab: output channels per buffered block */
#define MIN_JOBS 8  /* split output channels below this many jobs (with threads) */

enum { PATH_POINTWISE = 0, PATH_SLAB = 1, PATH_SHIFT = 2 /* x86: ec_sp_shift */ };

typedef struct spconv_params {
  ec_sp_isa isa;
  int path;
  bool residual, has_bias;
  union {
    ec_conv_shape shape; /* group 1 */
    struct {
      EC_CONV_SHAPE_FIELDS;
    };
  };
  int64_t k, p, tp;                  /* pointwise: pixels per tile */
  int64_t tpq;                       /* pointwise, aligned copy: its pitch (0: none) */
  int64_t wq, variants, band, slab_rows, tq; /* slab */
  bool aligned;
  uint64_t used_v, used_py; /* slab planes some stored weight reads (bit per index < 64) */
  size_t slab_bytes;
  const ec_sparse *weight;
  ec_sp_weight spw; /* offsets in the path's layout of X, column groups */
  ec_act act;
#if defined(EDGEC_HAVE_X86_KERNELS)
  ec_sp_shift_conv shift; /* PATH_SHIFT */
#endif
} spconv_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/* Tiles of at most max over n, balanced. */
static int64_t balanced(int64_t n, int64_t max) {
  const int64_t tiles = ceil_div(n, max);
  return tiles ? ceil_div(n, tiles) : 0;
}

static ec_status check_operands(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 4, 1);
  for (int32_t i = 0; st == EC_OK && i < n->n_in; i++)
    if (n->tin[i]) st = ec_check_dtype(n, n->tin[i], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_residual(n);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_CONVOPTIONS);
  if (st != EC_OK) return st;
  if (n->opt.u.conv.group != 1)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "group %lld (sparse convs have group 1)",
                         (long long)n->opt.u.conv.group);
  st = ec_check_act(n, n->opt.u.conv.activation);
  if (st != EC_OK) return st;
  const ec_tensor_desc *w = n->tin[1];
  st = ec_sp_check_weight(n, w, RBLK);
  if (st != EC_OK) return st;
  return ec_check_conv_ranks(n, 0);
}

static ec_status read_geometry(ec_node *n, spconv_params *p) {
  const ec_tensor_desc *w = n->tin[1];
  const int32_t sp = w->rank - 2;
  ec_status st = ec_conv_shape_read(n, w->shape[0], sp == 2 ? w->shape[2] : 1,
                                    w->shape[w->rank - 1], w->shape[1], &p->shape);
  if (st != EC_OK) return st;
  if (!ec_fits(p->m, p->oh * p->ow) || !ec_fits(p->c, p->h * p->w))
    return ec_sizes_error(n);
  p->k = p->c * p->kh * p->kw; /* = the weight's columns (shape checked at load) */
  p->p = p->oh * p->ow;
  if (p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 && p->pw == 0 &&
      p->oh == p->h && p->ow == p->w) {
    p->path = PATH_POINTWISE;
    /* whole vectors per tile keep the loads aligned when the planes are */
    p->tp = p->p % 16 == 0 ? min64(ec_round_up(balanced(p->p, TP_PW), 16), p->p)
                           : balanced(p->p, TP_PW);
  } else {
    p->path = PATH_SLAB;
    const int64_t ky = (p->kh - 1) * p->dh / p->sh, kx = (p->kw - 1) * p->dw / p->sw;
    const int64_t wp = p->ow + kx, wa = ec_round_up(wp, 16);
    p->aligned = (wa - wp) * 8 <= wa && p->kw <= 3; /* wider kernels: too many copies */
    p->wq = p->aligned ? wa : wp;
    p->variants = p->aligned ? p->kw : p->sw;
    p->band = p->oh ? ceil_div(BAND_Q, p->wq) : 1;
    if (p->band > p->oh) p->band = p->oh > 0 ? p->oh : 1;
    p->slab_rows = p->band + ky;
    p->tq = min64(TQ, (p->band - 1) * p->wq + p->ow);
    if (p->aligned) p->tq = ec_round_up(p->tq, 16);
    const int64_t planes = p->variants * p->c * p->sh;
    if (!ec_fits(planes, p->slab_rows) || !ec_fits(planes * p->slab_rows, p->wq))
      return ec_sizes_error(n);
    p->slab_bytes = ec_align64((size_t)(planes * p->slab_rows * p->wq) * sizeof(float));
  }
  return EC_OK;
}

static size_t required_scratch(const spconv_params *p) {
  if (p->path == PATH_POINTWISE) return ec_align64((size_t)(p->c * p->tpq) * sizeof(float));
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->path == PATH_SHIFT) return p->shift.ws_bytes;
#endif
  return p->slab_bytes + ec_align64((size_t)(RBLK * p->tq) * sizeof(float));
}

/* Slab plane of (variant v, channel c, row phase py). */
static int64_t slab_plane(const spconv_params *p, int64_t v, int64_t c, int64_t py) {
  return ((v * p->c + c) * p->sh + py) * p->slab_rows * p->wq;
}

/* The input offset of every stored block, in the path's layout of X. */
static bool compute_offsets(spconv_params *p, int32_t *offs) {
  p->used_v = p->variants > 64 ? ~(uint64_t)0 : 0;
  p->used_py = p->sh > 64 ? ~(uint64_t)0 : 0;
  const ec_sparse *w = p->weight;
  if (p->path == PATH_POINTWISE) return ec_sp_scaled_offsets(w, p->tpq ? p->tpq : p->p, offs);
  const int64_t kk = p->kh * p->kw;
  if (slab_plane(p, p->variants, 0, 0) > INT32_MAX) return false;
  for (int64_t j = 0; j < w->nnz; j++) {
    const int64_t idx = ec_sp_index(w, j);
    const int64_t c = idx / kk, ki = idx % kk / p->kw, kj = idx % p->kw;
    const int64_t py = ki * p->dh % p->sh, ky = ki * p->dh / p->sh;
    const int64_t px = kj * p->dw % p->sw, kx = kj * p->dw / p->sw;
    /* aligned: tap kj has its own variant, shifted by kx; else the variant
     * of its column phase, kx in the offset */
    const int64_t v = p->aligned ? kj : px;
    offs[j] = (int32_t)(slab_plane(p, v, c, py) + ky * p->wq + (p->aligned ? 0 : kx));
    p->used_v |= v < 64 ? (uint64_t)1 << v : 0;
    p->used_py |= py < 64 ? (uint64_t)1 << py : 0;
  }
  return true;
}

static ec_status prepare_sparse_conv(ec_node *n) {
  spconv_params p;
  memset(&p, 0, sizeof p);
  ec_status st = check_operands(n);
  if (st != EC_OK) return st;
  if (!ec_sp_variant_isa(n->variant, &p.isa))
    return ec_variant_error(n);
  p.weight = &n->tin[1]->sparse;
  st = read_geometry(n, &p);
  if (st != EC_OK) return st;
  const ec_tensor_desc *b = n->n_in >= 3 ? n->tin[2] : NULL;
  st = ec_check_vec(n, b, p.m, "bias");
  if (st != EC_OK) return st;
  p.has_bias = b != NULL;
  p.residual = n->n_in == 4;
  const ec_conv_options *o = &n->opt.u.conv;
  p.act = (ec_act){o->activation, o->act_alpha, o->act_beta};
#if defined(EDGEC_HAVE_X86_KERNELS)
  /* AVX2 / AVX-512: the shift form, where the scratch allows it
   * (files from before it planned scratch for the slab path only) */
  if (p.path == PATH_SLAB && p.isa != EC_SP_REF) {
    p.shift = (ec_sp_shift_conv){.c = p.c, .h = p.h, .w = p.w, .m = p.m, .oh = p.oh,
                                 .ow = p.ow, .kh = p.kh, .kw = p.kw, .sy = p.sh, .sx = p.sw,
                                 .ph = p.ph, .pw = p.pw, .dh = p.dh, .dw = p.dw};
    if (ec_sp_shift_plan(&p.shift, p.weight, n->scratch_size, p.isa)) {
      p.path = PATH_SHIFT;
      const size_t head = ec_align64(sizeof p);
      st = ec_alloc_params(n, head + ec_sp_shift_layout_bytes(&p.shift, p.weight));
      if (st != EC_OK) return st;
      if (!ec_sp_shift_layout(&p.shift, p.weight, n->tin[1]->const_data,
                              (uint8_t *)n->params + head))
        return ec_node_error(n, EC_ERR_NO_MEMORY, "out of memory");
      memcpy(n->params, &p, sizeof p);
      return EC_OK;
    }
  }
  /* pointwise on a plane of no whole vectors: the aligned copy, where the
   * scratch holds it */
  if (p.path == PATH_POINTWISE && p.isa != EC_SP_REF && p.p % 16 != 0 &&
      ec_fits(p.c, ec_round_up(p.tp, 16)) &&
      n->scratch_size >= ec_align64((size_t)(p.c * ec_round_up(p.tp, 16)) * sizeof(float)))
    p.tpq = ec_round_up(p.tp, 16);
#endif
  const size_t need = required_scratch(&p);
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  /* column groups whose input stays in L1: per input channel, a pixel
   * tile (pointwise), a tile's rows of the slab (direct), an unfolded row */
  const int64_t kk = p.kh * p.kw;
  int64_t groups, span;
  int32_t *offs = NULL;
  const size_t head = ec_align64(sizeof p);
  const size_t offs_bytes = ec_align64((size_t)p.weight->nnz * sizeof(int32_t));
  {
    /* offsets first (they find the slab planes read), into a scratch copy */
    st = ec_alloc_params(n, head + offs_bytes);
    if (st != EC_OK) return st;
    offs = (int32_t *)(void *)((uint8_t *)n->params + head);
    if (!compute_offsets(&p, offs))
      return ec_node_error(n, EC_ERR_SHAPE, "input offsets exceed 32 bits");
    int64_t planes = 1;
    if (p.path == PATH_SLAB)
      planes = (int64_t)__builtin_popcountll(p.used_v) * __builtin_popcountll(p.used_py);
    const int64_t run = p.path == PATH_POINTWISE
                            ? p.tp
                            : planes * (p.tq + (p.slab_rows - p.band + 1) * p.wq);
    ec_sp_plan_groups(p.c, 4 * run, &groups, &span);
    span *= kk;
  }
  if (groups > 1) {
    void *grown = realloc(n->params, head + ec_sp_weight_bytes(p.weight, groups));
    if (!grown) return ec_node_error(n, EC_ERR_NO_MEMORY, "out of memory");
    n->params = grown;
  }
  /* the offsets are in place (scale 0) */
  ec_sp_weight_init(n, &p.spw, p.weight, 0, groups, span, (uint8_t *)n->params + head);
  memcpy(n->params, &p, sizeof p);
  return EC_OK;
}

/* ---- eval --------------------------------------------------------------- */

typedef struct spconv_ctx {
  const spconv_params *p;
  const float *x, *values, *bias, *res;
  float *y;
  uint8_t *const *workspace;
  int64_t tiles, mb, mblocks; /* tiles (or bands) per image; channel blocks */
  ec_sp_weight sw;            /* the params' with this run's values */
} spconv_ctx;

/* The slab of the band of output rows starting at oh0 (rows slab rows):
 * plane (v, c, py) row t holds padded input row (oh0 + t) * sh + py, column
 * col padded input column (col + shift_v) * sw + px_v, zero outside the
 * input. */
static void build_slab(const spconv_params *p, const float *x, int64_t oh0, int64_t rows,
                       float *restrict slab) {
  for (int64_t v = 0; v < p->variants; v++) {
    if (v < 64 && !(p->used_v >> v & 1)) continue; /* no weight reads it */
    const int64_t shift = p->aligned ? v * p->dw / p->sw : 0;
    const int64_t px = p->aligned ? v * p->dw % p->sw : v;
    /* columns [lo, hi) of the row land inside the input */
    int64_t lo, hi;
    ec_valid_range(shift * p->sw + px - p->pw, p->sw, p->w, p->wq, &lo, &hi);
    const int64_t first = shift * p->sw + px - p->pw; /* input column of col 0 */
    for (int64_t c = 0; c < p->c; c++) {
      for (int64_t py = 0; py < p->sh; py++) {
        if (py < 64 && !(p->used_py >> py & 1)) continue;
        float *plane = slab + slab_plane(p, v, c, py);
        for (int64_t t = 0; t < rows; t++) {
          float *dst = plane + t * p->wq;
          const int64_t ih = (oh0 + t) * p->sh + py - p->ph;
          if (ih < 0 || ih >= p->h || lo >= hi) {
            memset(dst, 0, (size_t)p->wq * sizeof(float));
            continue;
          }
          const float *src = x + (c * p->h + ih) * p->w + first; /* src[col * sw] */
          memset(dst, 0, (size_t)lo * sizeof(float));
          if (p->sw == 1) {
            memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
          } else {
            for (int64_t col = lo; col < hi; col++) dst[col] = src[col * p->sw];
          }
          memset(dst + hi, 0, (size_t)(p->wq - hi) * sizeof(float));
        }
      }
    }
  }
}

/* y = act((s + bias) + res) over one run of outputs; ReLU and Clip inline
 * (the loops vectorize; max/min keep fmaxf/fminf's answer for NaN inputs),
 * the other activations through the portable epilogue. */
static void finish_run(float *restrict y, const float *restrict s, int64_t len, float bias,
                       const float *restrict res, const ec_act *act) {
  for (int64_t t = 0; t < len; t++) y[t] = s[t] + bias;
  if (res)
    for (int64_t t = 0; t < len; t++) y[t] += res[t];
  if (act->kind == EC_FB_ACTIVATION_RELU) {
    for (int64_t t = 0; t < len; t++) y[t] = y[t] > 0.0f ? y[t] : 0.0f;
  } else if (act->kind == EC_FB_ACTIVATION_CLIP) {
    const float lo = act->alpha, hi = act->beta;
    for (int64_t t = 0; t < len; t++) {
      const float v = y[t] > lo ? y[t] : lo;
      y[t] = v < hi ? v : hi;
    }
  } else if (act->kind != EC_FB_ACTIVATION_NONE) {
    ec_act_apply(y, len, 0.0f, act);
  }
}

static void slab_job(const spconv_ctx *c, int64_t img, int64_t band, int64_t m0, int64_t m1,
                       uint8_t *ws) {
  const spconv_params *p = c->p;
  const int64_t oh0 = band * p->band, nb = min64(p->band, p->oh - oh0);
  float *slab = (float *)(void *)ws, *buf = (float *)(void *)(ws + p->slab_bytes);
  build_slab(p, c->x + img * p->c * p->h * p->w, oh0, nb + p->slab_rows - p->band, slab);
  const int64_t qn = (nb - 1) * p->wq + p->ow;
  int64_t width = balanced(qn, p->tq);
  if (p->aligned) width = min64(ec_round_up(width, 16), p->tq); /* aligned tiles */
  const ec_sp_epilogue plain = {1.0f, 1.0f, NULL, NULL, 0, {EC_FB_ACTIVATION_NONE, 0, 0}};
  const int64_t rblk = RBLK - RBLK % p->weight->block_r;
  for (int64_t q0 = 0; q0 < qn; q0 += width) {
    const int64_t tq = min64(width, qn - q0);
    for (int64_t mr = m0; mr < m1; mr += rblk) {
      const int64_t mre = min64(mr + rblk, m1);
      ec_sp_rows(p->isa, &c->sw, mr, mre, slab + q0, tq, buf, p->tq, &plain);
      /* drop the columns past the output width; epilogue on the way to Y */
      for (int64_t i = 0; i < mre - mr; i++) {
        const int64_t ch = mr + i;
        const float bias = c->bias ? c->bias[ch] : 0.0f;
        for (int64_t q = q0; q < q0 + tq;) {
          const int64_t row = q / p->wq, col = q % p->wq;
          const int64_t run = min64(p->wq - col, q0 + tq - q);
          if (col < p->ow) {
            const int64_t len = min64(run, p->ow - col);
            const int64_t yo = (img * p->m + ch) * p->p + (oh0 + row) * p->ow + col;
            finish_run(c->y + yo, buf + i * p->tq + (q - q0), len, bias,
                       c->res ? c->res + yo : NULL, &p->act);
          }
          q += run;
        }
      }
    }
  }
}

static void run_job(const spconv_ctx *c, int64_t job, uint8_t *ws) {
  const spconv_params *p = c->p;
  const int64_t mbi = job % c->mblocks, rest = job / c->mblocks;
  const int64_t t = rest % c->tiles, img = rest / c->tiles;
  const int64_t m0 = mbi * c->mb, m1 = min64(m0 + c->mb, p->m);
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->path == PATH_SHIFT) {
    const int64_t plane = p->m * p->p;
    ec_sp_shift_job(&p->shift, p->isa, c->x + img * p->c * p->h * p->w, c->y + img * plane,
                    c->res ? c->res + img * plane : NULL, c->bias, &p->act, t, m0, m1, ws);
    return;
  }
#endif
  if (p->path == PATH_SLAB) {
    slab_job(c, img, t, m0, m1, ws);
    return;
  }
  const int64_t p0 = t * p->tp, tp = min64(p->tp, p->p - p0);
  const float *x = c->x + img * p->c * p->h * p->w + p0;
  const int64_t yoff = (img * p->m + m0) * p->p + p0;
  const ec_sp_epilogue e = {1.0f, 1.0f, c->bias ? c->bias + m0 : NULL,
                            c->res ? c->res + yoff : NULL, p->p, p->act};
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (p->tpq) { /* the tile at a pitch of whole vectors: aligned loads */
    float *buf = (float *)(void *)ws;
    for (int64_t ch = 0; ch < p->c; ch++)
      memcpy(buf + ch * p->tpq, x + ch * p->p, (size_t)tp * sizeof(float));
    x = buf;
  }
#else
  (void)ws;
#endif
  ec_sp_rows(p->isa, &c->sw, m0, m1, x, tp, c->y + yoff, p->p, &e);
}

static void job_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const spconv_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) run_job(c, job, c->workspace[thread]);
}

static void eval_sparse_conv(const ec_node *n, const ec_exec *ex) {
  const spconv_params *p = n->params;
  if (p->n == 0 || p->m == 0 || p->p == 0) return;
#if defined(EDGEC_HAVE_X86_KERNELS)
  const int64_t tiles = p->path == PATH_SHIFT  ? ceil_div(p->oh, p->shift.band)
                        : p->path == PATH_SLAB ? ceil_div(p->oh, p->band)
                                               : ceil_div(p->p, p->tp);
#else
  const int64_t tiles = p->path == PATH_SLAB ? ceil_div(p->oh, p->band)
                                             : ceil_div(p->p, p->tp);
#endif
  spconv_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
                  p->has_bias ? ex->data[n->in[2]] : NULL,
                  p->residual ? ex->data[n->in[3]] : NULL, ex->data[n->out[0]], ex->workspace,
                  tiles, p->m, 1, p->spw};
  c.sw.values = c.values;
  const int64_t jobs = p->n * tiles;
  if (ex->pool && jobs < MIN_JOBS) {
    /* blocks of whole block rows */
    const int64_t br = p->weight->block_r;
    const int64_t per = ceil_div(p->m, ceil_div(MIN_JOBS, jobs));
    c.mb = ceil_div(per, br) * br;
    c.mblocks = ceil_div(p->m, c.mb);
  }
  ec_parallel_for(ex, jobs * c.mblocks, 1, job_range, &c);
}

EC_KERNEL(ec_kernel_sparse_conv, "sparse_conv", prepare_sparse_conv, eval_sparse_conv)
