/* ATTENTION: scaled dot-product attention on float32, fused by
 * edgec/passes/fuse_attention.py from the exporters' MatMul(Q, Kt) ->
 * Div/Mul(scalar) -> [Add(bias)] -> Softmax(last axis) -> MatMul(., V):
 *
 *   Y = softmax(scale * Q . Kt + bias) . V    per (batch, head)
 *
 * Inputs (Q, Kt, V[, bias]), output Y. Views (kernels/attention.h):
 * Q [B, H, Sq, Dk], Kt [B, H, Dk, Sk], V [B, H, Sk, Dv], Y [B, H, Sq, Dv].
 * Each of Q, Kt, V and Y is a stored tensor of rank 2 to 4 and a perm from
 * AxisOptions.axes (the four perms concatenated, or none: identities): its
 * view is Transpose(stored, perm), right-aligned to rank 4 with leading 1s.
 * So the Transposes that split and merge heads around attention are folded
 * into strides instead of being run. Q, Kt and V broadcast their B and H
 * against Y's. bias (rank <= 4) broadcasts to [B, H, Sq, Sk]. AxisOptions:
 * alpha = scale (finite), flags = 0.
 *
 * Numerics as the unfused ops: the max-subtracted softmax with its sum in
 * double here; a row whose max is not finite or that holds a NaN gives NaN
 * (as Softmax does), -inf entries give exact 0 weights, Sk = 0 gives Y = 0.
 *
 * Work is split into jobs of (head, block of query rows) over the session's
 * threads (attention.h); each job's scores live in its thread's workspace,
 * so no [Sq, Sk] score tensor exists anywhere. Instruction.variant picks
 * the kernel family (kernel.h EC_VARIANT_*): on x86 the AVX2 or AVX-512
 * jobs of kernels/x86/attention_impl.h; this file is the reference. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/attention.h"
#include "kernels/ref/gemm_core.h"

/* Multiply-adds below which a job range is not worth waking another thread */
#define MIN_PARALLEL_MACS ((int64_t)1 << 18)

typedef struct att_params {
  ec_att a; /* tensor pointers filled in at eval */
  ec_isa isa;
  int64_t jobs; /* 0 when Y is empty */
  int32_t in_q, in_k, in_v, in_bias, out_y;
} att_params;

/* ---- layout (mirrored by edgec/passes/fuse_attention.py) ------------------- */

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static bool add_region(size_t *total, size_t *off, int64_t rows, int64_t cols) {
  if (!ec_fits(rows, cols) || !ec_fits(rows * cols, 4)) return false;
  *off = *total;
  *total += ec_align64((size_t)(rows * cols) * sizeof(float));
  return true;
}

bool ec_att_layout(ec_att *a) {
  a->ldk = a->lds = ec_round_up(max64(a->sk, 1), EC_ATT_COL_ALIGN);
  int64_t qb = EC_ATT_BLOCK_FLOATS / a->lds / EC_ATT_ROW_ALIGN * EC_ATT_ROW_ALIGN;
  qb = min64(max64(qb, EC_ATT_ROW_ALIGN), EC_ATT_MAX_ROWS);
  a->qb = min64(qb, a->sq);
  a->nqb = a->qb > 0 ? (a->sq + a->qb - 1) / a->qb : 0;
  /* the x86 jobs reduce rows 16 at a time: room for whole groups */
  const int64_t qb16 = ec_round_up(a->qb, EC_ATT_COL_ALIGN);
  size_t total = 0;
  return add_region(&total, &a->off_kt, a->dk, a->ldk) &&
         add_region(&total, &a->off_q, a->qb, a->dk) &&
         add_region(&total, &a->off_v, a->sk, a->dv) &&
         add_region(&total, &a->off_s, a->qb, a->lds) &&
         add_region(&total, &a->off_inv, qb16, 1) &&
         add_region(&total, &a->off_y, a->qb, a->dv) &&
         add_region(&total, &a->off_max, qb16, EC_ATT_COL_ALIGN) && (a->ws_size = total, true);
}

/* ---- prepare ------------------------------------------------------------------ */

/* The [B, H, rows, cols] view of t under perm (NULL: identity): sizes and
 * strides, 0 strides on unit axes. */
static ec_status read_view(ec_node *n, const ec_tensor_desc *t, const int64_t *perm,
                           const char *what, int64_t dims[4], int64_t strides[4]) {
  const int32_t r = t->rank;
  if (r < 2 || r > 4)
    return ec_node_error(n, EC_ERR_SHAPE, "%s has rank %d, expected 2 to 4", what, r);
  int64_t stored[4];
  bool seen[4] = {false, false, false, false};
  int64_t s = 1;
  for (int32_t i = r - 1; i >= 0; i--) {
    stored[i] = s;
    /* past 2^40 the tensor is empty (a 0 dim elsewhere) and never read */
    s = ec_fits(s, t->shape[i]) ? s * t->shape[i] : (int64_t)1 << 40;
  }
  for (int32_t i = 0; i < 4 - r; i++) dims[i] = 1, strides[i] = 0;
  for (int32_t i = 0; i < r; i++) {
    const int64_t p = perm ? perm[i] : i;
    if (p < 0 || p >= r || seen[p])
      return ec_node_error(n, EC_ERR_FORMAT, "the perm of %s is not a permutation of 0..%d",
                           what, r - 1);
    seen[p] = true;
    dims[4 - r + i] = t->shape[p];
    strides[4 - r + i] = t->shape[p] == 1 ? 0 : stored[p];
  }
  return EC_OK;
}

