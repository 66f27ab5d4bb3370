/* Arm CPU features for the NEON kernels (sgemm_neon.h): what the OS says the
 * CPU supports. Linux and Android publish it in the auxiliary vector
 * (AT_HWCAP, AT_HWCAP2); Apple in sysctl hw.optional.arm.FEAT_*. The HWCAP
 * bit values are the Linux kernel's ABI (arch/arm64/include/uapi/asm/hwcap.h):
 * they are defined here when an older libc's <sys/auxv.h> lacks them. */
#if defined(__APPLE__)
#define _DARWIN_C_SOURCE 1
#endif

#include "kernels/neon/sgemm_neon.h"

#if defined(__aarch64__) || defined(_M_ARM64)

#if defined(__linux__)
#include <sys/auxv.h>
#ifndef AT_HWCAP
#define AT_HWCAP 16
#endif
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1UL << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1UL << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif

uint32_t ec_cpu_arm_features(void) {
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  uint32_t f = EC_CPU_ARM_ASIMD;
  if ((hw & HWCAP_FPHP) && (hw & HWCAP_ASIMDHP)) f |= EC_CPU_ARM_FP16;
  if (hw & HWCAP_ASIMDDP) f |= EC_CPU_ARM_DOTPROD;
  if (hw2 & HWCAP2_I8MM) f |= EC_CPU_ARM_I8MM;
  return f;
}

#elif defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>

static int sysctl_flag(const char *name) {
  int v = 0;
  size_t size = sizeof v;
  return sysctlbyname(name, &v, &size, NULL, 0) == 0 && v != 0;
}

uint32_t ec_cpu_arm_features(void) {
  uint32_t f = EC_CPU_ARM_ASIMD;
  if (sysctl_flag("hw.optional.arm.FEAT_FP16")) f |= EC_CPU_ARM_FP16;
  if (sysctl_flag("hw.optional.arm.FEAT_DotProd")) f |= EC_CPU_ARM_DOTPROD;
  if (sysctl_flag("hw.optional.arm.FEAT_I8MM")) f |= EC_CPU_ARM_I8MM;
  return f;
}

#else /* another AArch64 OS: the mandatory baseline only */
uint32_t ec_cpu_arm_features(void) { return EC_CPU_ARM_ASIMD; }
#endif

#else /* not AArch64 (CMake does not build this file there; kept compilable) */
uint32_t ec_cpu_arm_features(void) { return 0; }
#endif
