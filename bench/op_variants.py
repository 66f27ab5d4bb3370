"""Per-op time of a zoo model with some ops forced to the reference kernel
family and to the best one (Instruction.variant, kernel.h EC_VARIANT_*),
both sessions run in turn in one process, so a noisy machine slows both
alike; onnxruntime's time for the same ONNX ops comes from its profiler.

    python bench/op_variants.py [--models bert_encoder] [--ops SOFTMAX LAYER_NORM]
                                [--threads 1] [--runs 30]

Prints, per op and variant, the median over runs of the op's total time in
one inference (ms), and the medians of whole inferences.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections import defaultdict
from pathlib import Path

import onnxruntime as ort

import edgec
from edgec import zoo
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import VARIANT_BEST, VARIANT_FAMILY_MASK, VARIANT_REF
from edgec.program import Program

# edgec opcode -> the op types whose onnxruntime time it is compared with (onnxruntime
# fuses the residual Add into LayerNormalization: its SkipLayerNormalization
# includes that add, which edgec runs as a separate ADD)
ONNX_OPS = {"SOFTMAX": ("Softmax",), "LOG_SOFTMAX": ("LogSoftmax",),
            "LAYER_NORM": ("LayerNormalization", "SkipLayerNormalization",
                           "InstanceNormalization")}


def with_family(program: Program, opcodes: set[int], family: int) -> bytes:
    saved = [ins.variant for ins in program.instructions]
    for ins in program.instructions:
        if ins.opcode in opcodes:
            ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | family
    data = serialize(program)
    for ins, v in zip(program.instructions, saved, strict=True):
        ins.variant = v
    return data


def ort_op_ms(model_bytes: bytes, feeds: dict, threads: int, runs: int) -> dict[str, float]:
    """Mean ms per inference spent in each ONNX op type (onnxruntime's profiler)."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    sess.run(None, feeds)  # warm-up, not profiled
    opts.enable_profiling = True
    sess = ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])
    sess.run(None, feeds)
    for _ in range(runs):
        sess.run(None, feeds)
    path = Path(sess.end_profiling())
    events = json.loads(path.read_text())
    path.unlink()
    per_op: dict[str, float] = defaultdict(float)
    for ev in events:
        if ev.get("cat") == "Node" and ev.get("name", "").endswith("_kernel_time"):
            per_op[ev["args"]["op_name"]] += ev["dur"] / 1e3
    return {op: ms / (runs + 1) for op, ms in per_op.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["bert_encoder"])
    parser.add_argument("--ops", nargs="+", default=["SOFTMAX", "LAYER_NORM"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    opcodes = {getattr(Opcode, op): op for op in args.ops}
    print(f"runtime: {os.environ.get(edgec.runtime.LIB_ENV, 'installed')}, "
          f"threads {args.threads}, {args.runs} runs")
    for name in args.models:
        model = zoo.build(name)
        feeds = zoo.MODELS[name].example_inputs(seed=0)
        program = compile_program(model).program
        sessions = {fam: edgec.Session(with_family(program, set(opcodes), v),
                                       threads=args.threads, profile=True)
                    for fam, v in (("ref", VARIANT_REF), ("best", VARIANT_BEST))}
        for s in sessions.values():
            s.run(None, feeds)
        op_ms: dict[str, dict[str, list[float]]] = {f: defaultdict(list) for f in sessions}
        total: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.runs):
            for fam, s in sessions.items():
                s.run(None, feeds)
                prof = s.profile()
                per_op: dict[str, float] = defaultdict(float)
                for op, ms in prof:
                    per_op[op] += ms
                for op, ms in per_op.items():
                    op_ms[fam][op].append(ms)
                total[fam].append(sum(ms for _, ms in prof))
        theirs = ort_op_ms(model.SerializeToString(), feeds, args.threads, args.runs)
        kernel_names = {ins.opcode: ins for ins in program.instructions}
        print(f"{name}: op, ms per inference (median): ref, best, onnxruntime")
        for opcode, op in opcodes.items():
            if opcode not in kernel_names:
                continue
            # the profile names ops by kernel name: opcode SOFTMAX -> "softmax"
            kname = op.lower()
            ref = statistics.median(op_ms["ref"][kname])
            best = statistics.median(op_ms["best"][kname])
            ort_ms = sum(theirs.get(t, 0.0) for t in ONNX_OPS.get(op, ()))
            print(f"  {op:12s} {ref:8.3f} {best:8.3f} {ort_ms:8.3f}   ({ref / best:.1f}x)")
        print(f"  {'whole model':12s} {statistics.median(total['ref']):8.3f} "
              f"{statistics.median(total['best']):8.3f}")


if __name__ == "__main__":
    main()
