"""The thread pool (runtime_c/src/pool.c) on its own: runtime_c/tests/test_pool.c
built with the host compiler from pool.c and status.c checks that every job
index runs exactly once at 1-4 threads over many job counts and grains, and
that each thread runs its own contiguous share of the jobs when none is slowed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2] / "runtime_c"


def test_pool_runs_every_job_once_on_its_owner(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "test_pool"
    cmd = [cc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
           f"-I{RUNTIME / 'include'}", f"-I{RUNTIME / 'src'}",
           str(RUNTIME / "tests/test_pool.c"), str(RUNTIME / "src/pool.c"),
           str(RUNTIME / "src/status.c"), "-lm", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_pool: ok" in proc.stdout
