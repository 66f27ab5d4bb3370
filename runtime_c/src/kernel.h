/* Kernel interface: every op has a prepare step (run once at model load:
 * checks dtypes and shapes, precomputes what eval needs) and an eval step
 * (run blind on every ec_session_run: no checks, no allocation). */
#ifndef EDGEC_KERNEL_H_
#define EDGEC_KERNEL_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgec/edgec.h"
#include "generated/schema.h"

/* ---- decoded tensors ---------------------------------------------------- */

typedef struct ec_quant {
  const float *scales; /* points into the model file; n entries */
  const int64_t *zero_points;
  int32_t n;
  int32_t axis; /* -1 = per tensor */
} ec_quant;

/* A CONSTANT tensor stored sparse (Tensor.sparse, verified at load by
 * src/sparse.c; layout in schemas/edgec.fbs). format DENSE (0) = stored
 * dense. Otherwise const_data holds the nnz * block_r * block_c stored values
 * and size their bytes, and only the SPARSE_* kernels may read the tensor. */
typedef struct ec_sparse {
  uint8_t format;      /* EC_FB_SPARSEFORMAT_* */
  uint8_t index_bytes; /* 2 (uint16) or 4 (int32) */
  int32_t block_r, block_c;
  int64_t rows, cols;  /* the dense value as a matrix: shape[0] x numel / shape[0] */
  int64_t nnz;         /* stored values (blocks) */
  const int32_t *indptr; /* rows / block_r + 1 entries */
  const void *indices;   /* nnz block columns, each < cols / block_c */
} ec_sparse;

typedef struct ec_tensor_desc {
  const char *name;
  ec_dtype dtype;
  int32_t rank;
  int64_t shape[EC_MAX_RANK];
  int64_t numel;
  size_t size; /* bytes */
  uint8_t storage; /* EC_FB_STORAGEKIND_* */
  uint64_t offset; /* arena offset for ARENA tensors */
  const void *const_data; /* CONSTANT tensors: data in the mapped file */
  ec_quant quant;
  ec_sparse sparse;
  /* Tensor.dynamic_dims: bit k set = dim k depends on the input values and
   * shape[k] is its upper bound; the actual shape lives in the session
   * (ec_exec.dims[dyn_slot]; -1 = static). The data is dense in the actual
   * shape. */
  uint32_t dyn_mask;
  int32_t dyn_slot;
} ec_tensor_desc;

/* ---- decoded options ---------------------------------------------------- */

typedef struct ec_ints {
  int32_t n;
  int64_t v[2 * EC_MAX_RANK];
} ec_ints;

typedef struct ec_conv_options {
  ec_ints strides, pads, dilations;
  int64_t group;
  uint8_t activation; /* EC_FB_ACTIVATION_* */
  float act_alpha, act_beta;
} ec_conv_options;

typedef struct ec_pool_options {
  uint8_t kind; /* EC_FB_POOLKIND_* */
  ec_ints kernel, strides, pads, dilations;
  bool count_include_pad;
  int64_t p;
} ec_pool_options;

typedef struct ec_gemm_options {
  bool trans_a, trans_b;
  float alpha, beta;
  uint8_t activation;
  float act_alpha, act_beta;
} ec_gemm_options;

typedef struct ec_unary_options {
  float alpha, beta;
  bool approximate;
} ec_unary_options;

typedef struct ec_axis_options {
  int64_t axis;
  ec_ints axes;
  bool keepdims;
  float epsilon;
  int64_t size;
  float alpha, beta, bias;
  uint32_t flags;
} ec_axis_options;

typedef struct ec_transpose_options {
  ec_ints perm;
} ec_transpose_options;

typedef struct ec_slice_options {
  ec_ints starts, steps;
} ec_slice_options;

typedef struct ec_pad_options {
  ec_ints pads;
  uint8_t mode; /* EC_FB_PADMODE_* */
  float value;
} ec_pad_options;

typedef struct ec_resize_options {
  uint8_t mode, coord, nearest; /* EC_FB_RESIZEMODE_*, ... */
  float cubic_coeff_a;
  bool exclude_outside;
  int32_t n_scales;
  float scales[EC_MAX_RANK];
} ec_resize_options;

