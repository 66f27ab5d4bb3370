"""Lowering of the remaining ops: ops defined by an ONNX function (expanded),
index ops (GatherElements, ScatterElements, GatherND, ScatterND, TopK, OneHot,
Trilu, CumSum/CumProd, Hardmax), IsNaN/IsInf, DepthToSpace/SpaceToDepth (a
transpose between free reshapes), LpNormalization, and Constant/EyeLike
(computed at compile time).

Function expansion: many ONNX ops are defined by a function of other ops
(their schema carries the body: Attention, RMSNormalization, Swish, PRelu,
...). For those listed in FUNCTION_OPS, the node's body is instantiated for
its attributes and input types, imported like a model of its own (shape
inference, constant folding) and each of its nodes lowered in turn; the
body's inputs are the node's input tensors and its outputs become the node's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import onnx
import onnx_ir as ir

from edgec.errors import EdgecError
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.TransposeOptions import TransposeOptionsT
from edgec.lower import context
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.program import BF16, DTYPES, Tensor

# Ops lowered through their ONNX function body (the schema's, for the node's opset).
FUNCTION_OPS = (
    "AffineGrid", "Attention", "BlackmanWindow", "CausalConvWithState", "Celu",
    "CenterCropPad", "DynamicQuantizeLinear", "FlexAttention", "GroupNormalization",
    "HammingWindow", "HannWindow", "LinearAttention", "MeanVarianceNormalization",
    "NegativeLogLikelihoodLoss", "RMSNormalization", "ReduceLogSum", "RotaryEmbedding", "Shrink",
    "SoftmaxCrossEntropyLoss", "SwiGLU", "Swish", "ThresholdedRelu",
)
F32 = np.dtype(np.float32)
INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
# the dtypes the scatter kernels reduce over (scatter_common.h)
_SCATTER_REDUCIBLE = (F32, np.dtype(np.float16), np.dtype(np.int8), np.dtype(np.uint8),
                      *INDEX_DTYPES)


# ---- helpers -------------------------------------------------------------------------


def _opset(node: ir.Node, domain: str | None = None) -> int:
    domain = node.domain if domain is None else domain
    if node.version is not None and domain == node.domain:
        return int(node.version)
    graph = node.graph
    if graph is not None:
        for d in ((domain, "ai.onnx") if domain in ("", "ai.onnx") else (domain,)):
            if d in graph.opset_imports:
                return int(graph.opset_imports[d])
    return onnx.defs.onnx_opset_version()


def _input(node: ir.Node, i: int) -> ir.Value | None:
    return node.inputs[i] if i < len(node.inputs) else None


def _is_used(value: ir.Value | None) -> bool:
    return value is not None and (bool(value.uses()) or value.is_graph_output())


def _axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"{what} {axis} is outside rank {rank}")
    return axis + rank if axis < 0 else axis


def _fold(node: ir.Node, array: np.ndarray, index: int = 0) -> None:
    """Makes the output a compile-time constant (0-d stays 0-d)."""
    array = np.asarray(array)
    if array.dtype not in DTYPES:
        raise Unsupported(f"{array.dtype} output (the runtime has "
                          f"{', '.join(str(d) for d in DTYPES)})")
    node.outputs[index].const_value = ir.tensor(np.ascontiguousarray(array).reshape(array.shape))


def _type_proto(ctx: LoweringContext, value: ir.Value) -> onnx.TypeProto:
    dtype = onnx.helper.np_dtype_to_tensor_dtype(ctx.dtype(value))
    return onnx.helper.make_tensor_type_proto(dtype, list(ctx.shape(value)))


# ---- function expansion --------------------------------------------------------------


def function_body(node_proto: onnx.NodeProto, opset: int,
                  input_types: list[onnx.TypeProto]) -> onnx.FunctionProto:
    """The function that defines node_proto's op at this opset, for its attributes and
    input types (context-dependent functions depend on both)."""
    try:
        schema = onnx.defs.get_schema(node_proto.op_type, opset, node_proto.domain)
    except onnx.defs.SchemaError:
        raise Unsupported(f"no schema for opset {opset}") from None
    candidates: list[tuple[int, bool]] = []
    if schema.has_function:
        candidates += [(v, False) for v in schema.function_opset_versions]
    if schema.has_context_dependent_function:
        candidates += [(v, True) for v in schema.context_dependent_function_opset_versions]
    if not candidates:
        raise Unsupported(f"opset {opset} defines no function body for it")
    fitting = [c for c in candidates if c[0] <= opset]
    version, dependent = max(fitting) if fitting else min(candidates)
    if dependent:
        data = schema.get_context_dependent_function_with_opset_version(
            version, node_proto.SerializeToString(),
            [t.SerializeToString() for t in input_types])
    else:
        data = schema.get_function_with_opset_version(version)
    if not data:
        raise Unsupported("its function body cannot be built for these inputs")
    fn = onnx.FunctionProto()
    fn.ParseFromString(data)
    # Attributes the node leaves out take the schema's defaults inside the body.
    given = {a.name for a in node_proto.attribute}
    for name, attr in schema.attributes.items():
        if name not in given and attr.default_value.name:
            node_proto.attribute.append(attr.default_value)
    return fn


def expand_function(node_proto: onnx.NodeProto, fn: onnx.FunctionProto,
                    prefix: str) -> list[onnx.NodeProto]:
    """fn's nodes with the node's inputs, outputs and attributes substituted; other
    value names get prefix."""
    names: dict[str, str] = {}
    for formal, actual in itertools.zip_longest(fn.input, node_proto.input, fillvalue=""):
        if formal:
            names[formal] = actual
    for formal, actual in itertools.zip_longest(fn.output, node_proto.output, fillvalue=""):
        if formal:
            names[formal] = actual or prefix + formal
    attrs = {a.name: a for a in node_proto.attribute}
    out = []
    def rename(x: str) -> str:
        return names.get(x, prefix + x) if x else ""

    for i, n in enumerate(fn.node):
        new = onnx.NodeProto()
        new.CopyFrom(n)
        new.name = f"{prefix}{n.name or n.op_type}_{i}"
        _rename_node(new, rename)
        del new.attribute[:]
        for a in n.attribute:
            if a.ref_attr_name:
                if a.ref_attr_name in attrs:
                    sub = onnx.AttributeProto()
                    sub.CopyFrom(attrs[a.ref_attr_name])
                    sub.name = a.name
                    new.attribute.append(sub)
                continue
            sub = onnx.AttributeProto()
            sub.CopyFrom(a)
            for g in ([sub.g] if sub.type == onnx.AttributeProto.GRAPH else list(sub.graphs)):
                _rename_graph(g, rename)
            new.attribute.append(sub)
        out.append(new)
    return out


def _rename_node(node: onnx.NodeProto, rename: Callable[[str], str]) -> None:
    inputs, outputs = [rename(x) for x in node.input], [rename(x) for x in node.output]
    del node.input[:]
    node.input.extend(inputs)
    del node.output[:]
    node.output.extend(outputs)


def _rename_graph(graph: onnx.GraphProto, rename: Callable[[str], str]) -> None:
    """Renames every value of a subgraph (its own and the ones it reads from outside)."""
    for vi in [*graph.input, *graph.output, *graph.value_info]:
        vi.name = rename(vi.name)
    for t in graph.initializer:
        t.name = rename(t.name)
    for node in graph.node:
        _rename_node(node, rename)
        for a in node.attribute:
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                _rename_graph(g, rename)


@lowers(*FUNCTION_OPS)
def lower_function(ctx: LoweringContext, node: ir.Node) -> None:
    node_proto = ir.serde.serialize_node(node)
    _inline_outer_constants(ctx, node, node_proto)
    opset = _opset(node)
    input_types = [_type_proto(ctx, v) if v is not None else onnx.TypeProto()
                   for v in node.inputs]
    fn = function_body(node_proto, opset, input_types)
    prefix = f"{node.name or node.op_type}/"
    body = expand_function(node_proto, fn, prefix)

    opsets = {o.domain: o.version for o in fn.opset_import}
    opsets.setdefault("", opset if node.domain in ("", "ai.onnx") else 18)
    _lower_body(ctx, node, body, opsets, "function body")


def _inline_outer_constants(ctx: LoweringContext, node: ir.Node,
                            node_proto: onnx.NodeProto) -> None:
    """The constants a graph attribute reads from outside (the import lifts subgraph
    initializers into the main graph) become initializers of that graph again, so
    the function body that inlines it (FlexAttention's score_mod) has them."""
    for attr in node_proto.attribute:
        if attr.type != onnx.AttributeProto.GRAPH:
            continue
        sub = node.attributes[attr.name].value
        defined = {v.name for v in sub.inputs} | {i.name for i in attr.g.initializer}
        for sub_node in sub.all_nodes():
            defined |= {v.name for v in sub_node.outputs}
        for sub_node in sub.all_nodes():
            for value in sub_node.inputs:
                if value is None or not value.name or value.name in defined:
                    continue
                data = ctx.const(value)
                if data is not None:
                    attr.g.initializer.append(onnx.numpy_helper.from_array(
                        np.asarray(data).astype(ctx.dtype(value), copy=False), value.name))
                    defined.add(value.name)


def _lower_body(ctx: LoweringContext, node: ir.Node, body: list[onnx.NodeProto],
                opsets: dict[str, int], what: str) -> None:
    """Lowers ONNX nodes that stand for `node`: they read the node's input names and
    write its output names. Imported like a model (shape inference, folding)."""
    from edgec.frontend.onnx_import import import_onnx  # local: the frontend imports lowering

    inputs = [v for v in node.inputs if v is not None]
    graph_inputs, initializers = [], []
    for value in dict.fromkeys(inputs):  # unique, in order
        data = ctx.const(value)
        if data is not None:
            initializers.append(onnx.numpy_helper.from_array(
                np.asarray(data).astype(ctx.dtype(value), copy=False), value.name))
        else:
            graph_inputs.append(onnx.helper.make_value_info(value.name,
                                                            _type_proto(ctx, value)))
    outputs = [v for v in node.outputs if v.name and _is_used(v)]
    graph_outputs = [onnx.helper.make_value_info(v.name, _type_proto(ctx, v)) for v in outputs]
    model = onnx.helper.make_model(
        onnx.helper.make_graph(body, f"{node.op_type}_body", graph_inputs, graph_outputs,
                               initializers),
        opset_imports=[onnx.helper.make_opsetid(d, v) for d, v in opsets.items()])
    model.ir_version = max(model.ir_version, 8)
    try:
        sub = import_onnx(model).graph
    except EdgecError as exc:
        raise Unsupported(f"its {what} does not import: {exc}") from None

    outer = {v.name: v for v in inputs}
    for value in sub.inputs:
        ctx._bind(value, ctx.tensor(outer[value.name]))  # the body reads the node's inputs
    for sub_node in sub:
        lower = context._REGISTRY.get(sub_node.op_type)
        if lower is None or sub_node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"its {what} uses {sub_node.op_type}, which edgec "
                              "does not lower")
        try:
            lower(ctx, sub_node)
        except Unsupported as exc:
            raise Unsupported(f"in its {what}, {context.node_label(sub_node)}: "
                              f"{exc}") from None
    produced = {v.name: v for v in sub.outputs}
    for value in outputs:
        if value.name in produced:
            ctx._bind(value, ctx.tensor(produced[value.name]))
        else:  # the output is an input of the body, unchanged
            ctx._bind(value, ctx.tensor(outer[value.name]))


