"""The compiled program: a flat list of tensors and the instructions over them.

This is what lowering produces, what the planner lays out in the arena and
what the writer serializes. It mirrors the Program table of schemas/edgec.fbs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np

from edgec.fb.DType import DType

BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES: dict[np.dtype, int] = {
    np.dtype(np.float32): DType.FLOAT32,
    np.dtype(np.float16): DType.FLOAT16,
    np.dtype(np.int8): DType.INT8,
    np.dtype(np.uint8): DType.UINT8,
    np.dtype(np.int32): DType.INT32,
    np.dtype(np.int64): DType.INT64,
    np.dtype(np.bool_): DType.BOOL,
    np.dtype(np.float64): DType.FLOAT64,
    np.dtype(np.int16): DType.INT16,
    np.dtype(np.uint16): DType.UINT16,
    np.dtype(np.uint32): DType.UINT32,
    np.dtype(np.uint64): DType.UINT64,
    BF16: DType.BFLOAT16,
}
NUMPY_DTYPES: dict[int, np.dtype] = {code: dt for dt, code in DTYPES.items()}


@dataclass
class Quantization:
    scales: np.ndarray
    zero_points: np.ndarray
    axis: int = -1


@dataclass
class Tensor:
    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # set for constants
    alias_of: int | None = None  # shares the arena bytes of that tensor
    alias_offset: int = 0  # from alias_of's first byte (a concat input is a slice of it)
    quant: Quantization | None = None
    offset: int = 0  # arena offset, set by the planner
    # bit k: dim k depends on the input values and shape[k] is its upper bound
    # (Tensor.dynamic_dims; edgec/lower/dynamic.py)
    dynamic: int = 0

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass
class Instruction:
    opcode: int
    inputs: list[int]  # -1 marks an absent optional input
    outputs: list[int]
    options: Any = None  # one of the edgec.fb *OptionsT classes
    name: str = ""
    variant: int = 0
    scratch_size: int = 0  # workspace bytes per thread


@dataclass
class Program:
    tensors: list[Tensor] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    arena_size: int = 0
    arena_lower_bound: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    # Nested instruction lists run by IF/LOOP instructions (their ControlOptions name
    # them by index); they share the tensor table and the arena.
    blocks: list[list[Instruction]] = field(default_factory=list)

    def all_instructions(self) -> list[Instruction]:
        """The program's instructions and every block's."""
        return self.instructions + [ins for block in self.blocks for ins in block]

    def add_tensor(self, tensor: Tensor) -> int:
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def compact(self) -> None:
        """Drops tensors nothing refers to (left behind by fusions), renumbering the rest."""
        used: set[int] = set(self.inputs) | set(self.outputs)
        for ins in self.all_instructions():
            used.update(i for i in ins.inputs if i >= 0)
            used.update(ins.outputs)
            used.update(i for i in _control_operands(ins) if i >= 0)
        used |= {self.tensors[i].alias_of for i in list(used)
                 if self.tensors[i].alias_of is not None}
        order = sorted(used)
        remap = {old: new for new, old in enumerate(order)}
        self.tensors = [self.tensors[i] for i in order]
        for t in self.tensors:
            if t.alias_of is not None:
                t.alias_of = remap[t.alias_of]
        self.inputs = [remap[i] for i in self.inputs]
        self.outputs = [remap[i] for i in self.outputs]
        for ins in self.all_instructions():
            ins.inputs = [remap[i] if i >= 0 else -1 for i in ins.inputs]
            ins.outputs = [remap[i] for i in ins.outputs]
            opts = ins.options
            if type(opts).__name__ == "ControlOptionsT":
                opts.blockInputs = [remap[i] if i >= 0 else -1 for i in opts.blockInputs or []]
                opts.blockOutputs = [remap[i] for i in opts.blockOutputs or []]


def _control_operands(ins: Instruction) -> list[int]:
    """The tensors an IF/LOOP instruction's options name (its blocks' inputs and outputs)."""
    opts = ins.options
    if type(opts).__name__ != "ControlOptionsT":
        return []
    return list(opts.blockInputs or []) + list(opts.blockOutputs or [])