static ec_status read_bias(ec_node *n, const ec_tensor_desc *t, const int64_t target[4],
                           int64_t strides[4]) {
  if (t->rank > 4)
    return ec_node_error(n, EC_ERR_SHAPE, "bias has rank %d, expected at most 4", t->rank);
  int64_t s = 1;
  for (int32_t i = 3; i >= 0; i--) {
    const int32_t ti = t->rank - 4 + i;
    const int64_t d = ti >= 0 ? t->shape[ti] : 1;
    if (d != 1 && d != target[i])
      return ec_node_error(n, EC_ERR_SHAPE,
                           "bias does not broadcast to the scores [%lld, %lld, %lld, %lld]",
                           (long long)target[0], (long long)target[1], (long long)target[2],
                           (long long)target[3]);
    strides[i] = d == 1 ? 0 : s;
    s = ec_fits(s, d) ? s * d : (int64_t)1 << 40; /* as in read_view */
  }
  return EC_OK;
}

static ec_status prepare_attention(ec_node *n) {
  /* names as arrays, not pointers: no relocation each in a shared library;
   * the operands Q, Kt, V, Y (the views below), then the bias */
  static const char names[5][5] = {"Q", "Kt", "V", "Y", "bias"};
  ec_status st = ec_check_arity(n, 3, 4, 1);
  for (int32_t i = 0; st == EC_OK && i < n->n_in; i++)
    if (n->tin[i]) st = ec_check_dtype(n, n->tin[i], EC_FLOAT32, names[i < 3 ? i : 4]);
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, names[3]);
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_axis_options *o = &n->opt.u.axis;
  if (o->flags != 0)
    return ec_node_error(n, EC_ERR_FORMAT, "unknown flags 0x%x", (unsigned)o->flags);
  if (!isfinite(o->alpha))
    return ec_node_error(n, EC_ERR_FORMAT, "scale %g is not finite", (double)o->alpha);
  att_params p;
  memset(&p, 0, sizeof p);
  if (!ec_variant_isa(n->variant, 0, &p.isa))
    return ec_variant_error(n);

  /* operands: Q, Kt, V, Y with their perms */
  const ec_tensor_desc *t[4] = {n->tin[0], n->tin[1], n->tin[2], n->tout[0]};
  int32_t perm_len = 0;
  for (int32_t i = 0; i < 4; i++) perm_len += t[i]->rank;
  if (o->axes.n != 0 && o->axes.n != perm_len)
    return ec_node_error(n, EC_ERR_FORMAT, "axes holds %d perm entries, the operands need %d",
                         o->axes.n, perm_len);
  int64_t dims[4][4];
  int64_t *strides[4] = {p.a.qs, p.a.ks, p.a.vs, p.a.ys};
  for (int32_t i = 0, at = 0; i < 4; at += t[i]->rank, i++) {
    st = read_view(n, t[i], o->axes.n ? o->axes.v + at : NULL, names[i], dims[i], strides[i]);
    if (st != EC_OK) return st;
  }
  const int64_t *q = dims[0], *k = dims[1], *v = dims[2], *y = dims[3];
  if (q[2] != y[2] || q[3] != k[2] || k[3] != v[2] || v[3] != y[3])
    return ec_node_error(n, EC_ERR_SHAPE,
                         "Q [.., %lld, %lld], Kt [.., %lld, %lld], V [.., %lld, %lld] and "
                         "Y [.., %lld, %lld] do not match",
                         (long long)q[2], (long long)q[3], (long long)k[2], (long long)k[3],
                         (long long)v[2], (long long)v[3], (long long)y[2], (long long)y[3]);
  for (int32_t ax = 0; ax < 2; ax++) {
    const int64_t want = max64(max64(q[ax], k[ax]), v[ax]);
    for (int32_t i = 0; i < 3; i++)
      if (dims[i][ax] != 1 && dims[i][ax] != y[ax])
        return ec_node_error(n, EC_ERR_SHAPE, "%s's %s dim %lld does not broadcast to Y's %lld",
                             names[i], ax ? "head" : "batch", (long long)dims[i][ax],
                             (long long)y[ax]);
    if (want != y[ax])
      return ec_node_error(n, EC_ERR_SHAPE, "Y's %s dim is %lld, the inputs give %lld",
                           ax ? "head" : "batch", (long long)y[ax], (long long)want);
  }
  ec_att *a = &p.a;
  a->b = y[0], a->h = y[1], a->sq = y[2], a->dv = y[3], a->dk = q[3], a->sk = k[3];
  a->scale = o->alpha;
  if (n->n_in == 4 && n->tin[3]) {
    const int64_t scores[4] = {a->b, a->h, a->sq, a->sk};
    st = read_bias(n, n->tin[3], scores, a->ms);
    if (st != EC_OK) return st;
  }
  if (!ec_fits(a->sq, a->sk) || !ec_fits(a->sk, a->dk + a->dv) || !ec_att_layout(a))
    return ec_sizes_error(n);
  st = ec_check_scratch(n, a->ws_size);
  if (st != EC_OK) return st;
  if (a->sk == 0) p.isa = EC_ISA_REF; /* Y = 0: nothing for a vector kernel to do */
  /* Y not empty: B * H * Sq * Dv elements, so B * H * nqb cannot overflow */
  p.jobs = n->tout[0]->numel > 0 ? a->b * a->h * a->nqb : 0;
  p.in_q = n->in[0], p.in_k = n->in[1], p.in_v = n->in[2], p.out_y = n->out[0];
  p.in_bias = n->n_in == 4 ? n->in[3] : -1;
  st = ec_alloc_params(n, sizeof p);
  if (st == EC_OK) memcpy(n->params, &p, sizeof p);
  return st;
}

