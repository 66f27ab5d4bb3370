"""The AArch64 NEON depthwise and int8 kernels (runtime_c/src/kernels/neon/: dwconv_neon.c,
qgemm_neon.c, qgemm_dotprod.c) against the reference kernels, in the cross-built
edgec-run under qemu-aarch64, as tests/kernels/test_x86_variants.py and tests/quant do
for x86: one program holds many instructions on random shapes (sizes that are not
multiples of the vectors and tiles: tails everywhere), compiled twice, with every
instruction in the reference family (EC_VARIANT_REF: the portable loops, the oracle) and
in the best one (EC_VARIANT_BEST: NEON on AArch64). Integer outputs must be bit-identical
to the reference, float32 ones within a few ulp of the output's scale (FMA, another
summation order).

The int8 kernels pick sdot at run time when the CPU reports dotprod (HWCAP_ASIMDDP), so
the NEON programs run on qemu CPUs without it (cortex-a72: the smlal kernels) and with it
(neoverse-n1, qemu's default max: the sdot kernels), on one and two threads. Skipped
when the toolchain is missing, except in CI (CI=true), where that fails."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from cross_support import BuiltRuntime, qemu_command, require_tools, run_program

from edgec.device_build import target_data
from edgec.fb.Activation import Activation
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import VARIANT_BEST, VARIANT_REF, depthwise_workspace
from edgec.plan import plan_arena
from edgec.quant import kernels as qk
from edgec.targets import get_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quant"))
from qsupport import S8, U8, Builder, qrange, rand_q

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime_c"
SYSROOT = "/usr/aarch64-linux-gnu"
CFLAGS = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wvla",
          f"-I{RUNTIME / 'src'}", f"-I{RUNTIME / 'include'}"]
I32 = np.dtype(np.int32)
# qemu -cpu model (None: qemu's default, max) and threads of each NEON run
RUNS = [("cortex-a72", 1), ("neoverse-n1", 1), (None, 2), ("cortex-a72", 2)]
RUN_IDS = ["cortex-a72-no-dotprod", "neoverse-n1-dotprod", "max-2-threads",
           "cortex-a72-2-threads"]


@dataclass
class Suite:
    """Cases emitted into one program; `outputs` names what each output is."""

    builder: Builder = field(default_factory=Builder)
    outputs: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    def program(self) -> tuple[bytes, dict[str, np.ndarray]]:
        prog = self.builder.program
        prog.inputs = [i for i, t in enumerate(prog.tensors) if t.name in self.builder.feeds]
        prog.outputs = list(self.outputs)
        plan_arena(prog)
        return serialize(prog), self.builder.feeds


# ---- cases -------------------------------------------------------------------------


def _out_size(size: int, k: int, s: int, d: int, p0: int, p1: int) -> int:
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def add_depthwise(s: Suite, rng: np.random.Generator, variant: int, i: int) -> None:
    """fp32 depthwise Conv: 3x3 and 5x5 (unrolled), other sizes, strides 1-2, pads,
    bias, residual, activations done in registers and after the row; sometimes a
    dilation (the portable path in both families)."""
    k = [(3, 3), (5, 5), (3, 3), (5, 5), (1, 1), (7, 7), (3, 5), (2, 2)][i % 8]
    stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dil = (2, 1) if i % 11 == 10 else (1, 1)
    pads = [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
            int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))]
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 7))
    h = int(rng.integers(max(1, k[0] * dil[0] - pads[0] - pads[2]), 24))
    w = int(rng.integers(max(1, k[1] - pads[1] - pads[3]), 47))
    oh = _out_size(h, k[0], stride[0], dil[0], pads[0], pads[2])
    ow = _out_size(w, k[1], stride[1], dil[1], pads[1], pads[3])
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((c, 1, *k)).astype(np.float32)
    act = [Activation.NONE, Activation.RELU, Activation.CLIP, Activation.LEAKY_RELU,
           Activation.SIGMOID][i % 5]
    b = s.builder
    ins = [b.input(x), b.const(wt)]
    if i % 3 != 2:
        ins.append(b.const(rng.standard_normal(c).astype(np.float32)))
    if i % 4 == 1:
        if len(ins) == 2:
            ins.append(b.const(np.zeros(c, np.float32)))
        ins.append(b.input(rng.standard_normal((n, c, oh, ow)).astype(np.float32)))
    y = b.output(np.float32, (n, c, oh, ow))
    opts = ConvOptionsT(strides=list(stride), pads=pads, dilations=list(dil), group=c,
                        activation=act, actAlpha=0.1 if act == Activation.LEAKY_RELU else -0.5,
                        actBeta=0.7)
    b.emit(Opcode.CONV, ins, [y], opts, variant=variant,
           scratch=depthwise_workspace([oh, ow], list(k), list(stride), list(dil)))
    s.outputs.append(y)
    s.names.append(f"depthwise {k} stride {stride} dilation {dil} x {x.shape} -> {(oh, ow)}")


def add_qconv(s: Suite, rng: np.random.Generator, variant: int, i: int) -> None:
    """QCONV on the GEMM paths: pointwise, im2col (kernels 1x1 strided to 5x5, groups),
    full-range weights (split for AVX2's maddubs: two passes here), multipliers above
    and below 1, int32 outputs."""
    kind = i % 5
    if kind == 0:
        k, stride, pads, group = (1, 1), (1, 1), [0, 0, 0, 0], 1
    else:
        k = [(3, 3), (1, 1), (5, 5), (2, 3)][kind - 1]
        stride = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        pads = [int(rng.integers(0, k[0])), int(rng.integers(0, k[1])),
                int(rng.integers(0, k[0])), int(rng.integers(0, k[1]))]
        group = [1, 1, 2, 3][i % 4]
    dil = (1, 1)
    n = int(rng.integers(1, 3))
    c = group * int(rng.integers(1, 13))
    m = group * int(rng.integers(1, 11))
    h = int(rng.integers(max(1, k[0] - pads[0] - pads[2]), 14))
    w = int(rng.integers(max(1, k[1] - pads[1] - pads[3]), 29))
    oh = _out_size(h, k[0], stride[0], 1, pads[0], pads[2])
    ow = _out_size(w, k[1], stride[1], 1, pads[1], pads[3])
    xd = [U8, S8][i % 2]
    yd = [U8, S8, S8, U8, I32][(i // 2) % 5]
    full = i % 3 != 1
    x = rand_q(rng, xd, (n, c, h, w))
    wmax = 127 if full else 64
    wt = rng.integers(-wmax, wmax + 1, size=(m, c // group, *k)).astype(np.int8)
    if full:
        wt.flat[::7] = 127
        wt.flat[1::11] = -128
    lo, hi = qrange(xd)
    sx, zx = 0.02, int(rng.integers(lo, hi + 1))
    sw = rng.uniform(0.001, 0.01, m).astype(np.float32)
    if i % 4 == 3:  # multipliers above 1 (the saturating left shift) on some channels
        sw[::3] = rng.uniform(20, 60, len(sw[::3]))
    b = s.builder
    ins = [b.input(x, sx, zx), b.const(wt, sw, 0, axis=0)]
    if i % 6 != 5:
        ins.append(b.const(rng.integers(-5000, 5000, m).astype(np.int32)))
    act = [Activation.NONE, Activation.RELU, Activation.CLIP][i % 3] if yd != I32 else \
        Activation.NONE
    if yd == I32:
        y = b.output(I32, (n, m, oh, ow))
    else:
        ylo, yhi = qrange(yd)
        y = b.output(yd, (n, m, oh, ow), 0.5, (ylo + yhi) // 2 - 20)
    path = "depthwise" if group == c == m else "pointwise" if (
        k == (1, 1) and stride == (1, 1) and not any(pads)) else "im2col"
    scratch = qk.qconv_workspace(path, c // group * k[0] * k[1], oh * ow, ow, (h, w), k, stride,
                                 tuple(pads), dil)
    opts = ConvOptionsT(strides=list(stride), pads=pads, dilations=list(dil), group=group,
                        activation=act, actAlpha=0.0, actBeta=6.0)
    b.emit(Opcode.QCONV, ins, [y], opts, variant=variant, scratch=scratch)
    s.outputs.append(y)
    s.names.append(f"qconv {k} stride {stride} group {group} x {x.shape} -> {m} {xd}->{yd}")


def add_qgemm(s: Suite, rng: np.random.Generator, variant: int, i: int) -> None:
    """QGEMM: up to 4 activation rows (dot products) and more (the tiled GEMM), A
    transposed or not (the two packers), B transposed or not, int8/uint8/int32 out;
    DYNAMIC_QGEMM (float32 in and out) on every other case."""
    m = [1, 2, 3, 4, 5, 17, 33, 70][i % 8]
    k = int(rng.integers(1, 300))
    nn = int(rng.integers(1, 70))
    b = s.builder
    wt = rng.integers(-127, 128, size=(nn, k)).astype(np.int8)
    if i % 2:
        wt.flat[::5] = 127
        wt.flat[1::9] = -128
    sw = rng.uniform(0.002, 0.02, nn).astype(np.float32)
    if i % 3 == 2:  # DYNAMIC_QGEMM
        a = rng.standard_normal((m, k)).astype(np.float32)
        ins = [b.input(a), b.const(wt, sw, 0, axis=0),
               b.const(rng.standard_normal(nn).astype(np.float32))]
        y = b.output(np.float32, (m, nn))
        b.emit(Opcode.DYNAMIC_QGEMM, ins, [y], GemmOptionsT(transB=True), variant=variant,
               scratch=qk.qfc_workspace(m, k, True))
        s.outputs.append(y)
        s.names.append(f"dynamic_qgemm {m}x{k}x{nn}")
        return
    ta, tb = bool(i % 4 >= 2), bool(i % 2 == 0)
    xd = [U8, S8][(i // 2) % 2]
    yd = [U8, S8, I32][i % 3]
    a = rand_q(rng, xd, (k, m) if ta else (m, k))
    lo, hi = qrange(xd)
    ins = [b.input(a, 0.03, int(rng.integers(lo, hi + 1))),
           b.const(wt if tb else np.ascontiguousarray(wt.T), sw, 0, axis=0 if tb else 1),
           b.const(rng.integers(-3000, 3000, nn).astype(np.int32))]
    if yd == I32:
        y = b.output(I32, (m, nn))
    else:
        ylo, yhi = qrange(yd)
        y = b.output(yd, (m, nn), 0.7, (ylo + yhi) // 2 + 9)
    act = Activation.RELU if i % 5 == 1 and yd != I32 else Activation.NONE
    b.emit(Opcode.QGEMM, ins, [y], GemmOptionsT(transA=ta, transB=tb, activation=act),
           variant=variant, scratch=qk.qfc_workspace(m, k, False))
    s.outputs.append(y)
    s.names.append(f"qgemm {m}x{k}x{nn} trans_a={ta} trans_b={tb} {xd}->{yd}")


# family -> (case builder, cases); one program each (edgec-run takes up to 64 inputs)
SUITES = {"depthwise": (add_depthwise, 24), "qconv": (add_qconv, 20), "qgemm": (add_qgemm, 24)}


def make_suite(kind: str, variant: int, seed: int = 7) -> Suite:
    s = Suite()
    rng = np.random.default_rng(seed)
    add, count = SUITES[kind]
    for i in range(count):
        add(s, rng, variant, i)
    return s


# ---- running -----------------------------------------------------------------------


def run_suite(runtime: BuiltRuntime, kind: str, variant: int, cpu: str | None, threads: int,
              workdir: Path) -> tuple[Suite, list[np.ndarray]]:
    suite = make_suite(kind, variant)
    data, feeds = suite.program()
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "program.edgeb"
    path.write_bytes(data)
    tdata = target_data(get_target("aarch64-linux-gnu"))
    prefix = qemu_command(tdata["qemu"], tdata["qemu_sysroot"], cpu)
    proc, outs = run_program(prefix, runtime.binary, path, feeds, workdir,
                             ["--threads", str(threads)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return suite, outs


@pytest.fixture(scope="module")
def reference(aarch64_runtime: BuiltRuntime,
              tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[np.ndarray]]:
    work = tmp_path_factory.mktemp("neon-ref")
    return {kind: run_suite(aarch64_runtime, kind, VARIANT_REF, "cortex-a72", 1, work / kind)[1]
            for kind in SUITES}


def compare(names: list[str], outs: list[np.ndarray], reference: list[np.ndarray]) -> list[str]:
    """What differs: float32 depthwise outputs by more than a few ulp of the output's
    scale, anything else in a single bit."""
    assert len(outs) == len(reference) == len(names)
    bad = []
    for name, got, ref in zip(names, outs, reference, strict=True):
        assert got.shape == ref.shape and got.dtype == ref.dtype, name
        if got.dtype == np.float32 and name.startswith("depthwise"):
            scale = max(float(np.abs(ref).max()), 1e-30)
            err = float(np.abs(got.astype(np.float64) - ref).max()) / scale
            if not err <= 2e-5:
                bad.append(f"{name}: max error {err:.3g} of the output scale")
        elif not np.array_equal(got, ref):
            diff = int(np.count_nonzero(got != ref))
            bad.append(f"{name}: {diff} of {ref.size} values differ from the reference")
    return bad


@pytest.mark.parametrize("kind", list(SUITES))
@pytest.mark.parametrize(("cpu", "threads"), RUNS, ids=RUN_IDS)
def test_neon_kernels_match_reference(aarch64_runtime: BuiltRuntime,
                                      reference: dict[str, list[np.ndarray]], tmp_path: Path,
                                      cpu: str | None, threads: int, kind: str) -> None:
    suite, outs = run_suite(aarch64_runtime, kind, VARIANT_BEST, cpu, threads, tmp_path)
    bad = compare(suite.names, outs, reference[kind])
    assert not bad, "\n".join(bad)


# ---- the int8 pieces alone (runtime_c/tests/test_qneon.c) ------------------------------


@pytest.fixture(scope="module")
def qneon_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_qneon built as CMake builds the runtime: Armv8.0-A, and the sdot file alone
    with -march=armv8.2-a+dotprod."""
    require_tools("aarch64-linux-gnu-gcc", "qemu-aarch64")
    work = tmp_path_factory.mktemp("qneon")
    dot = work / "qgemm_dotprod.o"
    out = work / "test_qneon"
    neon = RUNTIME / "src/kernels/neon"
    for cmd in (["aarch64-linux-gnu-gcc", *CFLAGS, "-march=armv8.2-a+dotprod", "-c",
                 str(neon / "qgemm_dotprod.c"), "-o", str(dot)],
                ["aarch64-linux-gnu-gcc", *CFLAGS, "-march=armv8-a",
                 str(RUNTIME / "tests/test_qneon.c"), str(neon / "qgemm_neon.c"),
                 str(neon / "cpu_arm.c"), str(dot), "-o", str(out)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr}"
    return out


@pytest.mark.parametrize(("cpu", "dotprod"), [("cortex-a72", 0), ("neoverse-n1", 1), (None, 1)],
                         ids=["cortex-a72", "neoverse-n1", "default-cpu"])
def test_qneon_pieces_under_qemu(qneon_binary: Path, cpu: str | None, dotprod: int) -> None:
    """Requantization over the whole int32 range and every shift, the micro-kernels
    (both families where the CPU has dotprod), dot products and packing, bit for bit."""
    cmd = [*qemu_command("qemu-aarch64", SYSROOT, cpu), str(qneon_binary),
           "--expect-dotprod", str(dotprod)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and " 0 failed" in proc.stdout, proc.stdout[-3000:]
