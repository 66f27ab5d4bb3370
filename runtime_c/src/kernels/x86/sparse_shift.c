/* SPARSE_CONV on x86, the shift form (kernels/ref/sparse_core.h,
 * ec_sp_shift): planning, the weight layout built at prepare, the slab and
 * the job loop. The products are in sparse_impl.h (AVX2 / AVX-512).
 *
 * Workspace per thread, at most (edgec/passes/sparsify.py mirrors this
 * bound, counting every stride phase; the plan counts only the phases some
 * weight reads and is refused where the instruction's scratch is smaller,
 * which leaves older files on the slab path):
 *   align64(4 * C * sh * sw * slab_rows * wq) + align64(4 * 2 * kw * pitch)
 *   + align64(4 * RBLK * tqp)
 * with shift_k = floor((k * dw - pw) / sw) for k < kw, smin = min(0, shifts),
 * smax = max(0, shifts), wq = max(ceil(W / sw) - smin, OW + smax) rounded up
 * to 8 (to 16 where that wastes at most 1/8), band = clamp(ceil(BAND_Q / wq),
 * 1, OH), slab_rows = band + (kh - 1) * dh / sh, trows = clamp(TQ / wq, 1,
 * band) (smaller tiles for AVX2 and the register form), tqp = trows * wq
 * rounded up to 16, pitch = round16(-smin) + tqp + round16(smax) + 16. */
#include <stdlib.h>
#include <string.h>

#include "kernels/ref/sparse_core.h"

#define BAND_Q 1024 /* q per band (as the slab path) */
#define TQ 256      /* slab positions per tile: whole rows, at least one */
#define TQ_AVX2 128 /* (AVX2: fewer column groups, measured faster) */
#define RBLK 16     /* output channels per call */
#define REG_ACCS 24 /* AVX-512 accumulators of the register form */

