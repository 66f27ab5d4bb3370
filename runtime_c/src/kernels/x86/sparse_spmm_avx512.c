/* Sparse x dense row products, AVX-512 F (built with the AVX-512 flags;
 * called only after the CPU check in kernels/ref/sparse_core.c). */
#include <immintrin.h>
#include <stddef.h>

#include "kernels/ref/sparse_core.h"

#define VEC __m512
#define VLEN 16
#define MASK_T __mmask16
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(f) _mm512_set1_ps(f)
#define V_BCAST(p) _mm512_set1_ps(*(p))
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps(m, p)
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps(p, m, v)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_ADD _mm512_add_ps
#define V_MUL _mm512_mul_ps
#define V_MAX _mm512_max_ps
#define V_MIN _mm512_min_ps
#define V_MASK(n) ((__mmask16)((1u << (n)) - 1u))
#define CSR_VECS 8
#define B4_VECS 4
#define SP_ROWS ec_x86_sp_rows_avx512
#define SP_SHIFT ec_x86_sp_shift_avx512
#define SH_VECS 16
#define SH_REGS 1

#include "kernels/x86/sparse_impl.h"
