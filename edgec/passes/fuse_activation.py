"""Fold an activation into the Conv or Gemm that produces its input.

Runs on the lowered program: when a CONV/CONV_TRANSPOSE/GEMM output feeds
exactly one RELU/CLIP/LEAKY_RELU/... and nothing else (not a graph output),
the activation moves into the producer's epilogue and disappears. A
BATCH_NORM takes a RELU the same way (AxisOptions.flags bit 0).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edgec.fb.Activation import Activation
from edgec.fb.Opcode import Opcode
from edgec.program import Instruction, Program

_FUSABLE_PRODUCERS = {Opcode.CONV, Opcode.CONV_TRANSPOSE, Opcode.GEMM, Opcode.BATCH_NORM}
BATCH_NORM_RELU = 1  # AxisOptions.flags bit of BATCH_NORM
_ACTIVATIONS = {
    Opcode.RELU: Activation.RELU,
    Opcode.CLIP: Activation.CLIP,
    Opcode.LEAKY_RELU: Activation.LEAKY_RELU,
    Opcode.SIGMOID: Activation.SIGMOID,
    Opcode.TANH: Activation.TANH,
    Opcode.HARD_SIGMOID: Activation.HARD_SIGMOID,
    Opcode.HARD_SWISH: Activation.HARD_SWISH,
    Opcode.GELU: Activation.GELU,
}


def _fusable(act: Instruction, prod: Instruction) -> bool:
    if prod.opcode == Opcode.BATCH_NORM:
        return act.opcode == Opcode.RELU and not prod.options.flags & BATCH_NORM_RELU
    if act.opcode not in _ACTIVATIONS or prod.options.activation != Activation.NONE:
        return False
    # Only the erf form of GELU has an epilogue; tanh-approximate stays separate.
    return not (act.opcode == Opcode.GELU and act.options is not None
                and act.options.approximate)


def fuse_activations(program: Program) -> int:
    """Returns how many activations were fused."""
    uses: Counter[int] = Counter(i for ins in program.instructions for i in ins.inputs)
    uses.update(program.outputs)
    producer = {ins.outputs[0]: ins for ins in program.instructions
                if ins.opcode in _FUSABLE_PRODUCERS}
    fused: set[int] = set()
    for act in program.instructions:
        if not act.inputs:
            continue
        src = act.inputs[0]
        prod = producer.get(src)
        if prod is None or uses[src] != 1 or program.tensors[src].alias_of is not None:
            continue
        if program.tensors[src].dtype != np.float32:  # float64 GEMMs have no epilogue
            continue
        if not _fusable(act, prod):
            continue
        if prod.opcode == Opcode.BATCH_NORM:
            prod.options.flags |= BATCH_NORM_RELU
        else:
            prod.options.activation = _ACTIVATIONS[act.opcode]
            if act.options is not None:
                prod.options.actAlpha = act.options.alpha
                prod.options.actBeta = act.options.beta
        prod.outputs[0] = act.outputs[0]
        producer[act.outputs[0]] = prod
        fused.add(id(act))
    program.instructions = [i for i in program.instructions if id(i) not in fused]
    return len(fused)
