"""`edgec runtime build` and `edgec bench`: building the C runtime for a target
and benchmarking programs on devices. The main CLI registers `runtime_group`
and `bench_cmd`; the work is done in edgec.device_build."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from edgec.errors import EdgecError

BUILD_TYPES = ("Release", "MinSizeRel", "RelWithDebInfo", "Debug")


def _kib(n: int | None) -> str:
    return "-" if n is None else f"{n / 1024:.1f} KiB"


def _parse_ops(text: str | None) -> list[str] | None:
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return []
    return [op.strip().upper() for op in text.split(",") if op.strip()]


@click.group("runtime")
def runtime_group() -> None:
    """Build the C runtime (library, header, edgec-run) for a deployment target."""


@runtime_group.command("build")
@click.option("-t", "--target", default="host", show_default=True,
              help="Deployment target (see edgec targets).")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to put libedgec.a, libedgec.so, include/ and edgec-run in.")
@click.option("--for", "programs", multiple=True, metavar="PROGRAM.edgeb",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Selective build: only the kernels these programs use (repeatable).")
@click.option("--ops", default=None, metavar="OP,OP,...",
              help="Selective build: keep these opcodes (added to --for's); 'none' builds "
                   "the core alone.")
@click.option("--build-type", type=click.Choice(BUILD_TYPES), default="Release",
              show_default=True, help="CMake build type (MinSizeRel: -Os).")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Keep the CMake build folder here for incremental rebuilds "
                   "(default: a temporary folder).")
@click.option("--strip", is_flag=True, help="Strip the library and edgec-run in the output.")
@click.option("-D", "defines", multiple=True, metavar="VAR=VALUE",
              help="Extra CMake definition, e.g. -D ANDROID_NDK=/opt/ndk (repeatable).")
@click.option("-j", "--jobs", type=int, default=None, help="Parallel compile jobs.")
def build_cmd(target: str, out_dir: Path, programs: tuple[Path, ...], ops: str | None,
              build_type: str, build_dir: Path | None, strip: bool, defines: tuple[str, ...],
              jobs: int | None) -> None:
    """Configure and build runtime_c for TARGET with CMake, into OUTPUT."""
    from edgec.device_build import build_runtime, kernel_table

    for path in programs:
        if not path.is_file():
            raise EdgecError(f"--for {path}: no such file")
    for d in defines:
        if "=" not in d or d.startswith("="):
            raise EdgecError(f"-D {d!r}: expected VAR=VALUE")
    console = Console()
    with console.status(f"building the runtime for {target}"):
        result = build_runtime(target, out_dir, programs, _parse_ops(ops),
                               build_type=build_type, build_dir=build_dir,
                               cmake_args=[f"-D{d}" for d in defines], jobs=jobs, strip=strip)
    table = Table(title=f"runtime for {result.target} ({build_type}) in {out_dir}")
    for col in ("file", "size", "stripped", "code+data"):
        table.add_column(col, justify="left" if col == "file" else "right")
    for name in sorted(result.files):
        table.add_row(name, _kib(result.sizes.get(name)), _kib(result.stripped.get(name)),
                      _kib(result.loaded.get(name)))
    console.print(table)
    console.print("code+data: the bytes the loader maps (text, rodata, data), without the "
                  "page-alignment padding in the file")
    if result.ops is not None:
        total = len(kernel_table())
        console.print(f"kernels: {len(result.ops)} of {total}: {', '.join(result.ops) or 'none'}")
        for what, mine_sizes, full_sizes in (
                ("stripped", result.stripped, result.full_stripped),
                ("code+data", result.loaded, result.full_loaded)):
            for name, full in full_sizes.items():
                mine = mine_sizes.get(name)
                if mine is not None and full:
                    console.print(f"{name} {what}: selective {_kib(mine)}, full {_kib(full)} "
                                  f"({100 * (1 - mine / full):.0f}% smaller)")


@click.command("bench")
@click.argument("program", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--device", default="host", show_default=True,
              metavar="host|qemu[:CPU]|adb[:SERIAL]|ssh:[USER@]HOST",
              help="Where to run: this machine, qemu user mode (e.g. qemu:cortex-a72), an "
                   "Android device over adb, or a board over ssh.")
@click.option("--iterations", default=20, show_default=True, help="Timed runs.")
@click.option("--warmup", default=5, show_default=True, help="Discarded runs before them.")
@click.option("--threads", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--runtime-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Use the edgec-run of this `edgec runtime build` output.")
@click.option("--target", default=None,
              help="Target whose edgec-run the device runs (default: host; qemu: "
                   "aarch64-linux-gnu; adb: android-arm64-v8a; ssh: from `uname -m`); "
                   "built once and cached unless --runtime-dir is given.")
@click.option("--remote-dir", default=None,
              help="Folder on the device (adb: /data/local/tmp/edgec, ssh: /tmp/edgec-bench).")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds per device command.")
@click.option("--compare", "compare_with", multiple=True,
              type=click.Choice(["onnxruntime", "mnn"]),
              help="Also run this engine on the same ONNX model (PROGRAM is then a .onnx file), "
                   "interleaved in one process on this machine, and print the ratios "
                   "(repeatable).")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D0,D1,...",
              help="With --compare: bind a dynamic input to this shape.")
def bench_cmd(program: Path, device: str, iterations: int, warmup: int, threads: int,
              as_json: bool, runtime_dir: Path | None, target: str | None,
              remote_dir: str | None, timeout: float, compare_with: tuple[str, ...],
              input_shapes: tuple[str, ...]) -> None:
    """Benchmark a .edgeb PROGRAM: latency (min/p50/p90), peak memory, top ops.

    With --compare, PROGRAM is an ONNX model: edgec compiles it and times it
    against the other engines, interleaved, same inputs and threads."""
    from edgec.device_build import run_benchmark

    if compare_with:
        if device != "host":
            raise EdgecError("--compare runs on this machine only (--device host)")
        _bench_compare(program, compare_with, input_shapes, threads, iterations, as_json)
        return
    result = run_benchmark(program, device, iterations=iterations, warmup=warmup,
                           threads=threads, runtime_dir=runtime_dir, target=target,
                           remote_dir=remote_dir, timeout=timeout,
                           notify=lambda msg: click.echo(f"edgec: {msg}", err=True))
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    console = Console()
    lat = result.latency_ms
    console.print(f"[bold]{Path(result.program).name}[/bold] on {result.device}: "
                  f"{result.threads} thread(s), {result.warmup} warm-up + "
                  f"{result.iterations} timed runs ({result.binary})")
    console.print(f"latency ms: min {lat['min']:.3f}  p50 {lat['p50']:.3f}  "
                  f"p90 {lat['p90']:.3f}  mean {lat['mean']:.3f}  max {lat['max']:.3f}")
    rss = "unknown" if result.peak_rss_kb < 0 else f"{result.peak_rss_kb / 1024:.1f} MiB"
    note = " (the emulator's, guest included)" if result.device.startswith("qemu") else ""
    console.print(f"peak memory (RSS): {rss}{note}; arena {_kib(result.arena_bytes)}; "
                  f"load {result.load_ms:.3f} ms")
    table = Table(title=f"top ops ({result.instructions} instructions)")
    for col in ("op", "count", "ms/run", "share"):
        table.add_column(col, justify="left" if col == "op" else "right")
    for p in result.ops[:10]:
        table.add_row(p.op, str(p.count), f"{p.ms:.4f}", f"{100 * p.share:.1f}%")
    console.print(table)


def _bench_compare(model_path: Path, engines: tuple[str, ...], input_shapes: tuple[str, ...],
                   threads: int, iterations: int, as_json: bool) -> None:
    import onnx

    from edgec.compare import interleaved, runners
    from edgec.compiler import compile_program
    from edgec.runtime import Session
    from edgec.util import parse_input_shapes
    from edgec.validate import random_feeds

    if model_path.suffix != ".onnx":
        raise EdgecError(f"{model_path}: --compare needs the ONNX model (the other engines "
                         "run it), not a compiled program")
    if not model_path.is_file():
        raise EdgecError(f"{model_path}: no such file")
    try:
        model = onnx.load(str(model_path))
    except Exception as exc:  # onnx raises several types for a bad file
        raise EdgecError(f"{model_path}: not a readable ONNX model ({exc})") from None
    program = compile_program(model, input_shapes=parse_input_shapes(input_shapes)).data
    feeds = random_feeds(Session(program).get_inputs(), seed=0)
    rounds = max(1, iterations // 3)
    console = Console(stderr=as_json)
    with console.status(f"{model_path.name}: {', '.join(('edgec', *engines))}, "
                        f"{rounds} rounds"):
        med = interleaved(runners(model, program, feeds, threads, engines), rounds)
    if as_json:
        click.echo(json.dumps({"model": str(model_path), "threads": threads,
                               "median_ms": med,
                               "ratio": {k: med["edgec"] / v for k, v in med.items()
                                         if k != "edgec"}}, sort_keys=True))
        return
    table = Table(title=f"{model_path.name}: medians of {3 * rounds} interleaved runs, "
                        f"{threads} thread(s)")
    for col in ("engine", "ms", "edgec / engine"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    for name, ms in med.items():
        table.add_row(name, f"{ms:.3f}", "-" if name == "edgec" else f"{med['edgec'] / ms:.2f}")
    console.print(table)


__all__ = ["bench_cmd", "runtime_group"]
