#!/usr/bin/env bash
# Size gate of the C runtime, cross-built for AArch64 Linux (boards and phones).
#
#   cpu:  libedgec.so with all fp32 and int8 CPU kernels of the model families
#         (elementwise, conv/gemm, pool/norm/reduce, data movement, int8)  <= 200 KiB
#         The goal is 150 KiB; measured 190.3 KiB on 2026-11-26, so this limit
#         stops growth until the kernels shrink (see bench/RESULTS.md).
#   core: libedgec.so with no kernel (EDGEC_OPS_DEF = an empty list):
#         loader, verifier, interpreter, arena, thread pool              <=  40 KiB
#   full: every kernel (ops_all.def: also the conformance extras such as
#         RNN/GRU/LSTM, DFT, GridSample, and the sparse kernels): printed, no limit
#
# What is measured: the shared library, stripped (strip --strip-all), file size.
# Why the .so rather than a static link of edgec-run: the .so is what an app
# ships (Android loads it through JNI; a board links it), it holds exactly the
# runtime's code and data reachable from the public ec_* API (everything else
# is hidden and dropped by --gc-sections), and it excludes libc, which a static
# edgec-run would add (glibc's static parts alone outweigh the whole runtime)
# along with the tool's own code.
#
# How it is built (the gate's build, not the default one):
#   - CMAKE_BUILD_TYPE=MinSizeRel (-Os): what a size-sensitive app builds;
#     Release (-O3) is about twice as large because of unrolled/vectorized loops.
#   - -ffunction-sections -fdata-sections + --gc-sections (the CMakeLists default).
#   - linked with -z max-page-size=4096 -z noseparate-code: GNU ld's AArch64 default
#     aligns the segments to 64 KiB pages, which pads the file with up to ~64 KiB
#     of zeros that say nothing about our code; 4 KiB pages measure code + data.
#
# Limits in bytes can be overridden: EDGEC_SIZE_LIMIT_FULL, EDGEC_SIZE_LIMIT_CORE.
# Needs cmake and Debian's gcc-aarch64-linux-gnu (installed here when missing and
# run as root). Exit status 1 when a limit is exceeded, 2 when it cannot build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
limit_full="${EDGEC_SIZE_LIMIT_FULL:-$((200 * 1024))}"
limit_core="${EDGEC_SIZE_LIMIT_CORE:-$((40 * 1024))}"
prefix=aarch64-linux-gnu-

if ! command -v "${prefix}gcc" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu >/dev/null 2>&1; } ||
      true
  fi
fi
for tool in cmake "${prefix}gcc" "${prefix}strip" "${prefix}size" "${prefix}nm"; do
  if ! command -v "$tool" >/dev/null; then
    echo "size gate: $tool not found (apt-get install cmake gcc-aarch64-linux-gnu)" >&2
    exit 2
  fi
done
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '/* no kernels: the core alone */\n' >"$work/ops_none.def"
for family in elementwise conv pool_norm tensor quant; do
  printf '#include "kernels/ops_%s.def"\n' "$family"
done >"$work/ops_cpu.def"

# build NAME OPS_DEF: configure (again) and build libedgec.so, keep a stripped copy.
build() {
  if ! cmake -S "$root/runtime_c" -B "$work/build" "${generator[@]}" \
      -DCMAKE_TOOLCHAIN_FILE="$root/targets/cmake/aarch64-linux-gnu.cmake" \
      -DCMAKE_BUILD_TYPE=MinSizeRel -DEDGEC_TOOLS=OFF -DEDGEC_OPS_DEF="$2" \
      "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code" \
      >"$work/$1.log" 2>&1 ||
    ! cmake --build "$work/build" --target edgec_runtime >>"$work/$1.log" 2>&1; then
    tail -n 40 "$work/$1.log" >&2
    echo "size gate: the $1 build failed" >&2
    exit 2
  fi
  cp "$work/build/libedgec.so" "$work/$1.so"
  "${prefix}strip" --strip-all -o "$work/$1.stripped.so" "$work/$1.so"
}

build full ""
build cpu "$work/ops_cpu.def"
build core "$work/ops_none.def"

status=0
check() { # NAME LIMIT (0: no limit, printed only)
  local size
  size=$(stat -c %s "$work/$1.stripped.so")
  local verdict=ok
  if [ "$2" -eq 0 ]; then verdict="no limit"; elif [ "$size" -gt "$2" ]; then verdict=FAIL; status=1; fi
  local sections
  sections=$("${prefix}size" "$work/$1.stripped.so" | awk 'NR==2 {print "text " $1 ", data " $2 ", bss " $3}')
  printf '%-4s libedgec.so stripped: %7d bytes (%6.1f KiB), limit %6.1f KiB: %s  [%s]\n' \
    "$1" "$size" "$(awk "BEGIN {print $size / 1024}")" "$(awk "BEGIN {print $2 / 1024}")" \
    "$verdict" "$sections"
  if [ "$verdict" = FAIL ]; then
    echo "  largest symbols of the $1 build:"
    "${prefix}nm" --size-sort --radix=d -S "$work/$1.so" | tail -n 15 |
      awk '{printf "    %7d  %s\n", $2, $4}'
  fi
}
echo "runtime size gate: aarch64-linux-gnu, MinSizeRel (-Os), gc-sections, 4 KiB pages"
check cpu "$limit_full"
check core "$limit_core"
check full 0
exit "$status"
