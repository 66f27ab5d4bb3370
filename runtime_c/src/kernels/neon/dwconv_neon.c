/* Depthwise conv, AArch64 NEON: x86/dwconv_impl.h (the AVX2 and AVX-512
 * kernels' code) over 4-float vectors. Tails go through a small buffer (no
 * masked loads in NEON); max/min are the IEEE maxNum/minNum forms (fmaxnm,
 * fminnm), which return the number when one side is NaN, as the portable
 * ReLU and Clip do. Other activations run ec_act_apply on the finished row. */
#include "kernels/neon/neon.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#include <arm_neon.h>
#include <string.h>

#include "generated/schema.h"

#define VEC float32x4_t
#define VLEN 4
#define V_SET1 vdupq_n_f32
#define V_ADD vaddq_f32
#define V_FMA(a, b, c) vfmaq_f32((c), (a), (b))
#define V_MAX vmaxnmq_f32
#define V_MIN vminnmq_f32
#define V_LOADU vld1q_f32
#define V_STOREU vst1q_f32
#define ACT_ROW(y, n, act) ec_act_apply((y), (n), 0.0f, (act))

static inline float32x4_t load_n(const float *p, int64_t n) {
  float t[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  memcpy(t, p, (size_t)n * sizeof(float));
  return vld1q_f32(t);
}
static inline void store_n(float *p, float32x4_t v, int64_t n) {
  float t[4];
  vst1q_f32(t, v);
  memcpy(p, t, (size_t)n * sizeof(float));
}
#define V_LOADN(p, n) ((n) == VLEN ? vld1q_f32(p) : load_n((p), (n)))
#define V_STOREN(p, v, n) store_n((p), (v), (n))

/* x[0], x[2], ... to p0 and x[1], x[3], ... to p1 */
static inline void deinterleave(const float *src, int64_t w, float *p0, float *p1) {
  int64_t i = 0;
  for (; i + 8 <= w; i += 8) {
    const float32x4x2_t v = vld2q_f32(src + i);
    vst1q_f32(p0 + i / 2, v.val[0]);
    vst1q_f32(p1 + i / 2, v.val[1]);
  }
  for (; i < w; i++) (i & 1 ? p1 : p0)[i / 2] = src[i];
}
#define DEINTERLEAVE deinterleave
#if defined(__OPTIMIZE_SIZE__)
#define DW_UNROLL 0 /* -Os does not unroll the 3x3 and 5x5 copies: one copy of the loops */
#endif

#include "kernels/x86/dwconv_impl.h"

void ec_neon_dw_planes(const ec_dw_conv *a, int64_t begin, int64_t end, float *workspace) {
  dw_planes(a, begin, end, workspace);
}

#else /* not AArch64: CMake builds this directory only for AArch64 */
typedef int ec_dwconv_neon_unused_t;
#endif
