"""edgec.compare and `edgec bench MODEL.onnx --compare`: every engine runs
the same model on the same inputs."""

import json
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model
from test_cli import assert_one_line_error, edgec

import edgec as ec
from edgec.compare import interleaved, mnn_available, runners, wait_until_idle


def _model() -> onnx.ModelProto:
    rng = np.random.default_rng(3)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
             helper.make_node("Tanh", ["m"], ["y"], name="tanh")]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (4, 16))}, {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((16, 8)).astype(np.float32)})


def _outputs_of(run: object) -> np.ndarray:
    out = run()  # type: ignore[operator]
    return np.asarray(out[0], dtype=np.float32).reshape(4, 8)


@pytest.mark.parametrize("engine", ["onnxruntime", "mnn"])
def test_engines_compute_the_same_model(engine: str) -> None:
    if engine == "mnn" and not mnn_available():
        pytest.skip("MNN is an optional engine (pip install MNN)")
    model = _model()
    feeds = {"x": np.random.default_rng(0).standard_normal((4, 16)).astype(np.float32)}
    engines = runners(model, ec.compile(model), feeds, 1, (engine,))
    assert list(engines) == ["edgec", engine]
    ours, theirs = (_outputs_of(engines[name]) for name in engines)
    expected = np.tanh(feeds["x"].astype(np.float64) @ onnx.numpy_helper.to_array(
        model.graph.initializer[0]).astype(np.float64))
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(theirs, expected, rtol=1e-5, atol=1e-6)


def test_interleaved_times_every_engine_every_round() -> None:
    calls = {"a": 0, "b": 0}

    def count(name: str) -> object:
        return lambda: calls.__setitem__(name, calls[name] + 1)

    med = interleaved({"a": count("a"), "b": count("b")}, rounds=4, per_round=2)
    assert set(med) == {"a", "b"} and all(v >= 0 for v in med.values())
    # one warm-up each, then per round one untimed run and two timed ones
    assert calls == {"a": 1 + 4 * 3, "b": 1 + 4 * 3}


def test_wait_until_idle_outwaits_a_spinning_thread() -> None:
    """Another engine's spinning workers: a thread that burns the CPU for
    0.15 s. The wait must not return while it spins."""
    start = time.perf_counter()

    def spin() -> None:
        while time.perf_counter() - start < 0.15:
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    wait_until_idle(window_s=0.01, busy_fraction=0.1, limit_s=2.0)
    assert time.perf_counter() - start >= 0.14
    spinner.join()


def test_bench_compare_cli_json(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save(_model(), path)
    proc = edgec("bench", str(path), "--compare", "onnxruntime", "--iterations", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result["median_ms"]) == {"edgec", "onnxruntime"}
    assert result["ratio"]["onnxruntime"] > 0 and result["threads"] == 1


def test_bench_compare_needs_the_onnx_model(tmp_path: Path) -> None:
    program = tmp_path / "m.edgeb"
    ec.compile(_model(), output=program)
    assert_one_line_error(edgec("bench", str(program), "--compare", "onnxruntime"),
                          "m.edgeb", "ONNX model")
    assert_one_line_error(edgec("bench", str(tmp_path / "none.onnx"), "--compare",
                                "onnxruntime"), "none.onnx")
