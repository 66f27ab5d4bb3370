"""INVERTED_RESIDUAL (runtime_c/src/kernels/ref/inverted_residual.c): the fused
block against the unfused chain of CONV instructions (the same program with the
fusion off, equal bit for bit in the same kernel family) and against a float64
numpy reference, on odd shapes: strides 1 and 2, 3x3 and 5x5, asymmetric pads,
channels that are no multiple of any vector width, with and without residual,
biases and the expand stage, each activation, a batch of 2, bands of one row
(the rolling window slides every band) and of the whole image, 1 and 2
threads, every kernel family. And the runtime's refusal of malformed ones."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model

import edgec
import edgec.passes.fuse_inverted_residual as fir
from edgec.compiler import compile_program
from edgec.errors import RuntimeStatusError
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import (
    VARIANT_AVX2,
    VARIANT_AVX512,
    VARIANT_BEST,
    VARIANT_FAMILY_MASK,
    VARIANT_PACKED,
    VARIANT_REF,
)
from edgec.program import Program

FAMILIES = {"ref": VARIANT_REF, "avx2": VARIANT_AVX2, "avx512": VARIANT_AVX512,
            "best": VARIANT_BEST}
FAMILY_OPS = {Opcode.CONV, Opcode.INVERTED_RESIDUAL}
FORMAT, UNSUPPORTED, SHAPE = 3, 6, 8  # ec_status codes (edgec.h)


@dataclasses.dataclass(frozen=True)
class Block:
    cin: int
    ch: int
    m: int
    h: int
    w: int
    k: int = 3
    s: int = 1
    pads: tuple[int, int, int, int] | None = None  # (top, left, bottom, right); None: k // 2
    acts: tuple[str | None, str | None, str | None] = ("clip", "clip", None)
    residual: bool = False
    expand: bool = True
    bias: bool = True
    n: int = 1

    @property
    def padding(self) -> tuple[int, int, int, int]:
        return self.pads if self.pads is not None else (self.k // 2,) * 4


_ONNX_ACT = {"relu": "Relu", "sigmoid": "Sigmoid", "hardswish": "HardSwish",
             "leaky": "LeakyRelu", "tanh": "Tanh"}


def block_model(b: Block, seed: int = 0) -> onnx.ModelProto:
    """expand 1x1 -> act -> depthwise -> act -> project 1x1 [-> + x] -> act, as ONNX."""
    rng = np.random.default_rng(seed)
    inits: dict[str, np.ndarray] = {"lo": np.array(0.0, np.float32),
                                    "hi": np.array(6.0, np.float32)}
    nodes: list[onnx.NodeProto] = []

    def param(name: str, shape: tuple[int, ...], scale: float) -> str:
        inits[name] = (scale * rng.standard_normal(shape)).astype(np.float32)
        return name

    def act(kind: str | None, x: str, out: str) -> str:
        if kind is None:
            return x
        if kind == "clip":
            nodes.append(helper.make_node("Clip", [x, "lo", "hi"], [out]))
        else:
            nodes.append(helper.make_node(_ONNX_ACT[kind], [x], [out]))
        return out

    x = "x"
    if b.expand:
        ins = [x, param("w1", (b.ch, b.cin, 1, 1), (2 / b.cin) ** 0.5)]
        nodes.append(helper.make_node("Conv", ins + ([param("b1", (b.ch,), 0.2)] if b.bias
                                                     else []), ["e"]))
        x = act(b.acts[0], "e", "ea")
    ins = [x, param("wd", (b.ch, 1, b.k, b.k), (2 / b.k / b.k) ** 0.5)]
    t, left, bottom, right = b.padding
    nodes.append(helper.make_node("Conv", ins + ([param("bd", (b.ch,), 0.2)] if b.bias else []),
                                  ["d"], group=b.ch, kernel_shape=[b.k, b.k],
                                  pads=[t, left, bottom, right], strides=[b.s, b.s]))
    x = act(b.acts[1], "d", "da")
    ins = [x, param("w3", (b.m, b.ch, 1, 1), (1 / b.ch) ** 0.5)]
    nodes.append(helper.make_node("Conv", ins + ([param("b3", (b.m,), 0.2)] if b.bias else []),
                                  ["p"]))
    y = "p"
    if b.residual:
        nodes.append(helper.make_node("Add", ["x", y], ["r"]))
        y = "r"
    y = act(b.acts[2], y, "y")
    return make_model(nodes, {"x": (TensorProto.FLOAT, (b.n, b.cin, b.h, b.w))},
                      {y: TensorProto.FLOAT}, inits)


def _np_act(kind: str | None, v: np.ndarray) -> np.ndarray:
    if kind == "clip":
        return np.clip(v, 0.0, 6.0)
    if kind == "relu":
        return np.maximum(v, 0.0)
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-v))
    if kind == "hardswish":
        return v * np.clip(v / 6.0 + 0.5, 0.0, 1.0)
    if kind == "leaky":
        return np.where(v >= 0, v, 0.01 * v)
    if kind == "tanh":
        return np.tanh(v)
    return v


def numpy_block(model: onnx.ModelProto, b: Block, x: np.ndarray) -> np.ndarray:
    """The block in float64 from the model's own weights."""
    p = {i.name: onnx.numpy_helper.to_array(i).astype(np.float64)
         for i in model.graph.initializer}
    bias = (lambda n, c: p[n] if b.bias else np.zeros(c))  # noqa: E731
    e = x.astype(np.float64)
    if b.expand:
        e = np.einsum("oc,nchw->nohw", p["w1"][:, :, 0, 0], e) + bias("b1", b.ch)[:, None, None]
        e = _np_act(b.acts[0], e)
    t, left, bottom, right = b.padding
    ep = np.pad(e, ((0, 0), (0, 0), (t, bottom), (left, right)))
    oh = (b.h + t + bottom - b.k) // b.s + 1
    ow = (b.w + left + right - b.k) // b.s + 1
    d = np.zeros((b.n, b.ch, oh, ow))
    for ki in range(b.k):
        for kj in range(b.k):
            win = ep[:, :, ki:ki + (oh - 1) * b.s + 1:b.s, kj:kj + (ow - 1) * b.s + 1:b.s]
            d += p["wd"][None, :, 0, ki, kj, None, None] * win
    d = _np_act(b.acts[1], d + bias("bd", b.ch)[:, None, None])
    y = np.einsum("oc,nchw->nohw", p["w3"][:, :, 0, 0], d) + bias("b3", b.m)[:, None, None]
    if b.residual:
        y = y + x
    return _np_act(b.acts[2], y)


