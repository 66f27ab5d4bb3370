"""edgec against onnxruntime (and MNN when installed: pip install MNN) on the
same model, the same inputs and the same thread count, interleaved in one
process run.

    python bench/compare.py [--threads 1 2] [--models mobilenet_v2 resnet18 bert_encoder]
                            [--light] [--rounds 7] [--no-mnn]

Per model: edgec ms, onnxruntime ms (medians), ratio edgec/onnxruntime, MNN ms
and edgec/MNN, GFLOP/s and % of the measured single-core FMA peak, and edgec's
top ops.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from flops import model_flops
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import edgec
from edgec import zoo
from edgec.compare import interleaved, mnn_available, runners
from edgec.targets import host_isa_features

BENCH_DIR = Path(__file__).resolve().parent
LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def fma_peak_gflops() -> tuple[str, float]:
    """The ISA edgec's x86 kernels run on this host (AVX-512 where the CPU has
    it, else AVX2) and its single-core FMA peak, measured with bench/fma_peak.c,
    not taken from a datasheet."""
    wide = "avx512f" in host_isa_features()
    flags = ["-mavx512f", "-DFMA_PEAK_AVX512"] if wide else []
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "fma_peak"
        subprocess.run(["cc", "-O2", "-mavx2", "-mfma", *flags, str(BENCH_DIR / "fma_peak.c"),
                        "-o", str(exe)], check=True)
        return ("AVX-512" if wide else "AVX2", float(subprocess.run(
            [str(exe)], check=True, capture_output=True, text=True).stdout))


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
    parser.add_argument("--models", nargs="*", default=zoo.names())
    parser.add_argument("--light", action="store_true", help="also the onnx 'light' models")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print edgec's top 10 ops")
    parser.add_argument("--no-mnn", action="store_true", help="leave MNN out even if installed")
    parser.add_argument("--cpu-time", action="store_true",
                        help="1-thread rows: CPU time per run (time.process_time) instead of wall "
                             "time, which leaves out waits for a core on a loaded machine")
    args = parser.parse_args()
    others = ("onnxruntime",) if args.no_mnn or not mnn_available() else ("onnxruntime", "mnn")

    console = Console()
    isa, peak = fma_peak_gflops()
    console.print(f"single-core fp32 FMA peak ({isa}, measured): {peak:.1f} GFLOP/s")
    timing = "1 thread: CPU time; " if args.cpu_time else ""
    table = Table(title=f"edgec vs onnxruntime ({timing}medians, same process, interleaved)")
    mnn_cols = ("MNN ms", "edgec / MNN") if "mnn" in others else ()
    for col in ("model", "threads", "edgec ms", "onnxruntime ms", "ratio", *mnn_cols,
                "edgec GFLOP/s", "% of peak"):
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
                clock = time.process_time if args.cpu_time and threads == 1 else time.perf_counter
                med = interleaved(runners(model, data, feeds, threads, others), args.rounds,
                                  clock=clock)
                gflops = flops / med["edgec"] / 1e6
                mnn = (f"{med['mnn']:.2f}", f"{med['edgec'] / med['mnn']:.2f}") if mnn_cols else ()
                table.add_row(name, str(threads), f"{med['edgec']:.2f}",
                              f"{med['onnxruntime']:.2f}",
                              f"{med['edgec'] / med['onnxruntime']:.2f}", *mnn,
                              f"{gflops:.1f}", f"{100 * gflops / (peak * threads):.0f}%")
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
