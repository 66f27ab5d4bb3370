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


@pytest.mark.parametrize(("shape", "axis", "block"), [((3, 8), 1, 4), ((6, 5), 0, 2),
                                                      ((2, 7, 3), 1, 3)])
def test_block_quantize_and_dequantize(shape: tuple[int, ...], axis: int, block: int) -> None:
    """Block quantization (opset 21): the parameters are repeated to the input's shape."""
    blocks = list(shape)
    blocks[axis] = -(-shape[axis] // block)
    rng = np.random.default_rng(block)
    scale = rng.uniform(0.02, 0.1, blocks).astype(np.float32)
    zp = rng.integers(100, 150, blocks).astype(np.uint8)
    nodes = [helper.make_node("QuantizeLinear", ["x", "scale", "zp"], ["q"], axis=axis,
                              block_size=block),
             helper.make_node("DequantizeLinear", ["q", "scale", "zp"], ["y"], axis=axis,
                              block_size=block)]
    model = make_model(nodes, {"x": (F, shape)}, {"q": TensorProto.UINT8, "y": F},
                       {"scale": scale, "zp": zp}, opset=21)
    check_against_ort(model, seed=block)
