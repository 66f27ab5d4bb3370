"""Lowering of pooling, normalization, softmax and reduction ops.

Pools: auto_pad becomes explicit pads and ceil_mode becomes the output
shape (computed here with onnxruntime's rule, which drops a last window
that would start in the end padding); the kernel clips windows to the
input. Global pools are pools whose kernel covers the spatial extent.
InstanceNormalization runs on the LAYER_NORM kernel in its per-channel
form (AxisOptions.flags bit 0). Pools, Softmax, LogSoftmax and LAYER_NORM
ask for the best kernel family the CPU has (Instruction.variant; the
runtime runs the x86 SIMD rows where it can, else the reference).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.PoolKind import PoolKind
from edgec.fb.PoolOptions import PoolOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.lower.conv import VARIANT_BEST
from edgec.program import BF16

F32, F16, F64 = np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64)
MAX_SPATIAL = 3  # the pool kernel handles 1-D, 2-D and 3-D pools

_POOLS = {
    "MaxPool": (Opcode.MAX_POOL, PoolKind.MAX),
    "AveragePool": (Opcode.AVERAGE_POOL, PoolKind.AVERAGE),
    "LpPool": (Opcode.LP_POOL, PoolKind.LP),
    "GlobalMaxPool": (Opcode.MAX_POOL, PoolKind.MAX),
    "GlobalAveragePool": (Opcode.AVERAGE_POOL, PoolKind.AVERAGE),
    "GlobalLpPool": (Opcode.LP_POOL, PoolKind.LP),
}

_REDUCE = {
    "ReduceMean": Opcode.REDUCE_MEAN, "ReduceSum": Opcode.REDUCE_SUM,
    "ReduceMax": Opcode.REDUCE_MAX, "ReduceMin": Opcode.REDUCE_MIN,
    "ReduceProd": Opcode.REDUCE_PROD, "ReduceL1": Opcode.REDUCE_L1,
    "ReduceL2": Opcode.REDUCE_L2, "ReduceSumSquare": Opcode.REDUCE_SUM_SQUARE,
    "ReduceLogSumExp": Opcode.REDUCE_LOG_SUM_EXP,
}
# The opset from which each Reduce* takes axes as an input instead of an attribute.
_AXES_INPUT_SINCE = {op: 13 if op == "ReduceSum" else 18 for op in _REDUCE}


# ---- helpers -----------------------------------------------------------------


def _opset(node: ir.Node) -> int:
    if node.version is not None:
        return int(node.version)
    graph = node.graph
    if graph is not None:
        for domain in ("", "ai.onnx"):
            if domain in graph.opset_imports:
                return int(graph.opset_imports[domain])
    return 18


_SMALL_INTS = (np.dtype(np.int8), np.dtype(np.uint8))


def _require_f32(ctx: LoweringContext, value: ir.Value | None, what: str) -> None:
    if value is None:
        return
    dtype = ctx.dtype(value)
    if dtype != F32:
        raise Unsupported(f"{what} is {dtype} (float32 only)")


def _is_used(value: ir.Value | None) -> bool:
    return value is not None and (bool(value.uses()) or value.is_graph_output())


def _only_first_output(node: ir.Node, what: str) -> None:
    for value in list(node.outputs)[1:]:
        if _is_used(value):
            raise Unsupported(f"the {what} output is used (only the first output is supported)")


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"{what} {axis} out of range for rank {rank}")
    return axis % rank


# ---- pools -------------------------------------------------------------------


def _ints(node: ir.Node, name: str, default: Sequence[int]) -> list[int]:
    value = node.attributes.get_ints(name, None)
    return list(default) if value is None else [int(v) for v in value]


def pool_geometry(node: ir.Node, in_shape: Sequence[int]) -> tuple[
        list[int], list[int], list[int], list[int], list[int]]:
    """(kernel, strides, dilations, pads, output spatial shape) of a pool node."""
    sp = len(in_shape) - 2
    spatial = list(in_shape[2:])
    if node.op_type.startswith("Global"):
        return spatial, [1] * sp, [1] * sp, [0] * (2 * sp), [1] * sp
    kernel = _ints(node, "kernel_shape", [])
    if len(kernel) != sp:
        raise Unsupported(f"kernel_shape {kernel} for {sp} spatial axes")
    strides = _ints(node, "strides", [1] * sp)
    dilations = _ints(node, "dilations", [1] * sp)
    pads = _ints(node, "pads", [0] * (2 * sp))
    if len(strides) != sp or len(dilations) != sp or len(pads) != 2 * sp:
        raise Unsupported("strides/dilations/pads do not match the kernel rank")
    if min(kernel) < 1 or min(strides) < 1 or min(dilations) < 1 or min(pads, default=0) < 0:
        raise Unsupported("non-positive kernel/strides/dilations or negative pads")
    auto_pad = node.attributes.get_string("auto_pad", "NOTSET")
    ceil_mode = bool(node.attributes.get_int("ceil_mode", 0))
    effective = [(k - 1) * d + 1 for k, d in zip(kernel, dilations, strict=True)]
    out: list[int] = []
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * sp)
        for a in range(sp):
            o = -(-spatial[a] // strides[a])
            total = max(0, (o - 1) * strides[a] + effective[a] - spatial[a])
            small, big = total // 2, total - total // 2
            pads[a], pads[sp + a] = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            out.append(o)
        return kernel, strides, dilations, pads, out
    if auto_pad == "VALID":
        pads = [0] * (2 * sp)
    elif auto_pad != "NOTSET":
        raise Unsupported(f"auto_pad={auto_pad!r}")
    for a in range(sp):
        span = spatial[a] + pads[a] + pads[sp + a] - effective[a]
        if span < 0:
            raise Unsupported(f"window {effective[a]} larger than the padded input on axis {a}")
        if ceil_mode:
            o = -(-span // strides[a]) + 1
            # onnxruntime (and PyTorch) drop a last window that starts in the end padding.
            if (o - 1) * strides[a] >= spatial[a] + pads[a]:
                o -= 1
        else:
            o = span // strides[a] + 1
        out.append(o)
    return kernel, strides, dilations, pads, out


@lowers(*_POOLS)
def lower_pool(ctx: LoweringContext, node: ir.Node) -> None:
    opcode, kind = _POOLS[node.op_type]
    x, y = node.inputs[0], node.outputs[0]
    # 8-bit MaxPool: cast to float32 and back around the float kernel (exact)
    small_int = node.op_type == "MaxPool" and ctx.dtype(x) in _SMALL_INTS
    if not small_int:
        _require_f32(ctx, x, "input")
    if node.op_type == "MaxPool" and len(node.outputs) > 1 and _is_used(node.outputs[1]):
        from edgec.lower.rewrite import max_pool_with_indices  # local: rewrite imports misc

        max_pool_with_indices(ctx, node)
        return
    in_shape = ctx.shape(x)
    sp = len(in_shape) - 2
    if not 1 <= sp <= MAX_SPATIAL:
        raise Unsupported(f"input of rank {len(in_shape)} (pools over 1 to {MAX_SPATIAL} "
                          "spatial axes)")
    kernel, strides, dilations, pads, out_spatial = pool_geometry(node, in_shape)
    out_shape = (*in_shape[:2], *out_spatial)
    inferred = ctx.shape(y)
    if inferred != out_shape:
        # ONNX shape inference keeps a ceil_mode window that onnxruntime drops; the
        # runtime computes onnxruntime's shape. That is only safe to substitute
        # where nothing downstream was shaped after the inferred one.
        if y.uses():
            raise Unsupported(f"output shape {list(inferred)} from shape inference, but the pool "
                              f"computes {list(out_shape)} (ceil_mode)")
        y.shape = ir.Shape(out_shape)
    opts = PoolOptionsT()
    opts.kind = kind
    opts.kernel, opts.strides, opts.dilations, opts.pads = kernel, strides, dilations, pads
    if node.op_type == "AveragePool":
        opts.countIncludePad = bool(node.attributes.get_int("count_include_pad", 0))
    if kind == PoolKind.LP:
        p = node.attributes.get("p")
        p_value = 2 if p is None else p.value
        if float(p_value) != int(p_value) or int(p_value) < 1:
            raise Unsupported(f"p={p_value} (positive integers only)")
        opts.p = int(p_value)
    if small_int:
        x32 = ctx.scratch_tensor(f"{node.name}/x32", F32, in_shape)
        y32 = ctx.scratch_tensor(f"{node.name}/y32", F32, ctx.shape(y))
        ctx.emit(Opcode.CAST, [ctx.tensor(x)], [x32], name=node.name)
        ctx.emit(opcode, [x32], [y32], opts, node.name).variant = VARIANT_BEST
        ctx.emit(Opcode.CAST, [y32], [ctx.output(y)], name=node.name)
        return
    ctx.emit(opcode, [ctx.tensor(x)], [ctx.output(y)], opts, node.name).variant = VARIANT_BEST


# ---- normalization -------------------------------------------------------------


@lowers("BatchNormalization")
def lower_batch_norm(ctx: LoweringContext, node: ir.Node) -> None:
    if node.attributes.get_int("training_mode", 0):
        raise Unsupported("training_mode=1 (inference only)")
    _only_first_output(node, "running mean/var")
    inputs = list(node.inputs)
    if len(inputs) != 5 or any(v is None for v in inputs):
        raise Unsupported("expects X, scale, B, mean, var")
    names = ("input", "scale", "B", "mean", "var")
    for value, what in zip(inputs, names, strict=True):
        _require_f32(ctx, value, what)
    shape = ctx.shape(inputs[0])
    if len(shape) < 2:
        raise Unsupported(f"input of rank {len(shape)} (expected N, C, ...)")
    for value, what in zip(inputs[1:], names[1:], strict=True):
        assert value is not None
        if ctx.shape(value) != (shape[1],):
            raise Unsupported(f"{what} has shape {list(ctx.shape(value))}, expected [{shape[1]}]")
    opts = AxisOptionsT()
    opts.axis = 1
    opts.epsilon = node.attributes.get_float("epsilon", 1e-5)
    ctx.emit(Opcode.BATCH_NORM, [ctx.tensor(v) for v in inputs], [ctx.output(node.outputs[0])],
             opts, node.name)


@lowers("LRN")
def lower_lrn(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    _require_f32(ctx, x, "input")
    if len(ctx.shape(x)) < 2:
        raise Unsupported("input of rank < 2")
    size = node.attributes.get_int("size", 0)
    if size < 1:
        raise Unsupported(f"size={size}")
    opts = AxisOptionsT()
    opts.axis = 1
    opts.size = size
    opts.alpha = node.attributes.get_float("alpha", 1e-4)
    opts.beta = node.attributes.get_float("beta", 0.75)
    opts.bias = node.attributes.get_float("bias", 1.0)
    ctx.emit(Opcode.LRN, [ctx.tensor(x)], [ctx.output(node.outputs[0])], opts, node.name)


@lowers("Softmax", "LogSoftmax")
def lower_softmax(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    dtype = ctx.dtype(x)
    if dtype not in (F32, F16, BF16, F64):
        raise Unsupported(f"input is {dtype} (float dtypes only)")
    rank = len(ctx.shape(x))
    legacy = _opset(node) < 13  # the input is coerced to 2-D at axis
    opts = AxisOptionsT()
    axis = node.attributes.get_int("axis", 1 if legacy else -1)
    if legacy:
        if not -rank <= axis <= rank:
            raise Unsupported(f"axis {axis} out of range for rank {rank}")
        opts.axis = axis + rank if axis < 0 else axis
        opts.flags = 1
    else:
        opts.axis = _axis(axis, max(rank, 1))
    if dtype == F64:
        _softmax_f64(ctx, node, list(range(opts.axis, rank)) if legacy else [opts.axis])
        return
    opcode = Opcode.SOFTMAX if node.op_type == "Softmax" else Opcode.LOG_SOFTMAX
    src, dst = ctx.tensor(x), ctx.output(node.outputs[0])
    if dtype != F32:  # float16, bfloat16: the float32 kernel between casts
        shape = ctx.shape(x)
        src32 = ctx.scratch_tensor(f"{x.name}/f32", F32, shape)
        ctx.emit(Opcode.CAST, [src], [src32], name=node.name)
        src, out = src32, dst
        dst = ctx.scratch_tensor(f"{node.outputs[0].name}/f32", F32, shape)
    ins = ctx.emit(opcode, [src], [dst], opts, node.name)
    ins.variant = VARIANT_BEST
    if dtype != F32:
        ctx.emit(Opcode.CAST, [dst], [out], name=node.name)


def _softmax_f64(ctx: LoweringContext, node: ir.Node, axes: list[int]) -> None:
    """float64 (Log)Softmax, in double, as its ONNX definition: e = exp(x - max(x)),
    e / sum(e), or (x - max(x)) - log(sum(e))."""
    x, out = node.inputs[0], node.outputs[0]
    shape = ctx.shape(x)
    if not shape:
        raise Unsupported("float64 scalar input")
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    opts = AxisOptionsT()
    opts.axes = axes
    opts.keepdims = True

    def step(opcode: int, ins: list[int], tag: str, shp: tuple[int, ...],
             options: object = None) -> int:
        t = ctx.scratch_tensor(f"{out.name}/{tag}", F64, shp)
        ctx.emit(opcode, ins, [t], options, node.name)
        return t

    src = ctx.tensor(x)
    d = step(Opcode.SUB, [src, step(Opcode.REDUCE_MAX, [src], "max", kept, opts)], "d", shape)
    e = step(Opcode.EXP, [d], "exp", shape)
    total = step(Opcode.REDUCE_SUM, [e], "sum", kept, opts)
    if node.op_type == "Softmax":
        ctx.emit(Opcode.DIV, [e, total], [ctx.output(out)], name=node.name)
    else:
        ctx.emit(Opcode.SUB, [d, step(Opcode.LOG, [total], "log", kept)], [ctx.output(out)],
                 name=node.name)


def _norm_param(ctx: LoweringContext, value: ir.Value | None, norm_shape: tuple[int, ...],
                what: str) -> int:
    """Scale/bias of LayerNormalization as a tensor of the normalized shape."""
    if value is None:
        return -1
    _require_f32(ctx, value, what)
    shape = ctx.shape(value)
    if int(np.prod(shape, dtype=np.int64)) == int(np.prod(norm_shape, dtype=np.int64)) and \
            all(a == b for a, b in zip(reversed(shape), reversed(norm_shape), strict=False)):
        return ctx.tensor(value)
    data = ctx.const(value)
    try:
        full = np.broadcast_to(data, norm_shape) if data is not None else None
    except ValueError:
        full = None
    if full is None or np.broadcast_shapes(shape, norm_shape) != norm_shape:
        raise Unsupported(f"{what} of shape {list(shape)} for normalized shape "
                          f"{list(norm_shape)}")
    return ctx.constant(np.ascontiguousarray(full, dtype=F32), f"{value.name}/broadcast")


@lowers("LayerNormalization")
def lower_layer_norm(ctx: LoweringContext, node: ir.Node) -> None:
    inputs = [*node.inputs, None, None]
    x, scale, bias = inputs[0], inputs[1], inputs[2]
    assert x is not None
    _require_f32(ctx, x, "input")
    shape = ctx.shape(x)
    axis = _axis(node.attributes.get_int("axis", -1), len(shape))
    norm_shape = shape[axis:]
    opts = AxisOptionsT()
    opts.axis = axis
    opts.epsilon = node.attributes.get_float("epsilon", 1e-5)
    ins = [ctx.tensor(x), _norm_param(ctx, scale, norm_shape, "scale"),
           _norm_param(ctx, bias, norm_shape, "bias")]
    while ins[-1] == -1:
        ins.pop()
    ctx.emit(Opcode.LAYER_NORM, ins, [ctx.output(node.outputs[0])], opts,
             node.name).variant = VARIANT_BEST
    if any(_is_used(v) for v in list(node.outputs)[1:]):
        _layer_norm_stats(ctx, node, axis, opts.epsilon)


def _layer_norm_stats(ctx: LoweringContext, node: ir.Node, axis: int, epsilon: float) -> None:
    """LayerNormalization's Mean and InvStdDev outputs, as ONNX defines them (shape: the
    input's with 1 from axis on): mean(x), 1 / sqrt(mean((x - mean(x))^2) + epsilon)."""
    x, outs = node.inputs[0], [*list(node.outputs)[1:], None, None]
    shape = ctx.shape(x)
    kept = tuple(d if i < axis else 1 for i, d in enumerate(shape))
    opts = AxisOptionsT()
    opts.axes = list(range(axis, len(shape)))
    opts.keepdims = True

    def dst(value: ir.Value | None, tag: str, shp: tuple[int, ...]) -> int:
        if _is_used(value):
            return ctx.output(value)
        return ctx.scratch_tensor(f"{node.outputs[0].name}/{tag}", F32, shp)

    def step(opcode: int, ins: list[int], out: int, options: object = None) -> int:
        ctx.emit(opcode, ins, [out], options, node.name)
        return out

    src = ctx.tensor(x)
    mean = step(Opcode.REDUCE_MEAN, [src], dst(outs[0], "mean", kept), opts)
    if not _is_used(outs[1]):
        return
    d = step(Opcode.SUB, [src, mean], dst(None, "centered", shape))
    var = step(Opcode.REDUCE_MEAN, [step(Opcode.MUL, [d, d], dst(None, "square", shape))],
               dst(None, "var", kept), opts)
    eps = ctx.constant(np.array(epsilon, F32), f"{node.outputs[0].name}/epsilon")
    sd = step(Opcode.SQRT, [step(Opcode.ADD, [var, eps], dst(None, "var_eps", kept))],
              dst(None, "std", kept))
    step(Opcode.RECIPROCAL, [sd], ctx.output(outs[1]))


