"""int8 quantization (static and dynamic), fp16 weight storage, import of
pre-quantized QDQ models, and the per-layer error report.

Entry point: quantize_program(program, options), called by edgec.compile on the
lowered program after activation fusion. Modules:
  calibrate  feeds, running the float program, observers (min-max, percentile,
             entropy/KL, MSE)
  rewrite    the pass: which ops, int8 twins, QUANTIZE/DEQUANTIZE at boundaries
  weights    per-channel weights, fp16 storage
  luts       unary ops as 256-entry tables
  qdq        QuantizeLinear/DequantizeLinear folding of imported models
  report     per-layer SNR, output cosine, sizes
  kernels    mirrors of the C kernels' workspace and requantization
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np

from edgec.errors import EdgecError
from edgec.fb.Opcode import Opcode
from edgec.program import Program
from edgec.quant.calibrate import (
    METHODS,
    FeedsLike,
    choose_range,
    clone,
    collect,
    load_feeds,
    observable,
    synthetic_feeds,
)
from edgec.quant.qdq import QdqInfo
from edgec.quant.report import Evaluation, LayerRow, QuantReport, evaluate
from edgec.quant.rewrite import (
    ActQ,
    Plan,
    Rewriter,
    act_params,
    choose,
    normalize,
    rewrite_dynamic,
    root,
)
from edgec.quant.weights import conv_weight, gemm_b, quantize_per_channel, snr_db, store_fp16

MODES = ("int8", "dynamic")
EVAL_FEEDS = 32


class RandomCalibrationWarning(UserWarning):
    """Calibrating on synthetic data: the ranges may not fit real inputs."""


@dataclass
class QuantOptions:
    mode: str | None = None  # "int8", "dynamic" or None (fp16 weights / QDQ import only)
    calibration: FeedsLike | None = None  # feeds, a folder of .npz, or "random"
    method: str = "minmax"  # calibration observer: minmax, percentile, entropy, mse
    accuracy_budget: float | None = None  # minimum mean output cosine on the calibration set
    weights: str | None = None  # "fp16"
    report: bool | str | os.PathLike[str] | None = None  # True: print; a path: also HTML
    activation_dtype: str | None = None  # "uint8" / "int8"; default by target
    # 8: [-127, 127]; 7: [-64, 64], which the AVX2 maddubs kernel runs in one pass (8-bit
    # weights may saturate its int16 pairs, so it runs them as two halves, at half the
    # speed: kernels/ref/qgemm_core.h). None: 7 on x86 targets, 8 elsewhere (Arm sdot).
    weight_bits: int | None = None
    max_feeds: int | None = None
    progress: bool = True
    qdq: QdqInfo | None = None


@dataclass
class QuantResult:
    mode: str
    quantized: int = 0  # instructions replaced by int8 ones
    excluded: list[str] = field(default_factory=list)
    report: QuantReport | None = None
    evaluation: Evaluation | None = None
    fp16_bytes_saved: int = 0


def _activation_dtype(options: QuantOptions, isa_features: tuple[str, ...]) -> np.dtype:
    if options.activation_dtype is not None:
        if options.activation_dtype not in ("uint8", "int8"):
            raise EdgecError(f"activation dtype {options.activation_dtype!r} (uint8 or int8)")
        return np.dtype(options.activation_dtype)
    # x86 (AVX2 maddubs) takes uint8 activations natively; Arm's sdot int8.
    return np.dtype(np.int8 if "neon" in isa_features else np.uint8)


def _install(program: Program, new: Program) -> None:
    program.tensors = new.tensors
    program.instructions = new.instructions
    program.inputs = new.inputs
    program.outputs = new.outputs


def _feeds(program: Program, options: QuantOptions) -> list[dict[str, np.ndarray]]:
    inputs = [program.tensors[i] for i in program.inputs]
    cal = options.calibration
    if cal is None:
        raise EdgecError("int8 quantization needs calibration data: calibration=FEEDS (an "
                         "iterable of {input: array}, a folder of .npz files) or 'random'")
    if isinstance(cal, str) and cal == "random":
        warnings.warn("calibrating on synthetic random inputs (smooth random images): the "
                      "ranges may not fit real data; pass real calibration inputs for "
                      "production", RandomCalibrationWarning, stacklevel=3)
        return synthetic_feeds(inputs, count=options.max_feeds or 16)
    return load_feeds(cal, inputs, options.max_feeds)


def _weight_snr(program: Program, pos: int, qmax: int) -> float | None:
    ins = program.instructions[pos]
    try:
        if ins.opcode == Opcode.CONV:
            w, axis = conv_weight(program, ins), 0
        elif ins.opcode in (Opcode.GEMM, Opcode.MATMUL) and \
                program.tensors[ins.inputs[1]].is_constant:
            w, axis = gemm_b(program, ins), 1
        else:
            return None
    except (KeyError, ValueError, AssertionError):
        return None
    qw = quantize_per_channel(w, axis, qmax)
    shape = [1] * w.ndim
    shape[axis] = -1
    return snr_db(w, qw.q.astype(np.float32) * qw.scales.reshape(shape))


def _sensitivity(program: Program, plan: Plan, ev: Evaluation) -> list[tuple[float, int]]:
    """(error the op adds, position), largest first: its input SNR minus its output's."""
    out = []
    for pos in plan.quantized:
        ins = program.instructions[pos]
        outs = [ev.tensor_snr.get(root(program, o)) for o in ins.outputs]
        ins_snr = [ev.tensor_snr.get(root(program, i)) for i in ins.inputs
                   if i >= 0 and not program.tensors[i].is_constant]
        o = min((s for s in outs if s is not None), default=None)
        if o is None:
            continue
        i = min((s for s in ins_snr if s is not None), default=60.0)
        out.append((min(i, 60.0) - min(o, 60.0), pos))
    return sorted(out, reverse=True)


