"""Split input channels (kernel.h EC_VARIANT_KSPLIT, conv.c ksplit_run; set by
edgec/passes/split_input_channels.py): a 1x1 conv that reduces a depthwise
conv's output sums the first and the second half of its input channels as
two jobs, the second into the workspace, and adds them in a pass with the
activation. Checked on odd shapes (C odd: halves of unequal length; M no
multiple of the 12-row tile; planes of 1 to 256 pixels; M over the GEMM's
240-row block on a plane under 64 pixels, which takes the packing GEMM), with
bias, residual and activations: every family against the reference family and
the reference against onnxruntime; the AVX-512 family at 2, 3 and 4 threads
equal to 1 thread bit for bit, each session run on other values first (an
element no job wrote would keep them). And the runtime's refusal of the flag
where it does not apply."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from kernels.test_x86_variants import (
    VARIANT_AVX512,
    check_families,
    finish_model,
    random_feeds,
    with_family,
)
from support import TensorProto, helper

import edgec
from edgec.compiler import compile_program
from edgec.errors import EdgecError
from edgec.fb.Opcode import Opcode
from edgec.lower.conv import VARIANT_KSPLIT
from edgec.program import Program

F = TensorProto.FLOAT


def dw_reduce_model(c: int, m: int, h: int, w: int, seed: int, residual: bool = False,
                    act: str | None = None) -> onnx.ModelProto:
    """x -> 3x3 depthwise (pads 1) + Relu -> 1x1 conv C -> M [+ r] [act]."""
    rng = np.random.default_rng(seed)
    inits = {"wd": rng.standard_normal((c, 1, 3, 3)).astype(np.float32),
             "bd": rng.standard_normal(c).astype(np.float32),
             "w": (rng.standard_normal((m, c, 1, 1)) / np.sqrt(c)).astype(np.float32),
             "b": rng.standard_normal(m).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "wd", "bd"], ["d"], group=c, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["d"], ["dr"]),
             helper.make_node("Conv", ["dr", "w", "b"], ["y"])]
    return finish_model(nodes, {"x": (F, (1, c, h, w))}, inits, (1, m, h, w), residual, act)


def ksplit_convs(program: Program) -> list:
    return [i for i in program.instructions if i.variant & VARIANT_KSPLIT]


def check_threads_bitwise(model: onnx.ModelProto, program: Program, seed: int) -> None:
    """The AVX-512 family at 2-4 threads equal to 1 thread, every element written."""
    data = with_family(program, VARIANT_AVX512)
    feeds = random_feeds(model, seed)
    other = {k: 3.0 * v + 1.0 for k, v in feeds.items()}
    outs = {}
    for t in (1, 2, 3, 4):
        session = edgec.Session(data, threads=t)
        session.run(None, other)
        (outs[t],) = session.run(None, feeds)
    for t in (2, 3, 4):
        np.testing.assert_array_equal(outs[t], outs[1], err_msg=f"threads={t}")


SHAPES = [  # c, m, h, w
    (384, 64, 14, 14),  # MobileNetV2's 14x14 block
    (960, 160, 7, 7),  # and 7x7
    (37, 11, 13, 11),  # odd C, M and plane
    (25, 7, 1, 1),  # one pixel
    (96, 13, 16, 16),  # 256 pixels: one tile
    (41, 40, 5, 9),
    (600, 250, 5, 5),  # M over one 240-row block, plane under 64: the packing GEMM
    (2, 1, 3, 5),  # halves of one channel
]


@pytest.mark.parametrize(("c", "m", "h", "w"), SHAPES)
@pytest.mark.parametrize("residual", [False, True])
def test_ksplit_shapes(c: int, m: int, h: int, w: int, residual: bool) -> None:
    model = dw_reduce_model(c, m, h, w, seed=c + m, residual=residual)
    program = check_families(model, seed=c, threads=(1, 2, 3))
    (conv,) = ksplit_convs(program)
    assert len(conv.inputs) == (4 if residual else 3)
    check_threads_bitwise(model, program, seed=c)


@pytest.mark.parametrize("act", ["Relu", "Clip", "Sigmoid", "HardSwish"])
def test_ksplit_activation(act: str) -> None:
    """The activation is applied once, after the halves are added."""
    model = dw_reduce_model(53, 19, 9, 10, seed=5, residual=True, act=act)
    program = check_families(model, seed=6, threads=(1, 2))
    (conv,) = ksplit_convs(program)
    assert conv.options.activation != 0
    check_threads_bitwise(model, program, seed=7)


def _session_error(program: Program) -> str:
    with pytest.raises(EdgecError) as info:
        edgec.Session(with_family(program, VARIANT_AVX512))
    return str(info.value)


def test_ksplit_refused_where_it_does_not_apply() -> None:
    """The flag on a 3x3 conv, or with less workspace than the second half's sums."""
    model = dw_reduce_model(30, 10, 6, 7, seed=3)
    program = compile_program(model).program
    (conv,) = ksplit_convs(program)
    dw = next(i for i in program.instructions if i.opcode == Opcode.CONV and i is not conv)
    dw.variant |= VARIANT_KSPLIT
    assert "split input channels" in _session_error(program)
    dw.variant &= ~VARIANT_KSPLIT
    conv.scratch_size -= 1
    assert "scratch" in _session_error(program)
