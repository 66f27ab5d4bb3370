"""ReverseSequence, TensorScatter and Col2Im (rewritten into GatherElements /
ScatterElements) against onnxruntime, or numpy where onnxruntime lacks the op,
on seeded random non-zero inputs."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model, run_edgec

F, I64 = TensorProto.FLOAT, TensorProto.INT64


@pytest.mark.parametrize(("shape", "time", "batch"), [((5, 3, 2), 0, 1), ((3, 5), 1, 0),
                                                      ((2, 4, 6), 1, 0)])
def test_reverse_sequence(shape: tuple[int, ...], time: int, batch: int) -> None:
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], time_axis=time,
                            batch_axis=batch)
    model = make_model([node], {"x": (F, shape), "lens": (I64, (shape[batch],))}, {"y": F})
    rng = np.random.default_rng(sum(shape))
    feeds = {"x": rng.standard_normal(shape).astype(np.float32),
             "lens": rng.integers(1, shape[time] + 1, shape[batch]).astype(np.int64)}
    check_against_ort(model, feeds=feeds)


def _tensor_scatter(past: np.ndarray, update: np.ndarray, index: np.ndarray, axis: int,
                    circular: bool) -> np.ndarray:
    out = past.copy()
    for prefix in np.ndindex(past.shape[:axis]):
        for t in range(update.shape[axis]):
            at = int(index[prefix[0]]) + t
            if circular:
                at %= past.shape[axis]
            out[(*prefix, at)] = update[(*prefix, t)]
    return out


@pytest.mark.parametrize(("past", "update", "axis", "mode"), [
    ((2, 3, 6, 4), (2, 3, 2, 4), -2, "linear"),
    ((3, 6, 5), (3, 3, 5), 1, "circular"),
    ((2, 5, 3), (2, 1, 3), 1, "linear"),
])
def test_tensor_scatter(past: tuple[int, ...], update: tuple[int, ...], axis: int,
                        mode: str) -> None:
    node = helper.make_node("TensorScatter", ["past", "update", "index"], ["y"], axis=axis,
                            mode=mode)
    model = make_model([node], {"past": (F, past), "update": (F, update),
                                "index": (I64, (past[0],))}, {"y": F}, opset=24)
    rng = np.random.default_rng(len(past) + update[1])
    a = axis % len(past)
    high = past[a] if mode == "circular" else past[a] - update[a] + 1
    feeds = {"past": rng.standard_normal(past).astype(np.float32),
             "update": rng.standard_normal(update).astype(np.float32),
             "index": rng.integers(0, high, past[0]).astype(np.int64)}
    (ours,) = run_edgec(model, feeds)
    expected = _tensor_scatter(feeds["past"], feeds["update"], feeds["index"], a,
                               mode == "circular")
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize(("image", "block", "attrs"), [
    ((5, 5), (2, 2), {}),
    ((6, 7), (3, 2), {"strides": [2, 1], "pads": [1, 0, 1, 2], "dilations": [1, 2]}),
    ((4, 3, 5), (2, 1, 2), {}),
])
def test_col2im(image: tuple[int, ...], block: tuple[int, ...], attrs: dict[str, list[int]]
                ) -> None:
    n = len(image)
    strides = attrs.get("strides", [1] * n)
    pads = attrs.get("pads", [0] * 2 * n)
    dil = attrs.get("dilations", [1] * n)
    counts = [(image[d] + pads[d] + pads[n + d] - dil[d] * (block[d] - 1) - 1) // strides[d] + 1
              for d in range(n)]
    shape = (2, 3 * int(np.prod(block)), int(np.prod(counts)))
    node = helper.make_node("Col2Im", ["x", "image", "block"], ["y"], **attrs)
    model = make_model([node], {"x": (F, shape)}, {"y": F},
                       {"image": np.array(image, np.int64), "block": np.array(block, np.int64)})
    check_against_ort(model, seed=len(attrs))


@pytest.mark.parametrize("output_shape", [None, (2, 3, 5, 7)])
def test_max_unpool(output_shape: tuple[int, ...] | None) -> None:
    x_shape = (2, 3, 2, 3)
    out = output_shape or (2, 3, 4, 6)
    inputs = ["x", "i"] + (["out_shape"] if output_shape else [])
    node = helper.make_node("MaxUnpool", inputs, ["y"], kernel_shape=[2, 2], strides=[2, 2])
    inits = {"out_shape": np.array(output_shape, np.int64)} if output_shape else {}
    model = make_model([node], {"x": (F, x_shape), "i": (I64, x_shape)}, {"y": F}, inits)
    rng = np.random.default_rng(3)
    indices = rng.permutation(int(np.prod(out)))[:int(np.prod(x_shape))].reshape(x_shape)
    feeds = {"x": rng.standard_normal(x_shape).astype(np.float32), "i": indices}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (4, 2, 2), (2, 3, 3, 3)])
def test_det(shape: tuple[int, ...]) -> None:
    node = helper.make_node("Det", ["x"], ["y"])
    model = make_model([node], {"x": (F, shape)}, {"y": F})
    check_against_ort(model, seed=len(shape) + shape[-1])


@pytest.mark.parametrize(("shape", "mode", "lengths", "skip"), [
    ((12,), "TF", (2, 2), 0), ((2, 6), "TF", (1, 2), 5), ((3, 9), "IDF", (1, 3), 1),
    ((10,), "TFIDF", (1, 2), 2)])
def test_tfidf_vectorizer(shape: tuple[int, ...], mode: str, lengths: tuple[int, int],
                          skip: int) -> None:
    pool = [2, 3, 5, 4, 5, 6, 7, 8, 6, 7, 2, 3, 5]  # 4 unigrams, 3 bigrams, 1 trigram
    counts = [0, 4, 10]
    node = helper.make_node("TfIdfVectorizer", ["x"], ["y"], mode=mode,
                            min_gram_length=lengths[0], max_gram_length=lengths[1],
                            max_skip_count=skip, ngram_counts=counts,
                            ngram_indexes=[7, 0, 1, 2, 3, 4, 5, 6], pool_int64s=pool,
                            weights=[0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])
    model = make_model([node], {"x": (TensorProto.INT32, shape)}, {"y": F}, opset=9)
    rng = np.random.default_rng(len(shape) + skip)
    feeds = {"x": rng.integers(2, 9, shape).astype(np.int32)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("mode", ["avg", "max"])
@pytest.mark.parametrize("coord", ["half_pixel", "output_half_pixel"])
@pytest.mark.parametrize("ratio", [1, 2, 3])
def test_roi_align(mode: str, coord: str, ratio: int) -> None:
    node = helper.make_node("RoiAlign", ["x", "rois", "batch"], ["y"], output_height=3,
                            output_width=4, sampling_ratio=ratio, spatial_scale=0.5,
                            coordinate_transformation_mode=coord, mode=mode)
    model = make_model([node], {"x": (F, (2, 3, 8, 9)), "rois": (F, (5, 4)),
                                "batch": (I64, (5,))}, {"y": F}, opset=16)
    rng = np.random.default_rng(ratio)
    corner = rng.uniform(-3, 12, (5, 2))
    rois = np.concatenate([corner, corner + rng.uniform(0.5, 12, (5, 2))], axis=1)
    feeds = {"x": rng.standard_normal((2, 3, 8, 9)).astype(np.float32),
             "rois": rois.astype(np.float32), "batch": rng.integers(0, 2, 5)}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize(("groups", "attrs", "with_mask"), [
    (1, {}, False),
    (2, {"strides": [2, 1], "pads": [1, 0, 1, 1], "dilations": [1, 2]}, True),
    (1, {"pads": [1, 1, 1, 1]}, True),
])
def test_deform_conv(groups: int, attrs: dict[str, list[int]], with_mask: bool) -> None:
    """Against ONNX's reference implementation (random offsets of a few pixels)."""
    from onnx.reference import ReferenceEvaluator

    x_shape, w_shape = (2, 4, 6, 7), (3, 4, 3, 2)
    strides = attrs.get("strides", [1, 1])
    dil = attrs.get("dilations", [1, 1])
    pads = attrs.get("pads", [0, 0, 0, 0])
    oh = (6 + pads[0] + pads[2] - dil[0] * 2 - 1) // strides[0] + 1
    ow = (7 + pads[1] + pads[3] - dil[1] * 1 - 1) // strides[1] + 1
    names = ["x", "w", "offset", "b"] + (["mask"] if with_mask else [])
    node = helper.make_node("DeformConv", names, ["y"], kernel_shape=[3, 2],
                            offset_group=groups, **attrs)
    shapes = {"x": x_shape, "w": w_shape, "offset": (2, groups * 6 * 2, oh, ow), "b": (3,)}
    if with_mask:
        shapes["mask"] = (2, groups * 6, oh, ow)
    model = make_model([node], {n: (F, s) for n, s in shapes.items()}, {"y": F}, opset=19)
    rng = np.random.default_rng(groups + len(attrs))
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in shapes.items()}
    feeds["offset"] *= 2
    (ours,) = run_edgec(model, feeds)
    (expected,) = ReferenceEvaluator(model).run(None, feeds)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
