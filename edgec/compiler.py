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
from edgec.passes.fuse_activation import fuse_activations
from edgec.plan import plan_arena
from edgec.program import Program
from edgec.targets import get_target
from edgec.util import write_atomic


@dataclass
class CompileResult:
    program: Program
    data: bytes
    fused_activations: int


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
                    input_shapes: InputShapes | None = None) -> CompileResult:
    target_info = get_target(target)
    proto = load_model(model)
    source_sha = hashlib.sha256(proto.SerializeToString(deterministic=True)).hexdigest()
    graph = import_onnx(proto, input_shapes)
    program = Program()
    lower_graph(graph.graph, program)
    _materialize_outputs(program)
    fused = fuse_activations(program)
    program.compact()
    plan_arena(program)
    options = {"target": target_info.name,
               "input_shapes": {k: list(v) for k, v in sorted((input_shapes or {}).items())}}
    program.metadata = {
        "producer": "edgec",
        "producer_version": __version__,
        "source_sha256": source_sha,
        "compile_options": json.dumps(options, sort_keys=True),
        "target": target_info.name,
    }
    return CompileResult(program=program, data=serialize(program), fused_activations=fused)


def compile(model: str | os.PathLike[str] | onnx.ModelProto, target: str = "host",  # noqa: A001
            input_shapes: InputShapes | None = None,
            output: str | os.PathLike[str] | None = None) -> bytes:
    """Compiles an ONNX model (path or ModelProto) to .edgeb bytes.

    With output=, also writes them there (atomically: a temporary file renamed).
    """
    data = compile_program(model, target, input_shapes).data
    if output is not None:
        write_atomic(Path(output), data)
    return data