@lowers("InstanceNormalization")
def lower_instance_norm(ctx: LoweringContext, node: ir.Node) -> None:
    x, scale, bias = node.inputs[0], node.inputs[1], node.inputs[2]
    for value, what in ((x, "input"), (scale, "scale"), (bias, "B")):
        _require_f32(ctx, value, what)
    assert x is not None and scale is not None and bias is not None
    shape = ctx.shape(x)
    if len(shape) < 3:
        raise Unsupported(f"input of rank {len(shape)} (expected N, C, D1, ...)")
    for value, what in ((scale, "scale"), (bias, "B")):
        if ctx.shape(value) != (shape[1],):
            raise Unsupported(f"{what} has shape {list(ctx.shape(value))}, expected [{shape[1]}]")
    opts = AxisOptionsT()
    opts.axis = 2
    opts.epsilon = node.attributes.get_float("epsilon", 1e-5)
    opts.flags = 1  # per-channel scale and bias
    ctx.emit(Opcode.LAYER_NORM, [ctx.tensor(x), ctx.tensor(scale), ctx.tensor(bias)],
             [ctx.output(node.outputs[0])], opts, node.name).variant = VARIANT_BEST


# ---- reductions ----------------------------------------------------------------


def _reduce_axes(ctx: LoweringContext, node: ir.Node, rank: int) -> list[int] | None:
    """The normalized, sorted axes; None where the node gives none."""
    axes: Sequence[int] | None
    if _opset(node) >= _AXES_INPUT_SINCE[node.op_type]:
        value = node.inputs[1] if len(node.inputs) > 1 else None
        if value is None:
            axes = None
        else:
            data = ctx.const(value)
            if data is None:
                raise Unsupported("axes must be a constant")
            axes = [int(a) for a in np.asarray(data).reshape(-1)]
    else:
        axes = node.attributes.get_ints("axes", None)
    if axes is None or len(axes) == 0:
        return None
    normalized = sorted({_axis(int(a), rank, "reduce axis") for a in axes})
    if len(normalized) != len(axes):
        raise Unsupported(f"repeated axes {list(axes)}")
    return normalized


