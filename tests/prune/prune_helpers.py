"""Builds one-instruction programs around the sparse kernels, straight from
Python (no ONNX), so tests choose every shape, pattern, encoding and variant."""

from __future__ import annotations

import numpy as np

import edgec
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.passes.sparsify import sparse_conv_workspace, sparse_gemm_workspace
from edgec.plan import plan_arena
from edgec.program import Instruction, Program, Tensor
from edgec.prune.encoding import SparseTensor, SparseWeight, encode

F32 = np.dtype(np.float32)
VARIANTS = {"ref": 0, "best": 1, "avx2": 2, "avx512": 3}


def random_sparse(rng: np.random.Generator, shape: tuple[int, ...], density: float,
                  empty_rows: int = 1, dense_rows: int = 1, block: tuple[int, int] = (1, 1)
                  ) -> np.ndarray:
    """Random weights with about `density` of blocks kept, plus some empty and
    some fully dense output rows (block rows for blocks)."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    br, bc = block
    keep = rng.random((rows // br, cols // bc)) < density
    keep[:empty_rows] = False
    if dense_rows:
        keep[-dense_rows:] = True
    mask = np.repeat(np.repeat(keep, br, axis=0), bc, axis=1)
    w = rng.standard_normal((rows, cols)).astype(np.float32) * mask
    return w.reshape(shape)


def conv_program(x_shape: tuple[int, ...], sw: SparseWeight, bias: np.ndarray | None,
                 strides: list[int], pads: list[int], dilations: list[int],
                 activation: int = 0, act_alpha: float = 0.0, act_beta: float = 0.0,
                 residual: bool = False, variant: int = 1, scratch: int | None = None
                 ) -> tuple[bytes, tuple[int, ...]]:
    """A program: y = SPARSE_CONV(x [, residual r]); returns (bytes, y shape).
    scratch: the instruction's scratch bytes (default: what the compiler plans)."""
    sp = len(x_shape) - 2
    kernel = sw.shape[2:]
    out = [(x_shape[2 + i] + pads[i] + pads[sp + i] - dilations[i] * (kernel[i] - 1) - 1)
           // strides[i] + 1 for i in range(sp)]
    y_shape = (x_shape[0], sw.shape[0], *out)
    p = Program()
    x = p.add_tensor(Tensor("x", F32, x_shape))
    ins = [x, p.add_tensor(SparseTensor("w", sw))]
    if bias is not None:
        ins.append(p.add_tensor(Tensor("b", F32, bias.shape, data=bias)))
    if residual:
        if bias is None:
            ins.append(-1)
        r = p.add_tensor(Tensor("r", F32, y_shape))
        ins.append(r)
    y = p.add_tensor(Tensor("y", F32, y_shape))
    opts = ConvOptionsT(strides=strides, pads=pads, dilations=dilations, group=1,
                        activation=activation, actAlpha=act_alpha, actBeta=act_beta)
    if scratch is None:
        scratch = sparse_conv_workspace(x_shape, sw.shape, y_shape, strides, pads, dilations)
    p.instructions.append(Instruction(Opcode.SPARSE_CONV, ins, [y], opts, "conv",
                                      variant=variant, scratch_size=scratch))
    p.inputs = [x] + ([r] if residual else [])
    p.outputs = [y]
    plan_arena(p)
    return serialize(p), y_shape


def gemm_program(x_shape: tuple[int, ...], sw: SparseWeight, bias: np.ndarray | None,
                 alpha: float = 1.0, beta: float = 1.0, activation: int = 0,
                 act_alpha: float = 0.0, act_beta: float = 0.0,
                 variant: int = 1) -> Program:
    n, k = sw.shape
    p = Program()
    x = p.add_tensor(Tensor("x", F32, x_shape))
    ins = [x, p.add_tensor(SparseTensor("w", sw))]
    if bias is not None:
        ins.append(p.add_tensor(Tensor("b", F32, bias.shape, data=bias)))
    y = p.add_tensor(Tensor("y", F32, (*x_shape[:-1], n)))
    opts = GemmOptionsT(transA=False, transB=True, alpha=alpha, beta=beta,
                        activation=activation, actAlpha=act_alpha, actBeta=act_beta)
    rows = int(np.prod(x_shape[:-1]))
    p.instructions.append(Instruction(Opcode.SPARSE_GEMM, ins, [y], opts, "fc",
                                      variant=variant,
                                      scratch_size=sparse_gemm_workspace(rows, n, k)))
    p.inputs, p.outputs = [x], [y]
    plan_arena(p)
    return p


def run(data: bytes, feeds: dict[str, np.ndarray], threads: int = 1) -> np.ndarray:
    with edgec.Session(data, threads=threads) as s:
        return s.run(None, feeds)[0]


__all__ = ["VARIANTS", "conv_program", "encode", "gemm_program", "random_sparse", "run",
           "serialize"]
