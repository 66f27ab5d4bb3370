#!/usr/bin/env bash
# Builds the libFuzzer target runtime_c/fuzz/fuzz_load.c with clang
# (-fsanitize=fuzzer,address,undefined) against the runtime built by its own
# CMakeLists.txt (same sources, same per-file ISA flags, x86/neon kernels
# included), with -DEDGEC_FUZZING: the loader skips only the footer's CRC
# comparison.
#
#   runtime_c/fuzz/build.sh [OUT_DIR]      # default: build/fuzz
#   build/fuzz/fuzz_load CORPUS_DIR -max_total_time=60
#
# Needs clang with the libFuzzer runtime (Debian 12:
# apt-get install -y clang-14 libclang-rt-14-dev), cmake and ninja.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"                  # runtime_c/
out="${1:-$root/../build/fuzz}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

CC="${CC_FUZZ:-}"
if [[ -z "$CC" ]]; then
  for c in clang clang-14 clang-15 clang-16 clang-17 clang-18 clang-13; do
    if command -v "$c" >/dev/null 2>&1; then CC="$(command -v "$c")"; break; fi
  done
fi
if [[ -z "$CC" ]]; then
  echo "build.sh: no clang found (apt-get install -y clang-14 libclang-rt-14-dev)" >&2
  exit 2
fi
for tool in cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 || python3 -m pip install -q "$tool"
done

san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# The library: instrumented for coverage (fuzzer-no-link) and the sanitizers.
# Warnings stay warnings here (the launcher appends -Wno-error): a clang-only
# warning must not stop the fuzzer; the regular gcc build enforces -Werror.
cmake -S "$root" -B "$out/cmake" -G Ninja \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link $san -DEDGEC_FUZZING" \
  "-DCMAKE_C_COMPILER_LAUNCHER=sh;-c;exec \"\$@\" -Wno-error;sh" \
  -DEDGEC_TOOLS=OFF -DEDGEC_FUZZ_PLAIN_SIMD=ON >/dev/null
cmake --build "$out/cmake" --target edgec_runtime_static

"$CC" -std=c11 -g -O1 -fsanitize=fuzzer $san -DEDGEC_FUZZING \
  -I"$root/include" -I"$root/src" -Wall -Wextra \
  "$here/fuzz_load.c" "$out/cmake/libedgec.a" -lm -lpthread -o "$out/fuzz_load"
echo "built $out/fuzz_load with $CC"
