"""Instructions executed by the AArch64 NEON depthwise and int8 kernels against the
reference kernels, counted under qemu user mode in the cross-built edgec-run.

    python bench/qemu_kernel_icount.py                      # builds the runtime for aarch64
    python bench/qemu_kernel_icount.py --run DIR/edgec-run --cpu cortex-a72 --cpu max

Each case is a one-instruction program (fp32 depthwise CONV, QCONV, QGEMM) compiled
twice: EC_VARIANT_REF (the portable reference loops) and EC_VARIANT_BEST (NEON on
AArch64: the smlal int8 kernels on a CPU without dotprod, sdot ones with it; fp32 does
not depend on the CPU). An instruction's count is count(--iterations 2) -
count(--iterations 1) of `edgec-run PROGRAM` (load, verify, prepare and the feeds are
the same in both and cancel), counted with the TCG plugin of bench/qemu_insn_count.py
(bench/qemu_insn_plugin.c). The runtime is built by edgec.device_build (CMake Release,
-O3) unless --run names an edgec-run. --portable-run names an aarch64 edgec-run built
without the NEON kernels (CMAKE_SYSTEM_PROCESSOR not aarch64: the portable build armv7
gets): its EC_VARIANT_BEST is the portable blocked int8 code (the same packing and 4 x 16
tiles in plain C), a fairer baseline than the reference loops. Counts, not time: qemu
says nothing about the speed of a real core.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgec.device_build import build_runtime  # noqa: E402
from edgec.fb.Activation import Activation  # noqa: E402
from edgec.fb.ConvOptions import ConvOptionsT  # noqa: E402
from edgec.fb.GemmOptions import GemmOptionsT  # noqa: E402
from edgec.fb.Opcode import Opcode  # noqa: E402
from edgec.format.writer import serialize  # noqa: E402
from edgec.lower.conv import VARIANT_BEST, VARIANT_REF, depthwise_workspace  # noqa: E402
from edgec.plan import plan_arena  # noqa: E402
from edgec.program import Instruction, Program, Quantization, Tensor  # noqa: E402
from edgec.quant import kernels as qk  # noqa: E402


def _load_insn_count():
    spec = importlib.util.spec_from_file_location("qemu_insn_count",
                                                  ROOT / "bench" / "qemu_insn_count.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


QIC = _load_insn_count()


class One:
    """A one-instruction program: inputs fed from files, constants in the file."""

    def __init__(self) -> None:
        self.prog = Program()
        self.feeds: list[np.ndarray] = []

    def _q(self, scale, zp, axis):
        if scale is None:
            return None
        s = np.atleast_1d(np.asarray(scale, np.float32))
        z = np.atleast_1d(np.asarray(0 if zp is None else zp, np.int64))
        if z.size == 1 and s.size > 1:
            z = np.zeros(s.size, np.int64)
        return Quantization(scales=s, zero_points=z, axis=axis)

    def input(self, v: np.ndarray, scale=None, zp=None) -> int:
        self.feeds.append(v)
        return self.prog.add_tensor(Tensor(name=f"in{len(self.feeds)}", dtype=v.dtype,
                                           shape=v.shape, quant=self._q(scale, zp, -1)))

    def const(self, v: np.ndarray, scale=None, axis: int = -1) -> int:
        return self.prog.add_tensor(Tensor(name=f"c{len(self.prog.tensors)}", dtype=v.dtype,
                                           shape=v.shape, data=np.ascontiguousarray(v),
                                           quant=self._q(scale, 0 if scale is not None else None,
                                                         axis)))

    def output(self, dtype, shape, scale=None, zp=None) -> int:
        return self.prog.add_tensor(Tensor(name="y", dtype=np.dtype(dtype), shape=tuple(shape),
                                           quant=self._q(scale, zp, -1)))

    def emit(self, op, ins, out, opts, variant, scratch) -> bytes:
        self.prog.instructions.append(Instruction(op, ins, [out], opts, name="op",
                                                  variant=variant, scratch_size=scratch))
        self.prog.inputs = [i for i, t in enumerate(self.prog.tensors) if t.name.startswith("in")]
        self.prog.outputs = [out]
        plan_arena(self.prog)
        return serialize(self.prog)


def depthwise(c: int, hw: int, k: int, s: int) -> Callable[[int], One]:
    def make(variant: int) -> tuple[One, bytes]:
        rng = np.random.default_rng(1)
        b = One()
        p = k // 2
        o = (hw + 2 * p - k) // s + 1
        ins = [b.input(rng.standard_normal((1, c, hw, hw)).astype(np.float32)),
               b.const(rng.standard_normal((c, 1, k, k)).astype(np.float32)),
               b.const(rng.standard_normal(c).astype(np.float32))]
        y = b.output(np.float32, (1, c, o, o))
        opts = ConvOptionsT(strides=[s, s], pads=[p] * 4, dilations=[1, 1], group=c,
                            activation=Activation.RELU, actAlpha=0.0, actBeta=0.0)
        return b, b.emit(Opcode.CONV, ins, y, opts, variant,
                         depthwise_workspace([o, o], [k, k], [s, s], [1, 1]))
    return make, c * (((hw + 2 * (k // 2) - k) // s + 1) ** 2) * k * k


def qconv(c: int, m: int, hw: int, k: int) -> tuple[Callable, int]:
    def make(variant: int) -> tuple[One, bytes]:
        rng = np.random.default_rng(2)
        b = One()
        p = k // 2
        ins = [b.input(rng.integers(0, 256, (1, c, hw, hw)).astype(np.uint8), 0.02, 120),
               b.const(rng.integers(-64, 65, (m, c, k, k)).astype(np.int8),
                       rng.uniform(0.001, 0.01, m).astype(np.float32), axis=0),
               b.const(rng.integers(-5000, 5000, m).astype(np.int32))]
        y = b.output(np.uint8, (1, m, hw, hw), 0.5, 100)
        opts = ConvOptionsT(strides=[1, 1], pads=[p] * 4, dilations=[1, 1], group=1,
                            activation=Activation.RELU, actAlpha=0.0, actBeta=0.0)
        path = "pointwise" if k == 1 else "im2col"
        scratch = qk.qconv_workspace(path, c * k * k, hw * hw, hw, (hw, hw), (k, k), (1, 1),
                                     (p,) * 4, (1, 1))
        return b, b.emit(Opcode.QCONV, ins, y, opts, variant, scratch)
    return make, m * hw * hw * c * k * k


def qgemm(m: int, k: int, n: int) -> tuple[Callable, int]:
    def make(variant: int) -> tuple[One, bytes]:
        rng = np.random.default_rng(3)
        b = One()
        ins = [b.input(rng.integers(0, 256, (m, k)).astype(np.uint8), 0.03, 128),
               b.const(rng.integers(-64, 65, (n, k)).astype(np.int8),
                       rng.uniform(0.002, 0.02, n).astype(np.float32), axis=0),
               b.const(rng.integers(-3000, 3000, n).astype(np.int32))]
        y = b.output(np.int8, (m, n), 0.7, 3)
        return b, b.emit(Opcode.QGEMM, ins, y, GemmOptionsT(transA=False, transB=True),
                         variant, qk.qfc_workspace(m, k, False))
    return make, m * k * n


CASES = {
    "depthwise 3x3 s1, 32 x 56x56": depthwise(32, 56, 3, 1),
    "depthwise 3x3 s2, 32 x 112x112": depthwise(32, 112, 3, 2),
    "depthwise 5x5 s1, 32 x 28x28": depthwise(32, 28, 5, 1),
    "depthwise 5x5 s2, 32 x 56x56": depthwise(32, 56, 5, 2),
    "qconv 3x3 16->32, 28x28 (im2col)": qconv(16, 32, 28, 3),
    "qconv 1x1 64->64, 28x28 (pointwise)": qconv(64, 64, 28, 1),
    "qgemm 64x256x256 (tiles)": qgemm(64, 256, 256),
    "qgemm 1x1024x256 (dot products)": qgemm(1, 1024, 256),
}


def program_args(run: Path, data: bytes, feeds: list[np.ndarray], work: Path) -> list[str]:
    prog = work / "p.edgeb"
    prog.write_bytes(data)
    args = [str(run), str(prog)]
    for i, f in enumerate(feeds):
        path = work / f"in{i}.bin"
        path.write_bytes(np.ascontiguousarray(f).tobytes())
        args += ["--input", f"{i}={path}"]
    return args


def count_one(prefix: list[str], plugin: Path, run: Path, data: bytes, feeds, work: Path) -> int:
    args = program_args(run, data, feeds, work)
    counts = []
    for iters in (1, 2):
        got = QIC.count_plugin(prefix, plugin, [*args, "--iterations", str(iters)], work)
        if got is None:
            sys.exit(f"counting failed: {' '.join(args)}")
        counts.append(got[0])
    return counts[1] - counts[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, help="an aarch64 edgec-run (default: build one)")
    ap.add_argument("--cpu", action="append", help="qemu -cpu models (default: cortex-a72, "
                    "neoverse-n1)")
    ap.add_argument("--portable-run", type=Path,
                    help="an aarch64 edgec-run without NEON kernels: adds its blocked int8 path")
    ap.add_argument("--host-cc", default="gcc")
    ap.add_argument("--case", action="append", help="substring of the cases to run")
    args = ap.parse_args()
    cpus = args.cpu or ["cortex-a72", "neoverse-n1"]
    for tool in ("qemu-aarch64", args.host_cc):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found")
    with tempfile.TemporaryDirectory(prefix="edgec-kicount-") as tmp:
        work = Path(tmp)
        run = args.run
        if run is None:
            run = build_runtime("aarch64-linux-gnu", work / "out", build_dir=work / "build").binary
        plugin = None
        probe_b, probe = qgemm(5, 8, 3)[0](VARIANT_REF)
        probe_args = program_args(run, probe, probe_b.feeds, work)
        for api in (1, 2):  # QEMU <= 8.x accept 1, QEMU >= 9 require >= 2
            cand = QIC.build_plugin(work, args.host_cc, api)
            if cand and QIC.count_plugin(QIC.qemu_prefix("qemu-aarch64", "/usr/aarch64-linux-gnu",
                                                         None), cand, probe_args, work):
                plugin = cand
                break
        if plugin is None:
            sys.exit("the TCG plugin could not be built or loaded")
        print(f"{QIC._run(['qemu-aarch64', '--version']).stdout.splitlines()[0]}; "
              f"edgec-run {run}")
        port = args.portable_run
        print("| case | MACs | -cpu | ref | NEON | ref per MAC | NEON per MAC | ref / NEON |"
              + (" portable blocked per MAC | portable / NEON |" if port else ""))
        print("|---|---:|---|---:|---:|---:|---:|---:|" + ("---:|---:|" if port else ""))
        for name, (make, macs) in CASES.items():
            if args.case and not any(c in name for c in args.case):
                continue
            ref_b, ref_data = make(VARIANT_REF)
            neon_b, neon_data = make(VARIANT_BEST)
            ref = portable = None
            for cpu in cpus:
                prefix = QIC.qemu_prefix("qemu-aarch64", "/usr/aarch64-linux-gnu", cpu)
                if ref is None:  # the reference loops do not depend on the CPU
                    ref = count_one(prefix, plugin, run, ref_data, ref_b.feeds, work)
                neon = count_one(prefix, plugin, run, neon_data, neon_b.feeds, work)
                extra = " - | - |" if port and name.startswith("depthwise") else ""
                if port and not extra:  # fp32 depthwise has no portable blocked path
                    if portable is None:
                        portable = count_one(prefix, plugin, port, neon_data, neon_b.feeds, work)
                    extra = f" {portable / macs:.2f} | {portable / neon:.1f}x |"
                print(f"| {name} | {macs:,} | {cpu} | {ref:,} | {neon:,} | {ref / macs:.2f} | "
                      f"{neon / macs:.3f} | {ref / neon:.1f}x |{extra}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
