"""The prunable layers of an onnx-ir graph and small helpers to edit constants."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir


@dataclass
class Layer:
    """A Conv, Gemm or MatMul whose weight is a constant."""

    node: ir.Node
    name: str  # the weight's name without ".weight" (torchvision-style), else the node's
    weight: ir.Value
    kind: str  # "conv", "gemm" or "matmul"
    group: int = 1

    @property
    def array(self) -> np.ndarray:
        return const_array(self.weight)

    def reduction_axis(self) -> int:
        """The axis the weight is summed over per output (N:M groups run along it)."""
        if self.kind == "conv":
            return 1
        if self.kind == "gemm" and self.node.attributes.get_int("transB", False):
            return 1
        return 0


def const_array(value: ir.Value) -> np.ndarray:
    """The data of a constant value (initializer or Constant node)."""
    if value.const_value is not None:
        return value.const_value.numpy()
    producer = value.producer()
    if producer is not None and producer.op_type == "Constant":
        attr = producer.attributes.get("value")
        if attr is not None:
            return attr.value.numpy()
    raise ValueError(f"value {value.name!r} is not a constant")


def is_const(value: ir.Value | None) -> bool:
    if value is None:
        return False
    if value.const_value is not None:
        return True
    producer = value.producer()
    return producer is not None and producer.op_type == "Constant" and \
        producer.attributes.get("value") is not None


def set_const(value: ir.Value, array: np.ndarray) -> None:
    """Replaces a constant's data (and its shape) in place."""
    array = np.ascontiguousarray(array)
    tensor = ir.tensor(array, name=value.name)
    producer = value.producer()
    if value.const_value is None and producer is not None and producer.op_type == "Constant":
        producer.attributes["value"] = ir.AttrTensor("value", tensor)
    else:
        value.const_value = tensor
    value.shape = ir.Shape(array.shape)


def layer_name(node: ir.Node, weight: ir.Value) -> str:
    name = weight.name or ""
    if name.endswith(".weight"):
        return name[: -len(".weight")]
    return node.name or name


def find_layers(graph: ir.Graph) -> list[Layer]:
    """Every Conv (2-D/1-D), Gemm and MatMul (2-D B) with a constant float weight,
    in graph order."""
    layers: list[Layer] = []
    for node in graph:
        if node.domain not in ("", "ai.onnx") or len(node.inputs) < 2:
            continue
        w = node.inputs[1]
        if w is None or not is_const(w):
            continue
        arr = const_array(w)
        if arr.dtype != np.float32:
            continue
        if node.op_type == "Conv" and arr.ndim in (3, 4):
            layers.append(Layer(node, layer_name(node, w), w, "conv",
                                node.attributes.get_int("group", 1)))
        elif node.op_type == "Gemm" and arr.ndim == 2:
            layers.append(Layer(node, layer_name(node, w), w, "gemm"))
        elif node.op_type == "MatMul" and arr.ndim == 2:
            layers.append(Layer(node, layer_name(node, w), w, "matmul"))
    return layers


def excluded(layer: Layer, patterns: tuple[str, ...]) -> bool:
    names = [layer.name, layer.node.name or "", layer.weight.name or ""]
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in names if n)
