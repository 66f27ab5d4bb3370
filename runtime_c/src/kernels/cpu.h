/* CPU features the optimized kernels need, detected at run time.
 *
 * The x86 kernels (src/kernels/x86/, built only for x86-64, where CMake
 * defines EDGEC_HAVE_X86_KERNELS) are compiled with per-file ISA flags, so
 * the library runs on any x86-64; code must check ec_cpu_features() before
 * calling into them. Elsewhere the features are 0 and only the portable
 * kernels run. */
#ifndef EDGEC_KERNELS_CPU_H_
#define EDGEC_KERNELS_CPU_H_

#include <stdint.h>

enum {
  /* AVX2 + FMA, with the OS saving the YMM state (XCR0 bits 1-2) */
  EC_CPU_AVX2 = 1u << 0,
  /* AVX-512 F/BW/DQ/VL, with the OS saving the opmask and ZMM state
   * (XCR0 bits 5-7); implies EC_CPU_AVX2 */
  EC_CPU_AVX512 = 1u << 1,
  /* AVX-512 VNNI (vpdpbusd) on top of EC_CPU_AVX512: the int8 kernels */
  EC_CPU_AVX512VNNI = 1u << 2,
};

#if defined(EDGEC_HAVE_X86_KERNELS)
/* Cheap (a few cpuid instructions): meant for prepare steps, not eval. */
uint32_t ec_cpu_features(void);
#else
static inline uint32_t ec_cpu_features(void) { return 0; }
#endif

#endif /* EDGEC_KERNELS_CPU_H_ */
