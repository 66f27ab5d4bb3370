"""Ops whose output shape depends on the input values (edgec/lower/dynamic.py,
docs/dynamic_shapes.md): NonZero, NonMaxSuppression, Unique and Compress, as graph
outputs and through the consumers real models put after them (Transpose, Gather, Slice,
Squeeze, Reshape, Cast), against onnxruntime (onnx.reference for Unique, which
onnxruntime runs for fewer dtypes) on seeded random inputs: empty results, partial
ones and the full upper bound. One session runs every case of a test, so each run must
report its own actual shape."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx.reference import ReferenceEvaluator
from support import TensorProto, assert_close, helper, make_model, run_ort

import edgec
from edgec.errors import EdgecError
from edgec.format.reader import read_program

F, I32, I64, B = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL


def _session(model: onnx.ModelProto) -> edgec.Session:
    return edgec.Session(edgec.compile(model))


def _check(session: edgec.Session, model: onnx.ModelProto, feeds: dict[str, np.ndarray],
           reference: bool = False) -> list[np.ndarray]:
    ours = session.run(None, feeds)
    theirs = (ReferenceEvaluator(model).run(None, feeds) if reference
              else run_ort(model, feeds))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, np.asarray(b))
    return ours


# ---- NonZero -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [F, I32, I64, B, TensorProto.UINT8, TensorProto.FLOAT16])
def test_non_zero(dtype: int) -> None:
    shape = (3, 4, 5)
    model = make_model([helper.make_node("NonZero", ["x"], ["y"])], {"x": (dtype, shape)},
                       {"y": I64})
    session = _session(model)
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    rng = np.random.default_rng(1)
    sizes = []
    for density in (0.3, 0.0, 1.0, 0.7):  # partial, empty, the full bound, partial
        keep = rng.random(shape) < density
        x = (rng.integers(1, 9, shape) * keep).astype(np_dtype)
        (y,) = _check(session, model, {"x": x})
        sizes.append(y.shape[1])
    assert sizes[1] == 0 and sizes[2] == 60 and 0 < sizes[0] < 60


def test_non_zero_transpose_and_cast() -> None:
    """NonZero -> Transpose ([count, rank], as models index with it) -> Cast."""
    nodes = [helper.make_node("NonZero", ["x"], ["nz"]),
             helper.make_node("Transpose", ["nz"], ["t"], perm=[1, 0]),
             helper.make_node("Cast", ["t"], ["c"], to=I32)]
    model = make_model(nodes, {"x": (F, (4, 6))}, {"t": I64, "c": I32})
    session = _session(model)
    rng = np.random.default_rng(2)
    for density in (0.5, 0.0, 1.0):
        x = (rng.standard_normal((4, 6)) * (rng.random((4, 6)) < density)).astype(np.float32)
        t, _ = _check(session, model, {"x": x})
        assert t.shape == (int(np.count_nonzero(x)), 2)


# ---- NonMaxSuppression ---------------------------------------------------------------


def _boxes(rng: np.random.Generator, b: int, n: int, center: int) -> np.ndarray:
    """Boxes clustered so that some overlap, corners in either order."""
    centers = rng.uniform(0, 10, (b, n, 2))
    sizes = rng.uniform(1, 4, (b, n, 2))
    if center:
        return np.concatenate([centers, sizes], -1).astype(np.float32)
    lo, hi = centers - sizes / 2, centers + sizes / 2
    flip = rng.random((b, n, 1)) < 0.3  # (y2, x2, y1, x1) for some
    return np.where(flip, np.concatenate([hi, lo], -1),
                    np.concatenate([lo, hi], -1)).astype(np.float32)


def _nms_model(b: int, c: int, n: int, center: int, max_boxes: int | None,
               runtime_limits: bool) -> onnx.ModelProto:
    names = ["boxes", "scores", "max", "iou", "score"]
    inputs = {"boxes": (F, (b, n, 4)), "scores": (F, (b, c, n))}
    inits: dict[str, np.ndarray] = {}
    if runtime_limits:
        inputs.update({"max": (I64, (1,)), "iou": (F, (1,)), "score": (F, (1,))})
    else:
        inits = {"max": np.array([max_boxes], np.int64), "iou": np.array([0.3], np.float32),
                 "score": np.array([0.2], np.float32)}
    node = helper.make_node("NonMaxSuppression", names, ["sel"], center_point_box=center)
    return make_model([node], inputs, {"sel": I64}, inits)


@pytest.mark.parametrize("center", [0, 1])
def test_nms_constant_limits(center: int) -> None:
    b, c, n = 2, 3, 12
    model = _nms_model(b, c, n, center, max_boxes=4, runtime_limits=False)
    data = edgec.compile(model)
    sel = next(t for t in read_program(data).tensors if t.name == "sel")
    assert sel.shape == (b * c * 4, 3) and sel.dynamic == 1  # planned for the bound
    session = edgec.Session(data)
    rng = np.random.default_rng(3 + center)
    counts = []
    for low in (False, True):
        scores = rng.random((b, c, n)).astype(np.float32)
        if low:
            scores *= 0.2  # every score at or below score_threshold: none selected
        boxes = _boxes(rng, b, n, center)
        (y,) = _check(session, model, {"boxes": boxes, "scores": scores})
        counts.append(len(y))
    assert counts[1] == 0 and counts[0] > 0


@pytest.mark.parametrize("center", [0, 1])
def test_nms_runtime_limits(center: int) -> None:
    """max_output_boxes_per_class and the thresholds as inputs: the output is planned
    for B * C * N; an IoU threshold of 1 suppresses nothing, so with max >= N every box
    comes out (the full bound)."""
    b, c, n = 2, 2, 10
    model = _nms_model(b, c, n, center, None, runtime_limits=True)
    session = _session(model)
    rng = np.random.default_rng(7 + center)
    for max_boxes, iou, score in ((3, 0.4, 0.1), (100, 1.0, -1.0), (0, 0.5, 0.0),
                                  (5, 0.0, 0.5), (-2, 0.5, 0.0)):
        feeds = {"boxes": _boxes(rng, b, n, center),
                 "scores": rng.random((b, c, n)).astype(np.float32),
                 "max": np.array([max_boxes], np.int64), "iou": np.array([iou], np.float32),
                 "score": np.array([score], np.float32)}
        (y,) = _check(session, model, feeds)
        if max_boxes == 100:
            assert len(y) == b * c * n
        if max_boxes <= 0:
            assert len(y) == 0


def test_nms_ties_and_defaults() -> None:
    """Equal scores select the lower index first; without max_output_boxes_per_class
    nothing is selected (ONNX's default 0)."""
    boxes = np.tile(np.array([[0, 0, 1, 1]], np.float32), (1, 5, 1))
    boxes[0, :, ::2] += np.arange(5, dtype=np.float32)[:, None] * 2  # apart: none suppressed
    scores = np.full((1, 1, 5), 0.5, np.float32)
    model = _nms_model(1, 1, 5, 0, max_boxes=3, runtime_limits=False)
    (y,) = _check(_session(model), model, {"boxes": boxes, "scores": scores})
    assert y[:, 2].tolist() == [0, 1, 2]
    node = helper.make_node("NonMaxSuppression", ["boxes", "scores"], ["sel"])
    bare = make_model([node], {"boxes": (F, (1, 5, 4)), "scores": (F, (1, 1, 5))},
                      {"sel": I64})
    (y,) = _check(_session(bare), bare, {"boxes": boxes, "scores": scores})
    assert y.shape == (0, 3)


def test_nms_gather_selected_boxes() -> None:
    """What detection models do with the selection: column 2 (Gather axis 1, and Slice ->
    Squeeze) picks the box indices, which gather the boxes and their scores."""
    n = 16
    nodes = [
        helper.make_node("NonMaxSuppression", ["boxes", "scores", "max", "iou", "score"],
                         ["sel"]),
        helper.make_node("Gather", ["sel", "two"], ["idx"], axis=1),
        helper.make_node("Squeeze", ["boxes", "zero"], ["boxes0"]),
        helper.make_node("Gather", ["boxes0", "idx"], ["picked"], axis=0),
        helper.make_node("Slice", ["sel", "s_start", "s_end", "s_axes"], ["col"]),
        helper.make_node("Squeeze", ["col", "one"], ["col_flat"]),
        helper.make_node("Reshape", ["scores", "flat_shape"], ["scores_flat"]),
        helper.make_node("Gather", ["scores_flat", "col_flat"], ["picked_scores"]),
        helper.make_node("Unsqueeze", ["col_flat", "one"], ["col_again"]),
        helper.make_node("Flatten", ["sel"], ["flat"], axis=0),
    ]
    inits = {"max": np.array([5], np.int64), "iou": np.array([0.25], np.float32),
             "score": np.array([0.3], np.float32), "two": np.array(2, np.int64),
             "zero": np.array([0], np.int64), "one": np.array([1], np.int64),
             "s_start": np.array([2], np.int64), "s_end": np.array([3], np.int64),
             "s_axes": np.array([1], np.int64), "flat_shape": np.array([-1], np.int64)}
    model = make_model(nodes, {"boxes": (F, (1, n, 4)), "scores": (F, (1, 1, n))},
                       {"idx": I64, "picked": F, "picked_scores": F, "col_again": I64,
                        "flat": I64}, inits)
    session = _session(model)
    rng = np.random.default_rng(11)
    for scale in (1.0, 0.1):  # some selected; none (every score under 0.3)
        feeds = {"boxes": _boxes(rng, 1, n, 0),
                 "scores": (rng.random((1, 1, n)) * scale).astype(np.float32)}
        idx, picked, *_ = _check(session, model, feeds)
        assert picked.shape == (len(idx), 4)
        assert (len(idx) > 0) == (scale == 1.0)


# ---- Unique --------------------------------------------------------------------------


def _unique_model(shape: tuple[int, ...], dtype: int, **attrs: int) -> onnx.ModelProto:
    node = helper.make_node("Unique", ["x"], ["y", "indices", "inverse", "counts"], **attrs)
    return make_model([node], {"x": (dtype, shape)},
                      {"y": dtype, "indices": I64, "inverse": I64, "counts": I64})


@pytest.mark.parametrize("dtype", [F, I32, I64, TensorProto.UINT8])
@pytest.mark.parametrize("sorted_", [0, 1])
def test_unique_flat(dtype: int, sorted_: int) -> None:
    # flattened (ONNX's reference gets a 2-D input right only sorted)
    shape = (4, 5) if sorted_ else (20,)
    model = _unique_model(shape, dtype, sorted=sorted_)
    session = _session(model)
    rng = np.random.default_rng(5 + sorted_)
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    for high in (4, 1000, 1):  # repeats, (most likely) all distinct, one value
        x = rng.integers(1 if high == 1 else 0, high + 1, shape).astype(np_dtype)
        if dtype == F:
            x = x - np.float32(high / 2)  # negatives too
        y, *_ = _check(session, model, {"x": x}, reference=True)
        assert len(y) == len(np.unique(x))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unique_axis(axis: int) -> None:
    shape = (6, 4, 3)
    model = _unique_model(shape, F, sorted=1, axis=axis)
    session = _session(model)
    rng = np.random.default_rng(13)
    for repeats in (True, False):
        x = rng.standard_normal(shape).astype(np.float32)
        if repeats:  # copy some slices along the axis
            x = np.take(x, rng.integers(0, shape[axis], shape[axis]), axis=axis)
        _check(session, model, {"x": x}, reference=True)


def test_unique_not_sorted_keeps_first_occurrence_order() -> None:
    model = _unique_model((8,), I64, sorted=0)
    x = np.array([5, -2, 5, 7, -2, 0, 7, 1], np.int64)
    y, indices, inverse, counts = _check(_session(model), model, {"x": x}, reference=True)
    assert y.tolist() == [5, -2, 7, 0, 1] and counts.tolist() == [2, 2, 2, 1, 1]
    assert indices.tolist() == [0, 1, 3, 5, 7] and inverse.tolist() == [0, 1, 0, 2, 1, 3, 2, 4]


# ---- Compress ------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("length", [3, 5])  # shorter than the axis, or as long
def test_compress(axis: int | None, length: int) -> None:
    shape = (5, 5, 2)
    attrs = {} if axis is None else {"axis": axis}
    node = helper.make_node("Compress", ["x", "cond"], ["y"], **attrs)
    model = make_model([node], {"x": (F, shape), "cond": (B, (length,))}, {"y": F})
    session = _session(model)
    rng = np.random.default_rng(17 + length)
    for density in (0.5, 0.0, 1.0):
        feeds = {"x": rng.standard_normal(shape).astype(np.float32),
                 "cond": rng.random(length) < density}
        _check(session, model, feeds)


def test_compress_constant_condition_is_static() -> None:
    node = helper.make_node("Compress", ["x", "cond"], ["y"], axis=1)
    model = make_model([node], {"x": (F, (3, 4))}, {"y": F},
                       {"cond": np.array([True, False, True], np.bool_)})
    program = read_program(edgec.compile(model))
    assert not any(t.dynamic for t in program.tensors)
    x = np.random.default_rng(19).standard_normal((3, 4)).astype(np.float32)
    _check(_session(model), model, {"x": x})


# ---- what cannot consume a data-dependent value ----------------------------------------


@pytest.mark.parametrize(("node", "extra"), [
    (helper.make_node("Relu", ["nzf"], ["y"], name="act"), {}),
    (helper.make_node("ReduceSum", ["nzf"], ["y"], name="act"), {}),
    (helper.make_node("Gather", ["nzf", "k"], ["y"], axis=1, name="act"),
     {"k": np.array([0], np.int64)}),
    (helper.make_node("Slice", ["nzf", "st", "en", "ax"], ["y"], name="act"),
     {"st": np.array([1], np.int64), "en": np.array([3], np.int64),
      "ax": np.array([1], np.int64)}),
])
def test_unsupported_consumer_names_the_node(node: onnx.NodeProto,
                                             extra: dict[str, np.ndarray]) -> None:
    nodes = [helper.make_node("NonZero", ["x"], ["nz"], name="nz"),
             helper.make_node("Cast", ["nz"], ["nzf"], to=F, name="cast"), node]
    model = make_model(nodes, {"x": (F, (3, 4))}, {"y": F}, extra)
    with pytest.raises(EdgecError) as info:
        edgec.compile(model)
    message = str(info.value)
    assert "\n" not in message
    assert "'act'" in message and "'nzf'" in message and "depends on the input values" in message


def test_output_shapes_api() -> None:
    model = make_model([helper.make_node("NonZero", ["x"], ["y"]),
                        helper.make_node("Relu", ["x"], ["r"])],
                       {"x": (F, (2, 3))}, {"y": I64, "r": F})
    session = _session(model)
    assert session.output_dynamic_dims() == [2, 0]
    assert [o.shape for o in session.get_outputs()] == [[2, 6], [2, 3]]  # the upper bound
    x = np.array([[0, 1, 0], [2, 0, 0]], np.float32)
    y, r = session.run(None, {"x": x})
    assert y.tolist() == [[0, 1], [1, 0]] and r.shape == (2, 3)
