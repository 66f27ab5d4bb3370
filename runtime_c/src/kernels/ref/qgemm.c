/* QGEMM, QMATMUL and DYNAMIC_QGEMM: int8 matrix products against an int8
 * weight.
 *
 * QGEMM (GemmOptions): Y = act(A . op(B) + C), A (int8/uint8 [M, K] or
 *   [K, M] with trans_a, per tensor), B an int8 constant ([K, N], or [N, K]
 *   with trans_b; symmetric, per tensor or per output column n), C an int32
 *   constant [N] (optional, units scale_a * scale_b[n]), Y int8/uint8 (per
 *   tensor, requantized, clamped by NONE/RELU/CLIP) or int32. alpha and beta
 *   must be 1 (the compiler folds them into the scales).
 * QMATMUL: Y = A . B, numpy batching. With B an int8 symmetric constant of
 *   rank 2 it runs as QGEMM (A's batch folded into M). Otherwise (B another
 *   activation, or zero points on B) the reference loops: A and B int8/uint8
 *   with per-tensor zero points (B may also have one per column), Y int8/uint8
 *   (requantized) or int32 (ONNX MatMulInteger).
 * DYNAMIC_QGEMM (GemmOptions, trans_a not supported): float32 A [..., K] is
 *   quantized per row at run time (uint8, asymmetric, the row's min/max with 0
 *   included), multiplied by the int8 weight B (as QGEMM's) in int32, and
 *   written as float32: Y = act(scale_row * scale_b[n] * sum + C[n]), C float32,
 *   act any fused activation of the float GEMM (ec_act_apply).
 *
 * Paths: variant REF runs plain loops. Otherwise, with at most 4 activation
 * rows, dot products of weight rows against the rows (AVX2 maddubs, or
 * AVX-512 VNNI vpdpbusd on unsplit weights, or NEON sdot / smlal); with
 * more, the blocked GEMM of qgemm_core.h on packed weights (W = op(B)^T rows,
 * activation rows as panel columns).
 * Workspace per thread (mirrored by edgec/quant/kernels.py):
 *   REF: dynamic ? align64(K) : 0
 *   dots: align64(M * kd) + align64(4 * M * 64) + align64(8 * M)
 *   blocked: align64(kp * round_up(TM, 16)) + 256 + (dynamic ? align64(TM * K) : 0)
 *            + align64(8 * TM)
 * with kp = round_up(K, 4), kd = round_up(K, 32), TM the row tile below. */
#include <math.h>
#include <string.h>

#include "kernel.h"
#include "kernels/ref/gemm_core.h" /* ec_act_apply: DYNAMIC_QGEMM's float activations */
#include "kernels/ref/qgemm_core.h"

#define QFC_PANEL 131072
#define QFC_TM_MAX 512
#define QFC_ROW_BLOCK 64 /* weight rows per dots job */
#define QFC_MAX_K 65536
#define MIN_JOBS 8

enum { MODE_Q8 = 0, MODE_I32 = 1, MODE_DYNAMIC = 2 };

struct qmm_params;

typedef struct qfc_params {
  const struct qmm_params *general; /* QMATMUL's reference path; NULL otherwise */
  int mode;
  bool blocked, dots;
  ec_q_isa isa;
  int64_t m, n, k, kp, kd, tm;
  int64_t a_rs, a_cs; /* A element (row, q) at a[row * a_rs + q * a_cs] */
  int64_t w_rs, w_cs; /* W = op(B)^T element (n, q) at b[n * w_rs + q * w_cs] */
  bool a_signed;
  uint8_t flip;
  int32_t zp_a;
  ec_qout out;
  ec_act act; /* dynamic: fused activation */
  int32_t *bias_raw, *bias_eff, *row_sum;
  ec_qmul *mul;
  float *w_scale, *f_bias; /* dynamic */
  int8_t *wa, *wa2;        /* packed: slivers, or dots rows */
} qfc_params;

typedef struct qfc_ctx {
  const qfc_params *p;
  const void *a;
  const int8_t *b;
  void *y;
  uint8_t *const *workspace;
  int64_t rb, rblocks; /* weight rows per job, blocks */
  int64_t tiles;       /* activation row tiles */
} qfc_ctx;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static int64_t qfc_tile(int64_t kp, int64_t m) {
  int64_t t = QFC_PANEL / (kp > 0 ? kp : 1) / EC_QNR * EC_QNR;
  if (t < EC_QNR) t = EC_QNR;
  if (t > QFC_TM_MAX) t = QFC_TM_MAX;
  return min64(m, t);
}

