"""Selective builds: a runtime holding only the kernels some programs use runs
them, refuses the others with EC_ERR_UNSUPPORTED's message, and is smaller."""

from __future__ import annotations

from pathlib import Path

import pytest
from cross_support import (
    BuiltRuntime,
    elementwise_model,
    exp_model,
    qemu_command,
    random_feeds,
    run_program,
)
from support import assert_close, run_ort

import edgec
from edgec.device_build import (
    build_runtime,
    kernel_table,
    program_ops,
    selected_ops,
    target_data,
    write_ops_def,
)
from edgec.errors import EdgecError
from edgec.targets import get_target

TARGET = "aarch64-linux-gnu"


def _qemu() -> list[str]:
    data = target_data(get_target(TARGET))
    return qemu_command(data["qemu"], data["qemu_sysroot"])


def test_kernel_table_reads_every_family() -> None:
    table = kernel_table()
    assert table["ADD"] == "ec_kernel_add"
    assert table["RELU"] == "ec_kernel_relu"
    assert len(table) == len(set(table.values()))


def test_selected_ops_follow_the_programs(tmp_path: Path) -> None:
    prog = tmp_path / "ew.edgeb"
    edgec.compile(elementwise_model(), output=prog)
    used = program_ops([prog])
    assert {"ADD", "MUL", "SIGMOID", "SUB", "RELU", "TANH"} <= set(used)
    chosen = selected_ops([prog], ["exp"])
    names = [op for op, _ in chosen]
    assert "EXP" in names and set(used) <= set(names)
    order = list(kernel_table())
    assert names == sorted(names, key=order.index)  # ops_all.def's order
    out = tmp_path / "sel.def"
    write_ops_def(out, chosen, "test")
    assert "EC_OP(EXP, ec_kernel_exp)" in out.read_text()


def test_selected_ops_refuse_an_op_without_kernel() -> None:
    with pytest.raises(EdgecError, match="no kernel for NOT_AN_OP"):
        selected_ops([], ["NOT_AN_OP"])


def test_selective_build_runs_its_model_and_refuses_others(aarch64_runtime: BuiltRuntime,
                                                           tmp_path: Path) -> None:
    model = elementwise_model()
    prog = tmp_path / "ew.edgeb"
    edgec.compile(model, output=prog)
    other = tmp_path / "exp.edgeb"
    edgec.compile(exp_model(), output=other)

    # Reuses the session's full build folder: only the registry is recompiled.
    sel = build_runtime(TARGET, tmp_path / "sel", [prog], build_dir=aarch64_runtime.build_dir,
                        compare_full=False)
    assert sel.ops is not None and "EXP" not in sel.ops
    assert (sel.out_dir / "ops_selected.def").is_file()

    feeds = random_feeds(model, seed=2)
    proc, ours = run_program(_qemu(), sel.binary, prog, feeds, tmp_path / "run")
    assert proc.returncode == 0, proc.stderr
    for a, b in zip(ours, run_ort(model, feeds), strict=True):
        assert_close(a, b)

    proc, _ = run_program(_qemu(), sel.binary, other, random_feeds(exp_model()),
                          tmp_path / "run2")
    assert proc.returncode == 1
    assert "is not in this runtime" in proc.stderr and "(unsupported)" in proc.stderr

    full = aarch64_runtime.result
    for name in ("libedgec.so", "edgec-run"):
        assert sel.stripped[name] < full.stripped[name], (name, sel.stripped, full.stripped)
        assert 0 < sel.loaded[name] < full.loaded[name], (name, sel.loaded, full.loaded)
        assert full.loaded[name] <= full.stripped[name]
    # The static library keeps every kernel object; the linker drops the unused ones.
    assert (sel.out_dir / "libedgec.a").stat().st_size > 0


def test_core_only_build_refuses_every_op(aarch64_runtime: BuiltRuntime,
                                          tmp_path: Path) -> None:
    prog = tmp_path / "ew.edgeb"
    edgec.compile(elementwise_model(), output=prog)
    core = build_runtime(TARGET, tmp_path / "core", ops=[], build_dir=aarch64_runtime.build_dir,
                         compare_full=False)
    assert core.ops == []
    proc, _ = run_program(_qemu(), core.binary, prog, random_feeds(elementwise_model()),
                          tmp_path / "run")
    assert proc.returncode == 1 and "is not in this runtime" in proc.stderr
    assert core.stripped["libedgec.so"] < aarch64_runtime.result.stripped["libedgec.so"]


def test_runtime_build_cli_reports_both_sizes(host_runtime: BuiltRuntime,
                                              tmp_path: Path) -> None:
    import click
    from click.testing import CliRunner

    from edgec.cli_device import runtime_group

    group = click.Group("edgec", commands={"runtime": runtime_group})
    prog = tmp_path / "ew.edgeb"
    edgec.compile(elementwise_model(), output=prog)
    result = CliRunner().invoke(group, [
        "runtime", "build", "--target", "host", "-o", str(tmp_path / "out"), "--for", str(prog),
        "--build-dir", str(host_runtime.build_dir)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "kernels:" in text and "selective" in text and "full" in text
    assert (tmp_path / "out" / "edgec-runtime.json").is_file()
    # Leave the host build folder as the fixture made it (full).
    build_runtime("host", tmp_path / "full", build_dir=host_runtime.build_dir)
