/* Gemm (Y = act(alpha * op(A) . op(B) + beta * C [+ R]), C broadcast to
 * (M, N), R an optional residual addend of Y's shape, input 3, fused by
 * edgec/passes/fuse_residual.py) and MatMul (numpy semantics: batched with
 * broadcast batch dims, 1-D operands promoted and their unit dim dropped),
 * both float32 on ec_sgemm_ex, with scale, C, R and the activation as the
 * GEMM's epilogue. Unlike ONNX Gemm, A (not transposed) and Y may have more
 * than two dims with the same leading ones: the product then runs on their
 * 2-D views, the leading dims folded into M (edgec/passes/fuse_matmul_bias.py
 * turns MatMul + Add into such a Gemm).
 *
 * The GEMM runs in the instruction's kernel family (EC_VARIANT_*, capped by
 * the CPU). With EC_VARIANT_PACKED, B is a constant in the GEMM's B layout,
 * [ceil(N / 16), K, 16] (gemm_core.h), used in place: Gemm then ignores
 * transB, and MatMul takes B as the 2-D (K, N) it was packed from (A of
 * rank >= 2, its batch folded into M).
 *
 * The output is cut into jobs of (batch, column tile, row tile). A session
 * without threads runs one job per batch; with threads the tiles shrink
 * until there are enough jobs to share. Column tiles outermost: each thread's
 * share of the jobs (pool.c) is whole column tiles, which come out equal
 * where the 12-row tiles do not (BERT's 128 rows: 36 + 36 + 36 + 20), and each
 * thread streams its own part of B, the weights. Workspace per thread (mirrored by
 * edgec/lower/conv.py): ec_sgemm_workspace(M, N, K), with MatMul's batch
 * folded into M when B has no batch of its own.
 *
 * float64 operands (all of them) run a plain reference loop instead, one
 * output row per job, accumulating in double: no packed B, no activation.
 * (The compiler runs float16/bfloat16 products in float32 between casts.) */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h"

#define MIN_JOBS 16
#define TILE_M 240
#define TILE_N 1024
#define TILE_ALIGN_M 12 /* row tiles: whole register tiles of every family */
#define TILE_ALIGN_N 32 /* column tiles: whole B slivers and tiles */
/* Multiply-adds below which a job range is not worth waking another thread
 * for (a few microseconds of work): small products run on the caller. */
#define MIN_PARALLEL_MACS ((int64_t)1 << 18)

typedef struct mm_params {
  int64_t m, n, k;
  int64_t a_rs, a_cs, b_rs, b_cs;
  bool packed_b;
  bool f64; /* float64 operands: the reference loop */
  ec_isa isa;
  /* batch dims of the output, and the operands' strides along them
   * (elements, 0 where broadcast) */
  int32_t brank;
  int64_t bshape[EC_MAX_RANK], a_bstride[EC_MAX_RANK], b_bstride[EC_MAX_RANK];
  int64_t batch;
  /* Gemm epilogue */
  float alpha, beta;
  bool has_c, has_res;
  int64_t c_rs, c_cs;
  ec_act act;
} mm_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static ec_status read_variant(ec_node *n, mm_params *p) {
  if (!ec_variant_isa(n->variant, EC_VARIANT_PACKED, &p->isa))
    return ec_variant_error(n);
  p->packed_b = (n->variant & EC_VARIANT_PACKED) != 0;
  return EC_OK;
}

/* B packed for (K, N): [ceil(N / 16), K, 16]. */
static ec_status check_packed_b(ec_node *n, const mm_params *p) {
  const ec_tensor_desc *b = n->tin[1];
  if (b->rank != 3 || b->shape[0] != ceil_div(p->n, EC_PACK_NR) || b->shape[1] != p->k ||
      b->shape[2] != EC_PACK_NR)
    return ec_node_error(n, EC_ERR_SHAPE, "A, packed B and Y shapes do not multiply "
                         "(K %lld, N %lld)",
                         (long long)p->k, (long long)p->n);
  return EC_OK;
}

static ec_status check_scratch(ec_node *n, const mm_params *p) {
  return ec_check_scratch(n, ec_sgemm_workspace(p->m, p->n, p->k));
}

