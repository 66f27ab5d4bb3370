"""ONNX's integer ops (QuantizeLinear, QLinearConv, QLinearMatMul, ConvInteger,
MatMulInteger, DequantizeLinear) lowered onto edgec's kernels, against
onnxruntime: integer outputs exact, requantized ones within one unit."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import edgec

U8, S8 = TensorProto.UINT8, TensorProto.INT8


def _model(nodes: list, inputs: list, outputs: list, inits: dict[str, np.ndarray]) -> object:
    graph = helper.make_graph(nodes, "q", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def _run_both(model: object, feeds: dict[str, np.ndarray]) -> tuple[list, list]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    theirs = ort.InferenceSession(model.SerializeToString(), opts,  # type: ignore[attr-defined]
                                  providers=["CPUExecutionProvider"]).run(None, feeds)
    ours = edgec.Session(edgec.compile(model), threads=2).run(None, feeds)  # type: ignore
    return ours, theirs


@pytest.mark.parametrize("x_type,w_type", [(U8, S8), (S8, S8), (U8, U8)])
@pytest.mark.parametrize("group", [1, 4])
def test_qlinear_conv(x_type: int, w_type: int, group: int) -> None:
    rng = np.random.default_rng(group)
    w_np = helper.tensor_dtype_to_np_dtype(w_type)
    wlo, whi = (-127, 127) if w_type == S8 else (0, 255)
    w = rng.integers(wlo, whi + 1, (8, 8 // group, 3, 3)).astype(w_np)
    w_zp = np.array(0 if w_type == S8 else 128, w_np)
    x_zp = np.array(3 if x_type == S8 else 120, helper.tensor_dtype_to_np_dtype(x_type))
    inits = {
        "xs": np.array(0.05, np.float32), "xz": x_zp,
        "w": w, "ws": rng.uniform(0.005, 0.02, 8).astype(np.float32) if w_type == S8 else
        np.array(0.01, np.float32), "wz": w_zp,
        "ys": np.array(0.2, np.float32), "yz": np.array(128 if x_type == U8 else 0,
                                                         helper.tensor_dtype_to_np_dtype(x_type)),
        "b": rng.integers(-500, 500, 8).astype(np.int32),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
                         ["yq"], pads=[1, 1, 1, 1], strides=[2, 1], group=group),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    model = _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 9, 11])],
                   [helper.make_tensor_value_info("yq", x_type, None),
                    helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    x = rng.standard_normal((1, 8, 9, 11)).astype(np.float32) * 3
    (oq, of), (tq, tf) = _run_both(model, {"x": x})
    assert oq.dtype == tq.dtype
    assert np.max(np.abs(oq.astype(np.int32) - tq.astype(np.int32))) <= 1
    assert np.mean(oq == tq) > 0.99
    np.testing.assert_allclose(of, tf, atol=0.2 + 1e-6)


def test_qlinear_matmul_and_integer_ops() -> None:
    rng = np.random.default_rng(5)
    b_const = rng.integers(-127, 128, (24, 10)).astype(np.int8)
    inits = {
        "as": np.array(0.02, np.float32), "az": np.array(100, np.uint8),
        "b": b_const, "bs": np.array(0.03, np.float32), "bz": np.array(0, np.int8),
        "ys": np.array(0.5, np.float32), "yz": np.array(10, np.uint8),
        "w": rng.integers(0, 256, (6, 4, 1, 3)).astype(np.uint8),
        "wz": np.array(128, np.uint8), "xz": np.array(7, np.uint8),
    }
    nodes = [
        helper.make_node("QuantizeLinear", ["a", "as", "az"], ["aq"]),
        helper.make_node("QLinearMatMul", ["aq", "as", "az", "b", "bs", "bz", "ys", "yz"], ["y"]),
        helper.make_node("MatMulInteger", ["aq", "b", "az"], ["yi"]),
        helper.make_node("MatMulInteger", ["aq", "bq2", "az"], ["yi2"]),
        helper.make_node("ConvInteger", ["xq", "w", "xz", "wz"], ["yc"], pads=[0, 1, 0, 1]),
    ]
    model = _model(nodes, [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3, 24]),
                           helper.make_tensor_value_info("bq2", U8, [24, 5]),
                           helper.make_tensor_value_info("xq", U8, [1, 4, 5, 7])],
                   [helper.make_tensor_value_info(n, t, None) for n, t in
                    (("y", U8), ("yi", TensorProto.INT32), ("yi2", TensorProto.INT32),
                     ("yc", TensorProto.INT32))], inits)
    feeds = {"a": rng.standard_normal((2, 3, 24)).astype(np.float32),
             "bq2": rng.integers(0, 256, (24, 5)).astype(np.uint8),
             "xq": rng.integers(0, 256, (1, 4, 5, 7)).astype(np.uint8)}
    ours, theirs = _run_both(model, feeds)
    assert np.max(np.abs(ours[0].astype(int) - theirs[0].astype(int))) <= 1
    for a, b in zip(ours[1:], theirs[1:], strict=True):
        np.testing.assert_array_equal(a, b)
