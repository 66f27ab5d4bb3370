#!/usr/bin/env bash
# ThreadSanitizer check of the runtime: one model shared by several sessions
# on several pthreads, and a session with a 3-thread pool, all compared
# byte-for-byte with a single-threaded run (runtime_c/tests/test_threads.c).
#
#   ci/tsan.sh [SESSIONS [ITERATIONS]]     # from the repo root, after pip install -e ".[dev]"
set -euo pipefail
cd "$(dirname "$0")/.."

out="build/tsan"
mkdir -p "$out"
CC="${CC:-gcc}"

# A model big enough for the pool to split its work (ec_parallel_for splits
# above 2 x 16384 elements): a broadcasting Add, a Relu, a broadcasting Sub.
python - "$out/model.edgeb" <<'PY'
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import edgec

F = TensorProto.FLOAT
graph = helper.make_graph(
    [helper.make_node("Add", ["x", "b"], ["a"], name="add"),
     helper.make_node("Relu", ["a"], ["r"], name="relu"),
     helper.make_node("Sub", ["r", "c"], ["y"], name="sub"),
     helper.make_node("Mul", ["y", "x"], ["z"], name="mul")],
    "tsan",
    [helper.make_tensor_value_info("x", F, [256, 384]),
     helper.make_tensor_value_info("c", F, [256, 1])],
    [helper.make_tensor_value_info("y", F, None), helper.make_tensor_value_info("z", F, None)],
    [numpy_helper.from_array(np.random.default_rng(0).standard_normal(384).astype(np.float32),
                             "b")])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
model.ir_version = 8
edgec.compile(model, output=sys.argv[1])
print(f"compiled {sys.argv[1]}")
PY

# The runtime as its CMakeLists.txt builds it (same sources and per-file ISA
# flags), instrumented for TSan; warnings are not errors in this build.
for tool in cmake ninja; do
  command -v "$tool" >/dev/null 2>&1 || python -m pip install -q "$tool"
done
cmake -S runtime_c -B "$out/cmake" -G Ninja -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer" \
  "-DCMAKE_C_COMPILER_LAUNCHER=sh;-c;exec \"\$@\" -Wno-error;sh" -DEDGEC_TOOLS=OFF >/dev/null
cmake --build "$out/cmake" --target edgec_runtime_static
"$CC" -std=c11 -g -O1 -fsanitize=thread -fno-omit-frame-pointer -Iruntime_c/include \
  runtime_c/tests/test_threads.c "$out/cmake/libedgec.a" -lm -lpthread -o "$out/test_threads"
# the pool on its own: every job once, each thread's share (test_pool.c)
"$CC" -std=c11 -g -O1 -fsanitize=thread -fno-omit-frame-pointer -Iruntime_c/include \
  -Iruntime_c/src runtime_c/tests/test_pool.c runtime_c/src/pool.c runtime_c/src/status.c \
  -lm -lpthread -o "$out/test_pool"

export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"
pre=()
# TSan's shadow memory layout does not fit every kernel's ASLR range
# (vm.mmap_rnd_bits = 32 gives "unexpected memory mapping"): run without
# address randomization when setarch can turn it off.
if command -v setarch >/dev/null 2>&1 && setarch "$(uname -m)" -R true 2>/dev/null; then
  pre=(setarch "$(uname -m)" -R)
fi
"${pre[@]}" "$out/test_threads" "$out/model.edgeb" "${1:-4}" "${2:-20}"
"${pre[@]}" "$out/test_pool"
