"""Pooling, normalization, softmax and reduction ops against onnxruntime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model, run_edgec

import edgec
from edgec.errors import EdgecError

F, I64 = TensorProto.FLOAT, TensorProto.INT64


def _single(op: str, shape: tuple[int, ...], out_dtype: int = F, opset: int = 18,
            inits: dict[str, np.ndarray] | None = None, extra_inputs: tuple[str, ...] = (),
            **attrs: Any) -> Any:
    node = helper.make_node(op, ["x", *extra_inputs], ["y"], **attrs)
    return make_model([node], {"x": (F, shape)}, {"y": out_dtype}, inits, opset=opset)


def _seed(*parts: object) -> int:
    return sum(ord(ch) for ch in repr(parts)) % 9973


# ---- pools ---------------------------------------------------------------------

POOL_2D = [
    # (input shape, attrs)
    ((1, 3, 8, 8), dict(kernel_shape=[2, 2], strides=[2, 2])),
    ((2, 3, 9, 7), dict(kernel_shape=[3, 3])),
    ((1, 4, 10, 11), dict(kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1])),
    ((1, 2, 13, 13), dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ((1, 2, 13, 13), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
    ((1, 2, 12, 11), dict(kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 1, 1], ceil_mode=1)),
    ((1, 2, 10, 10), dict(kernel_shape=[3, 3], strides=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1)),
    ((1, 2, 6, 7), dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)),
    ((1, 3, 12, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                          dilations=[2, 2])),
    ((1, 3, 12, 11), dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                          dilations=[2, 2], ceil_mode=1)),
    ((1, 3, 11, 9), dict(kernel_shape=[3, 3], strides=[1, 2], dilations=[1, 3])),
    ((2, 3, 7, 9), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ((2, 3, 7, 9), dict(kernel_shape=[4, 3], strides=[2, 2], auto_pad="SAME_LOWER")),
    ((1, 3, 8, 9), dict(kernel_shape=[2, 4], strides=[1, 1], auto_pad="SAME_UPPER")),
    ((1, 3, 9, 9), dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="VALID")),
    ((1, 2, 5, 5), dict(kernel_shape=[5, 5])),
]


def _pool_id(case: tuple) -> str:
    shape, attrs = case
    return "x".join(map(str, shape)) + "-" + "-".join(
        f"{k}{v}".replace(" ", "") for k, v in attrs.items())


@pytest.mark.parametrize("case", POOL_2D, ids=[_pool_id(c) for c in POOL_2D])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "AveragePool-pad", "LpPool"])
def test_pool_2d(op: str, case: tuple) -> None:
    shape, attrs = case
    attrs = dict(attrs)
    opset = 18
    if op == "AveragePool-pad":
        op = "AveragePool"
        attrs["count_include_pad"] = 1
    if op == "AveragePool" and "dilations" in attrs:
        opset = 19  # AveragePool has dilations from opset 19
    check_against_ort(_single(op, shape, opset=opset, **attrs), seed=_seed(op, case))


POOL_ND = [
    ((2, 3, 17), dict(kernel_shape=[3], strides=[2])),
    ((1, 4, 16), dict(kernel_shape=[4], strides=[3], pads=[1, 2], ceil_mode=1)),
    ((1, 2, 15), dict(kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER")),
    ((1, 2, 5, 6, 7), dict(kernel_shape=[2, 2, 2], strides=[2, 2, 2])),
    ((1, 2, 7, 6, 5), dict(kernel_shape=[3, 3, 2], strides=[2, 1, 2], pads=[1, 1, 0, 1, 0, 1])),
    ((1, 2, 7, 7, 7), dict(kernel_shape=[3, 3, 3], strides=[2, 2, 2], ceil_mode=1)),
    ((1, 1, 6, 7, 8), dict(kernel_shape=[2, 3, 2], strides=[1, 2, 2], auto_pad="SAME_LOWER")),
]


@pytest.mark.parametrize("case", POOL_ND, ids=[_pool_id(c) for c in POOL_ND])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "AveragePool-pad", "LpPool"])
def test_pool_1d_3d(op: str, case: tuple) -> None:
    shape, attrs = case
    attrs = dict(attrs)
    opset = 18
    if op == "AveragePool-pad":
        op = "AveragePool"
        attrs["count_include_pad"] = 1
    if op == "AveragePool" and "dilations" in attrs:
        opset = 19
    check_against_ort(_single(op, shape, opset=opset, **attrs), seed=_seed(op, case))


def _pool_reference(kind: str, x: np.ndarray, kernel: list[int], strides: list[int],
                    pads: list[int], dilations: list[int], out: list[int],
                    count_include_pad: bool = False, p: int = 2) -> np.ndarray:
    """Windows clipped to the input; average over valid taps or, with
    count_include_pad, over taps inside the padded input."""
    sp = x.ndim - 2
    y = np.zeros(x.shape[:2] + tuple(out), np.float32)
    for o in np.ndindex(*out):
        taps, n_valid, n_padded = [], 1, 1
        for a in range(sp):
            idx = [o[a] * strides[a] - pads[a] + j * dilations[a] for j in range(kernel[a])]
            valid = [i for i in idx if 0 <= i < x.shape[2 + a]]
            n_padded *= sum(-pads[a] <= i < x.shape[2 + a] + pads[sp + a] for i in idx)
            n_valid *= len(valid)
            taps.append(valid)
        window = x[(slice(None), slice(None), *np.ix_(*taps))].reshape(*x.shape[:2], -1)
        if kind == "MaxPool":
            y[(slice(None), slice(None), *o)] = window.max(-1)
        elif kind == "AveragePool":
            y[(slice(None), slice(None), *o)] = window.sum(-1) / (
                n_padded if count_include_pad else n_valid)
        else:
            y[(slice(None), slice(None), *o)] = (np.abs(window) ** p).sum(-1) ** (1 / p)
    return y


SAME_DILATED = [
    ((1, 2, 15), dict(kernel_shape=[3], dilations=[2], auto_pad="SAME_UPPER"), [2, 2]),
    ((1, 2, 9, 10), dict(kernel_shape=[3, 2], dilations=[2, 3], strides=[2, 1],
                         auto_pad="SAME_LOWER"), [2, 2, 2, 1]),
]


@pytest.mark.parametrize("case", SAME_DILATED, ids=["1d-upper", "2d-lower"])
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "AveragePool-pad", "LpPool"])
def test_pool_same_with_dilations(op: str, case: tuple) -> None:
    """The ONNX spec pads for the dilated window (output ceil(in / stride));
    onnxruntime pads for the undilated one and disagrees with shape inference,
    so these compare against a direct evaluation of the spec."""
    from support import run_edgec

    shape, attrs, pads = case
    cip = op == "AveragePool-pad"
    op = op.split("-")[0]
    extra = {"count_include_pad": 1} if cip else {}
    model = _single(op, shape, opset=19, **attrs, **extra)
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    (y,) = run_edgec(model, {"x": x})
    out = [-(-n // s) for n, s in zip(shape[2:], attrs.get("strides", [1] * (len(shape) - 2)),
                                      strict=True)]
    expected = _pool_reference(op, x, attrs["kernel_shape"],
                               attrs.get("strides", [1] * len(out)), pads, attrs["dilations"],
                               out, cip)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lp_pool_p(p: int) -> None:
    model = _single("LpPool", (1, 3, 9, 8), kernel_shape=[3, 2], strides=[2, 2], pads=[1, 0, 1, 0],
                    p=p)
    check_against_ort(model, seed=p, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"])
@pytest.mark.parametrize("shape", [(2, 5, 7), (2, 3, 7, 9), (1, 4, 3, 5, 6), (1, 8, 1, 1)])
def test_global_pool(op: str, shape: tuple[int, ...]) -> None:
    check_against_ort(_single(op, shape), seed=_seed(op, shape))


def test_global_lp_pool_p3() -> None:
    check_against_ort(_single("GlobalLpPool", (2, 3, 5, 4), p=3))


def test_max_pool_indices_with_ceil_mode_is_unsupported() -> None:
    node = helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2], strides=[2, 2],
                            ceil_mode=1)
    model = make_model([node], {"x": (F, (1, 1, 5, 5))}, {"y": F, "idx": I64})
    with pytest.raises(EdgecError, match="Indices"):
        edgec.compile(model)


def test_ceil_mode_shape_disagreement_feeding_a_node_is_unsupported() -> None:
    """ONNX shape inference keeps a last window that starts in the end padding;
    onnxruntime (and edgec) drop it, which only a graph output can absorb."""
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[3, 3],
                              pads=[2, 2, 2, 2], ceil_mode=1),
             helper.make_node("Relu", ["p"], ["y"])]
    model = make_model(nodes, {"x": (F, (1, 2, 10, 10))}, {"y": F})
    with pytest.raises(EdgecError, match="ceil_mode"):
        edgec.compile(model)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_multithreaded(op: str) -> None:
    model = _single(op, (2, 16, 33, 35), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                    ceil_mode=1)
    check_against_ort(model, threads=2)


def test_global_pool_multithreaded() -> None:
    check_against_ort(_single("GlobalAveragePool", (4, 64, 20, 20)), threads=2)


# ---- normalization -----------------------------------------------------------------


def _bn_params(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
    return {"scale": rng.standard_normal(c).astype(np.float32),
            "bias": rng.standard_normal(c).astype(np.float32),
            "mean": rng.standard_normal(c).astype(np.float32),
            "var": (rng.random(c) + 0.1).astype(np.float32)}


@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 5), (2, 3, 6, 7), (1, 2, 3, 4, 5)])
@pytest.mark.parametrize("epsilon", [1e-5, 1e-2])
def test_batch_norm_constant_params(shape: tuple[int, ...], epsilon: float) -> None:
    rng = np.random.default_rng(len(shape))
    params = _bn_params(rng, shape[1])
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                            epsilon=epsilon)
    check_against_ort(make_model([node], {"x": (F, shape)}, {"y": F}, params))


def test_batch_norm_runtime_params() -> None:
    c = 5
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"])
    inputs = {"x": (F, (2, c, 4, 3))} | {k: (F, (c,)) for k in ("scale", "bias", "mean", "var")}
    model = make_model([node], inputs, {"y": F})
    rng = np.random.default_rng(7)
    feeds = {"x": rng.standard_normal((2, c, 4, 3)).astype(np.float32)} | _bn_params(rng, c)
    check_against_ort(model, feeds=feeds)


def test_batch_norm_multithreaded() -> None:
    rng = np.random.default_rng(1)
    params = _bn_params(rng, 32)
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"])
    model = make_model([node], {"x": (F, (2, 32, 24, 24))}, {"y": F}, params)
    check_against_ort(model, threads=2)


def test_batch_norm_training_mode_is_unsupported() -> None:
    rng = np.random.default_rng(1)
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"],
                            ["y", "rm", "rv"], training_mode=1)
    model = make_model([node], {"x": (F, (2, 3, 4))}, {"y": F, "rm": F, "rv": F},
                       _bn_params(rng, 3))
    with pytest.raises(EdgecError, match="training_mode"):
        edgec.compile(model)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
@pytest.mark.parametrize("shape", [(2, 7, 5, 6), (1, 3, 4, 4)])
def test_lrn(size: int, shape: tuple[int, ...]) -> None:
    model = _single("LRN", shape, size=size, alpha=1e-3 * size, beta=0.6, bias=1.5)
    check_against_ort(model, seed=size)


def test_lrn_defaults() -> None:
    check_against_ort(_single("LRN", (1, 6, 3, 3), size=3))


def test_lrn_multithreaded() -> None:
    check_against_ort(_single("LRN", (2, 32, 20, 20), size=5, alpha=0.01), threads=2)


SOFTMAX_SHAPES = [(7,), (3, 11), (2, 3, 5), (2, 3, 4, 5)]


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_softmax_every_axis(op: str, shape: tuple[int, ...]) -> None:
    for axis in range(-len(shape), len(shape)):
        check_against_ort(_single(op, shape, axis=axis), seed=_seed(op, shape, axis))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_default_axis_and_large_values(op: str) -> None:
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 9)) * 50).astype(np.float32)
    check_against_ort(_single(op, (4, 9)), feeds={"x": x})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_multithreaded(op: str, axis: int) -> None:
    check_against_ort(_single(op, (8, 64, 129), axis=axis), threads=2)


@pytest.mark.parametrize("shape", [(4, 16), (2, 3, 8), (2, 3, 4, 5)])
@pytest.mark.parametrize("axis", [-1, -2])
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape: tuple[int, ...], axis: int, with_bias: bool) -> None:
    rng = np.random.default_rng(len(shape) + axis)
    norm = shape[axis:]
    inits = {"scale": rng.standard_normal(norm).astype(np.float32)}
    names = ["x", "scale"]
    if with_bias:
        inits["bias"] = rng.standard_normal(norm).astype(np.float32)
        names.append("bias")
    node = helper.make_node("LayerNormalization", names, ["y"], axis=axis, epsilon=1e-3)
    check_against_ort(make_model([node], {"x": (F, shape)}, {"y": F}, inits, opset=17))


def test_layer_norm_runtime_scale() -> None:
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"])
    model = make_model([node], {"x": (F, (3, 10)), "scale": (F, (10,)), "bias": (F, (10,))},
                       {"y": F}, opset=17)
    check_against_ort(model)


def test_layer_norm_broadcast_scale() -> None:
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-2)
    inits = {"scale": np.array([1.5, -0.5, 2.0], np.float32).reshape(3, 1),
             "bias": np.array([0.25], np.float32)}
    model = make_model([node], {"x": (F, (2, 3, 4))}, {"y": F}, inits, opset=17)
    check_against_ort(model)


def test_layer_norm_multithreaded() -> None:
    rng = np.random.default_rng(2)
    inits = {"scale": rng.standard_normal(96).astype(np.float32),
             "bias": rng.standard_normal(96).astype(np.float32)}
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"])
    model = make_model([node], {"x": (F, (4, 128, 96))}, {"y": F}, inits, opset=17)
    check_against_ort(model, threads=2)


@pytest.mark.parametrize("outputs", [["y", "mean"], ["y", "mean", "inv_std"],
                                     ["y", "", "inv_std"]], ids=str)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_layer_norm_stats_outputs(outputs: list[str], axis: int) -> None:
    rng = np.random.default_rng(3)
    shape = (3, 4, 6)
    inits = {"scale": rng.standard_normal(shape[axis:]).astype(np.float32)}
    node = helper.make_node("LayerNormalization", ["x", "scale"], outputs, axis=axis,
                            epsilon=1e-2)
    model = make_model([node], {"x": (F, shape)}, {o: F for o in outputs if o}, inits,
                       opset=17)
    check_against_ort(model)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 4, 3, 5), (1, 3, 2, 3, 4)])
def test_instance_norm(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    inits = {"scale": rng.standard_normal(c).astype(np.float32),
             "bias": rng.standard_normal(c).astype(np.float32)}
    node = helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["y"], epsilon=1e-4)
    check_against_ort(make_model([node], {"x": (F, shape)}, {"y": F}, inits))


# ---- reductions ----------------------------------------------------------------------

REDUCE_OPS = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
              "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"]
REDUCE_AXES: list[list[int] | None] = [None, [0], [1], [-1], [0, 2], [1, 2], [-3, -1],
                                       [0, 1, 2, 3]]


def _reduce_model(op: str, shape: tuple[int, ...], axes: list[int] | None, keepdims: int,
                  noop: int = 0) -> Any:
    inputs = ["x"]
    inits = {}
    if axes is not None:
        inputs.append("axes")
        inits["axes"] = np.array(axes, np.int64)
    attrs: dict[str, int] = {"keepdims": keepdims}
    if noop:
        attrs["noop_with_empty_axes"] = 1
    node = helper.make_node(op, inputs, ["y"], **attrs)
    return make_model([node], {"x": (F, shape)}, {"y": F}, inits)


@pytest.mark.parametrize("op", REDUCE_OPS)
@pytest.mark.parametrize("axes", REDUCE_AXES, ids=lambda a: "all" if a is None else str(a))
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reduce(op: str, axes: list[int] | None, keepdims: int) -> None:
    shape = (2, 3, 4, 5)
    rng = np.random.default_rng(_seed(op, axes, keepdims))
    x = rng.standard_normal(shape).astype(np.float32)
    if op == "ReduceProd":
        x = (np.sign(x) * rng.uniform(0.7, 1.4, shape)).astype(np.float32)
    check_against_ort(_reduce_model(op, shape, axes, keepdims), feeds={"x": x})


@pytest.mark.parametrize("op", REDUCE_OPS)
def test_reduce_empty_axes_noop(op: str) -> None:
    check_against_ort(_reduce_model(op, (3, 4), [], 1, noop=1), seed=_seed(op))


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean", "ReduceL2"])
def test_reduce_empty_axes_reduces_all(op: str) -> None:
    check_against_ort(_reduce_model(op, (3, 4, 2), [], 0), seed=_seed(op))


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceSum", "ReduceLogSumExp"])
def test_reduce_with_unit_axes(op: str) -> None:
    check_against_ort(_reduce_model(op, (1, 4, 1, 6), [0, 3], 1), seed=_seed(op))
    check_against_ort(_reduce_model(op, (1, 4, 1, 6), [2], 0), seed=_seed(op))


def test_reduce_log_sum_exp_large_values() -> None:
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((3, 40)) * 60).astype(np.float32)
    check_against_ort(_reduce_model("ReduceLogSumExp", (3, 40), [1], 1), feeds={"x": x})


@pytest.mark.parametrize("axes", [[1], [2]])
def test_reduce_multithreaded(axes: list[int]) -> None:
    check_against_ort(_reduce_model("ReduceMean", (4, 96, 300), axes, 1), threads=2)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean"])
@pytest.mark.parametrize(("shape", "axes"), [((3, 7, 61), [2]), ((2, 96, 33, 35), [2, 3]),
                                             ((1, 3, 64, 65), None), ((5, 16), [1]),
                                             ((4, 17), [1]), ((6, 1), [1])])
def test_reduce_sum_contiguous_runs_in_double(op: str, shape: tuple[int, ...],
                                              axes: list[int] | None) -> None:
    """Float32 sums over contiguous runs (x86: ec_x86_sum_f32_avx2, several chains of
    doubles) against numpy in float64, on values with a large common offset; runs of
    1 to 12,480 floats cover the 16-wide loop and its tails."""
    rng = np.random.default_rng(_seed(op, shape))
    x = (1000.0 + rng.standard_normal(shape)).astype(np.float32)
    (ours,) = run_edgec(_reduce_model(op, shape, axes, 1), {"x": x}, threads=2)
    ax = tuple(range(len(shape))) if axes is None else tuple(axes)
    want = x.astype(np.float64).sum(axis=ax, keepdims=True)
    if op == "ReduceMean":
        want /= np.prod([shape[a] for a in ax])
    np.testing.assert_allclose(ours, want.astype(np.float32), rtol=1e-7, atol=0)


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("keepdims", [0, 1])
@pytest.mark.parametrize("last", [0, 1])
def test_arg(op: str, axis: int, keepdims: int, last: int) -> None:
    shape = (4, 5, 6)
    rng = np.random.default_rng(_seed(op, axis, keepdims, last))
    x = rng.integers(-2, 3, shape).astype(np.float32)  # many ties
    model = _single(op, shape, out_dtype=I64, axis=axis, keepdims=keepdims,
                    select_last_index=last)
    check_against_ort(model, feeds={"x": x})


def test_arg_default_attrs_random() -> None:
    check_against_ort(_single("ArgMax", (6, 7), out_dtype=I64))
    check_against_ort(_single("ArgMin", (6, 7), out_dtype=I64))


def test_arg_multithreaded() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(-3, 4, (64, 40, 33)).astype(np.float32)
    model = _single("ArgMax", (64, 40, 33), out_dtype=I64, axis=1, select_last_index=1)
    check_against_ort(model, feeds={"x": x}, threads=2)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [0, 1, -2])
def test_softmax_opset11_flattens(op: str, axis: int) -> None:
    """Before opset 13 the input is coerced to 2-D at axis (the frontend upgrades the model)."""
    check_against_ort(_single(op, (2, 3, 4), opset=11, axis=axis), seed=_seed(op, axis))


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [0, 1, -1, 3])
def test_softmax_legacy_lowering(op: str, axis: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """An opset-11 node reaching lowering unconverted uses the kernel's flattened form."""
    from edgec.frontend import onnx_import

    monkeypatch.setattr(onnx_import, "TARGET_OPSET", 11)
    check_against_ort(_single(op, (2, 3, 2, 5), opset=11, axis=axis), seed=_seed(op, axis))


