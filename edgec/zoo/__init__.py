"""A small model zoo built in-repo from seeded random weights (no downloads).

Used by the README tour, the tests and the benchmarks. Same seed, same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx

from edgec.zoo import bert_encoder, mobilenet_v2, resnet18


@dataclass(frozen=True)
class ZooModel:
    name: str
    description: str
    build: Callable[[int], onnx.ModelProto]
    example_inputs: Callable[[int], dict[str, np.ndarray]]


MODELS: dict[str, ZooModel] = {
    name: ZooModel(name, module.DESCRIPTION, module.build, module.example_inputs)
    for name, module in (
        ("mobilenet_v2", mobilenet_v2),
        ("resnet18", resnet18),
        ("bert_encoder", bert_encoder),
    )
}


def names() -> list[str]:
    return list(MODELS)


def build(name: str, seed: int = 0) -> onnx.ModelProto:
    if name not in MODELS:
        raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name].build(seed)
