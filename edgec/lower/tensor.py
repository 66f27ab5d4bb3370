"""Lowering of the data-movement ops: Concat, Split, Transpose, Expand, Slice,
Gather, Pad, Resize/Upsample, Tile, Where, Cast/CastLike.

Shapes are static here, so everything a kernel would otherwise compute
from shape-like inputs (Slice bounds, Pad amounts, Resize scales, Expand
and Tile targets) is resolved now and passed as options or read from the
output shape. Shape, Size, ConstantOfShape and Range are normally folded
away by the frontend; the few that reach lowering are folded here when
their inputs allow it and are Unsupported otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from edgec.errors import EdgecError
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.CoordTransform import CoordTransform
from edgec.fb.NearestMode import NearestMode
from edgec.fb.Opcode import Opcode
from edgec.fb.PadMode import PadMode
from edgec.fb.PadOptions import PadOptionsT
from edgec.fb.ResizeMode import ResizeMode
from edgec.fb.ResizeOptions import ResizeOptionsT
from edgec.fb.SliceOptions import SliceOptionsT
from edgec.fb.TransposeOptions import TransposeOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.program import DTYPES

PAD_MODES = {"constant": PadMode.CONSTANT, "reflect": PadMode.REFLECT, "edge": PadMode.EDGE,
             "wrap": PadMode.WRAP}
RESIZE_MODES = {"nearest": ResizeMode.NEAREST, "linear": ResizeMode.LINEAR,
                "cubic": ResizeMode.CUBIC}
COORD_TRANSFORMS = {
    "half_pixel": CoordTransform.HALF_PIXEL,
    "asymmetric": CoordTransform.ASYMMETRIC,
    "pytorch_half_pixel": CoordTransform.PYTORCH_HALF_PIXEL,
    "align_corners": CoordTransform.ALIGN_CORNERS,
    "half_pixel_symmetric": CoordTransform.HALF_PIXEL_SYMMETRIC,
}
NEAREST_MODES = {"round_prefer_floor": NearestMode.ROUND_PREFER_FLOOR,
                 "round_prefer_ceil": NearestMode.ROUND_PREFER_CEIL,
                 "floor": NearestMode.FLOOR, "ceil": NearestMode.CEIL}
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
F32 = np.dtype(np.float32)


# ---- helpers -------------------------------------------------------------------------


def _dtype(ctx: LoweringContext, value: ir.Value) -> np.dtype:
    """The value's dtype, if the runtime has it."""
    dtype = ctx.dtype(value)
    if dtype not in DTYPES:
        names = ", ".join(str(d) for d in DTYPES)
        raise Unsupported(f"{dtype} tensors (the runtime has {names})")
    return dtype


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"{what} {axis} is outside rank {rank}")
    return axis + rank if axis < 0 else axis


def _input(node: ir.Node, i: int) -> ir.Value | None:
    return node.inputs[i] if i < len(node.inputs) else None


def _const_ints(ctx: LoweringContext, value: ir.Value | None, what: str) -> list[int] | None:
    """A constant integer input as a list (None if the input is absent)."""
    if value is None:
        return None
    data = ctx.const(value)
    if data is None:
        raise Unsupported(f"{what} must be a compile-time constant")
    return [int(v) for v in np.asarray(data).reshape(-1)]


def _emit_unary(ctx: LoweringContext, node: ir.Node, opcode: int, options: object = None) -> None:
    """One data input (any runtime dtype) to one output of the same dtype."""
    x, out = node.inputs[0], node.outputs[0]
    _dtype(ctx, x)
    ctx.emit(opcode, [ctx.tensor(x)], [ctx.output(out)], options, node.name)


def _fold(node: ir.Node, array: np.ndarray) -> None:
    """Makes the node's output a constant: lowering reads it like an initializer."""
    node.outputs[0].const_value = ir.tensor(np.ascontiguousarray(array))


# ---- Concat / Split ------------------------------------------------------------------


@lowers("Concat")
def lower_concat(ctx: LoweringContext, node: ir.Node) -> None:
    out = node.outputs[0]
    _dtype(ctx, out)
    rank = len(ctx.shape(out))
    if rank == 0:
        raise Unsupported("concatenation of scalars")
    axis = _axis(node.attributes.get_int("axis", 0), rank)
    inputs = [v for v in node.inputs if v is not None]
    if not inputs:
        raise Unsupported("no inputs")
    ctx.emit(Opcode.CONCAT, [ctx.tensor(v) for v in inputs], [ctx.output(out)],
             AxisOptionsT(axis=axis), node.name)


