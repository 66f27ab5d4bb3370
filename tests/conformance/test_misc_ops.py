"""The ops and dtypes added for conformance (edgec/lower/misc.py, the new kernels, the
wider elementwise dtypes), each against onnxruntime on seeded random inputs."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

F, F16, I8, U8 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT8, TensorProto.UINT8
I32, I64, B = TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL
RNG = np.random.default_rng(7)


def _one(op: str, inputs: dict[str, tuple[int, tuple[int, ...]]], out: int,
         initializers: dict[str, np.ndarray] | None = None, opset: int = 18,
         outputs: tuple[str, ...] = ("y",), **attrs: object) -> object:
    node = helper.make_node(op, [*inputs, *(initializers or {})], list(outputs), **attrs)
    return make_model([node], inputs, dict.fromkeys(outputs, out), initializers, opset=opset)


# ---- elementwise dtypes ------------------------------------------------------------------


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Min", "Max"])
@pytest.mark.parametrize("dtype", [F16, I8, U8])
def test_binary_small_dtypes(op: str, dtype: int) -> None:
    model = _one(op, {"a": (dtype, (3, 5)), "b": (dtype, (5,))}, dtype)
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    if dtype == F16:
        feeds = {"a": RNG.standard_normal((3, 5)).astype(np_dtype),
                 "b": (RNG.random(5) + 0.5).astype(np_dtype)}
    else:
        feeds = {"a": RNG.integers(0, 60, (3, 5)).astype(np_dtype),
                 "b": RNG.integers(1, 9, 5).astype(np_dtype)}
    check_against_ort(model, feeds=feeds, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", ["Equal", "Less", "GreaterOrEqual"])
@pytest.mark.parametrize("dtype", [F16, I8, U8])
def test_compare_small_dtypes(op: str, dtype: int) -> None:
    check_against_ort(_one(op, {"a": (dtype, (4, 6)), "b": (dtype, (4, 6))}, B))


@pytest.mark.parametrize(("dtype", "fmod"), [(F, 0), (F, 1), (I8, 0), (I32, 1)])
def test_mod(dtype: int, fmod: int) -> None:
    opset = 28 if dtype == F and not fmod else 18  # float fmod=0 is defined from opset 28
    model = _one("Mod", {"a": (dtype, (24,)), "b": (dtype, (24,))}, dtype, opset=opset,
                 fmod=fmod)
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    b = RNG.integers(1, 7, 24) * RNG.choice([-1, 1], 24)
    a = RNG.integers(-50, 50, 24)
    feeds = {"a": (a + (0.25 if dtype == F else 0)).astype(np_dtype), "b": b.astype(np_dtype)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize(("base", "exp"), [(I32, I32), (I64, I64), (F, I32), (I32, F)])
def test_pow_dtypes(base: int, exp: int) -> None:
    model = _one("Pow", {"a": (base, (10,)), "b": (exp, (10,))}, base)
    feeds = {"a": RNG.integers(-4, 5, 10).astype(helper.tensor_dtype_to_np_dtype(base)),
             "b": RNG.integers(0, 5, 10).astype(helper.tensor_dtype_to_np_dtype(exp))}
    check_against_ort(model, feeds=feeds)


def test_clip_runtime_bounds() -> None:
    model = _one("Clip", {"x": (F, (4, 9)), "lo": (F, ()), "hi": (F, ())}, F)
    feeds = {"x": RNG.standard_normal((4, 9)).astype(np.float32),
             "lo": np.array(-0.3, np.float32), "hi": np.array(0.6, np.float32)}
    check_against_ort(model, feeds=feeds)


def test_clip_int8_constant_bounds() -> None:
    model = _one("Clip", {"x": (I8, (20,))}, I8,
                 {"lo": np.array(-5, np.int8), "hi": np.array(7, np.int8)})
    check_against_ort(model)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [U8, I32])
def test_bitwise(op: str, dtype: int) -> None:
    check_against_ort(_one(op, {"a": (dtype, (3, 4)), "b": (dtype, (4,))}, dtype))


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift(direction: str) -> None:
    model = _one("BitShift", {"a": (U8, (8,)), "b": (U8, (8,))}, U8, direction=direction)
    feeds = {"a": RNG.integers(0, 255, 8).astype(np.uint8),
             "b": RNG.integers(0, 8, 8).astype(np.uint8)}
    check_against_ort(model, feeds=feeds)


def test_bitwise_not() -> None:
    check_against_ort(_one("BitwiseNot", {"x": (I32, (5, 3))}, I32))


@pytest.mark.parametrize("op", ["Acos", "Asin", "Atan", "Tan", "Cosh", "Sinh", "Asinh"])
def test_trig(op: str) -> None:
    model = _one(op, {"x": (F, (3, 7))}, F)
    check_against_ort(model, feeds={"x": RNG.uniform(-0.9, 0.9, (3, 7)).astype(np.float32)})


@pytest.mark.parametrize("op", ["Acosh", "Atanh"])
def test_trig_domain(op: str) -> None:
    x = RNG.uniform(1.1, 3.0, (9,)) if op == "Acosh" else RNG.uniform(-0.9, 0.9, (9,))
    check_against_ort(_one(op, {"x": (F, (9,))}, F), feeds={"x": x.astype(np.float32)})


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "Exp", "Relu"])
def test_unary_float16(op: str) -> None:
    check_against_ort(_one(op, {"x": (F16, (4, 5))}, F16), rtol=1e-3, atol=1e-3)


def test_is_nan_is_inf() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.0], np.float32)
    check_against_ort(_one("IsNaN", {"x": (F, (6,))}, B), feeds={"x": x})
    check_against_ort(_one("IsInf", {"x": (F, (6,))}, B, detect_positive=0), feeds={"x": x})


# ---- index ops -------------------------------------------------------------------------


def test_gather_elements() -> None:
    model = _one("GatherElements", {"x": (F, (3, 4)), "i": (I64, (2, 4))}, F, axis=0)
    feeds = {"x": RNG.standard_normal((3, 4)).astype(np.float32),
             "i": RNG.integers(-3, 3, (2, 4))}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("reduction", ["none", "add", "max"])
def test_scatter_elements(reduction: str) -> None:
    model = _one("ScatterElements", {"x": (F, (3, 4)), "i": (I64, (2, 4)), "u": (F, (2, 4))},
                 F, axis=0, reduction=reduction)
    feeds = {"x": RNG.standard_normal((3, 4)).astype(np.float32),
             "i": np.array([[0, 1, 2, 0], [2, 0, 1, 1]]),
             "u": RNG.standard_normal((2, 4)).astype(np.float32)}
    check_against_ort(model, feeds=feeds)


def test_gather_nd_batch_dims() -> None:
    model = _one("GatherND", {"x": (I32, (2, 3, 4)), "i": (I64, (2, 2, 1))}, I32, batch_dims=1)
    feeds = {"x": RNG.integers(0, 9, (2, 3, 4)).astype(np.int32),
             "i": RNG.integers(0, 3, (2, 2, 1))}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("reduction", ["none", "mul"])
def test_scatter_nd(reduction: str) -> None:
    model = _one("ScatterND", {"x": (F, (4, 3)), "i": (I64, (2, 1)), "u": (F, (2, 3))}, F,
                 reduction=reduction)
    feeds = {"x": RNG.standard_normal((4, 3)).astype(np.float32), "i": np.array([[3], [1]]),
             "u": RNG.standard_normal((2, 3)).astype(np.float32)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("largest", [0, 1])
def test_top_k(largest: int) -> None:
    model = _one("TopK", {"x": (F, (3, 7))}, F, {"k": np.array([3], np.int64)},
                 outputs=("v", "i"), axis=1, largest=largest)
    model.graph.output[1].type.tensor_type.elem_type = I64
    check_against_ort(model)


def test_one_hot() -> None:
    model = _one("OneHot", {"i": (I64, (2, 3))}, F,
                 {"depth": np.array(5, np.int64), "values": np.array([0.5, 2.0], np.float32)},
                 axis=1)
    check_against_ort(model, feeds={"i": np.array([[0, 4, -1], [7, 2, -5]])})


@pytest.mark.parametrize("upper", [0, 1])
def test_trilu(upper: int) -> None:
    model = _one("Trilu", {"x": (I64, (2, 4, 5)), "k": (I64, ())}, I64, upper=upper)
    feeds = {"x": RNG.integers(0, 9, (2, 4, 5)), "k": np.array(-1)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize(("exclusive", "reverse"), [(0, 0), (1, 1)])
def test_cumsum(exclusive: int, reverse: int) -> None:
    model = _one("CumSum", {"x": (F, (3, 5))}, F, {"axis": np.array(1, np.int32)},
                 exclusive=exclusive, reverse=reverse)
    check_against_ort(model)


def test_hardmax() -> None:
    check_against_ort(_one("Hardmax", {"x": (F, (2, 3, 4))}, F, axis=1))


@pytest.mark.parametrize(("op", "mode"), [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"),
                                          ("SpaceToDepth", "DCR")])
def test_depth_space(op: str, mode: str) -> None:
    shape = (1, 8, 2, 3) if op == "DepthToSpace" else (1, 2, 4, 6)
    attrs = {"mode": mode} if op == "DepthToSpace" else {}
    check_against_ort(_one(op, {"x": (F, shape)}, F, blocksize=2, **attrs))


@pytest.mark.parametrize("p", [1, 2])
def test_lp_normalization(p: int) -> None:
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    x[1] = 0.0  # a zero norm gives zeros
    check_against_ort(_one("LpNormalization", {"x": (F, (3, 4))}, F, axis=1, p=p),
                      feeds={"x": x})


def test_prelu_legacy_channel_slope() -> None:
    model = _one("PRelu", {"x": (F, (2, 3, 5))}, F,
                 {"slope": np.array([[0.1], [0.2], [0.3]], np.float32)})
    check_against_ort(model)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample(mode: str, padding: str) -> None:
    if mode == "bicubic" and padding != "zeros":
        pytest.skip("onnxruntime clamps bicubic taps, not coordinates, outside the border; "
                    "edgec follows ONNX's reference (the node tests check it)")
    model = _one("GridSample", {"x": (F, (1, 2, 4, 5)), "g": (F, (1, 3, 6, 2))}, F, opset=16,
                 mode=mode, padding_mode=padding, align_corners=0)
    feeds = {"x": RNG.standard_normal((1, 2, 4, 5)).astype(np.float32),
             "g": RNG.uniform(-1.3, 1.3, (1, 3, 6, 2)).astype(np.float32)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("op", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_recurrent(op: str, direction: str) -> None:
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    dirs, hidden = (2 if direction == "bidirectional" else 1), 4
    inits = {"W": RNG.standard_normal((dirs, gates * hidden, 3)).astype(np.float32) * 0.5,
             "R": RNG.standard_normal((dirs, gates * hidden, hidden)).astype(np.float32) * 0.5,
             "B": RNG.standard_normal((dirs, 2 * gates * hidden)).astype(np.float32) * 0.1}
    outputs = ("y", "y_h", "y_c") if op == "LSTM" else ("y", "y_h")
    model = _one(op, {"x": (F, (5, 2, 3))}, F, inits, outputs=outputs, hidden_size=hidden,
                 direction=direction)
    check_against_ort(model, rtol=1e-4, atol=1e-5)


def test_dft_real_forward() -> None:
    model = _one("DFT", {"x": (F, (2, 8, 1))}, F, {"n": np.array(8, np.int64)}, opset=17,
                 axis=1, onesided=1)
    check_against_ort(model, rtol=1e-4, atol=1e-4)


def test_bitcast_and_function_expansion() -> None:
    nodes = [helper.make_node("Shrink", ["x"], ["s"], lambd=0.3, bias=0.1),
             helper.make_node("Swish", ["s"], ["y"], alpha=1.5)]
    model = make_model(nodes, {"x": (F, (4, 6))}, {"y": F}, opset=24)
    check_against_ort(model)


# ---- the backend -------------------------------------------------------------------------


def test_backend_run_model_and_run_node() -> None:
    from edgec import onnx_backend

    x = RNG.standard_normal((2, 3)).astype(np.float32)
    model = _one("Relu", {"x": (F, (2, 3))}, F)
    (y,) = onnx_backend.run_model(model, [x])
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    (z,) = onnx_backend.run_node(helper.make_node("Neg", ["a"], ["b"]), [x])
    np.testing.assert_array_equal(z, -x)
    assert onnx_backend.supports_device("CPU") and not onnx_backend.supports_device("CUDA")


def test_backend_specializes_shape_inputs_and_binds_dynamic_dims() -> None:
    from edgec import onnx_backend

    node = helper.make_node("Reshape", ["x", "shape"], ["y"])
    graph = helper.make_graph([node], "g", [
        helper.make_tensor_value_info("x", F, ["n", 6]),
        helper.make_tensor_value_info("shape", I64, [2])],
        [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    rep = onnx_backend.prepare(model)
    assert rep.specialized_inputs == ["shape"]
    x = RNG.standard_normal((2, 6)).astype(np.float32)
    for shape in ([3, 4], [4, 3], [3, 4]):
        (y,) = rep.run([x, np.array(shape, np.int64)])
        np.testing.assert_array_equal(y, x.reshape(shape))
    (y,) = rep.run([np.ones((1, 6), np.float32), np.array([2, 3], np.int64)])
    assert y.shape == (2, 3)
    assert rep.compiles == 3


def test_backend_specializes_inputs_that_subgraphs_read() -> None:
    """An If branch computes an Expand's shape from a graph input it reads from the
    outer scope: that input is specialized too (and the condition that picks it)."""
    from edgec import onnx_backend

    out = helper.make_tensor_value_info("s", I64, None)
    branch = helper.make_graph([helper.make_node("Identity", ["dims"], ["s"])], "b", [], [out])
    nodes = [helper.make_node("If", ["c"], ["shape"], then_branch=branch, else_branch=branch),
             helper.make_node("Expand", ["x", "shape"], ["y"])]
    graph = helper.make_graph(nodes, "g", [
        helper.make_tensor_value_info("x", F, [1, 3]),
        helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        helper.make_tensor_value_info("dims", I64, [2])],
        [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    assert onnx_backend.prepare(model).specialized_inputs == ["c", "dims"]


def test_backend_specializes_integer_conv_weights() -> None:
    """ConvInteger's weight, fed as a graph input, is compiled in (as in a real model)."""
    from edgec import onnx_backend

    U8 = TensorProto.UINT8
    node = helper.make_node("ConvInteger", ["x", "w", "x_zp"], ["y"])
    graph = helper.make_graph([node], "g", [
        helper.make_tensor_value_info("x", U8, [1, 2, 4, 4]),
        helper.make_tensor_value_info("w", U8, [3, 2, 2, 2]),
        helper.make_tensor_value_info("x_zp", U8, [])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    rep = onnx_backend.prepare(model)
    assert rep.specialized_inputs == ["w", "x_zp"]
    x = RNG.integers(1, 255, (1, 2, 4, 4)).astype(np.uint8)
    w = RNG.integers(1, 127, (3, 2, 2, 2)).astype(np.uint8)  # w - 0 fits int8
    zp = np.array(7, np.uint8)
    (y,) = rep.run([x, w, zp])
    xs = x.astype(np.int64) - 7
    expected = np.zeros((1, 3, 3, 3), np.int64)
    for i in range(3):
        for j in range(3):
            patch = xs[0, :, i:i + 2, j:j + 2]
            expected[0, :, i, j] = (w.astype(np.int64) * patch).sum(axis=(1, 2, 3))
    np.testing.assert_array_equal(y, expected.astype(np.int32))


def test_unsupported_on_purpose_names_the_node() -> None:
    from edgec import onnx_backend
    from edgec.unsupported import UnsupportedOnPurposeError

    model = _one("Bernoulli", {"x": (F, (3,))}, F)
    model.graph.node[0].name = "coin"
    with pytest.raises(UnsupportedOnPurposeError, match=r"Bernoulli node 'coin'.*random"):
        onnx_backend.prepare(model)
