"""Data-movement ops (Concat, Split, Transpose, Expand, Slice, Gather, Pad,
Resize, Tile, Where, Cast) against onnxruntime: bit-exact for data movement,
rtol 1e-4 / atol 1e-5 for interpolation."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from support import (
    TensorProto,
    check_against_ort,
    helper,
    make_model,
    random_input,
    run_edgec,
    run_ort,
)

import edgec
from edgec.errors import EdgecError

F, F16, I8, U8 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT8, TensorProto.UINT8
I32, I64, B = TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL
DATA_DTYPES = [F, I64, B, F16, U8, I8, I32]
NP = {dt: helper.tensor_dtype_to_np_dtype(dt) for dt in (F, F16, I8, U8, I32, I64, B)}


def _seed(*parts: object) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(repr(parts))) % 9973


def _single(op: str, shape: tuple[int, ...], dtype: int = F, out_dtype: int | None = None,
            inits: dict[str, np.ndarray] | None = None, extra: tuple[str, ...] = (),
            opset: int = 18, **attrs: Any) -> Any:
    """One node: graph input x, constant inputs from inits (named in extra), output y."""
    node = helper.make_node(op, ["x", *extra], ["y"], **attrs)
    return make_model([node], {"x": (dtype, shape)}, {"y": dtype if out_dtype is None
                                                      else out_dtype}, inits, opset=opset)


def _feeds(model: Any, seed: int) -> dict[str, np.ndarray]:
    """Seeded random inputs, as arrays even for rank 0 (support returns numpy scalars)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        tt = inp.type.tensor_type
        shape = tuple(d.dim_value for d in tt.shape.dim)
        feeds[inp.name] = np.asarray(random_input(rng, tt.elem_type, shape))
    return feeds


def _i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# ---- Concat --------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("n", [2, 3, 5])
def test_concat(axis: int, n: int) -> None:
    base = [2, 3, 4]
    inputs = {}
    for k in range(n):
        shape = list(base)
        shape[axis] = k + 1
        inputs[f"x{k}"] = (F, tuple(shape))
    node = helper.make_node("Concat", list(inputs), ["y"], axis=axis)
    check_against_ort(make_model([node], inputs, {"y": F}), seed=_seed(axis, n))


@pytest.mark.parametrize("dtype", DATA_DTYPES)
def test_concat_dtypes(dtype: int) -> None:
    node = helper.make_node("Concat", ["a", "b", "c"], ["y"], axis=1)
    inputs = {"a": (dtype, (3, 2, 5)), "b": (dtype, (3, 1, 5)), "c": (dtype, (3, 4, 5))}
    check_against_ort(make_model([node], inputs, {"y": dtype}), seed=_seed(dtype))


def test_concat_with_constant_and_4_inputs() -> None:
    node = helper.make_node("Concat", ["a", "k", "b", "a"], ["y"], axis=-1)
    model = make_model([node], {"a": (F, (2, 3)), "b": (F, (2, 1))}, {"y": F},
                       {"k": np.arange(8, dtype=np.float32).reshape(2, 4)})
    check_against_ort(model)


def test_concat_large_multithreaded() -> None:
    node = helper.make_node("Concat", ["a", "b"], ["y"], axis=1)
    model = make_model([node], {"a": (F, (64, 300, 7)), "b": (F, (64, 200, 7))}, {"y": F})
    check_against_ort(model, threads=2)


# ---- Split ---------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("num", [1, 2, 3])
def test_split_equal(axis: int, num: int) -> None:
    shape = [6, 6, 6]
    outs = [f"y{i}" for i in range(num)]
    node = helper.make_node("Split", ["x"], outs, axis=axis, num_outputs=num)
    model = make_model([node], {"x": (F, tuple(shape))}, dict.fromkeys(outs, F))
    check_against_ort(model, seed=_seed(axis, num))


def test_split_num_outputs_uneven() -> None:
    outs = ["a", "b", "c"]
    node = helper.make_node("Split", ["x"], outs, axis=1, num_outputs=3)
    check_against_ort(make_model([node], {"x": (F, (2, 7, 3))}, dict.fromkeys(outs, F)))


@pytest.mark.parametrize("sizes,axis", [((1, 4, 2), 1), ((3, 0, 2), 2), ((5,), 0),
                                        ((1, 1, 1, 2), -1)])
@pytest.mark.parametrize("dtype", [F, I64, B])
def test_split_sizes(sizes: tuple[int, ...], axis: int, dtype: int) -> None:
    shape = [5, 7, 5]
    shape[axis] = sum(sizes)
    outs = [f"y{i}" for i in range(len(sizes))]
    node = helper.make_node("Split", ["x", "split"], outs, axis=axis)
    model = make_model([node], {"x": (dtype, tuple(shape))}, dict.fromkeys(outs, dtype),
                       {"split": _i64(*sizes)})
    check_against_ort(model, seed=_seed(sizes, axis, dtype))


# ---- Transpose -----------------------------------------------------------------------