# ---- prepare refuses what eval could not run safely ---------------------------------

FORMAT, SHAPE, DTYPE = 3, 8, 9  # ec_status codes (runtime_c/include/edgec/edgec.h)


def _damaged(model: Any, mutate: Any) -> bytes:
    """Compiles model, lets mutate change its Program, and re-plans and serializes it."""
    from edgec.compiler import compile_program
    from edgec.format import writer
    from edgec.plan import plan_arena

    program = compile_program(model).program
    mutate(program)
    plan_arena(program)
    return writer.serialize(program)


def _set_options(**fields: Any) -> Any:
    def mutate(program: Any) -> None:
        for k, v in fields.items():
            setattr(program.instructions[0].options, k, v)
    return mutate


def _set_output(shape: tuple[int, ...] | None = None, dtype: Any = None) -> Any:
    def mutate(program: Any) -> None:
        t = program.tensors[program.instructions[0].outputs[0]]
        if shape is not None:
            t.shape = shape
        if dtype is not None:
            t.dtype = np.dtype(dtype)
    return mutate


def _replace_options(options: Any) -> Any:
    def mutate(program: Any) -> None:
        program.instructions[0].options = options
    return mutate


def _pool() -> Any:
    return _single("MaxPool", (1, 2, 8, 8), kernel_shape=[3, 3], strides=[2, 2])


