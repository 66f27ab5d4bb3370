"""Every optimized kernel family against the portable reference, on random
shapes with odd sizes and tails: the same compiled program is run with its
CONV / CONV_TRANSPOSE / GEMM / MATMUL instructions forced to each family
(Instruction.variant, kernel.h EC_VARIANT_*) and the outputs compared with
the reference family's. A family the CPU lacks falls back (to AVX2, then
ref), so the test runs everywhere and compares what this machine can run.
The reference itself is checked against onnxruntime in tests/lower."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model, run_ort

import edgec
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import (
    VARIANT_AVX2,
    VARIANT_AVX512,
    VARIANT_BEST,
    VARIANT_FAMILY_MASK,
    VARIANT_REF,
)
from edgec.program import Program

F = TensorProto.FLOAT
GEMM_OPS = {Opcode.CONV, Opcode.CONV_TRANSPOSE, Opcode.GEMM, Opcode.MATMUL}
FAMILIES = {"avx2": VARIANT_AVX2, "avx512": VARIANT_AVX512, "best": VARIANT_BEST}


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


CPU = _cpu_flags()
HAS_AVX2 = {"avx2", "fma"} <= CPU
HAS_AVX512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"} <= CPU


def with_family(program: Program, family: int) -> bytes:
    """The program serialized with every GEMM-based instruction forced to family."""
    saved = [ins.variant for ins in program.instructions]
    for ins in program.instructions:
        if ins.opcode in GEMM_OPS:
            ins.variant = (ins.variant & ~VARIANT_FAMILY_MASK) | family
    data = serialize(program)
    for ins, v in zip(program.instructions, saved, strict=True):
        ins.variant = v
    return data


def random_feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    inits = {i.name for i in model.graph.initializer}
    feeds = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
        feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def run_family(program: Program, family: int, feeds: dict[str, np.ndarray],
               threads: int = 1) -> list[np.ndarray]:
    return edgec.Session(with_family(program, family), threads=threads).run(None, feeds)


def assert_family_matches(actual: np.ndarray, ref: np.ndarray, what: str,
                          rtol: float = 2e-5) -> None:
    """Same math, another summation order (and FMA): a few ulp of the output's scale."""
    scale = max(float(np.abs(ref).max()), 1e-30)
    err = float(np.abs(actual.astype(np.float64) - ref).max()) / scale
    assert err <= rtol, f"{what}: max error {err:.3g} of the output scale"


def check_families(model: onnx.ModelProto, seed: int = 0, threads: tuple[int, ...] = (1,),
                   rtol: float = 2e-5, ort_rtol: float = 1e-4) -> Program:
    """Every family (and thread count) against the reference family, and the
    reference against onnxruntime."""
    program = compile_program(model).program
    feeds = random_feeds(model, seed)
    ref = run_family(program, VARIANT_REF, feeds)
    for exp, got in zip(run_ort(model, feeds), ref, strict=True):
        scale = max(float(np.abs(exp).max()), 1e-30)
        assert float(np.abs(got.astype(np.float64) - exp).max()) <= ort_rtol * scale
    for name, family in FAMILIES.items():
        for t in threads:
            outs = run_family(program, family, feeds, threads=t)
            for i, (a, r) in enumerate(zip(outs, ref, strict=True)):
                assert a.shape == r.shape
                assert_family_matches(a, r, f"{name} threads={t} output {i}", rtol)
    return program


def test_cpu_families_detected() -> None:
    """Documents what this machine compares (the runtime falls back silently)."""
    if not HAS_AVX2:
        pytest.skip("no AVX2 here: only the reference family runs")
    assert HAS_AVX2


# ---- Conv ----------------------------------------------------------------------


