/* RESHAPE: the bytes of the input under another shape of the same element
 * count (a copy). Static tensors are reshaped by aliasing at compile time;
 * this instruction exists for data-dependent ones (docs/dynamic_shapes.md:
 * Reshape, Squeeze, Unsqueeze, Flatten of them), whose output has exactly one
 * data-dependent dim: the input's actual element count over the product of
 * the output's other dims. */
#include <string.h>

#include "kernel.h"

static ec_status prepare_reshape(ec_node *n) {
  ec_status st = ec_check_arity(n, 1, 1, 1);
  if (st != EC_OK) return st;
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  st = ec_check_dtype(n, y, x->dtype, "output");
  if (st != EC_OK) return st;
  if (x->numel != y->numel)
    return ec_node_error(n, EC_ERR_SHAPE, "%lld elements into %lld", (long long)x->numel,
                         (long long)y->numel);
  const uint32_t m = y->dyn_mask;
  if (x->dyn_slot >= 0 ? m == 0 || (m & (m - 1)) != 0 : m != 0)
    return ec_node_error(n, EC_ERR_FORMAT, "output '%s' has data-dependent dims 0x%x; needs "
                         "one exactly when the input has any", y->name, (unsigned)m);
  return EC_OK;
}

static void eval_reshape(const ec_node *n, const ec_exec *ex) {
  const ec_tensor_desc *x = n->tin[0], *y = n->tout[0];
  int64_t numel = ec_numel(ex, x);
  if (y->dyn_slot >= 0) {
    int64_t other = 1;
    int32_t k = 0;
    for (int32_t d = 0; d < y->rank; d++) {
      if (y->dyn_mask >> d & 1u)
        k = d;
      else
        other *= y->shape[d];
    }
    const int64_t extent = other ? numel / other : 0;
    ec_set_dim(ex, y, k, extent);
    numel = extent * other; /* never more than the planned size */
  }
  if (numel) memcpy(ex->data[n->out[0]], ex->data[n->in[0]], (size_t)numel * ec_dtype_size(x->dtype));
}

EC_KERNEL(ec_kernel_reshape, "reshape", prepare_reshape, eval_reshape)