RANK4_PERMS = [(0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 2, 3), (0, 1, 3, 2),
               (2, 0, 3, 1), (0, 2, 1, 3)]
RANK5_PERMS = [(0, 2, 3, 4, 1), (4, 3, 2, 1, 0), (0, 1, 3, 2, 4), (1, 3, 0, 4, 2)]


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
def test_transpose_rank3(perm: tuple[int, ...]) -> None:
    model = _single("Transpose", (2, 3, 4), perm=list(perm))
    check_against_ort(model, seed=_seed(perm))


@pytest.mark.parametrize("perm", RANK4_PERMS)
def test_transpose_rank4(perm: tuple[int, ...]) -> None:
    check_against_ort(_single("Transpose", (2, 37, 5, 41), perm=list(perm)), seed=_seed(perm))


@pytest.mark.parametrize("perm", RANK5_PERMS)
def test_transpose_rank5(perm: tuple[int, ...]) -> None:
    check_against_ort(_single("Transpose", (2, 3, 1, 4, 5), perm=list(perm)), seed=_seed(perm))


def test_transpose_default_perm() -> None:
    check_against_ort(_single("Transpose", (2, 3, 4, 5)))


@pytest.mark.parametrize("dtype", DATA_DTYPES)
@pytest.mark.parametrize("perm", [(1, 0), (0, 2, 1), (2, 0, 1)])
def test_transpose_dtypes(dtype: int, perm: tuple[int, ...]) -> None:
    shape = (33, 65) if len(perm) == 2 else (3, 33, 17)
    model = _single("Transpose", shape, dtype, perm=list(perm))
    check_against_ort(model, seed=_seed(dtype, perm))


@pytest.mark.parametrize("shape,perm", [((1, 64, 56, 56), (0, 2, 3, 1)),
                                        ((4, 96, 130), (0, 2, 1)),
                                        ((3, 40, 50, 6), (2, 1, 0, 3))])
def test_transpose_large_multithreaded(shape: tuple[int, ...], perm: tuple[int, ...]) -> None:
    check_against_ort(_single("Transpose", shape, perm=list(perm)), threads=2)


def test_transpose_with_unit_dims() -> None:
    check_against_ort(_single("Transpose", (1, 5, 1, 7), perm=[2, 3, 0, 1]))


# ---- Expand / Tile -------------------------------------------------------------------

EXPAND = [((3, 1), (2, 3, 4)), ((1,), (5,)), ((), (2, 3)), ((4, 1, 2), (3, 4, 5, 2)),
          ((2, 3), (2, 3)), ((2, 1, 3), (1, 4, 1)), ((1, 1), (6, 1, 7)), ((5,), (3, 1, 5))]


@pytest.mark.parametrize("shape,target", EXPAND)
@pytest.mark.parametrize("dtype", [F, I64, B, F16])
def test_expand(shape: tuple[int, ...], target: tuple[int, ...], dtype: int) -> None:
    model = _single("Expand", shape, dtype, inits={"s": _i64(*target)}, extra=("s",))
    check_against_ort(model, feeds=_feeds(model, _seed(shape, target, dtype)))


TILE = [((2, 3), (2, 3)), ((2, 3), (1, 1)), ((3,), (4,)), ((2, 1, 3), (1, 5, 1)),
        ((2, 3, 4), (3, 1, 2)), ((1, 2, 1, 3), (2, 2, 2, 2)), ((4, 5), (1, 3))]


@pytest.mark.parametrize("shape,repeats", TILE)
@pytest.mark.parametrize("dtype", [F, I64, B])
def test_tile(shape: tuple[int, ...], repeats: tuple[int, ...], dtype: int) -> None:
    model = _single("Tile", shape, dtype, inits={"r": _i64(*repeats)}, extra=("r",))
    check_against_ort(model, seed=_seed(shape, repeats, dtype))


# ---- Slice ---------------------------------------------------------------------------

BIG = 2**63 - 1
SLICES = [
    # (starts, ends, axes, steps) on a (5, 6, 7) input
    ((1, 0, 2), (4, 6, 7), None, None),
    ((-3,), (-1,), (1,), None),
    ((0,), (BIG,), (2,), (2,)),
    ((-1,), (-BIG,), (2,), (-1,)),
    ((5, 6), (0, 0), (1, 2), (-2, -3)),
    ((-100, 2), (100, 100), (0, 2), (1, 1)),
    ((4, 1), (-7, -1), (0, -1), (-1, 2)),
    ((10,), (20,), (0,), None),
    ((3,), (1,), (1,), None),
    ((1,), (2,), (-2,), None),
    ((0, 0, 0), (5, 6, 7), (0, 1, 2), (3, 4, 5)),
    ((2,), (3,), (0,), (-1,)),
    ((-1, -1, -1), (-BIG, -BIG, -BIG), None, (-1, -1, -1)),
]


