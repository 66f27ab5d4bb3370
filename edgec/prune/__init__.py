"""Pruning: unstructured magnitude (global or per layer, optionally in blocks),
structured channel pruning that removes channels from the graph, and N:M.

prune_graph() edits an imported onnx-ir graph in place before lowering; the
zeros it leaves are then encoded and run sparse by edgec.passes.sparsify
(which also finds zeros already present in a model's weights). Spec strings:
edgec.prune.spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import onnx_ir as ir

from edgec.prune.channels import ChannelPlan, channel_prune
from edgec.prune.graph import Layer, excluded, find_layers
from edgec.prune.magnitude import magnitude_prune, nm_prune
from edgec.prune.spec import PruneSpec, parse_spec

__all__ = ["ChannelPlan", "LayerWeights", "PruneResult", "PruneSpec", "parse_spec",
           "prune_graph"]


class LayerWeights(Mapping[str, np.ndarray]):
    """Dense weights of the graph's Conv/Gemm/MatMul layers by node name (names
    that are unique and non-empty), read on demand."""

    def __init__(self, layers: list[Layer]) -> None:
        by_name: dict[str, list[Layer]] = {}
        for layer in layers:
            if layer.node.name:
                by_name.setdefault(layer.node.name, []).append(layer)
        self._layers = {k: v[0] for k, v in by_name.items() if len(v) == 1}

    def __getitem__(self, name: str) -> np.ndarray:
        layer = self._layers[name]
        w = np.asarray(layer.array, np.float32)
        if layer.kind == "conv":
            return w
        trans_b = layer.kind == "gemm" and layer.node.attributes.get_int("transB", False)
        return w if trans_b else np.ascontiguousarray(w.T)  # as (N, K)

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)


@dataclass
class PruneResult:
    spec: PruneSpec | None
    weights: LayerWeights
    pruned: list[str] = field(default_factory=list)  # layer names that were pruned
    channels: ChannelPlan | None = None


def eligible(layer: Layer, spec: PruneSpec) -> bool:
    """Unstructured and N:M pruning apply to group-1 convs, Gemm and MatMul weights
    (grouped/depthwise convs stay dense: they are small and no sparse kernel runs
    them) not excluded by the spec."""
    return (layer.kind != "conv" or layer.group == 1) and not excluded(layer, spec.exclude)


def prune_graph(graph: ir.Graph, spec: str | PruneSpec | None) -> PruneResult:
    """Prunes graph in place as spec says (None: nothing) and returns what was done."""
    parsed = parse_spec(spec) if isinstance(spec, str) else spec
    layers = find_layers(graph)
    result = PruneResult(parsed, LayerWeights(layers))
    if parsed is None:
        return result
    if parsed.kind == "channels":
        result.channels = channel_prune(graph, layers, parsed)
        result.pruned = sorted(result.channels.kept)
    else:
        chosen = [layer for layer in layers if eligible(layer, parsed)]
        if parsed.kind == "magnitude":
            magnitude_prune(chosen, parsed)
        else:
            nm_prune(chosen, parsed)
        result.pruned = [layer.name for layer in chosen]
    result.weights = LayerWeights(find_layers(graph))
    return result