# ---- tensor helpers ------------------------------------------------------------------


def _reshaped(ctx: LoweringContext, index: int, shape: tuple[int, ...], name: str) -> int:
    """A view of tensor `index` under another shape (same bytes, no instruction)."""
    t = ctx.program.tensors[index]
    if t.data is not None:
        return ctx.constant(t.data.reshape(shape), name)
    root = t.alias_of if t.alias_of is not None else index
    return ctx.program.add_tensor(Tensor(name=name, dtype=t.dtype, shape=shape, alias_of=root))


def _const_int(ctx: LoweringContext, value: ir.Value | None, what: str) -> int | None:
    if value is None:
        return None
    data = ctx.const(value)
    if data is None:
        raise Unsupported(f"{what} must be a compile-time constant")
    return int(np.asarray(data).reshape(-1)[0])


def _runtime_dtype(ctx: LoweringContext, value: ir.Value, what: str = "input") -> np.dtype:
    dtype = ctx.dtype(value)
    if dtype not in DTYPES:
        raise Unsupported(f"{what} of dtype {dtype} (the runtime has "
                          f"{', '.join(str(d) for d in DTYPES)})")
    return dtype


def _index_dtype(ctx: LoweringContext, value: ir.Value) -> None:
    if ctx.dtype(value) not in INDEX_DTYPES:
        raise Unsupported(f"{ctx.dtype(value)} indices (int32 or int64 only)")


