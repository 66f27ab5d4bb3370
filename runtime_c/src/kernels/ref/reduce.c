/* Reductions on float32 (typed loops), and float64, float16 and bfloat16
 * through one loop over elem.h, computed in double; REDUCE_MAX/MIN also on
 * bool and the integer dtypes up to 32 bits (exact in double).
 *
 * REDUCE_{MEAN,SUM,MAX,MIN,PROD,L1,L2,SUM_SQUARE,LOG_SUM_EXP}: over
 * AxisOptions.axes (non-negative, strictly increasing; empty = no axis, each
 * output is the reduction of one element). The output shape is the input's
 * with those axes set to 1 (keepdims) or removed. Sums accumulate in
 * double; LogSumExp is max + log(sum(exp(x - max))). An empty reduction
 * gives 0 (sum-like), 1 (prod), -inf (max, log-sum-exp), +inf (min), NaN
 * (mean).
 *
 * ARG_MAX / ARG_MIN: index (int64) of the extreme along AxisOptions.axis,
 * keepdims as above; AxisOptions.flags bit 0 = select_last_index (ties give
 * the last index, else the first). A NaN counts as the extreme.
 *
 * prepare coalesces the shape into runs of kept and reduced axes (size-1
 * axes dropped), so eval walks at most a few strided loops per output.
 * Output elements are split over threads. */
#include <math.h>
#include <float.h>
#include <stdint.h>

#include "kernel.h"
#include "kernels/ref/elem.h"
#if defined(EDGEC_HAVE_X86_KERNELS)
#include "kernels/cpu.h"
#include "kernels/x86/x86.h"
#endif

#define GRAIN_WORK 16384
#define FLAG_LAST_INDEX 1u

enum { R_MEAN, R_SUM, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUM_SQUARE, R_LOG_SUM_EXP };

typedef struct reduce_params {
  int32_t op;
  int32_t n_kept, n_red;
  int64_t kept_size[EC_MAX_RANK], kept_stride[EC_MAX_RANK];
  int64_t red_size[EC_MAX_RANK], red_stride[EC_MAX_RANK];
  int64_t count; /* elements per reduction */
  int64_t outputs;
#if defined(EDGEC_HAVE_X86_KERNELS)
  bool sum_avx2; /* float32 sum or mean over contiguous runs: ec_x86_sum_f32_avx2 */
#endif
} reduce_params;

typedef struct reduce_ctx {
  const reduce_params *p;
  const void *x;
  void *y;
  ec_dtype dt;
} reduce_ctx;

static int32_t reduce_op(uint16_t opcode) {
  switch (opcode) {
    case EC_FB_OPCODE_REDUCE_MEAN: return R_MEAN;
    case EC_FB_OPCODE_REDUCE_SUM: return R_SUM;
    case EC_FB_OPCODE_REDUCE_MAX: return R_MAX;
    case EC_FB_OPCODE_REDUCE_MIN: return R_MIN;
    case EC_FB_OPCODE_REDUCE_PROD: return R_PROD;
    case EC_FB_OPCODE_REDUCE_L1: return R_L1;
    case EC_FB_OPCODE_REDUCE_L2: return R_L2;
    case EC_FB_OPCODE_REDUCE_SUM_SQUARE: return R_SUM_SQUARE;
    default: return R_LOG_SUM_EXP;
  }
}

/* Checks the output shape against input shape minus (or with 1 at) the
 * axes marked in reduced[]. */
static ec_status check_out_shape(const ec_node *n, const bool *reduced, bool keepdims) {
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  int32_t j = 0;
  bool ok = true;
  for (int32_t i = 0; i < x->rank && ok; i++) {
    if (reduced[i] && !keepdims) continue;
    ok = j < y->rank && y->shape[j] == (reduced[i] ? 1 : x->shape[i]);
    j++;
  }
  if (!ok || j != y->rank)
    return ec_node_error(n, EC_ERR_SHAPE, "output shape does not match the reduction (keepdims=%d)",
                         (int)keepdims);
  return EC_OK;
}

