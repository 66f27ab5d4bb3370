/* SPARSE_GEMM: a fully connected layer Y = act(alpha * X . W^T + beta * b)
 * whose weight W (N, K) is stored sparse (ec_sparse: rows = output
 * features). X has any rank >= 1 with K last (its other dims are rows);
 * Y is X's shape with N last; b, optional (input 2), has shape (N) or
 * (1, N). GemmOptions: trans_a false and trans_b true (W as nn.Linear
 * stores it), alpha, beta, activation.
 *   fewer than GATHER_ROWS rows: each output is a dot product of a stored
 *     row of W with the input row, gathered (jobs: rows x blocks of outputs);
 *   otherwise: a tile of up to TB input rows is transposed into the thread's
 *     workspace (K x tb), then for each block of up to RB outputs the
 *     conv-style product runs on it (RB x tb, also in the workspace) and the
 *     result is transposed into Y (jobs: input tiles).
 * Workspace per thread (edgec/passes/sparsify.py mirrors it): 0 when
 * gathering, else align64(4 * K * tb) + align64(4 * min(N, RB) * tb) with
 * tb = min(rows, TB). */
#include <string.h>

#include "kernel.h"
#include "kernels/ref/sparse_core.h"

#define GATHER_ROWS 8
#define TB 64
#define RB 256
#define GATHER_BLOCK 64 /* outputs per gather job */

typedef struct spgemm_params {
  ec_sp_isa isa;
  int64_t rows, k, n;
  int64_t tb, rb; /* transposed path: input rows per tile, outputs per block */
  bool has_bias, gather;
  float alpha, beta;
  const ec_sparse *weight;
  ec_sp_weight sw; /* tiled: offsets = stored column * tb, column groups */
  ec_act act;
} spgemm_params;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static ec_status check_operands(ec_node *n) {
  ec_status st = ec_check_arity(n, 2, 3, 1);
  for (int32_t i = 0; st == EC_OK && i < n->n_in; i++)
    if (n->tin[i]) st = ec_check_dtype(n, n->tin[i], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_FLOAT32, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_GEMMOPTIONS);
  if (st != EC_OK) return st;
  const ec_gemm_options *o = &n->opt.u.gemm;
  if (o->trans_a || !o->trans_b)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "needs trans_a = false and trans_b = true");
  st = ec_check_act(n, o->activation);
  if (st != EC_OK) return st;
  const ec_tensor_desc *w = n->tin[1];
  st = ec_sp_check_weight(n, w, 64);
  if (st != EC_OK) return st;
  if (w->rank != 2) return ec_node_error(n, EC_ERR_SHAPE, "weight of rank %d", w->rank);
  return EC_OK;
}

static ec_status read_shapes(ec_node *n, spgemm_params *p) {
  const ec_tensor_desc *x = n->tin[0], *w = n->tin[1], *y = n->tout[0];
  p->n = w->shape[0];
  p->k = w->shape[1];
  if (x->rank < 1 || y->rank != x->rank || x->shape[x->rank - 1] != p->k ||
      y->shape[y->rank - 1] != p->n)
    return ec_node_error(n, EC_ERR_SHAPE, "X (.., %lld) and W (%lld, %lld) do not multiply "
                         "into Y", (long long)(x->rank ? x->shape[x->rank - 1] : 0),
                         (long long)p->n, (long long)p->k);
  for (int32_t i = 0; i + 1 < x->rank; i++)
    if (x->shape[i] != y->shape[i])
      return ec_node_error(n, EC_ERR_SHAPE, "X and Y differ in dim %d", (int)i);
  p->rows = x->numel / p->k; /* k >= 1: a sparse tensor has elements */
  const ec_tensor_desc *b = n->n_in >= 3 ? n->tin[2] : NULL;
  if (b && !((b->rank == 1 && b->shape[0] == p->n) ||
             (b->rank == 2 && b->shape[0] == 1 && b->shape[1] == p->n)))
    return ec_node_error(n, EC_ERR_SHAPE, "bias must have shape (%lld) or (1, %lld)",
                         (long long)p->n, (long long)p->n);
  p->has_bias = b != NULL;
  return EC_OK;
}

