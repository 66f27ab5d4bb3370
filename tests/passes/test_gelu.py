"""The five-op erf GELU that exporters emit becomes one Gelu, with the same numbers."""

import math

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

from edgec.frontend.onnx_import import import_onnx

F = TensorProto.FLOAT
CONSTS = {"sqrt2": np.array(math.sqrt(2), np.float32), "one": np.array(1.0, np.float32),
          "half": np.array(0.5, np.float32)}


def _half_outside():
    return [helper.make_node("Div", ["x", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["e", "one"], ["a"]),
            helper.make_node("Mul", ["x", "a"], ["m"]),
            helper.make_node("Mul", ["m", "half"], ["y"])]


def _half_first():
    return [helper.make_node("Mul", ["half", "x"], ["h"]),
            helper.make_node("Div", ["x", "sqrt2"], ["d"]),
            helper.make_node("Erf", ["d"], ["e"]),
            helper.make_node("Add", ["one", "e"], ["a"]),
            helper.make_node("Mul", ["h", "a"], ["y"])]


@pytest.mark.parametrize("build", [_half_outside, _half_first])
def test_erf_gelu_is_fused_and_exact(build) -> None:
    model = make_model(build(), {"x": (F, (4, 37))}, {"y": F}, CONSTS)
    graph = import_onnx(model).graph
    assert [n.op_type for n in graph] == ["Gelu"]
    check_against_ort(model)


def test_wrong_constant_is_not_fused() -> None:
    consts = dict(CONSTS, half=np.array(0.25, np.float32))
    model = make_model(_half_outside(), {"x": (F, (4, 37))}, {"y": F}, consts)
    assert "Gelu" not in [n.op_type for n in import_onnx(model).graph]
    check_against_ort(model)
