# Cross-compiles runtime_c for iOS arm64 with Xcode's clang
# (-arch arm64 -isysroot <iPhoneOS SDK> -miphoneos-version-min=...). Runs only on
# a Mac with Xcode: on other machines it stops with a clear message.
#
#   cmake -S runtime_c -B build-ios -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=targets/cmake/ios-arm64.cmake \
#         [-DEDGEC_IOS_SDK=/Applications/Xcode.app/.../iPhoneOS.sdk]
#
# The SDK: -DEDGEC_IOS_SDK=..., else $SDKROOT, else `xcrun --sdk iphoneos --show-sdk-path`.
set(CMAKE_SYSTEM_NAME iOS)
set(CMAKE_SYSTEM_PROCESSOR arm64)
set(CMAKE_OSX_ARCHITECTURES arm64 CACHE STRING "Architectures to build for" FORCE)
set(CMAKE_OSX_DEPLOYMENT_TARGET "13.0" CACHE STRING "Minimum iOS version")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGEC_IOS_SDK)

find_program(EDGEC_XCRUN xcrun)
if(NOT EDGEC_IOS_SDK AND NOT "$ENV{SDKROOT}" STREQUAL "")
  set(EDGEC_IOS_SDK "$ENV{SDKROOT}")
endif()
if(NOT EDGEC_IOS_SDK AND EDGEC_XCRUN)
  execute_process(COMMAND "${EDGEC_XCRUN}" --sdk iphoneos --show-sdk-path
                  OUTPUT_VARIABLE EDGEC_IOS_SDK OUTPUT_STRIP_TRAILING_WHITESPACE
                  ERROR_QUIET)
endif()
if(NOT EDGEC_IOS_SDK)
  message(FATAL_ERROR
    "iOS SDK not found: pass -DEDGEC_IOS_SDK=/path/to/iPhoneOS.sdk or set SDKROOT "
    "(on a Mac with Xcode: xcrun --sdk iphoneos --show-sdk-path)")
endif()
if(NOT EXISTS "${EDGEC_IOS_SDK}/SDKSettings.json" AND NOT EXISTS "${EDGEC_IOS_SDK}/SDKSettings.plist")
  message(FATAL_ERROR "EDGEC_IOS_SDK=${EDGEC_IOS_SDK} is not an SDK (no SDKSettings.json/.plist)")
endif()
set(EDGEC_IOS_SDK "${EDGEC_IOS_SDK}" CACHE PATH "iPhoneOS SDK" FORCE)
set(ENV{SDKROOT} "${EDGEC_IOS_SDK}")
set(CMAKE_OSX_SYSROOT "${EDGEC_IOS_SDK}" CACHE PATH "iPhoneOS SDK" FORCE)

# Xcode's clang (the one xcrun finds for this SDK), else clang on PATH.
if(NOT CMAKE_C_COMPILER)
  set(_edgec_clang "")
  if(EDGEC_XCRUN)
    execute_process(COMMAND "${EDGEC_XCRUN}" --sdk iphoneos --find clang
                    OUTPUT_VARIABLE _edgec_clang OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  if(NOT _edgec_clang)
    find_program(EDGEC_IOS_CLANG clang)
    set(_edgec_clang "${EDGEC_IOS_CLANG}")
  endif()
  if(NOT _edgec_clang)
    message(FATAL_ERROR "clang not found: install Xcode (or its command line tools)")
  endif()
  set(CMAKE_C_COMPILER "${_edgec_clang}")
endif()

# Compiler checks build a static library: an iOS executable would need signing.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH "${EDGEC_IOS_SDK}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
