"""FlexAttention (ai.onnx.preview), lowered through its function body with the
score_mod subgraph inlined, against numpy in float64."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from support import run_edgec


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_flex_attention_score_mod_with_initializer_and_gqa() -> None:
    scores = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["B", "H", "L", "S"])
    out = helper.make_tensor_value_info("s_out", TensorProto.FLOAT, ["B", "H", "L", "S"])
    bias = onnx.numpy_helper.from_array(np.array(0.75, np.float32), "bias")
    score_mod = helper.make_graph([helper.make_node("Mul", ["s", "bias"], ["s_out"])],
                                  "score_mod", [scores], [out], [bias])
    node = helper.make_node("FlexAttention", ["Q", "K", "V"], ["Y"], domain="ai.onnx.preview",
                            score_mod=score_mod)
    shapes = {"Q": (2, 4, 3, 8), "K": (2, 2, 5, 8), "V": (2, 2, 5, 6)}
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in shapes.items()],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23),
                                                    helper.make_opsetid("ai.onnx.preview", 1)])
    model.ir_version = 10
    rng = np.random.default_rng(7)
    feeds = {n: (rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s)).astype(np.float32)
             for n, s in shapes.items()}
    (ours,) = run_edgec(model, feeds)
    q, k, v = (feeds[n].astype(np.float64) for n in ("Q", "K", "V"))
    k, v = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    expected = _softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(8) * 0.75) @ v
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
