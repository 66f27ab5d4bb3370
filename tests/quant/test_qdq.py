"""Pre-quantized models: onnxruntime's quantize_static QDQ output runs in edgec's
integer kernels with outputs within one quantization step of onnxruntime's."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (
    CalibrationDataReader,
    QuantFormat,
    QuantType,
    quantize_static,
)

import edgec
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.quant.calibrate import smooth_images


def small_convnet(seed: int = 0) -> onnx.ModelProto:
    """conv3x3+relu, depthwise 3x3 stride 2 + relu, 1x1 conv, residual add, relu,
    max pool, conv to the output: the op mix of a mobile network, small."""
    rng = np.random.default_rng(seed)

    def w(*shape: int, scale: float = 0.3) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    inits = {
        "w0": w(16, 3, 3, 3), "b0": w(16, scale=0.1),
        "w1": w(16, 1, 3, 3), "b1": w(16, scale=0.1),
        "w2": w(16, 16, 1, 1, scale=0.2), "b2": w(16, scale=0.1),
        "w3": w(24, 16, 3, 3, scale=0.1), "b3": w(24, scale=0.1),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], pads=[1, 1, 1, 1], name="conv0"),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2],
                         group=16, name="dw1"),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="pw2"),
        helper.make_node("Add", ["c2", "r1"], ["s2"], name="add2"),
        helper.make_node("Relu", ["s2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2],
                         name="pool2"),
        helper.make_node("Conv", ["p2", "w3", "b3"], ["y"], pads=[1, 1, 1, 1], name="conv3"),
    ]
    graph = helper.make_graph(
        nodes, "small_convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 24, 8, 8])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


class _Reader(CalibrationDataReader):
    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._it = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)


def ort_qdq(model: onnx.ModelProto, feeds: list[dict[str, np.ndarray]], tmp: Path,
            activation_type: QuantType = QuantType.QUInt8) -> onnx.ModelProto:
    src, dst = tmp / "float.onnx", tmp / "qdq.onnx"
    onnx.save(model, src)
    quantize_static(str(src), str(dst), _Reader(feeds), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=activation_type,
                    weight_type=QuantType.QInt8)
    return onnx.load(dst)


def output_step(qdq: onnx.ModelProto) -> float:
    """The scale of the DequantizeLinear that produces the graph output."""
    inits = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer}
    out = qdq.graph.output[0].name
    for n in qdq.graph.node:
        if n.op_type == "DequantizeLinear" and n.output[0] == out:
            return float(inits[n.input[1]])
    raise AssertionError("the output is not dequantized")


@pytest.mark.parametrize("activation_type", [QuantType.QUInt8, QuantType.QInt8])
def test_ort_quantize_static_qdq(tmp_path: Path, activation_type: QuantType) -> None:
    model = small_convnet()
    calib = [{"x": x} for x in smooth_images((1, 3, 32, 32), 16, seed=1)]
    held = [{"x": x} for x in smooth_images((1, 3, 32, 32), 16, seed=2)]
    qdq = ort_qdq(model, calib, tmp_path, activation_type)
    result = compile_program(qdq)
    ops = Counter(i.opcode for i in result.program.instructions)
    assert ops[Opcode.QCONV] == 4, ops
    assert ops[Opcode.CONV] == 0 and ops[Opcode.ADD] == 0, ops
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    theirs = ort.InferenceSession(qdq.SerializeToString(), opts,
                                  providers=["CPUExecutionProvider"])
    ours = edgec.Session(result.data)
    step = output_step(qdq)
    diffs = []
    for feed in held:
        (a,) = theirs.run(None, feed)
        (b,) = ours.run(None, feed)
        diffs.append(np.abs(a - b).ravel() / step)
    d = np.concatenate(diffs)
    within = float(np.mean(d <= 1.0 + 1e-4))
    assert within >= 0.999, (within, d.max())
    # and it is the quantized model, not the float one: close to float too
    fl = edgec.Session(edgec.compile(model))
    (f,) = fl.run(None, held[0])
    (b,) = ours.run(None, held[0])
    cos = float(np.sum(f * b) / np.linalg.norm(f) / np.linalg.norm(b))
    assert cos > 0.99


def test_qdq_weights_keep_their_integers(tmp_path: Path) -> None:
    """The int8 weights edgec stores are exactly onnxruntime's."""
    model = small_convnet(seed=3)
    calib = [{"x": x} for x in smooth_images((1, 3, 32, 32), 4, seed=1)]
    qdq = ort_qdq(model, calib, tmp_path)
    theirs = {i.name: numpy_helper.to_array(i) for i in qdq.graph.initializer
              if i.data_type == TensorProto.INT8 and numpy_helper.to_array(i).ndim == 4}
    result = compile_program(qdq)
    ours = [t.data for t in result.program.tensors
            if t.data is not None and t.dtype == np.int8 and t.data.ndim == 4]
    assert len(ours) == len(theirs) == 4
    for w in ours:
        assert any(w.shape == v.shape and np.array_equal(w, v) for v in theirs.values())


@pytest.mark.skipif(os.environ.get("EDGEC_SLOW") is None, reason="slow: set EDGEC_SLOW=1")
def test_zoo_mobilenet_qdq(tmp_path: Path) -> None:
    from edgec import zoo

    model = zoo.build("mobilenet_v2")
    calib = [{"input": x} for x in smooth_images((1, 3, 224, 224), 8, seed=1)]
    qdq = ort_qdq(model, calib, tmp_path)
    result = compile_program(qdq)
    assert Counter(i.opcode for i in result.program.instructions)[Opcode.QCONV] == 52
