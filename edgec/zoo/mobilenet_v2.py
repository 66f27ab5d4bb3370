"""MobileNetV2 (width 1.0, 224x224, 1000 classes), laid out and named like torchvision's."""

from __future__ import annotations

import numpy as np
import onnx

from edgec.zoo._graph import GraphBuilder, image_input, image_io

DESCRIPTION = (
    "MobileNetV2 1.0, 224x224 input, 1000 classes: inverted residual blocks with depthwise "
    "convs, unfolded BatchNormalization and ReLU6 as Clip(0, 6); seeded random weights."
)

# (expansion t, output channels c, repeats n, first stride s), from the MobileNetV2 paper.
INVERTED_RESIDUAL_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def build(seed: int = 0) -> onnx.ModelProto:
    b = GraphBuilder(np.random.default_rng(seed))
    relu6_min = b.const("relu6.min", np.array(0.0, np.float32))
    relu6_max = b.const("relu6.max", np.array(6.0, np.float32))

    def conv_bn_relu6(
        name: str, x: str, cin: int, cout: int, kernel: int, stride: int, group: int = 1
    ) -> str:
        x = b.conv(f"{name}.0", x, cin, cout, kernel, stride, group)
        x = b.batch_norm(f"{name}.1", x, cout)
        return b.op("Clip", f"{name}.2", [x, relu6_min, relu6_max])

    x = conv_bn_relu6("features.0", "input", 3, 32, 3, 2)
    cin, index = 32, 1
    for t, c, n, s in INVERTED_RESIDUAL_SETTINGS:
        for i in range(n):
            stride = s if i == 0 else 1
            name = f"features.{index}.conv"
            hidden = cin * t
            y, layer = x, 0
            if t != 1:
                y = conv_bn_relu6(f"{name}.0", y, cin, hidden, 1, 1)
                layer = 1
            y = conv_bn_relu6(f"{name}.{layer}", y, hidden, hidden, 3, stride, group=hidden)
            y = b.conv(f"{name}.{layer + 1}", y, hidden, c, 1, 1)
            y = b.batch_norm(f"{name}.{layer + 2}", y, c)
            if stride == 1 and cin == c:
                y = b.op("Add", f"features.{index}.add", [x, y])
            x, cin, index = y, c, index + 1
    x = conv_bn_relu6(f"features.{index}", x, cin, 1280, 1, 1)
    x = b.op("GlobalAveragePool", "avgpool", [x])
    x = b.op("Flatten", "flatten", [x], axis=1)
    b.gemm("classifier.1", x, 1280, 1000, output="logits")
    return b.model("mobilenet_v2", *image_io())


def example_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    return image_input(seed)
