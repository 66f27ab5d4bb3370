"""End to end: compile with quantize=, run in the C runtime, compare with fp32.

Calibration and held-out inputs are smooth synthetic images (Gaussian noise on
a coarse grid, bilinearly upsampled: edgec.quant.calibrate.smooth_images) drawn
from one distribution with different seeds -- not white noise, which no vision
model sees. The zoo models have seeded random weights; MobileNetV2's top-1
margins are tiny (its top two logits differ by ~4% of their spread), so its
top-1 agreement under any int8 noise is low: onnxruntime's own quantize_static
int8 model agrees with fp32 on ~56% of the same inputs (bench/quant.py measures
both). ResNet-18's margins are wide and int8 agrees on all.
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from test_qdq import small_convnet

import edgec
from edgec import zoo
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.quant import QuantOptions, RandomCalibrationWarning
from edgec.quant.calibrate import smooth_images

HELD_OUT = 24


def _compare(fp32: bytes, other: bytes, feeds: list[dict[str, np.ndarray]]
             ) -> tuple[float, float]:
    a_s, b_s = edgec.Session(fp32), edgec.Session(other)
    cos, agree = [], []
    for feed in feeds:
        a = a_s.run(None, feed)[0].astype(np.float64).ravel()
        b = b_s.run(None, feed)[0].astype(np.float64).ravel()
        cos.append(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
        agree.append(a.argmax() == b.argmax())
    return float(np.mean(cos)), float(np.mean(agree))


@pytest.mark.parametrize("name,min_top1", [("mobilenet_v2", 0.4), ("resnet18", 0.95)])
def test_zoo_int8(name: str, min_top1: float) -> None:
    model = zoo.build(name)
    calib = [{"input": x} for x in smooth_images((1, 3, 224, 224), 12, seed=1)]
    held = [{"input": x} for x in smooth_images((1, 3, 224, 224), HELD_OUT, seed=1000)]
    fp32 = compile_program(model)
    q = compile_program(model, quantize="int8", calibration=calib,
                        quant_options=QuantOptions(progress=False))
    ops = Counter(i.opcode for i in q.program.instructions)
    assert ops[Opcode.CONV] == 0 and ops[Opcode.QCONV] > 15, ops
    assert len(q.data) <= 0.27 * len(fp32.data), (len(q.data), len(fp32.data))
    cos, top1 = _compare(fp32.data, q.data, held)
    assert cos >= 0.99, cos
    assert top1 >= min_top1, top1


def test_dynamic_bert() -> None:
    model = zoo.build("bert_encoder")
    feeds = zoo.MODELS["bert_encoder"].example_inputs(0)
    fp32 = compile_program(model)
    q = compile_program(model, quantize="dynamic")
    ops = Counter(i.opcode for i in q.program.instructions)
    assert ops[Opcode.DYNAMIC_QGEMM] >= 6 and ops[Opcode.GEMM] == 0, ops
    assert len(q.data) < 0.5 * len(fp32.data)
    cos, _ = _compare(fp32.data, q.data, [feeds])
    assert cos > 0.999


def test_fp16_weights() -> None:
    model = small_convnet()
    fp32 = compile_program(model)
    half = compile_program(model, weights="fp16")
    assert Counter(i.opcode for i in half.program.instructions)[Opcode.CAST] >= 3
    assert any(t.dtype == np.float16 for t in half.program.tensors if t.is_constant)
    feeds = [{"x": x} for x in smooth_images((1, 3, 32, 32), 4, seed=3)]
    cos, _ = _compare(fp32.data, half.data, feeds)
    assert cos > 0.99999
    assert len(half.data) < 0.7 * len(fp32.data)


@pytest.mark.parametrize("method", ["minmax", "percentile", "entropy", "mse"])
def test_calibration_methods(method: str) -> None:
    model = small_convnet()
    calib = [{"x": x} for x in smooth_images((1, 3, 32, 32), 8, seed=1)]
    held = [{"x": x} for x in smooth_images((1, 3, 32, 32), 8, seed=2)]
    fp32 = compile_program(model)
    q = compile_program(model, quantize="int8", calibration=calib,
                        quant_options=QuantOptions(method=method, progress=False))
    cos, _ = _compare(fp32.data, q.data, held)
    assert cos > 0.99, (method, cos)


def test_accuracy_budget_keeps_layers_in_float() -> None:
    model = small_convnet()
    calib = [{"x": x} for x in smooth_images((1, 3, 32, 32), 8, seed=1)]
    opts = QuantOptions(progress=False, activation_dtype="uint8")
    plain = compile_program(model, quantize="int8", calibration=calib, quant_options=opts)
    reached = plain.quant.evaluation  # type: ignore[attr-defined]
    assert reached is None  # no budget, no report: nothing evaluated
    strict = compile_program(model, quantize="int8", calibration=calib, accuracy_budget=0.99999,
                             quant_options=opts)
    res = strict.quant
    assert res.excluded, "a budget above what int8 reaches keeps layers in float"  # type: ignore
    ops = Counter(i.opcode for i in strict.program.instructions)
    assert ops[Opcode.CONV] >= 1
    assert res.evaluation is not None  # type: ignore[attr-defined]


def test_feeds_from_folder_and_report(tmp_path: Path) -> None:
    model = small_convnet()
    for i, x in enumerate(smooth_images((1, 3, 32, 32), 4, seed=1)):
        np.savez(tmp_path / f"feed{i}.npz", x=x)
    html = tmp_path / "report.html"
    q = compile_program(model, quantize="int8", calibration=str(tmp_path), report=str(html),
                        quant_options=QuantOptions(progress=False))
    rep = q.quant.report  # type: ignore[attr-defined]
    assert rep is not None and len(rep.rows) >= 5
    assert rep.size_after < 0.5 * rep.size_before  # a 20 KB model: table overhead dominates
    assert rep.evaluation.cosine > 0.99
    text = html.read_text()
    assert "<table>" in text and "conv0" in text


def test_random_calibration_warns() -> None:
    with pytest.warns(RandomCalibrationWarning):
        compile_program(small_convnet(), quantize="int8", calibration="random",
                        quant_options=QuantOptions(progress=False))


def test_errors() -> None:
    with pytest.raises(edgec.EdgecError, match="calibration"):
        compile_program(small_convnet(), quantize="int8")
    with pytest.raises(edgec.EdgecError, match="quantize"):
        compile_program(small_convnet(), quantize="int4")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(edgec.EdgecError, match="shape"):
            compile_program(small_convnet(), quantize="int8",
                            calibration=[{"x": np.zeros((1, 3, 8, 8), np.float32)}])
