/* x86-64 feature detection: cpuid for what the CPU implements, xgetbv for
 * what the OS saves on a context switch (a CPU with AVX-512 under an OS that
 * does not enable the ZMM state must not run AVX-512 code). Compiled without
 * ISA flags. */
#ifndef EDGEC_HAVE_X86_KERNELS
#define EDGEC_HAVE_X86_KERNELS 1 /* this file is the x86 definition cpu.h declares */
#endif

#include <cpuid.h>

#include "kernels/cpu.h"

static uint64_t xgetbv0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

uint32_t ec_cpu_features(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!fma || !osxsave || !avx) return 0;
  const uint64_t xcr0 = xgetbv0();
  if ((xcr0 & 0x6) != 0x6) return 0; /* SSE and YMM state */
  if (__get_cpuid_max(0, 0) < 7) return 0;
  __cpuid_count(7, 0, a, b, c, d);
  uint32_t f = 0;
  if ((b >> 5) & 1) f |= EC_CPU_AVX2;
  const unsigned avx512 = (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31); /* F DQ BW VL */
  if ((f & EC_CPU_AVX2) && (b & avx512) == avx512 && (xcr0 & 0xe6) == 0xe6)
    f |= EC_CPU_AVX512;
  if ((f & EC_CPU_AVX512) && ((c >> 11) & 1)) f |= EC_CPU_AVX512VNNI; /* ECX bit 11 */
  return f;
}