static int64_t rup(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static size_t al64(size_t n) { return (n + 63) & ~(size_t)63; }

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

bool ec_sp_shift_plan(ec_sp_shift_conv *s, const ec_sparse *w, size_t scratch, ec_sp_isa isa) {
  if (w->block_r != 1 || w->block_c != 1 || s->kw > EC_SP_SHIFT_MAX_CLASSES || s->oh <= 0 ||
      s->ow <= 0 || s->sy > EC_SP_SHIFT_MAX_STRIDE || s->sx > EC_SP_SHIFT_MAX_STRIDE)
    return false;
  ec_sp_shift *sh = &s->sh;
  memset(sh, 0, sizeof *sh);
  /* tap column kx reads phase plane b = (kx * dw - pw) mod sw at column
   * ox + shift, shift = floor((kx * dw - pw) / sw) */
  /* taps of one shift (of different phases, with a stride) share a class */
  int64_t smin = 0, smax = 0;
  for (int64_t k = 0; k < s->kw; k++) {
    const int64_t d = k * s->dw - s->pw, q = floor_div(d, s->sx);
    s->phase[k] = (int8_t)(d - q * s->sx);
    int64_t cls = 0;
    while (cls < sh->classes && sh->shift[cls] != q) cls++;
    if (cls == sh->classes) sh->shift[sh->classes++] = (int32_t)q;
    s->cls[k] = (int8_t)cls;
    smin = min64(smin, q);
    smax = max64(smax, q);
  }
  /* the phase planes some stored weight reads, numbered densely */
  bool use_py[EC_SP_SHIFT_MAX_STRIDE] = {false}, use_px[EC_SP_SHIFT_MAX_STRIDE] = {false};
  if (s->sy > 1 || s->sx > 1) {
    const int64_t kk = s->kh * s->kw;
    for (int64_t j = 0; j < w->nnz; j++) {
      const int64_t idx = ec_sp_index(w, j) % kk;
      use_py[idx / s->kw * s->dh % s->sy] = true;
      use_px[s->phase[idx % s->kw]] = true;
    }
  } else {
    use_py[0] = use_px[0] = w->nnz > 0;
  }
  s->npy = s->npx = 0;
  for (int64_t i = 0; i < s->sy; i++) s->py_slot[i] = (int8_t)(use_py[i] ? s->npy++ : -1);
  for (int64_t i = 0; i < s->sx; i++) s->px_slot[i] = (int8_t)(use_px[i] ? s->npx++ : -1);
  if (s->npy == 0) s->npy = 1; /* no weights: one (unread) plane keeps sizes simple */
  if (s->npx == 0) s->npx = 1;
  /* rows: reads past a row's valid columns land on zero columns */
  const int64_t wcols = (s->w + s->sx - 1) / s->sx; /* the widest phase's columns */
  const int64_t base = max64(wcols - smin, s->ow + smax);
  int64_t wq = rup(base, 8);
  if ((rup(base, 16) - wq) * 8 <= rup(base, 16)) wq = rup(base, 16);
  const int64_t ky = (s->kh - 1) * s->dh / s->sy;
  s->band = min64(max64((BAND_Q + wq - 1) / wq, 1), s->oh);
  s->slab_rows = s->band + ky;
  /* AVX-512 with at most 3 classes of shifts under a vector: the class sums
   * stay in registers (at most REG_ACCS accumulators), tiles that fit */
  int64_t tq = isa == EC_SP_AVX2 ? TQ_AVX2 : TQ;
  sh->regs = false;
  if (isa == EC_SP_AVX512 && sh->classes <= 3 && smin > -16 && smax < 16) {
    const int64_t cap = min64(REG_ACCS / sh->classes, 16) * 16;
    if (wq <= cap) {
      sh->regs = true;
      tq = cap;
    }
  }
  s->trows = min64(max64(tq / wq, 1), s->band);
  s->tqp = rup(s->trows * wq, 16);
  const int64_t lead = rup(-smin, 16), trail = rup(smax, 16) + 16;
  const int64_t planes = s->c * s->npy * s->npx;
  if (!ec_fits(planes, s->slab_rows) || !ec_fits(planes * s->slab_rows, wq) ||
      planes * s->slab_rows * wq > INT32_MAX)
    return false;
  s->slab_bytes = al64((size_t)(planes * s->slab_rows * wq) * sizeof(float));
  s->sbuf_bytes = al64((size_t)(2 * sh->classes * (lead + s->tqp + trail)) * sizeof(float));
  s->ws_bytes = s->slab_bytes + s->sbuf_bytes + al64((size_t)(RBLK * s->tqp) * sizeof(float));
  if (s->ws_bytes > scratch) return false;
  sh->rows = w->rows;
  sh->wq = wq;
  sh->ow = s->ow;
  sh->lead = lead;
  sh->pitch = lead + s->tqp + trail;
  /* column groups whose tile input stays within L1 */
  int64_t span;
  ec_sp_plan_groups(s->c, 4 * s->npy * s->npx * (s->trows + ky) * wq, &sh->groups, &span);
  return true;
}

static int64_t group_span(const ec_sp_shift_conv *s) {
  return (s->c + s->sh.groups - 1) / s->sh.groups;
}

size_t ec_sp_shift_layout_bytes(const ec_sp_shift_conv *s, const ec_sparse *w) {
  const size_t segs = (size_t)(w->rows * s->sh.groups * s->sh.classes + 1);
  return al64((size_t)w->nnz * sizeof(float)) + al64((size_t)w->nnz * sizeof(int32_t)) +
         al64(segs * sizeof(int32_t));
}

bool ec_sp_shift_layout(ec_sp_shift_conv *s, const ec_sparse *w, const float *values,
                        void *mem) {
  ec_sp_shift *sh = &s->sh;
  float *vals = mem;
  int32_t *offs = (int32_t *)(void *)((uint8_t *)mem + al64((size_t)w->nnz * sizeof(float)));
  int32_t *segs =
      (int32_t *)(void *)((uint8_t *)offs + al64((size_t)w->nnz * sizeof(int32_t)));
  const int64_t kk = s->kh * s->kw, span = group_span(s), cls = sh->classes;
  const int64_t rows = w->rows, cols = w->cols;
  /* per weight column: its segment for row 0 and its slab offset */
  int32_t *tab = malloc((size_t)(2 * cols) * sizeof(int32_t));
  if (!tab) return false;
  for (int64_t col = 0; col < cols; col++) {
    const int64_t c = col / kk, ki = col % kk / s->kw, kj = col % s->kw;
    const int64_t py = ki * s->dh % s->sy, ty = ki * s->dh / s->sy;
    const int8_t ys = s->py_slot[py], xs = s->px_slot[s->phase[kj]];
    const int64_t plane = (c * s->npy + (ys < 0 ? 0 : ys)) * s->npx + (xs < 0 ? 0 : xs);
    tab[2 * col] = (int32_t)(c / span * rows * cls + s->cls[kj]);
    tab[2 * col + 1] = (int32_t)((plane * s->slab_rows + ty) * sh->wq);
  }
  /* counts per (group, row, class), starts, then a fill that moves each start
   * to its segment's end (entries keep CSR order), shifted back */
  const int64_t nseg = rows * sh->groups * cls;
  memset(segs, 0, (size_t)(nseg + 1) * sizeof(int32_t));
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = w->indptr[r]; j < w->indptr[r + 1]; j++)
      segs[tab[2 * ec_sp_index(w, j)] + r * cls + 1]++;
  for (int64_t i = 0; i < nseg; i++) segs[i + 1] += segs[i];
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = w->indptr[r]; j < w->indptr[r + 1]; j++) {
      const int64_t col = ec_sp_index(w, j);
      const int32_t at = segs[tab[2 * col] + r * cls]++;
      vals[at] = values[j];
      offs[at] = tab[2 * col + 1];
    }
  free(tab);
  memmove(segs + 1, segs, (size_t)nseg * sizeof(int32_t));
  segs[0] = 0;
  sh->values = vals;
  sh->offs = offs;
  sh->segs = segs;
  return true;
}