@pytest.mark.parametrize("case", SLICES, ids=[str(i) for i in range(len(SLICES))])
def test_slice(case: tuple[Any, ...]) -> None:
    starts, ends, axes, steps = case
    inits = {"starts": _i64(*starts), "ends": _i64(*ends)}
    extra = ["starts", "ends"]
    if axes is not None or steps is not None:
        inits["axes"] = _i64(*(axes if axes is not None else range(len(starts))))
        extra.append("axes")
    if steps is not None:
        inits["steps"] = _i64(*steps)
        extra.append("steps")
    model = _single("Slice", (5, 6, 7), inits=inits, extra=tuple(extra))
    check_against_ort(model, seed=_seed(case))


@pytest.mark.parametrize("dtype", DATA_DTYPES)
def test_slice_dtypes(dtype: int) -> None:
    inits = {"s": _i64(1, -1), "e": _i64(-1, -BIG), "a": _i64(0, 1), "p": _i64(2, -3)}
    model = _single("Slice", (9, 10, 3), dtype, inits=inits, extra=("s", "e", "a", "p"))
    check_against_ort(model, seed=_seed(dtype))


def test_slice_large_multithreaded() -> None:
    inits = {"s": _i64(3, 1), "e": _i64(200, 500), "a": _i64(1, 2)}
    model = _single("Slice", (8, 256, 512), inits=inits, extra=("s", "e", "a"))
    check_against_ort(model, threads=2)


# ---- Gather --------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("indices", [np.array(1), np.array(-1), np.array([0, -2, 1, 3, -4]),
                                     np.array([[0, 2], [-1, 1], [3, 3]])],
                         ids=["scalar", "neg-scalar", "1d", "2d"])
def test_gather_constant_indices(axis: int, indices: np.ndarray) -> None:
    model = _single("Gather", (4, 5, 6), inits={"i": indices.astype(np.int64)}, extra=("i",),
                    axis=axis)
    check_against_ort(model, seed=_seed(axis, indices.tolist()))


@pytest.mark.parametrize("idx_dtype", [I32, I64])
@pytest.mark.parametrize("axis", [0, 1])
def test_gather_runtime_indices(idx_dtype: int, axis: int) -> None:
    node = helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)
    model = make_model([node], {"x": (F, (7, 9, 3)), "i": (idx_dtype, (2, 4))}, {"y": F})
    rng = np.random.default_rng(axis)
    dim = (7, 9, 3)[axis]
    feeds = {"x": rng.standard_normal((7, 9, 3)).astype(np.float32),
             "i": rng.integers(-dim, dim, (2, 4)).astype(NP[idx_dtype])}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("dtype", DATA_DTYPES)
def test_gather_dtypes(dtype: int) -> None:
    model = _single("Gather", (6, 4), dtype, inits={"i": _i64(5, 0, -1, 2)}, extra=("i",),
                    axis=0)
    check_against_ort(model, seed=_seed(dtype))


def test_gather_constant_data_embedding() -> None:
    """Constant table, run-time ids (an embedding lookup)."""
    table = np.random.default_rng(1).standard_normal((50, 8)).astype(np.float32)
    node = helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)
    model = make_model([node], {"ids": (I64, (3, 5))}, {"y": F}, {"table": table})
    ids = np.random.default_rng(2).integers(-50, 50, (3, 5))
    check_against_ort(model, feeds={"ids": ids})


def test_gather_out_of_range_indices_give_zeros() -> None:
    """ONNX calls these an error; the runtime must not crash and fills zeros."""
    node = helper.make_node("Gather", ["x", "i"], ["y"], axis=1)
    model = make_model([node], {"x": (F, (2, 3, 2)), "i": (I64, (4,))}, {"y": F})
    x = np.arange(12, dtype=np.float32).reshape(2, 3, 2) + 1
    i = np.array([3, -4, 2**62, -(2**63)], dtype=np.int64)
    (y,) = run_edgec(model, {"x": x, "i": i})
    np.testing.assert_array_equal(y, np.zeros((2, 4, 2), np.float32))
    i = np.array([-1, 99, 0, -3], dtype=np.int64)
    (y,) = run_edgec(model, {"x": x, "i": i})
    np.testing.assert_array_equal(y[:, 0], x[:, 2])
    np.testing.assert_array_equal(y[:, 1], 0)
    np.testing.assert_array_equal(y[:, 2], x[:, 0])
    np.testing.assert_array_equal(y[:, 3], x[:, 0])


# ---- Where ---------------------------------------------------------------------------

WHERE = [((2, 3, 4), (2, 3, 4), (2, 3, 4)), ((3, 1), (1, 4), ()), ((4,), (2, 3, 1), (3, 4)),
         ((1, 1, 5), (6, 1, 1), (1, 7, 1)), ((), (3,), (3,))]


@pytest.mark.parametrize("shapes", WHERE)
@pytest.mark.parametrize("dtype", [F, I64, F16, I32, U8])
def test_where(shapes: tuple[tuple[int, ...], ...], dtype: int) -> None:
    c, x, y = shapes
    node = helper.make_node("Where", ["c", "x", "y"], ["z"])
    model = make_model([node], {"c": (B, c), "x": (dtype, x), "y": (dtype, y)}, {"z": dtype})
    check_against_ort(model, feeds=_feeds(model, _seed(shapes, dtype)))