static ec_status store_params(ec_node *n, const mm_params *p) {
  if (!ec_fits(p->m, p->k) || !ec_fits(p->k, p->n) || !ec_fits(p->m, p->n))
    return ec_sizes_error(n);
  ec_status st = check_scratch(n, p);
  if (st == EC_OK) st = ec_alloc_params(n, sizeof *p);
  if (st == EC_OK) memcpy(n->params, p, sizeof *p);
  return st;
}

/* float32 operands, or float64 ones (*f64; no packing, no activation). */
static ec_status check_float_io(ec_node *n, int32_t min_in, int32_t max_in, bool *f64) {
  ec_status st = ec_check_arity(n, min_in, max_in, 1);
  if (st != EC_OK) return st;
  const ec_dtype dt = n->tin[0]->dtype == EC_FLOAT64 ? EC_FLOAT64 : EC_FLOAT32;
  for (int32_t i = 0; st == EC_OK && i < n->n_in; i++)
    if (n->tin[i]) st = ec_check_dtype(n, n->tin[i], dt, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], dt, "output");
  *f64 = dt == EC_FLOAT64;
  if (st == EC_OK && *f64 && (n->variant & EC_VARIANT_PACKED))
    st = ec_node_error(n, EC_ERR_UNSUPPORTED, "float64 with a packed B");
  if (st == EC_OK && *f64 && n->opt.type == EC_FB_OPOPTIONS_GEMMOPTIONS &&
      n->opt.u.gemm.activation != EC_FB_ACTIVATION_NONE)
    st = ec_node_error(n, EC_ERR_UNSUPPORTED, "float64 with a fused activation");
  return st;
}

/* ---- Gemm --------------------------------------------------------------- */

/* Strides that broadcast C (rank <= 2, unidirectionally) over (m, n). */
static ec_status read_gemm_c(ec_node *n, const ec_tensor_desc *c, mm_params *p) {
  int64_t rows = 1, cols = 1;
  if (c->rank == 2) {
    rows = c->shape[0];
    cols = c->shape[1];
  } else if (c->rank == 1) {
    cols = c->shape[0];
  } else if (c->rank != 0) {
    return ec_node_error(n, EC_ERR_SHAPE, "C has rank %d", c->rank);
  }
  if ((rows != 1 && rows != p->m) || (cols != 1 && cols != p->n))
    return ec_node_error(n, EC_ERR_SHAPE, "C does not broadcast to (%lld, %lld)",
                         (long long)p->m, (long long)p->n);
  p->has_c = true;
  p->c_rs = rows == 1 ? 0 : cols;
  p->c_cs = cols == 1 ? 0 : 1;
  return EC_OK;
}

static ec_status prepare_gemm(ec_node *n) {
  bool f64;
  ec_status st = check_float_io(n, 2, 4, &f64);
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_GEMMOPTIONS);
  if (st != EC_OK) return st;
  const ec_gemm_options *o = &n->opt.u.gemm;
  const ec_tensor_desc *a = n->tin[0], *b = n->tin[1], *y = n->tout[0];
  mm_params p;
  memset(&p, 0, sizeof p);
  p.f64 = f64;
  st = read_variant(n, &p);
  if (st != EC_OK) return st;
  /* A and Y of higher rank are 2-D views (see above): their leading dims agree */
  bool views = a->rank >= 2 && a->rank == y->rank && !o->trans_a;
  for (int32_t i = 0; views && i + 1 < a->rank; i++) views = a->shape[i] == y->shape[i];
  if ((a->rank != 2 && !views) || (b->rank != 2 && !p.packed_b) || (y->rank != 2 && !views))
    return ec_node_error(n, EC_ERR_SHAPE, "A, B and Y must be matrices");
  st = ec_check_act(n, o->activation);
  if (st != EC_OK) return st;
  p.m = a->shape[o->trans_a ? 1 : 0];
  p.k = a->shape[o->trans_a ? 0 : a->rank - 1];
  for (int32_t i = 1; i + 1 < a->rank; i++) {
    if (!ec_fits(p.m, a->shape[i])) return ec_sizes_error(n);
    p.m *= a->shape[i];
  }
  if (p.packed_b) {
    p.n = y->shape[y->rank - 1];
    st = check_packed_b(n, &p);
    if (st != EC_OK) return st;
  } else {
    p.n = b->shape[o->trans_b ? 0 : 1];
    if (b->shape[o->trans_b ? 1 : 0] != p.k)
      return ec_node_error(n, EC_ERR_SHAPE, "A, B and Y shapes do not multiply");
    p.b_rs = o->trans_b ? 1 : p.n;
    p.b_cs = o->trans_b ? p.k : 1;
  }
  if ((y->rank == 2 && y->shape[0] != p.m) || y->shape[y->rank - 1] != p.n)
    return ec_node_error(n, EC_ERR_SHAPE, "A, B and Y shapes do not multiply");
  p.a_rs = o->trans_a ? 1 : p.k;
  p.a_cs = o->trans_a ? p.m : 1;
  p.batch = 1;
  p.alpha = o->alpha;
  p.beta = o->beta;
  p.act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  if (n->n_in >= 3 && n->tin[2]) {
    st = read_gemm_c(n, n->tin[2], &p);
    if (st != EC_OK) return st;
  }
  st = ec_check_residual(n);
  if (st != EC_OK) return st;
  p.has_res = n->n_in == 4;
  return store_params(n, &p);
}

