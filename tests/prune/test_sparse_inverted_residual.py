"""INVERTED_RESIDUAL with sparse 1x1 weights (runtime_c/src/kernels/ref/
inverted_residual.c, edgec/passes/fuse_inverted_residual.py): blocks whose
expand and/or project conv the sparsify pass made SPARSE_CONV fuse with their
sparse weight, and the fused instruction computes what the unfused chain
(SPARSE_CONV -> depthwise CONV -> SPARSE_CONV, the same program with the
fusion off) and a float64 numpy reference compute, every output element, on
odd shapes: strides 1 and 2, with and without residual and expand stage,
sparse expand only, sparse project only, both, CSR and 4x1 blocks, bands of
one row and of the whole image, 1 and 2 threads, every kernel family. And the
runtime's refusal of malformed sparse forms."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import onnx
import pytest
from kernels.test_inverted_residual import (
    Block,
    block_model,
    check_fused_block,
    compile_block,
)

import edgec
from edgec.errors import RuntimeStatusError
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.program import Program
from edgec.prune.encoding import SparseTensor, encode

FORMAT, SHAPE = 3, 8  # ec_status codes (edgec.h)
SPARSE_FAMILY_OPS = {Opcode.CONV, Opcode.SPARSE_CONV, Opcode.INVERTED_RESIDUAL}


@dataclasses.dataclass(frozen=True)
class Case:
    block: Block
    sparse: tuple[bool, bool]  # (expand, project) pruned below break-even
    density: float = 0.2
    block4: bool = False  # zeros in 4x1 blocks (the encoder picks BLOCK_CSR)


def pruned_model(case: Case, seed: int = 0) -> onnx.ModelProto:
    """block_model with w1 / w3 zeroed to `density` (a row empty, one full)."""
    model = block_model(case.block, seed)
    rng = np.random.default_rng(seed + 100)
    for init in model.graph.initializer:
        which = {"w1": 0, "w3": 1}.get(init.name)
        if which is None or not case.sparse[which]:
            continue
        w = onnx.numpy_helper.to_array(init).copy()
        rows, cols = w.shape[:2]
        br = 4 if case.block4 else 1
        keep = rng.random((rows // br, cols)) < case.density
        keep[0] = False  # an empty output channel
        if keep.shape[0] >= 8:
            keep[-1] = True  # a dense one (where it leaves the density low)
        mask = np.repeat(keep, br, axis=0)
        w *= mask.reshape(rows, cols, 1, 1)
        init.CopyFrom(onnx.numpy_helper.from_array(w, init.name))
    return model


def with_family(program: Program, family: int) -> bytes:
    saved = [ins.variant for ins in program.instructions]
    for ins in program.instructions:
        if ins.opcode in SPARSE_FAMILY_OPS:
            ins.variant = (ins.variant & ~0xFF) | family
    try:
        return serialize(program)
    finally:
        for ins, v in zip(program.instructions, saved, strict=True):
            ins.variant = v


def _weight_kinds(program: Program) -> tuple[bool | None, bool]:
    (ins,) = [i for i in program.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    w1 = None if ins.inputs[1] < 0 else isinstance(program.tensors[ins.inputs[1]], SparseTensor)
    return w1, isinstance(program.tensors[ins.inputs[5]], SparseTensor)


CASES = [
    Case(Block(5, 19, 5, 13, 11, residual=True), (True, True)),
    Case(Block(7, 21, 9, 15, 17, s=2, acts=("relu", "relu", "relu"), n=2), (True, True)),
    Case(Block(6, 18, 6, 9, 23, k=5, acts=("hardswish", "leaky", None), residual=True,
               bias=False), (True, False)),
    Case(Block(4, 13, 8, 21, 19, k=5, s=2, acts=("sigmoid", None, "tanh")), (False, True)),
    Case(Block(11, 11, 7, 17, 33, acts=(None, "clip", None), expand=False), (False, True)),
    Case(Block(9, 9, 9, 12, 12, s=2, pads=(0, 0, 1, 1), expand=False, n=2), (False, True)),
    Case(Block(3, 40, 3, 37, 35, s=2, pads=(1, 0, 1, 2)), (True, True), density=0.15),
    Case(Block(5, 17, 6, 3, 2, pads=(3, 1, 4, 2)), (True, True)),  # bands of only padding
    Case(Block(12, 36, 12, 19, 21, residual=True), (True, True), block4=True),
    # MobileNetV2's 56x56 shapes (tails of 56 pixels; runs on 2 threads)
    Case(Block(24, 144, 24, 56, 56, residual=True), (True, True), density=0.1),
    Case(Block(16, 96, 24, 56, 56, s=2), (True, True)),
]
BUDGETS = {"rows1": 1, "whole": 1 << 30}  # 1 byte: the smallest band, one output row


@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
@pytest.mark.parametrize("budget", list(BUDGETS), ids=list(BUDGETS))
def test_sparse_fused_block(case: Case, budget: str) -> None:
    b = case.block
    model = pruned_model(case)
    fused = compile_block(model, True, BUDGETS[budget])
    plain = compile_block(model, False, BUDGETS[budget])
    ops = [ins.opcode for ins in fused.instructions]
    assert ops.count(Opcode.INVERTED_RESIDUAL) == 1, ops
    assert Opcode.CONV not in ops and Opcode.SPARSE_CONV not in ops, ops
    w1, w3 = _weight_kinds(fused)
    assert (w1 is True) == (b.expand and case.sparse[0]) and w3 == case.sparse[1]
    if case.block4:
        ir = next(i for i in fused.instructions if i.opcode == Opcode.INVERTED_RESIDUAL)
        assert fused.tensors[ir.inputs[1]].sparse.block == (4, 1)
    plain_ops = [ins.opcode for ins in plain.instructions]
    assert plain_ops.count(Opcode.SPARSE_CONV) == b.expand * case.sparse[0] + case.sparse[1]
    # the sparse sums run in another order than the unfused chain's chunks
    check_fused_block(model, b, fused, plain, chain_tolerance=1e-5)


def test_dense_weights_stay_packed() -> None:
    """Above the break-even density the 1x1 convs stay dense and packed."""
    case = Case(Block(5, 19, 5, 13, 11, residual=True), (True, True), density=0.9)
    assert _weight_kinds(compile_block(pruned_model(case), True, 1 << 20)) == (False, False)


def test_mobilenet_v2_pruned_fuses_sparse_blocks() -> None:
    from edgec import zoo
    from edgec.compiler import compile_program

    dense = compile_program(zoo.build("mobilenet_v2")).program
    pruned = compile_program(zoo.build("mobilenet_v2"), prune="magnitude:0.8:per-layer").program
    names = [i.name for i in dense.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    fused = [i for i in pruned.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    assert [i.name for i in fused] == names
    # the first block has no expand conv; the others' 1x1 weights are all sparse
    assert all(isinstance(pruned.tensors[i.inputs[5]], SparseTensor) for i in fused)
    assert all(isinstance(pruned.tensors[i.inputs[1]], SparseTensor) for i in fused[1:])


# ---- malformed sparse forms ----------------------------------------------------------


def _sparse_program() -> tuple[Program, object]:
    case = Case(Block(8, 24, 8, 13, 11, residual=True), (True, True))
    program = compile_block(pruned_model(case), True, 1 << 20)
    (ins,) = [i for i in program.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    return program, ins


def _refused(program: Program) -> RuntimeStatusError:
    with pytest.raises(RuntimeStatusError) as info:
        edgec.Session(serialize(program))
    return info.value


def test_sparse_weights_swapped_are_refused() -> None:
    program, ins = _sparse_program()
    ins.inputs[1], ins.inputs[5] = ins.inputs[5], ins.inputs[1]
    err = _refused(program)
    assert err.status == SHAPE and re.search("expand weight", str(err)), str(err)


def test_sparse_weight_of_two_column_blocks_is_refused() -> None:
    program, ins = _sparse_program()
    w = program.tensors[ins.inputs[5]].sparse.dense()
    ins.inputs[5] = program.add_tensor(SparseTensor("w3/2col", encode(w, block=(1, 2))))
    err = _refused(program)
    assert err.status == SHAPE and re.search("project weight", str(err)), str(err)


def test_sparse_depthwise_weight_is_refused() -> None:
    program, ins = _sparse_program()
    wd = np.asarray(program.tensors[ins.inputs[3]].data, np.float32)
    ins.inputs[3] = program.add_tensor(SparseTensor("wd/sparse", encode(wd)))
    err = _refused(program)
    assert err.status == FORMAT and "inputs 1, 5" in str(err), str(err)
