"""The lowering registry and the context lowering functions emit through."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import onnx_ir as ir

from edgec.errors import EdgecError
from edgec.program import Instruction, Program, Tensor

LowerFn = Callable[["LoweringContext", ir.Node], None]
_REGISTRY: dict[str, LowerFn] = {}
# ops of other domains that a lowering function handles (registered by op type)
DOMAIN_OPS = {("ai.onnx.preview", "FlexAttention")}


class Unsupported(EdgecError):
    """Raised by a lowering function for a case the runtime cannot run."""


def lowers(*op_types: str) -> Callable[[LowerFn], LowerFn]:
    def register(fn: LowerFn) -> LowerFn:
        @functools.wraps(fn)  # edgec.opdocs reads the lowering's source through it
        def dispatch(ctx: LoweringContext, node: ir.Node) -> None:
            # a node reading a value whose shape depends on the input values is
            # lowered by edgec.lower.dynamic, or refused there naming what it reads
            from edgec.lower import dynamic

            if not dynamic.check_operand(ctx, node):
                fn(ctx, node)

        for op in op_types:
            if op in _REGISTRY:
                raise AssertionError(f"{op} is lowered twice")
            _REGISTRY[op] = dispatch
        return fn

    return register


def supported_ops() -> list[str]:
    return sorted(_REGISTRY)


def node_label(node: ir.Node) -> str:
    return f"{node.op_type} node {node.name!r}" if node.name else f"{node.op_type} node"


class LoweringContext:
    def __init__(self, program: Program) -> None:
        self.program = program
        self._index: dict[int, int] = {}  # id(ir.Value) -> tensor index
        self._values: dict[int, ir.Value] = {}  # keeps values alive while indexed

    # ---- reading the graph ------------------------------------------------

    @staticmethod
    def const(value: ir.Value | None) -> np.ndarray | None:
        """The value's data if it is a compile-time constant, else None."""
        if value is None:
            return None
        if value.const_value is not None:
            return value.const_value.numpy()
        producer = value.producer()
        if producer is not None and producer.op_type == "Constant":
            attr = producer.attributes.get("value")
            if attr is not None:
                return attr.value.numpy()
        return None

    @staticmethod
    def shape(value: ir.Value) -> tuple[int, ...]:
        if value.shape is None or not value.shape.is_static():
            raise Unsupported(f"value {value.name!r} has no static shape")
        return tuple(int(d) for d in value.shape)

    @staticmethod
    def dtype(value: ir.Value) -> np.dtype:
        if value.dtype is None:
            raise Unsupported(f"value {value.name!r} has no dtype")
        return np.dtype(value.dtype.numpy())

    # ---- building the program ----------------------------------------------

    def constant(self, array: np.ndarray, name: str) -> int:
        # reshape: np.ascontiguousarray turns a 0-d array into shape (1,)
        array = np.ascontiguousarray(array).reshape(np.shape(array))
        return self.program.add_tensor(
            Tensor(name=name, dtype=array.dtype, shape=tuple(array.shape), data=array)
        )

    def tensor(self, value: ir.Value | None) -> int:
        """The tensor index of a value: an input, a constant or an earlier output."""
        if value is None:
            return -1
        key = id(value)
        if key in self._index:
            return self._index[key]
        data = self.const(value)
        if data is None:
            raise EdgecError(f"value {value.name!r} is used before it is computed")
        index = self.constant(data.astype(self.dtype(value), copy=False), value.name or "const")
        self._bind(value, index)
        return index

    def output(self, value: ir.Value) -> int:
        """A fresh arena tensor for a node output (or graph input)."""
        index = self.program.add_tensor(
            Tensor(name=value.name or f"t{len(self.program.tensors)}", dtype=self.dtype(value),
                   shape=self.shape(value))
        )
        self._bind(value, index)
        return index

    def scratch_tensor(self, name: str, dtype: np.dtype, shape: tuple[int, ...]) -> int:
        """An arena tensor that is not an ONNX value (e.g. an intermediate result)."""
        return self.program.add_tensor(Tensor(name=name, dtype=np.dtype(dtype), shape=shape))

    def alias(self, out: ir.Value, src: ir.Value) -> None:
        """out has the bytes of src under another shape (Reshape and friends)."""
        base = self.tensor(src)
        src_t = self.program.tensors[base]
        shape = self.shape(out)
        if src_t.data is not None:
            self._bind(out, self.constant(src_t.data.reshape(shape), out.name or "const"))
            return
        root = src_t.alias_of if src_t.alias_of is not None else base
        index = self.program.add_tensor(
            Tensor(name=out.name or "alias", dtype=src_t.dtype, shape=shape, alias_of=root)
        )
        self._bind(out, index)

    def emit(self, opcode: int, inputs: list[int], outputs: list[int], options: object = None,
             name: str = "", scratch_size: int = 0) -> Instruction:
        ins = Instruction(opcode=opcode, inputs=inputs, outputs=outputs, options=options,
                          name=name, scratch_size=scratch_size)
        self.program.instructions.append(ins)
        return ins

    def index_of(self, value: ir.Value) -> int | None:
        """The tensor index of a value already lowered (None: not yet, or a constant
        never asked for)."""
        return self._index.get(id(value))

    def bind(self, value: ir.Value, index: int) -> None:
        """value is tensor index (a lowering that makes its output tensors itself)."""
        self._bind(value, index)

    def _bind(self, value: ir.Value, index: int) -> None:
        self._index[id(value)] = index
        self._values[id(value)] = value


def _check_supported(graph: ir.Graph) -> None:
    """Lists every node edgec cannot lower, at once; an op left out on purpose
    (edgec.unsupported) says so and why."""
    from edgec.unsupported import UnsupportedOnPurposeError, op_reason

    listed: list[str] = []
    reasons: list[str] = []
    for n in graph:
        standard = n.domain in ("", "ai.onnx") or (n.domain, n.op_type) in DOMAIN_OPS
        reason = op_reason(n.op_type, n.domain)
        if reason is None and standard and n.op_type in _REGISTRY:
            continue
        label = f"{n.op_type} ({n.name or 'unnamed'})" if standard else \
            f"{n.domain}::{n.op_type} ({n.name or 'unnamed'})"
        if reason is not None:
            label += f": unsupported on purpose: {reason}"
            reasons.append(reason)
        listed.append(label)
    if not listed:
        return
    more = f" and {len(listed) - 20} more" if len(listed) > 20 else ""
    message = f"unsupported operators: {'; '.join(listed[:20])}{more}"
    if len(reasons) == len(listed):
        raise UnsupportedOnPurposeError(message, reasons[0], message=message)
    raise EdgecError(message)


def lower_graph(graph: ir.Graph, program: Program) -> None:
    _check_supported(graph)
    ctx = LoweringContext(program)
    for value in graph.inputs:
        program.inputs.append(ctx.output(value))
    for node in graph:
        try:
            _REGISTRY[node.op_type](ctx, node)
        except Unsupported as exc:
            raise EdgecError(f"{node_label(node)}: {exc}") from None
    for value in graph.outputs:
        program.outputs.append(ctx.tensor(value))