/* ---- MatMul ------------------------------------------------------------- */

/* Batch dims of one operand (rank r, matrix dims dropped), right-aligned
 * against the output's; strides in elements of whole matrices. */
static ec_status broadcast_batch(ec_node *n, const ec_tensor_desc *t, int64_t matrix,
                                 mm_params *p, int64_t *stride) {
  const int32_t r = t->rank > 2 ? t->rank - 2 : 0, lead = p->brank - r;
  int64_t s = matrix;
  for (int32_t i = p->brank - 1; i >= 0; i--) {
    const int64_t d = i >= lead ? t->shape[i - lead] : 1;
    if (d != 1 && d != p->bshape[i])
      return ec_node_error(n, EC_ERR_SHAPE, "batch dims do not broadcast");
    stride[i] = d == 1 ? 0 : s;
    /* past the limit the operand is empty and the strides are never used */
    s = ec_fits(s, d) ? s * d : (int64_t)1 << 40;
  }
  return EC_OK;
}

static ec_status read_matmul_shapes(ec_node *n, mm_params *p) {
  const ec_tensor_desc *a = n->tin[0], *b = n->tin[1], *y = n->tout[0];
  if (a->rank < 1 || b->rank < 1)
    return ec_node_error(n, EC_ERR_SHAPE, "MatMul of a scalar");
  p->m = a->rank >= 2 ? a->shape[a->rank - 2] : 1;
  p->k = a->shape[a->rank - 1];
  p->n = b->rank >= 2 ? b->shape[b->rank - 1] : 1;
  const int64_t kb = b->shape[b->rank >= 2 ? b->rank - 2 : 0];
  if (kb != p->k)
    return ec_node_error(n, EC_ERR_SHAPE, "inner dims %lld and %lld differ",
                         (long long)p->k, (long long)kb);
  /* Y = batch dims, then m unless A is 1-D, then n unless B is 1-D */
  const int32_t tail = (a->rank >= 2) + (b->rank >= 2);
  p->brank = y->rank - tail;
  const int32_t ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  if (p->brank != (ab > bb ? ab : bb))
    return ec_node_error(n, EC_ERR_SHAPE, "output rank %d does not match", y->rank);
  p->batch = 1;
  for (int32_t i = 0; i < p->brank; i++) {
    p->bshape[i] = y->shape[i];
    p->batch = ec_fits(p->batch, y->shape[i]) ? p->batch * y->shape[i] : 0;
  }
  if (!ec_fits(p->m, p->k) || !ec_fits(p->k, p->n))
    return ec_sizes_error(n);
  if ((a->rank >= 2 && y->shape[p->brank] != p->m) ||
      (b->rank >= 2 && y->shape[y->rank - 1] != p->n))
    return ec_node_error(n, EC_ERR_SHAPE, "output shape does not match");
  ec_status st = broadcast_batch(n, a, p->m * p->k, p, p->a_bstride);
  if (st == EC_OK) st = broadcast_batch(n, b, p->k * p->n, p, p->b_bstride);
  return st;
}