def test_where_bool_values() -> None:
    """onnxruntime has no bool Where: compared with numpy."""
    node = helper.make_node("Where", ["c", "x", "y"], ["z"])
    model = make_model([node], {"c": (B, (3, 1)), "x": (B, (1, 4)), "y": (B, (3, 4))},
                       {"z": B})
    feeds = _feeds(model, 5)
    (z,) = run_edgec(model, feeds)
    np.testing.assert_array_equal(z, np.where(feeds["c"], feeds["x"], feeds["y"]))


def test_where_constant_scalar_operand() -> None:
    node = helper.make_node("Where", ["c", "x", "k"], ["z"])
    model = make_model([node], {"c": (B, (3, 4)), "x": (F, (4,))}, {"z": F},
                       {"k": np.array(-7.5, np.float32)})
    check_against_ort(model)


def test_where_large_multithreaded() -> None:
    node = helper.make_node("Where", ["c", "x", "y"], ["z"])
    model = make_model([node], {"c": (B, (64, 1, 300)), "x": (F, (64, 40, 300)),
                                "y": (F, (40, 1))}, {"z": F})
    check_against_ort(model, threads=2)


# ---- Pad -----------------------------------------------------------------------------

PADS = [
    # pads on a (3, 4, 5) input, axes
    ((0, 1, 2, 0, 2, 1), None),
    ((1, 0, 0, 2, 0, 0), None),
    ((0, -1, 2, 0, 1, -2), None),
    ((2, 3), (2,)),
    ((1, -1), (-2,)),
    ((0, 0, 0, 0, 0, 0), None),
    ((0, 2, 3, 0, 3, 4), None),
]


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
@pytest.mark.parametrize("case", PADS, ids=[str(i) for i in range(len(PADS))])
def test_pad(mode: str, case: tuple[Any, ...]) -> None:
    pads, axes = case
    inits: dict[str, np.ndarray] = {"pads": _i64(*pads)}
    extra = ["pads"]
    if mode == "constant":
        inits["value"] = np.array(1.5, np.float32)
        extra.append("value")
    if axes is not None:
        if mode != "constant":
            extra.append("")
        inits["axes"] = _i64(*axes)
        extra.append("axes")
    model = _single("Pad", (3, 4, 5), inits=inits, extra=tuple(extra), mode=mode,
                    opset=19 if mode == "wrap" else 18)
    check_against_ort(model, seed=_seed(mode, case))


@pytest.mark.parametrize("dtype", [I64, B, F16, U8, I32])
@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_dtypes(dtype: int, mode: str) -> None:
    inits: dict[str, np.ndarray] = {"pads": _i64(1, 2, 2, 1)}
    extra = ["pads"]
    if mode == "constant" and dtype != B:
        inits["value"] = np.array(7, NP[dtype])
        extra.append("value")
    model = _single("Pad", (3, 4), dtype, inits=inits, extra=tuple(extra), mode=mode)
    check_against_ort(model, seed=_seed(dtype, mode))


def test_pad_default_value_and_large() -> None:
    model = _single("Pad", (2, 16, 30, 30), inits={"pads": _i64(0, 0, 1, 1, 0, 0, 1, 1)},
                    extra=("pads",))
    check_against_ort(model, threads=2)


# ---- Resize --------------------------------------------------------------------------

