#!/usr/bin/env bash
# Size gate of the C runtime, cross-built for AArch64 Linux (boards and phones).
#
#   cpu:  libedgec.so with every fp32 and int8 CPU kernel the compiler emits for
#         the model families: elementwise, conv/gemm, pool/norm/reduce, data
#         movement, int8 (ops_quant.def) and the sparse kernels of pruned models
#         (ops_sparse.def)                                            <= 150,000 bytes
#         The goal of issue 7, met again on 2026-11-26 with the sparse fused
#         INVERTED_RESIDUAL block (which had put it at 154,000): 149,808 bytes,
#         text 145,420, code + data 146,564 of the 147,456 this 4 KiB step holds
#         (892 under; the gate prints that line; bench/RESULTS.md, "Runtime
#         size (aarch64)", fifth and sixth rounds).
#   core: libedgec.so with no kernel (EDGEC_OPS_DEF = an empty list):
#         loader, verifier, interpreter, arena, thread pool          <=  40,000 bytes
#   full: every kernel (ops_all.def: also the conformance extras of ops_misc.def,
#         opcodes 200-230: GatherElements/ScatterND/TopK/CumSum/..., RNN/GRU/LSTM,
#         DFT, GridSample, inverse trigonometry, bitwise ops): printed, no limit.
#         A model that uses those gets them from a selective build
#         (edgec runtime build --for MODEL.edgeb) or the full build.
#   cpu+eh: the cpu build with unwind tables (EDGEC_UNWIND_TABLES=ON): printed.
#
# KB is read as 1,000 bytes (the stricter reading; 150 KiB would be 153,600).
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
#   - EDGEC_UNWIND_TABLES=OFF (-fno-asynchronous-unwind-tables): no .eh_frame,
#     about a tenth of the library. The runtime calls no user code, so nothing
#     unwinds through it to work; what it costs is on-device backtraces through
#     it (debuggers, crash reporters), which then need frame records or the
#     unstripped -g build. The cpu+eh line shows the size with the tables.
#   - -ffunction-sections -fdata-sections + --gc-sections (the CMakeLists default).
#   - the library's own link flags (runtime_c/CMakeLists.txt): --gc-sections, and on
#     AArch64 --fix-cortex-a53-843419=adr (the erratum fixed by ADR rewrites, not by
#     veneers that ld pads to 4 KiB, which would move the size by a whole step
#     whenever code layout puts one affected sequence in the library).
#   - linked with -z max-page-size=4096 -z noseparate-code: GNU ld's AArch64 default
#     aligns the segments to 64 KiB pages, which pads the file with up to ~64 KiB
#     of zeros that say nothing about our code; 4 KiB pages measure code + data.
#     Even so, ld ends the RELRO region on a page boundary, so the file holds
#     up to 4 KiB of zeros before the data segment and its size moves in 4 KiB
#     steps: what decides the step is code + read-only data + relocated data.
# The same library: edgec runtime build --target aarch64-linux-gnu --build-type
# MinSizeRel -D EDGEC_UNWIND_TABLES=OFF --ops ... --strip.
#
# Usage: ci/size_gate.sh [--map]   (--map: also where the bytes of the cpu build
# go, per object file, from the linker's map: code, read-only data, relocated
# data; and its 25 largest symbols)
# Limits in bytes can be overridden: EDGEC_SIZE_LIMIT_CPU, EDGEC_SIZE_LIMIT_CORE.
# Needs cmake and Debian's gcc-aarch64-linux-gnu (installed here when missing and
# run as root). Exit status 1 when a limit is exceeded, 2 when it cannot build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
limit_cpu="${EDGEC_SIZE_LIMIT_CPU:-${EDGEC_SIZE_LIMIT_FULL:-150000}}"
limit_core="${EDGEC_SIZE_LIMIT_CORE:-40000}"
prefix=aarch64-linux-gnu-
show_map=0
if [ "${1:-}" = --map ]; then show_map=1; fi

if ! command -v "${prefix}gcc" >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 &&
        apt-get install -y -qq --no-install-recommends gcc-aarch64-linux-gnu >/dev/null 2>&1; } ||
      true
  fi
fi
for tool in cmake "${prefix}gcc" "${prefix}strip" "${prefix}size" "${prefix}nm" "${prefix}readelf"; do
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
for family in elementwise conv pool_norm tensor quant sparse; do
  printf '#include "kernels/ops_%s.def"\n' "$family"
done >"$work/ops_cpu.def"

# build NAME OPS_DEF UNWIND: configure (again) and build libedgec.so, keep a stripped copy.
build() {
  if ! cmake -S "$root/runtime_c" -B "$work/build" "${generator[@]}" \
      -DCMAKE_TOOLCHAIN_FILE="$root/targets/cmake/aarch64-linux-gnu.cmake" \
      -DCMAKE_BUILD_TYPE=MinSizeRel -DEDGEC_TOOLS=OFF -DEDGEC_OPS_DEF="$2" \
      -DEDGEC_UNWIND_TABLES="$3" \
      "-DCMAKE_SHARED_LINKER_FLAGS=-Wl,-z,max-page-size=4096 -Wl,-z,noseparate-code -Wl,-Map=$work/$1.map" \
      >"$work/$1.log" 2>&1 ||
    ! cmake --build "$work/build" --target edgec_runtime >>"$work/$1.log" 2>&1; then
    tail -n 40 "$work/$1.log" >&2
    echo "size gate: the $1 build failed" >&2
    exit 2
  fi
  cp "$work/build/libedgec.so" "$work/$1.so"
  "${prefix}strip" --strip-all -o "$work/$1.stripped.so" "$work/$1.so"
}