@lowers(*_REDUCE)
def lower_reduce(ctx: LoweringContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    dtype = ctx.dtype(x)
    # floats; ReduceMax/Min also bool and integers exact in double (the kernel's loop)
    if dtype.kind != "f" and dtype != BF16 and not (
            node.op_type in ("ReduceMax", "ReduceMin") and dtype.itemsize <= 4):
        raise Unsupported(f"input is {dtype} (float dtypes; ReduceMax/Min: bool and "
                          "integers up to 32 bits too)")
    rank = len(ctx.shape(x))
    axes = _reduce_axes(ctx, node, rank)
    keepdims = bool(node.attributes.get_int("keepdims", 1))
    if axes is None:
        if node.attributes.get_int("noop_with_empty_axes", 0):
            # onnxruntime still applies the op's elementwise part (square, abs, ...):
            # a reduction over no axis.
            axes = []
        else:
            axes = list(range(rank))
    opts = AxisOptionsT()
    opts.axes = axes
    opts.keepdims = keepdims
    ctx.emit(_REDUCE[node.op_type], [ctx.tensor(x)], [ctx.output(y)], opts, node.name)


@lowers("ArgMax", "ArgMin")
def lower_arg(ctx: LoweringContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    _require_f32(ctx, x, "input")
    rank = len(ctx.shape(x))
    if rank == 0:
        raise Unsupported("scalar input")
    opts = AxisOptionsT()
    opts.axis = _axis(node.attributes.get_int("axis", 0), rank)
    opts.keepdims = bool(node.attributes.get_int("keepdims", 1))
    opts.flags = 1 if node.attributes.get_int("select_last_index", 0) else 0
    opcode = Opcode.ARG_MAX if node.op_type == "ArgMax" else Opcode.ARG_MIN
    ctx.emit(opcode, [ctx.tensor(x)], [ctx.output(y)], opts, node.name)
