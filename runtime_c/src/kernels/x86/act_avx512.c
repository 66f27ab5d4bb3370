/* Vectorized activations, AVX-512 (act_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx512.h"

#include "kernels/x86/act_impl.h"

void ec_x86_act_avx512(float *y, int64_t n, const ec_act *act) { act_rows(y, n, act); }
