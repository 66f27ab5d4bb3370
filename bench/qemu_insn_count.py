"""Instructions executed by one fp32 GEMM on AArch64, counted under qemu user mode:
the NEON kernel (runtime_c/src/kernels/neon/sgemm_neon.c, ec_sgemm_neon) against the
portable reference (ec_sgemm with EC_ISA_REF from runtime_c/src/kernels/ref/gemm_core.c:
the same blocking and packing with its plain-C 6 x 8 register tile), both compiled by
aarch64-linux-gnu-gcc with the runtime's flags (-std=c11 -march=armv8-a, -O2 by default).

    python bench/qemu_insn_count.py                  # 256 x 256 x 256
    python bench/qemu_insn_count.py --shape 129x77x300 --cpu cortex-a72 --opt=-O3

How it counts. bench/neon_gemm_icount.c allocates and fills the operands, then runs
nothing (`none`), ec_sgemm_neon (`neon`) or the reference (`ref`); a GEMM's count is
count(mode) - count(none). Counting, in order of preference:
  plugin  a tiny TCG plugin (bench/qemu_insn_plugin.c, built here with the host cc)
          adds each executed translation block's instruction count. Debian's qemu-user
          supports plugins but ships no header and no contrib plugins, hence our own.
  log     `qemu-aarch64 -d in_asm,exec,nochain`: the instruction count of every
          translated block (in_asm) times the times it ran (one `Trace` line per
          execution with chaining off). Slow and large (about 80 bytes of log per block
          executed) but needs nothing but qemu.
Exit status: 0, or 1 when --min-ratio is given and the ratio is below it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime_c"
HARNESS = ROOT / "bench" / "neon_gemm_icount.c"
PLUGIN = ROOT / "bench" / "qemu_insn_plugin.c"
NEON_SOURCES = [RUNTIME / "src/kernels/neon/sgemm_neon.c"]
REF_SOURCE = RUNTIME / "src/kernels/ref/gemm_core.c"
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wvla"]


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)


def build_harness(work: Path, cc: str, opt: str, ref_source: Path) -> Path:
    out = work / "neon_gemm_icount"
    cmd = [cc, "-std=c11", opt, "-march=armv8-a", *WARNINGS, f"-I{RUNTIME / 'src'}",
           f"-I{RUNTIME / 'include'}", str(HARNESS), *map(str, NEON_SOURCES), str(ref_source),
           "-lm", "-o", str(out)]
    proc = _run(cmd)
    if proc.returncode != 0:
        sys.exit(f"building the harness failed:\n{' '.join(cmd)}\n{proc.stderr}")
    return out


def build_plugin(work: Path, host_cc: str, api: int) -> Path | None:
    out = work / f"libinsncount{api}.so"
    proc = _run([host_cc, "-shared", "-fPIC", "-O2", f"-DEC_QEMU_PLUGIN_API={api}",
                 str(PLUGIN), "-o", str(out)])
    return out if proc.returncode == 0 else None


def qemu_prefix(qemu: str, sysroot: str, cpu: str | None) -> list[str]:
    cmd = [qemu, "-L", sysroot]
    return [*cmd, "-cpu", cpu] if cpu else cmd


def count_plugin(prefix: list[str], plugin: Path, argv: list[str],
                 work: Path) -> tuple[int, str] | None:
    """(instructions, the program's stdout), None if the plugin did not report."""
    log = work / "plugin.log"
    log.unlink(missing_ok=True)
    proc = _run([*prefix, "-plugin", str(plugin), "-d", "plugin", "-D", str(log), *argv],
                timeout=900)
    if proc.returncode != 0 or not log.exists():
        return None
    m = re.search(r"insns: (\d+)", log.read_text())
    return (int(m.group(1)), proc.stdout.strip()) if m else None


_IN_LINE = re.compile(r"^0x([0-9a-f]+):\s")
_TRACE = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")


def count_log(prefix: list[str], argv: list[str], work: Path) -> tuple[int, str]:
    """Sum over `Trace` lines of the instruction count of the block at that pc
    (a block retranslated at the same pc keeps its last size: exact for this
    harness, where blocks are translated once)."""
    log = work / "exec.log"
    proc = _run([*prefix, "-d", "in_asm,exec,nochain", "-D", str(log), *argv], timeout=3600)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed under qemu:\n{proc.stderr}")
    size: dict[int, int] = {}
    runs: dict[int, int] = defaultdict(int)
    block_pc, block_n = None, 0
    with log.open() as f:
        for line in f:
            if line.startswith("Trace"):
                m = _TRACE.match(line)
                if m:
                    runs[int(m.group(1), 16)] += 1
                continue
            m = _IN_LINE.match(line)
            if m:
                if block_pc is None:
                    block_pc = int(m.group(1), 16)
                block_n += 1
            elif line.startswith("IN:") or line.startswith("----"):
                if block_pc is not None:
                    size[block_pc] = block_n
                block_pc, block_n = None, 0
            elif not line.strip() and block_pc is not None:
                size[block_pc] = block_n
                block_pc, block_n = None, 0
    if block_pc is not None:
        size[block_pc] = block_n
    log.unlink()
    missing = [pc for pc in runs if pc not in size]
    if missing:
        sys.exit(f"log method: {len(missing)} executed blocks were never disassembled")
    return sum(size[pc] * n for pc, n in runs.items()), proc.stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", default="256x256x256", help="MxNxK (default 256x256x256)")
    ap.add_argument("--cpu", default=None, help="qemu -cpu model (default: qemu's, max)")
    ap.add_argument("--opt", default="-O2", help="optimization flag for both (default -O2)")
    ap.add_argument("--method", choices=["auto", "plugin", "log"], default="auto")
    ap.add_argument("--ref-source", type=Path, default=REF_SOURCE,
                    help="gemm_core.c to compile the reference from (e.g. a snapshot copy)")
    ap.add_argument("--cc", default="aarch64-linux-gnu-gcc")
    ap.add_argument("--host-cc", default=os.environ.get("CC", "gcc"))
    ap.add_argument("--qemu", default="qemu-aarch64")
    ap.add_argument("--sysroot", default="/usr/aarch64-linux-gnu")
    ap.add_argument("--min-ratio", type=float, default=None,
                    help="exit 1 when ref/neon is below this")
    args = ap.parse_args()

    try:
        m, n, k = (int(v) for v in args.shape.lower().split("x"))
    except ValueError:
        ap.error("--shape must be MxNxK")
    for tool in (args.cc, args.qemu):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found (apt-get install gcc-aarch64-linux-gnu qemu-user)")
    prefix = qemu_prefix(args.qemu, args.sysroot, args.cpu)
    qemu_version = _run([args.qemu, "--version"]).stdout.split("\n")[0]

    with tempfile.TemporaryDirectory(prefix="edgec-insn-") as tmp:
        work = Path(tmp)
        binary = build_harness(work, args.cc, args.opt, args.ref_source)

        def argv(mode: str) -> list[str]:
            return [str(binary), mode, str(m), str(n), str(k)]

        plugin = None
        if args.method in ("auto", "plugin") and shutil.which(args.host_cc):
            for api in (1, 2):  # QEMU <= 8.x accept 1, QEMU >= 9 require >= 2
                candidate = build_plugin(work, args.host_cc, api)
                if candidate and count_plugin(prefix, candidate, argv("none"), work) is not None:
                    plugin = candidate
                    break
        if plugin is None and args.method == "plugin":
            sys.exit("the TCG plugin could not be built or loaded (try --method log)")
        method = "TCG plugin (bench/qemu_insn_plugin.c)" if plugin else \
            "-d in_asm,exec,nochain log"

        counts, checks = {}, {}
        for mode in ("none", "neon", "ref"):
            got = count_plugin(prefix, plugin, argv(mode), work) if plugin else \
                count_log(prefix, argv(mode), work)
            if got is None:
                sys.exit(f"counting {mode} failed")
            counts[mode], checks[mode] = got

    macs = m * n * k
    neon = counts["neon"] - counts["none"]
    ref = counts["ref"] - counts["none"]
    ratio = ref / neon if neon > 0 else float("inf")
    print(f"{qemu_version}, -cpu {args.cpu or 'default (max)'}; counted with the {method}")
    ref_src = args.ref_source.resolve()
    ref_src = ref_src.relative_to(ROOT) if ref_src.is_relative_to(ROOT) else ref_src
    print(f"GEMM {m}x{n}x{k} (C = A.B, row-major fp32), {args.cc} {args.opt} -march=armv8-a; "
          f"reference from {ref_src}")
    print(f"  setup only (subtracted)    {counts['none']:>14,}")
    print(f"  neon  ec_sgemm_neon        {neon:>14,} instructions  "
          f"({neon / macs:.3f} per multiply-add)")
    print(f"  ref   ec_sgemm(EC_ISA_REF) {ref:>14,} instructions  "
          f"({ref / macs:.3f} per multiply-add)")
    print(f"  ratio ref / neon           {ratio:>14.2f}x")
    print(f"  [{checks['neon']}]  [{checks['ref']}]")
    if args.min_ratio is not None and ratio < args.min_ratio:
        print(f"FAIL: ratio {ratio:.2f} < {args.min_ratio}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
