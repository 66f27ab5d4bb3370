"""The AArch64 NEON GEMM (runtime_c/src/kernels/neon/) cross-compiled with Debian's
aarch64-linux-gnu-gcc and run under qemu-aarch64: the correctness program
runtime_c/tests/test_sgemm_neon.c on qemu's default CPU (max: fp16, dotprod,
i8mm), a plain Armv8.0 core (cortex-a72) and neoverse-n1 (dotprod, no i8mm),
which also checks what ec_cpu_arm_features() reports on each; and the
instruction count of a 256^3 GEMM (bench/qemu_insn_count.py). Skipped when the
toolchain is missing, except in CI (CI=true), where that fails."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cross_support import qemu_command, require_tools

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime_c"
SYSROOT = "/usr/aarch64-linux-gnu"
CFLAGS = ["-std=c11", "-O2", "-march=armv8-a", "-Wall", "-Wextra", "-Werror", "-Wshadow",
          "-Wvla", f"-I{RUNTIME / 'src'}", f"-I{RUNTIME / 'include'}"]
SOURCES = [RUNTIME / "tests/test_sgemm_neon.c", RUNTIME / "src/kernels/neon/sgemm_neon.c",
           RUNTIME / "src/kernels/neon/cpu_arm.c", RUNTIME / "src/kernels/ref/gemm_core.c"]

# qemu CPU model -> the features ec_cpu_arm_features() must (not, with !) report
CPUS = {
    None: "asimd,fp16,dotprod,i8mm",
    "cortex-a72": "asimd,!fp16,!dotprod,!i8mm",
    "neoverse-n1": "asimd,fp16,dotprod,!i8mm",
}


@pytest.fixture(scope="module")
def neon_test_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tools("aarch64-linux-gnu-gcc", "qemu-aarch64")
    out = tmp_path_factory.mktemp("neon") / "test_sgemm_neon"
    cmd = ["aarch64-linux-gnu-gcc", *CFLAGS, *map(str, SOURCES), "-lm", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


@pytest.mark.parametrize("cpu", list(CPUS), ids=["default-cpu", "cortex-a72", "neoverse-n1"])
def test_sgemm_neon_under_qemu(neon_test_binary: Path, cpu: str | None) -> None:
    cmd = [*qemu_command("qemu-aarch64", SYSROOT, cpu), str(neon_test_binary),
           "--expect", CPUS[cpu]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    summary = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    assert summary, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.returncode == 0 and summary.group(2) == "0", proc.stdout[-4000:]
    assert int(summary.group(1)) > 500


def test_neon_gemm_instruction_count(tmp_path: Path) -> None:
    """256^3 under qemu: the NEON GEMM stays near its 6 x 16 tile's cost (48 fmla
    + 11 other instructions per two k steps: 0.31 per multiply-add; 0.32 measured
    with packing)."""
    require_tools("aarch64-linux-gnu-gcc", "qemu-aarch64")
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc to build the qemu plugin")
    spec = importlib.util.spec_from_file_location("qemu_insn_count",
                                                  ROOT / "bench" / "qemu_insn_count.py")
    assert spec and spec.loader
    qic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qic)
    binary = qic.build_harness(tmp_path, "aarch64-linux-gnu-gcc", "-O2", qic.REF_SOURCE)
    prefix = qemu_command("qemu-aarch64", SYSROOT)
    shape = ["256", "256", "256"]
    plugin = None
    for api in (1, 2):
        candidate = qic.build_plugin(tmp_path, "gcc", api)
        if candidate and qic.count_plugin(prefix, candidate, [str(binary), "none", *shape],
                                          tmp_path):
            plugin = candidate
            break
    if plugin is None:
        pytest.skip("this qemu-aarch64 does not load TCG plugins")
    counts = {}
    for mode in ("none", "neon"):
        got = qic.count_plugin(prefix, plugin, [str(binary), mode, *shape], tmp_path)
        assert got is not None, mode
        counts[mode] = got[0]
    per_mac = (counts["neon"] - counts["none"]) / 256**3
    assert 0.25 <= per_mac < 0.36, f"{per_mac:.3f} instructions per multiply-add"