COORDS = ["half_pixel", "asymmetric", "pytorch_half_pixel", "align_corners",
          "half_pixel_symmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SCALES = [(1, 1, 2, 2), (1, 1, 0.5, 0.5), (1, 1, 1.7, 0.6), (1, 1, 3, 1.25), (1, 1, 0.75, 2.5)]


def _resize_model(shape: tuple[int, ...], scales: tuple[float, ...] | None = None,
                  sizes: tuple[int, ...] | None = None, dtype: int = F, opset: int = 19,
                  **attrs: Any) -> Any:
    inits: dict[str, np.ndarray] = {}
    extra = ["", ""]
    if scales is not None:
        inits["scales"] = np.array(scales, np.float32)
        extra[1] = "scales"
    else:
        assert sizes is not None
        inits["sizes"] = _i64(*sizes)
        extra.append("sizes")
    return _single("Resize", shape, dtype, inits=inits, extra=tuple(extra), opset=opset,
                   **attrs)


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("nearest", NEAREST)
@pytest.mark.parametrize("scales", SCALES)
def test_resize_nearest(coord: str, nearest: str, scales: tuple[float, ...]) -> None:
    model = _resize_model((1, 2, 7, 9), scales, mode="nearest",
                          coordinate_transformation_mode=coord, nearest_mode=nearest)
    check_against_ort(model, seed=_seed(coord, nearest, scales))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("scales", SCALES)
def test_resize_linear(coord: str, scales: tuple[float, ...]) -> None:
    model = _resize_model((2, 3, 7, 9), scales, mode="linear",
                          coordinate_transformation_mode=coord)
    check_against_ort(model, seed=_seed(coord, scales))


@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("sizes", [(1, 2, 14, 18), (1, 2, 5, 4), (1, 2, 1, 1), (1, 2, 9, 7)])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_sizes(coord: str, sizes: tuple[int, ...], mode: str) -> None:
    model = _resize_model((1, 2, 7, 9), sizes=sizes, mode=mode,
                          coordinate_transformation_mode=coord)
    check_against_ort(model, seed=_seed(coord, sizes, mode))


@pytest.mark.parametrize("coord", ["half_pixel", "asymmetric", "align_corners",
                                   "pytorch_half_pixel"])
@pytest.mark.parametrize("scales", [(2, 2), (0.6, 1.5)])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_cubic(coord: str, scales: tuple[float, ...], exclude_outside: int) -> None:
    model = _resize_model((6, 7), scales, mode="cubic", coordinate_transformation_mode=coord,
                          exclude_outside=exclude_outside, cubic_coeff_a=-0.5)
    check_against_ort(model, seed=_seed(coord, scales, exclude_outside))


@pytest.mark.parametrize("shape,scales", [((5, 7), (2.0, 0.5)), ((2, 4, 6), (1, 2, 1.5)),
                                          ((1, 2, 3, 4, 5), (1, 1, 2, 0.5, 1.5))])
def test_resize_linear_other_ranks(shape: tuple[int, ...], scales: tuple[float, ...]) -> None:
    model = _resize_model(shape, scales, mode="linear")
    check_against_ort(model, seed=_seed(shape))


@pytest.mark.parametrize("dtype", [I64, U8, B, F16, I8, I32])
def test_resize_nearest_dtypes(dtype: int) -> None:
    if dtype not in (U8, I32):  # not registered for Resize in onnxruntime's CPU provider
        model = _resize_model((1, 1, 3, 4), (1, 1, 2, 1.5), dtype=dtype, mode="nearest")
        x = np.arange(12).reshape(1, 1, 3, 4).astype(NP[dtype])
        (y,) = run_edgec(model, {"x": x})
        ref = _resize_model((1, 1, 3, 4), (1, 1, 2, 1.5), dtype=I32, mode="nearest")
        (expected,) = run_ort(ref, {"x": x.astype(np.int32)})
        np.testing.assert_array_equal(y, expected.astype(NP[dtype]))
        return
    check_against_ort(_resize_model((1, 3, 5, 4), (1, 1, 2, 1.5), dtype=dtype,
                                    mode="nearest"), seed=_seed(dtype))


def test_resize_axes_attribute() -> None:
    model = _resize_model((1, 2, 5, 6), (2.0, 1.5), mode="linear", axes=[2, 3])
    check_against_ort(model)


def test_resize_large_multithreaded() -> None:
    model = _resize_model((1, 8, 40, 40), (1, 1, 2, 2), mode="linear")
    check_against_ort(model, threads=2)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample_opset9(mode: str) -> None:
    node = helper.make_node("Upsample", ["x", "s"], ["y"], mode=mode)
    model = make_model([node], {"x": (F, (1, 2, 3, 4))}, {"y": F},
                       {"s": np.array([1, 1, 2, 3], np.float32)}, opset=9)
    check_against_ort(model)


@pytest.mark.parametrize("attrs", [dict(mode="linear", antialias=1,
                                        keep_aspect_ratio_policy="not_larger")])
def test_resize_unsupported(attrs: dict[str, Any]) -> None:
    model = _resize_model((1, 1, 4, 4), sizes=(1, 1, 8, 6), **attrs)
    with pytest.raises(EdgecError):
        edgec.compile(model)


# ---- Cast ----------------------------------------------------------------------------

CAST_TYPES = [F, F16, I8, U8, I32, I64, B]


def _cast_input(src: int, dst: int, rng: np.random.Generator, shape: tuple[int, ...]
                ) -> np.ndarray:
    """Values whose conversion is defined in onnxruntime (no float -> int overflow)."""
    if src == B:
        return rng.random(shape) > 0.5
    if src in (F, F16):
        if dst in (U8,):
            v = rng.uniform(0, 255, shape)
        elif dst in (I8,):
            v = rng.uniform(-128, 127, shape)
        elif dst in (I32, I64):
            v = rng.uniform(-30000, 30000, shape)
        else:
            v = rng.standard_normal(shape) * 100
        v[..., :3] = [0.0, -0.0, 0.5] if dst != U8 else [0.0, 0.5, 254.9]
        return v.astype(NP[src])
    info = np.iinfo(NP[src])
    v = rng.integers(info.min, info.max, shape, endpoint=True).astype(NP[src])
    v[..., :3] = [0, 1, 0]
    return v


@pytest.mark.parametrize("src,dst", list(itertools.product(CAST_TYPES, CAST_TYPES)))
def test_cast(src: int, dst: int) -> None:
    model = _single("Cast", (4, 33), src, dst, to=dst)
    feeds = {"x": _cast_input(src, dst, np.random.default_rng(_seed(src, dst)), (4, 33))}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("src,dst", [(F, I64), (I32, F16), (B, F)])
def test_cast_like(src: int, dst: int) -> None:
    node = helper.make_node("CastLike", ["x", "t"], ["y"])
    model = make_model([node], {"x": (src, (3, 5))}, {"y": dst},
                       {"t": np.zeros(1, NP[dst])})
    feeds = {"x": _cast_input(src, dst, np.random.default_rng(0), (3, 5))}
    check_against_ort(model, feeds=feeds)


def test_cast_float16_rounding_exhaustive() -> None:
    """Every float16 value through float32 and back, and float32 values between them."""
    h = np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.float16)
    model = _single("Cast", (65536,), F16, F, to=F)
    (f,) = run_edgec(model, {"x": h})
    np.testing.assert_array_equal(f.view(np.uint32), h.astype(np.float32).view(np.uint32))
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 200000, dtype=np.uint64).astype(np.uint32)
    wide = np.unique(h.astype(np.float32)[np.isfinite(h)])  # sorted
    wide = np.append(wide, np.float32(65520))  # where rounding reaches inf
    mids = ((wide[:-1].astype(np.float64) + wide[1:]) / 2).astype(np.float32)  # exact ties
    up, down = np.float32(np.inf), np.float32(-np.inf)
    x = np.concatenate([bits.view(np.float32), wide, mids, np.nextafter(mids, up),
                        np.nextafter(mids, down), np.float32([np.inf, -np.inf, 1e-45, -1e-45])])
    x = x[~np.isnan(x)]
    with np.errstate(over="ignore"):
        expected = x.astype(np.float16)
    model = _single("Cast", x.shape, F, F16, to=F16)
    (y,) = run_edgec(model, {"x": x})
    np.testing.assert_array_equal(y.view(np.uint16), expected.view(np.uint16))


