"""Per op type: edgec's time against onnxruntime's on one model, each the sum
over its instructions (nodes) of the best of N runs.

    python bench/op_profile.py MODEL [--threads 1] [--runs 10]

MODEL: a zoo name (mobilenet_v2, resnet18, bert_encoder), an onnx "light"
model name (squeezenet, densenet121, inception_v2, ...) or an .onnx path.
edgec's times come from its per-instruction profile, onnxruntime's from its
node profile (SessionOptions.enable_profiling). Best-of per instruction
leaves out most of a shared machine's noise; it is not the latency of a run
(bench/compare.py measures that), it says where the time goes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from rich.console import Console
from rich.table import Table

import edgec
from edgec import zoo
from edgec.runtime import Session

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def load(name: str) -> tuple[onnx.ModelProto, dict[str, np.ndarray]]:
    if name in zoo.names():
        return zoo.build(name), zoo.MODELS[name].example_inputs(seed=0)
    path = Path(name) if name.endswith(".onnx") else LIGHT_DIR / f"light_{name}.onnx"
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name not in inits:
            shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            feeds[inp.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    return model, feeds


def edgec_profile(model: onnx.ModelProto, feeds: dict, threads: int, runs: int) -> dict[str, float]:
    session = Session(edgec.compile(model), threads=threads, profile=True)
    best: list[float] | None = None
    for _ in range(runs):
        session.run(None, dict(feeds))
        times = [ms for _, ms in session.profile()]
        best = times if best is None else [min(a, b) for a, b in zip(best, times, strict=True)]
    out: dict[str, float] = defaultdict(float)
    for (op, _), ms in zip(session.profile(), best or [], strict=True):
        out[op] += ms
    return out


def onnxruntime_profile(model: onnx.ModelProto, feeds: dict, threads: int,
                        runs: int) -> dict[str, float]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        opts.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(model.SerializeToString(), opts,
                                       providers=["CPUExecutionProvider"])
        for _ in range(runs):
            session.run(None, dict(feeds))
        events = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[tuple[str, str], float] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            key = (e["name"], e["args"]["op_name"])
            per_node[key] = min(per_node.get(key, float("inf")), e["dur"] / 1e3)
    out: dict[str, float] = defaultdict(float)
    for (_, op), ms in per_node.items():
        out[op] += ms
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    model, feeds = load(args.model)
    ours = edgec_profile(model, feeds, args.threads, args.runs)
    theirs = onnxruntime_profile(model, feeds, args.threads, args.runs)
    table = Table(title=f"{args.model}, {args.threads} thread(s): ms per op type, "
                        f"sum of per-instruction best of {args.runs}")
    for col in ("edgec op", "edgec ms", "onnxruntime op", "onnxruntime ms"):
        table.add_column(col, justify="right" if col.endswith("ms") else "left")
    left = sorted(ours.items(), key=lambda kv: -kv[1])
    right = sorted(theirs.items(), key=lambda kv: -kv[1])
    for k in range(max(len(left), len(right))):
        a = left[k] if k < len(left) else ("", None)
        b = right[k] if k < len(right) else ("", None)
        table.add_row(a[0], "" if a[1] is None else f"{a[1]:.3f}",
                      b[0], "" if b[1] is None else f"{b[1]:.3f}")
    table.add_row("sum", f"{sum(ours.values()):.3f}", "sum", f"{sum(theirs.values()):.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