static ec_status prepare_reduce(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_dtype dt = n->tin[0]->dtype;
  const int32_t op = reduce_op(n->opcode);
  const bool extreme = op == R_MAX || op == R_MIN;
  if (!ec_dtype_is_float(dt) && !(extreme && ec_dtype_size(dt) <= 4))
    return ec_node_error(n, EC_ERR_DTYPE, "%s input (floats; max/min: bool, integers to 32 bits)",
                         ec_dtype_name(dt));
  st = ec_check_dtype(n, n->tout[0], dt, "output");
  if (st != EC_OK) return st;
  st = ec_check_options(n, EC_FB_OPOPTIONS_AXISOPTIONS);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_axis_options *o = &n->opt.u.axis;
  bool reduced[EC_MAX_RANK] = {false};
  for (int32_t i = 0; i < o->axes.n; i++) {
    const int64_t a = o->axes.v[i];
    if (a < 0 || a >= x->rank || (i > 0 && a <= o->axes.v[i - 1]))
      return ec_node_error(n, EC_ERR_FORMAT,
                           "axes must be increasing and within [0, %d); entry %d is %lld",
                           x->rank, i, (long long)a);
    reduced[a] = true;
  }
  st = check_out_shape(n, reduced, o->keepdims);
  if (st != EC_OK) return st;
  st = ec_alloc_params(n, sizeof(reduce_params));
  if (st != EC_OK) return st;
  reduce_params *p = n->params;
  p->op = op;
  p->outputs = n->tout[0]->numel;
  p->count = 1;
  for (int32_t i = 0; i < x->rank; i++)
    if (reduced[i]) p->count = x->shape[i] ? p->count : 0;
  if (p->count != 0) p->count = x->numel / (p->outputs ? p->outputs : 1);
  if (x->numel == 0) return EC_OK; /* only empty reductions (or none at all) */
  /* Runs of kept / reduced axes, innermost last; size-1 axes do not matter. */
  int64_t stride = 1;
  bool last_red = false;
  for (int32_t i = x->rank - 1; i >= 0; i--) {
    const int64_t size = x->shape[i];
    if (size == 1) continue;
    int32_t *cnt = reduced[i] ? &p->n_red : &p->n_kept;
    int64_t *sizes = reduced[i] ? p->red_size : p->kept_size;
    int64_t *strides = reduced[i] ? p->red_stride : p->kept_stride;
    const bool extend = *cnt > 0 && last_red == reduced[i] &&
                        strides[*cnt - 1] * sizes[*cnt - 1] == stride;
    if (extend) {
      sizes[*cnt - 1] *= size;
    } else {
      sizes[*cnt] = size;
      strides[*cnt] = stride;
      (*cnt)++;
    }
    last_red = reduced[i];
    stride *= size;
  }
  /* Collected innermost first; eval wants outermost first. */
  for (int32_t i = 0; i < p->n_kept / 2; i++) {
    int64_t t = p->kept_size[i];
    p->kept_size[i] = p->kept_size[p->n_kept - 1 - i];
    p->kept_size[p->n_kept - 1 - i] = t;
    t = p->kept_stride[i];
    p->kept_stride[i] = p->kept_stride[p->n_kept - 1 - i];
    p->kept_stride[p->n_kept - 1 - i] = t;
  }
  for (int32_t i = 0; i < p->n_red / 2; i++) {
    int64_t t = p->red_size[i];
    p->red_size[i] = p->red_size[p->n_red - 1 - i];
    p->red_size[p->n_red - 1 - i] = t;
    t = p->red_stride[i];
    p->red_stride[i] = p->red_stride[p->n_red - 1 - i];
    p->red_stride[p->n_red - 1 - i] = t;
  }
#if defined(EDGEC_HAVE_X86_KERNELS)
  p->sum_avx2 = dt == EC_FLOAT32 && (op == R_MEAN || op == R_SUM) && p->n_red > 0 &&
                p->red_stride[p->n_red - 1] == 1 && (ec_cpu_features() & EC_CPU_AVX2);
#endif
  return EC_OK;
}

static float to_f32(double v) {
  if (v > FLT_MAX) return INFINITY;
  if (v < -FLT_MAX) return -INFINITY;
  return (float)v;
}

typedef struct acc {
  double sum, ext, prod; /* ext: max or min */
} acc;

typedef void (*fold_fn)(int32_t op, acc *a, const void *x, ec_dtype dt, int64_t at, int64_t len,
                        int64_t stride, double shift);

/* Folds the len elements at, at + stride, ... of x into a: T is what an
 * element is computed in, LOAD(e) loads element e, EXP is exp for T. */
#define EACH(T, LOAD, STMT)                                                              \
  for (int64_t i = 0; i < len; i++) {                                                    \
    const T v = LOAD(at + i * stride);                                                   \
    STMT;                                                                                \
  }                                                                                      \
  break;
