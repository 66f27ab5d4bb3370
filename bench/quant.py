"""int8 quantization on the zoo models: size, accuracy against fp32, latency.

    python bench/quant.py [--models mobilenet_v2 resnet18] [--threads 1 2] [--rounds 7]
                          [--calib 16] [--held-out 32] [--dynamic bert_encoder]

Per model: the .edgeb size in fp32 and int8 and their ratio; the int8 output's
cosine to edgec's fp32 output and top-1 agreement on held-out inputs (smooth
synthetic images, edgec.quant.calibrate.smooth_images, drawn from the same
distribution as the calibration set with other seeds), for edgec's int8 and for
onnxruntime's quantize_static QDQ model made from the same calibration data
(per-channel int8 weights, uint8 activations, MinMax); then medians of
latency, interleaved in one process with the same thread count: edgec int8,
edgec fp32 (the best kernels this CPU has), edgec fp32 with the AVX2 kernels
only (the target class: AVX2 without AVX-512), onnxruntime fp32 and
onnxruntime's int8 QDQ model. --dynamic adds edgec's dynamic int8 for
MatMul-heavy models against onnxruntime's quantize_dynamic.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from rich.console import Console
from rich.table import Table

import edgec
from edgec import zoo
from edgec.compare import interleaved
from edgec.compiler import compile_program
from edgec.format.writer import serialize
from edgec.plan import plan_arena
from edgec.program import Program
from edgec.quant import QuantOptions
from edgec.quant.calibrate import smooth_images

VARIANT_FAMILY_MASK, VARIANT_AVX2 = 0xFF, 2


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def avx2_only(program: Program) -> bytes:
    """The same program with every float kernel capped at the AVX2 family."""
    for ins in program.instructions:
        if ins.opcode < 300 and ins.variant & VARIANT_FAMILY_MASK:
            ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | VARIANT_AVX2
    plan_arena(program)
    return serialize(program)


def ort_session(model: onnx.ModelProto | str, threads: int) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    src = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(src, opts, providers=["CPUExecutionProvider"])


def runner(session: edgec.Session | ort.InferenceSession, feed: dict[str, np.ndarray]
           ) -> object:
    return lambda: session.run(None, feed)


def agreement(ref: list[np.ndarray], out: list[np.ndarray]) -> tuple[float, float]:
    cos, top1 = [], []
    for a, b in zip(ref, out, strict=True):
        a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
        cos.append(a64 @ b64 / np.linalg.norm(a64) / np.linalg.norm(b64))
        top1.append(a64.argmax() == b64.argmax())
    return float(np.mean(cos)), float(np.mean(top1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "resnet18"])
    parser.add_argument("--dynamic", nargs="*", default=["bert_encoder"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calib", type=int, default=16)
    parser.add_argument("--held-out", type=int, default=128)
    parser.add_argument("--budget", type=float, default=0.999,
                        help="also compile with this --accuracy-budget (0: skip)")
    args = parser.parse_args()
    console = Console(width=170)
    console.print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    acc = Table(title="int8 accuracy and size (held-out smooth synthetic images)")
    budget_cols = ("budget MB", "budget cos", "budget top-1", "kept float") if args.budget \
        else ()
    for col in ("model", "fp32 MB", "int8 MB", "ratio", "edgec cos", "edgec top-1",
                "ort int8 cos", "ort int8 top-1", "ort int8 MB", *budget_cols):
        acc.add_column(col, justify="left" if col == "model" else "right")
    lat = Table(title="latency, ms (medians, interleaved in one process)")
    for col in ("model", "threads", "edgec int8", "edgec fp32", "edgec fp32 AVX2", "ort fp32",
                "ort int8", "int8/fp32", "int8/fp32 AVX2", "int8 / ort int8"):
        lat.add_column(col, justify="left" if col == "model" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            console.print(f"[bold]{name}[/bold]: compiling and calibrating")
            model = zoo.build(name)
            inp = model.graph.input[0].name
            shape = tuple(d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim)
            calib = [{inp: x} for x in smooth_images(shape, args.calib, seed=1)]
            held = [{inp: x} for x in smooth_images(shape, args.held_out, seed=1000)]
            fp32 = compile_program(model)
            q8 = compile_program(model, quantize="int8", calibration=calib,
                                 quant_options=QuantOptions(progress=False))
            fp32_avx2 = avx2_only(compile_program(model).program)
            src, dst = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}.qdq.onnx"
            onnx.save(model, src)
            quantize_static(str(src), str(dst), _Reader(calib), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8)
            ours_f, ours_q = edgec.Session(fp32.data), edgec.Session(q8.data)
            ort_q = ort_session(str(dst), 1)
            ref = [ours_f.run(None, f)[0] for f in held]
            cos, top1 = agreement(ref, [ours_q.run(None, f)[0] for f in held])
            ocos, otop1 = agreement(ref, [ort_q.run(None, f)[0] for f in held])
            budget: tuple[str, ...] = ()
            if args.budget:
                qb = compile_program(model, quantize="int8", calibration=calib,
                                     accuracy_budget=args.budget,
                                     quant_options=QuantOptions(progress=False))
                ours_b = edgec.Session(qb.data)
                bcos, btop1 = agreement(ref, [ours_b.run(None, f)[0] for f in held])
                kept = len(getattr(qb.quant, "excluded", None) or [])
                budget = (f"{len(qb.data) / 1e6:.2f}", f"{bcos:.5f}", f"{btop1:.3f}", str(kept))
            acc.add_row(name, f"{len(fp32.data) / 1e6:.2f}", f"{len(q8.data) / 1e6:.2f}",
                        f"{len(q8.data) / len(fp32.data):.3f}", f"{cos:.5f}", f"{top1:.3f}",
                        f"{ocos:.5f}", f"{otop1:.3f}", f"{dst.stat().st_size / 1e6:.2f}",
                        *budget)
            feed = held[0]
            for threads in args.threads:
                engines = {
                    "q8": runner(edgec.Session(q8.data, threads=threads), feed),
                    "f32": runner(edgec.Session(fp32.data, threads=threads), feed),
                    "f32avx2": runner(edgec.Session(fp32_avx2, threads=threads), feed),
                    "ortf": runner(ort_session(str(src), threads), feed),
                    "ortq": runner(ort_session(str(dst), threads), feed),
                }
                med = interleaved(engines, args.rounds)
                lat.add_row(name, str(threads), *(f"{med[k]:.2f}" for k in engines),
                            f"{med['q8'] / med['f32']:.2f}", f"{med['q8'] / med['f32avx2']:.2f}",
                            f"{med['q8'] / med['ortq']:.2f}")
        for name in args.dynamic:
            console.print(f"[bold]{name}[/bold]: dynamic int8")
            model = zoo.build(name)
            feeds = zoo.MODELS[name].example_inputs(0)
            fp32 = compile_program(model)
            dq = compile_program(model, quantize="dynamic")
            src, dst = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}.dyn.onnx"
            onnx.save(model, src)
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
            ref = [edgec.Session(fp32.data).run(None, feeds)[0]]
            cos, _ = agreement(ref, [edgec.Session(dq.data).run(None, feeds)[0]])
            ocos, _ = agreement(ref, [ort_session(str(dst), 1).run(None, feeds)[0]])
            acc.add_row(f"{name} (dynamic)", f"{len(fp32.data) / 1e6:.2f}",
                        f"{len(dq.data) / 1e6:.2f}", f"{len(dq.data) / len(fp32.data):.3f}",
                        f"{cos:.5f}", "-", f"{ocos:.5f}", "-", f"{dst.stat().st_size / 1e6:.2f}")
            for threads in args.threads:
                engines = {
                    "q8": runner(edgec.Session(dq.data, threads=threads), feeds),
                    "f32": runner(edgec.Session(fp32.data, threads=threads), feeds),
                    "f32avx2": runner(edgec.Session(avx2_only(fp32.program), threads=threads),
                                      feeds),
                    "ortf": runner(ort_session(str(src), threads), feeds),
                    "ortq": runner(ort_session(str(dst), threads), feeds),
                }
                med = interleaved(engines, args.rounds)
                lat.add_row(f"{name} (dynamic)", str(threads),
                            *(f"{med[k]:.2f}" for k in engines),
                            f"{med['q8'] / med['f32']:.2f}", f"{med['q8'] / med['f32avx2']:.2f}",
                            f"{med['q8'] / med['ortq']:.2f}")
    console.print(acc)
    console.print(lat)
    console.print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
