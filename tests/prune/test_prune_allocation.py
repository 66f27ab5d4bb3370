"""The cost-aware channel budget of `channels:F` (edgec.prune.allocation): the
total number of channels dropped is F of all prunable channels, spread by what
each channel costs within per-space bounds; `channels:F:uniform` drops F in
every space. On the zoo models: the classifier's inputs are pruned harder, every
layer stays within the bounds, and the parameter ratio is the report's."""

from __future__ import annotations

import numpy as np
import pytest

import edgec.zoo as zoo
from edgec.compiler import compile_program
from edgec.errors import EdgecError
from edgec.frontend.onnx_import import import_onnx
from edgec.prune import parse_spec, prune_graph
from edgec.prune.allocation import SpaceCost, cost_drops, drop_bounds, uniform_drops
from edgec.prune.graph import find_layers
from edgec.prune.report import build_report


def test_spec_options() -> None:
    assert parse_spec("channels:0.3").allocation == "cost"
    assert parse_spec("channels:0.3:uniform").allocation == "uniform"
    s = parse_spec("channels:0.3:uniform:l2")
    assert (s.allocation, s.norm) == ("uniform", "l2")
    s = parse_spec("channels:0.3:l2:cost,exclude=fc")
    assert (s.allocation, s.norm, s.exclude) == ("cost", "l2", ("fc",))
    for bad in ["channels:0.3:l1:l2", "channels:0.3:uniform:cost", "channels:0.3:even",
                "channels:0.3:l1:uniform:x"]:
        with pytest.raises(EdgecError, match="--prune"):
            parse_spec(bad)


def _spaces(*specs: tuple[int, float, float]) -> dict[int, SpaceCost]:
    return {i: SpaceCost(c, p, m) for i, (c, p, m) in enumerate(specs)}


def test_equal_costs_give_the_uniform_split() -> None:
    spaces = _spaces((40, 10, 100), (60, 10, 100), (100, 10, 100))
    assert cost_drops(spaces, 0.3) == uniform_drops(spaces, 0.3) == {0: 12, 1: 18, 2: 30}


def test_costlier_channels_go_first_within_the_bounds() -> None:
    # space 2's channels carry 20x the parameters (a classifier's inputs)
    spaces = _spaces((64, 100, 1000), (64, 100, 1000), (64, 2000, 1000), (200, 50, 5000))
    drops = cost_drops(spaces, 0.3)
    assert sum(drops.values()) == round(0.3 * (64 * 3 + 200))
    lo, hi = drop_bounds(0.3)
    assert all(lo * spaces[s].channels - 1 <= d <= hi * spaces[s].channels
               for s, d in drops.items())
    assert drops[2] == int(hi * 64)  # the costliest space is at its bound
    assert drops[0] == drops[1] < drops[2]


def test_every_space_keeps_a_channel() -> None:
    spaces = _spaces((1, 10, 10), (2, 1000, 10), (3, 1, 1))
    for amount in (0.3, 0.6, 0.95):
        drops = cost_drops(spaces, amount)
        assert all(d < spaces[s].channels for s, d in drops.items())
    assert cost_drops({}, 0.3) == {}
    assert sum(cost_drops(_spaces((10, 5, 5), (20, 1, 1)), 0.0).values()) == 0


def _kept_fractions(name: str, spec: str) -> dict[str, float]:
    plan = prune_graph(import_onnx(zoo.build(name)).graph, spec).channels
    assert plan is not None
    return {layer: len(plan.kept.get(layer, range(c))) / c
            for layer, c in plan.channels_before.items()}


def test_mobilenet_classifier_inputs_are_pruned_harder() -> None:
    cost = _kept_fractions("mobilenet_v2", "channels:0.3")
    uniform = _kept_fractions("mobilenet_v2", "channels:0.3:uniform")
    lo, hi = drop_bounds(0.3)
    # features.18.0 makes the 1280 features the classifier reads
    assert cost["features.18.0"] < uniform["features.18.0"] - 0.1
    assert cost["features.18.0"] == pytest.approx(1 - hi, abs=1e-3)
    assert all(1 - hi - 1e-9 <= k <= 1 - lo + 0.05 for k in cost.values())
    assert min(cost.values()) < 0.6 and max(cost.values()) > 0.75  # not uniform
    assert all(abs(k - 0.7) < 0.04 for k in uniform.values())


def _layer_params(name: str, spec: str | None) -> int:
    graph = import_onnx(zoo.build(name)).graph
    prune_graph(graph, spec)
    return sum(layer.array.size for layer in find_layers(graph))


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_params_ratio_is_the_reports_and_meets_the_target(name: str) -> None:
    model = zoo.build(name)
    spec = "channels:0.3"
    dense, pruned = compile_program(model), compile_program(model, prune=spec)
    weights = [prune_graph(import_onnx(model).graph, s).weights for s in (None, spec)]
    report = build_report(spec, dense.program, dense.data, pruned.program, pruned.data,
                          run=False, weights_before=weights[0], weights_after=weights[1])
    before, after = _layer_params(name, None), _layer_params(name, spec)
    assert (report.params_before, report.params_after) == (before, after)
    assert after / before <= 0.55  # issue #6's target
    assert after < _layer_params(name, "channels:0.3:uniform")
    assert np.isclose(report.params_after / report.params_before, after / before)