#define FOLD(NAME, T, LOAD, EXP)                                                         \
  static void NAME(int32_t op, acc *a, const void *x, ec_dtype dt, int64_t at,         \
                   int64_t len, int64_t stride, double shift) {                        \
    (void)x;                                                                           \
    (void)dt;                                                                          \
    const T sh = (T)shift;                                                             \
    switch (op) {                                                                      \
      case R_MEAN: case R_SUM: EACH(T, LOAD, a->sum += v)                              \
      case R_L1: EACH(T, LOAD, a->sum += v < 0 ? -v : v)                               \
      case R_L2: case R_SUM_SQUARE: EACH(T, LOAD, a->sum += (double)v * v)             \
      case R_LOG_SUM_EXP: EACH(T, LOAD, a->sum += EXP(v - sh)) /* second pass */       \
      case R_MAX:                                                                      \
        EACH(T, LOAD, if (v > a->ext || isnan(v)) a->ext = isnan(a->ext) ? a->ext : v) \
      case R_MIN:                                                                      \
        EACH(T, LOAD, if (v < a->ext || isnan(v)) a->ext = isnan(a->ext) ? a->ext : v) \
      default: EACH(T, LOAD, a->prod *= v) /* R_PROD */                                \
    }                                                                                  \
  }

#define LOAD_F32(e) (((const float *)x)[e])
#define LOAD_ANY(e) ec_load_f64(dt, x, e)
FOLD(fold_f32, float, LOAD_F32, expf)
FOLD(fold_any, double, LOAD_ANY, exp)

#if defined(EDGEC_HAVE_X86_KERNELS)
static void fold_sum_avx2(int32_t op, acc *a, const void *x, ec_dtype dt, int64_t at,
                          int64_t len, int64_t stride, double shift) {
  (void)op, (void)dt, (void)stride, (void)shift;
  a->sum += ec_x86_sum_f32_avx2((const float *)x + at, len);
}
#endif

/* Runs fold over every reduced element of the output based at element at. */
static void walk(const reduce_ctx *c, int32_t op, acc *a, int64_t at, double shift) {
  const reduce_params *p = c->p;
#if defined(EDGEC_HAVE_X86_KERNELS)
  const fold_fn fold = p->sum_avx2 ? fold_sum_avx2 : c->dt == EC_FLOAT32 ? fold_f32 : fold_any;
#else
  const fold_fn fold = c->dt == EC_FLOAT32 ? fold_f32 : fold_any;
#endif
  if (p->n_red == 0) {
    fold(op, a, c->x, c->dt, at, 1, 1, shift);
    return;
  }
  const int32_t last = p->n_red - 1;
  int64_t idx[EC_MAX_RANK] = {0};
  int64_t off = 0;
  for (;;) {
    fold(op, a, c->x, c->dt, at + off, p->red_size[last], p->red_stride[last], shift);
    int32_t d = last - 1;
    while (d >= 0) {
      idx[d]++;
      off += p->red_stride[d];
      if (idx[d] < p->red_size[d]) break;
      off -= p->red_stride[d] * p->red_size[d];
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

static double reduce_one(const reduce_ctx *c, int64_t at) {
  const reduce_params *p = c->p;
  acc a = {0.0, p->op == R_MIN ? INFINITY : -INFINITY, 1.0};
  if (p->count == 0) {
    switch (p->op) {
      case R_MEAN: return NAN;
      case R_MAX: return c->dt == EC_BOOL ? 0.0 : -INFINITY; /* bool: any, all */
      case R_LOG_SUM_EXP: return -INFINITY;
      case R_MIN: return c->dt == EC_BOOL ? 1.0 : INFINITY;
      case R_PROD: return 1.0;
      default: return 0.0;
    }
  }
  switch (p->op) {
    case R_MEAN:
      walk(c, p->op, &a, at, 0.0);
      return a.sum / (double)p->count;
    case R_L2:
      walk(c, p->op, &a, at, 0.0);
      return sqrt(a.sum);
    case R_MAX:
    case R_MIN:
      walk(c, p->op, &a, at, 0.0);
      return a.ext;
    case R_PROD:
      walk(c, p->op, &a, at, 0.0);
      return a.prod;
    case R_LOG_SUM_EXP: {
      walk(c, R_MAX, &a, at, 0.0);
      const double m = a.ext;
      if (isinf(m) || isnan(m)) return m;
      walk(c, R_LOG_SUM_EXP, &a, at, m);
      return m + log(a.sum);
    }
    default:
      walk(c, p->op, &a, at, 0.0);
      return a.sum;
  }
}

static void reduce_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const reduce_ctx *c = vc;
  const reduce_params *p = c->p;
  for (int64_t o = begin; o < end; o++) {
    int64_t rem = o, base = 0;
    for (int32_t d = p->n_kept - 1; d >= 0; d--) {
      base += rem % p->kept_size[d] * p->kept_stride[d];
      rem /= p->kept_size[d];
    }
    const double r = reduce_one(c, base);
    if (c->dt == EC_FLOAT32)
      ((float *)c->y)[o] = to_f32(r);
    else
      ec_store_f64(c->dt, c->y, o, r); /* integers: max/min of them, exact */
  }
}

static void eval_reduce(const ec_node *n, const ec_exec *ex) {
  const reduce_params *p = n->params;
  reduce_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]], n->tin[0]->dtype};
  const int64_t work = p->count > 1 ? p->count : 1;
  const int64_t grain = GRAIN_WORK / work > 1 ? GRAIN_WORK / work : 1;
  ec_parallel_for(ex, p->outputs, grain, reduce_range, &c);
}

