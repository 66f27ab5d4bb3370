"""Zero-copy inputs (ec_session_bind_input): Session.run hands a C-contiguous,
aligned array of the input's dtype to the runtime in place, and copies it where
the runtime refuses (the program reads the input's arena bytes otherwise: a view
of it, or after an instruction wrote over them). Outputs match onnxruntime on
seeded random inputs either way, and the caller's arrays are never written.
runtime_c/tests/test_bind.c checks the C API itself on two of these programs."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from support import TensorProto, assert_close, helper, make_model, run_ort

import edgec
from edgec.compiler import compile_program
from edgec.errors import EdgecError
from edgec.format import writer
from edgec.plan import plan_arena
from edgec.program import Program
from edgec.runtime import Session, library_path

RUNTIME = Path(__file__).resolve().parents[2] / "runtime_c"


def _conv_model() -> onnx.ModelProto:
    """Conv(x) -> Relu -> Add(., z): two inputs, both read only by instructions."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Add", ["r", "z"], ["y"])]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (1, 3, 9, 11)),
                              "z": (TensorProto.FLOAT, (1, 5, 9, 11))},
                      {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((5, 3, 3, 3)).astype(np.float32),
                       "b": rng.standard_normal(5).astype(np.float32)})


def _view_model() -> onnx.ModelProto:
    """Flatten(x) -> MatMul: the MatMul reads x's bytes through a view (an alias)."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["y"])]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (2, 3, 4))}, {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((12, 5)).astype(np.float32)})


def _chain_model() -> onnx.ModelProto:
    """Add(x, w) -> Relu -> Mul(., v)."""
    rng = np.random.default_rng(2)
    nodes = [helper.make_node("Add", ["x", "w"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Mul", ["r", "v"], ["y"], name="mul")]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (4, 6))}, {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((4, 6)).astype(np.float32),
                       "v": rng.standard_normal((4, 6)).astype(np.float32)})


def _written_program() -> bytes:
    """The chain with the Relu writing its result over the input x, which the Mul
    then reads: the same values as the ONNX model, but x's storage is written in
    place while the program still reads it, so x cannot be bound."""
    program: Program = copy.deepcopy(compile_program(_chain_model()).program)
    names = [t.name for t in program.tensors]
    x, r = names.index("x"), names.index("r")
    relu, mul = program.instructions[1], program.instructions[2]
    assert relu.outputs == [r] and mul.inputs[0] == r, (relu, mul)
    relu.outputs = [x]
    mul.inputs[0] = x
    plan_arena(program)
    return writer.serialize(program)


def _feeds(model: onnx.ModelProto, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for vi in model.graph.input:
        shape = tuple(d.dim_value for d in vi.type.tensor_type.shape.dim)
        out[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def _check_runs(session: Session, model: onnx.ModelProto, seeds: range) -> None:
    for seed in seeds:
        feeds = _feeds(model, seed)
        before = {k: v.copy() for k, v in feeds.items()}
        (got,) = session.run(None, feeds)
        (want,) = run_ort(model, feeds)
        assert_close(got, want)
        for k, v in feeds.items():  # the caller's arrays are never written
            np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("threads", [1, 2])
def test_bound_inputs_match_onnxruntime(threads: int) -> None:
    model = _conv_model()
    session = Session(edgec.compile(model), threads=threads)
    _check_runs(session, model, range(4))
    assert session._bindable == [True, True]


def test_bound_input_changed_in_place_between_runs() -> None:
    model = _conv_model()
    session = Session(edgec.compile(model))
    feeds = _feeds(model, 10)
    session.run(None, feeds)
    feeds["x"][...] = _feeds(model, 11)["x"]  # the same array, new values
    (got,) = session.run(None, feeds)
    assert_close(got, run_ort(model, feeds)[0])


def test_view_of_input_is_copied() -> None:
    model = _view_model()
    session = Session(edgec.compile(model))
    _check_runs(session, model, range(3))
    assert session._bindable == [False]


def test_input_written_in_place_is_copied() -> None:
    model = _chain_model()
    session = Session(_written_program())
    _check_runs(session, model, range(3))
    assert session._bindable == [False]


def test_unbindable_arrays_are_copied() -> None:
    """Non-contiguous, Fortran-ordered and unaligned inputs take the copy path."""
    model = _conv_model()
    session = Session(edgec.compile(model))
    feeds = _feeds(model, 20)
    want = run_ort(model, feeds)[0]
    x, z = feeds["x"], feeds["z"]
    raw = np.zeros(x.nbytes + 4, np.uint8)
    unaligned = np.frombuffer(raw.data[4:], np.float32).reshape(x.shape)
    unaligned[...] = x
    strided = np.repeat(x, 2, axis=3)[..., ::2]
    assert not strided.flags.c_contiguous
    for xv in (strided, np.asfortranarray(x), unaligned):
        (got,) = session.run(None, {"x": xv, "z": z})
        assert_close(got, want)
        assert session._bound[0] is None  # copied
    (got,) = session.run(None, {"x": x, "z": z})
    assert_close(got, want)
    assert session._bound[0] is x


def test_run_checks_its_arguments() -> None:
    model = _conv_model()
    session = Session(edgec.compile(model))
    feeds = _feeds(model, 30)
    with pytest.raises(EdgecError, match=r"unknown input 'q'; the model's inputs are"):
        session.run(None, {**feeds, "q": feeds["x"]})
    with pytest.raises(EdgecError, match=r"input 'z' was not given"):
        session.run(None, {"x": feeds["x"]})
    with pytest.raises(EdgecError, match=r"input 'x': dtype float64, the model expects float32"):
        session.run(None, {**feeds, "x": feeds["x"].astype(np.float64)})
    with pytest.raises(EdgecError, match=r"input 'x': shape \[1, 3, 9, 10\], the model expects"):
        session.run(None, {**feeds, "x": feeds["x"][..., :10]})
    with pytest.raises(EdgecError, match=r"unknown output 'nope'; the model's outputs are \['y'\]"):
        session.run(["nope"], feeds)
    (y,) = session.run(["y"], feeds)
    assert_close(y, run_ort(model, feeds)[0])


def test_c_api(tmp_path: Path) -> None:
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    bindable, refused = tmp_path / "bindable.edgeb", tmp_path / "refused.edgeb"
    bindable.write_bytes(edgec.compile(_conv_model()))
    refused.write_bytes(_written_program())
    exe = tmp_path / "test_bind"
    lib = library_path().resolve()
    cmd = [cc, "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror",
           f"-I{RUNTIME / 'include'}", str(RUNTIME / "tests/test_bind.c"), str(lib),
           f"-Wl,-rpath,{lib.parent}", "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([str(exe), str(bindable), str(refused)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "test_bind: ok" in proc.stdout


def test_bound_array_reshaped_in_place_is_checked_again() -> None:
    """A run skips rebinding the array bound by the run before; its shape and dtype
    are still checked, as they can be changed in place."""
    model = _conv_model()
    session = Session(edgec.compile(model))
    feeds = _feeds(model, 40)
    session.run(None, feeds)
    assert session._bound[0] is feeds["x"]
    x = feeds["x"]
    x.shape = (1, 3, 11, 9)
    with pytest.raises(EdgecError, match=r"input 'x': shape \[1, 3, 11, 9\], the model expects"):
        session.run(None, feeds)
    x.shape = (1, 3, 9, 11)
    x.dtype = np.int32
    with pytest.raises(EdgecError, match=r"input 'x': dtype int32, the model expects float32"):
        session.run(None, feeds)
    x.dtype = np.float32
    (got,) = session.run(None, feeds)
    assert_close(got, run_ort(model, feeds)[0])


def _passthrough_program() -> bytes:
    """The chain with its input x also listed as an output: that output is the bound
    array's own storage, so its address changes with every new array."""
    program: Program = copy.deepcopy(compile_program(_chain_model()).program)
    program.outputs = [program.inputs[0], *program.outputs]
    plan_arena(program)  # x now lives to the end
    return writer.serialize(program)


