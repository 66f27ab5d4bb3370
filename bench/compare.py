"""edgec against onnxruntime (and MNN when installed) on the same model, the
same inputs and the same thread count, interleaved in one process run.

    python bench/compare.py [--threads 1 2] [--models mobilenet_v2 resnet18 bert_encoder]
                            [--light] [--rounds 7]

Per model: edgec ms, onnxruntime ms (medians), ratio edgec/onnxruntime,
GFLOP/s and % of the measured single-core FMA peak, and edgec's top ops.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from flops import model_flops
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import edgec
from edgec import zoo

BENCH_DIR = Path(__file__).resolve().parent
LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def fma_peak_gflops() -> float:
    """Measured with bench/fma_peak.c (AVX2 FMA chains), not taken from a datasheet."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "fma_peak"
        subprocess.run(["cc", "-O2", "-mavx2", "-mfma", str(BENCH_DIR / "fma_peak.c"), "-o",
                        str(exe)], check=True)
        return float(subprocess.run([str(exe)], check=True, capture_output=True,
                                    text=True).stdout)


def _time(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1e3)
    return out


def interleaved(engines: dict[str, Callable[[], object]], rounds: int,
                per_round: int = 3) -> dict[str, float]:
    """A discarded warm-up run per engine, then rounds of a few timed runs per
    engine in turn; the median of all timed runs."""
    for fn in engines.values():
        fn()
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, fn in engines.items():
            samples[name] += _time(fn, per_round)
    return {name: statistics.median(s) for name, s in samples.items()}


def _models(names: list[str], light: bool) -> list[tuple[str, onnx.ModelProto, dict]]:
    out = []
    for name in names:
        out.append((name, zoo.build(name), zoo.MODELS[name].example_inputs(seed=0)))
    if light:
        for path in sorted(LIGHT_DIR.glob("light_*.onnx")):
            model = onnx.load(path)
            inits = {i.name for i in model.graph.initializer}
            (inp,) = [i for i in model.graph.input if i.name not in inits]
            shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
            x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            out.append((path.stem.removeprefix("light_"), model, {inp.name: x}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--models", nargs="+", default=zoo.names())
    parser.add_argument("--light", action="store_true", help="also the onnx 'light' models")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print edgec's top 10 ops")
    args = parser.parse_args()

    console = Console()
    peak = fma_peak_gflops()
    console.print(f"single-core fp32 FMA peak (AVX2, measured): {peak:.1f} GFLOP/s")
    table = Table(title="edgec vs onnxruntime (medians, same process, interleaved)")
    for col in ("model", "threads", "edgec ms", "onnxruntime ms", "ratio", "edgec GFLOP/s",
                "% of peak"):
        table.add_column(col, justify="left" if col == "model" else "right")
    profiles = {}
    models = _models(args.models, args.light)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarking", total=len(models) * len(args.threads))
        for name, model, feeds in models:
            data = edgec.compile(model)
            flops = model_flops(model)
            for threads in args.threads:
                progress.update(task, description=f"{name} @ {threads} thread(s)")
                ours = edgec.Session(data, threads=threads)
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                theirs = ort.InferenceSession(model.SerializeToString(), opts,
                                              providers=["CPUExecutionProvider"])
                med = interleaved({"edgec": lambda s=ours, f=feeds: s.run(None, f),
                                   "ort": lambda s=theirs, f=feeds: s.run(None, f)},
                                  args.rounds)
                gflops = flops / med["edgec"] / 1e6
                table.add_row(name, str(threads), f"{med['edgec']:.2f}", f"{med['ort']:.2f}",
                              f"{med['edgec'] / med['ort']:.2f}", f"{gflops:.1f}",
                              f"{100 * gflops / (peak * threads):.0f}%")
                if args.profile and threads == 1:
                    prof = edgec.Session(data, threads=1, profile=True)
                    prof.run(None, feeds)
                    per_op: dict[str, float] = defaultdict(float)
                    for op, ms in prof.profile():
                        per_op[op] += ms
                    profiles[name] = sorted(per_op.items(), key=lambda kv: -kv[1])[:10]
                progress.advance(task)
    console.print(table)
    for name, top in profiles.items():
        console.print(f"[bold]{name}[/bold] top ops: " +
                      ", ".join(f"{op} {ms:.2f} ms" for op, ms in top))


if __name__ == "__main__":
    main()
