"""Structured channel pruning removes channels for real; the pruned model equals
the smaller network built from the kept channels by an independent numpy
forward pass (tests/prune/prune_reference.py) over the ORIGINAL model (BatchNorm
unfolded, weights sliced by the kept channels; residual Adds must keep the same
channels on both sides)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from prune_reference import forward

import edgec
import edgec.zoo as zoo
from edgec.compiler import compile_program
from edgec.frontend.onnx_import import import_onnx
from edgec.prune import prune_graph
from edgec.zoo._graph import GraphBuilder


def _small_residual_cnn(seed: int = 0) -> onnx.ModelProto:
    b = GraphBuilder(np.random.default_rng(seed))
    relu6 = (b.const("lo", np.array(0.0, np.float32)), b.const("hi", np.array(6.0, np.float32)))
    x = b.conv("stem", "input", 3, 16, 3, 1)
    x = b.batch_norm("stem_bn", x, 16)
    x = b.op("Relu", "stem_relu", [x])
    y = b.op("Relu", "b1_relu", [b.batch_norm("b1_bn1", b.conv("b1.conv1", x, 16, 16, 3, 1), 16)])
    y = b.batch_norm("b1_bn2", b.conv("b1.conv2", y, 16, 16, 3, 1), 16)
    x = b.op("Relu", "b1_out", [b.op("Add", "b1_add", [x, y])])
    y = b.op("Relu", "b2_relu", [b.batch_norm("b2_bn1", b.conv("b2.conv1", x, 16, 32, 3, 2), 32)])
    y = b.batch_norm("b2_bn2", b.conv("b2.conv2", y, 32, 32, 3, 1), 32)
    s = b.batch_norm("b2_dbn", b.conv("b2.down", x, 16, 32, 1, 2), 32)
    x = b.op("Relu", "b2_out", [b.op("Add", "b2_add", [s, y])])
    x = b.conv("dw", x, 32, 32, 3, 1, group=32)
    x = b.op("Clip", "dw_clip", [b.batch_norm("dw_bn", x, 32), *relu6])
    x = b.conv("expand", x, 32, 48, 1, 1)
    x = b.op("Relu", "expand_relu", [b.batch_norm("expand_bn", x, 48)])
    x = b.op("GlobalAveragePool", "gap", [x])
    x = b.op("Flatten", "flatten", [x], axis=1)
    b.gemm("fc", x, 48, 10, output="logits")
    f32 = onnx.TensorProto.FLOAT
    return b.model("small", [onnx.helper.make_tensor_value_info("input", f32, [2, 3, 20, 20])],
                   [onnx.helper.make_tensor_value_info("logits", f32, [2, 10])])


def _plan(model: onnx.ModelProto, spec: str) -> dict[str, np.ndarray]:
    result = prune_graph(import_onnx(model).graph, spec)
    assert result.channels is not None
    return result.channels.kept


def _rel_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], spec: str = "channels:0.3",
           tol: float = 1e-5) -> dict[str, np.ndarray]:
    kept = _plan(model, spec)
    out = edgec.Session(edgec.compile(model, prune=spec)).run(None, feeds)[0]
    ref = forward(model, feeds, kept)[0]
    assert out.shape == ref.shape
    assert _rel_error(out, ref) <= tol
    # and the unpruned model is not what was run
    full = forward(model, feeds)[0]
    assert _rel_error(full, ref) > 1e-3
    return kept


def test_small_residual_cnn_matches_the_kept_channel_network() -> None:
    model = _small_residual_cnn()
    x = np.random.default_rng(1).standard_normal((2, 3, 20, 20)).astype(np.float32)
    kept = _check(model, {"input": x})
    # spaces: stem+b1.conv2 16, b1.conv1 16, b2.conv1 32, b2.conv2+b2.down 32, expand 48
    spaces = {"stem": 16, "b1.conv1": 16, "b2.conv1": 32, "b2.conv2": 32, "expand": 48}
    assert sum(c - len(kept[k]) for k, c in spaces.items()) == round(0.3 * 144)
    assert all(0.15 * c - 1 <= c - len(kept[k]) <= 0.45 * c for k, c in spaces.items())
    assert np.array_equal(kept["stem"], kept["b1.conv2"])
    assert np.array_equal(kept["b2.conv2"], kept["b2.down"])
    assert all(np.all(np.diff(v) > 0) for v in kept.values())


def test_uniform_allocation_drops_the_same_fraction_everywhere() -> None:
    model = _small_residual_cnn()
    x = np.random.default_rng(1).standard_normal((2, 3, 20, 20)).astype(np.float32)
    kept = _check(model, {"input": x}, "channels:0.3:uniform")
    # every prunable conv lost round(0.3 * C) channels
    assert {k: len(v) for k, v in kept.items()} == {
        "stem": 11, "b1.conv1": 11, "b1.conv2": 11, "b2.conv1": 22, "b2.conv2": 22,
        "b2.down": 22, "expand": 34}
    # residual adds share one mask
    assert np.array_equal(kept["stem"], kept["b1.conv2"])
    assert np.array_equal(kept["b2.conv2"], kept["b2.down"])
    assert all(np.all(np.diff(v) > 0) for v in kept.values())


def test_pruned_program_is_smaller() -> None:
    model = _small_residual_cnn()
    dense = compile_program(model).program
    pruned = compile_program(model, prune="channels:0.3").program

    def params(p: edgec.program.Program) -> int:  # type: ignore[name-defined]
        return sum(t.data.size for t in p.tensors if t.is_constant)

    assert params(pruned) < 0.6 * params(dense)
    assert pruned.arena_size < dense.arena_size


def test_excluded_layers_keep_their_channels() -> None:
    model = _small_residual_cnn()
    kept = _plan(model, "channels:0.3,exclude=b2.*")
    assert "b2.conv1" not in kept and "b2.conv2" not in kept and "b2.down" not in kept
    assert "stem" in kept
    x = np.random.default_rng(2).standard_normal((2, 3, 20, 20)).astype(np.float32)
    _check(model, {"input": x}, "channels:0.3,exclude=b2.*")


def test_l2_ranking() -> None:
    model = _small_residual_cnn()
    x = np.random.default_rng(3).standard_normal((2, 3, 20, 20)).astype(np.float32)
    _check(model, {"input": x}, "channels:0.5:l2")
    _check(model, {"input": x}, "channels:0.5:uniform:l2")


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("spec", ["channels:0.3", "channels:0.3:uniform"])
def test_zoo_models_match_the_kept_channel_network(name: str, spec: str) -> None:
    model = zoo.build(name)
    feeds = zoo.MODELS[name].example_inputs(0)
    kept = _check(model, feeds, spec, tol=1e-5)
    assert len(kept) > 10


@pytest.mark.parametrize("name, blocks", [("resnet18", "layer2.0.relu2"),
                                          ("mobilenet_v2", "features.6.add")])
def test_zoo_first_blocks_to_1e5(name: str, blocks: str) -> None:
    """The models cut after their first blocks (the cut output keeps its
    channels: a graph output is frozen), to 1e-5."""
    model = zoo.build(name)
    out = next(n for n in model.graph.node if n.name == blocks).output[0]
    cut = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(
        ["input"], [out])
    feeds = zoo.MODELS[name].example_inputs(0)
    kept = _check(cut, feeds, tol=1e-5)
    assert len(kept) >= 3
