"""Ops whose output shape depends on the input values (docs/dynamic_shapes.md).

NonZero, NonMaxSuppression, Unique and Compress write outputs planned for an
upper bound of their shape; the dims that depend on the values are marked in
Tensor.dynamic (a bit per dim: Tensor.dynamic_dims in the file) and the runtime
records their actual extent at run time (ec_session_output_shape).

A data-dependent value may be a graph output, or go into the consumers below,
whose kernels work on its actual extent and pass it on (CONSUMERS):

- Transpose (NonZero -> Transpose gives [count, rank]);
- Gather: of a data-dependent value along a static axis after its dynamic ones
  (NMS -> Gather(axis=1) picks a column of the selected indices), or with
  data-dependent indices (boxes gathered by the selected box indices);
- Slice that takes every data-dependent axis whole (NMS -> Slice of a column);
- Cast;
- Reshape, Squeeze, Unsqueeze, Flatten, to a shape with exactly one
  data-dependent dim (the RESHAPE instruction: a copy); Identity (the same tensor).

Transpose, Gather, Slice and Cast of such values are the TRANSPOSE_DYN, GATHER_DYN,
SLICE_DYN and CAST_DYN instructions: kernels apart from the static ones (with the
producers in ops_misc.def), so that a runtime without the data-dependent ops carries
none of their code.

Anything else that reads one fails to compile with a one-line error naming the
node (check_operand, called for every node by the lowering dispatch).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from edgec.errors import EdgecError
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.SliceOptions import SliceOptionsT
from edgec.fb.TransposeOptions import TransposeOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.lower.tensor import slice_params
from edgec.program import DTYPES, Program, Tensor

INT64 = np.dtype(np.int64)
F32 = np.dtype(np.float32)
CONSUMERS = ("Transpose", "Gather", "Slice", "Cast", "Reshape", "Squeeze", "Unsqueeze",
             "Flatten", "Identity")
# the instructions that may read (DYNAMIC_IN) or write (DYNAMIC_OUT) data-dependent
# tensors: the verifier's list (runtime_c/src/model.c, dyn_support)
DYNAMIC_OUT = {Opcode.NON_ZERO, Opcode.NON_MAX_SUPPRESSION, Opcode.UNIQUE, Opcode.COMPRESS}
DYNAMIC_IN = {Opcode.RESHAPE, Opcode.TRANSPOSE_DYN, Opcode.GATHER_DYN, Opcode.SLICE_DYN,
              Opcode.CAST_DYN}
_CONSUMER_LIST = ", ".join(CONSUMERS)


# ---- helpers -------------------------------------------------------------------------


def _input(node: ir.Node, i: int) -> ir.Value | None:
    return node.inputs[i] if i < len(node.inputs) else None


def _in(node: ir.Node, i: int) -> ir.Value:
    """Required input i."""
    value = _input(node, i)
    if value is None:
        raise Unsupported(f"input {i} is missing")
    return value


def _out(node: ir.Node, i: int = 0) -> ir.Value:
    """Required output i."""
    value = node.outputs[i] if i < len(node.outputs) else None
    if value is None:
        raise Unsupported(f"output {i} is missing")
    return value


def _axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise Unsupported(f"axis {axis} is outside rank {rank}")
    return axis % rank


def _mask(ctx: LoweringContext, value: ir.Value | None) -> int:
    """The data-dependent dims of a value already lowered (0: static)."""
    if value is None:
        return 0
    index = ctx.index_of(value)
    return 0 if index is None else ctx.program.tensors[index].dynamic


def _dynamic_tensor(ctx: LoweringContext, value: ir.Value | None, name: str, dtype: np.dtype,
                    shape: tuple[int, ...], mask: int) -> int:
    """A fresh arena tensor planned for shape, with the data-dependent dims mask; bound
    to value when it is a node output, else scratch (an output nothing reads)."""
    index = ctx.program.add_tensor(Tensor(name=value.name if value is not None and value.name
                                          else name, dtype=dtype, shape=shape, dynamic=mask))
    if value is not None:
        ctx.bind(value, index)
    return index


def _output(node: ir.Node, i: int) -> ir.Value | None:
    """Output i of the node, None when absent."""
    out = node.outputs[i] if i < len(node.outputs) else None
    return out if out is not None and out.name != "" else None


def _flat(ctx: LoweringContext, value: ir.Value) -> int:
    """The tensor of a static value viewed as 1-D (an alias, or a reshaped constant)."""
    index = ctx.tensor(value)
    t = ctx.program.tensors[index]
    numel = int(np.prod(t.shape, dtype=np.int64))
    if t.shape == (numel,):
        return index
    if t.data is not None:
        return ctx.constant(t.data.reshape(-1), f"{t.name}/flat")
    root = t.alias_of if t.alias_of is not None else index
    return ctx.program.add_tensor(Tensor(name=f"{t.name}/flat", dtype=t.dtype, shape=(numel,),
                                         alias_of=root))


def _runtime_dtype(ctx: LoweringContext, value: ir.Value) -> np.dtype:
    dtype = ctx.dtype(value)
    if dtype not in DTYPES:
        raise Unsupported(f"{dtype} tensors")
    return dtype


# ---- producers -----------------------------------------------------------------------


@lowers("NonZero")
def lower_non_zero(ctx: LoweringContext, node: ir.Node) -> None:
    x = _in(node, 0)
    _runtime_dtype(ctx, x)
    shape = ctx.shape(x)
    if not shape:
        raise Unsupported("NonZero of a scalar")
    numel = int(np.prod(shape, dtype=np.int64))
    out = _dynamic_tensor(ctx, _out(node), "nonzero", INT64, (len(shape), numel), 0b10)
    ctx.emit(Opcode.NON_ZERO, [ctx.tensor(x)], [out], name=node.name or "")


def _scalar_input(ctx: LoweringContext, value: ir.Value | None, dtype: np.dtype,
                  what: str) -> int:
    """An optional scalar operand of NMS: -1 when absent (or an empty constant)."""
    if value is None or value.name == "":
        return -1
    data = ctx.const(value)
    if data is not None:
        if data.size == 0:
            return -1
        if data.size != 1:
            raise Unsupported(f"{what} has {data.size} values, expected one")
        return ctx.constant(np.asarray(data, dtype).reshape(()), f"{value.name}/scalar")
    if ctx.dtype(value) != dtype or int(np.prod(ctx.shape(value), dtype=np.int64)) != 1:
        raise Unsupported(f"{what} must be one {dtype} value")
    return ctx.tensor(value)


@lowers("NonMaxSuppression")
def lower_non_max_suppression(ctx: LoweringContext, node: ir.Node) -> None:
    boxes, scores = _in(node, 0), _in(node, 1)
    if ctx.dtype(boxes) != F32 or ctx.dtype(scores) != F32:
        raise Unsupported("boxes and scores must be float32")
    bshape, sshape = ctx.shape(boxes), ctx.shape(scores)
    if len(bshape) != 3 or bshape[2] != 4 or len(sshape) != 3 or sshape[0] != bshape[0] \
            or sshape[2] != bshape[1]:
        raise Unsupported(f"boxes {list(bshape)} and scores {list(sshape)} are not "
                          "[B, N, 4] and [B, C, N]")
    center = node.attributes.get_int("center_point_box", 0)
    if center not in (0, 1):
        raise Unsupported(f"center_point_box {center}")
    b, c, n = bshape[0], sshape[1], bshape[1]
    inputs = [ctx.tensor(boxes), ctx.tensor(scores),
              _scalar_input(ctx, _input(node, 2), INT64, "max_output_boxes_per_class"),
              _scalar_input(ctx, _input(node, 3), F32, "iou_threshold"),
              _scalar_input(ctx, _input(node, 4), F32, "score_threshold")]
    per_class = n
    if inputs[2] < 0:
        per_class = 0  # ONNX's default: nothing selected
    else:
        limit = ctx.program.tensors[inputs[2]].data
        if limit is not None:
            per_class = min(max(int(limit), 0), n)
    while inputs and inputs[-1] < 0:
        inputs.pop()
    out = _dynamic_tensor(ctx, _out(node), "selected", INT64, (b * c * per_class, 3), 1)
    ctx.emit(Opcode.NON_MAX_SUPPRESSION, inputs, [out], AxisOptionsT(flags=center),
             node.name or "",
             scratch_size=16 * n)


@lowers("Unique")
def lower_unique(ctx: LoweringContext, node: ir.Node) -> None:
    x = _in(node, 0)
    dtype = _runtime_dtype(ctx, x)
    axis_attr = node.attributes.get_int("axis")
    sorted_ = node.attributes.get_int("sorted", 1)
    if axis_attr is None:
        src = _flat(ctx, x)
        axis = 0
    else:
        src = ctx.tensor(x)
        axis = _axis(axis_attr, len(ctx.shape(x)))
    shape = ctx.program.tensors[src].shape
    dim = shape[axis]
    outs = [_dynamic_tensor(ctx, _output(node, 0), "unique/y", dtype, shape, 1 << axis),
            _dynamic_tensor(ctx, _output(node, 1), "unique/indices", INT64, (dim,), 1),
            _dynamic_tensor(ctx, _output(node, 2), "unique/inverse", INT64, (dim,), 0),
            _dynamic_tensor(ctx, _output(node, 3), "unique/counts", INT64, (dim,), 1)]
    ctx.emit(Opcode.UNIQUE, [src], outs, AxisOptionsT(axis=axis, flags=1 if sorted_ else 0),
             node.name or "", scratch_size=24 * dim)


@lowers("Compress")
def lower_compress(ctx: LoweringContext, node: ir.Node) -> None:
    x, cond = _in(node, 0), _in(node, 1)
    dtype = _runtime_dtype(ctx, x)
    if ctx.dtype(cond) != np.bool_:
        raise Unsupported(f"{ctx.dtype(cond)} condition (bool only)")
    axis_attr = node.attributes.get_int("axis")
    if axis_attr is None:
        src, axis = _flat(ctx, x), 0
    else:
        src, axis = ctx.tensor(x), _axis(axis_attr, len(ctx.shape(x)))
    shape = ctx.program.tensors[src].shape
    cond_shape = ctx.shape(cond)
    if len(cond_shape) != 1:
        raise Unsupported(f"condition of shape {list(cond_shape)} (1-D only)")
    length = min(cond_shape[0], shape[axis])
    known = ctx.const(cond)
    if known is not None:  # a constant condition: a Gather of a static shape
        picked = np.flatnonzero(np.asarray(known).reshape(-1)[:length]).astype(np.int64)
        out_shape = (*shape[:axis], len(picked), *shape[axis + 1:])
        out = ctx.program.add_tensor(Tensor(name=_out(node).name or "compress",
                                            dtype=dtype, shape=out_shape))
        ctx.bind(_out(node), out)
        ctx.emit(Opcode.GATHER, [src, ctx.constant(picked, f"{node.name}/picked")], [out],
                 AxisOptionsT(axis=axis), node.name or "")
        return
    out_shape = (*shape[:axis], length, *shape[axis + 1:])
    out = _dynamic_tensor(ctx, _out(node), "compress", dtype, out_shape, 1 << axis)
    ctx.emit(Opcode.COMPRESS, [src, ctx.tensor(cond)], [out], AxisOptionsT(axis=axis),
             node.name or "")


# ---- consumers -----------------------------------------------------------------------


def reads_dynamic(ctx: LoweringContext, node: ir.Node) -> ir.Value | None:
    """The first data-dependent value the node reads, if any."""
    for value in node.inputs:
        if value is not None and _mask(ctx, value):
            return value
    return None


def check_operand(ctx: LoweringContext, node: ir.Node) -> bool:
    """True when the node reads a data-dependent value and was lowered here (a
    consumer); raises for a node that reads one and is not."""
    value = reads_dynamic(ctx, node)
    if value is None:
        return False
    if node.op_type not in CONSUMERS or node.domain not in ("", "ai.onnx"):
        raise Unsupported(f"reads {value.name!r}, whose shape depends on the input values; "
                          f"such values go only to graph outputs and to {_CONSUMER_LIST} "
                          "(docs/dynamic_shapes.md)")
    _LOWER[node.op_type](ctx, node)
    return True


def _transpose(ctx: LoweringContext, node: ir.Node) -> None:
    x = _in(node, 0)
    t = ctx.program.tensors[ctx.tensor(x)]
    rank = len(t.shape)
    perm = [int(p) for p in node.attributes.get_ints("perm", range(rank - 1, -1, -1))]
    if sorted(perm) != list(range(rank)):
        raise Unsupported(f"perm {perm} is not a permutation of rank {rank}")
    mask = sum(((t.dynamic >> p) & 1) << i for i, p in enumerate(perm))
    out = _dynamic_tensor(ctx, _out(node), "transpose", t.dtype,
                          tuple(t.shape[p] for p in perm), mask)
    ctx.emit(Opcode.TRANSPOSE_DYN, [ctx.tensor(x)], [out], TransposeOptionsT(perm=perm),
             node.name or "")


def _gather(ctx: LoweringContext, node: ir.Node) -> None:
    data, indices = _in(node, 0), _in(node, 1)
    dt = ctx.program.tensors[ctx.tensor(data)]
    it = ctx.program.tensors[ctx.tensor(indices)]
    if it.dtype not in (np.dtype(np.int32), INT64):
        raise Unsupported(f"{it.dtype} indices (int32 or int64 only)")
    rank = len(dt.shape)
    if rank == 0:
        raise Unsupported("gather from a scalar")
    axis = _axis(node.attributes.get_int("axis", 0), rank)
    if dt.dynamic >> axis:
        raise Unsupported(f"gathers along or before axis {axis} of {data.name!r}, whose "
                          "extent there depends on the input values (docs/dynamic_shapes.md)")
    shape = dt.shape[:axis] + it.shape + dt.shape[axis + 1:]
    mask = dt.dynamic | (it.dynamic << axis)
    out = _dynamic_tensor(ctx, _out(node), "gather", dt.dtype, shape, mask)
    ctx.emit(Opcode.GATHER_DYN, [ctx.tensor(data), ctx.tensor(indices)], [out],
             AxisOptionsT(axis=axis), node.name or "")


def _const_ints(ctx: LoweringContext, value: ir.Value | None, what: str) -> list[int] | None:
    if value is None or value.name == "":
        return None
    data = ctx.const(value)
    if data is None:
        raise Unsupported(f"{what} must be a compile-time constant")
    return [int(v) for v in np.asarray(data).reshape(-1)]


def _slice(ctx: LoweringContext, node: ir.Node) -> None:
    x = _in(node, 0)
    t = ctx.program.tensors[ctx.tensor(x)]
    for i in (1, 2, 3, 4):
        if _mask(ctx, _input(node, i)):
            raise Unsupported("Slice bounds that depend on the input values")
    starts = _const_ints(ctx, _in(node, 1), "starts")
    ends = _const_ints(ctx, _in(node, 2), "ends")
    assert starts is not None and ends is not None
    full_starts, full_steps, counts = slice_params(
        t.shape, starts, ends, _const_ints(ctx, _input(node, 3), "axes"),
        _const_ints(ctx, _input(node, 4), "steps"))
    for d in range(len(t.shape)):
        if t.dynamic >> d & 1 and (full_starts[d] != 0 or full_steps[d] != 1
                                   or counts[d] != t.shape[d]):
            raise Unsupported(f"slices axis {d} of {x.name!r}, whose extent depends on the "
                              "input values (only whole such axes; docs/dynamic_shapes.md)")
    out = _dynamic_tensor(ctx, _out(node), "slice", t.dtype, tuple(counts), t.dynamic)
    ctx.emit(Opcode.SLICE_DYN, [ctx.tensor(x)], [out],
             SliceOptionsT(starts=full_starts, steps=full_steps), node.name or "")


def _cast(ctx: LoweringContext, node: ir.Node) -> None:
    x = _in(node, 0)
    t = ctx.program.tensors[ctx.tensor(x)]
    target = ctx.dtype(_out(node))
    if target not in DTYPES:
        raise Unsupported(f"cast to {target}")
    out = _dynamic_tensor(ctx, _out(node), "cast", target, t.shape, t.dynamic)
    ctx.emit(Opcode.CAST_DYN, [ctx.tensor(x)], [out], name=node.name or "")


def _reshape_to(ctx: LoweringContext, node: ir.Node, shape: list[int], dyn_dim: int) -> None:
    """RESHAPE of the node's data-dependent input to shape (its upper bound), dim dyn_dim
    data-dependent."""
    x = _in(node, 0)
    t = ctx.program.tensors[ctx.tensor(x)]
    if int(np.prod(shape, dtype=np.int64)) != int(np.prod(t.shape, dtype=np.int64)):
        raise Unsupported(f"reshapes {list(t.shape)} into {shape}")
    out = _dynamic_tensor(ctx, _out(node), "reshape", t.dtype, tuple(shape), 1 << dyn_dim)
    ctx.emit(Opcode.RESHAPE, [ctx.tensor(x)], [out], name=node.name or "")


def _one_dynamic(mask: int, name: str) -> int:
    dims = [d for d in range(32) if mask >> d & 1]
    if len(dims) != 1:
        raise Unsupported(f"{name!r} has {len(dims)} data-dependent dims (one only)")
    return dims[0]


def _squeeze(ctx: LoweringContext, node: ir.Node) -> None:
    t = ctx.program.tensors[ctx.tensor(_in(node, 0))]
    rank = len(t.shape)
    axes_in = _const_ints(ctx, _input(node, 1), "axes")
    if axes_in is None and "axes" in node.attributes:
        axes_in = [int(a) for a in node.attributes.get_ints("axes", [])]
    axes = {_axis(a, rank) for a in axes_in} if axes_in is not None else \
        {d for d in range(rank) if t.shape[d] == 1 and not t.dynamic >> d & 1}
    k = _one_dynamic(t.dynamic, _in(node, 0).name or "")
    if k in axes:
        raise Unsupported(f"squeezes axis {k}, whose extent depends on the input values")
    if any(t.shape[a] != 1 for a in axes):
        raise Unsupported(f"squeezes axes {sorted(axes)} of {list(t.shape)}")
    shape = [t.shape[d] for d in range(rank) if d not in axes]
    _reshape_to(ctx, node, shape, k - sum(1 for a in axes if a < k))


def _unsqueeze(ctx: LoweringContext, node: ir.Node) -> None:
    t = ctx.program.tensors[ctx.tensor(_in(node, 0))]
    axes_in = _const_ints(ctx, _input(node, 1), "axes")
    if axes_in is None:
        axes_in = [int(a) for a in node.attributes.get_ints("axes", [])]
    rank = len(t.shape) + len(axes_in)
    axes = sorted(_axis(a, rank) for a in axes_in)
    k = _one_dynamic(t.dynamic, _in(node, 0).name or "")
    shape: list[int] = []
    src = iter(range(len(t.shape)))
    dyn_dim = -1
    for d in range(rank):
        if d in axes:
            shape.append(1)
            continue
        s = next(src)
        if s == k:
            dyn_dim = d
        shape.append(t.shape[s])
    _reshape_to(ctx, node, shape, dyn_dim)


def _flatten(ctx: LoweringContext, node: ir.Node) -> None:
    t = ctx.program.tensors[ctx.tensor(_in(node, 0))]
    rank = len(t.shape)
    axis = node.attributes.get_int("axis", 1)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise Unsupported(f"axis {axis} outside rank {rank}")
    k = _one_dynamic(t.dynamic, _in(node, 0).name or "")
    shape = [int(np.prod(t.shape[:axis], dtype=np.int64)),
             int(np.prod(t.shape[axis:], dtype=np.int64))]
    _reshape_to(ctx, node, shape, 0 if k < axis else 1)


def _reshape(ctx: LoweringContext, node: ir.Node) -> None:
    t = ctx.program.tensors[ctx.tensor(_in(node, 0))]
    if _mask(ctx, _input(node, 1)):
        raise Unsupported("a shape that depends on the input values")
    target = _const_ints(ctx, _input(node, 1), "shape")
    assert target is not None
    allowzero = node.attributes.get_int("allowzero", 0)
    k = _one_dynamic(t.dynamic, _in(node, 0).name or "")
    dims = list(target)
    dyn_dim = -1
    for i, v in enumerate(dims):
        if v == 0 and not allowzero:
            if i >= len(t.shape):
                raise Unsupported(f"shape {target} copies dim {i} of rank {len(t.shape)}")
            dims[i] = t.shape[i]
            if i == k:
                dyn_dim = i
    inferred = [i for i, v in enumerate(dims) if v == -1]
    if len(inferred) > 1:
        raise Unsupported(f"shape {target} infers more than one dim")
    if inferred:
        if dyn_dim >= 0:
            raise Unsupported(f"shape {target}: copies the data-dependent dim and infers one")
        rest = int(np.prod([v for v in dims if v != -1], dtype=np.int64))
        total = int(np.prod(t.shape, dtype=np.int64))
        dims[inferred[0]] = total // rest if rest else 0
        dyn_dim = inferred[0]
    if dyn_dim < 0:
        raise Unsupported(f"reshapes {_in(node, 0).name!r}, whose shape depends on the "
                          f"input values, to the fixed shape {target} (use -1 for that dim)")
    _reshape_to(ctx, node, dims, dyn_dim)


def _identity(ctx: LoweringContext, node: ir.Node) -> None:
    ctx.bind(_out(node), ctx.tensor(_in(node, 0)))  # the same tensor


_LOWER = {"Identity": _identity, "Transpose": _transpose, "Gather": _gather, "Slice": _slice,
          "Cast": _cast, "Reshape": _reshape, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze,
          "Flatten": _flatten}


def check_program(program: Program) -> None:
    """Every data-dependent tensor is written and read only by instructions whose kernels
    handle it, and is no program input (what the runtime's verifier requires): a last
    check after the passes, naming the instruction."""
    for i in program.inputs:
        if program.tensors[i].dynamic:
            raise EdgecError(f"input {program.tensors[i].name!r} has data-dependent dims")
    for ins in program.all_instructions():
        for k, idx in enumerate(ins.inputs + ins.outputs):
            if idx < 0 or not program.tensors[idx].dynamic:
                continue
            allowed = DYNAMIC_IN if k < len(ins.inputs) else DYNAMIC_OUT | DYNAMIC_IN
            if ins.opcode not in allowed:
                raise EdgecError(f"node {ins.name!r}: uses {program.tensors[idx].name!r}, "
                                 "whose shape depends on the input values, in an instruction "
                                 "that cannot (docs/dynamic_shapes.md)")