_REDUCTIONS = {"none": 0, "add": 1, "mul": 2, "max": 3, "min": 4}


def _reduction(node: ir.Node) -> int:
    name = node.attributes.get_string("reduction", "none")
    if name not in _REDUCTIONS:
        raise Unsupported(f"reduction {name!r}")
    return _REDUCTIONS[name]


# ---- gather / scatter ----------------------------------------------------------------


@lowers("GatherElements")
def lower_gather_elements(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices = node.inputs[0], node.inputs[1]
    _runtime_dtype(ctx, data)
    _index_dtype(ctx, indices)
    rank = len(ctx.shape(data))
    axis = _axis(node.attributes.get_int("axis", 0), rank)
    ctx.emit(Opcode.GATHER_ELEMENTS, [ctx.tensor(data), ctx.tensor(indices)],
             [ctx.output(node.outputs[0])], AxisOptionsT(axis=axis), node.name)


@lowers("ScatterElements", "Scatter")
def lower_scatter_elements(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices, updates = node.inputs[0], node.inputs[1], node.inputs[2]
    dtype = _runtime_dtype(ctx, data)
    _index_dtype(ctx, indices)
    flags = _reduction(node)
    if flags and dtype not in _SCATTER_REDUCIBLE:
        raise Unsupported(f"a reduction over {dtype}")
    rank = len(ctx.shape(data))
    axis = _axis(node.attributes.get_int("axis", 0), rank)
    ctx.emit(Opcode.SCATTER_ELEMENTS, [ctx.tensor(data), ctx.tensor(indices),
                                       ctx.tensor(updates)],
             [ctx.output(node.outputs[0])], AxisOptionsT(axis=axis, flags=flags), node.name)


@lowers("GatherND")
def lower_gather_nd(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices = node.inputs[0], node.inputs[1]
    _runtime_dtype(ctx, data)
    _index_dtype(ctx, indices)
    batch_dims = node.attributes.get_int("batch_dims", 0)
    ctx.emit(Opcode.GATHER_ND, [ctx.tensor(data), ctx.tensor(indices)],
             [ctx.output(node.outputs[0])], AxisOptionsT(size=batch_dims), node.name)


@lowers("ScatterND")
def lower_scatter_nd(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices, updates = node.inputs[0], node.inputs[1], node.inputs[2]
    dtype = _runtime_dtype(ctx, data)
    _index_dtype(ctx, indices)
    flags = _reduction(node)
    if flags and dtype not in _SCATTER_REDUCIBLE:
        raise Unsupported(f"a reduction over {dtype}")
    ctx.emit(Opcode.SCATTER_ND, [ctx.tensor(data), ctx.tensor(indices), ctx.tensor(updates)],
             [ctx.output(node.outputs[0])], AxisOptionsT(flags=flags), node.name)


# ---- Trilu, CumSum/CumProd, TopK, OneHot, Hardmax ------------------------------------


@lowers("Trilu")
def lower_trilu(ctx: LoweringContext, node: ir.Node) -> None:
    x, k = node.inputs[0], _input(node, 1)
    _runtime_dtype(ctx, x)
    if len(ctx.shape(x)) < 2:
        raise Unsupported("rank below 2")
    inputs = [ctx.tensor(x)]
    if k is not None:
        _index_dtype(ctx, k)
        inputs.append(ctx.tensor(k))
    flags = 1 if node.attributes.get_int("upper", 1) else 0
    ctx.emit(Opcode.TRILU, inputs, [ctx.output(node.outputs[0])], AxisOptionsT(flags=flags),
             node.name)


@lowers("CumSum", "CumProd")
def lower_cumulative(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    dtype = _runtime_dtype(ctx, x)
    if dtype == np.bool_:
        raise Unsupported("bool input")
    rank = len(ctx.shape(x))
    axis = _const_int(ctx, node.inputs[1], "axis")
    assert axis is not None
    flags = (1 if node.attributes.get_int("exclusive", 0) else 0) | \
        (2 if node.attributes.get_int("reverse", 0) else 0)
    opcode = Opcode.CUMSUM if node.op_type == "CumSum" else Opcode.CUMPROD
    ctx.emit(opcode, [ctx.tensor(x)], [ctx.output(node.outputs[0])],
             AxisOptionsT(axis=_axis(axis, rank), flags=flags), node.name)


@lowers("TopK")
def lower_top_k(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    dtype = _runtime_dtype(ctx, x)
    if dtype == np.bool_:
        raise Unsupported("bool input")
    shape = ctx.shape(x)
    axis = _axis(node.attributes.get_int("axis", -1), len(shape))
    k = _const_int(ctx, node.inputs[1], "k")
    values, indices = node.outputs[0], node.outputs[1]
    if k is None or ctx.shape(values)[axis] != k:
        raise EdgecError(f"TopK k={k} disagrees with the output shape {ctx.shape(values)}")
    flags = (1 if node.attributes.get_int("largest", 1) else 0) | \
        (2 if node.attributes.get_int("sorted", 1) else 0)
    ctx.emit(Opcode.TOP_K, [ctx.tensor(x)], [ctx.output(values), ctx.output(indices)],
             AxisOptionsT(axis=axis, flags=flags), node.name, scratch_size=16 * shape[axis])


@lowers("OneHot")
def lower_one_hot(ctx: LoweringContext, node: ir.Node) -> None:
    indices, depth, values = node.inputs[0], node.inputs[1], node.inputs[2]
    out = node.outputs[0]
    if ctx.dtype(indices) not in (F32, np.dtype(np.int8), np.dtype(np.uint8), *INDEX_DTYPES):
        raise Unsupported(f"{ctx.dtype(indices)} indices")
    _runtime_dtype(ctx, values, "values")
    rank = len(ctx.shape(out))
    axis = _axis(node.attributes.get_int("axis", -1), rank)
    d = _const_int(ctx, depth, "depth")
    if d is None or ctx.shape(out)[axis] != d:
        raise EdgecError(f"OneHot depth {d} disagrees with the output shape {ctx.shape(out)}")
    ctx.emit(Opcode.ONE_HOT, [ctx.tensor(indices), ctx.tensor(values)], [ctx.output(out)],
             AxisOptionsT(axis=axis), node.name)


@lowers("Hardmax")
def lower_hardmax(ctx: LoweringContext, node: ir.Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    if ctx.dtype(x) not in (F32, np.dtype(np.float16)):
        raise Unsupported(f"{ctx.dtype(x)} input (float32, float16 only)")
    shape = ctx.shape(x)
    if not shape:
        raise Unsupported("scalar input")
    if _opset(node) >= 13:
        axis = _axis(node.attributes.get_int("axis", -1), len(shape))
        ctx.emit(Opcode.HARDMAX, [ctx.tensor(x)], [ctx.output(out)], AxisOptionsT(axis=axis),
                 node.name)
        return
    # opset < 13: over the input coerced to 2-D at axis
    axis = _axis(node.attributes.get_int("axis", 1), len(shape) + 1)
    flat = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
    src = _reshaped(ctx, ctx.tensor(x), flat, f"{x.name}/2d")
    dst = _reshaped(ctx, ctx.output(out), flat, f"{out.name}/2d")
    ctx.emit(Opcode.HARDMAX, [src], [dst], AxisOptionsT(axis=1), node.name)


# ---- IsNaN / IsInf -------------------------------------------------------------------


@lowers("IsNaN", "IsInf")
def lower_is_class(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if ctx.dtype(x) not in (F32, np.dtype(np.float16), np.dtype(np.float64), BF16):
        raise Unsupported(f"{ctx.dtype(x)} input (float dtypes only)")
    if node.op_type == "IsNaN":
        ctx.emit(Opcode.IS_NAN, [ctx.tensor(x)], [ctx.output(node.outputs[0])], name=node.name)
        return
    flags = (1 if node.attributes.get_int("detect_negative", 1) else 0) | \
        (2 if node.attributes.get_int("detect_positive", 1) else 0)
    ctx.emit(Opcode.IS_INF, [ctx.tensor(x)], [ctx.output(node.outputs[0])],
             AxisOptionsT(flags=flags), node.name)


# ---- computed at compile time: Constant, EyeLike -------------------------------------


@lowers("Constant")
def lower_constant(ctx: LoweringContext, node: ir.Node) -> None:
    attrs = node.attributes
    if "value" in attrs:
        array = attrs["value"].value.numpy()
    elif "value_float" in attrs:
        array = np.array(attrs.get_float("value_float"), np.float32)
    elif "value_floats" in attrs:
        array = np.array(list(attrs.get_floats("value_floats")), np.float32)
    elif "value_int" in attrs:
        array = np.array(attrs.get_int("value_int"), np.int64)
    elif "value_ints" in attrs:
        array = np.array(list(attrs.get_ints("value_ints")), np.int64)
    else:
        raise Unsupported(f"attribute {', '.join(attrs)}")
    _fold(node, array)


@lowers("EyeLike")
def lower_eye_like(ctx: LoweringContext, node: ir.Node) -> None:
    shape = ctx.shape(node.inputs[0])
    if len(shape) != 2:
        raise Unsupported(f"rank {len(shape)} (2 only)")
    dtype = ctx.dtype(node.outputs[0])
    _fold(node, np.eye(shape[0], shape[1], node.attributes.get_int("k", 0), dtype=dtype))


# ---- DepthToSpace / SpaceToDepth -----------------------------------------------------


@lowers("DepthToSpace", "SpaceToDepth")
def lower_depth_space(ctx: LoweringContext, node: ir.Node) -> None:
    """A reshape to 6-D, a transpose and a reshape back (the reshapes are free)."""
    x, out = node.inputs[0], node.outputs[0]
    _runtime_dtype(ctx, x)
    shape = ctx.shape(x)
    if len(shape) != 4:
        raise Unsupported(f"rank {len(shape)} (4 only)")
    n, c, h, w = shape
    b = node.attributes.get_int("blocksize", 0)
    mode = node.attributes.get_string("mode", "DCR")
    if b < 1 or mode not in ("DCR", "CRD"):
        raise Unsupported(f"blocksize {b}, mode {mode!r}")
    if node.op_type == "DepthToSpace":
        if mode == "DCR":
            six, perm = (n, b, b, c // (b * b), h, w), [0, 3, 4, 1, 5, 2]
        else:
            six, perm = (n, c // (b * b), b, b, h, w), [0, 1, 4, 2, 5, 3]
    else:
        six = (n, c, h // b, b, w // b, b)
        perm = [0, 3, 5, 1, 2, 4] if mode == "DCR" else [0, 1, 3, 5, 2, 4]
    src = _reshaped(ctx, ctx.tensor(x), six, f"{x.name}/6d")
    dst = _reshaped(ctx, ctx.output(out), tuple(six[p] for p in perm), f"{out.name}/6d")
    ctx.emit(Opcode.TRANSPOSE, [src], [dst], TransposeOptionsT(perm=perm), node.name)


# ---- LpNormalization -----------------------------------------------------------------


@lowers("LpNormalization")
def lower_lp_normalization(ctx: LoweringContext, node: ir.Node) -> None:
    """x / norm(x) along the axis, 0 where the norm is 0 (as ONNX's reference)."""
    x, out = node.inputs[0], node.outputs[0]
    if ctx.dtype(x) != F32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    shape = ctx.shape(x)
    axis = _axis(node.attributes.get_int("axis", -1), len(shape))
    p = node.attributes.get_int("p", 2)
    if p not in (1, 2):
        raise Unsupported(f"p={p} (1 or 2 only)")
    kept = tuple(1 if d == axis else s for d, s in enumerate(shape))
    norm = ctx.scratch_tensor(f"{out.name}/norm", F32, kept)
    ctx.emit(Opcode.REDUCE_L1 if p == 1 else Opcode.REDUCE_L2, [ctx.tensor(x)], [norm],
             AxisOptionsT(axes=[axis], keepdims=True), node.name)
    zero = ctx.constant(np.zeros((), F32), f"{out.name}/zero")
    is_zero = ctx.scratch_tensor(f"{out.name}/is_zero", np.dtype(np.bool_), kept)
    ctx.emit(Opcode.EQUAL, [norm, zero], [is_zero], name=node.name)
    quotient = ctx.scratch_tensor(f"{out.name}/quotient", F32, shape)
    ctx.emit(Opcode.DIV, [ctx.tensor(x), norm], [quotient], name=node.name)
    ctx.emit(Opcode.WHERE, [is_zero, zero, quotient], [ctx.output(out)], name=node.name)


# ---- PRelu ---------------------------------------------------------------------------


@lowers("PRelu")
def lower_prelu(ctx: LoweringContext, node: ir.Node) -> None:
    """x < 0 ? slope * x : x. A slope of shape [C] against an input of rank > 2 whose
    last dim is not C is the legacy per-channel form (opset < 7): it broadcasts over
    axis 1."""
    x, slope, out = node.inputs[0], node.inputs[1], node.outputs[0]
    dtype = ctx.dtype(x)
    if dtype not in (F32, np.dtype(np.float16)) or ctx.dtype(slope) != dtype:
        raise Unsupported(f"{dtype} input, {ctx.dtype(slope)} slope (float32, float16 only)")
    shape, sshape = ctx.shape(x), ctx.shape(slope)
    s = ctx.tensor(slope)
    if len(sshape) == 1 and len(shape) > 2 and sshape[0] == shape[1] and \
            sshape[0] != shape[-1]:
        s = _reshaped(ctx, s, (sshape[0],) + (1,) * (len(shape) - 2), f"{slope.name}/channel")
    xi = ctx.tensor(x)
    zero = ctx.constant(np.zeros((), dtype), f"{out.name}/zero")
    negative = ctx.scratch_tensor(f"{out.name}/negative", np.dtype(np.bool_), shape)
    ctx.emit(Opcode.LESS, [xi, zero], [negative], name=node.name)
    scaled = ctx.scratch_tensor(f"{out.name}/scaled", dtype, shape)
    ctx.emit(Opcode.MUL, [xi, s], [scaled], name=node.name)
    ctx.emit(Opcode.WHERE, [negative, scaled, xi], [ctx.output(out)], name=node.name)


# ---- GridSample ----------------------------------------------------------------------


_GRID_MODES = {"bilinear": 0, "linear": 0, "nearest": 1, "bicubic": 2, "cubic": 2}
_GRID_PADDING = {"zeros": 0, "border": 1, "reflection": 2}


@lowers("GridSample")
def lower_grid_sample(ctx: LoweringContext, node: ir.Node) -> None:
    x, grid = node.inputs[0], node.inputs[1]
    if ctx.dtype(x) != F32 or ctx.dtype(grid) != F32:
        raise Unsupported(f"{ctx.dtype(x)} X, {ctx.dtype(grid)} grid (float32 only)")
    rank = len(ctx.shape(x))
    mode = node.attributes.get_string("mode", "bilinear" if _opset(node) < 20 else "linear")
    padding = node.attributes.get_string("padding_mode", "zeros")
    if mode not in _GRID_MODES or padding not in _GRID_PADDING or not 3 <= rank <= 5:
        raise Unsupported(f"mode {mode!r}, padding_mode {padding!r}, rank {rank}")
    if _GRID_MODES[mode] == 2 and rank != 4:
        raise Unsupported("cubic mode on other than 2 spatial dims")
    flags = _GRID_MODES[mode] | _GRID_PADDING[padding] << 2 | \
        (16 if node.attributes.get_int("align_corners", 0) else 0)
    ctx.emit(Opcode.GRID_SAMPLE, [ctx.tensor(x), ctx.tensor(grid)],
             [ctx.output(node.outputs[0])], AxisOptionsT(flags=flags), node.name)


# ---- RNN / GRU / LSTM ----------------------------------------------------------------


_ACTIVATIONS = {"Sigmoid": 0, "Tanh": 1, "Relu": 2}
_RECURRENT = {"RNN": (Opcode.RNN, 1, 2), "GRU": (Opcode.GRU, 3, 2), "LSTM": (Opcode.LSTM, 4, 3)}


@lowers("RNN", "GRU", "LSTM")
def lower_recurrent(ctx: LoweringContext, node: ir.Node) -> None:
    opcode, gates, n_out = _RECURRENT[node.op_type]
    attrs = node.attributes
    if ctx.dtype(node.inputs[0]) != F32:
        raise Unsupported(f"{ctx.dtype(node.inputs[0])} X (float32 only)")
    direction = attrs.get_string("direction", "forward")
    directions = {"forward": 0, "reverse": 1, "bidirectional": 2}
    if direction not in directions:
        raise Unsupported(f"direction {direction!r}")
    if attrs.get_int("input_forget", 0):
        raise Unsupported("input_forget=1")
    names = list(attrs.get_strings("activations", []))
    if names:
        unknown = [a for a in names if a not in _ACTIVATIONS]
        if unknown:
            raise Unsupported(f"activation {unknown[0]} (Sigmoid, Tanh, Relu only)")
        if attrs.get_floats("activation_alpha", None) or attrs.get_floats("activation_beta",
                                                                           None):
            raise Unsupported("activation_alpha/beta")
    hidden = attrs.get_int("hidden_size", 0)
    if not hidden:
        hidden = ctx.shape(node.inputs[2])[-1]
    layout = attrs.get_int("layout", 0)
    flags = directions[direction] | (4 if layout else 0) | \
        (8 if node.op_type == "GRU" and attrs.get_int("linear_before_reset", 0) else 0)
    opts = AxisOptionsT(size=hidden, epsilon=float(attrs.get_float("clip", 0.0)),
                        axes=[_ACTIVATIONS[a] for a in names], flags=flags)
    inputs = []
    for i, value in enumerate(node.inputs):
        if value is None:
            inputs.append(-1)
            continue
        if i == 4:
            _index_dtype(ctx, value)
        elif ctx.dtype(value) != F32:
            raise Unsupported(f"input {i} is {ctx.dtype(value)} (float32 only)")
        inputs.append(ctx.tensor(value))
    while inputs and inputs[-1] == -1:
        inputs.pop()
    outputs = []
    for i in range(n_out):
        value = node.outputs[i] if i < len(node.outputs) else None
        if value is not None and value.name:
            outputs.append(ctx.output(value))
            continue
        # absent outputs: scratch tensors of the shapes ONNX gives them
        x = ctx.shape(node.inputs[0])
        seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
        dirs = 2 if direction == "bidirectional" else 1
        shape = ((batch, seq, dirs, hidden) if layout else (seq, dirs, batch, hidden)) if i == 0 \
            else ((batch, dirs, hidden) if layout else (dirs, batch, hidden))
        outputs.append(ctx.scratch_tensor(f"{node.name}/out{i}", F32, shape))
    ctx.emit(opcode, inputs, outputs, opts, node.name, scratch_size=4 * (gates + 1) * hidden)


# ---- BitCast -------------------------------------------------------------------------


@lowers("BitCast")
def lower_bitcast(ctx: LoweringContext, node: ir.Node) -> None:
    """The input's bytes read as another dtype of the same size: no instruction."""
    x, out = node.inputs[0], node.outputs[0]
    source, target = _runtime_dtype(ctx, x), _runtime_dtype(ctx, out, "output")
    if source.itemsize != target.itemsize or ctx.shape(x) != ctx.shape(out):
        raise Unsupported(f"{source} to {target} (same element size only)")
    index = ctx.tensor(x)
    t = ctx.program.tensors[index]
    if t.data is not None:
        view = ctx.constant(np.ascontiguousarray(t.data).view(target), out.name or "bitcast")
    else:
        root = t.alias_of if t.alias_of is not None else index
        view = ctx.program.add_tensor(Tensor(name=out.name or "bitcast", dtype=target,
                                             shape=ctx.shape(out), alias_of=root))
    ctx._bind(out, view)  # the output is the input's bytes


# ---- Scan (unrolled) -----------------------------------------------------------------


def _subgraph_model(ctx: LoweringContext, node: ir.Node, body: ir.Graph,
                    input_shapes: list[tuple[np.dtype, tuple[int, ...]]]
                    ) -> tuple[ir.Graph, dict[str, ir.Value]]:
    """The body as a model of its own, its inputs typed with the given shapes and the
    outer values it reads added as inputs (or initializers when constant); imported
    (shape inference, folding). Returns the imported graph and the outer values."""
    from edgec.frontend.onnx_import import import_onnx  # local: the frontend imports lowering

    proto = ir.serde.serialize_graph(body)
    defined = {i.name for i in proto.input} | {t.name for t in proto.initializer}
    defined |= {o for n in proto.node for o in n.output}
    outer: dict[str, ir.Value] = {}
    for sub_node in body:
        for value in sub_node.inputs:
            if value is not None and value.name and value.name not in defined:
                outer[value.name] = value
    for vi, (dtype, shape) in zip(proto.input, input_shapes, strict=True):
        vi.type.CopyFrom(onnx.helper.make_tensor_type_proto(
            onnx.helper.np_dtype_to_tensor_dtype(dtype), list(shape)))
    for name, value in outer.items():
        data = ctx.const(value)
        if data is not None:
            proto.initializer.append(onnx.numpy_helper.from_array(
                np.asarray(data).astype(ctx.dtype(value), copy=False), name))
        else:
            proto.input.append(onnx.helper.make_value_info(name, _type_proto(ctx, value)))
    model = onnx.helper.make_model(proto, opset_imports=[
        onnx.helper.make_opsetid("", _opset(node, ""))])
    model.ir_version = max(model.ir_version, 8)
    try:
        return import_onnx(model).graph, outer
    except EdgecError as exc:
        raise Unsupported(f"its body does not import: {exc}") from None


def _lower_nodes(ctx: LoweringContext, graph: ir.Graph) -> None:
    for sub_node in graph:
        lower = context._REGISTRY.get(sub_node.op_type)
        if lower is None or sub_node.domain not in ("", "ai.onnx"):
            raise Unsupported(f"its body uses {sub_node.op_type}, which edgec does not lower")
        try:
            lower(ctx, sub_node)
        except Unsupported as exc:
            raise Unsupported(f"in its body, {context.node_label(sub_node)}: {exc}") from None


@lowers("Scan")
def lower_scan(ctx: LoweringContext, node: ir.Node) -> None:
    """Unrolled: the body is lowered once per iteration (the trip count is static), its
    scan inputs sliced per iteration and its scan outputs concatenated."""
    if _opset(node) < 9:
        raise Unsupported("opset-8 Scan (batch axis, sequence_lens)")
    attrs = node.attributes
    body = attrs["body"].value
    m = attrs.get_int("num_scan_inputs", 0)
    inputs = list(node.inputs)
    n = len(inputs) - m
    k = len(node.outputs) - n
    in_axes = list(attrs.get_ints("scan_input_axes", [0] * m))
    in_dirs = list(attrs.get_ints("scan_input_directions", [0] * m))
    out_axes = list(attrs.get_ints("scan_output_axes", [0] * k))
    out_dirs = list(attrs.get_ints("scan_output_directions", [0] * k))
    if m < 1 or n < 0 or any(v is None for v in inputs):
        raise Unsupported("absent inputs or no scan input")
    scans = inputs[n:]
    axes = [_axis(a, len(ctx.shape(v))) for a, v in zip(in_axes, scans, strict=True)]
    trips = {ctx.shape(v)[a] for v, a in zip(scans, axes, strict=True)}
    if len(trips) != 1:
        raise Unsupported(f"scan inputs of different lengths {sorted(trips)}")
    trip = trips.pop()
    if trip < 1 or trip > 4096:
        raise Unsupported(f"{trip} iterations (1 to 4096 are unrolled)")
    shapes = [(ctx.dtype(v), ctx.shape(v)) for v in inputs[:n]]
    shapes += [(ctx.dtype(v), tuple(d for i, d in enumerate(ctx.shape(v)) if i != a))
               for v, a in zip(scans, axes, strict=True)]
    sub, outer = _subgraph_model(ctx, node, body, shapes)
    outer_index = {name: ctx.tensor(value) for name, value in outer.items()
                   if ctx.const(value) is None}
    states = [ctx.tensor(v) for v in inputs[:n]]
    pieces: list[list[int]] = [[] for _ in range(k)]
    for t in range(trip):
        for j, (value, a) in enumerate(zip(scans, axes, strict=True)):
            at = trip - 1 - t if in_dirs[j] else t
            dtype, shape = shapes[n + j]
            piece = ctx.scratch_tensor(f"{value.name}/{at}", dtype, shape)
            ctx.emit(Opcode.GATHER, [ctx.tensor(value), ctx.constant(np.array(at), "index")],
                     [piece], AxisOptionsT(axis=a), node.name)
            ctx._bind(sub.inputs[n + j], piece)
        for i in range(n):
            ctx._bind(sub.inputs[i], states[i])
        for value in sub.inputs[n + m:]:
            ctx._bind(value, outer_index[value.name])
        _lower_nodes(ctx, sub)
        states = [ctx.tensor(v) for v in sub.outputs[:n]]
        for j in range(k):
            pieces[j].append(ctx.tensor(sub.outputs[n + j]))
    for i in range(n):
        out = node.outputs[i]
        dst = ctx.output(out)
        ctx.emit(Opcode.COPY, [states[i]], [dst], name=node.name)
    for j in range(k):
        out = node.outputs[n + j]
        shape = ctx.shape(out)
        axis = _axis(out_axes[j], len(shape))
        ordered = pieces[j][::-1] if out_dirs[j] else pieces[j]
        one = tuple(1 if i == axis else d for i, d in enumerate(shape))
        views = [_reshaped(ctx, p, one, f"{out.name}/{t}") for t, p in enumerate(ordered)]
        ctx.emit(Opcode.CONCAT, views, [ctx.output(out)], AxisOptionsT(axis=axis), node.name)


# ---- DFT -----------------------------------------------------------------------------


@lowers("DFT")
def lower_dft(ctx: LoweringContext, node: ir.Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    if ctx.dtype(x) != F32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    shape = ctx.shape(x)
    attrs = node.attributes
    if _opset(node) >= 20:
        axis = _const_int(ctx, _input(node, 2), "axis")
        axis = -2 if axis is None else axis
    else:
        axis = attrs.get_int("axis", 1)
    axis = _axis(axis, len(shape))
    if axis == len(shape) - 1:
        raise Unsupported("axis is the last (complex) dimension")
    inverse, onesided = attrs.get_int("inverse", 0), attrs.get_int("onesided", 0)
    length = _const_int(ctx, _input(node, 1), "dft_length")
    if length is None:
        length = 2 * (shape[axis] - 1) if inverse and onesided else shape[axis]
    flags = (1 if inverse else 0) | (2 if onesided else 0)
    ctx.emit(Opcode.DFT, [ctx.tensor(x)], [ctx.output(out)],
             AxisOptionsT(axis=axis, size=length, flags=flags), node.name)