def test_outputs_follow_each_new_array() -> None:
    model = _chain_model()
    session = Session(_passthrough_program())
    earlier = []
    for seed in range(3):
        feeds = _feeds(model, 50 + seed)
        x, y = session.run(None, feeds)
        np.testing.assert_array_equal(x, feeds["x"])
        assert_close(y, run_ort(model, feeds)[0])
        feeds["x"][...] = _feeds(model, 60 + seed)["x"]  # the same array, new values
        x_again, y_again = session.run(None, feeds)
        np.testing.assert_array_equal(x_again, feeds["x"])
        assert_close(y_again, run_ort(model, feeds)[0])
        earlier.append((x, x_again))
    assert session._bindable == [True]
    for seed, (x, x_again) in enumerate(earlier):  # each run's outputs are its own copies
        np.testing.assert_array_equal(x, _feeds(model, 50 + seed)["x"])
        np.testing.assert_array_equal(x_again, _feeds(model, 60 + seed)["x"])


def test_output_left_out_of_a_run_follows_the_new_array() -> None:
    """A run that returns only some outputs after a new array was bound must not leave
    the others' looked-up addresses standing: the next run asking for them gets the
    new array's values."""
    model = _chain_model()
    session = Session(_passthrough_program())
    first = _feeds(model, 70)
    session.run(None, first)
    second = _feeds(model, 71)
    (y,) = session.run(["y"], second)
    assert_close(y, run_ort(model, second)[0])
    (x,) = session.run(["x"], second)
    np.testing.assert_array_equal(x, second["x"])