static size_t qfc_workspace(const qfc_params *p) {
  if (!p->blocked) return p->mode == MODE_DYNAMIC ? ec_q_align64((size_t)p->k) : 0;
  if (p->dots)
    return ec_q_align64((size_t)(p->m * p->kd)) +
           ec_q_align64((size_t)(4 * p->m * QFC_ROW_BLOCK)) + ec_q_align64((size_t)(8 * p->m));
  size_t b = ec_q_align64(ec_qpanel_bytes(p->k, p->tm)) + 256 + ec_q_align64((size_t)(8 * p->tm));
  if (p->mode == MODE_DYNAMIC) b += ec_q_align64((size_t)(p->tm * p->k));
  return b;
}

/* ---- prepare ------------------------------------------------------------------------ */

/* Fills everything that depends on the weight and the scales. sa, za: A's
 * quantization (static modes); sy, zy: Y's (MODE_Q8). */
static ec_status build(ec_node *n, qfc_params *geo, const ec_tensor_desc *wt, int32_t w_axis,
                       const ec_tensor_desc *bias, float sa, float sy) {
  ec_status st = ec_q_check_weight(n, wt, w_axis, geo->n);
  if (st != EC_OK) return st;
  if (geo->k > QFC_MAX_K)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "K = %lld: int32 sums could overflow",
                         (long long)geo->k);
  if (!ec_q_fits(geo->m, geo->k) || !ec_q_fits(geo->n, geo->k) || !ec_q_fits(geo->m, geo->n))
    return ec_sizes_error(n);
  geo->kp = ec_q_round_up(geo->k, EC_QKG);
  geo->kd = ec_q_round_up(geo->k, EC_QDOTK);
  geo->dots = geo->blocked && geo->m <= EC_QDOT_MAX_COLS;
  geo->tm = qfc_tile(geo->kp, geo->m);
  const size_t need = qfc_workspace(geo);
  st = ec_check_scratch(n, need);
  if (st != EC_OK) return st;
  const int8_t *w = wt->const_data;
  const bool split = geo->blocked && geo->isa != EC_Q_VNNI && geo->isa != EC_Q_NEON &&
                     !ec_qweights_maddubs_safe(w, geo->w_rs, geo->w_cs, geo->n, geo->k);
  const size_t nn = (size_t)geo->n;
  const size_t wbytes = !geo->blocked ? 0
                        : geo->dots   ? ec_qdots_bytes(geo->n, geo->k)
                                      : ec_qweights_bytes(geo->n, geo->k);
  const size_t arrays = ec_q_align64(3 * nn * sizeof(int32_t)) +
                        ec_q_align64(nn * sizeof(ec_qmul)) + ec_q_align64(2 * nn * sizeof(float));
  st = ec_alloc_params(n, ec_q_align64(sizeof *geo) + arrays + (split ? 2 : 1) * wbytes);
  if (st != EC_OK) return st;
  uint8_t *base = n->params;
  qfc_params *p = n->params;
  *p = *geo;
  p->bias_raw = (int32_t *)(base + ec_q_align64(sizeof *p));
  p->bias_eff = p->bias_raw + nn;
  p->row_sum = p->bias_eff + nn;
  p->mul = (ec_qmul *)((uint8_t *)p->bias_raw + ec_q_align64(3 * nn * sizeof(int32_t)));
  p->w_scale = (float *)((uint8_t *)p->mul + ec_q_align64(nn * sizeof(ec_qmul)));
  p->f_bias = p->w_scale + nn;
  uint8_t *wbuf = (uint8_t *)p->w_scale + ec_q_align64(2 * nn * sizeof(float));
  p->wa = geo->blocked ? (int8_t *)wbuf : NULL;
  p->wa2 = geo->blocked && split ? (int8_t *)wbuf + wbytes : NULL;
  ec_qweights_row_sums(w, p->w_rs, p->w_cs, p->n, p->k, p->row_sum);
  const int64_t za_u = p->a_signed ? (int64_t)p->zp_a + 128 : p->zp_a;
  for (int64_t r = 0; r < p->n; r++) {
    p->w_scale[r] = ec_q_weight_scale(wt, r);
    if (p->mode == MODE_DYNAMIC) {
      p->f_bias[r] = bias ? ((const float *)bias->const_data)[r] : 0.0f;
      continue;
    }
    const int64_t b = bias ? ((const int32_t *)bias->const_data)[r] : 0;
    const int64_t eff = b - za_u * p->row_sum[r];
    if (eff < INT32_MIN || eff > INT32_MAX)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "bias of column %lld out of int32 range once "
                           "the input zero point is folded in", (long long)r);
    p->bias_raw[r] = (int32_t)b;
    p->bias_eff[r] = (int32_t)eff;
    p->mul[r] = ec_qmul_from_double((double)sa * p->w_scale[r] / sy);
  }
  if (p->blocked) {
    if (p->dots)
      ec_qpack_weights_dots(w, p->w_rs, p->w_cs, p->n, p->k, p->wa, p->wa2);
    else
      ec_qpack_weights(w, p->w_rs, p->w_cs, p->n, p->k, p->wa, p->wa2);
  }
  p->out.bias = p->bias_eff;
  p->out.mul = p->mul;
  return EC_OK;
}

