"""Fold a residual Add into the Conv (or GEMM) that produces one of its operands.

Runs on the lowered program, before fuse_activations: when the output of a
CONV or GEMM with no activation yet feeds exactly one ADD (and nothing else,
not a graph output), and the ADD's other operand is a float32 tensor of the
same shape as both, that operand becomes the producer's input 3 (bias stays
input 2, -1 when absent) and is added in its epilogue, before any
activation: act(conv + bias + residual). The producer moves to the ADD's
place in the program (legal: its only consumer was the ADD, and the other
operand is computed by then), and the ADD disappears. A Relu after the ADD
(ResNet's pattern) is then folded by fuse_activations.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edgec.fb.Activation import Activation
from edgec.fb.Opcode import Opcode
from edgec.program import Instruction, Program

_PRODUCERS = {Opcode.CONV, Opcode.GEMM}


def fuse_residual(program: Program) -> int:
    """Returns how many Adds were folded."""
    uses: Counter[int] = Counter(i for ins in program.instructions for i in ins.inputs)
    uses.update(program.outputs)
    producer = {ins.outputs[0]: ins for ins in program.instructions
                if ins.opcode in _PRODUCERS}
    moved: dict[int, Instruction] = {}  # id(add) -> the producer that takes its place
    taken: set[int] = set()
    for add in program.instructions:
        if add.opcode != Opcode.ADD or len(add.inputs) != 2:
            continue
        for src, other in (add.inputs, add.inputs[::-1]):
            prod = producer.get(src)
            if prod is None or id(prod) in taken or src == other or uses[src] != 1:
                continue
            if prod.options.activation != Activation.NONE or len(prod.inputs) > 3:
                continue
            y, r, out = (program.tensors[i] for i in (src, other, add.outputs[0]))
            if y.alias_of is not None or not (y.shape == r.shape == out.shape):
                continue
            if not (y.dtype == r.dtype == out.dtype == np.float32):
                continue
            prod.inputs = [*prod.inputs, *[-1] * (3 - len(prod.inputs)), other]
            prod.outputs[0] = add.outputs[0]
            producer[add.outputs[0]] = prod
            moved[id(add)] = prod
            taken.add(id(prod))
            break
    program.instructions = [moved.get(id(i), i) for i in program.instructions
                            if id(i) not in taken]
    return len(moved)
