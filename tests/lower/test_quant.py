"""QuantizeLinear whose scale and zero point are computed at run time (written
as Div, Round, Add, Clip, Cast), and DynamicQuantizeLinear, against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

F = TensorProto.FLOAT


@pytest.mark.parametrize("out", [TensorProto.INT8, TensorProto.UINT8])
def test_quantize_linear_scale_computed_at_run_time(out: int) -> None:
    nodes = [
        helper.make_node("Abs", ["x"], ["a"]),
        helper.make_node("ReduceMax", ["a"], ["m"], keepdims=0),
        helper.make_node("Div", ["m", "hundred"], ["scale"]),
        helper.make_node("QuantizeLinear", ["x", "scale", "zp"], ["y"]),
    ]
    zp = np.array(3 if out == TensorProto.INT8 else 130,
                  helper.tensor_dtype_to_np_dtype(out))
    model = make_model(nodes, {"x": (F, (3, 5, 4))}, {"y": out},
                       {"hundred": np.array(100, np.float32), "zp": zp})
    check_against_ort(model, seed=out)


def test_quantize_linear_per_axis_scale_computed_at_run_time() -> None:
    nodes = [
        helper.make_node("Abs", ["x"], ["a"]),
        helper.make_node("ReduceMax", ["a", "axes"], ["m"], keepdims=0),
        helper.make_node("Div", ["m", "hundred"], ["scale"]),
        helper.make_node("QuantizeLinear", ["x", "scale"], ["y"], axis=1),
    ]
    model = make_model(nodes, {"x": (F, (2, 4, 3))}, {"y": TensorProto.UINT8},
                       {"hundred": np.array(100, np.float32),
                        "axes": np.array([0, 2], np.int64)})
    check_against_ort(model, seed=5)


def test_dynamic_quantize_linear() -> None:
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zp"])
    model = make_model([node], {"x": (F, (4, 6))}, {"y": TensorProto.UINT8, "scale": F,
                                                    "zp": TensorProto.UINT8})
    check_against_ort(model, seed=11)
