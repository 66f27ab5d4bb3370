"""`edgec compile --quantize/--calibration/--accuracy-budget/--weights/--report`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from test_qdq import small_convnet

import edgec
from edgec.quant.calibrate import smooth_images


def _edgec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edgec.cli", *args], capture_output=True,
                          text=True, env=os.environ.copy(), check=False)


def test_compile_int8_random_with_report(tmp_path: Path) -> None:
    src = tmp_path / "net.onnx"
    onnx.save(small_convnet(), src)
    out, html = tmp_path / "net.edgeb", tmp_path / "report.html"
    r = _edgec("compile", str(src), "-o", str(out), "--quantize", "int8", "--calibration",
               "random", "--report", str(html))
    assert r.returncode == 0, r.stderr
    assert "WARNING" in r.stdout and "synthetic" in r.stdout
    assert "quantization int8" in r.stdout and "output SNR" in r.stdout
    assert html.exists() and out.exists()
    session = edgec.Session(out)
    (y,) = session.run(None, {"x": smooth_images((1, 3, 32, 32), 1)[0]})
    assert y.shape == (1, 24, 8, 8)


def test_compile_int8_folder_budget_and_fp16(tmp_path: Path) -> None:
    src = tmp_path / "net.onnx"
    onnx.save(small_convnet(), src)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for i, x in enumerate(smooth_images((1, 3, 32, 32), 4, seed=5)):
        np.savez(feeds / f"{i}.npz", x=x)
    r = _edgec("compile", str(src), "-o", str(tmp_path / "a.edgeb"), "--quantize", "int8",
               "--calibration", str(feeds), "--accuracy-budget", "0.9999999",
               "--calibration-method", "percentile")
    assert r.returncode == 0, r.stderr
    assert "kept in float" in r.stdout
    r = _edgec("compile", str(src), "-o", str(tmp_path / "b.edgeb"), "--weights", "fp16")
    assert r.returncode == 0, r.stderr
    assert "fp16 weights save" in r.stdout
    r = _edgec("compile", str(src), "--quantize", "int8")
    assert r.returncode != 0 and "--calibration" in r.stderr