def compile_block(model: onnx.ModelProto, fuse: bool, budget: int) -> Program:
    saved = fir.MIN_EXPANDED_BYTES, fir.SCRATCH_BUDGET
    fir.MIN_EXPANDED_BYTES, fir.SCRATCH_BUDGET = (0 if fuse else 1 << 62), budget
    try:
        return compile_program(model).program
    finally:
        fir.MIN_EXPANDED_BYTES, fir.SCRATCH_BUDGET = saved


def with_family(program: Program, family: int) -> bytes:
    saved = [ins.variant for ins in program.instructions]
    for ins in program.instructions:
        if ins.opcode in FAMILY_OPS:
            ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | family
    try:
        return serialize(program)
    finally:
        for ins, v in zip(program.instructions, saved, strict=True):
            ins.variant = v


BLOCKS = [
    Block(5, 19, 5, 13, 11, residual=True),
    Block(7, 21, 9, 15, 17, s=2, acts=("relu", "relu", "relu"), n=2),
    Block(6, 18, 6, 9, 23, k=5, acts=("hardswish", "leaky", None), residual=True, bias=False),
    Block(4, 13, 8, 21, 19, k=5, s=2, acts=("sigmoid", None, "tanh")),
    Block(11, 11, 7, 17, 33, acts=(None, "clip", None), expand=False),
    Block(9, 9, 9, 12, 12, s=2, pads=(0, 0, 1, 1), expand=False, residual=False, n=2),
    Block(3, 40, 3, 37, 35, s=2, pads=(1, 0, 1, 2)),
    Block(5, 7, 6, 3, 2, pads=(3, 1, 4, 2)),  # pads past the kernel: bands of only padding
    Block(16, 96, 24, 56, 56, residual=False, acts=("clip", "clip", None)),  # runs on 2 threads
    Block(8, 40, 12, 21, 70, s=2),  # stride 2, rows of 35 (x86: dw_s2wide, no padded copy)
    # small planes (x86 dwconv_impl.h: flat stride 1, two stride-2 rows per vector, row by row)
    Block(8, 24, 8, 7, 7, residual=True),
    Block(8, 20, 8, 14, 14, s=2),
    Block(5, 17, 6, 9, 13, k=5, s=2, pads=(2, 1, 2, 2)),
]
BUDGETS = {"rows1": 1, "whole": 1 << 30}  # 1 byte: the smallest band, one output row


