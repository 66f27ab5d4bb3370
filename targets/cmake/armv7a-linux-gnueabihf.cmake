# Cross-compiles runtime_c for 32-bit Armv7-A Linux, hard-float ABI (Debian
# armhf), with Debian's cross gcc:  apt-get install gcc-arm-linux-gnueabihf
#
#   cmake -S runtime_c -B build-armv7 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=targets/cmake/armv7a-linux-gnueabihf.cmake
#
# Only the portable ref kernels are built for this target (src/kernels/neon/
# is AArch64 code). Binaries run here under `qemu-arm -L /usr/arm-linux-gnueabihf`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7-a)

set(EDGEC_CROSS_PREFIX "arm-linux-gnueabihf-" CACHE STRING "Prefix of the cross tools")
set(EDGEC_SYSROOT "/usr/arm-linux-gnueabihf" CACHE PATH "Target root (libc, headers)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGEC_CROSS_PREFIX EDGEC_SYSROOT)

find_program(EDGEC_CROSS_CC NAMES "${EDGEC_CROSS_PREFIX}gcc")
if(NOT EDGEC_CROSS_CC)
  message(FATAL_ERROR
    "${EDGEC_CROSS_PREFIX}gcc not found: install Debian's gcc-arm-linux-gnueabihf "
    "(apt-get install gcc-arm-linux-gnueabihf) or pass -DEDGEC_CROSS_PREFIX=")
endif()
set(CMAKE_C_COMPILER "${EDGEC_CROSS_CC}")
# Debian armhf's baseline: Armv7-A, VFPv3-D16, hard-float calling convention.
set(CMAKE_C_FLAGS_INIT "-march=armv7-a+fp -mfloat-abi=hard")

set(CMAKE_FIND_ROOT_PATH "${EDGEC_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L "${EDGEC_SYSROOT}")
