"""Ops rewritten into other ONNX ops that edgec lowers (exact, no new kernel):

- ReverseSequence: GatherElements along the time axis with indices
  len - 1 - t where t < len, else t (computed from sequence_lens at run time);
- TensorScatter: ScatterElements of the update into the cache at
  write_index + t (modulo the cache length in circular mode);
- Col2Im: ScatterElements with reduction add of every column into the padded
  image (the positions are constants), then a Slice drops the padding;
- MaxUnpool: ScatterElements of X at its indices into a zero output;
- Det (up to 3 x 3): the closed form, from Gathers of the entries;
- TfIdfVectorizer (integer pools): Equal/And/ReduceSum counts per gram length
  and skip, placed (and weighted) by a constant matrix;
- RoiAlign (fixed sampling_ratio): per-axis bilinear weight matrices from the
  rois at run time, two MatMuls per roi (max mode: per neighbour, then Max and
  MaxPool over the samples);
- DeformConv (2-D): GridSample at each kernel offset's shifted positions, the
  mask, one MatMul with the weights;
- Resize antialias / tf_crop_and_resize and MaxPool's Indices (called from
  their own lowerings).
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnx_ir as ir
from onnx import helper

from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.lower.misc import _axis, _lower_body

_OPSETS = {"": 18}


class _Builder:
    def __init__(self, prefix: str) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.prefix = prefix

    def add(self, op: str, inputs: list[str], output: str | None = None,
            **attrs: object) -> str:
        name = f"{self.prefix}{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [output or name], name=name, **attrs))
        return output or name

    def const(self, array: np.ndarray) -> str:
        return self.add("Constant", [], value=onnx.numpy_helper.from_array(np.asarray(array)))


def _prefix(node: ir.Node) -> str:
    return f"{node.name or node.op_type}/"


@lowers("ReverseSequence")
def lower_reverse_sequence(ctx: LoweringContext, node: ir.Node) -> None:
    x, lens = node.inputs[0], node.inputs[1]
    if x is None or lens is None:
        raise Unsupported("absent inputs")
    shape = ctx.shape(x)
    rank = len(shape)
    if rank < 2:
        raise Unsupported(f"rank-{rank} input")
    time = _axis(node.attributes.get_int("time_axis", 0), rank)
    batch = _axis(node.attributes.get_int("batch_axis", 1), rank)
    if {time, batch} != {0, 1}:
        raise Unsupported(f"time_axis {time}, batch_axis {batch} (0 and 1, as ONNX says)")
    b = _Builder(_prefix(node))
    t_shape = [shape[time] if a == time else 1 for a in range(rank)]
    b_shape = [shape[batch] if a == batch else 1 for a in range(rank)]
    t = b.const(np.arange(shape[time], dtype=np.int64).reshape(t_shape))
    n = b.add("Reshape", [b.add("Cast", [lens.name], to=onnx.TensorProto.INT64),
                          b.const(np.array(b_shape, np.int64))])
    reversed_t = b.add("Sub", [b.add("Sub", [n, b.const(np.array(1, np.int64))]), t])
    index = b.add("Where", [b.add("Less", [t, n]), reversed_t, t])
    full = b.add("Expand", [index, b.const(np.array(shape, np.int64))])
    b.add("GatherElements", [x.name, full], node.outputs[0].name, axis=time)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


@lowers("TensorScatter")
def lower_tensor_scatter(ctx: LoweringContext, node: ir.Node) -> None:
    past, update = node.inputs[0], node.inputs[1]
    indices = node.inputs[2] if len(node.inputs) > 2 else None
    if past is None or update is None:
        raise Unsupported("absent inputs")
    shape, u_shape = ctx.shape(past), ctx.shape(update)
    rank = len(shape)
    axis = _axis(node.attributes.get_int("axis", -2), rank)
    if axis == 0:
        raise Unsupported("axis 0 (the batch axis)")
    mode = node.attributes.get_string("mode", "linear")
    if mode not in ("linear", "circular"):
        raise Unsupported(f"mode {mode!r}")
    b = _Builder(_prefix(node))
    seq = u_shape[axis]
    t = b.const(np.arange(seq, dtype=np.int64).reshape(
        [seq if a == axis else 1 for a in range(rank)]))
    if indices is not None:
        start = b.add("Reshape", [b.add("Cast", [indices.name], to=onnx.TensorProto.INT64),
                                  b.const(np.array([u_shape[0]] + [1] * (rank - 1),
                                                   np.int64))])
        t = b.add("Add", [start, t])
    if mode == "circular":
        t = b.add("Mod", [t, b.const(np.array(shape[axis], np.int64))])
    full = b.add("Expand", [t, b.const(np.array(u_shape, np.int64))])
    b.add("ScatterElements", [past.name, full, update.name], node.outputs[0].name, axis=axis)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


def col2im_positions(image: list[int], block: list[int], dilations: list[int],
                     pads: list[int], strides: list[int]) -> tuple[np.ndarray, list[int]]:
    """The flat index in the padded image of every (kernel offset, block) column
    entry, in the input's order; and the padded image's shape."""
    n = len(image)
    padded = [image[d] + pads[d] + pads[n + d] for d in range(n)]
    counts = [(padded[d] - dilations[d] * (block[d] - 1) - 1) // strides[d] + 1
              for d in range(n)]
    if any(c < 1 for c in counts):
        raise Unsupported(f"blocks {block} do not fit the padded image {padded}")
    flat = []
    for k in itertools.product(*(range(s) for s in block)):
        for blk in itertools.product(*(range(c) for c in counts)):
            pos = [blk[d] * strides[d] + k[d] * dilations[d] for d in range(n)]
            flat.append(int(np.ravel_multi_index(pos, padded)))
    return np.array(flat, np.int64), padded


@lowers("Col2Im")
def lower_col2im(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    image_in, block_in = node.inputs[1], node.inputs[2]
    if x is None or image_in is None or block_in is None:
        raise Unsupported("absent inputs")
    image_c, block_c = ctx.const(image_in), ctx.const(block_in)
    if image_c is None or block_c is None:
        raise Unsupported("image_shape and block_shape must be compile-time constants")
    image = [int(v) for v in np.asarray(image_c).reshape(-1)]
    block = [int(v) for v in np.asarray(block_c).reshape(-1)]
    n = len(image)
    attrs = node.attributes
    dilations = list(attrs.get_ints("dilations", [1] * n))
    pads = list(attrs.get_ints("pads", [0] * 2 * n))
    strides = list(attrs.get_ints("strides", [1] * n))
    positions, padded = col2im_positions(image, block, dilations, pads, strides)
    batch, ck, cols = ctx.shape(x)
    k = int(np.prod(block))
    if ck % k or positions.size != k * cols:
        raise Unsupported(f"input {ctx.shape(x)} for blocks {block}")
    channels = ck // k
    b = _Builder(_prefix(node))
    flat = [batch, channels, k * cols]
    data = b.add("Reshape", [x.name, b.const(np.array(flat, np.int64))])
    index = b.const(np.broadcast_to(positions, flat))
    zero = b.add("CastLike", [b.const(np.array(0, np.float32)), x.name])
    canvas = b.add("Expand", [zero, b.const(np.array(
        [batch, channels, int(np.prod(padded))], np.int64))])
    summed = b.add("ScatterElements", [canvas, index, data], axis=2, reduction="add")
    out = node.outputs[0].name
    shaped = b.add("Reshape", [summed, b.const(np.array([batch, channels, *padded], np.int64))],
                   None if any(pads) else out)
    if any(pads):
        b.add("Slice", [shaped, b.const(np.array(pads[:n], np.int64)),
                        b.const(np.array([pads[d] + image[d] for d in range(n)], np.int64)),
                        b.const(np.arange(2, 2 + n, dtype=np.int64))], out)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


@lowers("MaxUnpool")
def lower_max_unpool(ctx: LoweringContext, node: ir.Node) -> None:
    """ScatterElements of X at its flat indices into a zero output. With output_shape,
    the indices count in that shape (as onnxruntime and PyTorch's max_unpool; ONNX's
    reference scatters into the default shape and pads it instead)."""
    x, indices, out = node.inputs[0], node.inputs[1], node.outputs[0]
    if x is None or indices is None:
        raise Unsupported("absent inputs")
    given = node.inputs[2] if len(node.inputs) > 2 else None
    if given is not None:
        data = ctx.const(given)
        if data is None:
            raise Unsupported("output_shape must be a compile-time constant")
        out.shape = ir.Shape([int(d) for d in np.asarray(data).reshape(-1)])
    total = int(np.prod(ctx.shape(out)))
    b = _Builder(_prefix(node))
    zero = b.add("CastLike", [b.const(np.array(0, np.float32)), x.name])
    canvas = b.add("Expand", [zero, b.const(np.array([total], np.int64))])
    flat = b.const(np.array([-1], np.int64))
    summed = b.add("ScatterElements", [canvas, b.add("Reshape", [indices.name, flat]),
                                       b.add("Reshape", [x.name, flat])], axis=0)
    b.add("Reshape", [summed, b.const(np.array(ctx.shape(out), np.int64))], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


@lowers("Det")
def lower_det(ctx: LoweringContext, node: ir.Node) -> None:
    """Determinants of matrices up to 3 x 3 by their closed form (cofactors)."""
    x, out = node.inputs[0], node.outputs[0]
    if x is None:
        raise Unsupported("absent input")
    shape = ctx.shape(x)
    if len(shape) < 2 or shape[-1] != shape[-2] or not 1 <= shape[-1] <= 3:
        raise Unsupported(f"input {list(shape)} (square matrices up to 3 x 3)")
    n = shape[-1]
    b = _Builder(_prefix(node))
    flat = b.add("Reshape", [x.name, b.const(np.array([*shape[:-2], n * n], np.int64))])
    e = [b.add("Gather", [flat, b.const(np.array(i, np.int64))], axis=-1)
         for i in range(n * n)]

    def minor(i: int, j: int, k: int, m: int) -> str:  # e[i] * e[m] - e[j] * e[k]
        return b.add("Sub", [b.add("Mul", [e[i], e[m]]), b.add("Mul", [e[j], e[k]])])

    if n == 1:
        b.add("Identity", [e[0]], out.name)
    elif n == 2:
        b.add("Identity", [minor(0, 1, 2, 3)], out.name)
    else:
        t0 = b.add("Mul", [e[0], minor(4, 5, 7, 8)])
        t1 = b.add("Mul", [e[1], minor(3, 5, 6, 8)])
        t2 = b.add("Mul", [e[2], minor(3, 4, 6, 7)])
        b.add("Add", [b.add("Sub", [t0, t1]), t2], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


def _tfidf_grams(attrs: ir.Attributes) -> list[tuple[int, np.ndarray]]:
    """(n, the pool's n-grams as rows) per gram length, in pool order."""
    pool = np.array(list(attrs.get_ints("pool_int64s", [])), np.int64)
    starts = list(attrs.get_ints("ngram_counts", []))
    out = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(pool)
        n = i + 1
        if (end - start) % n:
            raise Unsupported(f"{end - start} pool entries for {n}-grams")
        out.append((n, pool[start:end].reshape(-1, n)))
    return out


@lowers("TfIdfVectorizer")
def lower_tfidf_vectorizer(ctx: LoweringContext, node: ir.Node) -> None:
    """Counts of every pool n-gram (each skip distance apart; unigrams once): per
    gram length and skip, Equal of the shifted input with each gram entry, And over
    the entries, a sum over positions; a constant matrix places the counts."""
    x, out = node.inputs[0], node.outputs[0]
    attrs = node.attributes
    if x is None or "pool_strings" in attrs:
        raise Unsupported("string pools")
    shape = ctx.shape(x)
    if len(shape) not in (1, 2):
        raise Unsupported(f"rank-{len(shape)} input")
    mode = attrs.get_string("mode", "TF")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise Unsupported(f"mode {mode!r}")
    lo, hi = attrs.get_int("min_gram_length", 1), attrs.get_int("max_gram_length", 1)
    max_skip = attrs.get_int("max_skip_count", 0)
    indexes = list(attrs.get_ints("ngram_indexes", []))
    width = ctx.shape(out)[-1]
    grams = _tfidf_grams(attrs)
    total = sum(len(g) for _, g in grams)
    if len(indexes) != total:
        raise Unsupported(f"{len(indexes)} ngram_indexes for {total} pool n-grams")
    weights = np.asarray(list(attrs.get_floats("weights", [])) or [1.0] * total, np.float32)
    length = shape[-1]
    b = _Builder(_prefix(node))
    rows = b.add("Reshape", [x.name, b.const(np.array([-1, length], np.int64))])
    counts: list[str] = []
    place = np.zeros((total, width), np.float32)
    first = 0
    for n, pool in grams:
        used = lo <= n <= hi and len(pool)
        if used:
            per_skip = []
            for skip in range(max_skip + 1 if n > 1 else 1):
                span = (n - 1) * (skip + 1)
                if span >= length:
                    break
                hits = ""
                for k in range(n):
                    cols = np.arange(length - span) + k * (skip + 1)
                    piece = b.add("Unsqueeze", [b.add("Gather", [rows, b.const(cols)], axis=1),
                                                b.const(np.array([2], np.int64))])
                    entry = b.add("CastLike", [b.const(pool[:, k]), x.name])
                    same = b.add("Equal", [piece, entry])  # [rows, positions, grams]
                    hits = same if not hits else b.add("And", [hits, same])
                found = b.add("Cast", [hits], to=onnx.TensorProto.FLOAT)
                per_skip.append(b.add("ReduceSum", [found, b.const(np.array([1], np.int64))],
                                      keepdims=0))
            if per_skip:
                count = per_skip[0]
                for other in per_skip[1:]:
                    count = b.add("Add", [count, other])
                counts.append(count)
                for j in range(len(pool)):
                    place[first + j, indexes[first + j]] = 1.0
        first += len(pool)
    used_rows = np.array([i for i in range(total) if place[i].any()], np.int64)
    if not counts:
        result = b.add("Expand", [b.const(np.array(0, np.float32)),
                                  b.const(np.array([int(np.prod(shape[:-1])), width],
                                                   np.int64))])
    else:
        all_counts = counts[0] if len(counts) == 1 else b.add("Concat", counts, axis=1)
        if mode == "IDF":
            all_counts = b.add("Cast", [b.add("Greater", [all_counts,
                                                          b.const(np.array(0, np.float32))])],
                               to=onnx.TensorProto.FLOAT)
        matrix = place[used_rows] * (weights[used_rows, None] if mode != "TF" else 1.0)
        result = b.add("MatMul", [all_counts, b.const(matrix.astype(np.float32))])
    b.add("Reshape", [result, b.const(np.array(ctx.shape(out), np.int64))], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


def _resize_axis_matrix(length: int, attrs: dict[str, object], roi: tuple[float, float] | None,
                        scale: float | None, size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The linear map ONNX's reference Resize applies along one axis, as a matrix
    [in, out] (its row j: the resize of the j-th unit vector), and the output
    positions that fall outside the input (tf_crop_and_resize extrapolates there)."""
    from onnx.reference import ReferenceEvaluator

    inputs = {"x": np.eye(length, dtype=np.float32)}
    names = ["x", "roi", "scales", "sizes"]
    inits = [onnx.numpy_helper.from_array(
        np.array([0, roi[0], 1, roi[1]] if roi else [], np.float32), "roi")]
    if size is not None:
        inits.append(onnx.numpy_helper.from_array(np.array([length, size], np.int64), "sizes"))
        names[2] = ""
    else:
        inits.append(onnx.numpy_helper.from_array(np.array([1, scale], np.float32), "scales"))
        names = names[:3]
    node = helper.make_node("Resize", names, ["y"], **attrs)
    graph = helper.make_graph([node], "axis", [helper.make_tensor_value_info(
        "x", onnx.TensorProto.FLOAT, [length, length])], [helper.make_tensor_value_info(
            "y", onnx.TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    (matrix,) = ReferenceEvaluator(model).run(None, inputs)
    outside = np.zeros(matrix.shape[1], np.bool_)
    if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        probe = dict(attrs, extrapolation_value=1.0)
        model.graph.ClearField("node")
        model.graph.node.append(helper.make_node("Resize", names, ["y"], **probe))
        (marked,) = ReferenceEvaluator(model).run(None, {"x": np.zeros_like(inputs["x"])})
        outside = marked[0] != 0
    return np.ascontiguousarray(np.asarray(matrix, np.float32)), outside


def resize_by_matrices(ctx: LoweringContext, node: ir.Node) -> None:
    """Resize modes the kernel lacks (antialias, tf_crop_and_resize) as one MatMul per
    resized axis with the constant interpolation matrix ONNX's reference implies, and
    a Where that puts the extrapolation value outside the crop."""
    x, out = node.inputs[0], node.outputs[0]
    assert x is not None
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input with antialias or tf_crop_and_resize "
                          "(float32 only)")
    if node.attributes.get_string("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise Unsupported("keep_aspect_ratio_policy with antialias or tf_crop_and_resize")
    in_shape, out_shape = ctx.shape(x), ctx.shape(out)
    rank = len(in_shape)
    axes_attr = node.attributes.get_ints("axes", None)
    axes = list(range(rank)) if axes_attr is None else [_axis(a, rank) for a in axes_attr]

    def given(i: int) -> np.ndarray | None:
        value = node.inputs[i] if len(node.inputs) > i else None
        if value is None:
            return None
        data = ctx.const(value)
        if data is None:
            raise Unsupported("roi, scales and sizes must be compile-time constants")
        return np.asarray(data).reshape(-1) if np.asarray(data).size else None

    roi, scales, sizes = given(1), given(2), given(3)
    if roi is None and node.attributes.get_string("coordinate_transformation_mode",
                                                  "") == "tf_crop_and_resize":
        raise Unsupported("tf_crop_and_resize without a roi")
    if roi is not None and len(roi) != 2 * len(axes):
        raise Unsupported(f"{len(roi)} roi values for {len(axes)} axes")
    if (scales is None) == (sizes is None):
        raise Unsupported("needs constant scales or sizes (one of them)")
    keep = ("mode", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside",
            "antialias", "nearest_mode")
    attrs = {k: node.attributes[k].value for k in keep if k in node.attributes}
    b = _Builder(_prefix(node))
    y = x.name
    mask = np.zeros(out_shape, np.bool_)
    for i, a in enumerate(axes):
        scale = float(scales[i]) if scales is not None else None
        size = int(sizes[i]) if sizes is not None else None
        crop = (float(roi[i]), float(roi[len(axes) + i])) if roi is not None else None
        if crop is None and (size == in_shape[a] or scale == 1.0):
            continue
        try:
            matrix, outside = _resize_axis_matrix(in_shape[a], attrs, crop, scale, size)
        except (ValueError, RuntimeError) as exc:
            raise Unsupported(f"axis {a}: {exc}") from None
        if matrix.shape[1] != out_shape[a]:
            raise Unsupported(f"axis {a}: {matrix.shape[1]} outputs, the graph says "
                              f"{out_shape[a]}")
        perm = [d for d in range(rank) if d != a] + [a]
        back = list(np.argsort(perm))
        moved = y if a == rank - 1 else b.add("Transpose", [y], perm=perm)
        y = b.add("MatMul", [moved, b.const(matrix)])
        if a != rank - 1:
            y = b.add("Transpose", [y], perm=back)
        shape = [1] * rank
        shape[a] = out_shape[a]
        mask |= outside.reshape(shape)
    if mask.any():
        value = node.attributes.get_float("extrapolation_value", 0.0)
        y = b.add("Where", [b.const(mask), b.const(np.array(value, np.float32)), y])
    b.add("Identity", [y], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


def max_pool_with_indices(ctx: LoweringContext, node: ir.Node) -> None:
    """MaxPool's Indices output: the pooled values compared with each kernel offset's
    strided view of the (-inf padded) input; the first offset that holds the maximum
    gives the flat index of its input element (a constant per offset)."""
    x = node.inputs[0]
    assert x is not None
    shape = ctx.shape(x)
    n = len(shape) - 2
    attrs = node.attributes
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"Indices of a {ctx.dtype(x)} MaxPool (float32 only)")
    if attrs.get_int("ceil_mode", 0) or attrs.get_string("auto_pad", "NOTSET") != "NOTSET":
        raise Unsupported("Indices with ceil_mode or auto_pad")
    kernel = list(attrs.get_ints("kernel_shape"))
    strides = list(attrs.get_ints("strides", [1] * n))
    dilations = list(attrs.get_ints("dilations", [1] * n))
    pads = list(attrs.get_ints("pads", [0] * 2 * n))
    column_major = attrs.get_int("storage_order", 0) == 1
    y, indices = node.outputs[0], node.outputs[1]
    out = ctx.shape(y)[2:]
    b = _Builder(_prefix(node))
    pool_attrs = {k: node.attributes[k].value for k in ("kernel_shape", "strides", "dilations",
                                                         "pads") if k in node.attributes}
    pooled = y.name if y.name else f"{b.prefix}pooled"
    b.add("MaxPool", [x.name], pooled, **pool_attrs)
    padded = b.add("Pad", [x.name, b.const(np.array([0, 0, *pads[:n], 0, 0, *pads[n:]],
                                                    np.int64)),
                           b.const(np.array(-np.inf, np.float32))])
    grid = np.meshgrid(*(np.arange(s) for s in shape[:2]), *(np.arange(o) for o in out),
                       indexing="ij")
    spatial = shape[2:]
    if column_major:  # the spatial axes counted last-fastest reversed: w * H + h
        order = list(range(n))[::-1]
    else:
        order = list(range(n))
    acc = ""
    for k in reversed(list(itertools.product(*(range(s) for s in kernel)))):
        starts = [k[d] * dilations[d] for d in range(n)]
        ends = [starts[d] + (out[d] - 1) * strides[d] + 1 for d in range(n)]
        view = b.add("Slice", [padded, b.const(np.array(starts, np.int64)),
                               b.const(np.array(ends, np.int64)),
                               b.const(np.arange(2, 2 + n, dtype=np.int64)),
                               b.const(np.array(strides, np.int64))])
        same = b.add("Equal", [view, pooled])
        pos = [grid[2 + d] * strides[d] - pads[d] + starts[d] for d in range(n)]
        flat = grid[0] * shape[1] + grid[1]
        for d in order:
            flat = flat * spatial[d] + pos[d]
        index = b.const(flat.astype(np.int64))
        acc = index if not acc else b.add("Where", [same, index, acc])
    b.add("Identity", [acc], indices.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


def _roi_axis_corners(b: _Builder, start: str, size: str, bins: int, ratio: int,
                      length: int) -> tuple[str, str]:
    """[R, bins * ratio, length] twice: the bilinear weight RoiAlign gives the lower
    and the upper neighbour row of each sample along one axis, from the rois' start
    and size [R, 1] (a sample outside [-1, length] weighs zero; inside it clamps)."""
    f = np.float32
    t = (np.arange(bins * ratio) // ratio + (np.arange(bins * ratio) % ratio + 0.5) / ratio)
    step = b.add("Div", [size, b.const(np.array(bins, f))])
    coord = b.add("Add", [start, b.add("Mul", [step, b.const(t.astype(f)[None, :])])])
    valid = b.add("Cast", [b.add("And", [
        b.add("GreaterOrEqual", [coord, b.const(np.array(-1, f))]),
        b.add("LessOrEqual", [coord, b.const(np.array(length, f))])])],
        to=onnx.TensorProto.FLOAT)
    c0 = b.add("Max", [coord, b.const(np.array(0, f))])
    low = b.add("Floor", [c0])
    last = b.const(np.array(length - 1, f))
    at_end = b.add("GreaterOrEqual", [low, last])
    low = b.add("Where", [at_end, last, low])
    c1 = b.add("Where", [at_end, last, c0])
    high = b.add("Where", [at_end, last, b.add("Add", [low, b.const(np.array(1, f))])])
    frac = b.add("Mul", [b.add("Sub", [c1, low]), valid])
    rest = b.add("Mul", [b.add("Sub", [b.const(np.array(1, f)), b.add("Sub", [c1, low])]),
                         valid])
    rows = b.const(np.arange(length, dtype=f)[None, None, :])
    minus1 = b.const(np.array([-1], np.int64))

    def at(index: str, weight: str) -> str:
        hit = b.add("Cast", [b.add("Equal", [b.add("Unsqueeze", [index, minus1]), rows])],
                    to=onnx.TensorProto.FLOAT)
        return b.add("Mul", [hit, b.add("Unsqueeze", [weight, minus1])])

    return at(low, rest), at(high, frac)


def _roi_axis_weights(b: _Builder, start: str, size: str, bins: int, ratio: int,
                      length: int) -> str:
    """[R, bins, length]: the weights of _roi_axis_corners summed over each bin's
    samples and both neighbours."""
    lower, upper = _roi_axis_corners(b, start, size, bins, ratio, length)
    grouped = b.add("Reshape", [b.add("Add", [lower, upper]),
                                b.const(np.array([-1, bins, ratio, length], np.int64))])
    return b.add("ReduceSum", [grouped, b.const(np.array([2], np.int64))], keepdims=0)


@lowers("RoiAlign")
def lower_roi_align(ctx: LoweringContext, node: ir.Node) -> None:
    """A fixed sampling_ratio: bilinear sampling is separable, so each roi's average
    is Ay @ X[batch] @ Ax^T / ratio^2 with per-axis weight matrices computed from the
    rois at run time; max mode takes each of the four neighbours' weighted values
    that way, then their Max and a MaxPool over each bin's samples."""
    x, rois, batch, out = node.inputs[0], node.inputs[1], node.inputs[2], node.outputs[0]
    if x is None or rois is None or batch is None:
        raise Unsupported("absent inputs")
    attrs = node.attributes
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    mode = attrs.get_string("mode", "avg")
    if mode not in ("avg", "max"):
        raise Unsupported(f"mode {mode!r}")
    ratio = attrs.get_int("sampling_ratio", 0)
    if ratio < 1:
        raise Unsupported("sampling_ratio 0 (adaptive: the sample count depends on the rois)")
    oh, ow = attrs.get_int("output_height", 1), attrs.get_int("output_width", 1)
    scale = attrs.get_float("spatial_scale", 1.0)
    half = attrs.get_string("coordinate_transformation_mode", "half_pixel") == "half_pixel"
    _, _, height, width = ctx.shape(x)
    f = np.float32
    b = _Builder(_prefix(node))
    boxes = b.add("Mul", [rois.name, b.const(np.array(scale, f))])
    if half:
        boxes = b.add("Sub", [boxes, b.const(np.array(0.5, f))])

    def column(i: int) -> str:
        return b.add("Slice", [boxes, b.const(np.array([i], np.int64)),
                               b.const(np.array([i + 1], np.int64)),
                               b.const(np.array([1], np.int64))])

    x1, y1, x2, y2 = (column(i) for i in range(4))
    sizes = [b.add("Sub", [y2, y1]), b.add("Sub", [x2, x1])]
    if not half:
        sizes = [b.add("Max", [s, b.const(np.array(1, f))]) for s in sizes]
    one = b.const(np.array([1], np.int64))
    picked = b.add("Gather", [x.name, b.add("Cast", [batch.name], to=onnx.TensorProto.INT64)],
                   axis=0)  # [R, C, H, W]
    if mode == "max":
        # as ONNX's reference: the largest weighted neighbour value over the samples
        ys = _roi_axis_corners(b, y1, sizes[0], oh, ratio, height)
        xs = _roi_axis_corners(b, x1, sizes[1], ow, ratio, width)
        corners = []
        for wy in ys:
            rows = b.add("MatMul", [b.add("Unsqueeze", [wy, one]), picked])
            for wx in xs:
                corners.append(b.add("MatMul", [rows, b.add("Unsqueeze", [b.add(
                    "Transpose", [wx], perm=[0, 2, 1]), one])]))  # [R, C, oh*s, ow*s]
        best = b.add("Max", corners)
        b.add("MaxPool", [best], out.name, kernel_shape=[ratio, ratio],
              strides=[ratio, ratio])
        _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")
        return
    ay = _roi_axis_weights(b, y1, sizes[0], oh, ratio, height)  # [R, oh, H]
    ax = _roi_axis_weights(b, x1, sizes[1], ow, ratio, width)  # [R, ow, W]
    rows = b.add("MatMul", [b.add("Unsqueeze", [ay, one]), picked])  # [R, C, oh, W]
    pooled = b.add("MatMul", [rows, b.add("Unsqueeze", [b.add("Transpose", [ax],
                                                               perm=[0, 2, 1]), one])])
    b.add("Div", [pooled, b.const(np.array(ratio * ratio, f))], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")


@lowers("DeformConv")
def lower_deform_conv(ctx: LoweringContext, node: ir.Node) -> None:
    """2-D DeformConv: each kernel offset's samples taken by GridSample (bilinear,
    zeros outside, align_corners) at the shifted positions, scaled by the mask, then
    one MatMul with the weights as columns."""
    x, w, offset, out = node.inputs[0], node.inputs[1], node.inputs[2], node.outputs[0]
    bias = node.inputs[3] if len(node.inputs) > 3 else None
    mask = node.inputs[4] if len(node.inputs) > 4 else None
    if x is None or w is None or offset is None:
        raise Unsupported("absent inputs")
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    x_shape, w_shape, y_shape = ctx.shape(x), ctx.shape(w), ctx.shape(out)
    if len(x_shape) != 4:
        raise Unsupported(f"rank-{len(x_shape)} input (2-D only)")
    attrs = node.attributes
    if attrs.get_int("group", 1) != 1:
        raise Unsupported("group > 1")
    batch, channels, height, width = x_shape
    if height < 2 or width < 2:
        raise Unsupported("an input of height or width 1")
    maps, kh, kw = w_shape[0], w_shape[2], w_shape[3]
    groups = attrs.get_int("offset_group", 1)
    if channels % groups:
        raise Unsupported(f"offset_group {groups} does not divide {channels} channels")
    strides = list(attrs.get_ints("strides", [1, 1]))
    dilations = list(attrs.get_ints("dilations", [1, 1]))
    pads = list(attrs.get_ints("pads", [0, 0, 0, 0]))
    oh, ow = y_shape[2], y_shape[3]
    k, f = kh * kw, np.float32
    ka, kb = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    oi, oj = np.meshgrid(np.arange(oh), np.arange(ow), indexing="ij")
    base_y = (oi[None] * strides[0] - pads[0] + ka.reshape(-1)[:, None, None] * dilations[0])
    base_x = (oj[None] * strides[1] - pads[1] + kb.reshape(-1)[:, None, None] * dilations[1])
    b = _Builder(_prefix(node))
    i64 = np.int64
    shifts = b.add("Reshape", [offset.name, b.const(np.array([batch, groups, k, 2, oh, ow],
                                                             i64))])

    def part(i: int) -> str:
        piece = b.add("Gather", [shifts, b.const(np.array(i, i64))], axis=3)
        return piece  # [N, G, K, oh, ow]

    ys = b.add("Add", [part(0), b.const(base_y.astype(f)[None, None])])
    xs = b.add("Add", [part(1), b.const(base_x.astype(f)[None, None])])

    def normalized(c: str, length: int) -> str:
        scaled = b.add("Mul", [c, b.const(np.array(2.0 / (length - 1), f))])
        return b.add("Unsqueeze", [b.add("Sub", [scaled, b.const(np.array(1, f))]),
                                   b.const(np.array([-1], i64))])

    grid = b.add("Concat", [normalized(xs, width), normalized(ys, height)], axis=-1)
    grid = b.add("Reshape", [grid, b.const(np.array([batch * groups, k * oh, ow, 2], i64))])
    xg = b.add("Reshape", [x.name, b.const(np.array([batch * groups, channels // groups,
                                                     height, width], i64))])
    sampled = b.add("GridSample", [xg, grid], mode="bilinear", padding_mode="zeros",
                    align_corners=1)
    cols = b.add("Reshape", [sampled, b.const(np.array(
        [batch, groups, channels // groups, k, oh * ow], i64))])
    if mask is not None:
        scale = b.add("Reshape", [mask.name, b.const(np.array([batch, groups, 1, k, oh * ow],
                                                              i64))])
        cols = b.add("Mul", [cols, scale])
    cols = b.add("Reshape", [cols, b.const(np.array([batch, channels * k, oh * ow], i64))])
    weights = b.add("Reshape", [w.name, b.const(np.array([maps, channels * k], i64))])
    y = b.add("Reshape", [b.add("MatMul", [weights, cols]),
                          b.const(np.array([batch, maps, oh, ow], i64))])
    if bias is not None:
        y = b.add("Add", [y, b.add("Reshape", [bias.name, b.const(np.array([1, maps, 1, 1],
                                                                          i64))])])
    b.add("Identity", [y], out.name)
    _lower_body(ctx, node, b.nodes, _OPSETS, "rewrite")
