/* Split of one input of any dtype into any number of outputs along
 * AxisOptions.axis; the output shapes give the sizes. The mirror image of
 * Concat (concat.h): input row o (outer index) is cut into row o of every
 * output. */
#include "kernels/ref/concat.h"

static ec_status prepare_split(ec_node *n) { return ec_parts_prepare(n, true); }
static void eval_split(const ec_node *n, const ec_exec *ex) { ec_parts_eval(n, ex, true); }

EC_KERNEL(ec_kernel_split, "split", prepare_split, eval_split)