/* When B is shared by every batch and A is not broadcast, the batch is just
 * more rows of A: one big product instead of many small ones. */
static void fold_batch(mm_params *p) {
  for (int32_t i = 0; i < p->brank; i++)
    if (p->b_bstride[i] != 0 || (p->bshape[i] != 1 && p->a_bstride[i] == 0)) return;
  if (!ec_fits(p->m, p->batch)) return;
  p->m *= p->batch;
  p->batch = 1;
  p->brank = 0;
}

/* MatMul with B packed from a (K, N) matrix: Y is A's shape with N last. */
static ec_status read_matmul_packed(ec_node *n, mm_params *p) {
  const ec_tensor_desc *a = n->tin[0], *y = n->tout[0];
  if (a->rank < 2 || y->rank != a->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "packed B needs A of rank >= 2 and Y of its rank");
  p->k = a->shape[a->rank - 1];
  p->n = y->shape[y->rank - 1];
  p->m = 1;
  for (int32_t i = 0; i + 1 < a->rank; i++) {
    if (y->shape[i] != a->shape[i])
      return ec_node_error(n, EC_ERR_SHAPE, "output shape does not match");
    if (!ec_fits(p->m, a->shape[i])) return ec_sizes_error(n);
    p->m *= a->shape[i];
  }
  if (!ec_fits(p->m, p->k) || !ec_fits(p->k, p->n))
    return ec_sizes_error(n);
  p->batch = 1;
  return check_packed_b(n, p);
}

static ec_status prepare_matmul(ec_node *n) {
  bool f64;
  ec_status st = check_float_io(n, 2, 2, &f64);
  if (st != EC_OK) return st;
  mm_params p;
  memset(&p, 0, sizeof p);
  p.f64 = f64;
  st = read_variant(n, &p);
  if (st != EC_OK) return st;
  st = p.packed_b ? read_matmul_packed(n, &p) : read_matmul_shapes(n, &p);
  if (st != EC_OK) return st;
  p.a_rs = p.k;
  p.a_cs = 1;
  if (!p.packed_b) {
    p.b_rs = p.n;
    p.b_cs = 1;
  }
  p.alpha = 1.0f;
  if (!p.packed_b && n->tin[0]->rank >= 2) fold_batch(&p);
  return store_params(n, &p);
}

/* ---- eval --------------------------------------------------------------- */

typedef struct mm_ctx {
  const mm_params *p;
  const float *a, *b, *c, *res;
  float *y;
  uint8_t *const *workspace;
  int64_t tm, tn, mt, nt;
} mm_ctx;

/* Offsets of batch bi's matrices in A and B (elements). */
static void batch_offsets(const mm_params *p, int64_t bi, int64_t *aoff, int64_t *boff) {
  *aoff = *boff = 0;
  for (int32_t d = p->brank - 1; d >= 0; d--) {
    const int64_t idx = bi % p->bshape[d];
    bi /= p->bshape[d];
    *aoff += idx * p->a_bstride[d];
    *boff += idx * p->b_bstride[d];
  }
}

static void run_job(const mm_ctx *c, int64_t job, uint8_t *ws) {
  const mm_params *p = c->p;
  const int64_t it = job % c->mt, jt = job / c->mt % c->nt, bi = job / c->mt / c->nt;
  int64_t aoff, boff;
  batch_offsets(p, bi, &aoff, &boff);
  const int64_t i0 = it * c->tm, j0 = jt * c->tn;
  const int64_t mm = min64(c->tm, p->m - i0), nn = min64(c->tn, p->n - j0);
  const int64_t yoff = bi * p->m * p->n + i0 * p->n + j0;
  const ec_operand a = {c->a + aoff + i0 * p->a_rs, p->a_rs, p->a_cs, 0};
  ec_operand b = {c->b + boff + j0 * p->b_cs, p->b_rs, p->b_cs, 0};
  if (p->packed_b) b = (ec_operand){c->b + j0 / EC_PACK_NR * p->k * EC_PACK_NR, 0, 0,
                                    p->k * EC_PACK_NR};
  const bool with_c = c->c && p->beta != 0.0f;
  const ec_epilogue epi = {p->alpha, p->beta, with_c ? c->c + i0 * p->c_rs + j0 * p->c_cs : NULL,
                           p->c_rs, p->c_cs, c->res ? c->res + yoff : NULL, p->n, p->act};
  const bool plain = p->alpha == 1.0f && !with_c && !c->res &&
                     p->act.kind == EC_FB_ACTIVATION_NONE;
  ec_sgemm_ex(p->isa, mm, nn, p->k, &a, &b, c->y + yoff, p->n, false, plain ? NULL : &epi, ws);
}

