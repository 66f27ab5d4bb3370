"""Structured channel pruning: removes whole output channels of convolutions from
an onnx-ir graph, for real (smaller weights, smaller activations), in place.

Channels are tracked as *spaces*: each group-1 Conv with constant weights
creates one (its output channels). A space flows through ops that act per
channel (BatchNormalization, activations, pooling, depthwise convs, per-channel
constants in Add/Mul/...), is concatenated by Concat along channels,
flattened into features by Flatten/Reshape (then feeding a Gemm/MatMul), and
consumed by the input side of the next Conv or Gemm. Two spaces meeting in an
elementwise op (a residual Add) become one space with one mask, so every
producer feeding the Add keeps the same channels. A space reaching anything
else (a graph output, an op that mixes channels, a grouped conv, a weight
shared with another layer, an excluded layer) is frozen: all its channels stay.

How many channels each free space drops is edgec.prune.allocation's: by
default F of all the free spaces' channels, spread by what their channels cost
in parameters and multiply-adds (_space_costs), or round(F * C) of each space's
C with :uniform; at least one channel stays. A space keeps those with the
largest importance: the sum over its producers of the L1 (or L2) norm of each
output channel's weights, each producer's norms divided by their mean so
producers of different scales weigh alike. Weights are ranked as they stand
after Conv+BatchNorm folding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_ir as ir

from edgec.prune.allocation import SpaceCost, cost_drops, uniform_drops
from edgec.prune.graph import Layer, const_array, excluded, is_const, set_const
from edgec.prune.spec import PruneSpec

_UNARY = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu",
          "Selu", "Celu", "Gelu", "Identity", "Dropout", "Mish", "Softplus", "Softsign", "Neg",
          "Abs", "Sqrt", "Exp", "Log", "Reciprocal", "Erf", "Floor", "Ceil", "Round", "Sign",
          "ThresholdedRelu", "Cast"}
_POOLS = {"MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
          "GlobalLpPool"}
_BINARY = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Pow", "PRelu", "Sum", "Mean"}

Segments = tuple[tuple[int, int], ...]  # (space, channels) along the channel axis


@dataclass(frozen=True)
class ChannelLayout:
    """The channel axis (1) of a value: segments of spaces, and `inner` elements
    per channel (1 for NCHW; H*W once flattened into features)."""

    segments: Segments
    inner: int = 1


@dataclass
class _Slice:
    value: ir.Value  # a constant
    axis: int
    layout: ChannelLayout
    uses: int = 0  # multiply-adds per element per inference (weights), else 0


@dataclass
class ChannelPlan:
    """What channel pruning decided: kept output channels per pruned conv layer
    (ascending indices into the original channels)."""

    kept: dict[str, np.ndarray] = field(default_factory=dict)
    channels_before: dict[str, int] = field(default_factory=dict)


class _Analysis:
    def __init__(self, graph: ir.Graph, layers: list[Layer], spec: PruneSpec,
                 frozen: set[int]) -> None:
        self.graph = graph
        self.spec = spec
        self.parent: list[int] = []
        self.size: list[int] = []
        self.frozen_ids = set(frozen)  # spaces frozen by an earlier round (by creation id)
        self.frozen: set[int] = set()
        self.producers: dict[int, list[Layer]] = {}
        self.layout: dict[int, ChannelLayout] = {}
        self.slices: list[_Slice] = []
        self.shapes: list[tuple[ir.Value, ChannelLayout]] = []
        self.groups: list[tuple[ir.Node, ChannelLayout]] = []
        self.reshapes: list[tuple[ir.Node, ChannelLayout]] = []
        self.creator: dict[int, Layer] = {}
        self.layer_of = {id(layer.node): layer for layer in layers}

    # ---- union-find over spaces -------------------------------------------------

    def new_space(self, channels: int) -> int:
        self.parent.append(len(self.parent))
        self.size.append(channels)
        return len(self.parent) - 1

    def find(self, s: int) -> int:
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra

    def freeze(self, layout: ChannelLayout | None) -> None:
        if layout is not None:
            for s, _ in layout.segments:
                self.frozen.add(s)

    # ---- per-value layouts --------------------------------------------------------

    def get(self, value: ir.Value | None) -> ChannelLayout | None:
        return None if value is None else self.layout.get(id(value))

    def set(self, value: ir.Value, layout: ChannelLayout | None) -> None:
        if layout is None:
            return
        self.layout[id(value)] = layout
        self.shapes.append((value, layout))

    def freeze_inputs(self, node: ir.Node) -> None:
        for v in node.inputs:
            self.freeze(self.get(v))

    def per_channel_const(self, value: ir.Value, out_rank: int, layout: ChannelLayout) -> bool:
        """A constant operand of an elementwise op: fine if it broadcasts along the
        channel axis (dim 1 or absent), sliced if it has the channels, else False."""
        arr = const_array(value)
        axis = arr.ndim - (out_rank - 1)  # the constant's axis aligned with axis 1
        if axis < 0 or arr.shape[axis] == 1:
            return True
        if layout.inner != 1 or arr.shape[axis] != sum(c for _, c in layout.segments):
            return False
        self.slices.append(_Slice(value, axis, layout))
        return True

    # ---- the walk -------------------------------------------------------------

    def run(self) -> None:
        for node in self.graph:
            if node.domain not in ("", "ai.onnx"):
                self.freeze_inputs(node)
                continue
            handler = getattr(self, f"op_{node.op_type}", None)
            if handler is not None:
                handler(node)
            elif node.op_type in _UNARY:
                self.passthrough(node)
            elif node.op_type in _POOLS:
                self.passthrough(node)
            elif node.op_type in _BINARY:
                self.binary(node)
            else:
                self.freeze_inputs(node)
        for v in self.graph.outputs:
            self.freeze(self.get(v))

    def passthrough(self, node: ir.Node) -> None:
        layout = self.get(node.inputs[0])
        if layout is None:
            self.freeze_inputs(node)
            return
        for v in node.inputs[1:]:  # scalar parameters (Clip bounds, ...)
            if v is not None and (not is_const(v) or const_array(v).size != 1):
                self.freeze_inputs(node)
                return
        self.set(node.outputs[0], layout)

    def binary(self, node: ir.Node) -> None:
        rank = len(node.outputs[0].shape or ())
        layouts = [self.get(v) for v in node.inputs if v is not None and not is_const(v)]
        if not layouts or any(lo is None for lo in layouts) or rank < 2:
            self.freeze_inputs(node)
            return
        first = layouts[0]
        assert first is not None
        for lo in layouts[1:]:
            assert lo is not None
            if lo.inner != first.inner or [c for _, c in lo.segments] != \
                    [c for _, c in first.segments]:
                self.freeze_inputs(node)
                return
            for (a, _), (b, _) in zip(first.segments, lo.segments, strict=True):
                self.union(a, b)
        for v in node.inputs:
            if v is not None and is_const(v) and not self.per_channel_const(v, rank, first):
                self.freeze_inputs(node)
                return
        self.set(node.outputs[0], first)

    def op_BatchNormalization(self, node: ir.Node) -> None:
        layout = self.get(node.inputs[0])
        params = node.inputs[1:5]
        if layout is None or not all(is_const(v) for v in params) or (
                len(node.outputs) > 1 and any(o.uses() for o in node.outputs[1:])):
            self.freeze_inputs(node)
            return
        for v in params:
            assert v is not None
            self.slices.append(_Slice(v, 0, layout))
        self.set(node.outputs[0], layout)

    def op_Concat(self, node: ir.Node) -> None:
        rank = len(node.outputs[0].shape or ())
        axis = node.attributes.get_int("axis", 0)
        layouts = [self.get(v) for v in node.inputs]
        if (axis % max(rank, 1)) != 1 or any(lo is None or lo.inner != 1 for lo in layouts):
            self.freeze_inputs(node)
            return
        segments = tuple(seg for lo in layouts if lo is not None for seg in lo.segments)
        self.set(node.outputs[0], ChannelLayout(segments))

    def _flatten(self, node: ir.Node) -> None:
        x, y = node.inputs[0], node.outputs[0]
        layout = self.get(x)
        if layout is None or layout.inner != 1 or x is None or x.shape is None or \
                y.shape is None or not x.shape.is_static() or not y.shape.is_static():
            self.freeze_inputs(node)
            return
        xs, ys = x.shape.numpy(), y.shape.numpy()
        inner = int(np.prod(xs[2:], dtype=np.int64))
        if len(ys) != 2 or ys[0] != xs[0]:
            self.freeze_inputs(node)
            return
        self.set(y, ChannelLayout(layout.segments, inner))
        if node.op_type == "Reshape":
            self.reshapes.append((node, ChannelLayout(layout.segments, inner)))

    def op_Flatten(self, node: ir.Node) -> None:
        if node.attributes.get_int("axis", 1) != 1:
            self.freeze_inputs(node)
            return
        self._flatten(node)

    def op_Reshape(self, node: ir.Node) -> None:
        if not is_const(node.inputs[1]):
            self.freeze_inputs(node)
            return
        self._flatten(node)

    def op_Conv(self, node: ir.Node) -> None:
        layer = self.layer_of.get(id(node))
        x = node.inputs[0]
        layout = self.get(x)
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        consts = layer is not None and (bias is None or is_const(bias))
        if layer is None or not consts:
            self.freeze_inputs(node)
            return
        channels = int(x.shape.numpy()[1]) if x is not None and x.shape is not None \
            and x.shape.is_static() else -1
        m = int(const_array(layer.weight).shape[0])
        uses = _uses(node.outputs[0])
        if layer.group == channels == m and layer.group > 1:  # depthwise: per channel
            if layout is None:
                return
            self.slices.append(_Slice(layer.weight, 0, layout, uses))
            if bias is not None:
                self.slices.append(_Slice(bias, 0, layout))
            self.groups.append((node, layout))
            self.set(node.outputs[0], layout)
            return
        if layer.group != 1:
            self.freeze(layout)
            return
        if layout is not None:
            self.slices.append(_Slice(layer.weight, 1, layout, uses))
        space = self.new_space(m)
        self.creator[space] = layer
        self.producers[space] = [layer]
        if excluded(layer, self.spec.exclude) or space in self.frozen_ids:
            self.frozen.add(space)
        out = ChannelLayout(((space, m),))
        self.slices.append(_Slice(layer.weight, 0, out, uses))
        if bias is not None:
            self.slices.append(_Slice(bias, 0, out))
        self.set(node.outputs[0], out)

    def op_Gemm(self, node: ir.Node) -> None:
        layout = self.get(node.inputs[0])
        if layout is None:
            return
        b = node.inputs[1]
        if node.attributes.get_int("transA", False) or b is None or not is_const(b):
            self.freeze(layout)
            return
        self.slices.append(_Slice(b, 1 if node.attributes.get_int("transB", False) else 0,
                                  layout, _uses(node.outputs[0])))

    def op_MatMul(self, node: ir.Node) -> None:
        layout = self.get(node.inputs[0])
        if layout is None:
            return
        a, b = node.inputs[0], node.inputs[1]
        if a is None or len(a.shape or ()) != 2 or b is None or not is_const(b) or \
                const_array(b).ndim != 2:
            self.freeze(layout)
            return
        self.slices.append(_Slice(b, 0, layout, _uses(node.outputs[0])))


def _uses(out: ir.Value) -> int:
    """How often a layer's weight element is used per inference: the elements of
    its output per output channel (N*H*W for a conv, the rows for a Gemm); 1 if
    the output shape is not known."""
    if out.shape is None or not out.shape.is_static() or len(out.shape) < 2:
        return 1
    dims = out.shape.numpy()
    return max(int(np.prod(dims, dtype=np.int64)) // max(int(dims[1]), 1), 1)


def _importance(producers: list[Layer], norm: str) -> np.ndarray:
    total: np.ndarray | None = None
    for layer in producers:
        w = np.asarray(const_array(layer.weight), np.float64)
        w = w.reshape(w.shape[0], -1)
        score = np.abs(w).sum(axis=1) if norm == "l1" else np.sqrt((w ** 2).sum(axis=1))
        score = score / max(float(score.mean()), 1e-30)
        total = score if total is None else total + score
    assert total is not None
    return total


def _space_costs(a: _Analysis, roots: set[int]) -> dict[int, SpaceCost]:
    """Per free root space: its channels, and the constant elements (parameters)
    and multiply-adds that each of its channels is sliced out of."""
    params = dict.fromkeys(roots, 0.0)
    macs = dict.fromkeys(roots, 0.0)
    for sl in a.slices:
        channels = sum(c for _, c in sl.layout.segments)
        per_channel = const_array(sl.value).size / max(channels, 1)
        for s, _ in sl.layout.segments:
            root = a.find(s)
            if root in params:
                params[root] += per_channel
                macs[root] += per_channel * sl.uses
    return {r: SpaceCost(a.size[r], params[r], macs[r]) for r in roots}


class _Decisions:
    def __init__(self, a: _Analysis, spec: PruneSpec) -> None:
        self.a = a
        self.kept: dict[int, np.ndarray] = {}
        roots: dict[int, list[Layer]] = {}
        frozen_roots = {a.find(s) for s in a.frozen}
        for space, producers in a.producers.items():
            roots.setdefault(a.find(space), []).extend(producers)
        free = {r: p for r, p in roots.items() if r not in frozen_roots}
        costs = _space_costs(a, set(free))
        self.drops = uniform_drops(costs, spec.amount) if spec.allocation == "uniform" \
            else cost_drops(costs, spec.amount)
        for root, producers in free.items():
            drop = self.drops[root]
            if drop == 0:
                continue
            score = _importance(producers, spec.norm)
            order = np.argsort(-score, kind="stable")[:a.size[root] - drop]
            self.kept[root] = np.sort(order)

    def space(self, s: int) -> np.ndarray:
        root = self.a.find(s)
        return self.kept.get(root, np.arange(self.a.size[root]))

    def indices(self, layout: ChannelLayout) -> np.ndarray:
        parts, offset = [], 0
        for s, c in layout.segments:
            parts.append(self.space(s) + offset)
            offset += c
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        if layout.inner == 1:
            return idx
        return (idx[:, None] * layout.inner + np.arange(layout.inner)[None, :]).ravel()

    def changes(self, layout: ChannelLayout) -> bool:
        return any(self.a.find(s) in self.kept for s, _ in layout.segments)


def _shared_conflicts(a: _Analysis, d: _Decisions) -> set[int]:
    """Spaces to freeze because a constant that must be sliced is used by several
    nodes (slicing it for one would change the others)."""
    bad: set[int] = set()
    for sl in a.slices:
        if d.changes(sl.layout) and len(sl.value.uses()) > 1:
            bad.update(s for s, _ in sl.layout.segments)
    return bad


def channel_prune(graph: ir.Graph, layers: list[Layer], spec: PruneSpec) -> ChannelPlan:
    frozen: set[int] = set()
    while True:
        a = _Analysis(graph, layers, spec, frozen)
        a.run()
        d = _Decisions(a, spec)
        bad = _shared_conflicts(a, d)
        if not bad - frozen:
            break
        frozen |= bad  # space ids are the same from one round to the next
    _apply(graph, a, d)
    plan = ChannelPlan()
    for space, layer in a.creator.items():
        root = a.find(space)
        plan.channels_before[layer.name] = a.size[space]
        if root in d.kept:
            plan.kept[layer.name] = d.kept[root]
    return plan


def _apply(graph: ir.Graph, a: _Analysis, d: _Decisions) -> None:
    # constants: every slice of a value, applied once per axis
    by_value: dict[int, tuple[ir.Value, dict[int, ChannelLayout]]] = {}
    for sl in a.slices:
        if d.changes(sl.layout):
            by_value.setdefault(id(sl.value), (sl.value, {}))[1][sl.axis] = sl.layout
    for value, axes in by_value.values():
        arr = const_array(value)
        for axis, layout in axes.items():
            arr = np.take(arr, d.indices(layout), axis=axis)
        set_const(value, arr)
    for value, layout in a.shapes:
        if d.changes(layout) and value.shape is not None:
            dims = list(value.shape)
            dims[1] = len(d.indices(layout))
            value.shape = ir.Shape(dims)
    for node, layout in a.groups:
        if d.changes(layout):
            node.attributes["group"] = ir.AttrInt64("group", len(d.indices(layout)))
    for node, layout in a.reshapes:
        y = node.outputs[0]
        if not d.changes(layout) or y.shape is None or not y.shape.is_static():
            continue
        shape = ir.Value(name=f"{y.name}/pruned_shape",
                         const_value=ir.tensor(np.array(y.shape.numpy(), np.int64)))
        graph.register_initializer(shape)
        node.replace_input_with(1, shape)
