"""The CLI: happy paths and one clear line + non-zero exit for bad input."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model


def edgec(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="add0"),
             helper.make_node("Relu", ["a"], ["y"], name="relu0")]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, (2, 8))}, {"y": TensorProto.FLOAT},
                       {"b": np.linspace(-1, 1, 8, dtype=np.float32)})
    path = tmp_path / "small.onnx"
    onnx.save(model, path)
    return path


def test_compile_run_inspect_validate(small_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.edgeb"
    proc = edgec("compile", str(small_model), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "arena" in proc.stdout and out.exists()
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    npz = tmp_path / "out.npz"
    proc = edgec("run", str(out), "--input", f"x={tmp_path / 'x.npy'}", "-o", str(npz))
    assert proc.returncode == 0, proc.stderr
    y = np.load(npz)["y"]
    np.testing.assert_allclose(y, np.maximum(x + np.linspace(-1, 1, 8, dtype=np.float32), 0),
                               rtol=1e-6)
    proc = edgec("inspect", str(out), "--tensors")
    assert proc.returncode == 0 and "ADD" in proc.stdout and "source_sha256" in proc.stdout
    proc = edgec("validate", str(small_model))
    assert proc.returncode == 0 and "ok" in proc.stdout


def test_missing_file() -> None:
    assert_one_line_error(edgec("compile", "/nonexistent/model.onnx"), "no such file")


def test_not_onnx(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage" * 10)
    assert_one_line_error(edgec("compile", str(bad)), str(bad), "not an ONNX model")


def test_unsupported_ops_listed_at_once(tmp_path: Path) -> None:
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="ok"),
             helper.make_node("Frobnicate", ["a"], ["b"], name="first_bad",
                              domain="com.example"),
             helper.make_node("Bernoulli", ["b"], ["y"], name="second_bad")]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, (3, 3))}, {"y": TensorProto.FLOAT})
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    out = tmp_path / "m.edgeb"
    proc = edgec("compile", str(path), "-o", str(out))
    assert_one_line_error(proc, "Frobnicate (first_bad)", "Bernoulli (second_bad)")
    assert not out.exists()
    assert not list(tmp_path.glob(".m.edgeb*"))  # no temporary left behind


def test_unset_dynamic_dim(tmp_path: Path) -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    path = tmp_path / "dyn.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    assert_one_line_error(edgec("compile", str(path)), "'x'", "'N'", "--input-shape")
    proc = edgec("compile", str(path), "--input-shape", "x=3,4", "-o", str(tmp_path / "d.edgeb"))
    assert proc.returncode == 0, proc.stderr
    assert_one_line_error(edgec("compile", str(path), "--input-shape", "x=3"), "rank")
    assert_one_line_error(edgec("compile", str(path), "--input-shape", "zz=3,4"), "'zz'")
    assert_one_line_error(edgec("compile", str(path), "--input-shape", "x=a,b"), "--input-shape")


def test_wrong_input_shape_and_dtype_at_run_time(small_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.edgeb"
    assert edgec("compile", str(small_model), "-o", str(out)).returncode == 0
    np.save(tmp_path / "bad_shape.npy", np.zeros((3, 8), np.float32))
    np.save(tmp_path / "bad_dtype.npy", np.zeros((2, 8), np.float64))
    assert_one_line_error(edgec("run", str(out), "--input", f"x={tmp_path / 'bad_shape.npy'}"),
                          "shape", "[2, 8]")
    assert_one_line_error(edgec("run", str(out), "--input", f"x={tmp_path / 'bad_dtype.npy'}"),
                          "dtype", "float32")


def test_truncated_and_corrupted_program(small_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.edgeb"
    assert edgec("compile", str(small_model), "-o", str(out)).returncode == 0
    data = out.read_bytes()
    trunc = tmp_path / "trunc.edgeb"
    trunc.write_bytes(data[: len(data) // 2])
    assert_one_line_error(edgec("run", str(trunc), "--random"), str(trunc))
    flipped = bytearray(data)
    flipped[100] ^= 0x40
    corrupt = tmp_path / "corrupt.edgeb"
    corrupt.write_bytes(bytes(flipped))
    assert_one_line_error(edgec("run", str(corrupt), "--random"), "checksum")
    assert_one_line_error(edgec("inspect", str(corrupt)), "checksum")


def test_unknown_target(small_model: Path) -> None:
    assert_one_line_error(edgec("compile", str(small_model), "--target", "pdp11"), "pdp11", "host")


def test_zoo_list_and_write(tmp_path: Path) -> None:
    proc = edgec("zoo")
    assert proc.returncode == 0 and "mobilenet_v2" in proc.stdout
    assert_one_line_error(edgec("zoo", "nonesuch"), "nonesuch")


def test_targets() -> None:
    proc = edgec("targets")
    assert proc.returncode == 0 and "host" in proc.stdout
