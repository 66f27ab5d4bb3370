"""Pruning and sparsity on the zoo CNNs, in one command:

    python bench/prune.py [--models mobilenet_v2,resnet18] [--threads 1] [--rounds 7]
    python bench/prune.py --calibrate     # break-even densities of the sparse kernels

For each model: the .edgeb size at 80% / 90% unstructured magnitude sparsity
(global threshold and per layer) against the dense fp32 file, whole-model
latency against the dense edgec model (all engines in one process,
interleaved in small blocks: one discarded run then timed runs, per engine in
turn; medians), and channel pruning 30%: parameters and latency ratios.

The dense baseline is whatever the dense kernels of this tree are at the time
of the run (they are being optimized concurrently); both sides run the same
runtime build. --markdown prints the table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

import edgec
import edgec.zoo as zoo
from edgec.compiler import compile_program
from edgec.frontend.onnx_import import import_onnx
from edgec.prune import prune_graph
from edgec.prune.encoding import SparseTensor

SPECS = ["magnitude:0.8", "magnitude:0.8:per-layer", "magnitude:0.9",
         "magnitude:0.9:per-layer", "channels:0.3"]


@dataclass
class Row:
    model: str
    spec: str
    size: int
    params: int
    nonzeros: int
    sparse_ops: int
    median_ms: float


def _params(model: object, spec: str | None) -> tuple[int, int]:
    """Float weights of the imported graph (after Conv+BN folding) after pruning:
    elements and nonzeros."""
    graph = import_onnx(model).graph  # type: ignore[arg-type]
    prune_graph(graph, spec)
    total = nonzeros = 0
    for value in graph.initializers.values():
        if value.const_value is None:
            continue
        arr = value.const_value.numpy()
        if arr.dtype == np.float32 and arr.ndim >= 1:
            total += arr.size
            nonzeros += int(np.count_nonzero(arr))
    return total, nonzeros


def _time(sessions: dict[str, edgec.Session], feeds: dict[str, np.ndarray], rounds: int,
          per_block: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for s in sessions.values():
        s.run(None, feeds)
    for _ in range(rounds):
        for k, s in sessions.items():
            s.run(None, feeds)  # discarded
            for _ in range(per_block):
                t = time.perf_counter()
                s.run(None, feeds)
                times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) * 1e3 for k, v in times.items()}


def bench_model(name: str, specs: list[str], threads: int, rounds: int,
                per_block: int) -> list[Row]:
    model = zoo.build(name)
    feeds = zoo.MODELS[name].example_inputs(0)
    compiled = {"dense": compile_program(model)}
    for spec in specs:
        compiled[spec] = compile_program(model, prune=spec)
    sessions = {k: edgec.Session(r.data, threads=threads) for k, r in compiled.items()}
    ms = _time(sessions, feeds, rounds, per_block)
    rows = []
    for k, r in compiled.items():
        total, nonzeros = _params(model, None if k == "dense" else k)
        # layers whose weight runs sparse: SPARSE_CONV / SPARSE_GEMM, and the sparse
        # 1x1 weights inside fused INVERTED_RESIDUAL blocks
        sparse = sum(isinstance(r.program.tensors[t], SparseTensor)
                     for i in r.program.instructions for t in i.inputs[1:] if t >= 0)
        rows.append(Row(name, k, len(r.data), total, nonzeros, sparse, ms[k]))
    return rows


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def print_rows(rows: list[Row], markdown: bool) -> None:
    dense = {r.model: r for r in rows if r.spec == "dense"}
    head = ["model", "pruning", "file", "file / dense", "params (nonzero) / dense",
            "sparse ops", "latency ms", "latency / dense"]
    lines = []
    for r in rows:
        d = dense[r.model]
        lines.append([r.model, r.spec, f"{r.size / 2**20:.2f} MiB", f"{r.size / d.size:.2f}",
                      f"{r.nonzeros / d.nonzeros:.2f}", str(r.sparse_ops), f"{r.median_ms:.2f}",
                      f"{r.median_ms / d.median_ms:.2f}"])
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join(" --- " for _ in head) + "|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
    for line in lines:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)))


# ---- calibration: break-even densities of the sparse kernels ------------------


def _layer_ms(model: object, threads: int, reps: int) -> float:
    s = edgec.Session(compile_program(model).data, threads=threads, profile=True)  # type: ignore[arg-type]
    x = {a.name: np.random.default_rng(0).standard_normal(a.shape).astype(np.float32)
         for a in s.get_inputs()}
    s.run(None, x)
    best = []
    for _ in range(reps):
        s.run(None, x)
        best.append(sum(ms for op, ms in s.profile() if "conv" in op or "gemm" in op))
    return float(np.median(best))


def calibrate(threads: int, reps: int) -> None:
    """Times single layers dense and sparse over densities; prints the density
    where the sparse kernel starts to win, per shape of work."""
    from onnx import TensorProto, helper

    import edgec.passes.sparsify as sparsify

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from support import make_model  # type: ignore[import-not-found]

    sparsify.BREAK_EVEN = dict.fromkeys(sparsify.BREAK_EVEN, 1.01)  # always sparse
    rng = np.random.default_rng(0)
    cases = {
        "conv1x1": [(96, 576, 56, 1), (576, 96, 56, 1), (384, 64, 14, 1), (960, 160, 7, 1),
                    (64, 128, 56, -1)],
        "conv_winograd": [(64, 64, 56, 3), (128, 128, 28, 3), (256, 256, 14, 3),
                          (512, 512, 7, 3)],
        "conv": [(3, 64, 224, 7), (64, 128, 56, -3), (256, 512, 14, -3)],
        "gemm_gather": [(512, 1000, 1, 0), (1280, 1000, 1, 0)],
        "gemm_tiled": [(768, 768, 128, 0), (768, 3072, 64, 0)],
    }
    densities = [0.5, 0.4, 0.3, 0.2, 0.1]
    for work, shapes in cases.items():
        print(f"{work}: sparse / dense time by density {densities}")
        for cin, cout, hw, k in shapes:
            stride = 2 if k < 0 or k == 7 else 1  # k < 0: a strided k x k
            k = abs(k)
            w = rng.standard_normal((cout, cin, k, k) if k else (cout, cin)).astype(np.float32)
            shape: tuple[int, ...]
            if k:
                node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[k // 2] * 4,
                                        strides=[stride, stride])
                shape = (1, cin, hw, hw)
            else:  # hw: rows of X
                node = helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)
                shape = (hw, cin)

            def build(weight: np.ndarray, node: object = node, shape: tuple = shape) -> object:
                return make_model([node], {"x": (TensorProto.FLOAT, shape)},
                                  {"y": TensorProto.FLOAT}, {"w": weight})

            dense = _layer_ms(build(w), threads, reps)
            ratios = []
            for d in densities:
                ws = w * (rng.random(w.shape) < d)
                ratios.append(_layer_ms(build(ws.astype(np.float32)), threads, reps) / dense)
            label = f"{hw}x{hw} k{k} s{stride}" if k else f"rows {hw}"
            print(f"  {cin}->{cout} {label}: dense {dense:.3f} ms  " +
                  " ".join(f"{r:.2f}" for r in ratios))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mobilenet_v2,resnet18")
    ap.add_argument("--specs", default=",".join(SPECS).replace(",", ";"),
                    help="';'-separated prune specs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--per-block", type=int, default=3)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--calibrate", action="store_true")
    args = ap.parse_args()
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"{args.threads} thread(s), load average {_load()} at start; edgec "
          f"{edgec.__version__}, runtime {os.environ.get('EDGEC_RUNTIME_LIB', 'installed')}")
    if args.calibrate:
        calibrate(args.threads, max(args.rounds, 9))
        return 0
    rows: list[Row] = []
    for name in args.models.split(","):
        rows += bench_model(name, args.specs.split(";"), args.threads, args.rounds,
                            args.per_block)
    print_rows(rows, args.markdown)
    print(f"# load average {_load()} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
