/* Vectorized activations, AVX2 + FMA (act_impl.h). */
#include <immintrin.h>

#include "generated/schema.h"
#include "kernels/x86/x86.h"

#include "kernels/x86/vec_avx2.h"

#include "kernels/x86/act_impl.h"

void ec_x86_act_avx2(float *y, int64_t n, const ec_act *act) { act_rows(y, n, act); }