static ec_status check_bias(ec_node *n, const ec_tensor_desc *c, int64_t cols, ec_dtype dt) {
  ec_status st = ec_check_dtype(n, c, dt, "bias");
  if (st != EC_OK) return st;
  if (c->const_data == NULL)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "bias is not a constant");
  if (c->numel != cols || (c->rank == 2 && c->shape[0] != 1) || c->rank > 2)
    return ec_node_error(n, EC_ERR_SHAPE, "bias must have shape (%lld)", (long long)cols);
  return EC_OK;
}

/* A static int8 operand: dtype, zero point, scale. */
static ec_status read_a(ec_node *n, qfc_params *p, float *sa) {
  const ec_tensor_desc *a = n->tin[0];
  ec_status st = ec_q_check_q8(n, a, "A");
  if (st != EC_OK) return st;
  st = ec_q_per_tensor(n, a, "A", sa, &p->zp_a);
  p->a_signed = a->dtype == EC_INT8;
  p->flip = p->a_signed ? 0x80 : 0;
  return st;
}

/* Y's requantization (MODE_Q8) or MODE_I32; activation NONE/RELU/CLIP. */
static ec_status read_y(ec_node *n, qfc_params *p, uint8_t act, float alpha, float beta,
                        float *sy) {
  const ec_tensor_desc *y = n->tout[0];
  if (y->dtype == EC_INT32) {
    p->mode = MODE_I32;
    *sy = 1.0f;
    if (act != EC_FB_ACTIVATION_NONE)
      return ec_node_error(n, EC_ERR_UNSUPPORTED, "an int32 output takes no activation");
    return EC_OK;
  }
  if (!ec_is_q8(y->dtype))
    return ec_node_error(n, EC_ERR_DTYPE, "output is %s", ec_dtype_name(y->dtype));
  p->mode = MODE_Q8;
  ec_status st = ec_q_per_tensor(n, y, "output", sy, &p->out.zp);
  p->out.is_signed = y->dtype == EC_INT8;
  if (st == EC_OK)
    st = ec_q_act_clamp(n, act, alpha, beta, y->dtype, *sy, p->out.zp, &p->out.lo, &p->out.hi);
  return st;
}

/* An empty p with the variant's path and ISA. */
static ec_status begin(ec_node *n, qfc_params *p) {
  memset(p, 0, sizeof *p);
  if (!ec_q_variant(n->variant, &p->blocked, &p->isa))
    return ec_variant_error(n);
  return EC_OK;
}

/* B, a constant matrix, [K, N] or with trans_b [N, K]: K, N and W's strides. */
static ec_status read_b(ec_node *n, qfc_params *p, bool trans_b) {
  const ec_tensor_desc *b = n->tin[1];
  if (b->rank != 2 || b->const_data == NULL)
    return ec_node_error(n, EC_ERR_SHAPE, "B must be a constant matrix");
  p->k = b->shape[trans_b ? 1 : 0];
  p->n = b->shape[trans_b ? 0 : 1];
  p->w_rs = trans_b ? p->k : 1;
  p->w_cs = trans_b ? 1 : p->n;
  return EC_OK;
}

/* A [..., K] times W into Y [..., N]: M is the product of A's leading dims,
 * which Y keeps. */
static ec_status rows_shape(ec_node *n, qfc_params *p) {
  const ec_tensor_desc *a = n->tin[0], *y = n->tout[0];
  bool ok = a->rank >= 1 && y->rank == a->rank && a->shape[a->rank - 1] == p->k &&
            y->shape[y->rank - 1] == p->n;
  p->m = 1;
  for (int32_t i = 0; ok && i < a->rank - 1; i++) {
    p->m *= a->shape[i];
    ok = y->shape[i] == a->shape[i];
  }
  if (!ok) return ec_node_error(n, EC_ERR_SHAPE, "A, B and Y shapes do not multiply");
  p->a_rs = p->k;
  p->a_cs = 1;
  return EC_OK;
}