@pytest.mark.parametrize("dst", [I8, U8, I32, I64, B, F16])
def test_cast_nonfinite_and_out_of_range(dst: int) -> None:
    """Implementation-defined in onnxruntime; here defined and never a crash:
    saturation toward the range, NaN -> 0, NaN -> True for bool."""
    x = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 300.7, -300.7, 2.9, -2.9],
                 np.float32)
    (y,) = run_edgec(_single("Cast", x.shape, F, dst, to=dst), {"x": x})
    if dst == B:
        np.testing.assert_array_equal(y, x != 0)
        return
    if dst == F16:
        with np.errstate(over="ignore"):
            expected = x[1:].astype(np.float16)
        np.testing.assert_array_equal(y.view(np.uint16)[1:], expected.view(np.uint16))
        assert np.isnan(y[0])
        return
    info = np.iinfo(NP[dst])
    expected = [0 if np.isnan(v) else int(info.max) if v >= info.max else
                int(info.min) if v <= info.min else int(v) for v in x.tolist()]
    np.testing.assert_array_equal(y, np.array(expected, NP[dst]))


# ---- shape computations --------------------------------------------------------------


def test_shape_ops_fold_into_constants() -> None:
    nodes = [helper.make_node("Shape", ["x"], ["s"], start=1),
             helper.make_node("ConstantOfShape", ["s"], ["c"],
                              value=helper.make_tensor("v", I64, [1], [3])),
             helper.make_node("Expand", ["x", "s2"], ["e"]),
             helper.make_node("Add", ["e", "one"], ["y"])]
    model = make_model(nodes, {"x": (F, (2, 1, 4))}, {"y": F, "c": I64},
                       {"s2": _i64(3, 1, 1, 1), "one": np.ones(1, np.float32)})
    check_against_ort(model)


def test_errors_name_the_node() -> None:
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up",
                            coordinate_transformation_mode="tf_crop_and_resize")
    model = make_model([node], {"x": (F, (1, 1, 2, 2))}, {"y": F},
                       {"scales": np.array([1, 1, 2, 2], np.float32)})
    with pytest.raises(EdgecError, match="Resize node 'up'"):
        edgec.compile(model)


# ---- empty tensors and threads -------------------------------------------------------


def test_empty_constant_operands() -> None:
    nodes = [helper.make_node("Concat", ["x", "empty"], ["c"], axis=1),
             helper.make_node("Gather", ["x", "none"], ["g"], axis=1)]
    model = make_model(nodes, {"x": (F, (2, 3, 4))}, {"c": F, "g": F},
                       {"empty": np.zeros((2, 0, 4), np.float32),
                        "none": np.zeros((0,), np.int64)})
    check_against_ort(model)


@pytest.mark.parametrize("op", ["Tile", "Gather", "Cast", "Resize", "Expand"])
def test_large_multithreaded(op: str) -> None:
    if op == "Tile":
        model = _single("Tile", (3, 50, 40), inits={"r": _i64(2, 3, 4)}, extra=("r",))
    elif op == "Gather":
        idx = np.random.default_rng(0).integers(-300, 300, (40, 50))
        model = _single("Gather", (300, 64), inits={"i": idx}, extra=("i",), axis=0)
    elif op == "Cast":
        model = _single("Cast", (100, 1000), F, F16, to=F16)
    elif op == "Resize":
        model = _resize_model((1, 4, 64, 64), (1, 1, 2, 2), mode="nearest")
    else:
        model = _single("Expand", (64, 1, 100), inits={"s": _i64(64, 30, 100)}, extra=("s",))
    check_against_ort(model, threads=2)


