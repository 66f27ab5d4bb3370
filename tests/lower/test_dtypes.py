"""The element types beyond float32/float16/int8/uint8/int32/int64/bool: float64,
bfloat16, int16, uint16, uint32 and uint64, end to end (lowering, the file, the
runtime's kernels). Checked against numpy in float64 (or exact integer math) on
seeded random non-zero inputs: float64 must be computed in double, not rounded
through float32."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from support import TensorProto, helper, make_model, run_edgec, run_ort

import edgec
from edgec.format.reader import read_program

BF16 = np.dtype(ml_dtypes.bfloat16)
F64, F32, F16 = np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16)
INTS = [np.dtype(t) for t in (np.int16, np.uint16, np.uint32, np.uint64)]
WIDE = [F64, BF16, *INTS]
ALL = [F32, F16, F64, BF16, *(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16,
                                                     np.int32, np.uint32, np.int64, np.uint64,
                                                     np.bool_))]


def _proto(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(dtype)


def _values(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...],
            low: int = 1) -> np.ndarray:
    """Non-zero values of dtype spanning its range: floats normal (never 0),
    integers up to the top of their range (unsigned: above the signed range)."""
    if dtype.kind == "f" or dtype == BF16:
        v = rng.standard_normal(shape) * 3
        return np.where(np.abs(v) < 0.1, 0.5, v).astype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    info = np.iinfo(dtype)
    v = rng.integers(low, 100, shape).astype(dtype)
    big = rng.random(shape) < 0.3  # some near the top of the range
    top = np.array(info.max, dtype) - rng.integers(0, 50, shape).astype(dtype)
    v = np.where(big, top, v).astype(dtype)
    if info.min < 0:
        v = np.where(rng.random(shape) < 0.5, -v, v).astype(dtype)
    return v


def _one(op: str, inputs: dict[str, tuple[np.dtype, tuple[int, ...]]], out: np.dtype,
         opset: int = 18, **attrs) -> object:
    node = helper.make_node(op, list(inputs), ["y"], **attrs)
    return make_model([node], {k: (_proto(d), s) for k, (d, s) in inputs.items()},
                      {"y": _proto(out)}, opset=opset)


def _run(model, feeds: dict[str, np.ndarray]) -> np.ndarray:
    (y,) = run_edgec(model, feeds)
    return y


def _wrap(a: np.ndarray, b: np.ndarray, dtype: np.dtype, fn) -> np.ndarray:
    """fn on Python ints (exact), wrapped to dtype."""
    bits = dtype.itemsize * 8
    out = [fn(int(x), int(y)) % (1 << bits) for x, y in zip(a.ravel(), b.ravel(), strict=True)]
    u = np.array(out, np.uint64).astype(np.dtype(f"u{dtype.itemsize}"))
    return u.view(dtype).reshape(a.shape)


# ---- binary ops -----------------------------------------------------------------------

SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (1, 3, 1))]


@pytest.mark.parametrize("dtype", WIDE, ids=str)
@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Min", "Max"])
@pytest.mark.parametrize("shapes", SHAPES, ids=str)
def test_arithmetic(dtype: np.dtype, op: str, shapes: tuple) -> None:
    rng = np.random.default_rng(hash((str(dtype), op)) % 1000)
    a, b = _values(rng, dtype, shapes[0]), _values(rng, dtype, shapes[1])
    got = _run(_one(op, {"a": (dtype, a.shape), "b": (dtype, b.shape)}, dtype),
               {"a": a, "b": b})
    a, b = np.broadcast_arrays(a, b)
    if dtype.kind == "f":  # float64: exact in double
        ref = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
               "Min": np.minimum, "Max": np.maximum}[op](a, b)
        np.testing.assert_array_equal(got, ref)
    elif dtype == BF16:  # computed in double, rounded once
        x, y = a.astype(F64), b.astype(F64)
        ref = {"Add": x + y, "Sub": x - y, "Mul": x * y, "Div": x / y, "Min": np.minimum(x, y),
               "Max": np.maximum(x, y)}[op].astype(BF16)
        np.testing.assert_array_equal(got.astype(F32), ref.astype(F32))
    else:  # integers: wrapping, division truncating toward zero
        fns = {"Add": lambda x, y: x + y, "Sub": lambda x, y: x - y, "Mul": lambda x, y: x * y,
               "Div": lambda x, y: abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1),
               "Min": min, "Max": max}
        np.testing.assert_array_equal(got, _wrap(a, b, dtype, fns[op]))


def test_float64_is_computed_in_double() -> None:
    a = np.array([1.0, 1e16, 0.1], F64)
    b = np.array([1e-12, 1.0, 0.2], F64)
    got = _run(_one("Add", {"a": (F64, (3,)), "b": (F64, (3,))}, F64), {"a": a, "b": b})
    np.testing.assert_array_equal(got, a + b)  # float32 would lose every one of these


@pytest.mark.parametrize("dtype", [F64, np.dtype(np.int16), np.dtype(np.uint16),
                                   np.dtype(np.uint32), np.dtype(np.uint64)], ids=str)
@pytest.mark.parametrize("fmod", [0, 1])
def test_mod(dtype: np.dtype, fmod: int) -> None:
    rng = np.random.default_rng(7)
    a, b = _values(rng, dtype, (4, 6)), _values(rng, dtype, (6,))
    # float Mod with fmod=0 (Python's %) is defined from opset 28
    model = _one("Mod", {"a": (dtype, a.shape), "b": (dtype, b.shape)}, dtype,
                 opset=28 if dtype == F64 else 18, fmod=fmod)
    got = _run(model, {"a": a, "b": b})
    x, y = np.broadcast_arrays(a, b)
    if fmod or dtype.kind == "u":
        ref = np.fmod(x, y)
    else:
        ref = np.mod(x, y)  # the divisor's sign
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("dtype", WIDE, ids=str)
@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
def test_compare(dtype: np.dtype, op: str) -> None:
    rng = np.random.default_rng(3)
    a, b = _values(rng, dtype, (3, 5)), _values(rng, dtype, (5,))
    a[0] = b  # some equal pairs
    got = _run(_one(op, {"a": (dtype, a.shape), "b": (dtype, b.shape)}, np.dtype(np.bool_),
                    opset=19), {"a": a, "b": b})
    fn = {"Equal": np.equal, "Less": np.less, "Greater": np.greater,
          "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal}[op]
    np.testing.assert_array_equal(got, fn(a, b))


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
def test_bitwise(dtype: np.dtype, op: str) -> None:
    rng = np.random.default_rng(5)
    a, b = _values(rng, dtype, (2, 7)), _values(rng, dtype, (7,))
    got = _run(_one(op, {"a": (dtype, a.shape), "b": (dtype, b.shape)}, dtype),
               {"a": a, "b": b})
    fn = {"BitwiseAnd": np.bitwise_and, "BitwiseOr": np.bitwise_or,
          "BitwiseXor": np.bitwise_xor}[op]
    np.testing.assert_array_equal(got, fn(a, b))


@pytest.mark.parametrize("dtype", INTS, ids=str)
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift(dtype: np.dtype, direction: str) -> None:
    rng = np.random.default_rng(9)
    bits = dtype.itemsize * 8
    a = _values(rng, dtype, (40,))
    b = rng.integers(0, bits + 3, (40,)).astype(dtype)  # some by the width or more: 0
    got = _run(_one("BitShift", {"a": (dtype, a.shape), "b": (dtype, b.shape)}, dtype,
                    opset=28, direction=direction), {"a": a, "b": b})
    # by the width or more: 0 (-1 for a negative value shifted right, as >> does)
    ref = [(int(x) << min(int(s), bits) if direction == "LEFT" else int(x) >> int(s))
           % (1 << bits) for x, s in zip(a, b, strict=True)]
    np.testing.assert_array_equal(got, np.array(ref, np.uint64).astype(dtype))


@pytest.mark.parametrize("dtype", INTS, ids=str)
def test_bitwise_not(dtype: np.dtype) -> None:
    a = _values(np.random.default_rng(1), dtype, (3, 4))
    got = _run(_one("BitwiseNot", {"a": (dtype, a.shape)}, dtype), {"a": a})
    np.testing.assert_array_equal(got, np.invert(a))


def test_integer_division_by_zero_gives_zero() -> None:
    for dtype in INTS:
        a = np.array([7, 0, 5], dtype)
        b = np.array([0, 0, 2], dtype)
        got = _run(_one("Div", {"a": (dtype, (3,)), "b": (dtype, (3,))}, dtype),
                   {"a": a, "b": b})
        np.testing.assert_array_equal(got, np.array([0, 0, 2], dtype))


def test_float64_pow_and_variadic() -> None:
    rng = np.random.default_rng(2)
    a, b = np.abs(_values(rng, F64, (3, 4))), _values(rng, F64, (4,))
    got = _run(_one("Pow", {"a": (F64, a.shape), "b": (F64, b.shape)}, F64), {"a": a, "b": b})
    np.testing.assert_allclose(got, np.power(a, b), rtol=1e-14)
    nodes = [helper.make_node("Sum", ["a", "b", "c"], ["y"])]
    c = _values(rng, F64, (3, 1))
    model = make_model(nodes, {"a": (TensorProto.DOUBLE, (3, 4)), "b": (TensorProto.DOUBLE, (4,)),
                               "c": (TensorProto.DOUBLE, (3, 1))}, {"y": TensorProto.DOUBLE})
    np.testing.assert_array_equal(_run(model, {"a": a, "b": b, "c": c}), a + b + c)


def test_float64_clip_keeps_double_bounds() -> None:
    lo, hi = np.array(0.1, F64), np.array(0.30000000000000004, F64)
    model = make_model([helper.make_node("Clip", ["x", "lo", "hi"], ["y"])],
                       {"x": (TensorProto.DOUBLE, (50,))}, {"y": TensorProto.DOUBLE},
                       {"lo": lo, "hi": hi})
    x = np.random.default_rng(0).random(50)
    np.testing.assert_array_equal(_run(model, {"x": x}), np.clip(x, lo, hi))


# ---- unary ops --------------------------------------------------------------------------

UNARY = {"Sqrt": np.sqrt, "Exp": np.exp, "Log": np.log, "Neg": np.negative, "Abs": np.abs,
         "Reciprocal": np.reciprocal, "Relu": lambda x: np.maximum(x, 0),
         "Sigmoid": lambda x: 1 / (1 + np.exp(-x)), "Tanh": np.tanh, "Floor": np.floor,
         "Ceil": np.ceil, "Round": np.round, "Sin": np.sin, "Cos": np.cos, "Sign": np.sign,
         "Softsign": lambda x: x / (1 + np.abs(x)), "Atan": np.arctan, "Sinh": np.sinh,
         "Softplus": lambda x: np.log1p(np.exp(x))}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_float64(op: str) -> None:
    x = _values(np.random.default_rng(4), F64, (3, 11))
    if op in ("Sqrt", "Log"):
        x = np.abs(x)
    got = _run(_one(op, {"x": (F64, x.shape)}, F64), {"x": x})
    np.testing.assert_allclose(got, UNARY[op](x), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("op", ["Exp", "Tanh", "Relu", "Gelu"])
def test_unary_bfloat16(op: str) -> None:
    x = _values(np.random.default_rng(6), BF16, (4, 9))
    model = _one(op, {"x": (BF16, x.shape)}, BF16, opset=20 if op == "Gelu" else 18)
    got = _run(model, {"x": x}).astype(F32)
    # onnxruntime in float32 on the same values, rounded to bfloat16 once
    ref = run_ort(_one(op, {"x": (F32, x.shape)}, F32, opset=20 if op == "Gelu" else 18),
                  {"x": x.astype(F32)})[0]
    np.testing.assert_allclose(got, ref.astype(BF16).astype(F32), rtol=8e-3, atol=1e-6)


def test_is_nan_is_inf_float64() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, 1e308 * 10, -0.0], F64)
    nan = _run(_one("IsNaN", {"x": (F64, x.shape)}, np.dtype(np.bool_), opset=20), {"x": x})
    inf = _run(_one("IsInf", {"x": (F64, x.shape)}, np.dtype(np.bool_), opset=20), {"x": x})
    np.testing.assert_array_equal(nan, np.isnan(x))
    np.testing.assert_array_equal(inf, np.isinf(x))


# ---- Cast -------------------------------------------------------------------------------


@pytest.mark.parametrize("src", ALL, ids=str)
@pytest.mark.parametrize("dst", ALL, ids=str)
def test_cast_every_pair(src: np.dtype, dst: np.dtype) -> None:
    if src == dst:
        return
    rng = np.random.default_rng(11)
    # values every dtype holds: 0..120, with fractions for float sources
    x = rng.integers(0, 121, (5, 6)).astype(F64)
    if src.kind == "f" or src == BF16:
        x = x + rng.choice([0.0, 0.25, 0.5, 0.75], x.shape)
    x.flat[0] = 0
    xs = x.astype(src)
    got = _run(_one("Cast", {"x": (src, xs.shape)}, dst, to=_proto(dst)), {"x": xs})
    assert got.dtype == dst
    if dst == BF16 or src == BF16:
        ref = xs.astype(F32).astype(dst)  # bfloat16 <-> float32 is exact or one rounding
    else:
        ref = xs.astype(dst)
    np.testing.assert_array_equal(got, ref)


def test_cast_saturates_and_wraps() -> None:
    x = np.array([1e30, -1e30, np.nan, 70000.5, -3.5], F64)
    for dst, ref in ((np.uint16, [65535, 0, 0, 65535, 0]),
                     (np.int16, [32767, -32768, 0, 32767, -3]),
                     (np.uint64, [2**64 - 1, 0, 0, 70000, 0])):
        dt = np.dtype(dst)
        got = _run(_one("Cast", {"x": (F64, x.shape)}, dt, to=_proto(dt)), {"x": x})
        np.testing.assert_array_equal(got, np.array(ref, dst))
    i = np.array([70000, -1, 2**40 + 5], np.int64)
    got = _run(_one("Cast", {"x": (np.dtype(np.int64), i.shape)}, np.dtype(np.uint16),
                    to=TensorProto.UINT16), {"x": i})
    np.testing.assert_array_equal(got, i.astype(np.uint16))  # wraps, as numpy
    u = np.array([2**64 - 1, 2**63], np.uint64)
    got = _run(_one("Cast", {"x": (np.dtype(np.uint64), u.shape)}, F64, to=TensorProto.DOUBLE),
               {"x": u})
    np.testing.assert_array_equal(got, u.astype(F64))


def test_cast_float64_precision() -> None:
    x = np.array([0.9, -2.5, 2.0**60 + 2048, -(2.0**62)], F64)
    got = _run(_one("Cast", {"x": (F64, x.shape)}, np.dtype(np.int64), to=TensorProto.INT64),
               {"x": x})
    np.testing.assert_array_equal(got, x.astype(np.int64))
    big = np.array([2**53 + 1, -(2**62) - 3], np.int64)
    got = _run(_one("Cast", {"x": (np.dtype(np.int64), big.shape)}, F64, to=TensorProto.DOUBLE),
               {"x": big})
    np.testing.assert_array_equal(got, big.astype(F64))


# ---- reductions, cumulative, TopK -------------------------------------------------------

REDUCE = {"ReduceSum": np.sum, "ReduceMean": np.mean, "ReduceMax": np.max, "ReduceMin": np.min,
          "ReduceProd": np.prod, "ReduceL1": lambda x, **k: np.sum(np.abs(x), **k),
          "ReduceL2": lambda x, **k: np.sqrt(np.sum(x * x, **k)),
          "ReduceSumSquare": lambda x, **k: np.sum(x * x, **k),
          "ReduceLogSumExp": lambda x, **k: np.log(np.sum(np.exp(x), **k))}


@pytest.mark.parametrize("op", sorted(REDUCE))
@pytest.mark.parametrize("axes", [[1], [0, 2]], ids=str)
def test_reduce_float64(op: str, axes: list[int]) -> None:
    x = _values(np.random.default_rng(8), F64, (3, 4, 5)) / 3
    model = make_model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=0)],
                       {"x": (TensorProto.DOUBLE, x.shape)}, {"y": TensorProto.DOUBLE},
                       {"axes": np.array(axes, np.int64)})
    ref = REDUCE[op](x, axis=tuple(axes))
    np.testing.assert_allclose(_run(model, {"x": x}), ref, rtol=1e-13)


@pytest.mark.parametrize("dtype", [np.dtype(np.bool_), np.dtype(np.int8), np.dtype(np.uint32),
                                   F16, BF16], ids=str)
@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMin"])
def test_reduce_max_min_other_dtypes(dtype: np.dtype, op: str) -> None:
    x = _values(np.random.default_rng(12), dtype, (4, 6))
    model = make_model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=1)],
                       {"x": (_proto(dtype), x.shape)}, {"y": _proto(dtype)},
                       {"axes": np.array([1], np.int64)}, opset=20)
    ref = (np.max if op == "ReduceMax" else np.min)(x, axis=1, keepdims=True)
    np.testing.assert_array_equal(_run(model, {"x": x}), ref)


def test_reduce_empty_bool() -> None:
    for op, ref in (("ReduceMax", False), ("ReduceMin", True)):
        model = make_model([helper.make_node(op, ["x", "axes"], ["y"], keepdims=1)],
                           {"x": (TensorProto.BOOL, (2, 0))}, {"y": TensorProto.BOOL},
                           {"axes": np.array([1], np.int64)}, opset=20)
        got = _run(model, {"x": np.zeros((2, 0), bool)})
        np.testing.assert_array_equal(got, np.full((2, 1), ref))


@pytest.mark.parametrize("dtype", [F64, BF16, np.dtype(np.uint32), np.dtype(np.uint64)],
                         ids=str)  # ONNX's CumSum takes no 16-bit integers
@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
def test_cumulative(dtype: np.dtype, op: str) -> None:
    x = _values(np.random.default_rng(13), dtype, (3, 5))
    if op == "CumProd" and dtype.kind == "f":
        x = (x / 4).astype(dtype)
    nodes = [helper.make_node(op, ["x", "axis"], ["y"], exclusive=1, reverse=1)]
    model = make_model(nodes, {"x": (_proto(dtype), x.shape)}, {"y": _proto(dtype)},
                       {"axis": np.array(1, np.int64)}, opset=26 if op == "CumProd" else 18)
    got = _run(model, {"x": x})
    rev = x[:, ::-1].astype(F64 if dtype == BF16 else dtype)
    with np.errstate(over="ignore"):
        acc = (np.cumsum if op == "CumSum" else np.cumprod)(rev, axis=1)
    ident = 0 if op == "CumSum" else 1
    ref = np.concatenate([np.full((3, 1), ident, acc.dtype), acc[:, :-1]], axis=1)[:, ::-1]
    if dtype == BF16:
        np.testing.assert_allclose(got.astype(F64), ref, rtol=2e-2)
    elif dtype.kind == "f":
        np.testing.assert_allclose(got, ref, rtol=1e-14)
    else:
        np.testing.assert_array_equal(got, ref.astype(dtype))


def test_top_k_uint64_and_float64() -> None:
    for dtype in (np.dtype(np.uint64), F64):
        x = _values(np.random.default_rng(14), dtype, (2, 9))
        nodes = [helper.make_node("TopK", ["x", "k"], ["v", "i"])]
        model = make_model(nodes, {"x": (_proto(dtype), x.shape)},
                           {"v": _proto(dtype), "i": TensorProto.INT64},
                           {"k": np.array([3], np.int64)})
        v, i = run_edgec(model, {"x": x})
        order = np.argsort(-x.astype(F64), axis=1, kind="stable")[:, :3]
        np.testing.assert_array_equal(i, order)
        np.testing.assert_array_equal(v, np.take_along_axis(x, order, axis=1))


# ---- MatMul / Gemm / Softmax / Conv -----------------------------------------------------


@pytest.mark.parametrize("shapes", [((3, 5), (5, 4)), ((2, 3, 5), (5, 4)),
                                    ((2, 1, 3, 5), (3, 5, 2)), ((5,), (2, 5, 3))], ids=str)
def test_matmul_float64(shapes: tuple) -> None:
    rng = np.random.default_rng(15)
    a, b = _values(rng, F64, shapes[0]), _values(rng, F64, shapes[1])
    got = _run(_one("MatMul", {"a": (F64, a.shape), "b": (F64, b.shape)}, F64),
               {"a": a, "b": b})
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-13)


@pytest.mark.parametrize("trans", [(0, 0), (1, 0), (0, 1), (1, 1)], ids=str)
def test_gemm_float64_with_bias_and_relu(trans: tuple[int, int]) -> None:
    rng = np.random.default_rng(16)
    a = _values(rng, F64, (5, 3) if trans[0] else (3, 5))
    b = _values(rng, F64, (4, 5) if trans[1] else (5, 4))
    c = _values(rng, F64, (4,))
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["g"], transA=trans[0], transB=trans[1],
                              alpha=0.5, beta=2.0),
             helper.make_node("Relu", ["g"], ["y"])]  # not fused into a float64 GEMM
    model = make_model(nodes, {"a": (TensorProto.DOUBLE, a.shape)}, {"y": TensorProto.DOUBLE},
                       {"b": b, "c": c})
    aa, bb = (a.T if trans[0] else a), (b.T if trans[1] else b)
    ref = np.maximum(0.5 * aa @ bb + 2.0 * c, 0)
    np.testing.assert_allclose(_run(model, {"a": a}), ref, rtol=1e-13)


def test_matmul_add_float64_threads() -> None:
    rng = np.random.default_rng(17)
    a, w = _values(rng, F64, (64, 48)), _values(rng, F64, (48, 40))
    bias = _values(rng, F64, (40,))
    nodes = [helper.make_node("MatMul", ["a", "w"], ["m"]),
             helper.make_node("Add", ["m", "b"], ["y"])]
    model = make_model(nodes, {"a": (TensorProto.DOUBLE, a.shape)}, {"y": TensorProto.DOUBLE},
                       {"w": w, "b": bias})
    for threads in (1, 2):
        (got,) = run_edgec(model, {"a": a}, threads=threads)
        # sums of 48 products of ~10: rounding is relative to their size, not the result's
        np.testing.assert_allclose(got, a @ w + bias, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("dtype", [F16, BF16], ids=str)
@pytest.mark.parametrize("op", ["MatMul", "Gemm"])
def test_half_products_run_in_float32(dtype: np.dtype, op: str) -> None:
    rng = np.random.default_rng(18)
    a, b = _values(rng, dtype, (6, 8)), _values(rng, dtype, (8, 5))
    got = _run(_one(op, {"a": (dtype, a.shape), "b": (dtype, b.shape)}, dtype),
               {"a": a, "b": b}).astype(F32)
    ref = (a.astype(F32) @ b.astype(F32)).astype(dtype).astype(F32)
    np.testing.assert_allclose(got, ref, rtol=1e-2 if dtype == BF16 else 1e-3, atol=1e-3)


def test_conv_float16_runs_in_float32() -> None:
    rng = np.random.default_rng(19)
    x, w = _values(rng, F16, (1, 3, 6, 6)), _values(rng, F16, (4, 3, 3, 3))
    model16 = make_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                         {"x": (TensorProto.FLOAT16, x.shape)}, {"y": TensorProto.FLOAT16},
                         {"w": w})
    model32 = make_model([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                         {"x": (TensorProto.FLOAT, x.shape)}, {"y": TensorProto.FLOAT},
                         {"w": w.astype(F32)})
    ref = run_ort(model32, {"x": x.astype(F32)})[0].astype(F16)
    np.testing.assert_allclose(_run(model16, {"x": x}).astype(F32), ref.astype(F32), rtol=2e-3,
                               atol=2e-3)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_float64(op: str, opset: int) -> None:
    x = _values(np.random.default_rng(20), F64, (2, 3, 7))
    model = _one(op, {"x": (F64, x.shape)}, F64, opset=opset, axis=1)
    axes = (1, 2) if opset < 13 else (1,)
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    s = e.sum(axis=axes, keepdims=True)
    ref = e / s if op == "Softmax" else (x - x.max(axis=axes, keepdims=True)) - np.log(s)
    np.testing.assert_allclose(_run(model, {"x": x}), ref, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dtype", [F16, BF16], ids=str)
def test_softmax_half(dtype: np.dtype) -> None:
    x = _values(np.random.default_rng(21), dtype, (4, 9))
    got = _run(_one("Softmax", {"x": (dtype, x.shape)}, dtype), {"x": x}).astype(F32)
    e = np.exp(x.astype(F64) - x.astype(F64).max(axis=-1, keepdims=True))
    ref = (e / e.sum(axis=-1, keepdims=True)).astype(dtype).astype(F32)
    np.testing.assert_allclose(got, ref, rtol=1e-2, atol=1e-3)


# ---- data movement (moved by element size) ----------------------------------------------


@pytest.mark.parametrize("dtype", WIDE, ids=str)
def test_data_movement(dtype: np.dtype) -> None:
    rng = np.random.default_rng(22)
    x = _values(rng, dtype, (2, 3, 4))
    y = _values(rng, dtype, (2, 3, 4))
    cond = rng.random((3, 4)) > 0.5
    p = _proto(dtype)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[2, 0, 1]),
             helper.make_node("Concat", ["x", "y"], ["c"], axis=1),
             helper.make_node("Slice", ["c", "st", "en", "ax", "sp"], ["s"]),
             helper.make_node("Gather", ["x", "idx"], ["g"], axis=2),
             helper.make_node("Where", ["cond", "x", "y"], ["w"]),
             helper.make_node("Pad", ["x", "pads", "pv"], ["pd"]),
             helper.make_node("Tile", ["x", "reps"], ["tl"]),
             helper.make_node("Expand", ["g", "shape"], ["ex"])]
    inits = {"st": np.array([1], np.int64), "en": np.array([6], np.int64),
             "ax": np.array([1], np.int64), "sp": np.array([2], np.int64),
             "idx": np.array([3, 0], np.int64), "pads": np.array([0, 1, 0, 0, 0, 2], np.int64),
             "pv": np.array(5, dtype), "reps": np.array([1, 2, 1], np.int64),
             "shape": np.array([3, 2, 3, 2], np.int64)}
    outs = ["t", "c", "s", "g", "w", "pd", "tl", "ex"]
    model = make_model(nodes, {"x": (p, x.shape), "y": (p, y.shape),
                               "cond": (TensorProto.BOOL, cond.shape)},
                       dict.fromkeys(outs, p), inits)
    got = run_edgec(model, {"x": x, "y": y, "cond": cond})
    c = np.concatenate([x, y], axis=1)
    g = x[:, :, [3, 0]]
    ref = [x.transpose(2, 0, 1), c, c[:, 1:6:2], g, np.where(cond, x, y),
           np.pad(x, [(0, 0), (1, 0), (0, 2)], constant_values=np.array(5, dtype)),
           np.tile(x, (1, 2, 1)), np.broadcast_to(g, (3, 2, 3, 2))]
    for a, b in zip(got, ref, strict=True):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)


# ---- the file and the runtime -----------------------------------------------------------


def test_file_records_the_dtypes() -> None:
    nodes = [helper.make_node("Cast", ["x"], [f"y{i}"], to=_proto(d)) for i, d in enumerate(WIDE)]
    model = make_model(nodes, {"x": (TensorProto.DOUBLE, (2, 3))},
                       {f"y{i}": _proto(d) for i, d in enumerate(WIDE)})
    data = edgec.compile(model)
    info = read_program(data)
    assert [info.tensors[i].dtype for i in info.outputs] == [str(d) for d in WIDE]
    session = edgec.Session(data)
    assert [o.type for o in session.get_outputs()] == [
        "tensor(double)", "tensor(bfloat16)", "tensor(int16)", "tensor(uint16)",
        "tensor(uint32)", "tensor(uint64)"]
    x = np.arange(6, dtype=F64).reshape(2, 3)
    for got, d in zip(session.run(None, {"x": x}), WIDE, strict=True):
        np.testing.assert_array_equal(got, x.astype(d))


def test_scatter_reduction_on_a_wide_dtype_is_refused() -> None:
    nodes = [helper.make_node("ScatterElements", ["x", "i", "u"], ["y"], reduction="add")]
    model = make_model(nodes, {"x": (TensorProto.DOUBLE, (4,)), "u": (TensorProto.DOUBLE, (2,))},
                       {"y": TensorProto.DOUBLE}, {"i": np.array([0, 2], np.int64)})
    with pytest.raises(edgec.EdgecError, match="reduction over float64"):
        edgec.compile(model)


@pytest.mark.parametrize("dtype", [np.dtype(np.int16), np.dtype(np.uint16)], ids=str)
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize_16_bit(dtype: np.dtype, per_axis: bool) -> None:
    rng = np.random.default_rng(23)
    x = (rng.standard_normal((3, 40)) * 3000).astype(F32)
    scale = np.array([0.05, 0.2, 0.1], F32) if per_axis else np.array(0.1, F32)
    zp = np.array([7, -3, 0] if dtype.kind == "i" else [30000, 100, 0], dtype) if per_axis \
        else np.array(-5 if dtype.kind == "i" else 32000, dtype)
    attrs = {"axis": 0} if per_axis else {}
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], **attrs),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, x.shape)},
                       {"q": _proto(dtype), "y": TensorProto.FLOAT}, {"s": scale, "z": zp},
                       opset=21)
    q, y = run_edgec(model, {"x": x})
    s = scale.reshape(-1, 1) if per_axis else scale
    z = zp.astype(np.int64).reshape(-1, 1) if per_axis else np.int64(zp)
    info = np.iinfo(dtype)
    ref_q = np.clip(np.rint(x / s).astype(np.int64) + z, info.min, info.max).astype(dtype)
    np.testing.assert_array_equal(q, ref_q)  # saturates: some values are out of range
    np.testing.assert_allclose(y, ((ref_q.astype(np.int64) - z) * s).astype(F32), rtol=1e-6)
    ort_q, ort_y = run_ort(model, {"x": x})
    np.testing.assert_array_equal(q, ort_q)
    np.testing.assert_allclose(y, ort_y, rtol=1e-6)