/* QGEMM and DYNAMIC_QGEMM (GemmOptions, B a constant matrix, optional bias). */
static ec_status prepare_fc(ec_node *n) {
  const bool dynamic = n->opcode == EC_FB_OPCODE_DYNAMIC_QGEMM;
  qfc_params p;
  ec_status st = ec_check_arity(n, 2, 3, 1);
  if (st == EC_OK) st = ec_check_options(n, EC_FB_OPOPTIONS_GEMMOPTIONS);
  if (st == EC_OK) st = begin(n, &p);
  if (st != EC_OK) return st;
  const ec_gemm_options *o = &n->opt.u.gemm;
  const ec_tensor_desc *a = n->tin[0], *y = n->tout[0];
  const ec_tensor_desc *c = n->n_in == 3 ? n->tin[2] : NULL;
  if ((dynamic && o->trans_a) || o->alpha != 1.0f || (c && o->beta != 1.0f))
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "alpha and beta must be 1%s",
                         dynamic ? ", trans_a 0" : "");
  st = read_b(n, &p, o->trans_b);
  if (st != EC_OK) return st;
  float sa = 1.0f, sy = 1.0f;
  if (dynamic) {
    p.mode = MODE_DYNAMIC;
    st = ec_check_dtype(n, a, EC_FLOAT32, "A");
    if (st == EC_OK) st = ec_check_dtype(n, y, EC_FLOAT32, "output");
    if (st == EC_OK) st = rows_shape(n, &p);
    if (st == EC_OK) st = ec_check_act(n, o->activation);
    p.act = (ec_act){o->activation, o->act_alpha, o->act_beta};
  } else {
    if (a->rank != 2 || y->rank != 2)
      return ec_node_error(n, EC_ERR_SHAPE, "A and Y must be matrices");
    p.m = a->shape[o->trans_a ? 1 : 0];
    if (a->shape[o->trans_a ? 0 : 1] != p.k || y->shape[0] != p.m || y->shape[1] != p.n)
      return ec_node_error(n, EC_ERR_SHAPE, "A, B and Y shapes do not multiply");
    p.a_rs = o->trans_a ? 1 : p.k;
    p.a_cs = o->trans_a ? p.m : 1;
    st = read_a(n, &p, &sa);
    if (st == EC_OK) st = read_y(n, &p, o->activation, o->act_alpha, o->act_beta, &sy);
  }
  if (st == EC_OK && c) st = check_bias(n, c, p.n, dynamic ? EC_FLOAT32 : EC_INT32);
  if (st != EC_OK) return st;
  return build(n, &p, n->tin[1], o->trans_b ? 0 : 1, c, sa, sy);
}

/* ---- QMATMUL: general reference ------------------------------------------------------- */

typedef struct qmm_params {
  int mode;
  int64_t m, n, k, batch;
  int32_t brank;
  int64_t bshape[EC_MAX_RANK], a_bstride[EC_MAX_RANK], b_bstride[EC_MAX_RANK];
  bool a_signed, b_signed;
  int32_t zp_a;
  int32_t *zp_b; /* n entries */
  ec_qout out;
  ec_qmul *mul;  /* n entries */
} qmm_params;

static ec_status broadcast_batch(ec_node *n, const ec_tensor_desc *t, int64_t matrix,
                                 qmm_params *p, int64_t *stride) {
  const int32_t r = t->rank > 2 ? t->rank - 2 : 0, lead = p->brank - r;
  int64_t s = matrix;
  for (int32_t i = p->brank - 1; i >= 0; i--) {
    const int64_t d = i >= lead ? t->shape[i - lead] : 1;
    if (d != 1 && d != p->bshape[i])
      return ec_node_error(n, EC_ERR_SHAPE, "batch dims do not broadcast");
    stride[i] = d == 1 ? 0 : s;
    s = ec_q_fits(s, d) ? s * d : (int64_t)1 << 40;
  }
  return EC_OK;
}