build full "" OFF
build cpu_eh "$work/ops_cpu.def" ON
build cpu "$work/ops_cpu.def" OFF
build core "$work/ops_none.def" OFF

status=0
check() { # NAME LIMIT (0: no limit, printed only)
  local size
  size=$(stat -c %s "$work/$1.stripped.so")
  local verdict=ok limit="no limit"
  if [ "$2" -eq 0 ]; then
    verdict="printed"
  else
    limit=$(printf 'limit %7d' "$2")
    if [ "$size" -gt "$2" ]; then verdict=FAIL; status=1; fi
  fi
  local sections
  sections=$("${prefix}size" "$work/$1.stripped.so" | awk 'NR==2 {print "text " $1 ", data " $2 ", bss " $3}')
  printf '%-6s libedgec.so stripped: %7d bytes (%6.1f KiB), %-13s: %-7s [%s]\n' \
    "${1/_/+}" "$size" "$(awk "BEGIN {print $size / 1024}")" "$limit" "$verdict" "$sections"
  if [ "$1" = cpu ]; then
    # What decides the 4 KiB step (see the header): the read-only segment's
    # file size plus the RELRO region, against the next multiple of 4096.
    "${prefix}readelf" -lW "$work/$1.stripped.so" | awk '
      function hex(h, i, v) {
        h = tolower(h); sub(/^0x/, "", h); v = 0
        for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
        return v
      }
      $1 == "LOAD" && !seen { ro = hex($5); seen = 1 } $1 == "GNU_RELRO" { rr = hex($5) }
      END { cd = ro + rr; step = int((cd + 4095) / 4096) * 4096
            printf "       code + data %d (read-only segment %d + RELRO %d): %d under the %d this step holds\n", cd, ro, rr, step - cd, step }'
  fi
  if [ "$verdict" = FAIL ]; then
    echo "  largest symbols of the $1 build:"
    "${prefix}nm" --size-sort --radix=d -S "$work/$1.so" | tail -n 15 |
      awk '{printf "    %7d  %s\n", $2, $4}'
  fi
}

# Bytes per object file in the linked library (after --gc-sections), from the
# map: .text, .rodata (with the string literals), .data.rel.ro + .data (tables
# of pointers, each also costing a 24-byte dynamic relocation), .eh_frame.
by_object() {
  awk '
    function hex(h, i, v) {
      h = tolower(h); sub(/^0x/, "", h); v = 0
      for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
      return v
    }
    /^Linker script and memory map/ { on = 1; next }
    !on { next }
    /^\.[A-Za-z_.]+/ { split($1, a, " "); out = a[1] }
    function add(sz, f) {
      n = f; sub(/.*CMakeFiles\/edgec_objects\.dir\/src\//, "", n); sub(/\.c\.o$/, "", n)
      if (n == f) { sub(/.*\//, "", n); n = "(toolchain)" n }
      k = out; if (k == ".data") k = ".data.rel.ro"
      if (k != ".text" && k != ".rodata" && k != ".data.rel.ro" && k != ".eh_frame") return
      s[n, k] += sz; tot[n] += sz; all[k] += sz; sum += sz
    }
    pend && /^[ \t]+0x[0-9a-f]+[ \t]+0x[0-9a-f]+[ \t]+[^ \t]+$/ { add(hex($2), $3); pend = 0; next }
    { pend = 0 }
    /^ \.[^ \t]+[ \t]+0x[0-9a-f]+[ \t]+0x[0-9a-f]+[ \t]+[^ \t]+$/ { add(hex($3), $4); next }
    /^ \.[^ \t]+$/ { pend = 1 }
    END {
      printf "    %-30s %7s %7s %7s %7s %7s\n", "object", "total", "text", "rodata", "relro", "eh"
      for (n in tot) printf "    %-30s %7d %7d %7d %7d %7d\n", n, tot[n], s[n, ".text"],
        s[n, ".rodata"], s[n, ".data.rel.ro"], s[n, ".eh_frame"] | "sort -k2,2nr"
      close("sort -k2,2nr")
      printf "    %-30s %7d %7d %7d %7d %7d\n", "(all)", sum, all[".text"], all[".rodata"],
        all[".data.rel.ro"], all[".eh_frame"]
    }' "$1"
}

echo "runtime size gate: aarch64-linux-gnu, MinSizeRel (-Os), no unwind tables, gc-sections, 4 KiB pages"
check cpu "$limit_cpu"
check core "$limit_core"
check full 0
check cpu_eh 0
if [ "$show_map" = 1 ]; then
  echo "cpu build, bytes per object file (linker map; the rest of the file is the dynamic"
  echo "symbol table, relocations, PLT/GOT, headers and page padding):"
  by_object "$work/cpu.map"
  "${prefix}readelf" -SW "$work/cpu.stripped.so" | awk '
    function hex(h, i, v) {
      h = tolower(h); v = 0
      for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
      return v
    }
    { sub(/^ *\[ *[0-9]+\] */, "") }
    $1 ~ /^\.(rela\.dyn|rela\.plt|dynsym|dynstr|plt|got|got\.plt|eh_frame|eh_frame_hdr)$/ {
      printf "    %-30s %7d\n", $1, hex($5) }'
  echo "  largest symbols of the cpu build:"
  "${prefix}nm" --size-sort --radix=d -S "$work/cpu.so" | tail -n 25 |
    awk '{printf "    %7d  %s %s\n", $2, $3, $4}'
fi
exit "$status"