def _weight_qmax(options: QuantOptions, isa_features: tuple[str, ...]) -> int:
    bits = options.weight_bits
    if bits is None:  # 7 bits keep AVX2's maddubs from saturating; VNNI and NEON take 8
        bits = 8 if {"neon", "avx512_vnni"} & set(isa_features) else 7
    if bits not in (7, 8):
        raise EdgecError(f"weight_bits={bits} (7 or 8)")
    return 127 if bits == 8 else 64


def _static(program: Program, options: QuantOptions, dtype: np.dtype, qmax: int,
            result: QuantResult) -> tuple[Program, Plan, Rewriter, list]:
    feeds: list = []
    if options.qdq is not None:
        act = options.qdq.program_params(program)
        strict = True
    else:
        if options.method not in METHODS:
            raise EdgecError(f"calibration method {options.method!r}; known: "
                             f"{', '.join(METHODS)}")
        feeds = _feeds(program, options)
        tensors = [*program.inputs, *observable(program)]
        tensors = [i for i in tensors if program.tensors[i].dtype == np.float32]
        stats = collect(program, feeds, tensors, options.method, options.progress)
        act = {i: act_params(*choose_range(s, options.method), dtype) for i, s in stats.items()}
        strict = False
    exclude: set[int] = set()
    while True:
        plan = choose(program, act, exclude, strict=strict, dtype=dtype)
        plan.weight_qmax = qmax
        if options.qdq is not None:
            plan.weights = options.qdq.program_weights(program)
        rw = Rewriter(program, plan)
        qprog = rw.run()
        if options.accuracy_budget is None or not feeds:
            return qprog, plan, rw, feeds
        ev = evaluate(program, qprog, feeds[:EVAL_FEEDS], _twins(rw))
        result.evaluation = ev
        if ev.cosine >= options.accuracy_budget:
            return qprog, plan, rw, feeds
        ranked = [pos for _, pos in _sensitivity(program, plan, ev) if pos not in exclude]
        if not ranked:
            return qprog, plan, rw, feeds
        step = max(1, len(exclude))
        exclude.update(ranked[:step])
        result.excluded = [program.instructions[p].name or f"#{p}" for p in sorted(exclude)]


def _twins(rw: Rewriter) -> dict[int, int]:
    """float root -> int8 twin root, for tensors that existed in the source program."""
    n = len(rw.src.tensors)
    return {f: q for f, q in rw.twin.items() if f < n and rw.p.tensors[f].alias_of is None}


def _size(program: Program) -> int:
    from edgec.format.writer import serialize
    from edgec.plan import plan_arena

    p = clone(program)
    p.compact()
    plan_arena(p)
    return len(serialize(p))


