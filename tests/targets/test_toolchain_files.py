"""Target data files and CMake toolchain files, including the Android and iOS ones
that cannot build here: they must stop with a clear message when their NDK/SDK
is missing, and hand the right settings to the NDK's own toolchain file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cross_support import BuiltRuntime, require_tools

from edgec.device_build import build_runtime, runtime_source_dir, target_data, toolchain_path
from edgec.errors import EdgecError
from edgec.targets import all_targets, get_target

CROSS_TARGETS = ("aarch64-linux-gnu", "android-arm64-v8a", "ios-arm64", "armv7a-linux-gnueabihf")


def _configure(tmp_path: Path, toolchain: Path | None, *defines: str,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmake = shutil.which("cmake")
    assert cmake and toolchain is not None
    return subprocess.run(
        [cmake, "-S", str(runtime_source_dir()), "-B", str(tmp_path / "b"),
         f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", *defines],
        capture_output=True, text=True, env=env, timeout=300, check=False)


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    import os

    for var in ("ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "SDKROOT"):
        monkeypatch.delenv(var, raising=False)
    return dict(os.environ)


@pytest.mark.parametrize("name", CROSS_TARGETS)
def test_target_files(name: str) -> None:
    target = get_target(name)
    data = target_data(target)
    assert name in all_targets()
    assert target.triple and target.description
    assert "neon" in target.isa_features or "neon" in data.get("optional_isa_features", [])
    toolchain = toolchain_path(target)
    assert toolchain is not None and toolchain.is_file()
    assert data["cmake_system_processor"]


def test_aarch64_target_declares_qemu_and_run_time_features() -> None:
    data = target_data(get_target("aarch64-linux-gnu"))
    assert data["qemu"] == "qemu-aarch64"
    assert set(data["optional_isa_features"]) == {"dotprod", "i8mm", "fp16"}
    assert "cortex-a72" in data["qemu_cpus"]


def test_host_target_has_no_toolchain() -> None:
    assert toolchain_path(get_target("host")) is None


@pytest.mark.skipif(sys.platform == "darwin", reason="a Mac may have the iOS SDK")
def _unwrapped(text: str) -> str:
    """CMake wraps message(FATAL_ERROR) text at its own width, which moves with
    the length of the paths in it."""
    return " ".join(text.split())


def test_ios_toolchain_without_sdk_says_so(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools("cmake")
    env = _clean_env(monkeypatch)
    proc = _configure(tmp_path, toolchain_path(get_target("ios-arm64")), env=env)
    assert proc.returncode != 0
    assert "iOS SDK not found" in _unwrapped(proc.stderr)
    proc = _configure(tmp_path, toolchain_path(get_target("ios-arm64")),
                      f"-DEDGEC_IOS_SDK={tmp_path}", env=env)
    assert proc.returncode != 0 and "is not an SDK" in _unwrapped(proc.stderr)


def test_android_toolchain_without_ndk_says_so(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    require_tools("cmake")
    _clean_env(monkeypatch)
    with pytest.raises(EdgecError, match="Android NDK not found: pass -DANDROID_NDK") as info:
        build_runtime("android-arm64-v8a", tmp_path / "out")
    assert "full log:" in str(info.value)
    assert (tmp_path / "out" / "edgec-runtime-build.log").is_file()
    monkeypatch.setenv("ANDROID_NDK_HOME", str(tmp_path))
    with pytest.raises(EdgecError, match="is not an Android NDK"):
        build_runtime("android-arm64-v8a", tmp_path / "out")


def test_android_toolchain_defers_to_the_ndk(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake NDK whose toolchain file records what it was given and then builds
    with the host compiler: the settings reach it, and the runtime builds."""
    require_tools("cmake")
    env = _clean_env(monkeypatch)
    ndk = tmp_path / "fake-ndk"
    (ndk / "build" / "cmake").mkdir(parents=True)
    (ndk / "build" / "cmake" / "android.toolchain.cmake").write_text(
        'message(STATUS "fake-ndk: NDK=${ANDROID_NDK} ABI=${ANDROID_ABI} '
        'PLATFORM=${ANDROID_PLATFORM} STL=${ANDROID_STL}")\n'
        "set(CMAKE_SYSTEM_NAME Linux)\n")
    toolchain = toolchain_path(get_target("android-arm64-v8a"))
    proc = _configure(tmp_path, toolchain, f"-DANDROID_NDK={ndk}",
                      "-DANDROID_PLATFORM=android-26", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"fake-ndk: NDK={ndk} ABI=arm64-v8a PLATFORM=android-26 STL=none" in proc.stdout
    proc = _configure(tmp_path / "x", toolchain, f"-DANDROID_NDK={ndk}",
                      "-DANDROID_ABI=armeabi-v7a", env=env)
    assert proc.returncode != 0 and "builds arm64-v8a" in proc.stderr


def test_wheel_install_carries_the_runtime_sources(host_runtime: BuiltRuntime,
                                                   tmp_path: Path) -> None:
    """What a wheel installs (the SKBUILD branch) holds runtime_c's sources and the
    toolchain files, and those sources configure on their own."""
    cmake = shutil.which("cmake")
    assert cmake
    bdir = host_runtime.build_dir
    try:
        subprocess.run([cmake, "-DSKBUILD=ON", str(bdir)], check=True, capture_output=True)
        subprocess.run([cmake, "--install", str(bdir), "--prefix", str(tmp_path / "site")],
                       check=True, capture_output=True)
    finally:
        subprocess.run([cmake, "-USKBUILD", str(bdir)], check=True, capture_output=True)
    pkg = tmp_path / "site" / "edgec"
    for rel in ("runtime_c/CMakeLists.txt", "runtime_c/include/edgec/edgec.h",
                "runtime_c/src/kernels/registry.c", "runtime_c/src/kernels/ops_all.def",
                "runtime_c/tools/edgec_run.c", "targets/aarch64-linux-gnu.toml",
                "targets/cmake/aarch64-linux-gnu.cmake", "_lib/libedgec.so"):
        assert (pkg / rel).is_file(), rel
    proc = subprocess.run([cmake, "-S", str(pkg / "runtime_c"), "-B", str(tmp_path / "b")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_missing_toolchain_skips_outside_ci_and_fails_in_ci(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEC_NO_APT", "1")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-cross-gcc not found"):
        require_tools("no-such-cross-gcc")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have the cross toolchains"):
        require_tools("no-such-cross-gcc")
