"""Control flow: If and Loop as nested blocks of the program (IF, LOOP instructions).

- If whose condition is a compile-time constant (after folding, or after the ONNX
  backend specialized the input it comes from) is inlined: onnxscript's optimizer
  already does it during import; lower_if does it too for a condition that only
  becomes constant later.
- Otherwise each branch (and a Loop's body) is imported like a model of its own (its
  outer-scope values become inputs), lowered into a block of Program.blocks, and run
  by the runtime. All tensors live in the one tensor table and arena: a block reads
  outer values straight from their tensors, and the IF/LOOP instruction lists them
  among its inputs so that every pass and the planner see them used there.

Rules (docs/conformance.md, "Control flow"): shapes are static, so both branches of
an If must produce outputs of the If's shapes, and a Loop's carried values keep
their shapes. A Loop with scan outputs needs its trip count at compile time: a
constant M, an initial condition that is absent or constant, and a body whose
condition output is constant true or its condition input passed through;
otherwise the actual trip count could differ from the planned one and the
compile fails naming the node.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir

from edgec.errors import EdgecError
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.ControlOptions import ControlOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower import context
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.lower.misc import _lower_nodes, _opset, _reshaped, _type_proto
from edgec.program import Instruction

I64 = np.dtype(np.int64)
BOOL = np.dtype(np.bool_)


def _outer_values(body: ir.Graph) -> dict[str, ir.Value]:
    """Values of enclosing scopes that the body (or a graph nested in it) reads."""
    defined: set[str] = set()
    used: dict[str, ir.Value] = {}

    def visit(graph: ir.Graph) -> None:
        defined.update(v.name for v in graph.inputs if v.name)
        defined.update(graph.initializers)
        for node in graph:
            for value in node.inputs:
                if value is not None and value.name and value.name not in used:
                    used[value.name] = value
            defined.update(o.name for o in node.outputs if o.name)
            for attr in node.attributes.values():
                if attr.type == ir.AttributeType.GRAPH:
                    visit(attr.value)
                elif attr.type == ir.AttributeType.GRAPHS:
                    for g in attr.value:
                        visit(g)

    visit(body)
    return {name: v for name, v in used.items() if name not in defined}


def _body_model(ctx: LoweringContext, node: ir.Node, body: ir.Graph,
                input_types: list[tuple[np.dtype, tuple[int, ...]]],
                consts: dict[int, np.ndarray] | None = None) -> tuple[ir.Graph, list[int]]:
    """The body imported as a model of its own (shape inference, folding): its inputs
    typed as given, the outer values it reads added as inputs (or initializers when
    constant). Returns the graph and, per extra input, the outer tensor it stands for."""
    from edgec.frontend.onnx_import import import_onnx  # local: the frontend imports lowering

    proto = ir.serde.serialize_graph(body)
    for vi, (dtype, shape) in zip(proto.input, input_types, strict=True):
        vi.type.CopyFrom(onnx.helper.make_tensor_type_proto(
            onnx.helper.np_dtype_to_tensor_dtype(dtype), list(shape)))
    if consts:  # body inputs known at compile time (an unrolled iteration's number)
        kept = [vi for i, vi in enumerate(proto.input) if i not in consts]
        for i, array in consts.items():
            proto.initializer.append(onnx.numpy_helper.from_array(array, proto.input[i].name))
        del proto.input[:]
        proto.input.extend(kept)
        input_types = [t for i, t in enumerate(input_types) if i not in consts]
    outer_tensors: list[int] = []
    for name, value in _outer_values(body).items():
        data = ctx.const(value)
        if data is not None:
            proto.initializer.append(onnx.numpy_helper.from_array(
                np.asarray(data).astype(ctx.dtype(value), copy=False), name))
        else:
            proto.input.append(onnx.helper.make_value_info(name, _type_proto(ctx, value)))
            outer_tensors.append(ctx.tensor(value))
    model = onnx.helper.make_model(proto, opset_imports=[
        onnx.helper.make_opsetid("", _opset(node, ""))])
    model.ir_version = max(model.ir_version, 8)
    try:
        graph = import_onnx(model).graph
    except EdgecError as exc:
        raise Unsupported(f"its body {body.name!r} does not import: {exc}") from None
    if len(graph.inputs) != len(input_types) + len(outer_tensors):
        raise Unsupported(f"its body {body.name!r} lost inputs in import")
    return graph, outer_tensors


def _lower_block(ctx: LoweringContext, graph: ir.Graph, bind: list[int]) -> int:
    """Lowers graph into a new block (its inputs bound to the given tensors); returns the
    block's index. The index is taken before lowering, so that blocks nested in this one
    get larger indices (the runtime's rule: a block runs only blocks after it)."""
    for value, index in zip(graph.inputs, bind, strict=True):
        ctx._bind(value, index)
    program = ctx.program
    index = len(program.blocks)
    program.blocks.append([])
    saved, program.instructions = program.instructions, []
    try:
        _lower_nodes(ctx, graph)
        program.blocks[index] = program.instructions
    finally:
        program.instructions = saved
    return index


def _outer_reads(ctx: LoweringContext, blocks: list[int], reads: list[int],
                 local: list[int]) -> list[int]:
    """Arena tensors the blocks (and the instruction itself, through reads) use that are
    defined outside them: they must stay live across the instruction."""
    produced = set(local)
    used: list[int] = list(reads)
    for b in blocks:
        for ins in ctx.program.blocks[b]:
            used += ins.inputs
            produced.update(ins.outputs)
            if isinstance(ins.options, ControlOptionsT):
                produced.update(i for i in ins.options.blockInputs or [] if i >= 0)
    tensors = ctx.program.tensors

    def root(i: int) -> int:
        alias = tensors[i].alias_of
        return i if alias is None else alias

    produced_roots = {root(i) for i in produced}
    out: list[int] = []
    for i in used:
        if i >= 0 and not tensors[i].is_constant and root(i) not in produced_roots \
                and i not in out:
            out.append(i)
    return out


def _inline(ctx: LoweringContext, node: ir.Node, branch: ir.Graph) -> None:
    sub, outer = _body_model(ctx, node, branch, [])
    for value, index in zip(sub.inputs, outer, strict=True):
        ctx._bind(value, index)
    for sub_node in sub:
        context._REGISTRY[sub_node.op_type](ctx, sub_node)
    for out, value in zip(node.outputs, sub.outputs, strict=True):
        dst = ctx.output(out)
        ctx.emit(Opcode.COPY, [ctx.tensor(value)], [dst], name=node.name)


def _check_like(ctx: LoweringContext, what: str, value: ir.Value, index: int) -> None:
    t = ctx.program.tensors[index]
    shape = ctx.shape(value)
    if (t.dtype, t.shape) != (ctx.dtype(value), shape):
        raise Unsupported(f"{what} is {t.dtype}{list(t.shape)}, not {ctx.dtype(value)}"
                          f"{list(shape)} (shapes are static: the branches and iterations "
                          "of a compiled program keep them)")


@lowers("If")
def lower_if(ctx: LoweringContext, node: ir.Node) -> None:
    cond = node.inputs[0]
    branches = [node.attributes["then_branch"].value, node.attributes["else_branch"].value]
    known = ctx.const(cond)
    if known is not None:
        if np.asarray(known).size != 1:
            raise Unsupported("the condition is not a single value")
        _inline(ctx, node, branches[0 if bool(np.asarray(known).ravel()[0]) else 1])
        return
    blocks: list[int] = []
    block_outputs: list[int] = []
    for which, branch in zip(("then", "else"), branches, strict=True):
        sub, outer = _body_model(ctx, node, branch, [])
        blocks.append(_lower_block(ctx, sub, outer))
        if len(sub.outputs) != len(node.outputs):
            raise Unsupported(f"the {which} branch has {len(sub.outputs)} outputs")
        for k, (out, value) in enumerate(zip(node.outputs, sub.outputs, strict=True)):
            index = ctx.tensor(value)
            _check_like(ctx, f"output {k} of the {which} branch", out, index)
            block_outputs.append(index)
    outer = _outer_reads(ctx, blocks, block_outputs, [])
    outputs = [ctx.output(out) for out in node.outputs]
    ctx.emit(Opcode.IF, [ctx.tensor(cond), *outer], outputs,
             ControlOptionsT(blocks=blocks, blockOutputs=block_outputs), node.name)


def _static_output(ctx: LoweringContext, value: ir.Value, shape: tuple[int, ...],
                   dtype: np.dtype) -> int:
    """A Loop output's tensor, of the shape the loop gives it (ONNX's inference often
    leaves it unknown); the value gets that shape for the nodes that read it."""
    value.shape = ir.Shape(shape)
    value.dtype = ir.DataType.from_numpy(dtype)
    return ctx.output(value)


def _passes_condition(sub: ir.Graph) -> bool:
    """The body's condition output is constant true or its condition input unchanged."""
    out = sub.outputs[0]
    data = LoweringContext.const(out)
    if data is not None:
        return bool(np.all(data))
    while out is not sub.inputs[1]:
        producer = out.producer()
        if producer is None or producer.op_type != "Identity":
            return False
        out = producer.inputs[0]
    return True


@lowers("Loop")
def lower_loop(ctx: LoweringContext, node: ir.Node) -> None:
    body: ir.Graph = node.attributes["body"].value
    inputs = list(node.inputs) + [None] * max(0, 2 - len(node.inputs))
    m_value, c_value, initial = inputs[0], inputs[1], inputs[2:]
    n = len(initial)
    k = len(node.outputs) - n
    if any(v is None for v in initial):
        raise Unsupported("absent loop-carried inputs")
    for v in (m_value, c_value):
        if v is not None and ctx.shape(v) not in ((), (1,)):
            raise Unsupported(f"{v.name!r} is not a single value")
    types = [(I64, ()), (BOOL, ())] + [(ctx.dtype(v), ctx.shape(v)) for v in initial]
    sub, outer = _body_model(ctx, node, body, types)
    m_known = ctx.const(m_value) if m_value is not None else None
    c_known = ctx.const(c_value) if c_value is not None else None
    max_trips = -1
    if k:
        if m_value is None or m_known is None:
            raise Unsupported("scan outputs need the trip count M at compile time (it "
                              "sets their shape), and M is not a constant")
        if c_value is not None and c_known is None:
            raise Unsupported("scan outputs need the trip count at compile time, and the "
                              "initial condition is not a constant (the loop could run "
                              "fewer than M times)")
        if not _passes_condition(sub):
            raise Unsupported("scan outputs need the trip count at compile time, and the "
                              "body's condition can end the loop before M iterations")
        runs = c_known is None or bool(np.asarray(c_known).ravel()[0])
        max_trips = max(0, int(np.asarray(m_known).ravel()[0])) if runs else 0
        if max_trips > (1 << 24):
            raise Unsupported(f"{max_trips} iterations with scan outputs")
    if max_trips < 0 and m_known is not None and (c_value is None or c_known is not None) \
            and _passes_condition(sub):  # the trip count is known: unrolling is possible
        runs = c_known is None or bool(np.asarray(c_known).ravel()[0])
        max_trips = max(0, int(np.asarray(m_known).ravel()[0])) if runs else 0
    mark = (len(ctx.program.tensors), len(ctx.program.instructions), len(ctx.program.blocks))
    try:
        _loop_block(ctx, node, sub, outer, initial, types, max_trips)
    except Unsupported as exc:
        # A body that needs its iteration number at compile time (a Slice at the
        # iteration, ...) is unrolled when the trip count is known and small.
        if not 0 < max_trips <= UNROLL_LIMIT or not (c_known is None or bool(np.all(c_known))):
            raise
        del ctx.program.tensors[mark[0]:]
        del ctx.program.instructions[mark[1]:]
        del ctx.program.blocks[mark[2]:]
        try:
            _unroll(ctx, node, body, initial, types, max_trips)
        except Unsupported:
            raise exc from None


UNROLL_LIMIT = 64


def _unroll(ctx: LoweringContext, node: ir.Node, body: ir.Graph, initial: list[ir.Value],
            types: list[tuple[np.dtype, tuple[int, ...]]], trips: int) -> None:
    n = len(initial)
    states = [ctx.tensor(v) for v in initial]
    pieces: list[list[int]] = [[] for _ in node.outputs[n:]]
    for i in range(trips):
        sub, outer = _body_model(ctx, node, body, types,
                                 {0: np.array(i, I64), 1: np.array(True)})
        for value, index in zip(sub.inputs, states + outer, strict=True):
            ctx._bind(value, index)
        for sub_node in sub:
            lower = context._REGISTRY.get(sub_node.op_type)
            if lower is None or sub_node.domain not in ("", "ai.onnx"):
                raise Unsupported(f"its body uses {sub_node.op_type}, which edgec does not lower")
            lower(ctx, sub_node)
        states = [ctx.tensor(v) for v in sub.outputs[1:1 + n]]
        for s, value in enumerate(sub.outputs[1 + n:]):
            pieces[s].append(ctx.tensor(value))
    for j, v in enumerate(node.outputs[:n]):
        dst = _static_output(ctx, v, ctx.shape(initial[j]), ctx.dtype(initial[j]))
        ctx.emit(Opcode.COPY, [states[j]], [dst], name=node.name)
    for s, out in enumerate(node.outputs[n:]):
        t = ctx.program.tensors[pieces[s][0]]
        one = (1, *t.shape)
        views = [_reshaped(ctx, p, one, f"{out.name}/{i}") for i, p in enumerate(pieces[s])]
        dst = _static_output(ctx, out, (trips, *t.shape), t.dtype)
        ctx.emit(Opcode.CONCAT, views, [dst], AxisOptionsT(axis=0), node.name)


def _loop_block(ctx: LoweringContext, node: ir.Node, sub: ir.Graph, outer: list[int],
                initial: list[ir.Value], types: list[tuple[np.dtype, tuple[int, ...]]],
                max_trips: int) -> None:
    """The Loop as a LOOP instruction running its body as a block."""
    n = len(initial)
    k = len(node.outputs) - n
    m_value, c_value = [*node.inputs, None, None][:2]
    # the body's own tensors: iteration number, condition, carried values
    block_inputs = [ctx.output(v) for v in sub.inputs[:2 + n]]
    for j, v in enumerate(initial):
        _check_like(ctx, f"carried value {j} of the body", v, block_inputs[2 + j])
    block = _lower_block(ctx, sub, block_inputs + outer)
    cond_out = ctx.tensor(sub.outputs[0])
    if (ctx.program.tensors[cond_out].dtype, ctx.program.tensors[cond_out].shape) not in \
            ((BOOL, ()), (BOOL, (1,))):
        raise Unsupported("the body's condition output is not a bool scalar")
    block_outputs = [cond_out]
    for j in range(n):
        value = sub.outputs[1 + j]
        index = ctx.tensor(value)
        _check_like(ctx, f"carried value {j} at the end of the body", initial[j], index)
        if index in block_inputs and index != block_inputs[2 + j]:
            # another input of the body passed through: copied so that writing the
            # carried values back in order cannot overwrite one still to be read
            copy = ctx.scratch_tensor(f"{value.name}/carried", ctx.dtype(value),
                                      ctx.shape(value))
            ctx.program.blocks[block].append(
                Instruction(Opcode.COPY, [index], [copy], name=node.name))
            index = copy
        block_outputs.append(index)
    outputs = [_static_output(ctx, v, ctx.shape(initial[j]), ctx.dtype(initial[j]))
               for j, v in enumerate(node.outputs[:n])]
    for s in range(k):
        value, out = sub.outputs[1 + n + s], node.outputs[n + s]
        piece = ctx.tensor(value)
        t = ctx.program.tensors[piece]
        shape = (max_trips, *t.shape)
        if out.shape is not None and out.shape.is_static() and \
                tuple(int(d) for d in out.shape) != shape:
            raise Unsupported(f"scan output {s} is {list(out.shape)}, planned {list(shape)}")
        block_outputs.append(piece)
        outputs.append(_static_output(ctx, out, shape, t.dtype))
    outer_reads = _outer_reads(ctx, [block], block_outputs, block_inputs)
    m_index = ctx.tensor(m_value) if m_value is not None else -1
    c_index = ctx.tensor(c_value) if c_value is not None else -1
    for what, index, dtype in (("M", m_index, I64), ("the condition", c_index, BOOL)):
        if index >= 0 and ctx.program.tensors[index].dtype != dtype:
            raise Unsupported(f"{what} is {ctx.program.tensors[index].dtype}, not {dtype}")
    ctx.emit(Opcode.LOOP, [m_index, c_index, *(ctx.tensor(v) for v in initial), *outer_reads],
             outputs, ControlOptionsT(blocks=[block], blockInputs=block_inputs,
                                      blockOutputs=block_outputs, maxTrips=max_trips),
             node.name)
