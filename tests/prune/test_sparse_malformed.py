"""Malformed sparse encodings are refused at load with a message naming the
problem: programs built in Python, then indptr/indices/blocks damaged before
serialization."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
from prune_helpers import gemm_program, random_sparse

import edgec
from edgec.errors import RuntimeStatusError
from edgec.fb.Opcode import Opcode
from edgec.fb.UnaryOptions import UnaryOptionsT
from edgec.format.writer import serialize
from edgec.program import Instruction, Program, Tensor
from edgec.prune.encoding import SparseWeight, encode

W = random_sparse(np.random.default_rng(0), (8, 40), 0.3, empty_rows=1, dense_rows=1)


def _program(mutate: Callable[[SparseWeight], None]) -> bytes:
    sw = copy.deepcopy(encode(W))
    mutate(sw)
    return serialize(gemm_program((1, 40), sw, None))


def _refused(data: bytes) -> str:
    with pytest.raises(RuntimeStatusError) as err:
        edgec.Session(data)
    return str(err.value)


def _set(arr_name: str, index: int, value: int) -> Callable[[SparseWeight], None]:
    def mutate(sw: SparseWeight) -> None:
        arr = getattr(sw, arr_name).copy()
        arr[index] = value
        setattr(sw, arr_name, arr)
    return mutate


def test_the_undamaged_program_loads() -> None:
    x = np.ones((1, 40), np.float32)
    out = edgec.Session(_program(lambda sw: None)).run(None, {"x": x})[0]
    np.testing.assert_allclose(out[0], W.sum(axis=1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mutate, message", [
    (_set("indptr", 0, 1), "indptr starts at 1"),
    (_set("indptr", 3, 0), "indptr not monotone"),
    (_set("indptr", 8, int(encode(W).indptr[8]) - 1), "indices segment"),
    (_set("indptr", 8, 10_000), "holds"),
    (_set("indices", 0, 40), "out of range"),
    (_set("indices", 0, 65535), "out of range"),
    (_set("indptr", 1, 41), "holds 41 of 40 columns"),
])
def test_damaged_indptr_and_indices_are_refused(mutate: Callable[[SparseWeight], None],
                                                message: str) -> None:
    assert message in _refused(_program(mutate))


def test_unsorted_row_is_refused() -> None:
    def swap(sw: SparseWeight) -> None:
        row = int(np.argmax(np.diff(sw.indptr) >= 2))
        j = int(sw.indptr[row])
        idx = sw.indices.copy()
        idx[j], idx[j + 1] = idx[j + 1], idx[j]
        sw.indices = idx
    assert "not increasing" in _refused(_program(swap))


def test_wrong_sizes_are_refused() -> None:
    def short_indptr(sw: SparseWeight) -> None:
        sw.indptr = sw.indptr[:-1]
    assert "indptr segment" in _refused(_program(short_indptr))

    def long_indices(sw: SparseWeight) -> None:
        sw.indices = np.concatenate([sw.indices, sw.indices[:1]])
    assert "indices segment" in _refused(_program(long_indices))

    def short_values(sw: SparseWeight) -> None:
        sw.values = sw.values[:-1]
    assert "bytes of values" in _refused(_program(short_values))


def test_block_shape_must_tile_the_matrix() -> None:
    def three_rows(sw: SparseWeight) -> None:
        sw.block = (3, 1)
    assert "does not tile" in _refused(_program(three_rows))

    def bad_csr_block(sw: SparseWeight) -> None:
        sw.block = (0, 1)
    assert "outside" in _refused(_program(bad_csr_block))


def test_n_of_m_is_refused_as_unsupported() -> None:
    sw = encode(W)
    p = gemm_program((1, 40), sw, None)
    p.tensors[p.instructions[0].inputs[1]].sparse.__class__ = type(
        "NofM", (SparseWeight,), {"format": property(lambda self: 3)})
    assert "N_OF_M" in _refused(serialize(p))


def test_a_dense_kernel_may_not_read_a_sparse_tensor() -> None:
    p = gemm_program((1, 40), encode(W), None)
    w_index = p.instructions[0].inputs[1]
    relu_out = p.add_tensor(Tensor("z", np.dtype(np.float32), (8, 40)))
    p.instructions.append(Instruction(Opcode.RELU, [w_index], [relu_out], UnaryOptionsT(),
                                      "relu"))
    p.outputs.append(relu_out)
    from edgec.plan import plan_arena

    plan_arena(p)
    assert "is stored sparse" in _refused(serialize(p))


def test_sparse_weight_required_by_the_sparse_kernels() -> None:
    p: Program = gemm_program((1, 40), encode(W), None)
    ins = p.instructions[0]
    ins.inputs[1] = p.add_tensor(Tensor("dense", np.dtype(np.float32), (8, 40), data=W))
    assert "carries no sparse encoding" in _refused(serialize(p))