static void mm_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const mm_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) run_job(c, job, c->workspace[thread]);
}

/* float64: rows [begin, end) of the batch-stacked output, in double. */
static void mm_f64_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const mm_ctx *c = vc;
  const mm_params *p = c->p;
  const double *A = (const void *)c->a, *B = (const void *)c->b;
  const double *C = (const void *)c->c, *R = (const void *)c->res;
  double *Y = (void *)c->y;
  for (int64_t r = begin; r < end; r++) {
    const int64_t i = r % p->m;
    int64_t aoff, boff;
    batch_offsets(p, r / p->m, &aoff, &boff);
    for (int64_t j = 0; j < p->n; j++) {
      double acc = 0.0;
      for (int64_t k = 0; k < p->k; k++)
        acc += A[aoff + i * p->a_rs + k * p->a_cs] * B[boff + k * p->b_rs + j * p->b_cs];
      double v = (double)p->alpha * acc;
      if (C && p->beta != 0.0f) v += (double)p->beta * C[i * p->c_rs + j * p->c_cs];
      if (R) v += R[r * p->n + j];
      Y[r * p->n + j] = v;
    }
  }
}

/* Tiles small enough for MIN_JOBS jobs, preferring to cut columns first
 * (a column tile re-packs only A, which is the cheaper operand to redo). */
static void choose_tiles(mm_ctx *c, bool parallel) {
  const mm_params *p = c->p;
  c->tm = p->m;
  c->tn = p->n;
  if (parallel) {
    c->tm = min64(p->m, TILE_M);
    c->tn = min64(p->n, TILE_N);
    while (p->batch * ceil_div(p->m, c->tm) * ceil_div(p->n, c->tn) < MIN_JOBS) {
      if (c->tn >= 256)
        c->tn = ceil_div(c->tn / 2, TILE_ALIGN_N) * TILE_ALIGN_N;
      else if (c->tm >= 60)
        c->tm = ceil_div(c->tm / 2, TILE_ALIGN_M) * TILE_ALIGN_M;
      else
        break;
    }
  }
  c->mt = ceil_div(p->m, c->tm);
  c->nt = ceil_div(p->n, c->tn);
}

static void eval_mm(const ec_node *n, const ec_exec *ex) {
  const mm_params *p = n->params;
  if (p->m == 0 || p->n == 0 || p->batch == 0) return;
  mm_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
              p->has_c ? ex->data[n->in[2]] : NULL, p->has_res ? ex->data[n->in[3]] : NULL,
              ex->data[n->out[0]], ex->workspace, 0, 0, 0, 0};
  if (p->f64) {
    const int64_t row = p->n * (p->k > 0 ? p->k : 1);
    ec_parallel_for(ex, p->batch * p->m,
                    row >= MIN_PARALLEL_MACS ? 1 : ceil_div(MIN_PARALLEL_MACS, row), mm_f64_range,
                    &c);
    return;
  }
  choose_tiles(&c, ex->pool != NULL);
  const int64_t macs = c.tm * c.tn * (p->k > 0 ? p->k : 1);
  ec_parallel_for(ex, p->batch * c.mt * c.nt,
                  macs >= MIN_PARALLEL_MACS ? 1 : ceil_div(MIN_PARALLEL_MACS, macs), mm_range,
                  &c);
}

EC_KERNEL(ec_kernel_gemm, "gemm", prepare_gemm, eval_mm)
EC_KERNEL(ec_kernel_matmul, "matmul", prepare_matmul, eval_mm)
