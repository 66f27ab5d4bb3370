"""Reads .edgeb bytes back into a summary for `edgec inspect` and the tests.

It checks the footer and checksum the way the runtime does; the runtime's
own verifier stays the authority on whether a file is safe to run.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from edgec.errors import EdgecError
from edgec.fb.Instruction import Instruction as FbInstruction
from edgec.fb.Opcode import Opcode
from edgec.fb.OpOptions import OpOptions
from edgec.fb.Program import Program
from edgec.fb.StorageKind import StorageKind
from edgec.format.writer import FILE_IDENTIFIER, FOOTER_MAGIC
from edgec.program import NUMPY_DTYPES

_OPCODE_NAMES = {v: k for k, v in vars(Opcode).items() if not k.startswith("_")}
_OPTION_NAMES = {v: k for k, v in vars(OpOptions).items() if not k.startswith("_")}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    storage: str  # "arena" or "constant"
    offset: int
    size: int
    dynamic: int = 0  # Tensor.dynamic_dims: bit k = dim k is data-dependent (shape[k] bounds it)


@dataclass(frozen=True)
class InstructionInfo:
    index: int
    op: str
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: str  # the options table's name, or ""


@dataclass(frozen=True)
class ProgramInfo:
    file_size: int
    table_size: int
    constants_size: int
    format_version: int
    arena_size: int
    tensors: list[TensorInfo]
    instructions: list[InstructionInfo]
    inputs: list[int]
    outputs: list[int]
    metadata: dict[str, str]
    blocks: list[list[InstructionInfo]] = field(default_factory=list)  # IF/LOOP bodies


def _s(value: bytes | None) -> str:
    return value.decode("utf-8", "replace") if value else ""


def _instruction(ins: FbInstruction, i: int) -> InstructionInfo:
    opts_name = _OPTION_NAMES.get(ins.OptionsType(), "?") if ins.OptionsType() else ""
    return InstructionInfo(
        index=i, op=_OPCODE_NAMES.get(ins.Opcode(), f"op{ins.Opcode()}"), name=_s(ins.Name()),
        inputs=tuple(int(x) for x in ins.InputsAsNumpy()) if ins.InputsLength() else (),
        outputs=tuple(int(x) for x in ins.OutputsAsNumpy()) if ins.OutputsLength() else (),
        options=opts_name)


def read_program(data: bytes, source: str = "<bytes>") -> ProgramInfo:
    if len(data) < 24 or data[-16:-12] != FOOTER_MAGIC:
        raise EdgecError(f"{source}: not a .edgeb file (no footer; truncated?)")
    crc, end = struct.unpack("<IQ", data[-12:])
    if end != len(data) - 16:
        raise EdgecError(f"{source}: footer says {end} bytes, file has {len(data) - 16}")
    if zlib.crc32(data[:end]) & 0xFFFFFFFF != crc:
        raise EdgecError(f"{source}: checksum mismatch (corrupted file)")
    if data[4:8] != FILE_IDENTIFIER:
        raise EdgecError(f"{source}: wrong file identifier {data[4:8]!r}")
    try:
        prog = Program.GetRootAs(data, 0)
        tensors = []
        for i in range(prog.TensorsLength()):
            t = prog.Tensors(i)
            tensors.append(TensorInfo(
                index=i, name=_s(t.Name()), dtype=NUMPY_DTYPES[t.Dtype()].name,
                shape=tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (),
                storage="constant" if t.Storage() == StorageKind.CONSTANT else "arena",
                offset=t.Offset(), size=t.Size(), dynamic=t.DynamicDims()))
        instructions = [_instruction(prog.Instructions(i), i)
                        for i in range(prog.InstructionsLength())]
        blocks = []
        for b in range(prog.BlocksLength()):
            block = prog.Blocks(b)
            blocks.append([_instruction(block.Instructions(i), i)
                           for i in range(block.InstructionsLength())])
        meta = prog.Metadata()
        metadata = {}
        if meta is not None:
            metadata = {"producer": _s(meta.Producer()),
                        "producer_version": _s(meta.ProducerVersion()),
                        "source_sha256": _s(meta.SourceSha256()),
                        "compile_options": _s(meta.CompileOptions()),
                        "target": _s(meta.Target())}
        inputs = [int(x) for x in prog.InputsAsNumpy()] if prog.InputsLength() else []
        outputs = [int(x) for x in prog.OutputsAsNumpy()] if prog.OutputsLength() else []
        base = prog.SegmentBase()
        return ProgramInfo(
            file_size=len(data), table_size=base, constants_size=end - base,
            format_version=prog.FormatVersion(), arena_size=prog.ArenaSize(), tensors=tensors,
            instructions=instructions, inputs=inputs, outputs=outputs, metadata=metadata,
            blocks=blocks)
    except (IndexError, struct.error, KeyError, ValueError) as exc:
        raise EdgecError(f"{source}: malformed program table ({exc})") from None


__all__ = ["InstructionInfo", "ProgramInfo", "TensorInfo", "read_program"]