# ---- the runtime refuses what its kernels cannot run ---------------------------------


def _program_bytes(opcode: int, in_shapes: list[tuple[int, ...]], out_shapes: list[tuple[int, ...]],
                   options: object = None, dtype: Any = np.float32,
                   constants: dict[int, np.ndarray] | None = None) -> bytes:
    """A hand-made program of one instruction (what a corrupt or hostile file could hold)."""
    from edgec.format.writer import serialize
    from edgec.plan import plan_arena
    from edgec.program import Instruction, Program, Tensor

    program = Program()
    ins = []
    for k, shape in enumerate(in_shapes):
        data = (constants or {}).get(k)
        t = Tensor(name=f"in{k}", dtype=np.dtype(dtype if data is None else data.dtype),
                   shape=shape, data=data)
        ins.append(program.add_tensor(t))
        if data is None:
            program.inputs.append(ins[-1])
    outs = [program.add_tensor(Tensor(name=f"out{k}", dtype=np.dtype(dtype), shape=s))
            for k, s in enumerate(out_shapes)]
    program.outputs.extend(outs)
    program.instructions.append(Instruction(opcode, ins, outs, options, name="bad"))
    plan_arena(program)
    return serialize(program)


def _bad_programs() -> list[Any]:
    from edgec.fb.AxisOptions import AxisOptionsT
    from edgec.fb.Opcode import Opcode
    from edgec.fb.PadOptions import PadOptionsT
    from edgec.fb.ResizeOptions import ResizeOptionsT
    from edgec.fb.SliceOptions import SliceOptionsT
    from edgec.fb.TransposeOptions import TransposeOptionsT

    axis = AxisOptionsT
    return [
        ("concat-axis", Opcode.CONCAT, [(2, 3), (2, 3)], [(4, 3)], axis(axis=2)),
        ("concat-sum", Opcode.CONCAT, [(2, 3), (2, 3)], [(5, 3)], axis(axis=0)),
        ("concat-dim", Opcode.CONCAT, [(2, 3), (2, 4)], [(4, 3)], axis(axis=0)),
        ("split-sum", Opcode.SPLIT, [(6, 2)], [(2, 2), (3, 2)], axis(axis=0)),
        ("transpose-perm", Opcode.TRANSPOSE, [(2, 3)], [(3, 2)], TransposeOptionsT(perm=[1, 1])),
        ("transpose-shape", Opcode.TRANSPOSE, [(2, 3)], [(2, 3)], TransposeOptionsT(perm=[1, 0])),
        ("slice-start", Opcode.SLICE, [(5,)], [(2,)], SliceOptionsT(starts=[5], steps=[1])),
        ("slice-end", Opcode.SLICE, [(5,)], [(3,)], SliceOptionsT(starts=[2], steps=[2])),
        ("slice-neg", Opcode.SLICE, [(5,)], [(3,)], SliceOptionsT(starts=[1], steps=[-1])),
        ("slice-huge-step", Opcode.SLICE, [(5,)], [(2,)],
         SliceOptionsT(starts=[0], steps=[2**62])),
        ("slice-rank", Opcode.SLICE, [(5, 2)], [(2, 2)], SliceOptionsT(starts=[0], steps=[1])),
        ("slice-step0", Opcode.SLICE, [(5,)], [(2,)], SliceOptionsT(starts=[0], steps=[0])),
        ("pad-shape", Opcode.PAD, [(3,)], [(6,)], PadOptionsT(pads=[1, 1])),
        ("pad-huge", Opcode.PAD, [(3,)], [(3,)], PadOptionsT(pads=[2**62, -(2**62)])),
        ("pad-mode", Opcode.PAD, [(3,)], [(3,)], PadOptionsT(pads=[0, 0], mode=9)),
        ("pad-reflect-empty", Opcode.PAD, [(3,)], [(2,)], PadOptionsT(pads=[-3, 2], mode=1)),
        ("resize-scales", Opcode.RESIZE, [(1, 4)], [(1, 8)], ResizeOptionsT(scales=[1.0])),
        ("resize-zero-scale", Opcode.RESIZE, [(1, 4)], [(1, 8)],
         ResizeOptionsT(scales=[1.0, 0.0])),
        ("resize-nan-scale", Opcode.RESIZE, [(1, 4)], [(1, 8)],
         ResizeOptionsT(scales=[1.0, float("nan")])),
        ("resize-crop", Opcode.RESIZE, [(1, 4)], [(1, 8)],
         ResizeOptionsT(coord=3, scales=[1.0, 2.0])),
        ("tile-multiple", Opcode.TILE, [(2, 3)], [(4, 7)], None),
        ("expand-shape", Opcode.EXPAND, [(2, 3)], [(4, 3)], None),
        ("where-arity", Opcode.WHERE, [(2,), (2,)], [(2,)], None),
        ("gather-rank", Opcode.GATHER, [(4, 5), (3,)], [(3,)], axis(axis=0),
         {1: np.zeros(3, np.int64)}),
        ("gather-shape", Opcode.GATHER, [(4, 5), (3,)], [(3, 4)], axis(axis=0),
         {1: np.zeros(3, np.int32)}),
        ("gather-axis", Opcode.GATHER, [(4, 5), (3,)], [(3, 5)], axis(axis=-1),
         {1: np.zeros(3, np.int32)}),
    ]


