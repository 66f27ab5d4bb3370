/* QADD and QMUL: int8/uint8 elementwise with numpy broadcasting; each
 * operand and the output has its own per-tensor quantization (any mix of
 * int8 and uint8).
 * QADD rescales as TFLite does: both inputs, shifted left by 20 bits, are
 * brought to a common scale 2 * max(s_a, s_b) by multipliers below one,
 * added, and the sum requantized to the output:
 *   y = zp_y + rq(rq((a - zp_a) << 20, s_a / 2m) + rq((b - zp_b) << 20, s_b / 2m),
 *                 2m / (2^20 s_y))
 * QMUL: y = zp_y + rq((a - zp_a) * (b - zp_b), s_a * s_b / s_y).
 * Both saturate to the output dtype; a ReLU following the op is expressed by
 * the output's quantization (zero point at the low end). */
#include <string.h>

#include "kernel.h"
#include "kernels/broadcast.h"
#include "kernels/ref/qcommon.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/cpu.h"
#include "kernels/x86/qx86.h"
#endif

#define ADD_SHIFT 20

typedef struct qbin_params {
  ec_bcast bc;
  bool a_signed, b_signed, y_signed;
  int32_t zp_a, zp_b, zp_y, lo, hi;
  ec_qmul mul_a, mul_b, mul_y;
  bool avx2; /* QADD rows on AVX2 (every shift <= 0) */
  bool vnni; /* ... on AVX-512 */
} qbin_params;

typedef struct qbin_ctx {
  const qbin_params *p;
  const void *a, *b;
  void *y;
  bool add;
} qbin_ctx;

static ec_status prepare_qbinary(ec_node *n, bool add) {
  ec_status st = ec_check_arity(n, 2, 2, 1);
  if (st != EC_OK) return st;
  st = ec_q_check_q8(n, n->tin[0], "input 0");
  if (st == EC_OK) st = ec_q_check_q8(n, n->tin[1], "input 1");
  if (st == EC_OK) st = ec_q_check_q8(n, n->tout[0], "output");
  if (st != EC_OK) return st;
  float sa, sb, sy;
  qbin_params g;
  memset(&g, 0, sizeof g);
  st = ec_q_per_tensor(n, n->tin[0], "A", &sa, &g.zp_a);
  if (st == EC_OK) st = ec_q_per_tensor(n, n->tin[1], "B", &sb, &g.zp_b);
  if (st == EC_OK) st = ec_q_per_tensor(n, n->tout[0], "output", &sy, &g.zp_y);
  if (st != EC_OK) return st;
  g.a_signed = n->tin[0]->dtype == EC_INT8;
  g.b_signed = n->tin[1]->dtype == EC_INT8;
  g.y_signed = n->tout[0]->dtype == EC_INT8;
  ec_q8_range(n->tout[0]->dtype, &g.lo, &g.hi);
  if (add) {
    const double twice_max = 2.0 * (sa > sb ? sa : sb);
    g.mul_a = ec_qmul_from_double(sa / twice_max);
    g.mul_b = ec_qmul_from_double(sb / twice_max);
    g.mul_y = ec_qmul_from_double(twice_max / ((double)(1 << ADD_SHIFT) * sy));
#if defined(EDGEC_HAVE_X86_KERNELS)
    g.avx2 = (ec_cpu_features() & EC_CPU_AVX2) && g.mul_a.shift <= 0 && g.mul_b.shift <= 0 &&
             g.mul_y.shift <= 0;
    g.vnni = g.avx2 && (ec_cpu_features() & EC_CPU_AVX512VNNI);
#endif
  } else {
    g.mul_y = ec_qmul_from_double((double)sa * sb / sy);
  }
  st = ec_alloc_params(n, sizeof g);
  if (st != EC_OK) return st;
  qbin_params *p = n->params;
  *p = g;
  return ec_bcast_init(n, n->tout[0], n->tin, 2, &p->bc);
}

static inline int32_t qadd1(const qbin_params *p, int32_t a, int32_t b) {
  const int32_t x = ec_requant((a - p->zp_a) * (1 << ADD_SHIFT), p->mul_a);
  const int32_t y = ec_requant((b - p->zp_b) * (1 << ADD_SHIFT), p->mul_b);
  const int32_t sum = ec_sat_i32((int64_t)x + y);
  return ec_clamp_i32(ec_sat_i32((int64_t)ec_requant(sum, p->mul_y) + p->zp_y), p->lo, p->hi);
}

static inline int32_t qmul1(const qbin_params *p, int32_t a, int32_t b) {
  const int32_t prod = ec_sat_i32((int64_t)(a - p->zp_a) * (b - p->zp_b));
  return ec_clamp_i32(ec_sat_i32((int64_t)ec_requant(prod, p->mul_y) + p->zp_y), p->lo, p->hi);
}

static void qbin_row(const void *vc, const int64_t *off, int64_t start, int64_t len) {
  const qbin_ctx *c = vc;
  const qbin_params *p = c->p;
  const ec_bcast *bc = &p->bc;
  const int64_t sa = bc->stride[0][bc->rank - 1], sb = bc->stride[1][bc->rank - 1];
#if defined(EDGEC_HAVE_X86_KERNELS)
  if (c->add && p->avx2) {
    const ec_qadd_row r = {p->zp_a, p->zp_b, p->zp_y, p->lo, p->hi, p->mul_a, p->mul_b,
                           p->mul_y, p->a_signed, p->b_signed, p->y_signed};
    (p->vnni ? ec_x86_qadd_row_vnni : ec_x86_qadd_row_avx2)(
        &r, (const uint8_t *)c->a + off[0], sa, (const uint8_t *)c->b + off[1], sb, len,
        (uint8_t *)c->y + start);
    return;
  }
#endif
  for (int64_t i = 0; i < len; i++) {
    const int32_t a = ec_q8_load(c->a, p->a_signed, off[0] + i * sa);
    const int32_t b = ec_q8_load(c->b, p->b_signed, off[1] + i * sb);
    ec_q8_store(c->y, p->y_signed, start + i, c->add ? qadd1(p, a, b) : qmul1(p, a, b));
  }
}

static void qbin_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  ec_bcast_rows(&((const qbin_ctx *)vc)->p->bc, begin, end, qbin_row, vc);
}

static void eval_qbinary(const ec_node *n, const ec_exec *ex, bool add) {
  qbin_ctx c = {n->params, ex->data[n->in[0]], ex->data[n->in[1]], ex->data[n->out[0]], add};
  ec_parallel_for(ex, n->tout[0]->numel, EC_Q_GRAIN, qbin_range, &c);
}

static ec_status prepare_qadd(ec_node *n) { return prepare_qbinary(n, true); }
static ec_status prepare_qmul(ec_node *n) { return prepare_qbinary(n, false); }
static void eval_qadd(const ec_node *n, const ec_exec *ex) { eval_qbinary(n, ex, true); }
static void eval_qmul(const ec_node *n, const ec_exec *ex) { eval_qbinary(n, ex, false); }

EC_KERNEL(ec_kernel_qadd, "qadd", prepare_qadd, eval_qadd)
EC_KERNEL(ec_kernel_qmul, "qmul", prepare_qmul, eval_qmul)