def _reduce() -> Any:
    return _reduce_model("ReduceSum", (2, 3, 4), [0, 2], 1)


def _layer_norm_wrong_scale(program: Any) -> None:
    scale = program.tensors[program.instructions[0].inputs[1]]
    scale.data = np.ones(5, np.float32)
    scale.shape = (5,)


def _batch_norm() -> Any:
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"])
    return make_model([node], {"x": (F, (2, 3, 4))}, {"y": F},
                      _bn_params(np.random.default_rng(0), 3))


def _batch_norm_wrong_mean(program: Any) -> None:
    mean = program.tensors[program.instructions[0].inputs[3]]
    mean.data = np.zeros(4, np.float32)
    mean.shape = (4,)


def _axis_options() -> Any:
    from edgec.fb.AxisOptions import AxisOptionsT

    return AxisOptionsT()


REFUSED = {
    "pool-kind": (_pool, _set_options(kind=1), FORMAT, "kind"),
    "pool-kernel-rank": (_pool, _set_options(kernel=[3]), FORMAT, "kernel"),
    "pool-zero-stride": (_pool, _set_options(strides=[0, 2]), FORMAT, "strides"),
    "pool-negative-pad": (_pool, _set_options(pads=[-1, 0, 0, 0]), FORMAT, "pads"),
    "pool-huge-kernel": (_pool, _set_options(kernel=[9, 3]), SHAPE, "window"),
    "pool-output-extent": (_pool, _set_output(shape=(1, 2, 5, 3)), SHAPE, "output extent"),
    "pool-output-channels": (_pool, _set_output(shape=(1, 3, 3, 3)), SHAPE, "N and C"),
    "pool-options-type": (_pool, _replace_options(_axis_options()), FORMAT, "PoolOptions"),
    "lp-pool-p": (lambda: _single("LpPool", (1, 1, 4, 4), kernel_shape=[2, 2]),
                  _set_options(p=0), FORMAT, "p is"),
    "reduce-axes-order": (_reduce, _set_options(axes=[2, 0]), FORMAT, "increasing"),
    "reduce-axes-range": (_reduce, _set_options(axes=[0, 3]), FORMAT, "increasing"),
    "reduce-keepdims": (_reduce, _set_options(keepdims=False), SHAPE, "keepdims"),
    "reduce-dtype": (_reduce, _set_output(dtype=np.int64), DTYPE, "output"),
    "argmax-dtype": (lambda: _single("ArgMax", (3, 4), out_dtype=I64),
                     _set_output(dtype=np.float32), DTYPE, "output"),
    "argmax-axis": (lambda: _single("ArgMax", (3, 4), out_dtype=I64), _set_options(axis=2),
                    FORMAT, "axis"),
    "argmax-flags": (lambda: _single("ArgMax", (3, 4), out_dtype=I64), _set_options(flags=6),
                     FORMAT, "flags"),
    "softmax-axis": (lambda: _single("Softmax", (3, 4)), _set_options(axis=2), FORMAT, "axis"),
    "softmax-shape": (lambda: _single("Softmax", (3, 4)), _set_output(shape=(4, 3)), SHAPE,
                      "shapes differ"),
    "layer-norm-scale": (lambda: make_model(
        [helper.make_node("LayerNormalization", ["x", "scale"], ["y"])],
        {"x": (F, (2, 4))}, {"y": F}, {"scale": np.ones(4, np.float32)}, opset=17),
        _layer_norm_wrong_scale, SHAPE, "scale"),
    "batch-norm-mean": (_batch_norm, _batch_norm_wrong_mean, SHAPE, "mean"),
    "lrn-size": (lambda: _single("LRN", (1, 4, 3, 3), size=3), _set_options(size=0), FORMAT,
                 "size"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_prepare_refuses(case: str) -> None:
    from edgec.errors import RuntimeStatusError

    model_fn, mutate, status, message = REFUSED[case]
    data = _damaged(model_fn(), mutate)
    with pytest.raises(RuntimeStatusError, match=message) as info:
        edgec.Session(data)
    assert info.value.status == status


@pytest.mark.parametrize("dtype", [TensorProto.UINT8, TensorProto.INT8])
def test_max_pool_8_bit(dtype: int) -> None:
    """Cast to float32 and back around the float kernel: exact for 8-bit values."""
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 1],
                            pads=[1, 1, 1, 1])
    model = make_model([node], {"x": (dtype, (1, 2, 7, 6))}, {"y": dtype})
    check_against_ort(model, seed=dtype)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [2, 3], "strides": [2, 1], "storage_order": 1},
    {"kernel_shape": [2, 2], "strides": [1, 2], "dilations": [2, 1], "pads": [0, 1, 1, 0]},
])
def test_max_pool_indices(attrs: dict[str, Any]) -> None:
    """The Indices output: the first kernel offset that holds the maximum."""
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], **attrs)
    model = make_model([node], {"x": (F, (2, 3, 6, 7))}, {"y": F, "i": I64})
    check_against_ort(model, seed=_seed(attrs))


def test_max_pool_indices_1d() -> None:
    node = helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=[3], strides=[2])
    model = make_model([node], {"x": (F, (2, 3, 9))}, {"y": F, "i": I64})
    check_against_ort(model, seed=3)