static ec_status prepare_matmul_general(ec_node *n) {
  const ec_tensor_desc *a = n->tin[0], *b = n->tin[1], *y = n->tout[0];
  qmm_params g;
  memset(&g, 0, sizeof g);
  if (a->rank < 2 || b->rank < 2)
    return ec_node_error(n, EC_ERR_UNSUPPORTED, "1-D operands (the compiler reshapes them)");
  g.m = a->shape[a->rank - 2];
  g.k = a->shape[a->rank - 1];
  g.n = b->shape[b->rank - 1];
  if (b->shape[b->rank - 2] != g.k)
    return ec_node_error(n, EC_ERR_SHAPE, "inner dims differ");
  g.brank = y->rank - 2;
  if (g.brank < 0 || y->shape[y->rank - 2] != g.m || y->shape[y->rank - 1] != g.n ||
      g.brank < a->rank - 2 || g.brank < b->rank - 2)
    return ec_node_error(n, EC_ERR_SHAPE, "output shape does not match");
  g.batch = 1;
  for (int32_t i = 0; i < g.brank; i++) {
    g.bshape[i] = y->shape[i];
    g.batch *= y->shape[i];
  }
  if (!ec_q_fits(g.m, g.k) || !ec_q_fits(g.k, g.n) || !ec_q_fits(g.m, g.n) || g.k > QFC_MAX_K)
    return ec_sizes_error(n);
  ec_status st = broadcast_batch(n, a, g.m * g.k, &g, g.a_bstride);
  if (st == EC_OK) st = broadcast_batch(n, b, g.k * g.n, &g, g.b_bstride);
  if (st != EC_OK) return st;
  if (!ec_is_q8(a->dtype) || !ec_is_q8(b->dtype))
    return ec_node_error(n, EC_ERR_DTYPE, "A and B must be int8 or uint8");
  float sa, sy = 1.0f;
  st = ec_q_per_tensor(n, a, "A", &sa, &g.zp_a);
  if (st != EC_OK) return st;
  const ec_quant *qb = &b->quant;
  if (qb->n == 0 || qb->scales == NULL ||
      !(qb->axis == -1 ? qb->n == 1 : (qb->axis == b->rank - 1 && qb->n == g.n)))
    return ec_node_error(n, EC_ERR_FORMAT, "B needs per-tensor or per-column quantization");
  qfc_params tmp;
  memset(&tmp, 0, sizeof tmp);
  st = read_y(n, &tmp, EC_FB_ACTIVATION_NONE, 0, 0, &sy);
  if (st != EC_OK) return st;
  g.mode = tmp.mode;
  g.out = tmp.out;
  g.a_signed = a->dtype == EC_INT8;
  g.b_signed = b->dtype == EC_INT8;
  const size_t nn = (size_t)g.n;
  const size_t head = ec_q_align64(sizeof(qfc_params)) + ec_q_align64(sizeof g);
  st = ec_alloc_params(n, head + nn * (sizeof(int32_t) + sizeof(ec_qmul)));
  if (st != EC_OK) return st;
  qmm_params *p = (qmm_params *)((uint8_t *)n->params + ec_q_align64(sizeof(qfc_params)));
  ((qfc_params *)n->params)->general = p;
  *p = g;
  p->zp_b = (int32_t *)((uint8_t *)n->params + head);
  p->mul = (ec_qmul *)(p->zp_b + nn);
  int32_t lo, hi;
  ec_q8_range(b->dtype, &lo, &hi);
  for (int64_t c = 0; c < g.n; c++) {
    const int32_t i = qb->n == 1 ? 0 : (int32_t)c;
    const int64_t z = qb->zero_points ? qb->zero_points[i] : 0;
    const float s = qb->scales[i];
    if (z < lo || z > hi || !(s > 0.0f))
      return ec_node_error(n, EC_ERR_FORMAT, "B: bad scale or zero point");
    p->zp_b[c] = (int32_t)z;
    p->mul[c] = ec_qmul_from_double((double)sa * s / sy);
  }
  return EC_OK;
}

