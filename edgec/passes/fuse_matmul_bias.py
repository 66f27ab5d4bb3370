"""MatMul with a constant 2-D B followed by Add of a constant bias -> one GEMM.

Runs on the lowered program, before fuse_activations: a MATMUL whose B is
a constant (K, N) matrix (A of rank >= 2: B gets packed for the kernels by
edgec.lower.conv.pack_weights) and whose output
feeds exactly one ADD (and nothing else, not a graph output) of a constant
of shape (N,) or (1, ..., 1, N) becomes a GEMM with that bias as C. The GEMM
runs on the 2-D view of A and of the output (gemm.c folds their leading
dims into M), so the bias is added in the GEMM's epilogue and a following
activation (the Gelu of a transformer FFN, fused by edgec/passes/gelu.py
into one node) can fold into it too.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edgec.fb.Activation import Activation
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.program import Instruction, Program, Tensor


def _bias_vector(program: Program, index: int, n: int) -> int | None:
    """A constant usable as the per-column C: the tensor itself when it is (N,)
    or (1, N), else a (N,) copy; None when it is not a bias of N values."""
    t = program.tensors[index]
    if t.data is None or t.dtype != np.float32 or not t.shape or t.shape[-1] != n:
        return None
    if any(d != 1 for d in t.shape[:-1]):
        return None
    if len(t.shape) <= 2:
        return index
    return program.add_tensor(Tensor(name=f"{t.name}/vector", dtype=t.dtype, shape=(n,),
                                     data=np.ascontiguousarray(t.data.reshape(n))))


def fuse_matmul_bias(program: Program) -> int:
    """Returns how many MatMul + Add pairs became a GEMM."""
    uses: Counter[int] = Counter(i for ins in program.instructions for i in ins.inputs)
    uses.update(program.outputs)
    def constant_b(ins: Instruction) -> bool:
        a, b = program.tensors[ins.inputs[0]], program.tensors[ins.inputs[1]]
        return b.data is not None and len(b.shape) == 2 and len(a.shape) >= 2 and \
            b.dtype == np.float32

    producer = {ins.outputs[0]: ins for ins in program.instructions
                if ins.opcode == Opcode.MATMUL and constant_b(ins)}
    replaced: dict[int, Instruction] = {}  # id(add) -> gemm
    fused: set[int] = set()
    for add in program.instructions:
        if add.opcode != Opcode.ADD or len(add.inputs) != 2:
            continue
        for src, other in (add.inputs, add.inputs[::-1]):
            mm = producer.get(src)
            if mm is None or id(mm) in fused or uses[src] != 1:
                continue
            y, out = program.tensors[src], program.tensors[add.outputs[0]]
            if y.alias_of is not None or out.shape != y.shape or out.dtype != np.float32:
                continue
            bias = _bias_vector(program, other, y.shape[-1])
            if bias is None:
                continue
            opts = GemmOptionsT(transA=False, transB=False, alpha=1.0, beta=1.0,
                                activation=Activation.NONE)
            gemm = Instruction(Opcode.GEMM, [mm.inputs[0], mm.inputs[1], bias],
                               [add.outputs[0]], opts, name=mm.name, variant=mm.variant,
                               scratch_size=mm.scratch_size)
            replaced[id(add)] = gemm
            fused.add(id(mm))
            break
    program.instructions = [replaced.get(id(i), i) for i in program.instructions
                            if id(i) not in fused]
    return len(fused)
