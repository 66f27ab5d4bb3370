"""The runtime cross-built for AArch64 and Armv7, run under qemu user mode,
against onnxruntime on the host (raw outputs of edgec-run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from cross_support import (
    BuiltRuntime,
    conv_model,
    elementwise_model,
    qemu_command,
    random_feeds,
    reshape_model,
    run_program,
)
from support import assert_close, run_ort

import edgec
from edgec.device_build import kernel_table, target_data
from edgec.errors import EdgecError
from edgec.format.reader import read_program
from edgec.targets import get_target

MODELS = {"elementwise": elementwise_model, "reshape": reshape_model}


def _compile(model: onnx.ModelProto, path: Path, guarded: bool = False) -> Path:
    """Compiles to path. guarded: skip when the op families the model needs have not
    landed yet (the compiler refuses an op, or the runtime lists no kernel for it)."""
    try:
        edgec.compile(model, output=path)
    except EdgecError as exc:
        if guarded:
            pytest.skip(f"not supported by the compiler yet: {exc}")
        raise
    missing = sorted({i.op for i in read_program(path.read_bytes()).instructions}
                     - set(kernel_table()))
    if missing:
        if guarded:
            pytest.skip(f"no runtime kernel yet for {', '.join(missing)}")
        pytest.fail(f"no runtime kernel for {', '.join(missing)}")
    return path


def _check(runtime: BuiltRuntime, target: str, model: onnx.ModelProto, tmp_path: Path,
           cpu: str | None = None, threads: int = 1, guarded: bool = False,
           rtol: float = 1e-4, atol: float = 1e-5) -> None:
    data = target_data(get_target(target))
    program = _compile(model, tmp_path / "model.edgeb", guarded)
    feeds = random_feeds(model, seed=11)
    prefix = qemu_command(data["qemu"], data["qemu_sysroot"], cpu)
    proc, ours = run_program(prefix, runtime.binary, program, feeds, tmp_path / "run",
                             ["--threads", str(threads)])
    assert proc.returncode == 0, proc.stderr
    theirs = run_ort(model, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b.astype(a.dtype) if a.dtype != b.dtype else b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("cpu", [None, "cortex-a72"], ids=["default-cpu", "cortex-a72"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_aarch64_qemu(aarch64_runtime: BuiltRuntime, tmp_path: Path, name: str,
                      cpu: str | None) -> None:
    _check(aarch64_runtime, "aarch64-linux-gnu", MODELS[name](), tmp_path, cpu)


@pytest.mark.parametrize(("cpu", "threads"), [(None, 1), ("cortex-a72", 1), (None, 2)],
                         ids=["default-cpu", "cortex-a72", "2-threads"])
def test_aarch64_qemu_conv_gemm_pool(aarch64_runtime: BuiltRuntime, tmp_path: Path,
                                     cpu: str | None, threads: int) -> None:
    # Accumulation order may differ from onnxruntime's: a looser tolerance than
    # the elementwise ops.
    _check(aarch64_runtime, "aarch64-linux-gnu", conv_model(), tmp_path, cpu, threads,
           guarded=True, rtol=1e-4, atol=1e-4)


def _winograd_model() -> onnx.ModelProto:
    """Two 3x3 stride-1 convs, odd channels (panel tails), batch 2, asymmetric pads."""
    from support import make_model

    rng = np.random.default_rng(7)
    inits = {"w1": (rng.standard_normal((19, 13, 3, 3)) / 10).astype(np.float32),
             "b1": rng.standard_normal(19).astype(np.float32),
             "w2": (rng.standard_normal((14, 19, 3, 3)) / 13).astype(np.float32)}
    nodes = [onnx.helper.make_node("Conv", ["x", "w1", "b1"], ["c"], pads=[0, 2, 1, 0]),
             onnx.helper.make_node("Relu", ["c"], ["r"]),
             onnx.helper.make_node("Conv", ["r", "w2"], ["y"], pads=[1, 1, 1, 1])]
    return make_model(nodes, {"x": (onnx.TensorProto.FLOAT, (2, 13, 9, 11))},
                      {"y": onnx.TensorProto.FLOAT}, inits)


@pytest.mark.parametrize("r", [4, 2], ids=["F4", "F2"])
@pytest.mark.parametrize("otf", [False, True], ids=["stored", "on-the-fly"])
@pytest.mark.parametrize(("target", "threads"), [("aarch64-linux-gnu", 1),
                                                 ("aarch64-linux-gnu", 2),
                                                 ("armv7a-linux-gnueabihf", 1)],
                         ids=["aarch64", "aarch64-2-threads", "armv7"])
def test_qemu_winograd(request: pytest.FixtureRequest, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch, target: str, threads: int, otf: bool,
                       r: int) -> None:
    """Winograd convs, the weight stored transformed or transformed on the fly, in the
    portable transforms (and the NEON GEMM on AArch64)."""
    from edgec.lower import conv as lconv

    runtime = request.getfixturevalue("aarch64_runtime" if target.startswith("aarch64")
                                      else "armv7_runtime")
    monkeypatch.setattr(lconv, "_choose_winograd", lambda *a: (r, otf))
    _check(runtime, target, _winograd_model(), tmp_path, threads=threads, rtol=1e-4,
           atol=1e-4)
    from edgec.compiler import compile_program
    from edgec.fb.Opcode import Opcode

    convs = [i.variant for i in compile_program(_winograd_model()).program.instructions
             if i.opcode == Opcode.CONV]
    assert len(convs) == 2
    assert all(v & lconv.VARIANT_WINOGRAD and bool(v & lconv.VARIANT_WINOGRAD_OTF) == otf
               for v in convs)


def test_aarch64_binary_is_aarch64(aarch64_runtime: BuiltRuntime) -> None:
    header = aarch64_runtime.binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 2  # 64-bit
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64


@pytest.mark.parametrize("name", sorted(MODELS))
def test_armv7_qemu(armv7_runtime: BuiltRuntime, tmp_path: Path, name: str) -> None:
    _check(armv7_runtime, "armv7a-linux-gnueabihf", MODELS[name](), tmp_path)


def test_armv7_qemu_conv_gemm_pool(armv7_runtime: BuiltRuntime, tmp_path: Path) -> None:
    _check(armv7_runtime, "armv7a-linux-gnueabihf", conv_model(), tmp_path, guarded=True,
           rtol=1e-4, atol=1e-4)


def test_armv7_binary_is_arm32(armv7_runtime: BuiltRuntime) -> None:
    header = armv7_runtime.binary.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and header[4] == 1  # 32-bit
    assert int.from_bytes(header[18:20], "little") == 40  # EM_ARM


def test_qemu_outputs_equal_host_bitwise_for_exact_ops(aarch64_runtime: BuiltRuntime,
                                                       host_runtime: BuiltRuntime,
                                                       tmp_path: Path) -> None:
    """Reshape + Add are exact in IEEE arithmetic: AArch64 and x86-64 agree bit for bit."""
    model = reshape_model()
    program = _compile(model, tmp_path / "reshape.edgeb")
    feeds = random_feeds(model, seed=5)
    data = target_data(get_target("aarch64-linux-gnu"))
    prefix = qemu_command(data["qemu"], data["qemu_sysroot"])
    p1, arm = run_program(prefix, aarch64_runtime.binary, program, feeds, tmp_path / "a")
    p2, x86 = run_program([], host_runtime.binary, program, feeds, tmp_path / "h")
    assert p1.returncode == 0 and p2.returncode == 0, (p1.stderr, p2.stderr)
    for a, b in zip(arm, x86, strict=True):
        np.testing.assert_array_equal(a, b)


# MobileNetV2-like blocks with pruned 1x1 convs: INVERTED_RESIDUAL with sparse
# weights (the portable row products on AArch64), against onnxruntime on the
# pruned ONNX model
SPARSE_BLOCKS = {
    "both-s1-residual": ((12, 40, 12, 15, 13), 1, True, True, (True, True)),
    "project-s2": ((8, 30, 10, 17, 19), 2, False, True, (False, True)),
    "expand-no-residual": ((9, 27, 11, 14, 11), 1, False, True, (True, False)),
    "no-expand": ((24, 24, 20, 12, 9), 1, False, False, (False, True)),
}


@pytest.mark.parametrize("name", sorted(SPARSE_BLOCKS))
def test_aarch64_qemu_sparse_inverted_residual(aarch64_runtime: BuiltRuntime, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               name: str) -> None:
    from prune.test_sparse_inverted_residual import Block, Case, pruned_model

    import edgec.passes.fuse_inverted_residual as fir
    from edgec.compiler import compile_program
    from edgec.fb.Opcode import Opcode
    from edgec.prune.encoding import SparseTensor

    dims, stride, residual, expand, sparse = SPARSE_BLOCKS[name]
    block = Block(*dims, s=stride, residual=residual, expand=expand,
                  acts=("clip", "clip", None) if expand else (None, "clip", None))
    model = pruned_model(Case(block, sparse))
    monkeypatch.setattr(fir, "MIN_EXPANDED_BYTES", 0)  # fuse the small block
    program = compile_program(model).program
    (ir,) = [i for i in program.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]
    kinds = [ir.inputs[k] >= 0 and isinstance(program.tensors[ir.inputs[k]], SparseTensor)
             for k in (1, 5)]
    assert kinds == [expand and sparse[0], sparse[1]]
    _check(aarch64_runtime, "aarch64-linux-gnu", model, tmp_path, rtol=1e-4, atol=1e-4)
