"""Import of pre-quantized QDQ models (onnxruntime's quantize_static output and
the like): QuantizeLinear/DequantizeLinear pairs around float ops.

fold_qdq rewrites the ONNX model before import into the float model the pairs
describe, and records what they said:
  - DequantizeLinear of a constant (weights, int32 biases) becomes the float
    constant (q - zp) * scale; a weight's scales (per tensor or per axis) are
    kept by name so its int8 values are rounded back exactly;
  - a QuantizeLinear whose consumers are all DequantizeLinear with the same
    parameters disappears with them (the float value flows through) and its
    scale/zero point are recorded for that value.
Quantize/Dequantize nodes that do not pair up (QLinearConv models, graph
inputs already quantized) stay and are lowered by edgec/lower/quant.py.
The quantization pass then runs in "strict" mode: exactly the ops whose every
activation has recorded parameters run in int8, with those parameters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from edgec.program import Program

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass
class QdqInfo:
    activations: dict[str, tuple[float, int, np.dtype]] = field(default_factory=dict)
    weights: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)  # scales, axis
    pairs: int = 0
    constants: int = 0

    def program_params(self, program: Program) -> dict[int, object]:
        """Parameters of the program's float activation roots, by tensor name."""
        from edgec.quant.rewrite import ActQ

        out: dict[int, object] = {}
        for i, t in enumerate(program.tensors):
            if t.is_constant or t.dtype != np.float32 or t.name not in self.activations:
                continue
            r = t.alias_of if t.alias_of is not None else i
            if r in out and r != i:
                continue  # an alias does not override its root
            scale, zp, dtype = self.activations[t.name]
            out[r] = ActQ(float(np.float32(scale)), int(zp), np.dtype(dtype))
        return out

    def dtype(self) -> np.dtype:
        kinds = Counter(np.dtype(d) for _, _, d in self.activations.values())
        return kinds.most_common(1)[0][0] if kinds else np.dtype(np.uint8)

    def program_weights(self, program: Program) -> dict[str, tuple[np.ndarray, int]]:
        del program  # weights are looked up by their ONNX name
        return dict(self.weights)


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    for a in node.attribute:
        if a.name == name:
            return int(a.i)
    return default


def has_qdq(model: onnx.ModelProto) -> bool:
    return any(n.op_type in QDQ_OPS and n.domain in ("", "ai.onnx") for n in model.graph.node)


def _dequantize(q: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * q.ndim
    if scale.size > 1:
        shape[axis % q.ndim] = -1
    s = scale.astype(np.float32).reshape(shape)
    z = zp.astype(np.int64).reshape(shape if zp.size > 1 else [1] * q.ndim)
    return ((q.astype(np.int64) - z).astype(np.float32) * s).astype(np.float32)


def fold_qdq(model: onnx.ModelProto) -> tuple[onnx.ModelProto, QdqInfo | None]:
    """(the float model, what the pairs recorded), or (model, None) without QDQ."""
    if not has_qdq(model):
        return model, None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)

    def const(name: str) -> np.ndarray | None:
        return consts.get(name) if name else None

    info = QdqInfo()
    removed: set[int] = set()
    new_inits: list[onnx.TensorProto] = []
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    graph_outputs = {o.name for o in g.output}

    def params(n: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray] | None:
        s = const(n.input[1]) if len(n.input) > 1 else None
        if s is None:
            return None
        zp = const(n.input[2]) if len(n.input) > 2 and n.input[2] else None
        if zp is None:
            zp = np.zeros(s.shape, np.uint8)
        return np.asarray(s), np.asarray(zp)

    # DequantizeLinear of constants -> float constants
    for k, n in enumerate(g.node):
        if n.op_type != "DequantizeLinear" or const(n.input[0]) is None:
            continue
        p = params(n)
        if p is None:
            continue
        q = np.asarray(const(n.input[0]))
        axis = _attr(n, "axis", 1)
        f = _dequantize(q, p[0], p[1], axis)
        new_inits.append(numpy_helper.from_array(f, n.output[0]))
        consts[n.output[0]] = f
        removed.add(k)
        info.constants += 1
        if q.dtype != np.int32:
            info.weights[n.output[0]] = (p[0].astype(np.float32).reshape(-1),
                                         axis % q.ndim if p[0].size > 1 else -1)
    # QuantizeLinear -> DequantizeLinear pairs
    rename: dict[str, str] = {}
    for k, n in enumerate(g.node):
        if n.op_type != "QuantizeLinear" or n.output[0] in graph_outputs:
            continue
        p = params(n)
        cons = consumers.get(n.output[0], [])
        if p is None or p[0].size != 1 or not cons:
            continue
        if not all(c.op_type == "DequantizeLinear" and params(c) is not None and
                   np.array_equal(params(c)[0], p[0]) and  # type: ignore[index]
                   np.array_equal(params(c)[1], p[1]) for c in cons):  # type: ignore[index]
            continue
        info.activations[n.input[0]] = (float(p[0].reshape(-1)[0]), int(p[1].reshape(-1)[0]),
                                        np.dtype(p[1].dtype))
        info.pairs += 1
        removed.add(k)
        for c in cons:
            rename[c.output[0]] = n.input[0]
            removed.update(j for j, x in enumerate(g.node) if x is c)

    def resolve(name: str) -> str:
        seen = 0
        while name in rename and seen < 1000:
            name, seen = rename[name], seen + 1
        return name

    kept = [n for k, n in enumerate(g.node) if k not in removed]
    for n in kept:
        for j, name in enumerate(n.input):
            if name in rename:
                n.input[j] = resolve(name)
    extra: list[onnx.NodeProto] = []
    for o in g.output:
        if o.name in rename:
            src = resolve(o.name)
            if src in info.activations:  # the optimizer may fold the Identity into src
                info.activations[o.name] = info.activations[src]
            extra.append(helper.make_node("Identity", [src], [o.name],
                                          name=f"{o.name}/qdq_identity"))
    del g.node[:]
    g.node.extend(kept + extra)
    used = {i for n in g.node for i in n.input} | graph_outputs
    inits = [i for i in g.initializer if i.name in used]
    inits += [i for i in new_inits if i.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    removed_values = set(rename)
    keep_vi = [v for v in g.value_info if v.name not in removed_values]
    del g.value_info[:]
    g.value_info.extend(keep_vi)
    return m, info