#define REDUCE_KERNEL(NAME) \
  EC_KERNEL(ec_kernel_##NAME, #NAME, prepare_reduce, eval_reduce)
REDUCE_KERNEL(reduce_mean)
REDUCE_KERNEL(reduce_sum)
REDUCE_KERNEL(reduce_max)
REDUCE_KERNEL(reduce_min)
REDUCE_KERNEL(reduce_prod)
REDUCE_KERNEL(reduce_l1)
REDUCE_KERNEL(reduce_l2)
REDUCE_KERNEL(reduce_sum_square)
REDUCE_KERNEL(reduce_log_sum_exp)

/* ---- ArgMax / ArgMin ---------------------------------------------------- */

typedef struct arg_params {
  int64_t outer, n, inner;
  bool is_max, last;
} arg_params;

typedef struct arg_ctx {
  const arg_params *p;
  const float *x;
  int64_t *y;
} arg_ctx;

static ec_status prepare_arg(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st == EC_OK) st = ec_check_dtype(n, n->tin[0], EC_FLOAT32, "input");
  if (st == EC_OK) st = ec_check_dtype(n, n->tout[0], EC_INT64, "output");
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0];
  const ec_axis_options *o = &n->opt.u.axis;
  st = ec_check_axis_options(n, FLAG_LAST_INDEX, 0, x->rank);
  if (st != EC_OK) return st;
  const int32_t axis = (int32_t)o->axis;
  bool reduced[EC_MAX_RANK] = {false};
  reduced[axis] = true;
  st = check_out_shape(n, reduced, o->keepdims);
  if (st != EC_OK) return st;
  if (x->shape[axis] == 0 && n->tout[0]->numel > 0)
    return ec_node_error(n, EC_ERR_SHAPE, "arg-reduction over an empty axis");
  st = ec_alloc_params(n, sizeof(arg_params));
  if (st != EC_OK) return st;
  arg_params *p = n->params;
  p->is_max = n->opcode == EC_FB_OPCODE_ARG_MAX;
  p->last = (o->flags & FLAG_LAST_INDEX) != 0;
  p->outer = p->inner = 1;
  p->n = x->shape[axis];
  if (x->numel == 0) {
    p->outer = 0;
    return EC_OK;
  }
  for (int32_t i = 0; i < x->rank; i++) {
    if (i < axis) p->outer *= x->shape[i];
    if (i > axis) p->inner *= x->shape[i];
  }
  return EC_OK;
}

/* Does v replace the current best b (a NaN always wins and then stays)? */
static bool better(const arg_params *p, float v, float b) {
  if (isnan(b)) return false;
  if (isnan(v)) return true;
  if (p->last) return p->is_max ? v >= b : v <= b;
  return p->is_max ? v > b : v < b;
}

static void arg_range(void *vc, int64_t begin, int64_t end, int32_t thread) {
  (void)thread;
  const arg_ctx *c = vc;
  const arg_params *p = c->p;
  const int64_t n = p->n, inner = p->inner;
  for (int64_t col = begin; col < end; col++) {
    const int64_t o = col / inner, i = col % inner;
    const float *x = c->x + o * n * inner + i;
    int64_t best = 0;
    float b = x[0];
    for (int64_t k = 1; k < n; k++) {
      if (better(p, x[k * inner], b)) {
        b = x[k * inner];
        best = k;
      }
    }
    c->y[col] = best;
  }
}

static void eval_arg(const ec_node *n, const ec_exec *ex) {
  const arg_params *p = n->params;
  arg_ctx c = {p, ex->data[n->in[0]], ex->data[n->out[0]]};
  const int64_t work = p->n > 1 ? p->n : 1;
  const int64_t grain = GRAIN_WORK / work > 1 ? GRAIN_WORK / work : 1;
  ec_parallel_for(ex, p->outer * p->inner, grain, arg_range, &c);
}

EC_KERNEL(ec_kernel_arg_max, "arg_max", prepare_arg, eval_arg)
EC_KERNEL(ec_kernel_arg_min, "arg_min", prepare_arg, eval_arg)
