"""ONNX backend API (onnx.backend.base) for edgec, shaped like onnxruntime.backend.

    import edgec.onnx_backend as backend
    rep = backend.prepare(model)             # onnx.ModelProto, bytes or a path
    outputs = rep.run([x, y])                # a list of numpy arrays, one per output
    outputs = backend.run_model(model, [x])
    outputs = backend.run_node(node, [x])

Each model is compiled with edgec (edgec.compile) and run in the C runtime
(edgec.Session). edgec programs have static shapes, so the backend compiles
for the shapes it is given:

- Inputs with dynamic (or missing) dimensions are bound to the shapes of the
  arrays passed to run(), as `edgec compile --input-shape` would; the first
  run compiles, later runs with the same shapes reuse the program.
- Inputs that are shape parameters of the graph (a Reshape's shape, Slice
  bounds, Reduce axes, TopK's k, ...: see SHAPE_OPERANDS), or that such a
  parameter is computed from, are specialized: their values become constants
  of the compiled program, as they are in an exported model, and each new
  value compiles a new program. So are quantization parameters (scales and
  zero points of QuantizeLinear, QLinearMatMul, ...: QUANT_OPERANDS), which
  edgec's int8 kernels take from the tensors' quantization at compile time, and
  the integer weights of QLinearConv and ConvInteger (WEIGHT_OPERANDS), which
  they pack at compile time. Pass
  specialize=False to prepare() to keep them inputs (such models then fail
  to compile: their output shapes are not known at compile time).

What edgec leaves out on purpose (edgec.unsupported) raises
edgec.unsupported.UnsupportedOnPurposeError from prepare(), naming the node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType

from edgec.compiler import compile as edgec_compile
from edgec.errors import EdgecError
from edgec.runtime import Session
from edgec.unsupported import UnsupportedOnPurposeError, check_model

_REDUCE_OPS = ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
               "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp")

# op type -> input positions that decide output shapes or axes: a graph input that
# feeds one of these is specialized (compiled in as a constant).
SHAPE_OPERANDS: dict[str, tuple[int, ...]] = {
    "Reshape": (1,),
    "Expand": (1,),
    "Tile": (1,),
    "Slice": (1, 2, 3, 4),
    "Pad": (1, 3),
    "Resize": (1, 2, 3),
    "Upsample": (1,),
    "TopK": (1,),
    "Split": (1,),
    "Squeeze": (1,),
    "Unsqueeze": (1,),
    "ConstantOfShape": (0,),
    "Range": (0, 1, 2),
    "OneHot": (1,),
    "CenterCropPad": (1,),
    "CumSum": (1,),
    "CumProd": (1,),
    "Col2Im": (1, 2),
    "MaxUnpool": (2,),
    "AffineGrid": (1,),
    "DFT": (1, 2),
    "STFT": (1, 3),
    "BlackmanWindow": (0,),
    "HannWindow": (0,),
    "HammingWindow": (0,),
    "MelWeightMatrix": (0, 1, 2, 3, 4),
    # a Loop's trip count and initial condition set the shape of its scan outputs
    "Loop": (0, 1),
    **{op: (1,) for op in _REDUCE_OPS},
}

# op type -> input positions holding quantization parameters (scales, zero points):
# edgec's int8 kernels take them from the tensors' quantization at compile time, so a
# graph input that feeds one is specialized too.
QUANT_OPERANDS: dict[str, tuple[int, ...]] = {
    "QuantizeLinear": (1, 2),
    "DequantizeLinear": (1, 2),
    "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "QLinearConv": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3),
    "MatMulInteger": (2, 3),
}
# op type -> input positions of integer weights, which edgec's int8 convolution packs
# (and reads the quantization of) at compile time: weights of a real model are
# initializers, so a graph input that feeds one is specialized too.
WEIGHT_OPERANDS: dict[str, tuple[int, ...]] = {
    "QLinearConv": (3,),
    "ConvInteger": (1,),
}
COMPILE_TIME_OPERANDS = {op: SHAPE_OPERANDS.get(op, ()) + QUANT_OPERANDS.get(op, ())
                         + WEIGHT_OPERANDS.get(op, ())
                         for op in {*SHAPE_OPERANDS, *QUANT_OPERANDS, *WEIGHT_OPERANDS}}

ModelLike = onnx.ModelProto | bytes | str | os.PathLike[str]


def _load(model: ModelLike) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, bytes):
        return onnx.load_from_string(model)
    return onnx.load(os.fspath(model))


def _static_shape(vi: onnx.ValueInfoProto) -> list[int] | None:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    dims = []
    for d in tt.shape.dim:
        if not d.HasField("dim_value") or d.dim_value <= 0:
            return None
        dims.append(d.dim_value)
    return dims


# Ops whose output depends on the shape of their input, not on its values: the search
# for inputs that shape operands are computed from stops there.
_SHAPE_ONLY = ("Shape", "Size")


def _shape_inputs(model: onnx.ModelProto, inputs: Sequence[str]) -> set[str]:
    """The graph inputs whose values a shape, axes or quantization operand of some node
    is computed from (directly or through other nodes, but not through Shape/Size)."""
    names = set(inputs)
    nodes = list(_all_nodes(model.graph))
    producer = {out: node for node in nodes for out in node.output if out}
    pending: list[str] = []
    for node in nodes:
        if node.domain not in ("", "ai.onnx"):
            continue
        for pos in COMPILE_TIME_OPERANDS.get(node.op_type, ()):
            if pos < len(node.input) and node.input[pos]:
                pending.append(node.input[pos])
    found: set[str] = set()
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in names:
            found.add(name)
            continue
        node = producer.get(name)
        if node is not None and node.op_type not in _SHAPE_ONLY:
            pending.extend(x for x in node.input if x)
            pending.extend(_outer_names(node))  # what its branches or body read
    return found


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    return [g for a in node.attribute
            for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs))]


def _all_nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    """The graph's nodes and those of its subgraphs (If branches, Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for sub in _subgraphs(node):
            yield from _all_nodes(sub)


