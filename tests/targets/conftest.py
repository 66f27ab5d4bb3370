"""Fixtures of the cross-target tests: the runtime built once per session for
aarch64, armv7 and the host (each in its own temporary folder)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cross_support import BuiltRuntime, require_tools

from edgec.device_build import build_runtime


def _build(factory: pytest.TempPathFactory, target: str) -> BuiltRuntime:
    root = factory.mktemp(target)
    result = build_runtime(target, root / "out", build_dir=root / "build")
    return BuiltRuntime(result, root / "build")


@pytest.fixture(scope="session")
def aarch64_runtime(tmp_path_factory: pytest.TempPathFactory) -> BuiltRuntime:
    require_tools("cmake", "aarch64-linux-gnu-gcc", "qemu-aarch64")
    return _build(tmp_path_factory, "aarch64-linux-gnu")


@pytest.fixture(scope="session")
def armv7_runtime(tmp_path_factory: pytest.TempPathFactory) -> BuiltRuntime:
    require_tools("cmake", "arm-linux-gnueabihf-gcc", "qemu-arm")
    return _build(tmp_path_factory, "armv7a-linux-gnueabihf")


@pytest.fixture(scope="session")
def host_runtime(tmp_path_factory: pytest.TempPathFactory) -> BuiltRuntime:
    require_tools("cmake")
    return _build(tmp_path_factory, "host")
