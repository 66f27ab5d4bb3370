"""compile(): ONNX model in, .edgeb bytes out."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import onnx

from edgec import __version__
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.frontend.onnx_import import InputShapes, import_onnx, load_model
from edgec.lower import lower_graph
from edgec.lower.conv import pack_weights
from edgec.lower.dynamic import check_program
from edgec.passes.concat_in_place import concat_in_place
from edgec.passes.fuse_activation import fuse_activations
from edgec.passes.fuse_attention import fuse_attention
from edgec.passes.fuse_inverted_residual import fuse_inverted_residual
from edgec.passes.fuse_matmul_bias import fuse_matmul_bias
from edgec.passes.fuse_residual import fuse_residual
from edgec.passes.sparsify import sparsify
from edgec.passes.split_input_channels import split_input_channels
from edgec.plan import plan_arena
from edgec.program import Program
from edgec.prune import prune_graph
from edgec.targets import get_target
from edgec.util import write_atomic


@dataclass
class CompileResult:
    program: Program
    data: bytes
    fused_activations: int
    quant: object = None  # edgec.quant.QuantResult when quantization ran


def _materialize_outputs(program: Program) -> None:
    """A graph output must live in the arena: copy constant outputs there."""
    for k, idx in enumerate(program.outputs):
        t = program.tensors[idx]
        if not t.is_constant:
            continue
        from edgec.program import Tensor  # local: only this rare path needs it

        dst = program.add_tensor(Tensor(name=t.name, dtype=t.dtype, shape=t.shape))
        src = program.add_tensor(Tensor(name=f"{t.name}/value", dtype=t.dtype, shape=t.shape,
                                        data=t.data))
        from edgec.program import Instruction

        program.instructions.append(Instruction(Opcode.COPY, [src], [dst], name=t.name))
        program.outputs[k] = dst


def compile_program(model: str | os.PathLike[str] | onnx.ModelProto, target: str = "host",
                    input_shapes: InputShapes | None = None,
                    prune: str | None = None, quantize: str | None = None,
                    calibration: object = None, accuracy_budget: float | None = None,
                    weights: str | None = None, report: object = None,
                    quant_options: object = None) -> CompileResult:
    """prune: a pruning spec (edgec.prune.spec), e.g. "magnitude:0.8", "channels:0.3", "2:4".
    quantize ("int8", "dynamic"), calibration, accuracy_budget, weights ("fp16"), report:
    see compile(); quant_options: an edgec.quant.QuantOptions for the finer knobs."""
    target_info = get_target(target)
    proto = load_model(model)
    source_sha = hashlib.sha256(proto.SerializeToString(deterministic=True)).hexdigest()
    qdq = None
    from edgec.quant.qdq import fold_qdq  # pre-quantized models: QDQ pairs -> recorded params

    proto, qdq = fold_qdq(proto)
    graph = import_onnx(proto, input_shapes)
    pruning = prune_graph(graph.graph, prune)
    program = Program()
    lower_graph(graph.graph, program)
    _materialize_outputs(program)
    fuse_matmul_bias(program)  # before the two below: its GEMM takes residual and activation
    if qdq is None:  # a QDQ model's conv outputs carry their own quantization: keep them
        fuse_residual(program)  # before fuse_activations: act(conv + residual) needs it first
    fused = fuse_activations(program)
    quant = _quantize(program, target_info, qdq, quantize, calibration, accuracy_budget, weights,
                      report, quant_options)
    fuse_attention(program)  # after quantization: int8 models keep their QMATMULs
    sparsify(program, pruning.weights)
    pack_weights(program)  # last: every pass above reads weights in their ONNX layout
    fuse_inverted_residual(program)  # takes the packed 1x1 weights as they are
    split_input_channels(program)  # the 1x1 convs left after a depthwise conv
    concat_in_place(program)  # last: the passes above look for tensors that are no views
    program.compact()
    check_program(program)  # data-dependent shapes only where the kernels take them
    plan_arena(program)
    options = {"target": target_info.name,
               "input_shapes": {k: list(v) for k, v in sorted((input_shapes or {}).items())}}
    if prune:
        options["prune"] = prune
    if quant is not None:
        options["quantize"] = {"mode": quant.mode, "weights": weights,
                               "accuracy_budget": accuracy_budget}
    program.metadata = {
        "producer": "edgec",
        "producer_version": __version__,
        "source_sha256": source_sha,
        "compile_options": json.dumps(options, sort_keys=True),
        "target": target_info.name,
    }
    return CompileResult(program=program, data=serialize(program), fused_activations=fused,
                         quant=quant)


def _quantize(program: Program, target: object, qdq: object, quantize: str | None,
              calibration: object, accuracy_budget: float | None, weights: str | None,
              report: object, quant_options: object) -> object:
    """edgec.quant on the lowered, fused program (None when nothing asks for it)."""
    if quantize is None and weights is None and qdq is None and quant_options is None:
        return None
    import dataclasses

    from edgec.quant import QuantOptions, quantize_program

    opts = quant_options if isinstance(quant_options, QuantOptions) else QuantOptions()
    opts = dataclasses.replace(opts, mode=quantize or opts.mode,
                               calibration=calibration if calibration is not None
                               else opts.calibration,
                               accuracy_budget=accuracy_budget if accuracy_budget is not None
                               else opts.accuracy_budget,
                               weights=weights or opts.weights,
                               report=report if report is not None else opts.report, qdq=qdq)
    return quantize_program(program, opts, getattr(target, "isa_features", ()))


def compile(model: str | os.PathLike[str] | onnx.ModelProto, target: str = "host",  # noqa: A001
            input_shapes: InputShapes | None = None,
            output: str | os.PathLike[str] | None = None, prune: str | None = None,
            quantize: str | None = None, calibration: object = None,
            accuracy_budget: float | None = None, weights: str | None = None,
            report: object = None) -> bytes:
    """Compiles an ONNX model (path or ModelProto) to .edgeb bytes.

    With output=, also writes them there (atomically: a temporary file renamed).
    prune: a pruning spec, e.g. "magnitude:0.8", "channels:0.3" or "2:4" (edgec.prune.spec).
    quantize: "int8" (static: calibrated per-tensor activations, per-channel int8 weights)
    or "dynamic" (int8 weights, activations quantized per row at run time, MatMul/Gemm
    only). calibration: an iterable of {input name: array}, a folder of .npz files, or
    "random" (synthetic smooth images; warns). accuracy_budget: keep the most sensitive
    layers in float until the mean output cosine on the calibration set reaches it.
    weights="fp16": float weights stored as float16 (halves the file; widened at run time).
    report: True prints the per-layer error table; a path also writes it as HTML.
    A pre-quantized QDQ model runs in int8 without any of these (edgec.quant.qdq).
    """
    data = compile_program(model, target, input_shapes, prune=prune, quantize=quantize,
                           calibration=calibration, accuracy_budget=accuracy_budget,
                           weights=weights, report=report).data
    if output is not None:
        write_atomic(Path(output), data)
    return data