@pytest.mark.parametrize("case", _bad_programs(), ids=lambda c: c[0] if isinstance(c, tuple)
                         else None)
def test_prepare_refuses(case: tuple[Any, ...]) -> None:
    from edgec.errors import RuntimeStatusError

    _, opcode, ins, outs, options, *constants = case
    data = _program_bytes(opcode, ins, outs, options,
                          constants=constants[0] if constants else None)
    # "(kernel 'name')": the message comes from the kernel's prepare, not the loader
    with pytest.raises(RuntimeStatusError, match=r"\(\w+ 'bad'\)"):
        edgec.Session(data)


def test_prepare_refuses_bad_dtypes() -> None:
    from edgec.errors import RuntimeStatusError
    from edgec.fb.AxisOptions import AxisOptionsT
    from edgec.fb.Opcode import Opcode
    from edgec.fb.ResizeOptions import ResizeOptionsT

    float_indices = {1: np.zeros(3, np.float32)}
    data = _program_bytes(Opcode.GATHER, [(4, 5), (3,)], [(3, 5)], AxisOptionsT(axis=0),
                          constants=float_indices)
    with pytest.raises(RuntimeStatusError, match="indices"):
        edgec.Session(data)
    data = _program_bytes(Opcode.RESIZE, [(1, 4)], [(1, 8)],
                          ResizeOptionsT(mode=1, scales=[1.0, 2.0]), dtype=np.int32)
    with pytest.raises(RuntimeStatusError, match="float32"):
        edgec.Session(data)


def test_hand_made_programs_run() -> None:
    """The same helper builds programs that load: the refusals above are the kernels'."""
    from edgec.fb.Opcode import Opcode
    from edgec.fb.SliceOptions import SliceOptionsT

    data = _program_bytes(Opcode.SLICE, [(5,)], [(3,)], SliceOptionsT(starts=[4], steps=[-2]))
    (y,) = edgec.Session(data).run(None, {"in0": np.arange(5, dtype=np.float32)})
    np.testing.assert_array_equal(y, [4, 2, 0])


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_keep_aspect_ratio_policy(policy: str, mode: str) -> None:
    """One scale for every resized axis (the smallest or largest size / in)."""
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode,
                            keep_aspect_ratio_policy=policy, axes=[2, 3])
    model = make_model([node], {"x": (F, (1, 2, 4, 6))}, {"y": F},
                       {"sizes": _i64(7, 5)}, opset=18)
    check_against_ort(model, seed=_seed(policy, mode))


@pytest.mark.parametrize("dtype", [F, I32])
@pytest.mark.parametrize("pads", [(1, 0, 2, 1, 3, 0), (2, -1, 1, -1, 1, 2)])
def test_pad_value_given_at_run_time(dtype: int, pads: tuple[int, ...]) -> None:
    """A constant_value that is a graph input: Pad with 0, then Where over a mask."""
    node = helper.make_node("Pad", ["x", "pads", "value"], ["y"], mode="constant")
    model = make_model([node], {"x": (dtype, (2, 3, 4)), "value": (dtype, ())}, {"y": dtype},
                       {"pads": _i64(*pads)})
    check_against_ort(model, seed=_seed(dtype, pads))


@pytest.mark.parametrize(("mode", "sizes"), [("linear", (1, 2, 3, 5)), ("cubic", (1, 2, 4, 3)),
                                             ("linear", (1, 2, 9, 4))])
def test_resize_antialias(mode: str, sizes: tuple[int, ...]) -> None:
    """Antialias: a MatMul per resized axis with the reference's filter matrix."""
    model = _resize_model((1, 2, 7, 9), sizes=sizes, mode=mode, antialias=1)
    check_against_ort(model, seed=_seed(mode, sizes))


@pytest.mark.parametrize("mode", ["linear", "nearest", "cubic"])
def test_resize_tf_crop_and_resize(mode: str) -> None:
    """A constant roi, and the extrapolation value outside it."""
    node = helper.make_node("Resize", ["x", "roi", "", "sizes"], ["y"], mode=mode,
                            coordinate_transformation_mode="tf_crop_and_resize",
                            extrapolation_value=-3.5)
    roi = np.array([0, 0, 0.2, -0.3, 1, 1, 0.9, 1.4], np.float32)
    model = make_model([node], {"x": (F, (1, 2, 6, 5))}, {"y": F},
                       {"roi": roi, "sizes": _i64(1, 2, 4, 7)})
    check_against_ort(model, seed=_seed(mode))
