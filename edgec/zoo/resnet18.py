"""ResNet-18 (224x224, 1000 classes), laid out and named like torchvision's."""

from __future__ import annotations

import numpy as np
import onnx

from edgec.zoo._graph import GraphBuilder, image_input, image_io

DESCRIPTION = (
    "ResNet-18, 224x224 input, 1000 classes: 7x7 stem, max pool, four stages of two "
    "BasicBlocks (64/128/256/512), unfolded BatchNormalization; seeded random weights."
)

STAGE_CHANNELS: tuple[int, ...] = (64, 128, 256, 512)


def _basic_block(b: GraphBuilder, name: str, x: str, cin: int, cout: int, stride: int) -> str:
    y = b.conv(f"{name}.conv1", x, cin, cout, 3, stride)
    y = b.batch_norm(f"{name}.bn1", y, cout)
    y = b.op("Relu", f"{name}.relu1", [y])
    y = b.conv(f"{name}.conv2", y, cout, cout, 3, 1)
    y = b.batch_norm(f"{name}.bn2", y, cout)
    if stride != 1 or cin != cout:
        x = b.conv(f"{name}.downsample.0", x, cin, cout, 1, stride)
        x = b.batch_norm(f"{name}.downsample.1", x, cout)
    y = b.op("Add", f"{name}.add", [x, y])
    return b.op("Relu", f"{name}.relu2", [y])


def build(seed: int = 0) -> onnx.ModelProto:
    b = GraphBuilder(np.random.default_rng(seed))
    x = b.conv("conv1", "input", 3, 64, 7, 2)
    x = b.batch_norm("bn1", x, 64)
    x = b.op("Relu", "relu", [x])
    x = b.op("MaxPool", "maxpool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    cin = 64
    for stage, cout in enumerate(STAGE_CHANNELS, start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _basic_block(b, f"layer{stage}.{block}", x, cin, cout, stride)
            cin = cout
    x = b.op("GlobalAveragePool", "avgpool", [x])
    x = b.op("Flatten", "flatten", [x], axis=1)
    b.gemm("fc", x, 512, 1000, output="logits")
    return b.model("resnet18", *image_io())


def example_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    return image_input(seed)
