"""CONCATs whose inputs can be written straight into the output disappear;
the numbers stay onnxruntime's (seeded random weights and inputs, 1 and 2
threads), including when the arena reuses the freed bytes."""

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode

F = TensorProto.FLOAT


def _conv(rng: np.random.Generator, inits: dict, x: str, y: str, cin: int, cout: int,
          k: int = 1) -> object:
    inits[f"{y}_w"] = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(
        np.float32)
    inits[f"{y}_b"] = rng.standard_normal(cout).astype(np.float32)
    return helper.make_node("Conv", [x, f"{y}_w", f"{y}_b"], [y], pads=[k // 2] * 4)


def _concats(model: object) -> int:
    program = compile_program(model).program
    return sum(ins.opcode == Opcode.CONCAT for ins in program.instructions)


@pytest.mark.parametrize("threads", [1, 2])
def test_dense_block_concats_vanish(threads: int) -> None:
    """DenseNet: every layer's features join all the earlier ones; the
    concats chain, each output an input of the next."""
    rng = np.random.default_rng(0)
    inits: dict = {}
    growth, channels = 16, 32
    nodes = [_conv(rng, inits, "x", "f0", 3, channels)]
    features = "f0"
    for layer in range(4):
        nodes += [helper.make_node("Relu", [features], [f"r{layer}"]),
                  _conv(rng, inits, f"r{layer}", f"n{layer}", channels, growth, k=3),
                  helper.make_node("Concat", [features, f"n{layer}"], [f"c{layer}"], axis=1)]
        features, channels = f"c{layer}", channels + growth
    nodes.append(_conv(rng, inits, features, "y", channels, 8))
    model = make_model(nodes, {"x": (F, (1, 3, 12, 12))}, {"y": F}, inits)
    assert _concats(model) == 0
    check_against_ort(model, seed=1, threads=threads)


def test_fire_module_and_views_follow() -> None:
    """SqueezeNet's fire module; one branch also feeds a Flatten (a view of
    it), which must read the same bytes after the move."""
    rng = np.random.default_rng(2)
    inits: dict = {}
    nodes = [_conv(rng, inits, "x", "s", 8, 16),
             _conv(rng, inits, "s", "e1", 16, 32), _conv(rng, inits, "s", "e3", 16, 16, k=3),
             helper.make_node("Concat", ["e1", "e3"], ["c"], axis=1),
             helper.make_node("Relu", ["c"], ["y"]),
             helper.make_node("Flatten", ["e3"], ["v"]),
             helper.make_node("Relu", ["v"], ["z"])]
    model = make_model(nodes, {"x": (F, (1, 8, 9, 9))}, {"y": F, "z": F}, inits)
    assert _concats(model) == 0
    check_against_ort(model, seed=3)


@pytest.mark.parametrize("case", ["batch_2", "misaligned", "program_input", "same_input_twice",
                                  "input_is_output"])
def test_concats_that_must_copy_stay(case: str) -> None:
    rng = np.random.default_rng(4)
    inits: dict = {}
    shape = (2 if case == "batch_2" else 1, 4, 5, 5)
    cin = 3 if case == "misaligned" else 16  # 3 * 25 * 4 bytes is no multiple of 64
    nodes = [_conv(rng, inits, "x", "a", 4, cin), _conv(rng, inits, "x", "b", 4, 16)]
    outputs = {"y": F}
    if case == "program_input":
        concat_in = ["x", "b"]
    elif case == "same_input_twice":
        concat_in = ["a", "a"]
    else:
        concat_in = ["a", "b"]
    if case == "input_is_output":
        outputs["a"] = F
    nodes.append(helper.make_node("Concat", concat_in, ["y"], axis=1))
    model = make_model(nodes, {"x": (F, shape)}, outputs, inits)
    assert _concats(model) == 1
    check_against_ort(model, seed=5)


def test_input_of_two_concats_is_claimed_once() -> None:
    rng = np.random.default_rng(6)
    inits: dict = {}
    nodes = [_conv(rng, inits, "x", "a", 4, 16), _conv(rng, inits, "x", "b", 4, 16),
             _conv(rng, inits, "x", "c", 4, 16),
             helper.make_node("Concat", ["a", "b"], ["y0"], axis=1),
             helper.make_node("Concat", ["a", "c"], ["y1"], axis=1)]
    model = make_model(nodes, {"x": (F, (1, 4, 6, 6))}, {"y0": F, "y1": F}, inits)
    assert _concats(model) == 1
    check_against_ort(model, seed=7, threads=2)