def conv_case(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...], dict]:
    k = int(rng.choice([1, 1, 3, 3, 5, 7]))
    group = int(rng.choice([1, 1, 1, 2, 3]))
    cg = int(rng.integers(1, 9))
    mg = int(rng.choice([1, 5, 6, 7, 12, 13, 17, 25]))
    h, w = int(rng.integers(1, 20)), int(rng.integers(1, 36))
    stride = int(rng.choice([1, 1, 2]))
    dil = int(rng.choice([1, 1, 2])) if k > 1 else 1
    pad = [int(v) for v in rng.integers(0, k // 2 * dil + 1, size=4)]
    eff = (k - 1) * dil + 1
    h, w = max(h, eff), max(w, eff)
    x = (int(rng.integers(1, 3)), cg * group, h, w)
    return x, (mg * group, cg, k, k), {"group": group, "strides": [stride, stride],
                                         "dilations": [dil, dil], "pads": pad}


def conv_model(x: tuple[int, ...], w: tuple[int, ...], seed: int, bias: bool = True,
               post: list[onnx.NodeProto] | None = None, inits: dict | None = None,
               opset: int = 18, weight_input: bool = False, **attrs: Any) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    values = {"w": rng.standard_normal(w).astype(np.float32),
              "b": rng.standard_normal(w[0]).astype(np.float32)}
    names = ["x", "w", "b"] if bias else ["x", "w"]
    node = helper.make_node("Conv", names, ["y"], **attrs)
    inputs = {"x": (F, x)}
    given = {k: v for k, v in values.items() if k in names}
    if weight_input:
        inputs["w"] = (F, w)
        given.pop("w")
    out = "z" if post else "y"
    return make_model([node, *(post or [])], inputs, {out: F}, given | (inits or {}),
                      opset=opset)


@pytest.mark.parametrize("seed", range(24))
def test_conv_random_shapes(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    x, w, attrs = conv_case(rng)
    check_families(conv_model(x, w, seed, bias=bool(seed % 3), **attrs), seed,
                   threads=(1, 2) if seed % 4 == 0 else (1,))


@pytest.mark.parametrize(("x", "w", "attrs"), [
    ((1, 3, 1, 1), (1, 3, 1, 1), {}),                              # one pixel, one channel
    ((1, 16, 7, 7), (13, 16, 1, 1), {}),                           # 49 pixels: 32 + 16 + 1
    ((1, 64, 9, 9), (31, 64, 3, 3), {"pads": [1, 1, 1, 1]}),       # 31 = 12 + 12 + 6 + 1
    ((2, 300, 5, 6), (7, 300, 1, 1), {}),                          # K over one KC block
    ((1, 40, 11, 13), (29, 40, 3, 3), {"pads": [1, 1, 1, 1]}),     # K = 360 in two chunks
    ((1, 8, 40, 40), (19, 8, 3, 3), {"pads": [1, 1, 1, 1]}),       # several pixel tiles
    ((1, 4, 9, 9), (6, 4, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),
])
def test_conv_tails(x: tuple[int, ...], w: tuple[int, ...], attrs: dict) -> None:
    check_families(conv_model(x, w, 3, **attrs), threads=(1, 2, 3))


@pytest.mark.parametrize(("x", "w", "attrs"), [
    # the AVX-512 im2col: slivers of 16 pixels inside one output row (contiguous
    # loads; stride 2: two loads and a permute) and across rows (a gather)
    ((2, 3, 20, 70), (8, 3, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),  # ow 35
    ((1, 5, 9, 64), (13, 5, 3, 3), {"pads": [1, 0, 1, 1], "strides": [2, 2]}),  # ow 32
    ((1, 4, 11, 66), (7, 4, 3, 3), {"pads": [0, 2, 1, 1], "strides": [2, 2],
                                    "dilations": [2, 2]}),                      # ow 33
    ((2, 6, 7, 40), (9, 6, 3, 3), {"pads": [1, 0, 0, 1]}),                     # stride 1, ow 39
    ((1, 3, 9, 100), (5, 3, 3, 3), {"pads": [1, 1, 1, 1], "strides": [3, 3]}),  # stride 3
    ((1, 300, 8, 33), (6, 300, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # 2 K chunks
    # slivers across output rows: per row, contiguous loads blended into its
    # lanes (up to 4 rows: ow 14, 7, 5), else the gather (ow 4)
    ((1, 16, 28, 28), (20, 16, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # ow 14
    ((2, 24, 14, 14), (13, 24, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),  # ow 7
    ((1, 5, 11, 10), (7, 5, 3, 3), {"pads": [0, 1, 2, 0], "strides": [2, 2]}),     # ow 5
    ((1, 4, 9, 8), (6, 4, 3, 3), {"pads": [1, 1, 1, 1], "strides": [2, 2]}),       # ow 4
    ((1, 6, 13, 12), (5, 6, 3, 3), {"pads": [1, 2, 1, 0], "dilations": [2, 2]}),   # ow 9
    ((1, 5, 21, 26), (6, 5, 5, 5), {"pads": [2, 1, 2, 2], "strides": [2, 2]}),     # 25 taps
    # 49 taps x 13 slivers x 4 segments: over the per-tap table, all gathers
    ((1, 5, 20, 40), (6, 5, 7, 7), {"pads": [3, 3, 3, 3], "strides": [2, 2]}),
])
def test_conv_im2col_rows(x: tuple[int, ...], w: tuple[int, ...], attrs: dict) -> None:
    check_families(conv_model(x, w, 8, **attrs), threads=(1, 2, 3))


def test_conv_weight_as_graph_input() -> None:
    """An unpacked (strided) weight runs through the same families."""
    check_families(conv_model((1, 6, 10, 11), (13, 6, 3, 3), 5, weight_input=True,
                              pads=[1, 1, 1, 1]))
    check_families(conv_model((1, 6, 10, 11), (13, 6, 1, 1), 6, weight_input=True))


def test_conv_1d() -> None:
    check_families(conv_model((2, 5, 37), (9, 5, 3), 7, pads=[1, 1]))


@pytest.mark.parametrize("seed", range(16))
def test_depthwise_random_shapes(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    k = int(rng.choice([3, 5, 3, 2, 7]))
    sh, sw = int(rng.choice([1, 2])), int(rng.choice([1, 2, 2, 3]))
    dil = 2 if seed % 7 == 6 else 1
    c = int(rng.integers(1, 9))
    h, w = int(rng.integers(k * dil, 40)), int(rng.integers(k * dil, 70))
    pad = [int(v) for v in rng.integers(0, k // 2 * dil + 1, size=4)]
    model = conv_model((int(rng.integers(1, 3)), c, h, w), (c, 1, k, k), seed, bias=seed % 2 == 0,
                       group=c, strides=[sh, sw], dilations=[dil, dil], pads=pad)
    check_families(model, seed, threads=(1, 2) if seed % 3 == 0 else (1,))


def test_depthwise_1d() -> None:
    check_families(conv_model((1, 4, 45), (4, 1, 5), 3, group=4, pads=[2, 2], strides=[2]))



def depthwise_model(h: int, w: int, k: int, pads: tuple[int, ...], stride: int, c: int,
                    seed: int, residual: bool) -> onnx.ModelProto:
    """A depthwise k x k conv of 2 images of c planes, seeded weights and bias, + a residual
    input where asked, then Relu, Clip or HardSwish (by seed)."""
    rng = np.random.default_rng(seed)
    oh = (h + pads[0] + pads[2] - k) // stride + 1
    ow = (w + pads[1] + pads[3] - k) // stride + 1
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], group=c, pads=list(pads),
                            strides=[stride, stride])
    return finish_model([conv], {"x": (F, (2, c, h, w))},
                        {"w": rng.standard_normal((c, 1, k, k)).astype(np.float32),
                         "b": rng.standard_normal(c).astype(np.float32)},
                        (2, c, oh, ow), residual, ["Relu", "Clip", "HardSwish"][seed % 3])


def finish_model(nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, tuple[int, ...]]],
                 inits: dict[str, np.ndarray], y_shape: tuple[int, ...], residual: bool,
                 act: str | None) -> onnx.ModelProto:
    """nodes ending in tensor y, + a residual input r of y_shape where asked, then ACTS[act]
    where given, as a model."""
    nodes, inputs, out, opset = list(nodes), dict(inputs), "y", 18
    if residual:
        nodes.append(helper.make_node("Add", ["y", "r"], ["s"]))
        inputs["r"] = (F, y_shape)
        out = "s"
    if act is not None:
        post, extra, opset = ACTS[act]
        nodes += [helper.make_node(n.op_type, [out, *n.input[1:]], ["z"], **{
            a.name: helper.get_attribute_value(a) for a in n.attribute}) for n in post]
        inits, out = inits | extra, "z"
    return make_model(nodes, inputs, {out: F}, inits, opset=opset)


# Small planes (dwconv_impl.h's masked-load path, ow <= 16): output widths
# around both vector widths (AVX2 8, AVX-512 16) and past the path's limit,
# strides 1 and 2, asymmetric pads, 3x3 and 5x5 (and 7x7, 2x2 generic); at
# stride 1 with ow == w and oh * ow <= 256 the flat path (several rows per vector).
SMALL_DW = [
    (1, 1, 1, (0, 0, 0, 0)), (1, 1, 3, (1, 1, 1, 1)), (2, 3, 3, (2, 0, 0, 2)),
    (7, 7, 3, (1, 1, 1, 1)), (7, 9, 3, (0, 1, 2, 0)), (8, 8, 3, (1, 1, 1, 1)),
    (9, 9, 3, (1, 0, 1, 2)), (14, 14, 3, (1, 1, 1, 1)), (15, 15, 5, (2, 2, 2, 2)),
    (16, 16, 3, (1, 1, 1, 1)), (17, 17, 3, (1, 1, 1, 1)), (16, 18, 5, (0, 2, 1, 0)),
    (7, 7, 5, (2, 2, 2, 2)), (11, 13, 7, (3, 1, 2, 3)), (6, 8, 2, (1, 0, 0, 1)),
    (10, 7, 3, (0, 1, 0, 1)), (5, 16, 5, (2, 2, 2, 2)), (3, 5, 3, (2, 2, 1, 0)),
    # stride 2, AVX-512: one load per row where every tap's lanes lie in it (ow 7 at 3x3,
    # ow 5 at 5x5: two rows per vector; ow 9..15 at 3x3, ..14 at 5x5: two loads per row)
    # and past those limits (13x13 5x5: ow 7; 31x31: ow 16; 29x30 5x5: ow 15)
    (28, 28, 3, (1, 1, 1, 1)), (29, 30, 3, (1, 0, 1, 1)), (31, 31, 3, (1, 1, 1, 1)),
    (27, 28, 5, (2, 2, 2, 2)), (29, 30, 5, (2, 1, 2, 2)), (13, 13, 5, (2, 2, 2, 2)),
    (12, 11, 5, (2, 1, 2, 2)), (19, 20, 3, (0, 1, 1, 0)),
    # stride 1, 3x3, pad 1 on both sides, rows of at most 14 (AVX-512: dw_narrow, a row per
    # load): top and bottom pads 0 to 2, one and two columns, more rows than columns
    (14, 14, 3, (0, 1, 2, 1)), (3, 1, 3, (1, 1, 1, 1)), (20, 13, 3, (2, 1, 0, 1)),
    (5, 2, 3, (1, 1, 1, 1)),
    # ... and of at most 7: two output rows per vector (odd row counts end with a single row)
    (7, 5, 3, (0, 1, 2, 1)), (2, 7, 3, (2, 1, 1, 1)), (12, 6, 3, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(("h", "w", "k", "pads"), SMALL_DW)
def test_depthwise_small_planes(h: int, w: int, k: int, pads: tuple[int, ...],
                                stride: int) -> None:
    """Bias, residual (stride 1, where the shapes match) and activation too."""
    if h + pads[0] + pads[2] < k or w + pads[1] + pads[3] < k:
        pytest.skip("kernel larger than the padded input")
    c = 37
    seed = h * 100 + w * 10 + k + stride
    model = depthwise_model(h, w, k, pads, stride, c, seed, residual=seed % 2 == 0)
    program = check_families(model, seed, threads=(1, 2, 3))
    assert len(program.instructions) == 1

# Rows wider than a vector, strides 1 and 2 (AVX-512 dwconv_impl.h: 3x3 with left pad 1 runs
# dw_padrow or dw_s1w3 / dw_s2wide, no padded copy): ow 17 .. 257, odd and even widths, right
# pads read as zeros past the row, more than 4 vectors per row (stride 2: the first of a later
# group reads the one before), top pads 0 to 2 (stride 1: rows of zeros), residual at stride 1;
# and past those paths (5x5, left pad 0 or 2, stride 2 with ow > 256) for the paths beside them.
WIDE_DW = [
    (9, 34, 3, (1, 1, 1, 1)), (10, 56, 3, (1, 1, 1, 1)), (3, 57, 3, (0, 1, 1, 1)),
    (12, 64, 3, (1, 1, 0, 0)), (7, 97, 3, (1, 1, 1, 2)), (6, 112, 3, (1, 1, 1, 1)),
    (5, 130, 3, (0, 1, 1, 1)), (4, 200, 3, (2, 1, 2, 1)), (3, 256, 3, (1, 1, 1, 1)),
    (3, 514, 3, (1, 1, 1, 1)), (9, 60, 5, (2, 2, 2, 2)), (8, 66, 3, (1, 0, 1, 1)),
    (5, 28, 3, (1, 1, 1, 1)), (6, 40, 3, (1, 2, 1, 0)),
    # stride 1 with ow == w <= 126 (dw_padrow: a row as vectors from column -1): 31 (the last
    # vector only the right pad), 126 (8 vectors), 2 rows only
    (4, 31, 3, (1, 1, 1, 1)), (5, 126, 3, (0, 1, 2, 1)), (2, 47, 3, (1, 1, 1, 1)),
]


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(("h", "w", "k", "pads"), WIDE_DW)
def test_depthwise_wide_rows(h: int, w: int, k: int, pads: tuple[int, ...], stride: int) -> None:
    """Bias, residual (stride 1, where the shapes match) and activation, 1 and 2 threads,
    against the reference and onnxruntime."""
    seed = h * 1000 + w + stride
    same = (h + pads[0] + pads[2] - k) // stride + 1 == h and (
        w + pads[1] + pads[3] - k) // stride + 1 == w
    model = depthwise_model(h, w, k, pads, stride, 6, seed, residual=same)
    program = check_families(model, seed, threads=(1, 2))
    assert len(program.instructions) == 1


ACTS: dict[str, tuple[list[onnx.NodeProto], dict[str, np.ndarray], int]] = {
    "Relu": ([helper.make_node("Relu", ["y"], ["z"])], {}, 18),
    "Clip": ([helper.make_node("Clip", ["y", "lo", "hi"], ["z"])],
             {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)}, 18),
    "LeakyRelu": ([helper.make_node("LeakyRelu", ["y"], ["z"], alpha=0.1)], {}, 18),
    "Sigmoid": ([helper.make_node("Sigmoid", ["y"], ["z"])], {}, 18),
    "Tanh": ([helper.make_node("Tanh", ["y"], ["z"])], {}, 18),
    "HardSigmoid": ([helper.make_node("HardSigmoid", ["y"], ["z"], alpha=0.3, beta=0.4)], {},
                    18),
    "HardSwish": ([helper.make_node("HardSwish", ["y"], ["z"])], {}, 18),
    "Gelu": ([helper.make_node("Gelu", ["y"], ["z"])], {}, 20),
}


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("kernel", [1, 3, "depthwise"])
def test_conv_fused_activation(act: str, kernel: int | str) -> None:
    post, inits, opset = ACTS[act]
    if kernel == "depthwise":
        model = conv_model((1, 5, 9, 37), (5, 1, 3, 3), 11, post=post, inits=inits,
                           opset=opset, pads=[1] * 4, group=5)
    else:
        model = conv_model((1, 5, 9, 21), (14, 5, kernel, kernel), 11, post=post, inits=inits,
                           opset=opset, pads=[kernel // 2] * 4)
    program = check_families(model)
    assert len(program.instructions) == 1


# ---- Gemm / MatMul ----------------------------------------------------------------

GEMM_DIMS = [(1, 1, 1), (1, 33, 17), (1, 1000, 600), (1, 70, 3), (5, 16, 7), (6, 17, 300),
             (13, 31, 64), (12, 32, 1), (25, 47, 513), (64, 100, 256), (7, 1000, 19)]


@pytest.mark.parametrize(("m", "n", "k"), GEMM_DIMS)
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_shapes(m: int, n: int, k: int, trans_b: int) -> None:
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    c = rng.standard_normal((n,)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=trans_b, alpha=0.75,
                            beta=1.5)
    check_families(make_model([node], {"a": (F, (m, k))}, {"y": F}, {"b": b, "c": c}),
                   threads=(1, 2))


@pytest.mark.parametrize(("m", "n", "k"), [(20, 40, 37), (22, 70, 300), (9, 33, 16),
                                             (31, 64, 47), (128, 96, 384), (46, 50, 529),
                                             (35, 64, 300), (26, 48, 40), (12, 45, 7),
                                             (61, 32, 520), (11, 64, 20), (24, 32, 1024)])
@pytest.mark.parametrize("c_rows", [False, True])
def test_gemm_row_tails(m: int, n: int, k: int, c_rows: bool) -> None:
    """AVX-512: the last mr rows of M as a tile of mr rounded up to even
    (8 and 10 rows here); A packed by the AVX-512 packer (K with a tail
    after whole 16s, K over one 256-deep block, rows that are not whole
    6-row slivers; K = 1024: rows 4 KB apart, packed) or read in place
    (n % 16 = 0 or over 8: whole 12-row tiles in place, the last m % 12
    rows packed); C per column or a full matrix (the epilogue's row offset
    of the packed last rows)."""
    rng = np.random.default_rng(m * 100 + k)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = rng.standard_normal((m, n) if c_rows else (n,)).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.5)
    check_families(make_model([node], {"a": (F, (m, k))}, {"y": F}, {"b": b, "c": c}),
                   threads=(1, 2))


@pytest.mark.parametrize("act", ["Relu", "Gelu"])
def test_gemm_in_place_a_activation(act: str) -> None:
    """A read in place with a fused activation: 30 rows (two 12-row tiles
    and 6 packed), 64 columns."""
    post, inits, opset = ACTS[act]
    rng = np.random.default_rng(3)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
    inits = inits | {"b": rng.standard_normal((64, 50)).astype(np.float32),
                     "c": rng.standard_normal((64,)).astype(np.float32)}
    program = check_families(make_model([node, *post], {"a": (F, (30, 50))}, {"z": F}, inits,
                                        opset=opset), threads=(1, 2))
    assert len(program.instructions) == 1


@pytest.mark.parametrize("c_shape", [(), (1,), (1, 1), (9, 1), (9, 23)])
def test_gemm_c_broadcast(c_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(5)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], beta=0.5)
    inits = {"b": rng.standard_normal((40, 23)).astype(np.float32),
             "c": rng.standard_normal(c_shape).astype(np.float32)}
    check_families(make_model([node], {"a": (F, (9, 40))}, {"y": F}, inits))


@pytest.mark.parametrize("act", list(ACTS))
@pytest.mark.parametrize("rows", [19, 1])
def test_gemm_fused_activation(act: str, rows: int) -> None:
    post, inits, opset = ACTS[act]
    rng = np.random.default_rng(9)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transB=1)
    inits = inits | {"b": rng.standard_normal((37, 50)).astype(np.float32),
                     "c": rng.standard_normal((37,)).astype(np.float32)}
    program = check_families(make_model([node, *post], {"a": (F, (rows, 50))}, {"z": F}, inits,
                                        opset=opset))
    assert len(program.instructions) == 1


ACT_TRUTH = {
    "Sigmoid": lambda v: 1 / (1 + math.exp(-v)) if v > -700 else 0.0,
    "Tanh": math.tanh,
    "Gelu": lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2)),
}  # the others are float32 arithmetic, equal to the reference's bit for bit


@pytest.mark.parametrize("act", list(ACT_TRUTH))
def test_activation_approximations(act: str) -> None:
    """The vectorized exp/erfc/tanh of the SIMD epilogues against float64
    math on a dense grid and at the extremes (a Gemm by 1 passes the values
    through to the activation). GELU is within 1.3e-6 relative where the
    reference's 1 + erff(x) loses up to 5e-5 to cancellation for x < -2."""
    post, inits, opset = ACTS[act]
    grid = np.linspace(-12, 12, 24001)
    extremes = [0.0, -0.0, 1e-8, -1e-8, 1e-30, 50.0, -50.0, 88.0, -88.0, 88.7, -88.7, 100.0,
                -100.0, 1e4, -1e4, 3e38, -3e38]
    vals = np.concatenate([grid, extremes]).astype(np.float32)
    node = helper.make_node("Gemm", ["a", "b", "c"], ["y"])
    inits = inits | {"b": np.ones((1, 1), np.float32), "c": np.zeros((1,), np.float32)}
    model = make_model([node, *post], {"a": (F, (len(vals), 1))}, {"z": F}, inits,
                       opset=opset)
    program = compile_program(model).program
    truth = np.array([ACT_TRUTH[act](float(v)) for v in vals])
    for name, family in FAMILIES.items():
        (out,) = run_family(program, family, {"a": vals[:, None]})
        out = out[:, 0].astype(np.float64)
        assert np.all(np.isfinite(out)), name
        err = np.abs(out - truth)
        big = np.abs(truth) > 1e-3
        assert err.max() <= 2e-6 * max(1.0, float(np.abs(truth[np.abs(vals) <= 12]).max())), name
        assert (err[big] / np.abs(truth[big])).max() <= 5e-6, name


@pytest.mark.parametrize(("a_shape", "b_shape", "const_b"), [
    ((3, 7, 29), (29, 45), True),           # packed B, batch folded into M
    ((1, 128, 96), (96, 200), True),
    ((2, 3, 13, 17), (2, 3, 17, 19), False),  # batched, both operands strided
    ((5, 64), (64, 33), False),
    ((1, 1, 300), (300, 20), True),
])
def test_matmul_shapes(a_shape: tuple[int, ...], b_shape: tuple[int, ...],
                       const_b: bool) -> None:
    rng = np.random.default_rng(len(a_shape) * 7 + b_shape[-1])
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    inputs = {"a": (F, a_shape)}
    inits = {}
    if const_b:
        inits["b"] = rng.standard_normal(b_shape).astype(np.float32)
    else:
        inputs["b"] = (F, b_shape)
    check_families(make_model([node], inputs, {"y": F}, inits), threads=(1, 2))


def test_conv_transpose_families() -> None:
    rng = np.random.default_rng(2)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2],
                            pads=[1, 1, 1, 1], output_padding=[1, 1])
    inits = {"w": rng.standard_normal((6, 5, 3, 3)).astype(np.float32),
             "b": rng.standard_normal((5,)).astype(np.float32)}
    check_families(make_model([node], {"x": (F, (1, 6, 7, 9))}, {"y": F}, inits))


# ---- Winograd F(4x4, 3x3) ------------------------------------------------------------


def _relative_error(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - ref).max()) / max(float(np.abs(ref).max()), 1e-30)


@pytest.mark.parametrize("otf", [False, True], ids=["stored", "on-the-fly"])
@pytest.mark.parametrize(("x", "m", "pads", "r"), [
    ((1, 8, 16, 16), 8, [1, 1, 1, 1], None),        # one block of 16 tiles
    ((1, 16, 13, 11), 19, [1, 1, 1, 1], None),      # partial edge tiles, M with a tail
    ((2, 24, 17, 30), 12, [0, 2, 1, 0], None),      # batch, asymmetric pads
    ((1, 64, 56, 56), 64, [1, 1, 1, 1], None),      # ResNet-18 layer 1 (several blocks)
    ((1, 256, 14, 14), 256, [1, 1, 1, 1], None),    # ResNet-18 layer 3, long reduction
    ((1, 9, 30, 9), 33, [2, 2, 2, 2], None),
    ((1, 512, 7, 7), 512, [1, 1, 1, 1], None),      # ResNet-18 layer 4: F(2x2, 3x3)
    ((2, 32, 7, 9), 20, [1, 0, 1, 1], None),        # F(2x2, 3x3), odd sizes, batch
    # odd C and M (panel of 12 with a 1-row and a 7-row tail; C * 6 not a
    # multiple of the vector), batch 2, asymmetric pads, both tile sizes
    ((2, 13, 9, 11), 13, [0, 2, 1, 0], 4),
    ((2, 13, 9, 11), 19, [2, 0, 0, 1], 2),
    ((2, 21, 12, 10), 31, [1, 0, 2, 1], 4),
    ((2, 21, 12, 10), 31, [1, 0, 2, 1], 2),
    ((1, 40, 7, 7), 64, [1, 1, 1, 1], 2),           # 3 threads: channel blocks 24, 24, 16
    ((1, 40, 14, 14), 70, [1, 1, 1, 1], 4),
    # the AVX-512 F(2x2) on-the-fly kernel (C >= 32): a last chunk of 5
    # channels (30 lanes, masked), a 7-row panel, several tile slivers; one
    # 5-row panel (one sliver)
    ((2, 37, 11, 13), 31, [1, 1, 1, 1], 2),
    ((1, 33, 7, 7), 5, [1, 1, 1, 1], 2),
    # blocks made equal in slivers on x86: 70 tiles at 64 per block run as
    # 48 + 22 (threads 1-3 split two blocks), odd C and M
    ((1, 13, 28, 40), 19, [1, 1, 1, 1], 4),
    ((1, 128, 28, 28), 128, [1, 1, 1, 1], 4),     # ResNet-18 layer 2: two blocks, 32 + 17
    # the AVX-512 input transform's segments (consecutive tiles of one tile
    # row, at most 7 for F(4x4) and 15 for F(2x2)): long tile rows, rows and
    # columns past the image, segments across images
    ((1, 5, 9, 70), 7, [1, 1, 1, 1], 4),          # 18 tiles a row: 7 + 7 + 4
    ((1, 6, 5, 70), 9, [2, 0, 1, 2], 2),          # 36 tiles a row: 15 + 15 + 6
    ((3, 7, 6, 9), 5, [0, 1, 2, 0], 4),           # 2 x 2 tiles an image, 3 images a group
])
def test_winograd_error_vs_direct(monkeypatch: pytest.MonkeyPatch, x: tuple[int, ...], m: int,
                                  pads: list[int], r: int | None, otf: bool) -> None:
    """Winograd against the direct conv (im2col, reference family) on weights
    scaled like a trained network's, the weight stored transformed or
    transformed on the fly (r: the tile size the compiler chooses, or forced);
    every family, one, two and three threads (channel blocks per thread)."""
    from edgec.lower import conv as conv_lowering
    from edgec.lower.conv import VARIANT_WINOGRAD, VARIANT_WINOGRAD_F2, VARIANT_WINOGRAD_OTF

    rng = np.random.default_rng(x[1] * 100 + m)
    w = (rng.standard_normal((m, x[1], 3, 3)) / np.sqrt(9 * x[1])).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads)
    model = make_model([node], {"x": (F, x)}, {"y": F}, {"w": w, "b": b})
    feeds = random_feeds(model, 1)
    choose = conv_lowering._choose_winograd
    if r is None:
        r = choose(conv_lowering.ConvGeometry([3, 3], [1, 1], [1, 1], pads), 1, x,
                   (x[0], m, x[2] + pads[0] + pads[2] - 2, x[3] + pads[1] + pads[3] - 2))[0]
    monkeypatch.setattr(conv_lowering, "_choose_winograd", lambda *a: (r, otf))
    wino = compile_program(model).program
    variant = wino.instructions[0].variant
    assert variant & VARIANT_WINOGRAD
    assert bool(variant & VARIANT_WINOGRAD_OTF) == otf
    assert bool(variant & VARIANT_WINOGRAD_F2) == (otf and r == 2)
    wshape = wino.tensors[wino.instructions[0].inputs[1]].shape
    assert wshape == ((-(-m // 6), 9, x[1], 6) if otf else ((r + 2) ** 2, -(-m // 6), x[1], 6))
    monkeypatch.setattr(conv_lowering, "_choose_winograd", choose)
    monkeypatch.setattr(conv_lowering, "USE_WINOGRAD", False)
    direct = compile_program(model).program
    assert not direct.instructions[0].variant & VARIANT_WINOGRAD
    (ref,) = run_family(direct, VARIANT_REF, feeds)
    (theirs,) = run_ort(model, feeds)
    for name, family in {"ref": VARIANT_REF, **FAMILIES}.items():
        for t in (1, 2, 3):
            (ours,) = run_family(wino, family, feeds, threads=t)
            err = _relative_error(ours, ref)
            assert err < 2e-5, f"{name} threads={t}: {err:.3g} of the output scale"
            assert _relative_error(ours, theirs) < 1e-4


def test_winograd_choice() -> None:
    """F(4x4) where the tiles fill the 16-wide slivers, F(2x2) on 7x7 maps (4x4
    tiles of 4x4 would pad 4 tiles to 16), the direct conv for strided convs,
    few channels and maps too small to pay; the weight transformed on the fly
    where it is large and the tiles fit one block (ResNet-18's 14x14 and 7x7
    layers) or two whose raw weight stays in L2 (its 28x28 layers), stored
    where several blocks would each redo the transform."""
    from edgec.lower.conv import VARIANT_WINOGRAD, VARIANT_WINOGRAD_F2, VARIANT_WINOGRAD_OTF

    for x, m, attrs, expect in [((1, 64, 7, 7), 64, {"pads": [1, 1, 1, 1]}, 2),
                                ((1, 64, 14, 14), 64, {"pads": [1, 1, 1, 1]}, 4),
                                ((1, 64, 56, 56), 64, {"pads": [1, 1, 1, 1]}, (4, False)),
                                ((1, 128, 28, 28), 128, {"pads": [1, 1, 1, 1]}, (4, True)),
                                ((1, 256, 14, 14), 256, {"pads": [1, 1, 1, 1]}, (4, True)),
                                ((1, 512, 7, 7), 512, {"pads": [1, 1, 1, 1]}, (2, True)),
                                ((1, 64, 28, 28), 64,
                                 {"pads": [1, 1, 1, 1], "strides": [2, 2]}, None),
                                ((1, 4, 28, 28), 64, {"pads": [1, 1, 1, 1]}, None),
                                ((1, 64, 3, 3), 64, {"pads": [1, 1, 1, 1]}, None)]:
        program = compile_program(conv_model(x, (m, x[1], 3, 3), 0, **attrs)).program
        ins = program.instructions[0]
        if expect is None:
            assert not ins.variant & VARIANT_WINOGRAD, x
            continue
        assert ins.variant & VARIANT_WINOGRAD, x
        otf = bool(ins.variant & VARIANT_WINOGRAD_OTF)
        shape = program.tensors[ins.inputs[1]].shape
        r = (2 if ins.variant & VARIANT_WINOGRAD_F2 else 4) if otf else \
            {36: 4, 16: 2}[shape[0]]
        assert (r, otf) == expect if isinstance(expect, tuple) else r == expect, (x, r, otf)


@pytest.mark.parametrize("x", [
    (1, 16, 21, 19),   # partial edge tiles, groups of 4 tiles across tile rows
    (2, 16, 13, 16),   # batch 2; 4 tiles a row: every group one row, last tile row partial
    (2, 8, 9, 40),     # 10 tiles a row: full groups, groups across rows and images
    (1, 24, 18, 17),   # a 1-column tile at the right edge
])
def test_winograd_fused_epilogue(x: tuple[int, ...]) -> None:
    """Bias, residual and activation in the Winograd F(4x4) output transform
    (the AVX-512 one stores 4 tiles side by side at once or each tile masked:
    both kinds of group, image and row edges, 1-3 threads)."""
    from edgec.lower.conv import VARIANT_WINOGRAD, VARIANT_WINOGRAD_F2

    rng = np.random.default_rng(4 + x[0] + x[2])
    c = x[1]
    w = (rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["y", "x"], ["s"]),
             helper.make_node("Relu", ["s"], ["z"])]
    model = make_model(nodes, {"x": (F, x)}, {"z": F},
                       {"w": w, "b": rng.standard_normal(c).astype(np.float32)})
    program = check_families(model, threads=(1, 2, 3))
    assert len(program.instructions) == 1
    ins = program.instructions[0]
    assert len(ins.inputs) == 4
    assert ins.variant & VARIANT_WINOGRAD and not ins.variant & VARIANT_WINOGRAD_F2


@pytest.mark.parametrize(("x", "m", "r"), [
    ((1, 256, 14, 14), 256, 4),  # ResNet-18 layer 3: 22 panels of 12, the last of 4
    ((1, 64, 7, 7), 100, 2),     # F(2x2): 9 panels, the last of 4
    ((1, 40, 14, 14), 70, 4),    # 6 panels (the last of 10): 4 threads keep channel blocks
    ((2, 33, 6, 6), 55, 2),      # batch 2 in one tile block; 5 panels: 3 threads keep blocks
    ((1, 48, 9, 9), 25, 4),      # 3 panels: channel blocks at every thread count
    ((1, 128, 28, 28), 128, 4),  # ResNet-18 layer 2: two tile blocks (32 + 17), 11 panels each
    ((1, 13, 28, 40), 19, 4),    # two blocks of 2 panels (the second of 7 rows)
    ((1, 40, 16, 40), 30, 2),    # F(2x2), three blocks: 3 and 4 threads, ranges across blocks
])
def test_winograd_otf_panels_claimed(monkeypatch: pytest.MonkeyPatch, x: tuple[int, ...],
                                     m: int, r: int) -> None:
    """On the fly with no more tile blocks than threads (2-4): the jobs (tile
    block, 12-channel panel) claimed at run time (conv.c otf_split: own jobs
    from the front, the others' from the back, V of a block per thread) with
    bias, residual and ReLU in the
    output transform; every thread count equal to one thread bit for bit,
    and to onnxruntime."""
    from edgec.lower import conv as conv_lowering
    from edgec.lower.conv import VARIANT_WINOGRAD_OTF

    rng = np.random.default_rng(m + x[1])
    oh, ow = x[2], x[3]
    w = (rng.standard_normal((m, x[1], 3, 3)) / np.sqrt(9 * x[1])).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["y", "res"], ["s"]),
             helper.make_node("Relu", ["s"], ["z"])]
    model = make_model(nodes, {"x": (F, x), "res": (F, (x[0], m, oh, ow))}, {"z": F},
                       {"w": w, "b": rng.standard_normal(m).astype(np.float32)})
    monkeypatch.setattr(conv_lowering, "_choose_winograd", lambda *a: (r, True))
    program = compile_program(model).program
    assert len(program.instructions) == 1
    ins = program.instructions[0]
    assert ins.variant & VARIANT_WINOGRAD_OTF and len(ins.inputs) == 4
    feeds = random_feeds(model, 3)
    (theirs,) = run_ort(model, feeds)
    for name, family in FAMILIES.items():
        (one,) = run_family(program, family, feeds)
        assert _relative_error(one, theirs) < 1e-4, name
        for t in (2, 3, 4):
            (ours,) = run_family(program, family, feeds, threads=t)
            np.testing.assert_array_equal(ours, one, err_msg=f"{name} threads={t}")


def residual_epilogue_model(cin: int, cout: int, hw: int, seed: int, act: str) -> onnx.ModelProto:
    """1x1 Conv (bias) + Add of an input (the fused residual) + ACTS[act],
    which the compiler turns into one CONV with the whole epilogue."""
    post, inits, opset = ACTS[act]
    rng = np.random.default_rng(seed)
    add = helper.make_node("Add", ["y", "r"], ["s"])
    post = [add, *[helper.make_node(n.op_type, ["s", *n.input[1:]], list(n.output),
                                    **{a.name: helper.get_attribute_value(a)
                                       for a in n.attribute}) for n in post]]
    w = rng.standard_normal((cout, cin, 1, 1)).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32)
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"])
    return make_model([conv, *post], {"x": (F, (1, cin, hw, hw)), "r": (F, (1, cout, hw, hw))},
                      {"z": F}, {"w": w, "b": b} | inits, opset=opset)
