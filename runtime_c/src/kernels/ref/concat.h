/* Concat and Split are mirror images: one whole tensor (Concat's output,
 * Split's input) and parts (Concat's inputs, Split's outputs) cut along
 * AxisOptions.axis, every tensor viewed as [outer, bytes]: row o of the whole
 * is row o of every part, in order. One prepare and one eval serve both. */
#ifndef EDGEC_KERNELS_REF_CONCAT_H_
#define EDGEC_KERNELS_REF_CONCAT_H_

#include "kernel.h"

ec_status ec_parts_prepare(ec_node *n, bool split);
void ec_parts_eval(const ec_node *n, const ec_exec *ex, bool split);

#endif /* EDGEC_KERNELS_REF_CONCAT_H_ */