/* InvertedResidualOptions: the depthwise stage's geometry and the three
 * stages' activations (expand, depthwise, project: EC_FB_ACTIVATION_*). */
typedef struct ec_ir_options {
  ec_ints strides, pads;
  uint8_t act[3];
  float alpha[3], beta[3];
} ec_ir_options;

typedef struct ec_options {
  uint8_t type; /* EC_FB_OPOPTIONS_* (0 = none) */
  union {
    ec_conv_options conv;
    ec_pool_options pool;
    ec_gemm_options gemm;
    ec_unary_options unary;
    ec_axis_options axis;
    ec_transpose_options transpose;
    ec_slice_options slice;
    ec_pad_options pad;
    ec_resize_options resize;
    ec_ir_options ir;
  } u;
} ec_options;

/* ---- nodes and execution ------------------------------------------------ */

struct ec_node;
struct ec_exec;
struct ec_pool;

typedef void (*ec_eval_fn)(const struct ec_node *node, const struct ec_exec *exec);

/* Instruction.variant: which kernel family the compiler chose, and how it
 * laid out the instruction's constant operand. Read by CONV, CONV_TRANSPOSE,
 * GEMM and MATMUL (other ops ignore it; a value those four do not know is
 * refused at load).
 *   low byte, the family. The runtime runs the requested family capped by
 *   what the CPU supports (cpuid at load, kernels/cpu.h), down to ref, so a
 *   file runs everywhere; tests force each family in turn to compare them:
 *     EC_VARIANT_REF     portable C, the oracle (and 0, the default)
 *     EC_VARIANT_BEST    the best this CPU has (x86: AVX-512, else AVX2+FMA)
 *     EC_VARIANT_AVX2    x86 AVX2+FMA at most
 *     EC_VARIANT_AVX512  x86 AVX-512 F/BW/DQ/VL at most
 *   high bits, layout flags of the weight operand (every family reads every
 *   layout; see kernels/ref/gemm_core.h for the panel format):
 *     EC_VARIANT_PACKED    weight pre-packed in GEMM slivers (Conv: A, shape
 *                          [group * ceil(M/group/6), C/group, kh, kw, 6];
 *                          Gemm/MatMul: B, shape [ceil(N/16), K, 16])
 *     EC_VARIANT_WINOGRAD  Conv 3x3 stride 1: weight pre-transformed for
 *                          Winograd F(4x4, 3x3), shape [36, ceil(M/6), C, 6],
 *                          or F(2x2, 3x3), shape [16, ceil(M/6), C, 6]
 *     EC_VARIANT_WINOGRAD_OTF  with EC_VARIANT_WINOGRAD: the weight stays raw,
 *                          shape [ceil(M/6), 9, C, 6] (A slivers of 6 output
 *                          channels, tap kernel-row * 3 + column), and is
 *                          transformed at run time per panel of 12 output
 *                          channels; F(4x4, 3x3), or F(2x2, 3x3) with
 *     EC_VARIANT_WINOGRAD_F2   (only with EC_VARIANT_WINOGRAD_OTF)
 *     EC_VARIANT_KSPLIT    Conv 1x1, packed, one image: the AVX-512 family
 *                          sums the input channels in two halves (conv.c);
 *                          other families ignore it */
enum {
  EC_VARIANT_REF = 0,
  EC_VARIANT_BEST = 1,
  EC_VARIANT_AVX2 = 2,
  EC_VARIANT_AVX512 = 3,
  EC_VARIANT_FAMILY_MASK = 0xff,
  EC_VARIANT_PACKED = 0x100,
  EC_VARIANT_WINOGRAD = 0x200,
  EC_VARIANT_WINOGRAD_OTF = 0x400,
  EC_VARIANT_WINOGRAD_F2 = 0x800,
  EC_VARIANT_KSPLIT = 0x1000,
};