static ec_status prepare_sparse_gemm(ec_node *n) {
  spgemm_params p;
  memset(&p, 0, sizeof p);
  ec_status st = check_operands(n);
  if (st == EC_OK && !ec_sp_variant_isa(n->variant, &p.isa))
    st = ec_variant_error(n);
  if (st == EC_OK) st = read_shapes(n, &p);
  if (st != EC_OK) return st;
  const ec_gemm_options *o = &n->opt.u.gemm;
  p.alpha = o->alpha;
  p.beta = o->beta;
  p.act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  p.weight = &n->tin[1]->sparse;
  p.gather = p.rows < GATHER_ROWS;
  size_t need = 0;
  if (!p.gather) {
    const int64_t br = p.weight->block_r;
    p.tb = min64(p.rows, TB);
    p.rb = p.n <= RB ? p.n : RB - RB % br;
    if (!ec_fits(p.k, p.tb)) return ec_sizes_error(n);
    need = ec_align64((size_t)(p.k * p.tb) * sizeof(float)) +
           ec_align64((size_t)(p.rb * p.tb) * sizeof(float));
  }
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  const size_t head = ec_align64(sizeof p);
  int64_t groups = 1, span = p.k;
  if (!p.gather) ec_sp_plan_groups(p.k, 4 * p.tb, &groups, &span);
  st = ec_alloc_params(n, head + (p.gather ? 0 : ec_sp_weight_bytes(p.weight, groups)));
  if (st == EC_OK && !p.gather)
    st = ec_sp_weight_init(n, &p.sw, p.weight, p.tb, groups, span, (uint8_t *)n->params + head);
  if (st != EC_OK) return st;
  memcpy(n->params, &p, sizeof p);
  return EC_OK;
}

/* ---- eval --------------------------------------------------------------- */

typedef struct spgemm_ctx {
  const spgemm_params *p;
  const float *x, *values, *bias;
  float *y;
  uint8_t *const *workspace;
  int64_t oblock, oblocks; /* outputs per job, and jobs per input tile */
  ec_sp_weight sw;
} spgemm_ctx;

static void gather_job(const spgemm_ctx *c, int64_t job) {
  const spgemm_params *p = c->p;
  const int64_t ob = job % c->oblocks, row = job / c->oblocks;
  const int64_t r0 = ob * c->oblock, r1 = min64(r0 + c->oblock, p->n);
  const ec_sp_epilogue e = {p->alpha, p->beta, c->bias ? c->bias + r0 : NULL, NULL, 0, p->act};
  ec_sp_gather(p->isa, p->weight, c->values, r0, r1, c->x + row * p->k,
               c->y + row * p->n + r0, &e);
}

/* dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, in 8 x 8 blocks. */
static void transpose(const float *restrict src, int64_t lds, int64_t rows, int64_t cols,
                      float *restrict dst, int64_t ldd) {
  for (int64_t i0 = 0; i0 < rows; i0 += 8) {
    const int64_t i1 = min64(i0 + 8, rows);
    for (int64_t j0 = 0; j0 < cols; j0 += 8) {
      const int64_t j1 = min64(j0 + 8, cols);
      for (int64_t i = i0; i < i1; i++)
        for (int64_t j = j0; j < j1; j++) dst[j * ldd + i] = src[i * lds + j];
    }
  }
}

static void tile_job(const spgemm_ctx *c, int64_t tile, uint8_t *ws) {
  const spgemm_params *p = c->p;
  const int64_t b0 = tile * p->tb, tb = min64(p->tb, p->rows - b0);
  float *xt = (float *)(void *)ws;
  float *yt = (float *)(void *)(ws + ec_align64((size_t)(p->k * p->tb) * sizeof(float)));
  transpose(c->x + b0 * p->k, p->k, tb, p->k, xt, p->tb);
  for (int64_t r0 = 0; r0 < p->n; r0 += c->oblock) {
    const int64_t r1 = min64(r0 + c->oblock, p->n);
    const ec_sp_epilogue e = {p->alpha, p->beta, c->bias ? c->bias + r0 : NULL, NULL, 0,
                              p->act};
    ec_sp_rows(p->isa, &c->sw, r0, r1, xt, tb, yt, p->tb, &e);
    transpose(yt, p->tb, r1 - r0, tb, c->y + b0 * p->n + r0, p->n);
  }
}

static void job_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const spgemm_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) {
    if (c->p->gather)
      gather_job(c, job);
    else
      tile_job(c, job, c->workspace[thread]);
  }
}

static void eval_sparse_gemm(const ec_node *n, const ec_exec *ex) {
  const spgemm_params *p = n->params;
  if (p->rows == 0 || p->n == 0) return;
  spgemm_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]],
                  p->has_bias ? ex->data[n->in[2]] : NULL, ex->data[n->out[0]], ex->workspace,
                  0, 0, p->sw};
  c.sw.values = c.values;
  int64_t outer;
  if (p->gather) {
    const int64_t br = p->weight->block_r;
    c.oblock = ex->pool ? ceil_div(GATHER_BLOCK, br) * br : p->n;
    outer = p->rows;
    c.oblocks = ceil_div(p->n, c.oblock);
  } else {
    c.oblock = p->rb;
    outer = ceil_div(p->rows, p->tb);
    c.oblocks = 1; /* a tile job runs every output block */
  }
  ec_parallel_for(ex, outer * c.oblocks, 1, job_range, &c);
}

EC_KERNEL(ec_kernel_sparse_gemm, "sparse_gemm", prepare_sparse_gemm, eval_sparse_gemm)
