"""Helpers of the cross-target tests: toolchains that must be present (installed
with apt-get when missing; a skip outside CI, a failure in CI), small models, and
running a program with a cross-built edgec-run under qemu user mode."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model

from edgec.device_build import RuntimeBuild
from edgec.format.reader import read_program

# tool -> the Debian package that brings it
TOOLS = {
    "cmake": "cmake",
    "aarch64-linux-gnu-gcc": "gcc-aarch64-linux-gnu",
    "arm-linux-gnueabihf-gcc": "gcc-arm-linux-gnueabihf",
    "qemu-aarch64": "qemu-user",
    "qemu-arm": "qemu-user",
}
_apt_tried: set[str] = set()


@dataclass
class BuiltRuntime:
    """A runtime built by a session fixture of conftest.py."""

    result: RuntimeBuild
    build_dir: Path  # CMake build folder, reusable for incremental (selective) rebuilds

    @property
    def out_dir(self) -> Path:
        return self.result.out_dir

    @property
    def binary(self) -> Path:
        return self.result.binary


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _apt_install(packages: Sequence[str]) -> None:
    """Best effort: root with apt-get only; EDGEC_NO_APT=1 turns it off."""
    todo = [p for p in packages if p not in _apt_tried]
    _apt_tried.update(todo)
    if not todo or os.environ.get("EDGEC_NO_APT") or not shutil.which("apt-get"):
        return
    if os.geteuid() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *todo]
    if subprocess.run(cmd, env=env, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        subprocess.run(cmd, env=env, capture_output=True, check=False)


def require_tools(*tools: str) -> None:
    """Skips (outside CI) or fails (CI=true) unless every tool is on PATH,
    after trying to apt-get install the missing ones."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        _apt_install(sorted({TOOLS.get(t, t) for t in missing}))
        missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        packages = " ".join(sorted({TOOLS.get(t, t) for t in missing}))
        reason = f"{', '.join(missing)} not found (apt-get install {packages})"
        if in_ci():
            pytest.fail(f"CI must have the cross toolchains: {reason}")
        pytest.skip(reason)


# ---- models ----------------------------------------------------------------


def elementwise_model() -> onnx.ModelProto:
    """Broadcasting binary ops, a constant and a few unary ops."""
    c = np.linspace(-1.5, 2.0, 5, dtype=np.float32).reshape(1, 1, 1, 5)
    nodes = [
        helper.make_node("Add", ["x", "y"], ["s"]),
        helper.make_node("Mul", ["s", "c"], ["m"]),
        helper.make_node("Sigmoid", ["m"], ["out0"]),
        helper.make_node("Sub", ["x", "y"], ["d"]),
        helper.make_node("Relu", ["d"], ["r"]),
        helper.make_node("Tanh", ["r"], ["out1"]),
    ]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (2, 3, 4, 5)),
                              "y": (TensorProto.FLOAT, (1, 3, 1, 5))},
                      {"out0": TensorProto.FLOAT, "out1": TensorProto.FLOAT}, {"c": c})


def exp_model() -> onnx.ModelProto:
    """One Exp: an op the elementwise model does not use."""
    nodes = [helper.make_node("Exp", ["x"], ["y"])]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (4, 8))}, {"y": TensorProto.FLOAT})


def reshape_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Reshape", ["x", "shape1"], ["r"]),
        helper.make_node("Add", ["r", "b"], ["a"]),
        helper.make_node("Reshape", ["a", "shape2"], ["y"]),
    ]
    inits = {"shape1": np.array([6, 4], dtype=np.int64),
             "shape2": np.array([3, -1], dtype=np.int64),
             "b": np.arange(4, dtype=np.float32)}
    return make_model(nodes, {"x": (TensorProto.FLOAT, (2, 3, 4))}, {"y": TensorProto.FLOAT},
                      inits)


def conv_model() -> onnx.ModelProto:
    """Conv + Relu + MaxPool + Flatten + Gemm (the families landing now)."""
    rng = np.random.default_rng(3)
    inits = {
        "w": rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3,
        "bias": rng.standard_normal(8).astype(np.float32) * 0.1,
        "fc_w": rng.standard_normal((10, 8 * 4 * 4)).astype(np.float32) * 0.1,
        "fc_b": rng.standard_normal(10).astype(np.float32) * 0.1,
    }
    nodes = [
        helper.make_node("Conv", ["x", "w", "bias"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], transB=1),
    ]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (2, 3, 8, 8))},
                      {"y": TensorProto.FLOAT}, inits)


def random_feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
        feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


# ---- running ---------------------------------------------------------------


def qemu_command(qemu: str, sysroot: str, cpu: str | None = None) -> list[str]:
    cmd = [qemu, "-L", sysroot]
    return [*cmd, "-cpu", cpu] if cpu else cmd


def run_program(prefix: Sequence[str], binary: Path, program: Path,
                feeds: dict[str, np.ndarray], workdir: Path,
                extra: Sequence[str] = ()) -> tuple[subprocess.CompletedProcess[str],
                                                     list[np.ndarray]]:
    """Runs program with [*prefix, edgec-run]: feeds as raw --input files, outputs
    read back from --output-dir with the dtypes and shapes the program records."""
    info = read_program(program.read_bytes(), str(program))
    workdir.mkdir(parents=True, exist_ok=True)
    args = [*prefix, str(binary), str(program), "--output-dir", str(workdir), *extra]
    for pos, index in enumerate(info.inputs):
        name = info.tensors[index].name
        path = workdir / f"input_{pos}.bin"
        path.write_bytes(np.ascontiguousarray(feeds[name]).tobytes())
        args += ["--input", f"{pos}={path}"]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    outputs = []
    if proc.returncode == 0:
        for pos, index in enumerate(info.outputs):
            t = info.tensors[index]
            raw = (workdir / f"output_{pos}.bin").read_bytes()
            outputs.append(np.frombuffer(raw, dtype=np.dtype(t.dtype)).reshape(t.shape))
    return proc, outputs