@pytest.mark.parametrize("b", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
@pytest.mark.parametrize("budget", list(BUDGETS), ids=list(BUDGETS))
def test_fused_block(b: Block, budget: str) -> None:
    model = block_model(b)
    fused = compile_block(model, True, BUDGETS[budget])
    plain = compile_block(model, False, BUDGETS[budget])
    ops = [ins.opcode for ins in fused.instructions]
    assert ops.count(Opcode.INVERTED_RESIDUAL) == 1 and Opcode.CONV not in ops, ops
    # the same arithmetic as the unfused chain; bit for bit except where a
    # band's last n % 16 <= 8 pixels go to the AVX-512 GEMM's matrix-vector
    # tail (gemm_avx512.c cols_times_a), which sums over k in another order
    check_fused_block(model, b, fused, plain, chain_tolerance=1e-6)


def check_fused_block(model: onnx.ModelProto, b: Block, fused: Program, plain: Program,
                      chain_tolerance: float) -> None:
    """The fused program in every family at 1, 2 and 3 threads against the
    unfused chain (within chain_tolerance of the output scale) and the float64
    numpy block (1e-5 of the output scale)."""
    x = np.random.default_rng(1).standard_normal((b.n, b.cin, b.h, b.w)).astype(np.float32)
    expect = numpy_block(model, b, x)
    scale = max(float(np.abs(expect).max()), 1e-6)
    for name, family in FAMILIES.items():
        (chain,) = edgec.Session(with_family(plain, family)).run(None, {"x": x})
        for threads in (1, 2, 3):
            # a run on other values first: an output element the band split
            # (one band per thread on small planes) leaves unwritten keeps them
            session = edgec.Session(with_family(fused, family), threads=threads)
            session.run(None, {"x": 3.0 * x + 1.0})
            (y,) = session.run(None, {"x": x})
            what = f"{name} threads={threads}"
            assert y.shape == expect.shape
            chain_err = float(np.abs(y - chain).max()) / scale
            assert chain_err <= chain_tolerance, f"{what}: {chain_err:.3g} from the unfused chain"
            err = float(np.abs(y - expect).max()) / scale
            assert err <= 1e-5, f"{what}: max error {err:.3g} of the output scale"


def test_rows_follow_the_scratch_size() -> None:
    """The band height is the largest the declared scratch holds: the pass's
    mirror of the kernel's layout gives exactly the kernel's need."""
    b = Block(8, 24, 8, 30, 20)
    geo = dict(expand=True, cin=8, ch=24, m=8, w=20, ow=20, kh=3, kw=3, sh=1, sw=1)
    for rows in (1, 2, 5, 30):
        program = compile_block(block_model(b), True, fir.workspace(rows, **geo))
        (ins,) = program.instructions
        assert ins.scratch_size == fir.workspace(rows, **geo)
        x = np.ones((1, 8, 30, 20), np.float32)
        (y,) = edgec.Session(serialize(program)).run(None, {"x": x})
        assert np.isfinite(y).all()
    # a byte less than one row needs is refused at load
    program = compile_block(block_model(b), True, 1)
    program.instructions[0].scratch_size -= 1
    with pytest.raises(RuntimeStatusError, match="scratch of"):
        edgec.Session(serialize(program))


# ---- malformed instructions ------------------------------------------------------


def _fused_program() -> Program:
    return compile_block(block_model(Block(5, 19, 5, 13, 11, residual=True)), True, 1 << 20)


def _conv_options(ins: object) -> None:
    ins.options = ConvOptionsT(strides=[1, 1], pads=[1, 1, 1, 1], group=19)


def _swap_weights(ins: object) -> None:
    ins.inputs[1], ins.inputs[5] = ins.inputs[5], ins.inputs[1]


MALFORMED: list[tuple[str, int, str, Callable[[object], None]]] = [
    ("six inputs", FORMAT, r"7 or 8", lambda i: i.inputs.__delitem__(slice(6, None))),
    ("no depthwise weight", FORMAT, r"depthwise weight is absent",
     lambda i: i.inputs.__setitem__(3, -1)),
    ("no project weight", FORMAT, r"project weight is absent",
     lambda i: i.inputs.__setitem__(5, -1)),
    ("expand bias alone", FORMAT, r"expand bias without",
     lambda i: i.inputs.__setitem__(1, -1)),
    ("unpacked", UNSUPPORTED, r"must be packed",
     lambda i: setattr(i, "variant", i.variant & ~VARIANT_PACKED)),
    ("unknown family", UNSUPPORTED, r"variant", lambda i: setattr(i, "variant", 0x1FF)),
    ("conv options", FORMAT, r"not InvertedResidualOptions", _conv_options),
    ("stride 3", FORMAT, r"strides", lambda i: setattr(i.options, "strides", [3, 3])),
    ("two pads", FORMAT, r"4 pads", lambda i: setattr(i.options, "pads", [1, 1])),
    ("negative pad", FORMAT, r"pad -1", lambda i: setattr(i.options, "pads", [1, -1, 1, 1])),
    ("stride 2 output", SHAPE, r"does not follow", lambda i: setattr(i.options, "strides",
                                                                      [2, 2])),
    ("activation 99", UNSUPPORTED, r"activation 99",
     lambda i: setattr(i.options, "dwActivation", 99)),
    ("weights swapped", SHAPE, r"expand weight", _swap_weights),
    ("bias of the wrong stage", SHAPE, r"bias", lambda i: i.inputs.__setitem__(6, i.inputs[4])),
    ("residual of another shape", SHAPE, r"residual",
     lambda i: i.inputs.__setitem__(7, i.inputs[4])),
    ("scratch 0", FORMAT, r"scratch of 0 bytes", lambda i: setattr(i, "scratch_size", 0)),
]


@pytest.mark.parametrize("what,status,message,damage", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_instruction_refused(what: str, status: int, message: str,
                                       damage: Callable[[object], None]) -> None:
    program = _fused_program()
    (ins,) = [i for i in program.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    damage(ins)
    with pytest.raises(RuntimeStatusError) as info:
        edgec.Session(serialize(program))
    assert info.value.status == status, str(info.value)
    assert re.search(message, str(info.value)), str(info.value)