def _outer_names(node: onnx.NodeProto) -> set[str]:
    """The values a node's subgraphs read from the enclosing scopes."""
    used: set[str] = set()
    defined: set[str] = set()
    for sub in _subgraphs(node):
        defined |= {i.name for i in sub.input} | {t.name for t in sub.initializer}
        for n in _all_nodes(sub):
            used.update(x for x in n.input if x)
            defined.update(n.output)
    return used - defined


class EdgecBackendRep(BackendRep):
    """A model ready to run: run(inputs) compiles (once per input signature) and runs."""

    def __init__(self, model: onnx.ModelProto, threads: int = 1, specialize: bool = True) -> None:
        self._model = model
        self._threads = threads
        inits = {t.name for t in model.graph.initializer}
        self._inputs = [vi for vi in model.graph.input if vi.name not in inits]
        self._input_names = [vi.name for vi in self._inputs]
        self._output_names = [vi.name for vi in model.graph.output]
        self._specialized = _shape_inputs(model, self._input_names) if specialize else set()
        self._static = {vi.name: _static_shape(vi) for vi in self._inputs}
        self._sessions: dict[tuple[Any, ...], Session] = {}
        self.compiles = 0
        if not self._specialized and all(s is not None for s in self._static.values()):
            self._session({})  # compile now: compile errors surface in prepare()

    @property
    def specialized_inputs(self) -> list[str]:
        """The inputs compiled in as constants (SHAPE_OPERANDS, QUANT_OPERANDS), in order."""
        return [n for n in self._input_names if n in self._specialized]

    def _key(self, feeds: dict[str, np.ndarray]) -> tuple[Any, ...]:
        key: list[Any] = []
        for name in self._input_names:
            if name in self._specialized:
                value = feeds[name]
                key.append((name, value.dtype.str, value.shape, value.tobytes()))
            elif self._static[name] is None:
                key.append((name, feeds[name].shape))
        return tuple(key)

    def _session(self, feeds: dict[str, np.ndarray]) -> Session:
        key = self._key(feeds)
        session = self._sessions.get(key)
        if session is not None:
            return session
        model = self._model
        if self._specialized:
            model = onnx.ModelProto()
            model.CopyFrom(self._model)
            keep = [vi for vi in model.graph.input if vi.name not in self._specialized]
            del model.graph.input[:]
            model.graph.input.extend(keep)
            for name in self.specialized_inputs:
                model.graph.initializer.append(numpy_helper.from_array(feeds[name], name))
            model.ir_version = max(model.ir_version, 4)
        shapes = {name: list(feeds[name].shape) for name in self._input_names
                  if name not in self._specialized and self._static[name] is None}
        data = edgec_compile(model, input_shapes=shapes or None)
        session = Session(data, threads=self._threads)
        self._sessions[key] = session
        self.compiles += 1
        return session

    def run(self, inputs: Any, **kwargs: Any) -> list[np.ndarray]:  # type: ignore[override]
        """inputs: a list (one array per graph input, initializers excluded), a dict
        name -> array, or one array for a one-input model. Returns one array per output."""
        if isinstance(inputs, dict):
            feeds = {k: np.asarray(v) for k, v in inputs.items()}
        else:
            if isinstance(inputs, np.ndarray | np.generic) or not isinstance(
                    inputs, list | tuple):
                inputs = [inputs]
            if len(inputs) != len(self._input_names):
                raise EdgecError(f"{len(inputs)} inputs given, the model has "
                                 f"{len(self._input_names)}: {self._input_names}")
            feeds = {n: np.asarray(v) for n, v in zip(self._input_names, inputs, strict=True)}
        missing = [n for n in self._input_names if n not in feeds]
        if missing:
            raise EdgecError(f"input {missing[0]!r} was not given")
        session = self._session(feeds)
        runtime_feeds = {n: feeds[n] for n in self._input_names if n not in self._specialized}
        return session.run(self._output_names, runtime_feeds)