static void matmul_general_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const qfc_ctx *c = vc;
  const qmm_params *p = c->p->general;
  for (int64_t row = begin; row < end; row++) { /* (batch, m) */
    const int64_t bi = row / p->m, i = row % p->m;
    int64_t aoff = 0, boff = 0, rem = bi;
    for (int32_t d = p->brank - 1; d >= 0; d--) {
      const int64_t idx = rem % p->bshape[d];
      rem /= p->bshape[d];
      aoff += idx * p->a_bstride[d];
      boff += idx * p->b_bstride[d];
    }
    aoff += i * p->k;
    for (int64_t j = 0; j < p->n; j++) {
      int32_t acc = 0;
      for (int64_t q = 0; q < p->k; q++)
        acc += (ec_q8_load(c->a, p->a_signed, aoff + q) - p->zp_a) *
               (ec_q8_load(c->b, p->b_signed, boff + q * p->n + j) - p->zp_b[j]);
      const int64_t at = row * p->n + j;
      if (p->mode == MODE_I32) {
        ((int32_t *)c->y)[at] = acc;
      } else {
        const int32_t v = ec_sat_i32((int64_t)ec_requant(acc, p->mul[j]) + p->out.zp);
        ec_q8_store(c->y, p->out.is_signed, at, ec_clamp_i32(v, p->out.lo, p->out.hi));
      }
    }
  }
}

/* ---- QMATMUL ---------------------------------------------------------------------------- */

/* True when B is a constant rank-2 int8 symmetric weight (the QGEMM path). */
static bool matmul_is_fc(const ec_node *n) {
  const ec_tensor_desc *a = n->tin[0], *b = n->tin[1];
  if (b->const_data == NULL || b->rank != 2 || b->dtype != EC_INT8 || a->rank < 2) return false;
  for (int32_t i = 0; i < b->quant.n; i++)
    if (b->quant.zero_points && b->quant.zero_points[i] != 0) return false;
  return true;
}

static ec_status prepare_qmatmul(ec_node *n) {
  qfc_params p;
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st == EC_OK) st = begin(n, &p);
  if (st != EC_OK) return st;
  if (!matmul_is_fc(n) || !p.blocked) return prepare_matmul_general(n);
  float sa, sy;
  st = read_b(n, &p, false);
  if (st == EC_OK) st = rows_shape(n, &p);
  if (st == EC_OK) st = read_a(n, &p, &sa);
  if (st == EC_OK) st = read_y(n, &p, EC_FB_ACTIVATION_NONE, 0, 0, &sy);
  if (st != EC_OK) return st;
  return build(n, &p, n->tin[1], 1, NULL, sa, sy);
}

/* ---- eval ------------------------------------------------------------------------------- */

/* DYNAMIC_QGEMM: quantizes k floats to uint8 with the row's own range (0 included); pads
 * the destination with zeros up to kpad. */
static void quantize_row(const float *x, int64_t k, int64_t kpad, uint8_t *q, float *scale,
                         int32_t *zp) {
  float lo = 0.0f, hi = 0.0f;
  for (int64_t i = 0; i < k; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  float s = (hi - lo) / 255.0f;
  if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
  const float z = rintf(-lo / s);
  const int32_t zi = z < 0.0f ? 0 : z > 255.0f ? 255 : (int32_t)z;
  const float inv = 1.0f / s;
  for (int64_t i = 0; i < k; i++) {
    float v = x[i] * inv;
    v = v > -256.0f ? v : -256.0f; /* NaN too */
    v = v < 256.0f ? v : 256.0f;
    v = (v + 12582912.0f) - 12582912.0f + (float)zi;
    q[i] = (uint8_t)(v < 0.0f ? 0 : v > 255.0f ? 255 : (int32_t)v);
  }
  for (int64_t i = k; i < kpad; i++) q[i] = 0;
  *scale = s;
  *zp = zi;
}

/* ---- eval --------------------------------------------------------------------------------- */

/* Writes Y[row, col] from the complete int32 sum (bias included). */
static void store_total(const qfc_params *p, void *y, int64_t row, int64_t col, int32_t total) {
  const int64_t at = row * p->n + col;
  if (p->mode == MODE_I32) {
    ((int32_t *)y)[at] = total;
    return;
  }
  /* 64-bit sum: a saturated requantization plus the zero point overflows int32 */
  const int32_t v = ec_sat_i32((int64_t)ec_requant(total, p->mul[col]) + p->out.zp);
  ec_q8_store(y, p->out.is_signed, at, ec_clamp_i32(v, p->out.lo, p->out.hi));
}

/* Writes Y[row, col] from a packed-path sum: the static modes add the bias
 * with A's zero point folded in; the dynamic mode subtracts the row's zero
 * point times the weight row sum, scales and adds the float bias. */
static void store_one(const qfc_params *p, void *y, int64_t row, int64_t col, int32_t acc,
                      float row_scale, int32_t zp_row) {
  if (p->mode != MODE_DYNAMIC) {
    /* 64-bit sum: the file's bias can overflow int32 */
    store_total(p, y, row, col, ec_sat_i32((int64_t)acc + p->bias_eff[col]));
    return;
  }
  const int32_t s = acc - zp_row * p->row_sum[col];
  ((float *)y)[row * p->n + col] = (float)s * (row_scale * p->w_scale[col]) + p->f_bias[col];
}

/* The dynamic mode's activation over output rows [m0, m1), columns [c0, c1). */
static void apply_act(const qfc_params *p, void *y, int64_t m0, int64_t m1, int64_t c0,
                      int64_t c1) {
  if (p->mode != MODE_DYNAMIC || p->act.kind == EC_FB_ACTIVATION_NONE) return;
  for (int64_t m = m0; m < m1; m++) ec_act_apply((float *)y + m * p->n + c0, c1 - c0, 0.0f,
                                                 &p->act);
}

static void ref_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const qfc_ctx *c = vc;
  const qfc_params *p = c->p;
  uint8_t *qrow = c->workspace[thread];
  for (int64_t row = begin; row < end; row++) {
    float s = 1.0f;
    int32_t zp = 0;
    if (p->mode == MODE_DYNAMIC)
      quantize_row((const float *)c->a + row * p->k, p->k, p->k, qrow, &s, &zp);
    for (int64_t col = 0; col < p->n; col++) {
      int32_t acc = 0;
      for (int64_t q = 0; q < p->k; q++) {
        const int32_t w = c->b[col * p->w_rs + q * p->w_cs];
        if (p->mode == MODE_DYNAMIC) {
          acc += ((int32_t)qrow[q]) * w;
        } else {
          const int32_t av = ec_q8_load(c->a, p->a_signed, row * p->a_rs + q * p->a_cs);
          acc += (av - p->zp_a) * w;
        }
      }
      if (p->mode == MODE_DYNAMIC)
        store_one(p, c->y, row, col, acc, s, zp);
      else
        store_total(p, c->y, row, col, ec_sat_i32((int64_t)acc + p->bias_raw[col]));
    }
    apply_act(p, c->y, row, row + 1, 0, p->n);
  }
}

