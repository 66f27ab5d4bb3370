"""What edgec leaves out on purpose, and why.

edgec compiles inference graphs of static shape into a flat instruction list
whose memory is planned ahead of time, for runtimes with float32, float16 and
8/32/64-bit integer kernels. Some of ONNX falls outside that on purpose; a
model that uses it gets a compile error that names the node and says
"unsupported on purpose: <reason>" (see docs/conformance.md). Everything
else that fails to compile is a gap to close, not a decision: loss functions
among them (control flow, If and Loop, runs in the runtime: edgec/lower/control.py).

The tables:

- UNSUPPORTED_OPS: op type (default domain) -> reason.
- UNSUPPORTED_DOMAINS: whole operator domains -> reason.
- UNSUPPORTED_DTYPES: ONNX element types -> reason.
- UNSUPPORTED_TYPES: non-tensor value kinds (sequence, optional, map) -> reason.

check_model() checks an ONNX model before import (the frontend's own check
of the imported graph runs after constant folding, so an op folded away never
reaches it). Ops whose output shape depends on the input values (NonZero,
NonMaxSuppression, Unique, Compress) are supported: edgec/lower/dynamic.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import onnx

from edgec.errors import EdgecError

_TRAINING = "training op (edgec compiles inference graphs)"
_RANDOM = ("random number generation (a compiled program is deterministic: same inputs, "
           "same outputs)")
_STRING = "string tensors (the runtime has numeric tensors only)"
_SEQUENCE = "sequence values (the runtime has tensors only, planned ahead of time)"
_OPTIONAL = "optional values (the runtime has tensors only, planned ahead of time)"
_IMAGE = "image decoding (decode in the application; edgec takes tensors)"

UNSUPPORTED_OPS: dict[str, str] = {
    # training
    "Gradient": _TRAINING,
    "Adagrad": _TRAINING,
    "Adam": _TRAINING,
    "Momentum": _TRAINING,
    # randomness
    "RandomNormal": _RANDOM,
    "RandomNormalLike": _RANDOM,
    "RandomUniform": _RANDOM,
    "RandomUniformLike": _RANDOM,
    "Multinomial": _RANDOM,
    "Bernoulli": _RANDOM,
    # strings
    "StringNormalizer": _STRING,
    "StringConcat": _STRING,
    "StringSplit": _STRING,
    "RegexFullMatch": _STRING,
    "ImageDecoder": _IMAGE,
    # sequences and optionals
    "SequenceAt": _SEQUENCE,
    "SequenceConstruct": _SEQUENCE,
    "SequenceEmpty": _SEQUENCE,
    "SequenceErase": _SEQUENCE,
    "SequenceInsert": _SEQUENCE,
    "SequenceLength": _SEQUENCE,
    "SequenceMap": _SEQUENCE,
    "SplitToSequence": _SEQUENCE,
    "ConcatFromSequence": _SEQUENCE,
    "Optional": _OPTIONAL,
    "OptionalGetElement": _OPTIONAL,
    "OptionalHasElement": _OPTIONAL,
}

UNSUPPORTED_DOMAINS: dict[str, str] = {
    "ai.onnx.preview.training": _TRAINING,
    "ai.onnx.ml": ("classical-ML operator set ai.onnx.ml (tree ensembles, label encoders, ...; "
                   "edgec compiles neural networks)"),
}

_FLOAT8 = "8-bit float formats (no float8 kernels; quantize to int8 instead)"
_SUBBYTE = "sub-byte element types (no packed 2/4-bit kernels)"
UNSUPPORTED_DTYPES: dict[int, str] = {
    onnx.TensorProto.STRING: _STRING,
    onnx.TensorProto.COMPLEX64: "complex numbers (no complex kernels)",
    onnx.TensorProto.COMPLEX128: "complex numbers (no complex kernels)",
    onnx.TensorProto.FLOAT8E4M3FN: _FLOAT8,
    onnx.TensorProto.FLOAT8E4M3FNUZ: _FLOAT8,
    onnx.TensorProto.FLOAT8E5M2: _FLOAT8,
    onnx.TensorProto.FLOAT8E5M2FNUZ: _FLOAT8,
    onnx.TensorProto.FLOAT8E8M0: _FLOAT8,
    onnx.TensorProto.UINT4: _SUBBYTE,
    onnx.TensorProto.INT4: _SUBBYTE,
    onnx.TensorProto.FLOAT4E2M1: _SUBBYTE,
}
# Element types newer than some onnx releases: looked up by name.
for _name in ("UINT2", "INT2", "FLOAT6E2M3", "FLOAT6E3M2"):
    if hasattr(onnx.TensorProto, _name):
        UNSUPPORTED_DTYPES[getattr(onnx.TensorProto, _name)] = _SUBBYTE

UNSUPPORTED_TYPES: dict[str, str] = {
    "sequence_type": _SEQUENCE,
    "optional_type": _OPTIONAL,
    "map_type": "map values (the runtime has tensors only)",
    "sparse_tensor_type": "sparse tensor values (the runtime takes dense tensors)",
}


class UnsupportedOnPurposeError(EdgecError):
    """The model uses something edgec leaves out on purpose (see edgec.unsupported)."""

    def __init__(self, what: str, reason: str, message: str | None = None) -> None:
        super().__init__(message or f"{what}: unsupported on purpose: {reason}")
        self.what = what
        self.reason = reason


def op_reason(op_type: str, domain: str = "") -> str | None:
    """Why edgec leaves this op out, or None if it does not (on purpose)."""
    domain = "" if domain == "ai.onnx" else domain
    if domain in UNSUPPORTED_DOMAINS:
        return UNSUPPORTED_DOMAINS[domain]
    if domain == "":
        return UNSUPPORTED_OPS.get(op_type)
    return None


def dtype_reason(elem_type: int) -> str | None:
    return UNSUPPORTED_DTYPES.get(elem_type)


def _type_reason(tp: onnx.TypeProto) -> str | None:
    kind = tp.WhichOneof("value")
    if kind is None:
        return None
    if kind in UNSUPPORTED_TYPES:
        return UNSUPPORTED_TYPES[kind]
    if kind == "tensor_type":
        return dtype_reason(tp.tensor_type.elem_type)
    return None


def _node_label(node: onnx.NodeProto) -> str:
    op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
    return f"{op} node {node.name!r}" if node.name else f"{op} node"


def _training_dropout(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> bool:
    """Dropout with a training_mode input that is not a constant false."""
    if node.op_type != "Dropout" or node.domain not in ("", "ai.onnx"):
        return False
    if len(node.input) < 3 or not node.input[2]:
        return False
    value = constants.get(node.input[2])
    if value is None:
        return True
    return bool(onnx.numpy_helper.to_array(value).any())


def _nodes(graph: onnx.GraphProto) -> Iterator[onnx.NodeProto]:
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _nodes(g)


def _constants(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    out = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.type == onnx.AttributeProto.TENSOR:
                    out[node.output[0]] = attr.t
    return out


def model_problems(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """(what, reason) for everything in the model that edgec leaves out on purpose."""
    graph = model.graph
    problems: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def add(what: str, reason: str) -> None:
        if (what, reason) not in seen:
            seen.add((what, reason))
            problems.append((what, reason))

    values: Iterable[onnx.ValueInfoProto] = [*graph.input, *graph.output]
    for vi in values:
        reason = _type_reason(vi.type)
        if reason is not None:
            add(f"value {vi.name!r}", reason)
    for init in graph.initializer:
        reason = dtype_reason(init.data_type)
        if reason is not None:
            add(f"initializer {init.name!r}", reason)
    constants = _constants(graph)
    for node in _nodes(graph):
        label = _node_label(node)
        reason = op_reason(node.op_type, node.domain)
        if reason is not None:
            add(label, reason)
            continue
        if _training_dropout(node, constants):
            add(label, f"training_mode input: {_RANDOM}")
        if node.op_type == "BatchNormalization" and node.domain in ("", "ai.onnx") and any(
                a.name == "training_mode" and a.i for a in node.attribute):
            add(label, f"training_mode=1: {_TRAINING}")
        for attr in node.attribute:
            if attr.name in ("to", "output_dtype", "saturate_dtype") and attr.type == \
                    onnx.AttributeProto.INT:
                reason = dtype_reason(attr.i)
                if reason is not None:
                    add(label, reason)
            elif attr.type == onnx.AttributeProto.TENSOR:
                reason = dtype_reason(attr.t.data_type)
                if reason is not None:
                    add(label, reason)
    return problems


def check_model(model: onnx.ModelProto) -> None:
    """Raises UnsupportedOnPurposeError naming the first thing edgec leaves out on purpose."""
    problems = model_problems(model)
    if problems:
        what, reason = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UnsupportedOnPurposeError(what + more, reason)


__all__ = [
    "UNSUPPORTED_DOMAINS",
    "UNSUPPORTED_DTYPES",
    "UNSUPPORTED_OPS",
    "UNSUPPORTED_TYPES",
    "UnsupportedOnPurposeError",
    "check_model",
    "dtype_reason",
    "model_problems",
    "op_reason",
]