class EdgecBackend(Backend):
    """onnx.backend.base.Backend for edgec: CPU only."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU",
                      **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return Device(device).type == DeviceType.CPU
        except AttributeError:
            return False

    @classmethod
    def prepare(cls, model: ModelLike, device: str = "CPU",  # type: ignore[override]
                **kwargs: Any) -> EdgecBackendRep:
        """Checks the model and compiles it (now if its shapes are static, else on the
        first run). kwargs: threads (default 1), specialize (default True)."""
        if not cls.supports_device(device):
            raise EdgecError(f"edgec runs on CPU, not {device!r}")
        proto = _load(model)
        check_model(proto)
        return EdgecBackendRep(proto, threads=int(kwargs.get("threads", 1)),
                               specialize=bool(kwargs.get("specialize", True)))

    @classmethod
    def run_model(cls, model: ModelLike, inputs: Any,  # type: ignore[override]
                  device: str = "CPU", **kwargs: Any) -> list[np.ndarray]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any,  # type: ignore[override]
                 device: str = "CPU",
                 outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> list[np.ndarray]:
        """Runs one node: a one-node model with the node's inputs as graph inputs
        (typed from the arrays given) and its outputs as graph outputs."""
        if isinstance(inputs, dict):
            arrays = [np.asarray(inputs[name]) for name in node.input if name]
        else:
            arrays = [np.asarray(v) for v in inputs]
        names = [name for name in node.input if name]
        if len(arrays) != len(names):
            raise EdgecError(f"{len(arrays)} inputs given, the node has {len(names)}")
        graph_inputs = [helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
            for name, a in zip(names, arrays, strict=True)]
        if outputs_info is not None:
            graph_outputs = [helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), list(shape))
                for name, (dt, shape) in zip(node.output, outputs_info, strict=True)]
        else:
            graph_outputs = [helper.make_empty_tensor_value_info(name)
                             for name in node.output if name]
        opset = int(kwargs.pop("opset_version", onnx.defs.onnx_opset_version()))
        domain = node.domain or ""
        opsets = [helper.make_opsetid("", opset)]
        if domain not in ("", "ai.onnx"):
            opsets.append(helper.make_opsetid(domain, 1))
        graph = helper.make_graph([node], "run_node", graph_inputs, graph_outputs)
        model = helper.make_model(graph, opset_imports=opsets)
        return cls.prepare(model, device, **kwargs).run(arrays)


is_compatible = EdgecBackend.is_compatible
prepare = EdgecBackend.prepare
run_model = EdgecBackend.run_model
run_node = EdgecBackend.run_node
supports_device = EdgecBackend.supports_device

__all__ = [
    "QUANT_OPERANDS",
    "SHAPE_OPERANDS",
    "WEIGHT_OPERANDS",
    "EdgecBackend",
    "EdgecBackendRep",
    "UnsupportedOnPurposeError",
    "is_compatible",
    "prepare",
    "run_model",
    "run_node",
    "supports_device",
]
