#!/usr/bin/env bash
# Runs the runtime's Python test suites against an ASan + UBSan build of the
# C runtime (runtime_c built with -DEDGEC_SANITIZE=ON, gcc).
#
#   ci/sanitize.sh                 # from the repo root, after pip install -e ".[dev]"
#   ci/sanitize.sh -k malformed    # extra arguments go to pytest
#
# The library is loaded into an ordinary (uninstrumented) python through
# ctypes, so the sanitizer runtimes are LD_PRELOADed. Leak detection is off:
# CPython does not free everything at exit, and LSan would report that as
# leaks of the interpreter, not of the runtime (the C tests cover leaks).
# Any ASan or UBSan report aborts the process, which fails pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

build="build/asan"
for tool in cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 || python -m pip install -q "$tool"
done
cmake -S runtime_c -B "$build" -G Ninja -DCMAKE_C_COMPILER=gcc \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEC_SANITIZE=ON -DEDGEC_TOOLS=OFF >/dev/null
cmake --build "$build" --target edgec_runtime

lib="$PWD/$build/libedgec.so"
asan="$(gcc -print-file-name=libasan.so)"
ubsan="$(gcc -print-file-name=libubsan.so)"
for f in "$lib" "$asan" "$ubsan"; do
  [[ -e "$f" ]] || { echo "sanitize.sh: missing $f" >&2; exit 2; }
done

export EDGEC_RUNTIME_LIB="$lib"
export LD_PRELOAD="$asan $ubsan${LD_PRELOAD:+ $LD_PRELOAD}"
# allocator_may_return_null: a file may ask for a huge arena; the runtime must
# report EC_ERR_NO_MEMORY, which ASan would otherwise turn into an abort.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

# tests/test_cli.py spawns the edgec CLI: the environment above reaches it too.
python -m pytest -q -p no:cacheprovider \
  tests/runtime tests/lower tests/format tests/test_cli.py "$@"
