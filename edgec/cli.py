"""The edgec command line: compile, run, inspect, validate, zoo, targets."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from edgec.cli_device import bench_cmd, runtime_group
from edgec.errors import EdgecError
from edgec.util import parse_input_shapes

console = Console()


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="edgec")
def cli() -> None:
    """Compile ONNX models to .edgeb programs and run them in the edgec C runtime."""


@cli.command("compile")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Output .edgeb path (default: MODEL with .edgeb suffix).")
@click.option("--target", default="host", show_default=True, help="Deployment target.")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D0,D1,...",
              help="Bind the dynamic dims of an input (repeatable).")
@click.option("--quantize", type=click.Choice(["int8", "dynamic"]),
              help="int8: static (calibrated activations, per-channel int8 weights); "
                   "dynamic: int8 MatMul/Gemm weights, activations quantized at run time.")
@click.option("--calibration", metavar="DIR|random",
              help="Calibration inputs for --quantize int8: a folder of .npz files (one feed "
                   "each, arrays named as the inputs), or 'random' (synthetic; warns).")
@click.option("--calibration-method", default="minmax", show_default=True,
              type=click.Choice(["minmax", "percentile", "entropy", "mse"]),
              help="How activation ranges are chosen from the calibration data.")
@click.option("--accuracy-budget", type=float, metavar="COSINE",
              help="Keep the most sensitive layers in float until the mean output cosine "
                   "on the calibration set reaches COSINE (e.g. 0.995).")
@click.option("--weights", "weights", type=click.Choice(["fp16"]),
              help="fp16: store float weights as float16 (half the size, fp32 compute).")
@click.option("--report", "report", metavar="[FILE.html]", is_flag=False, flag_value="-",
              help="Print the per-layer quantization error table; with a FILE.html, also "
                   "write it there with a plot.")
@click.option("--prune", "prune", metavar="SPEC",
              help="Prune weights: magnitude:S[:per-layer] (unstructured, sparsity S), "
                   "channels:F[:l1|l2][:uniform] (remove conv channels: F of them in all, "
                   "more from the layers whose channels cost more parameters and "
                   "multiply-adds; :uniform removes F in every layer), N:M (e.g. 2:4); add "
                   ",exclude=PATTERN to keep layers (e.g. ,exclude=classifier*). See "
                   "docs/pruning.md.")
@click.option("--prune-report", is_flag=True,
              help="With --prune: print per layer the sparsity, params and bytes before/after "
                   "and the kernel chosen, and the output error against the unpruned model.")
def compile_cmd(model: Path, output: Path | None, target: str, input_shapes: tuple[str, ...],
                quantize: str | None = None, calibration: str | None = None,
                calibration_method: str = "minmax", accuracy_budget: float | None = None,
                weights: str | None = None, report: str | None = None,
                prune: str | None = None, prune_report: bool = False) -> None:
    """Compile MODEL.onnx into a .edgeb program."""
    from edgec.compiler import compile_program
    from edgec.util import write_atomic

    out = output or model.with_suffix(".edgeb")
    quant_options = None
    if quantize or weights or report:
        import warnings

        from edgec.quant import QuantOptions, RandomCalibrationWarning

        if quantize == "int8" and calibration is None:
            raise EdgecError("--quantize int8 needs --calibration DIR (a folder of .npz "
                             "feeds) or --calibration random")
        if calibration == "random":
            console.print("[bold red]WARNING:[/bold red] calibrating on synthetic random "
                          "inputs: activation ranges may not fit real data. Pass "
                          "--calibration DIR with real inputs for a model you ship.")
            warnings.simplefilter("ignore", RandomCalibrationWarning)
        quant_options = QuantOptions(method=calibration_method,
                                     report=None if report is None else
                                     (True if report == "-" else report))
    start = time.perf_counter()
    if prune_report and not prune:
        raise EdgecError("--prune-report needs --prune SPEC")
    result = compile_program(model, target=target, input_shapes=parse_input_shapes(input_shapes),
                             quantize=quantize, calibration=calibration,
                             accuracy_budget=accuracy_budget, weights=weights,
                             quant_options=quant_options, prune=prune)
    elapsed = time.perf_counter() - start
    write_atomic(out, result.data)
    prog = result.program
    consts = sum(t.nbytes for t in prog.tensors if t.is_constant)
    console.print(
        f"[green]wrote[/green] {out} ({_human(len(result.data))}) in {elapsed:.2f} s: "
        f"{len(prog.instructions)} instructions, {len(prog.tensors)} tensors, "
        f"constants {_human(consts)}, arena {_human(prog.arena_size)} "
        f"(lower bound {_human(prog.arena_lower_bound)}), "
        f"{result.fused_activations} activations fused")
    quant = result.quant
    if quant is not None:
        from edgec.quant import QuantResult

        assert isinstance(quant, QuantResult)
        kept = f"; kept in float: {', '.join(quant.excluded)}" if quant.excluded else ""
        saved = f"; fp16 weights save {_human(quant.fp16_bytes_saved)}" \
            if quant.fp16_bytes_saved else ""
        console.print(f"quantization {quant.mode}: {quant.quantized} ops in int8{kept}{saved}")
        if isinstance(report, str) and report != "-":
            console.print(f"[green]wrote[/green] {report}")
    if prune:
        from edgec.fb.Opcode import Opcode

        ops = [i.opcode for i in prog.instructions]
        console.print(f"pruning {prune}: {ops.count(Opcode.SPARSE_CONV)} sparse convs, "
                      f"{ops.count(Opcode.SPARSE_GEMM)} sparse fully connected")
    if prune_report:
        from edgec.frontend.onnx_import import import_onnx
        from edgec.prune import prune_graph
        from edgec.prune.report import build_report, render

        dense = compile_program(model, target=target, input_shapes=parse_input_shapes(input_shapes),
                                quantize=quantize, calibration=calibration,
                                accuracy_budget=accuracy_budget, weights=weights,
                                quant_options=quant_options)
        shapes = parse_input_shapes(input_shapes)
        layers = [prune_graph(import_onnx(model, shapes).graph, spec).weights
                  for spec in (None, prune)]
        console.print(render(build_report(prune, dense.program, dense.data, result.program,
                                          result.data, weights_before=layers[0],
                                          weights_after=layers[1])))


def _load_feeds(session: Any, specs: tuple[str, ...], random: bool,
                seed: int) -> dict[str, np.ndarray]:
    from edgec.validate import random_feeds

    given: dict[str, np.ndarray] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            raise EdgecError(f"--input {spec!r}: expected NAME=FILE.npy")
        try:
            given[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise EdgecError(f"--input {name}: cannot read {path}: {exc}") from None
    missing = [a for a in session.get_inputs() if a.name not in given]
    if missing and not random:
        raise EdgecError(f"no value for input {missing[0].name!r}; pass --input "
                         f"{missing[0].name}=FILE.npy or --random")
    given.update(random_feeds(missing, seed))
    return given


@cli.command("run")
@click.argument("program", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy",
              help="An input value (repeatable).")
@click.option("--random", is_flag=True, help="Fill inputs not given with seeded random values.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=1, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write all outputs to this .npz file.")
def run_cmd(program: Path, inputs: tuple[str, ...], random: bool, seed: int, threads: int,
            output: Path | None) -> None:
    """Run a .edgeb PROGRAM in the C runtime."""
    import io

    from edgec.runtime import Session
    from edgec.util import write_atomic

    if not program.exists():
        raise EdgecError(f"{program}: no such file")
    session = Session(program, threads=threads)
    feeds = _load_feeds(session, inputs, random, seed)
    start = time.perf_counter()
    results = session.run(None, feeds)
    elapsed = (time.perf_counter() - start) * 1e3
    table = Table(title=f"{program.name}: {elapsed:.2f} ms")
    for col in ("output", "shape", "dtype", "min", "max", "mean"):
        table.add_column(col)
    for arg, value in zip(session.get_outputs(), results, strict=True):
        numeric = value.astype(np.float64) if value.size else np.zeros(1)
        table.add_row(arg.name, str(list(value.shape)), str(value.dtype), f"{numeric.min():.6g}",
                      f"{numeric.max():.6g}", f"{numeric.mean():.6g}")
    console.print(table)
    if output is not None:
        buf = io.BytesIO()
        np.savez(buf, **{a.name: v for a, v in zip(session.get_outputs(), results, strict=True)})
        write_atomic(output, buf.getvalue())
        console.print(f"[green]wrote[/green] {output}")


@cli.command("inspect")
@click.argument("program", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tensors/--no-tensors", default=False, help="List every tensor.")
def inspect_cmd(program: Path, tensors: bool) -> None:
    """Show what a .edgeb PROGRAM contains and how it was made."""
    from collections import Counter

    from edgec.format.reader import read_program

    if not program.exists():
        raise EdgecError(f"{program}: no such file")
    info = read_program(program.read_bytes(), str(program))
    summary = Table(title=f"{program.name}", show_header=False)
    summary.add_row("file", f"{_human(info.file_size)} (program table "
                    f"{_human(info.table_size)}, constants {_human(info.constants_size)})")
    summary.add_row("format version", str(info.format_version))
    summary.add_row("arena", _human(info.arena_size))
    summary.add_row("instructions", str(len(info.instructions)))
    summary.add_row("tensors", str(len(info.tensors)))
    for key, value in info.metadata.items():
        summary.add_row(key, value)
    console.print(summary)
    io_table = Table(title="inputs and outputs")
    for col in ("kind", "name", "dtype", "shape"):
        io_table.add_column(col)
    for kind, indices in (("input", info.inputs), ("output", info.outputs)):
        for i in indices:
            t = info.tensors[i]
            io_table.add_row(kind, t.name, t.dtype, str(list(t.shape)))
    console.print(io_table)
    ops = Table(title="instructions by op")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, count in Counter(i.op for i in info.instructions).most_common():
        ops.add_row(op, str(count))
    console.print(ops)
    if tensors:
        tt = Table(title="tensors")
        for col in ("#", "name", "dtype", "shape", "storage", "offset", "bytes"):
            tt.add_column(col)
        for t in info.tensors:
            tt.add_row(str(t.index), t.name, t.dtype, str(list(t.shape)), t.storage,
                       str(t.offset), str(t.size))
        console.print(tt)


@cli.command("validate")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D0,D1,...")
@click.option("--rtol", default=1e-4, show_default=True,
              help="Max error allowed, relative to each output's largest magnitude.")
@click.option("--atol", default=0.0, show_default=True, help="Absolute error allowed on top.")
@click.option("--seed", default=0, show_default=True)
@click.option("--threads", default=1, show_default=True)
def validate_cmd(model: Path, input_shapes: tuple[str, ...], rtol: float, atol: float,
                 seed: int, threads: int) -> None:
    """Compile MODEL.onnx, run it in edgec and onnxruntime, compare the outputs."""
    from edgec.validate import validate

    report = validate(model, parse_input_shapes(input_shapes), seed=seed, threads=threads)
    table = Table(title=f"{model.name}: edgec vs onnxruntime")
    for col in ("output", "shape", "max abs err", "max rel err (vs max|ref|)", "verdict"):
        table.add_column(col)
    failed = False
    for row in report:
        ok = row.passes(rtol, atol)
        failed |= not ok
        table.add_row(row.name, str(list(row.shape)), f"{row.max_abs:.3g}", f"{row.max_rel:.3g}",
                      "[green]ok[/green]" if ok else "[red]FAIL[/red]")
    console.print(table)
    if failed:
        raise EdgecError(f"{model}: outputs differ from onnxruntime beyond rtol={rtol}, "
                         f"atol={atol}")


@cli.command("zoo")
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True)
def zoo_cmd(name: str | None, output: Path | None, seed: int) -> None:
    """Write a model of the built-in zoo (seeded random weights) as ONNX; no NAME lists them."""
    from edgec import zoo
    from edgec.util import write_atomic

    if name is None:
        for key in zoo.names():
            console.print(f"{key:16} {zoo.MODELS[key].description}")
        return
    if name not in zoo.MODELS:
        raise EdgecError(f"unknown zoo model {name!r}; choose from {', '.join(zoo.names())}")
    out = output or Path(f"{name}.onnx")
    write_atomic(out, zoo.build(name, seed=seed).SerializeToString())
    console.print(f"[green]wrote[/green] {out}")


@cli.command("targets")
def targets_cmd() -> None:
    """List the deployment targets."""
    from edgec.targets import all_targets

    table = Table()
    for col in ("target", "triple", "ISA features", "description"):
        table.add_column(col)
    for t in all_targets().values():
        table.add_row(t.name, t.triple, ", ".join(t.isa_features) or "-", t.description)
    console.print(table)


cli.add_command(runtime_group)
cli.add_command(bench_cmd)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one line on stderr and a non-zero exit status."""
    run: Callable[..., Any] = cli.main
    try:
        status = run(args=argv, prog_name="edgec", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgec: aborted", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"edgec: error: {_one_line(exc)}", err=True)
        return exc.exit_code
    except EdgecError as exc:
        click.echo(f"edgec: error: {_one_line(exc)}", err=True)
        return 1
    except Exception as exc:  # last resort: still one line, never a traceback
        if os.environ.get("EDGEC_DEBUG"):
            raise
        click.echo(f"edgec: internal error: {type(exc).__name__}: {_one_line(exc)} "
                   "(set EDGEC_DEBUG=1 for a traceback)", err=True)
        return 3
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