/* ---- reference ------------------------------------------------------------------- */

/* One query row: scores into s (Sk floats), softmax, then y = p . V. */
static void ref_row(const ec_att *a, const float *q, const float *k, const float *v,
                    const float *bias, float *y, float *s) {
  const int64_t sk = a->sk, dk = a->dk, dv = a->dv;
  float m = -INFINITY;
  for (int64_t j = 0; j < sk; j++) {
    float acc = 0.0f;
    for (int64_t d = 0; d < dk; d++) acc += q[d * a->qs[3]] * k[d * a->ks[2] + j * a->ks[3]];
    s[j] = acc * a->scale + (bias ? bias[j * a->ms[3]] : 0.0f);
    m = s[j] > m ? s[j] : m; /* NaNs skipped, as in kernels/ref/softmax.c */
  }
  double sum = 0.0;
  for (int64_t j = 0; j < sk; j++) {
    s[j] = expf(s[j] - m);
    sum += s[j];
  }
  const float inv = (float)(1.0 / sum);
  for (int64_t c = 0; c < dv; c++) y[c * a->ys[3]] = 0.0f;
  for (int64_t j = 0; j < sk; j++) {
    const float pj = s[j] * inv;
    const float *vj = v + j * a->vs[2];
    for (int64_t c = 0; c < dv; c++) y[c * a->ys[3]] += pj * vj[c * a->vs[3]];
  }
}

void ec_att_jobs_ref(const ec_att *a, int64_t begin, int64_t end, uint8_t *ws) {
  float *s = (float *)(ws + a->off_s);
  for (int64_t job = begin; job < end; job++) {
    const int64_t bh = job / a->nqb, i0 = job % a->nqb * a->qb;
    const int64_t b = bh / a->h, h = bh % a->h, rows = min64(a->qb, a->sq - i0);
    const float *k = a->k + b * a->ks[0] + h * a->ks[1];
    const float *v = a->v + b * a->vs[0] + h * a->vs[1];
    for (int64_t i = i0; i < i0 + rows; i++)
      ref_row(a, a->q + b * a->qs[0] + h * a->qs[1] + i * a->qs[2], k, v,
              a->bias ? a->bias + b * a->ms[0] + h * a->ms[1] + i * a->ms[2] : NULL,
              a->y + b * a->ys[0] + h * a->ys[1] + i * a->ys[2], s);
  }
}

/* ---- eval ---------------------------------------------------------------------------- */

typedef struct att_ctx {
  const ec_att *a;
  ec_isa isa;
  uint8_t *const *workspace;
} att_ctx;

static void att_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const att_ctx *c = vc;
  uint8_t *ws = c->workspace[thread];
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (c->isa == EC_ISA_AVX512) {
    ec_x86_attention_avx512(c->a, begin, end, ws);
    return;
  }
  if (c->isa == EC_ISA_AVX2) {
    ec_x86_attention_avx2(c->a, begin, end, ws);
    return;
  }
#endif
  ec_att_jobs_ref(c->a, begin, end, ws);
}

static void eval_attention(const ec_node *n, const ec_exec *ex) {
  const att_params *p = n->params;
  ec_att a = p->a;
  a.q = ex->data[p->in_q];
  a.k = ex->data[p->in_k];
  a.v = ex->data[p->in_v];
  a.bias = p->in_bias >= 0 ? ex->data[p->in_bias] : NULL;
  a.y = ex->data[p->out_y];
  att_ctx c = {&a, p->isa, ex->workspace};
  const int64_t jobs = p->jobs;
  const int64_t macs = max64(a.qb * a.sk * (a.dk + a.dv), 1);
  ec_parallel_for(ex, jobs, macs >= MIN_PARALLEL_MACS ? 1 : MIN_PARALLEL_MACS / macs + 1,
                  att_range, &c);
}

EC_KERNEL(ec_kernel_attention, "attention", prepare_attention, eval_attention)
