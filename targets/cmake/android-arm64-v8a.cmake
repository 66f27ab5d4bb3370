# Cross-compiles runtime_c for Android arm64-v8a by deferring to the NDK's own
# toolchain file (<NDK>/build/cmake/android.toolchain.cmake). The NDK is not
# installable on the machines that develop edgec: this file cannot be run
# there, and says so clearly when no NDK is given.
#
#   cmake -S runtime_c -B build-android -G Ninja \
#         -DCMAKE_TOOLCHAIN_FILE=targets/cmake/android-arm64-v8a.cmake \
#         -DANDROID_NDK=$HOME/Android/Sdk/ndk/26.3.11579264 [-DANDROID_PLATFORM=android-24]
#
# or with ANDROID_NDK (or ANDROID_NDK_HOME, ANDROID_NDK_ROOT) in the environment.
if(NOT ANDROID_NDK)
  foreach(_edgec_var IN ITEMS ANDROID_NDK ANDROID_NDK_HOME ANDROID_NDK_ROOT)
    if(NOT "$ENV{${_edgec_var}}" STREQUAL "")
      set(ANDROID_NDK "$ENV{${_edgec_var}}")
      break()
    endif()
  endforeach()
endif()
if(NOT ANDROID_NDK)
  message(FATAL_ERROR
    "Android NDK not found: pass -DANDROID_NDK=/path/to/android-ndk or set ANDROID_NDK "
    "(or ANDROID_NDK_HOME / ANDROID_NDK_ROOT) in the environment")
endif()
get_filename_component(ANDROID_NDK "${ANDROID_NDK}" ABSOLUTE)
set(_edgec_ndk_toolchain "${ANDROID_NDK}/build/cmake/android.toolchain.cmake")
if(NOT EXISTS "${_edgec_ndk_toolchain}")
  message(FATAL_ERROR
    "ANDROID_NDK=${ANDROID_NDK} is not an Android NDK (no build/cmake/android.toolchain.cmake)")
endif()
# try_compile's nested projects re-read this file: hand them the NDK through the environment.
set(ENV{ANDROID_NDK} "${ANDROID_NDK}")

if(ANDROID_ABI AND NOT ANDROID_ABI STREQUAL "arm64-v8a")
  message(FATAL_ERROR "this toolchain file builds arm64-v8a, not ANDROID_ABI=${ANDROID_ABI}")
endif()
set(ANDROID_ABI arm64-v8a)
if(NOT ANDROID_PLATFORM)
  set(ANDROID_PLATFORM android-24) # Android 7.0: 64-bit file offsets, getauxval, clock_gettime
endif()
if(NOT ANDROID_STL)
  set(ANDROID_STL none) # the runtime is C11: no C++ library to ship
endif()

include("${_edgec_ndk_toolchain}")