@lowers("Split")
def lower_split(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    _dtype(ctx, x)
    shape = ctx.shape(x)
    if not shape:
        raise Unsupported("split of a scalar")
    axis = _axis(node.attributes.get_int("axis", 0), len(shape))
    # The sizes (split input or num_outputs) are already in the output shapes.
    sizes = [ctx.shape(v)[axis] for v in node.outputs]
    if sum(sizes) != shape[axis]:
        raise EdgecError(f"Split outputs {sizes} do not add up to {shape[axis]}")
    requested = _const_ints(ctx, _input(node, 1), "split")
    if requested is not None and requested != sizes:
        raise EdgecError(f"Split sizes {requested} disagree with the output shapes {sizes}")
    ctx.emit(Opcode.SPLIT, [ctx.tensor(x)], [ctx.output(v) for v in node.outputs],
             AxisOptionsT(axis=axis), node.name)


# ---- Transpose / Expand / Tile -------------------------------------------------------


@lowers("Transpose")
def lower_transpose(ctx: LoweringContext, node: ir.Node) -> None:
    rank = len(ctx.shape(node.inputs[0]))
    perm = list(node.attributes.get_ints("perm", range(rank - 1, -1, -1)))
    if sorted(perm) != list(range(rank)):
        raise Unsupported(f"perm {perm} is not a permutation of rank {rank}")
    _emit_unary(ctx, node, Opcode.TRANSPOSE, TransposeOptionsT(perm=perm))


@lowers("Expand")
def lower_expand(ctx: LoweringContext, node: ir.Node) -> None:
    _const_ints(ctx, node.inputs[1], "the target shape")
    _emit_unary(ctx, node, Opcode.EXPAND)


@lowers("Tile")
def lower_tile(ctx: LoweringContext, node: ir.Node) -> None:
    repeats = _const_ints(ctx, node.inputs[1], "repeats")
    shape, out_shape = ctx.shape(node.inputs[0]), ctx.shape(node.outputs[0])
    if repeats is None or [a * r for a, r in zip(shape, repeats, strict=True)] != list(out_shape):
        raise EdgecError(f"Tile of {shape} by {repeats} does not give {out_shape}")
    _emit_unary(ctx, node, Opcode.TILE)


# ---- Slice ---------------------------------------------------------------------------


def slice_params(shape: Sequence[int], starts: Sequence[int], ends: Sequence[int],
                 axes: Sequence[int] | None, steps: Sequence[int] | None
                 ) -> tuple[list[int], list[int], list[int]]:
    """ONNX Slice bounds -> full-rank (starts, steps, counts), clamped as ONNX says.

    A start lies inside its axis whenever the count is non-zero; axes with
    at most one element get step 1.
    """
    rank = len(shape)
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else list(steps)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Unsupported("starts, ends, axes and steps differ in length")
    full_starts, full_steps, counts = [0] * rank, [1] * rank, list(shape)
    seen: set[int] = set()
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        a = _axis(axis, rank, "slice axis")
        if a in seen:
            raise Unsupported(f"axis {axis} is sliced twice")
        seen.add(a)
        if step == 0:
            raise Unsupported("step 0")
        n = shape[a]
        start = start + n if start < 0 else start
        end = end + n if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), n), min(max(end, 0), n)
            count = max(0, (end - start + step - 1) // step)
        else:
            start, end = min(max(start, 0), n - 1), min(max(end, -1), n - 1)
            count = max(0, (start - end - step - 1) // -step)
        counts[a] = count
        full_starts[a] = start if count > 0 else 0
        full_steps[a] = step if count > 1 else 1
    return full_starts, full_steps, counts


@lowers("Slice")
def lower_slice(ctx: LoweringContext, node: ir.Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    starts = _const_ints(ctx, node.inputs[1], "starts")
    ends = _const_ints(ctx, node.inputs[2], "ends")
    axes = _const_ints(ctx, _input(node, 3), "axes")
    steps = _const_ints(ctx, _input(node, 4), "steps")
    assert starts is not None and ends is not None
    shape = ctx.shape(x)
    full_starts, full_steps, counts = slice_params(shape, starts, ends, axes, steps)
    if tuple(counts) != ctx.shape(out):
        raise EdgecError(f"Slice of {shape} gives {counts}, shape inference said "
                         f"{ctx.shape(out)}")
    _emit_unary(ctx, node, Opcode.SLICE, SliceOptionsT(starts=full_starts, steps=full_steps))


# ---- Gather / Where ------------------------------------------------------------------


@lowers("Gather")
def lower_gather(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices, out = node.inputs[0], node.inputs[1], node.outputs[0]
    _dtype(ctx, data)
    if ctx.dtype(indices) not in INDEX_DTYPES:
        raise Unsupported(f"{ctx.dtype(indices)} indices (int32 or int64 only)")
    rank = len(ctx.shape(data))
    if rank == 0:
        raise Unsupported("gather from a scalar")
    axis = _axis(node.attributes.get_int("axis", 0), rank)
    ctx.emit(Opcode.GATHER, [ctx.tensor(data), ctx.tensor(indices)], [ctx.output(out)],
             AxisOptionsT(axis=axis), node.name)


@lowers("Where")
def lower_where(ctx: LoweringContext, node: ir.Node) -> None:
    cond, x, y = node.inputs[0], node.inputs[1], node.inputs[2]
    if ctx.dtype(cond) != np.bool_:
        raise Unsupported(f"{ctx.dtype(cond)} condition (bool only)")
    if _dtype(ctx, x) != _dtype(ctx, y):
        raise Unsupported(f"X is {ctx.dtype(x)}, Y is {ctx.dtype(y)}")
    if len(ctx.shape(node.outputs[0])) > 8:
        raise Unsupported("rank above 8")
    ctx.emit(Opcode.WHERE, [ctx.tensor(cond), ctx.tensor(x), ctx.tensor(y)],
             [ctx.output(node.outputs[0])], name=node.name)


# ---- Pad -----------------------------------------------------------------------------


def _pad_value(ctx: LoweringContext, value: ir.Value | None, dtype: np.dtype) -> float:
    if value is None:
        return 0.0
    data = ctx.const(value)
    if data is None:
        raise Unsupported("constant_value must be a compile-time constant")
    data = np.asarray(data).reshape(-1)
    if data.size == 0:
        return 0.0
    scalar = data[0].item()
    as_f32 = float(np.float32(scalar))
    if dtype == np.bool_:
        return 1.0 if scalar else 0.0
    if (np.issubdtype(dtype, np.integer) or dtype == np.float64) and as_f32 != scalar \
            and not np.isnan(scalar):
        raise Unsupported(f"pad value {scalar} is not exact in float32")
    if dtype == np.float16:
        return float(np.float32(np.float16(scalar)))
    return as_f32


@lowers("Pad")
def lower_pad(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    dtype = _dtype(ctx, x)
    rank = len(ctx.shape(x))
    mode_name = node.attributes.get_string("mode", "constant")
    if mode_name not in PAD_MODES:
        raise Unsupported(f"mode {mode_name!r}")
    runtime_value: ir.Value | None = None
    if "pads" in node.attributes:  # opset < 11: pads and value are attributes
        pads = list(node.attributes.get_ints("pads"))
        value = float(node.attributes.get_float("value", 0.0))
        axes = list(range(rank))
    else:
        pads = _const_ints(ctx, node.inputs[1], "pads") or []
        value_in = _input(node, 2) if mode_name == "constant" else None
        if value_in is not None and ctx.const(value_in) is None:
            runtime_value = value_in  # a Where puts it in after a Pad with 0
        else:
            value = _pad_value(ctx, value_in, dtype)
        given = _const_ints(ctx, _input(node, 3), "axes")
        axes = list(range(rank)) if given is None else [_axis(a, rank) for a in given]
    if len(pads) != 2 * len(axes) or len(set(axes)) != len(axes):
        raise Unsupported(f"{len(pads)} pads for {len(axes)} axes")
    full = [0] * (2 * rank)
    for i, a in enumerate(axes):
        full[a], full[rank + a] = pads[i], pads[len(axes) + i]
    if runtime_value is None:
        options = PadOptionsT(pads=full, mode=PAD_MODES[mode_name], value=value)
        _emit_unary(ctx, node, Opcode.PAD, options)
        return
    out = node.outputs[0]
    padded = ctx.scratch_tensor(f"{node.name}/padded", dtype, ctx.shape(out))
    ctx.emit(Opcode.PAD, [ctx.tensor(x)], [padded],
             PadOptionsT(pads=full, mode=PAD_MODES["constant"], value=0.0), node.name)
    mask = ctx.constant(pad_mask(ctx.shape(x), full), f"{node.name}/inside")
    ctx.emit(Opcode.WHERE, [mask, padded, ctx.tensor(runtime_value)], [ctx.output(out)],
             name=node.name)


def pad_mask(shape: tuple[int, ...], pads: list[int]) -> np.ndarray:
    """True where a constant Pad's output holds an input element (pads may be negative)."""
    rank = len(shape)
    mask = np.pad(np.ones(shape, np.bool_),
                  [(max(pads[a], 0), max(pads[rank + a], 0)) for a in range(rank)])
    return mask[tuple(slice(max(-pads[a], 0), mask.shape[a] - max(-pads[rank + a], 0))
                      for a in range(rank))]


# ---- Resize / Upsample ---------------------------------------------------------------


def _resize_scales(ctx: LoweringContext, node: ir.Node, scales_in: ir.Value | None,
                   sizes_in: ir.Value | None) -> list[float]:
    """The per-axis scale of the coordinate mapping: the given scales, else out / in."""
    in_shape, out_shape = ctx.shape(node.inputs[0]), ctx.shape(node.outputs[0])
    rank = len(in_shape)
    axes_attr = node.attributes.get_ints("axes", None)
    axes = list(range(rank)) if axes_attr is None else [_axis(a, rank) for a in axes_attr]
    scales = None
    if scales_in is not None:
        data = ctx.const(scales_in)
        if data is None:
            raise Unsupported("scales must be a compile-time constant")
        if data.size:
            scales = [float(s) for s in np.asarray(data, np.float32).reshape(-1)]
    if scales is not None:
        if len(scales) != len(axes):
            raise Unsupported(f"{len(scales)} scales for {len(axes)} axes")
        full = [1.0] * rank
        for a, s in zip(axes, scales, strict=True):
            full[a] = s
        if any(not np.isfinite(s) or s <= 0 for s in full):
            raise Unsupported(f"scales {full}")
        return full
    if sizes_in is None or ctx.const(sizes_in) is None:
        raise Unsupported("needs constant scales or sizes")
    policy = node.attributes.get_string("keep_aspect_ratio_policy", "stretch")
    if policy in ("not_larger", "not_smaller"):
        # one scale for every resized axis: the smallest (largest) of size / in
        sizes = np.asarray(ctx.const(sizes_in), np.int64).reshape(-1)
        if len(sizes) != len(axes):
            raise Unsupported(f"{len(sizes)} sizes for {len(axes)} axes")
        ratios = [float(np.float32(o) / np.float32(in_shape[a]))
                  for a, o in zip(axes, sizes, strict=True)]
        one = min(ratios) if policy == "not_larger" else max(ratios)
        return [one if a in axes else 1.0 for a in range(rank)]
    if policy != "stretch":
        raise Unsupported(f"keep_aspect_ratio_policy={policy!r}")
    # As onnxruntime: float32 division of the output by the input size.
    return [float(np.float32(o) / np.float32(i)) if i else 1.0
            for i, o in zip(in_shape, out_shape, strict=True)]


def _emit_resize(ctx: LoweringContext, node: ir.Node, options: ResizeOptionsT) -> None:
    x = node.inputs[0]
    dtype = _dtype(ctx, x)
    if options.mode != ResizeMode.NEAREST and dtype != F32:
        raise Unsupported(f"{dtype} input with linear or cubic mode (float32 only)")
    _emit_unary(ctx, node, Opcode.RESIZE, options)


@lowers("Resize")
def lower_resize(ctx: LoweringContext, node: ir.Node) -> None:
    attrs = node.attributes
    mode = attrs.get_string("mode", "nearest")
    coord = attrs.get_string("coordinate_transformation_mode", "half_pixel")
    nearest = attrs.get_string("nearest_mode", "round_prefer_floor")
    if mode not in RESIZE_MODES:
        raise Unsupported(f"mode {mode!r}")
    if nearest not in NEAREST_MODES:
        raise Unsupported(f"nearest_mode={nearest!r}")
    if coord == "tf_crop_and_resize" or (attrs.get_int("antialias", 0) and mode != "nearest"):
        from edgec.lower.rewrite import resize_by_matrices  # local: rewrite imports misc

        resize_by_matrices(ctx, node)
        return
    if coord not in COORD_TRANSFORMS:
        raise Unsupported(f"coordinate_transformation_mode={coord!r}")
    if len(node.inputs) == 2:  # opset 10: (X, scales)
        scales = _resize_scales(ctx, node, node.inputs[1], None)
    else:
        scales = _resize_scales(ctx, node, _input(node, 2), _input(node, 3))
    options = ResizeOptionsT(
        mode=RESIZE_MODES[mode], coord=COORD_TRANSFORMS[coord], nearest=NEAREST_MODES[nearest],
        cubicCoeffA=attrs.get_float("cubic_coeff_a", -0.75),
        excludeOutside=bool(attrs.get_int("exclude_outside", 0)), scales=scales)
    _emit_resize(ctx, node, options)


@lowers("Upsample")
def lower_upsample(ctx: LoweringContext, node: ir.Node) -> None:
    """Deprecated Upsample (opset 7-9): asymmetric coordinates; nearest truncates."""
    mode = node.attributes.get_string("mode", "nearest")
    mode = "linear" if mode == "bilinear" else mode
    if mode not in ("nearest", "linear"):
        raise Unsupported(f"mode {mode!r}")
    given = node.attributes.get_floats("scales", None)
    if given is not None:
        scales = [float(np.float32(s)) for s in given]
    else:
        scales = _resize_scales(ctx, node, _input(node, 1), None)
    if any(s < 1 for s in scales):
        raise Unsupported(f"scales {scales} below 1")
    options = ResizeOptionsT(mode=RESIZE_MODES[mode], coord=CoordTransform.ASYMMETRIC,
                             nearest=NearestMode.FLOOR, scales=scales)
    _emit_resize(ctx, node, options)


# ---- Cast ----------------------------------------------------------------------------


def _emit_cast(ctx: LoweringContext, node: ir.Node, target: np.dtype) -> None:
    x, out = node.inputs[0], node.outputs[0]
    source = _dtype(ctx, x)
    if target not in DTYPES:
        raise Unsupported(f"cast to {target}")
    opcode = Opcode.COPY if source == target else Opcode.CAST
    ctx.emit(opcode, [ctx.tensor(x)], [ctx.output(out)], name=node.name)


@lowers("Cast")
def lower_cast(ctx: LoweringContext, node: ir.Node) -> None:
    to = node.attributes.get_int("to")
    if to is None:
        raise Unsupported("no 'to' attribute")
    try:
        target = np.dtype(ir.DataType(to).numpy())
    except (ValueError, TypeError, NotImplementedError):
        raise Unsupported(f"cast to data type {to}") from None
    _emit_cast(ctx, node, target)


@lowers("CastLike")
def lower_cast_like(ctx: LoweringContext, node: ir.Node) -> None:
    _emit_cast(ctx, node, ctx.dtype(node.inputs[1]))


# ---- shape computations (normally folded by the frontend) ----------------------------


@lowers("Shape")
def lower_shape(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if x.shape is None or not x.shape.is_static():
        raise Unsupported(f"the shape of {x.name!r} is not static (bind the model's dynamic "
                          "dimensions with --input-shape)")
    shape = ctx.shape(x)
    rank = len(shape)
    start = node.attributes.get_int("start", 0)
    end = node.attributes.get_int("end", rank)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    _fold(node, np.array(shape[start:end], dtype=np.int64))


@lowers("Size")
def lower_size(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if x.shape is None or not x.shape.is_static():
        raise Unsupported(f"the size of {x.name!r} is not static (bind the model's dynamic "
                          "dimensions with --input-shape)")
    _fold(node, np.array(int(np.prod(ctx.shape(x), dtype=np.int64)), dtype=np.int64))


@lowers("ConstantOfShape")
def lower_constant_of_shape(ctx: LoweringContext, node: ir.Node) -> None:
    shape = ctx.const(node.inputs[0])
    if shape is None:
        raise Unsupported("its shape input is computed at run time; edgec needs it constant "
                          "(static shapes are folded at compile time)")
    attr = node.attributes.get("value")
    fill = attr.value.numpy().reshape(-1) if attr is not None else np.zeros(1, np.float32)
    _fold(node, np.full([int(d) for d in shape.reshape(-1)], fill[0], dtype=fill.dtype))


@lowers("Range")
def lower_range(ctx: LoweringContext, node: ir.Node) -> None:
    values = [ctx.const(v) for v in node.inputs[:3]]
    if any(v is None for v in values):
        raise Unsupported("start, limit and delta must be compile-time constants (a Range "
                          "over run-time values has a data-dependent shape)")
    start, limit, delta = (np.asarray(v).reshape(()) for v in values if v is not None)
    if delta == 0:
        raise Unsupported("delta 0")
    _fold(node, np.arange(start, limit, delta, dtype=start.dtype))