/* Row t of plane (c, py, px) holds input row (oh0 + t) * sh + py - ph,
 * its column j input column j * sw + px; zero outside the input. */
static void build_slab(const ec_sp_shift_conv *s, const float *x, int64_t oh0, int64_t rows,
                       float *restrict slab) {
  const int64_t wq = s->sh.wq;
  for (int64_t c = 0; c < s->c; c++) {
    for (int64_t py = 0; py < s->sy; py++) {
      if (s->py_slot[py] < 0) continue;
      for (int64_t px = 0; px < s->sx; px++) {
        if (s->px_slot[px] < 0) continue;
        const int64_t plane = (c * s->npy + s->py_slot[py]) * s->npx + s->px_slot[px];
        const int64_t n = px < s->w ? (s->w - px + s->sx - 1) / s->sx : 0; /* valid columns */
        for (int64_t t = 0; t < rows; t++) {
          float *dst = slab + (plane * s->slab_rows + t) * wq;
          const int64_t ih = (oh0 + t) * s->sy + py - s->ph;
          if (ih < 0 || ih >= s->h) {
            memset(dst, 0, (size_t)wq * sizeof(float));
            continue;
          }
          const float *src = x + (c * s->h + ih) * s->w + px;
          if (s->sx == 1) {
            memcpy(dst, src, (size_t)n * sizeof(float));
          } else {
            for (int64_t j = 0; j < n; j++) dst[j] = src[j * s->sx];
          }
          memset(dst + n, 0, (size_t)(wq - n) * sizeof(float));
        }
      }
    }
  }
}

void ec_sp_shift_job(const ec_sp_shift_conv *s, ec_sp_isa isa, const float *x, float *y,
                     const float *res, const float *bias, const ec_act *act, int64_t band,
                     int64_t m0, int64_t m1, uint8_t *ws) {
  const int64_t oh0 = band * s->band, nb = min64(s->band, s->oh - oh0);
  float *slab = (float *)(void *)ws;
  float *sbuf = (float *)(void *)(ws + s->slab_bytes);
  float *part = (float *)(void *)(ws + s->slab_bytes + s->sbuf_bytes);
  build_slab(s, x, oh0, nb + s->slab_rows - s->band, slab);
  memset(sbuf, 0, s->sbuf_bytes); /* the guards around each class's sums */
  const int64_t p = s->oh * s->ow, tiles = (nb + s->trows - 1) / s->trows;
  for (int64_t t = 0; t < tiles; t++) {
    /* balanced tiles of whole rows */
    const int64_t r0 = t * nb / tiles, rows = (t + 1) * nb / tiles - r0;
    for (int64_t mb = m0; mb < m1; mb += RBLK) {
      const int64_t me = min64(mb + RBLK, m1);
      const int64_t yo = mb * p + (oh0 + r0) * s->ow;
      const ec_sp_epilogue e = {1.0f, 1.0f, bias ? bias + mb : NULL, res ? res + yo : NULL,
                                p, *act};
      if (isa == EC_SP_AVX512)
        ec_x86_sp_shift_avx512(&s->sh, mb, me, slab + r0 * s->sh.wq, rows, y + yo, p, part,
                               sbuf, &e);
      else
        ec_x86_sp_shift_avx2(&s->sh, mb, me, slab + r0 * s->sh.wq, rows, y + yo, p, part,
                             sbuf, &e);
    }
  }
}
