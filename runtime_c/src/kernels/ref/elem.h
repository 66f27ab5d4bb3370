/* Element access by dtype, for the kernels that run the rarer dtypes
 * (float64, bfloat16, int16, uint16, uint32, uint64) through one loop over
 * every dtype rather than a copy per dtype: these types are uncommon in
 * models, so code size wins over speed. Floats (float32, float16, float64,
 * bfloat16) load as a double; integers and bool as 64 bits, sign- or
 * zero-extended. Stores round (floats: to nearest even) or wrap (integers:
 * the low bits). */
#ifndef EDGEC_KERNELS_REF_ELEM_H_
#define EDGEC_KERNELS_REF_ELEM_H_

#include "kernel.h"

bool ec_dtype_is_float(ec_dtype dt);
bool ec_dtype_is_unsigned(ec_dtype dt); /* uint8..uint64 and bool */
/* The dtypes the typed (fast) loops of the elementwise kernels do not
 * cover: float64, bfloat16, int16, uint16, uint32, uint64. */
static inline bool ec_dtype_is_wide(ec_dtype dt) { return dt >= EC_FLOAT64; }

/* Element i as a double: any numeric dtype or bool (integers beyond 2^53
 * round). */
double ec_load_f64(ec_dtype dt, const void *p, int64_t i);
/* Element i of an integer or bool tensor, sign- or zero-extended. */
uint64_t ec_load_bits(ec_dtype dt, const void *p, int64_t i);
/* Stores v into element i of a float tensor (rounding), or of an integer
 * one: truncated toward zero and saturated to its range, NaN as 0; bool:
 * v != 0. */
void ec_store_f64(ec_dtype dt, void *p, int64_t i, double v);
/* Stores the low bits of v into element i of an integer tensor (bool:
 * v != 0). */
void ec_store_bits(ec_dtype dt, void *p, int64_t i, uint64_t v);

#endif /* EDGEC_KERNELS_REF_ELEM_H_ */
