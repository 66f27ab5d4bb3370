"""Pruning through edgec.compile and the CLI: numerics against onnxruntime on
the same pruned weights, pre-sparse weights found without any flag, dense
models untouched, determinism, the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from click.testing import CliRunner
from onnx import TensorProto, helper
from support import make_model, run_ort

import edgec
from edgec.cli import cli
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.reader import read_program

SPARSE = {Opcode.SPARSE_CONV, Opcode.SPARSE_GEMM}


def _model(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="c1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="r1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="c2"),
             helper.make_node("Relu", ["c2"], ["r2"], name="r2"),
             helper.make_node("Flatten", ["r2"], ["f"], name="f"),
             helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1, name="fc")]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (1, 16, 12, 12))},
                      {"y": TensorProto.FLOAT}, weights)


def _weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    f = np.float32
    return {"w1": rng.standard_normal((32, 16, 3, 3)).astype(f) * 0.1,
            "b1": rng.standard_normal(32).astype(f),
            "w2": rng.standard_normal((48, 32, 1, 1)).astype(f) * 0.2,
            "fc": rng.standard_normal((10, 48 * 144)).astype(f) * 0.01,
            "fcb": rng.standard_normal(10).astype(f)}


def _per_layer(w: np.ndarray, amount: float) -> np.ndarray:
    flat = np.abs(w).ravel()
    out = w.copy().ravel()
    out[np.argsort(flat, kind="stable")[: round(amount * flat.size)]] = 0
    return out.reshape(w.shape)


def _sparse_ops(program: edgec.program.Program) -> int:  # type: ignore[name-defined]
    return sum(ins.opcode in SPARSE for ins in program.instructions)


def test_pruned_compile_matches_onnxruntime_on_the_pruned_weights() -> None:
    w = _weights()
    pruned = dict(w, **{k: _per_layer(w[k], 0.85) for k in ("w1", "w2", "fc")})
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 16, 12, 12)).astype(np.float32)}
    result = compile_program(_model(w), prune="magnitude:0.85:per-layer")
    assert _sparse_ops(result.program) == 3
    ours = edgec.Session(result.data).run(None, feeds)[0]
    ref = run_ort(_model(pruned), feeds)[0]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_pre_sparse_weights_are_found_without_flags() -> None:
    w = _weights(2)
    sparse = dict(w, **{k: _per_layer(w[k], 0.9) for k in ("w1", "w2", "fc")})
    result = compile_program(_model(sparse))
    assert _sparse_ops(result.program) == 3
    feeds = {"x": np.random.default_rng(3).standard_normal((1, 16, 12, 12)).astype(np.float32)}
    ours = edgec.Session(result.data).run(None, feeds)[0]
    np.testing.assert_allclose(ours, run_ort(_model(sparse), feeds)[0], rtol=1e-4, atol=1e-4)
    assert len(result.data) < 0.35 * len(compile_program(_model(w)).data)


def test_dense_and_half_sparse_weights_stay_dense() -> None:
    w = _weights(4)
    assert _sparse_ops(compile_program(_model(w)).program) == 0
    half = dict(w, **{k: _per_layer(w[k], 0.5) for k in ("w1", "w2", "fc")})
    # 2:4-like density: the sparse conv kernels do not win, the conv weights stay dense
    ops = [ins.opcode for ins in compile_program(_model(half)).program.instructions]
    assert Opcode.SPARSE_CONV not in ops and ops.count(Opcode.CONV) == 2


def test_pruned_compile_is_deterministic_and_records_the_spec() -> None:
    w = _weights(5)
    a = edgec.compile(_model(w), prune="magnitude:0.8")
    assert a == edgec.compile(_model(w), prune="magnitude:0.8")
    info = read_program(a)
    assert '"prune": "magnitude:0.8"' in info.metadata["compile_options"]


def test_cli_prune_and_report(tmp_path: Path) -> None:
    src = tmp_path / "m.onnx"
    onnx.save(_model(_weights(6)), src)
    out = tmp_path / "m.edgeb"
    result = CliRunner().invoke(cli, ["compile", str(src), "-o", str(out), "--prune",
                                      "magnitude:0.9:per-layer,exclude=fc", "--prune-report"],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps at its own width
    assert "2 sparse convs, 0 sparse fully connected" in text
    assert "csr/u16" in text and "90.0%" in text
    assert "output error vs unpruned" in text
    assert out.exists()
    bad = CliRunner().invoke(cli, ["compile", str(src), "--prune", "magnitude:2"])
    assert bad.exit_code != 0 and "outside [0, 1)" in str(bad.exception)


def test_report_reads_the_stages_of_fused_blocks() -> None:
    """The dense MobileNetV2 runs some inverted-residual blocks as one fused
    instruction: the report still has a row per layer, with the weights decoded
    from the fused block's (packed) layout."""
    import edgec.zoo as zoo
    from edgec.frontend.onnx_import import import_onnx
    from edgec.prune.graph import find_layers
    from edgec.prune.report import compare_programs

    model = zoo.build("mobilenet_v2")
    program = compile_program(model).program
    assert any(i.opcode == Opcode.INVERTED_RESIDUAL for i in program.instructions)
    layers = find_layers(import_onnx(model).graph)
    rows = compare_programs(program, program)
    assert len(rows) == len(layers)
    assert sum(r.params_before for r in rows) == sum(layer.array.size for layer in layers)
    assert all(r.sparsity == 0.0 for r in rows)
    assert sum("fused block" in r.kernel for r in rows) >= 3