typedef struct ec_node {
  uint32_t index; /* position in the program */
  uint16_t opcode;
  uint16_t op_version;
  uint16_t variant; /* EC_VARIANT_* below */
  const char *name;
  int32_t n_in, n_out;
  const int32_t *in;  /* tensor indices; -1 = absent optional input */
  const int32_t *out;
  const ec_tensor_desc **tin; /* NULL where in[i] == -1 */
  const ec_tensor_desc **tout;
  ec_options opt;
  uint64_t scratch_size; /* bytes of workspace per thread */
  const char *op; /* the kernel's name (messages, profiles): ec_kernel_name */
  ec_eval_fn eval; /* set by ec_kernel_prepare */
  void *params; /* set by prepare; freed with the model (free()) */
} ec_node;

/* What eval sees: one data pointer per tensor of the program, and one
 * workspace per thread of at least the instruction's scratch_size bytes
 * (64-byte aligned; contents undefined on entry). */
typedef struct ec_exec {
  void *const *data;
  /* actual shapes of the data-dependent tensors, by ec_tensor_desc.dyn_slot;
   * each starts as the upper bound and stays within it */
  int64_t (*dims)[EC_MAX_RANK];
  uint8_t *const *workspace; /* indexed by the thread argument of ec_range_fn */
  struct ec_pool *pool;      /* NULL: single-threaded */
} ec_exec;

typedef ec_status (*ec_prepare_fn)(ec_node *node);

/* A kernel: a prepare step and an eval step, defined in its source file by
 *     EC_KERNEL(ec_kernel_add, "add", prepare_binary, eval_binary)
 * for the symbol its EC_OP line names (kernels/ops_*.def). The name (for
 * messages and profiles) is the opcode in lower case: ec_kernel_name takes it
 * from the generated EC_FB_OPNAME_* (a string table without pointers), and the
 * one given here is the reader's (tests/conformance/test_opdocs.py checks
 * that they agree). No table of pointers: in a shared library every pointer in
 * a table costs a dynamic relocation (24 bytes on 64-bit targets) on top of
 * its own 8, so the registry (kernels/registry.c) switches over the kernel's
 * place in the list and calls SYM_prepare directly, which records eval in the
 * node and runs prepare. */
#if defined(__GNUC__) && !defined(_WIN32)
#define EC_INTERNAL __attribute__((visibility("hidden")))
#else
#define EC_INTERNAL
#endif
#define EC_KERNEL(sym, op_name, prepare_fn, eval_fn)           \
  EC_INTERNAL ec_status sym##_prepare(ec_node *node) {          \
    node->eval = eval_fn;                                        \
    return prepare_fn(node);                                     \
  }

/* The name of the kernel for an opcode; NULL if this build has none. */
const char *ec_kernel_name(uint16_t opcode);
/* Sets node->eval and runs the prepare of node->opcode's kernel (which
 * ec_kernel_name found). */
ec_status ec_kernel_prepare(ec_node *node);

/* Records a one-line message for ec_last_error and returns status.
 * Prepare functions use ec_node_error, which prefixes the node. */
ec_status ec_set_error(ec_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
ec_status ec_node_error(const ec_node *node, ec_status status, const char *fmt,
                        ...) __attribute__((format(printf, 3, 4)));
/* The same, prefixed "tensor INDEX ('NAME'): " (the loader's checks). */
ec_status ec_tensor_error(ec_status status, size_t index, const char *name, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));

/* Runs fn over [0, n) in contiguous chunks, on the session's threads when
 * it has any and n is at least 2 * grain; fn must be safe to call
 * concurrently on disjoint ranges. thread (0 = the caller) selects
 * exec->workspace[thread]. */
typedef void (*ec_range_fn)(void *ctx, int64_t begin, int64_t end,
                            int32_t thread);
void ec_parallel_for(const ec_exec *exec, int64_t n, int64_t grain,
                     ec_range_fn fn, void *ctx);
/* Threads ec_parallel_for can run on (1 without a pool). */
int32_t ec_parallel_threads(const ec_exec *exec);

/* ---- helpers for prepare ------------------------------------------------ */

size_t ec_dtype_size(ec_dtype dtype);
const char *ec_dtype_name(ec_dtype dtype);
/* Checks n_in within [min_in, max_in] and n_out == n_out_expected, and
 * that required inputs (indices < min_in) are present. */
ec_status ec_check_arity(const ec_node *node, int32_t min_in, int32_t max_in,
                         int32_t n_out);
ec_status ec_check_dtype(const ec_node *node, const ec_tensor_desc *t,
                         ec_dtype expected, const char *what);
