"""Magnitude (global, per layer, blocks, exclusions) and N:M pruning hit what
the spec asks for; spec strings parse or fail with a clear message."""

from __future__ import annotations

import numpy as np
import pytest

import edgec.zoo as zoo
from edgec.errors import EdgecError
from edgec.frontend.onnx_import import import_onnx
from edgec.prune import eligible, parse_spec, prune_graph
from edgec.prune.graph import find_layers


def _pruned_layers(spec: str, model: str = "mobilenet_v2") -> list[tuple[str, int, np.ndarray]]:
    graph = import_onnx(zoo.build(model)).graph
    prune_graph(graph, spec)
    return [(layer.name, layer.group, layer.array) for layer in find_layers(graph)]


def test_spec_parsing() -> None:
    s = parse_spec("magnitude:0.8:per-layer,exclude=classifier*|features.0.*,exclude=fc")
    assert (s.kind, s.amount, s.per_layer) == ("magnitude", 0.8, True)
    assert s.exclude == ("classifier*", "features.0.*", "fc")
    assert parse_spec("channels:0.3:l2").norm == "l2"
    assert (parse_spec("2:4").n, parse_spec("2:4").m) == (2, 4)
    assert parse_spec("magnitude:0.9,block=4x1").block == (4, 1)
    for bad in ["magnitude", "magnitude:1.5", "magnitude:0.8:global", "channels:x",
                "5:4", "2:4,block=4x1", "magnitude:0.5,foo=1", "sparse:0.5",
                "magnitude:0.5,block=4"]:
        with pytest.raises(EdgecError, match="--prune"):
            parse_spec(bad)


def test_global_magnitude_hits_the_sparsity() -> None:
    layers = _pruned_layers("magnitude:0.8")
    pruned = [w for _, g, w in layers if g == 1]
    zeros = sum(int(np.sum(w == 0)) for w in pruned)
    total = sum(w.size for w in pruned)
    assert abs(zeros / total - 0.8) < 1e-4
    # depthwise weights are left alone
    assert all(np.all(w != 0) for _, g, w in layers if g > 1)
    # a global threshold: layers end up with different sparsities
    per_layer = [np.mean(w == 0) for w in pruned]
    assert max(per_layer) - min(per_layer) > 0.2


@pytest.mark.parametrize("amount", [0.5, 0.9])
def test_per_layer_magnitude_hits_the_sparsity_in_every_layer(amount: float) -> None:
    for name, group, w in _pruned_layers(f"magnitude:{amount}:per-layer,exclude=classifier*"):
        zeros = int(np.sum(w == 0))
        if group > 1 or name.startswith("classifier"):
            assert zeros == 0, name
        else:
            assert zeros == round(amount * w.size), name


def test_the_smallest_weights_go() -> None:
    graph = import_onnx(zoo.build("resnet18")).graph
    before = {layer.name: np.abs(layer.array).copy() for layer in find_layers(graph)}
    prune_graph(graph, "magnitude:0.7:per-layer")
    for layer in find_layers(graph):
        mag, kept = before[layer.name], layer.array != 0
        assert mag[kept].min() >= mag[~kept].max()


def test_block_pruning_removes_whole_blocks() -> None:
    for name, group, w in _pruned_layers("magnitude:0.8:per-layer,block=4x1"):
        if group > 1:
            continue
        m = w.reshape(w.shape[0], -1)
        if m.shape[0] % 4:
            continue
        blocks = m.reshape(m.shape[0] // 4, 4, -1)
        present = np.any(blocks != 0, axis=1)
        assert int(np.sum(~present)) == round(0.8 * present.size), name
        assert np.all((blocks != 0) == present[:, None, :]), name


@pytest.mark.parametrize("n, m", [(2, 4), (1, 4), (3, 8)])
def test_n_of_m(n: int, m: int) -> None:
    graph = import_onnx(zoo.build("resnet18")).graph
    prune_graph(graph, f"{n}:{m}")
    spec = parse_spec(f"{n}:{m}")
    for layer in find_layers(graph):
        if not eligible(layer, spec):
            continue
        moved = np.moveaxis(layer.array, layer.reduction_axis(), -1)
        k = moved.shape[-1]
        if k < m:  # one short group: keeps its n largest
            assert np.all(np.count_nonzero(moved, axis=-1) == min(n, k))
            continue
        full = moved[..., : k - k % m].reshape(*moved.shape[:-1], -1, m)
        counts = np.count_nonzero(full, axis=-1)
        assert np.all(counts <= n) and np.mean(counts == n) > 0.99, layer.name