def quantize_program(program: Program, options: QuantOptions,
                     isa_features: tuple[str, ...] = ()) -> QuantResult:
    """Rewrites program in place. See QuantOptions."""
    mode = options.mode
    if mode is not None and mode not in MODES:
        raise EdgecError(f"quantize={mode!r}; known: {', '.join(MODES)}")
    if options.weights not in (None, "fp16"):
        raise EdgecError(f"weights={options.weights!r}; known: fp16")
    if options.qdq is not None and mode == "dynamic":
        raise EdgecError("the model is already quantized (QDQ): dynamic quantization does "
                         "not apply")
    if program.blocks and (mode is not None or options.qdq is not None or options.weights):
        raise EdgecError("quantizing a model with control flow (If/Loop run as blocks) is "
                         "not supported yet: compile it without quantization")
    result = QuantResult(mode=mode or ("int8" if options.qdq else "none"))
    want_report = options.report not in (None, False)
    before = _size(program) if want_report else 0
    float_prog = clone(program)
    rw: Rewriter | None = None
    feeds: list = []
    if options.qdq is not None or mode == "int8":
        dtype = options.qdq.dtype() if options.qdq is not None else \
            _activation_dtype(options, isa_features)
        normalize(program)
        float_prog = clone(program)
        # imported weights keep their integers: 8 bits (the kernels split what may saturate)
        qmax = 127 if options.qdq is not None else _weight_qmax(options, isa_features)
        qprog, plan, rw, feeds = _static(program, options, dtype, qmax, result)
        result.quantized = len(plan.quantized)
        _install(program, qprog)
    elif mode == "dynamic":  # DYNAMIC_QGEMM applies any fused activation
        normalize(program, keep=tuple(range(256)))
        float_prog = clone(program)
        qprog, count = rewrite_dynamic(program, _weight_qmax(options, isa_features))
        result.quantized = count
        _install(program, qprog)
    if options.weights == "fp16":
        result.fp16_bytes_saved = store_fp16(program)
    if want_report:
        result.report = _report(float_prog, program, rw, feeds, options, result, before,
                                _weight_qmax(options, isa_features))
        result.report.print()
        if isinstance(options.report, (str, os.PathLike)):
            result.report.write_html(options.report)
    return result


def _report(float_prog: Program, program: Program, rw: Rewriter | None, feeds: list,
            options: QuantOptions, result: QuantResult, before: int,
            qmax: int) -> QuantReport:
    rep = QuantReport(mode=result.mode, size_before=before, size_after=_size(program),
                      excluded=list(result.excluded))
    if not feeds and options.calibration is not None:
        feeds = _feeds(float_prog, options)
    if not feeds and rw is None:
        return rep
    if not feeds:
        inputs = [float_prog.tensors[i] for i in float_prog.inputs]
        feeds = synthetic_feeds(inputs, count=4)
    feeds = feeds[:EVAL_FEEDS]
    rep.feeds = len(feeds)
    twins = _twins(rw) if rw is not None else {}
    ev = evaluate(float_prog, program, feeds, twins)
    rep.evaluation = ev
    result.evaluation = ev
    if rw is None:
        return rep
    excluded = set(result.excluded)
    absorbed = set(rw.plan.absorbed.values())
    for pos, ins in enumerate(float_prog.instructions):
        if pos in absorbed:
            continue
        if pos in rw.plan.quantized:
            out = root(float_prog, ins.outputs[0])
            if pos in rw.plan.absorbed:
                out = root(float_prog, float_prog.instructions[rw.plan.absorbed[pos]].outputs[0])
            rep.rows.append(LayerRow(ins.name or f"#{pos}", _op_name(ins.opcode),
                                     float_prog.tensors[out].name, ev.tensor_snr.get(out, np.nan),
                                     _weight_snr(float_prog, pos, qmax)))
        elif (ins.name or f"#{pos}") in excluded:
            rep.rows.append(LayerRow(ins.name or f"#{pos}", _op_name(ins.opcode), "", np.nan,
                                     kept_float=True))
    return rep


def _op_name(opcode: int) -> str:
    for k, v in vars(Opcode).items():
        if v == opcode and not k.startswith("_"):
            return k
    return str(opcode)


__all__ = ["MODES", "ActQ", "QuantOptions", "QuantReport", "QuantResult",
           "RandomCalibrationWarning", "quantize_program"]