ec_status ec_check_same_shape(const ec_node *node, const ec_tensor_desc *a,
                              const ec_tensor_desc *b, const char *what);
/* Checks that node's options are the OpOptions member type (EC_FB_OPOPTIONS_*;
 * | EC_OPTIONS_OR_NONE: or absent): "options are not ConvOptions". */
#define EC_OPTIONS_OR_NONE 0x100u
ec_status ec_check_options(const ec_node *node, unsigned type);
/* Checks that node's scratch_size holds need bytes: "scratch of S bytes, needs N". */
ec_status ec_check_scratch(const ec_node *node, uint64_t need);
/* A kernel variant (Instruction.variant) with bits or a family this kernel
 * does not know: EC_ERR_UNSUPPORTED, "unknown kernel variant 0x%x". */
ec_status ec_variant_error(const ec_node *node);
/* An activation (EC_FB_ACTIVATION_*) this runtime applies, or
 * EC_ERR_UNSUPPORTED, "unknown activation %u". */
ec_status ec_check_act(const ec_node *node, unsigned kind);
/* EC_ERR_SHAPE, "sizes too large": a product of the geometry would overflow
 * (ec_fits). */
ec_status ec_sizes_error(const ec_node *node);
/* A conv family's ranks: input of rank 3 or 4 (EC_ERR_UNSUPPORTED, "input of
 * rank %d (1-D and 2-D only)"), the output of the input's rank and the weight
 * of w_rank (0: the input's) (EC_ERR_SHAPE, "input, weight and output ranks
 * differ"). */
/* AxisOptions (ec_check_options), no flags outside `flags` (EC_ERR_FORMAT,
 * "unknown flags 0x%x") and an axis in [lo, hi) (EC_ERR_FORMAT, "axis %lld out
 * of range for rank %d", the rank of input 0). */
ec_status ec_check_axis_options(const ec_node *node, uint32_t flags, int64_t lo, int64_t hi);
/* Input 3, the residual of a fused add, when there are 4 inputs: present
 * (EC_ERR_FORMAT, "residual input is absent") and of the output's shape
 * (ec_check_same_shape, "residual"). */
ec_status ec_check_residual(const ec_node *node);
ec_status ec_check_conv_ranks(const ec_node *node, int32_t w_rank);
/* t absent, or of shape (len): EC_ERR_SHAPE, "WHAT must have shape (len)". */
ec_status ec_check_vec(const ec_node *node, const ec_tensor_desc *t, int64_t len,
                       const char *what);
/* Allocates node->params (zeroed). */
ec_status ec_alloc_params(ec_node *node, size_t bytes);

static inline void *ec_tensor_data(const ec_exec *exec, int32_t index) {
  return exec->data[index];
}

/* ---- data-dependent shapes (docs/dynamic_shapes.md) ---------------------- */

/* The shape of t in this run: the session's record for a data-dependent
 * tensor, the static shape otherwise. */
static inline const int64_t *ec_dims(const ec_exec *exec, const ec_tensor_desc *t) {
  return t->dyn_slot >= 0 ? exec->dims[t->dyn_slot] : t->shape;
}
/* The element count of t in this run. */
static inline int64_t ec_numel(const ec_exec *exec, const ec_tensor_desc *t) {
  if (t->dyn_slot < 0) return t->numel;
  const int64_t *d = exec->dims[t->dyn_slot];
  int64_t n = 1;
  for (int32_t k = 0; k < t->rank; k++) n *= d[k];
  return n;
}
/* Records the actual extent of a data-dependent output's dim k (no-op for a
 * static dim: a kernel may call it unconditionally). */
static inline void ec_set_dim(const ec_exec *exec, const ec_tensor_desc *t, int32_t k,
                              int64_t extent) {
  if (t->dyn_slot >= 0 && (t->dyn_mask >> k & 1u)) exec->dims[t->dyn_slot][k] = extent;
}
/* Checks at prepare that t's data-dependent dims are exactly mask. */
ec_status ec_check_dyn(const ec_node *node, const ec_tensor_desc *t, uint32_t mask,
                       const char *what);

#endif /* EDGEC_KERNEL_H_ */
