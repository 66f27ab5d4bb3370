# Cross-compiles runtime_c for 64-bit Arm Linux (boards, Raspberry Pi-class)
# with Debian's cross gcc:  apt-get install gcc-aarch64-linux-gnu
#
#   cmake -S runtime_c -B build-aarch64 -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=targets/cmake/aarch64-linux-gnu.cmake
#
# Another cross gcc: -DEDGEC_CROSS_PREFIX=/opt/gcc-arm/bin/aarch64-none-linux-gnu-
# Binaries run here under `qemu-aarch64 -L /usr/aarch64-linux-gnu`.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(EDGEC_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "Prefix of the cross tools")
set(EDGEC_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH "Target root (libc, headers)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGEC_CROSS_PREFIX EDGEC_SYSROOT)

find_program(EDGEC_CROSS_CC NAMES "${EDGEC_CROSS_PREFIX}gcc")
if(NOT EDGEC_CROSS_CC)
  message(FATAL_ERROR
    "${EDGEC_CROSS_PREFIX}gcc not found: install Debian's gcc-aarch64-linux-gnu "
    "(apt-get install gcc-aarch64-linux-gnu) or pass -DEDGEC_CROSS_PREFIX=")
endif()
set(CMAKE_C_COMPILER "${EDGEC_CROSS_CC}")
# Armv8.0-A baseline: runs on every AArch64 core; NEON is part of it. dotprod,
# i8mm and fp16 kernels are compiled with per-file flags and chosen at run time.
set(CMAKE_C_FLAGS_INIT "-march=armv8-a")

set(CMAKE_FIND_ROOT_PATH "${EDGEC_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${EDGEC_SYSROOT}")
