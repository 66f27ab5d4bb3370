"""Graph-building helpers shared by the zoo models."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPSET = 17
# IR 8 is the version that introduced opset 17; pinning it keeps the files loadable by older
# runtimes and keeps the serialized bytes independent of the installed onnx version.
IR_VERSION = 8


@dataclass
class GraphBuilder:
    """Accumulates nodes and initializers; every node's single output is named after the node."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)

    def param(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def normal(self, name: str, shape: Sequence[int], mean: float, std: float) -> str:
        value = mean + std * self.rng.standard_normal(tuple(shape), dtype=np.float32)
        return self.param(name, value.astype(np.float32))

    def uniform(self, name: str, shape: Sequence[int], low: float, high: float) -> str:
        return self.param(name, self.rng.uniform(low, high, tuple(shape)).astype(np.float32))

    def const(self, name: str, value: np.ndarray) -> str:
        """A non-learned constant (shape, scalar), emitted as a Constant node, not a parameter."""
        tensor = numpy_helper.from_array(value, name)
        self.nodes.append(helper.make_node("Constant", [], [name], name=name, value=tensor))
        return name

    def op(
        self,
        op_type: str,
        name: str,
        inputs: Sequence[str],
        output: str | None = None,
        **attrs: Any,
    ) -> str:
        out = output or name
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=name, **attrs))
        return out

    def conv(
        self, name: str, x: str, cin: int, cout: int, kernel: int, stride: int, group: int = 1
    ) -> str:
        """Bias-free Conv with He-normal weights and 'same' padding, as torchvision defines it."""
        fan_in = cin // group * kernel * kernel
        w = self.normal(
            f"{name}.weight", (cout, cin // group, kernel, kernel), 0.0, math.sqrt(2.0 / fan_in)
        )
        pad = kernel // 2
        return self.op(
            "Conv",
            name,
            [x, w],
            group=group,
            kernel_shape=[kernel, kernel],
            pads=[pad, pad, pad, pad],
            strides=[stride, stride],
        )

    def batch_norm(self, name: str, x: str, channels: int) -> str:
        inputs = [
            x,
            self.uniform(f"{name}.weight", (channels,), 0.5, 1.5),
            self.normal(f"{name}.bias", (channels,), 0.0, 0.1),
            self.normal(f"{name}.running_mean", (channels,), 0.0, 0.1),
            self.uniform(f"{name}.running_var", (channels,), 0.5, 1.5),
        ]
        return self.op("BatchNormalization", name, inputs, epsilon=1e-5)

    def gemm(self, name: str, x: str, cin: int, cout: int, output: str | None = None) -> str:
        """nn.Linear as PyTorch exports it: weight [out, in] with transB, default uniform init."""
        bound = 1.0 / math.sqrt(cin)
        w = self.uniform(f"{name}.weight", (cout, cin), -bound, bound)
        b = self.uniform(f"{name}.bias", (cout,), -bound, bound)
        return self.op("Gemm", name, [x, w, b], output=output, transB=1)

    def model(
        self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto]
    ) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            ir_version=IR_VERSION,
            producer_name="edgec.zoo",
        )
        onnx.checker.check_model(model, full_check=True)
        return model


def image_input(seed: int) -> dict[str, np.ndarray]:
    """An ImageNet-normalised-looking image batch for the CNNs' `input`."""
    rng = np.random.default_rng(seed)
    return {"input": rng.standard_normal((1, 3, 224, 224), dtype=np.float32)}


def image_io() -> tuple[list[onnx.ValueInfoProto], list[onnx.ValueInfoProto]]:
    float32 = onnx.TensorProto.FLOAT
    return (
        [helper.make_tensor_value_info("input", float32, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", float32, [1, 1000])],
    )