/* Activation rows [m0, m0 + cnt) as columns, each kpad bytes (uint8 domain). */
static void pack_columns(const qfc_ctx *c, int64_t m0, int64_t cnt, int64_t kpad, uint8_t *dst,
                         float *scale, int32_t *zp) {
  const qfc_params *p = c->p;
  for (int64_t j = 0; j < cnt; j++) {
    uint8_t *d = dst + j * kpad;
    if (p->mode == MODE_DYNAMIC) {
      quantize_row((const float *)c->a + (m0 + j) * p->k, p->k, kpad, d, &scale[j], &zp[j]);
      continue;
    }
    const uint8_t *a = c->a;
    for (int64_t q = 0; q < p->k; q++) d[q] = a[(m0 + j) * p->a_rs + q * p->a_cs] ^ p->flip;
    for (int64_t q = p->k; q < kpad; q++) d[q] = 0;
    scale[j] = 1.0f;
    zp[j] = 0;
  }
}

static void dots_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const qfc_ctx *c = vc;
  const qfc_params *p = c->p;
  uint8_t *ws = c->workspace[thread];
  uint8_t *xcols = ws;
  int32_t *out = (int32_t *)(ws + ec_q_align64((size_t)(p->m * p->kd)));
  float *scale = (float *)((uint8_t *)out + ec_q_align64((size_t)(4 * p->m * QFC_ROW_BLOCK)));
  int32_t *zp = (int32_t *)(scale + p->m);
  pack_columns(c, 0, p->m, p->kd, xcols, scale, zp);
  for (int64_t blk = begin; blk < end; blk++) {
    const int64_t r0 = blk * QFC_ROW_BLOCK, rows = min64(QFC_ROW_BLOCK, p->n - r0);
    ec_qgemm_dots(p->isa, rows, p->kd, p->wa + r0 * p->kd, p->wa2 ? p->wa2 + r0 * p->kd : NULL,
                  xcols, p->m, out);
    for (int64_t j = 0; j < p->m; j++)
      for (int64_t r = 0; r < rows; r++)
        store_one(p, c->y, j, r0 + r, out[j * rows + r], scale[j], zp[j]);
    apply_act(p, c->y, 0, p->m, r0, r0 + rows);
  }
}

