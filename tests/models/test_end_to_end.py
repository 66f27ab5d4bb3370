"""Whole models: compile -> .edgeb -> C runtime, against onnxruntime and the
reference outputs the onnx package ships. Max relative error <= 1e-4."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import edgec
from edgec import zoo
from edgec.validate import OutputDiff

LIGHT_DIR = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
LIGHT_MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT_DIR.glob("light_*.onnx"))


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"]).run(None, feeds)


def _assert_matches(name: str, ours: np.ndarray, theirs: np.ndarray, rtol: float = 1e-4) -> None:
    """Relative error against the output's scale (max |reference|)."""
    diff = OutputDiff(name, ours, theirs)
    assert np.all(np.isfinite(ours)), f"{name}: non-finite outputs"
    assert diff.passes(rtol=rtol), f"{name}: max abs {diff.max_abs:.3g}, rel {diff.max_rel:.3g}"


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_model(name: str) -> None:
    model = zoo.build(name)
    session = edgec.Session(edgec.compile(model))
    feeds = zoo.MODELS[name].example_inputs(seed=7)
    ours = session.run(None, feeds)
    theirs = _ort(model, feeds)
    for arg, a, b in zip(session.get_outputs(), ours, theirs, strict=True):
        _assert_matches(f"{name}:{arg.name}", a, b)


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_against_shipped_reference(name: str) -> None:
    """The input the onnx backend test generates for these models (its dummy
    data, seed 0) and the output the package ships for it."""
    from onnx.backend.test.runner import Runner

    path = LIGHT_DIR / f"light_{name}.onnx"
    model = onnx.load(path)
    session = edgec.Session(edgec.compile(model))
    (inp,) = session.get_inputs()
    graph_input = next(i for i in model.graph.input if i.name == inp.name)
    x = Runner.generate_dummy_data(graph_input, seed=0, name=name, random=False)
    (ours,) = session.run(None, {inp.name: x})
    expected = onnx.numpy_helper.to_array(
        onnx.load_tensor(str(LIGHT_DIR / f"light_{name}_output_0.pb")))
    _assert_matches(name, ours, expected)


@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_against_onnxruntime(name: str) -> None:
    model = onnx.load(LIGHT_DIR / f"light_{name}.onnx")
    session = edgec.Session(edgec.compile(model))
    (inp,) = session.get_inputs()
    x = np.random.default_rng(11).standard_normal(inp.shape).astype(np.float32)
    (ours,) = session.run(None, {inp.name: x})
    (theirs,) = _ort(model, {inp.name: x})
    _assert_matches(name, ours, theirs)


@pytest.mark.parametrize("every_block", [False, True], ids=["default", "every-block"])
def test_mobilenet_v2_fused_inverted_residuals(every_block: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """MobileNetV2 with its inverted residual blocks as INVERTED_RESIDUAL
    instructions (edgec.passes.fuse_inverted_residual): the large ones as
    compiled by default, or all 17, on 1 and 2 threads."""
    import edgec.passes.fuse_inverted_residual as fir
    from edgec.compiler import compile_program
    from edgec.fb.Opcode import Opcode

    if every_block:
        monkeypatch.setattr(fir, "MIN_EXPANDED_BYTES", 0)
    model = zoo.build("mobilenet_v2")
    result = compile_program(model)
    fused = sum(i.opcode == Opcode.INVERTED_RESIDUAL for i in result.program.instructions)
    assert fused == (17 if every_block else 4)
    feeds = zoo.MODELS["mobilenet_v2"].example_inputs(seed=7)
    (theirs,) = _ort(model, feeds)
    for threads in (1, 2):
        (ours,) = edgec.Session(result.data, threads=threads).run(None, feeds)
        _assert_matches(f"mobilenet_v2 threads={threads}", ours, theirs)
