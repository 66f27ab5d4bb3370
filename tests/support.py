"""Helpers shared by the tests: build one-node ONNX models, run them in edgec
and in onnxruntime on the same seeded random inputs, compare."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

import edgec

OPSET = 18


def make_model(nodes: Sequence[onnx.NodeProto], inputs: dict[str, tuple[int, tuple[int, ...]]],
               outputs: dict[str, int], initializers: dict[str, np.ndarray] | None = None,
               opset: int = OPSET) -> onnx.ModelProto:
    """inputs: name -> (TensorProto dtype, shape); outputs: name -> dtype (shape inferred)."""
    graph = helper.make_graph(
        list(nodes), "test",
        [helper.make_tensor_value_info(n, dt, list(shape)) for n, (dt, shape) in inputs.items()],
        [helper.make_tensor_value_info(n, dt, None) for n, dt in outputs.items()],
        [onnx.numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def random_input(rng: np.random.Generator, dtype: int, shape: tuple[int, ...]) -> np.ndarray:
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    if np_dtype == np.bool_:
        return rng.random(shape) > 0.5
    if np.issubdtype(np_dtype, np.integer):
        return rng.integers(-20, 20, size=shape).astype(np_dtype)
    return rng.standard_normal(shape).astype(np_dtype)


def run_edgec(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
              threads: int = 1) -> list[np.ndarray]:
    session = edgec.Session(edgec.compile(model), threads=threads)
    return session.run(None, feeds)


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-4,
                 atol: float = 1e-5) -> None:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if np.issubdtype(expected.dtype, np.floating):
        assert np.all(np.isfinite(actual) == np.isfinite(expected)), "non-finite mismatch"
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(actual, expected)


def check_against_ort(model: onnx.ModelProto, seed: int = 0, rtol: float = 1e-4,
                      atol: float = 1e-5, feeds: dict[str, np.ndarray] | None = None,
                      threads: int = 1) -> None:
    """Compiles and runs model in edgec and onnxruntime on the same seeded random
    inputs (never zeros) and compares every output element."""
    rng = np.random.default_rng(seed)
    if feeds is None:
        feeds = {}
        for inp in model.graph.input:
            tt = inp.type.tensor_type
            shape = tuple(d.dim_value for d in tt.shape.dim)
            feeds[inp.name] = random_input(rng, tt.elem_type, shape)
    ours = run_edgec(model, feeds, threads=threads)
    theirs = run_ort(model, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b, rtol=rtol, atol=atol)


__all__ = ["OPSET", "TensorProto", "check_against_ort", "helper", "make_model", "random_input"]