static void blocked_job(const qfc_ctx *c, int64_t job, uint8_t *ws) {
  const qfc_params *p = c->p;
  const int64_t ti = job % c->tiles, rbi = job / c->tiles;
  const int64_t m0 = ti * p->tm, tm = min64(p->tm, p->m - m0);
  const int64_t r0 = rbi * c->rb, r1 = min64(r0 + c->rb, p->n);
  uint8_t *panel = ws;
  int32_t *tile = (int32_t *)(ws + ec_q_align64(ec_qpanel_bytes(p->k, p->tm)));
  float *scale = (float *)((uint8_t *)tile + 256);
  int32_t *zp = (int32_t *)(scale + p->tm);
  if (p->mode == MODE_DYNAMIC) {
    uint8_t *rows = (uint8_t *)scale + ec_q_align64((size_t)(8 * p->tm));
    pack_columns(c, m0, tm, p->k, rows, scale, zp);
    ec_qpack_cols(rows, p->k, p->k, tm, 0, panel);
  } else if (p->a_cs == 1) {
    ec_qpack_cols((const uint8_t *)c->a + m0 * p->a_rs, p->a_rs, p->k, tm, p->flip, panel);
  } else { /* trans_a: A is [K, M], rows contiguous in m */
    ec_qpack_rows(p->isa, (const uint8_t *)c->a + m0, p->a_cs, p->k, tm, p->flip, panel);
  }
  const int64_t groups = p->kp / EC_QKG;
  for (int64_t j0 = 0; j0 < tm; j0 += EC_QNR) {
    const uint8_t *b = panel + j0 * p->kp;
    const int64_t nr = min64(EC_QNR, tm - j0);
    for (int64_t rr = r0; rr < r1; rr += EC_QMR) {
      const int64_t mr = min64(EC_QMR, r1 - rr), sl = rr / EC_QMR * p->kp * EC_QMR;
      ec_qgemm_tile(p->isa, groups, p->wa + sl, p->wa2 ? p->wa2 + sl : NULL, b, tile);
      if (p->mode == MODE_Q8) {
        ec_qrequant_tile(p->isa, tile, mr, nr, rr, &p->out,
                         (uint8_t *)c->y + (m0 + j0) * p->n + rr, 1, p->n);
        continue;
      }
      for (int64_t j = 0; j < nr; j++)
        for (int64_t i = 0; i < mr; i++)
          store_one(p, c->y, m0 + j0 + j, rr + i, tile[i * EC_QNR + j], scale[j0 + j],
                    zp[j0 + j]);
    }
  }
  apply_act(p, c->y, m0, m0 + tm, r0, r1);
}

static void blocked_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  const qfc_ctx *c = vc;
  for (int64_t job = begin; job < end; job++) blocked_job(c, job, c->workspace[thread]);
}

static void eval_qfc(const ec_node *n, const ec_exec *ex) {
  const qfc_params *p = n->params;
  qfc_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]], ex->workspace,
               p->n, 1, 1};
  if (p->m == 0 || p->n == 0) return;
  if (!p->blocked) {
    ec_parallel_for(ex, p->m, 1, ref_range, &c);
    return;
  }
  if (p->dots) {
    ec_parallel_for(ex, ceil_div(p->n, QFC_ROW_BLOCK), 1, dots_range, &c);
    return;
  }
  c.tiles = ceil_div(p->m, p->tm);
  if (ex->pool && c.tiles < MIN_JOBS) {
    const int64_t per = ceil_div(p->n, ceil_div(MIN_JOBS, c.tiles));
    c.rb = ec_q_round_up(per < 4 * EC_QMR ? 4 * EC_QMR : per, EC_QMR);
    if (c.rb > p->n) c.rb = p->n;
    c.rblocks = ceil_div(p->n, c.rb);
  }
  ec_parallel_for(ex, c.tiles * c.rblocks, 1, blocked_range, &c);
}

static void eval_qmatmul(const ec_node *n, const ec_exec *ex) {
  const qfc_params *p = n->params;
  if (p->general == NULL) {
    eval_qfc(n, ex);
    return;
  }
  const qmm_params *g = p->general;
  qfc_ctx c = {p, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]], ex->workspace,
               0, 1, 1};
  ec_parallel_for(ex, g->batch * g->m, 1, matmul_general_range, &c);
}

EC_KERNEL(ec_kernel_qgemm, "qgemm", prepare_fc, eval_qfc)
EC_KERNEL(ec_kernel_qmatmul, "qmatmul", prepare_qmatmul, eval_qmatmul)
EC_KERNEL(ec_kernel_dynamic_qgemm, "dynamic_qgemm", prepare_fc, eval_qfc)
