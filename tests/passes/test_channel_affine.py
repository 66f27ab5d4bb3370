"""Per-channel Mul/Add chains fold into BatchNormalization, then into the
Conv before them or into one BATCH_NORM with the Relu fused; the numbers
stay those of onnxruntime on seeded random weights and inputs."""

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

import edgec
from edgec.fb.Opcode import Opcode
from edgec.frontend.onnx_import import import_onnx
from edgec.passes.fuse_activation import BATCH_NORM_RELU

F = TensorProto.FLOAT
C = 6
SHAPE = (2, C, 9, 7)


def _params(rng: np.random.Generator, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}_scale": rng.uniform(0.5, 2.0, C).astype(np.float32),
            f"{prefix}_bias": rng.standard_normal(C).astype(np.float32),
            f"{prefix}_mean": rng.standard_normal(C).astype(np.float32),
            f"{prefix}_var": rng.uniform(0.5, 2.0, C).astype(np.float32)}


def _bn(x: str, prefix: str, y: str) -> object:
    return helper.make_node("BatchNormalization", [x] + [f"{prefix}_{k}" for k in
                            ("scale", "bias", "mean", "var")], [y], epsilon=1e-3)


def _chain(x: str, y: str, rng: np.random.Generator, inits: dict) -> list:
    """BatchNormalization, Mul, Add by per-channel constants, Relu (the caffe2 form)."""
    inits.update(_params(rng, f"{x}bn"))
    inits[f"{x}_s"] = rng.uniform(-2.0, 2.0, (C, 1, 1)).astype(np.float32)
    inits[f"{x}_b"] = rng.standard_normal((1, C, 1, 1)).astype(np.float32)
    return [_bn(x, f"{x}bn", f"{x}1"), helper.make_node("Mul", [f"{x}1", f"{x}_s"], [f"{x}2"]),
            helper.make_node("Add", [f"{x}_b", f"{x}2"], [f"{x}3"]),
            helper.make_node("Relu", [f"{x}3"], [y])]


def _opcodes(model: object) -> list[int]:
    return [ins.opcode for ins in edgec.compiler.compile_program(model).program.instructions]


def test_conv_bn_mul_add_relu_is_one_conv() -> None:
    rng = np.random.default_rng(0)
    inits = {"w": rng.standard_normal((C, C, 3, 3)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             *_chain("c", "y", rng, inits)]
    model = make_model(nodes, {"x": (F, SHAPE)}, {"y": F}, inits)
    assert [n.op_type for n in import_onnx(model).graph] == ["Conv", "Relu"]
    assert _opcodes(model) == [Opcode.CONV]
    check_against_ort(model, seed=1)


@pytest.mark.parametrize("threads", [1, 3])
def test_preactivation_chain_is_one_batch_norm_with_relu(threads: int) -> None:
    """The DenseNet form: the chain follows a Concat, so no Conv takes it."""
    rng = np.random.default_rng(2)
    inits = {"w": rng.standard_normal((4, C, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Concat", ["a", "b"], ["x"], axis=1), *_chain("x", "r", rng, inits),
             helper.make_node("Conv", ["r", "w"], ["y"])]
    model = make_model(nodes, {"a": (F, (2, 2, 9, 7)), "b": (F, (2, C - 2, 9, 7))},
                       {"y": F}, inits)
    program = edgec.compiler.compile_program(model).program
    assert [i.opcode for i in program.instructions] == [Opcode.CONCAT, Opcode.BATCH_NORM,
                                                        Opcode.CONV]
    assert program.instructions[1].options.flags & BATCH_NORM_RELU
    check_against_ort(model, seed=3, threads=threads)


def test_relu_output_shared_keeps_it_separate() -> None:
    """A Relu stays its own op when the value before it is used elsewhere."""
    rng = np.random.default_rng(4)
    inits = {"s": rng.uniform(-2, 2, (C, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Mul", ["x", "s"], ["m"]), helper.make_node("Relu", ["m"], ["y"])]
    model = make_model(nodes, {"x": (F, SHAPE)}, {"y": F, "m": F}, inits)
    assert _opcodes(model) == [Opcode.BATCH_NORM, Opcode.RELU]
    check_against_ort(model, seed=5)


def test_shared_conv_weight_folds_for_each_conv() -> None:
    """Deduplicated constants: two Convs share one weight, each gets its own scale."""
    rng = np.random.default_rng(6)
    inits = {"w": rng.standard_normal((C, C, 1, 1)).astype(np.float32),
             "s0": rng.uniform(-2, 2, (C, 1, 1)).astype(np.float32),
             "s1": rng.uniform(-2, 2, (C, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x0", "w"], ["c0"]),
             helper.make_node("Conv", ["x1", "w"], ["c1"]),
             helper.make_node("Mul", ["c0", "s0"], ["y0"]),
             helper.make_node("Mul", ["c1", "s1"], ["y1"])]
    model = make_model(nodes, {"x0": (F, SHAPE), "x1": (F, SHAPE)}, {"y0": F, "y1": F}, inits)
    assert _opcodes(model) == [Opcode.CONV, Opcode.CONV]
    check_against_ort(model, seed=7)


@pytest.mark.parametrize("const_shape,x_shape", [
    ((), SHAPE),              # a scalar: attention's scale, say
    ((1, 1, 9, 1), SHAPE),    # varies along a spatial axis
    ((C,), (2, 7, C)),        # a bias along the last axis of a rank-3 tensor
    ((C,), (5, C)),           # rank 2: the MatMul bias form
])
def test_other_constants_are_left_alone(const_shape: tuple, x_shape: tuple) -> None:
    rng = np.random.default_rng(8)
    inits = {"s": rng.uniform(-2, 2, const_shape).astype(np.float32)}
    model = make_model([helper.make_node("Mul", ["x", "s"], ["y"])], {"x": (F, x_shape)},
                       {"y": F}, inits)
    assert [n.op_type for n in import_onnx(model).graph] == ["Mul"]
    check_against_ort(model, seed=9)


def test_conv_output_used_twice_is_not_folded() -> None:
    rng = np.random.default_rng(10)
    inits = {"w": rng.standard_normal((C, C, 1, 1)).astype(np.float32),
             "b": rng.standard_normal((C, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]),
             helper.make_node("Add", ["c", "b"], ["y0"]), helper.make_node("Relu", ["c"], ["y1"])]
    model = make_model(nodes, {"x": (F, SHAPE)}, {"y0": F, "y1": F}, inits)
    assert "Conv" in [n.op_type for n in import_onnx(model).graph]
    check_against_ort(model, seed=11)


def test_fused_relu_with_runtime_parameters() -> None:
    """BATCH_NORM's unfolded path (parameters are inputs) also applies the fused Relu."""
    rng = np.random.default_rng(12)
    names = ("scale", "bias", "mean", "var")
    nodes = [helper.make_node("BatchNormalization", ["x", *names], ["b"], epsilon=1e-3),
             helper.make_node("Relu", ["b"], ["y"])]
    inputs = {"x": (F, SHAPE), **{k: (F, (C,)) for k in names}}
    model = make_model(nodes, inputs, {"y": F})
    program = edgec.compiler.compile_program(model).program
    assert [i.opcode for i in program.instructions] == [Opcode.BATCH_NORM]
    feeds = {"x": rng.standard_normal(SHAPE).astype(np.float32),
             **{k: v for k, v in zip(names, _params(rng, "p").values(), strict=True)}}
    check_against_ort(model, feeds=feeds, threads=2)
