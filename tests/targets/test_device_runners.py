"""`edgec bench` runners: host, qemu, and adb/ssh against fake adb, ssh and scp
commands (first on PATH) that log their arguments and do the work locally."""

from __future__ import annotations

import json
import os
import platform
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from cross_support import BuiltRuntime, elementwise_model

import edgec
from edgec.cli_device import bench_cmd
from edgec.device_build import (
    parse_device,
    parse_run_json,
    run_benchmark,
    summarize_profile,
    target_for_machine,
)
from edgec.errors import EdgecError

FAKE_ADB = r"""#!/bin/sh
# Fake adb: logs its arguments, pushes by copying, runs shell commands locally.
printf 'adb' >> "$FAKE_LOG"; for a in "$@"; do printf ' %s' "$a" >> "$FAKE_LOG"; done
echo >> "$FAKE_LOG"
if [ "$1" = "-s" ]; then shift 2; fi
cmd="$1"; shift
case "$cmd" in
  push) cp "$1" "$2" ;;
  shell) exec sh -c "$*" ;;
  *) echo "fake adb: unknown command $cmd" >&2; exit 1 ;;
esac
"""

FAKE_SSH = r"""#!/bin/sh
# Fake ssh: logs its arguments, skips options and the destination, runs the rest locally.
printf 'ssh' >> "$FAKE_LOG"; for a in "$@"; do printf ' %s' "$a" >> "$FAKE_LOG"; done
echo >> "$FAKE_LOG"
while [ $# -gt 0 ]; do
  case "$1" in -o|-p|-i|-l) shift 2 ;; -*) shift ;; *) break ;; esac
done
shift
exec sh -c "$*"
"""

FAKE_SCP = r"""#!/bin/sh
# Fake scp: logs its arguments, copies the sources to the local part of HOST:DIR.
printf 'scp' >> "$FAKE_LOG"; for a in "$@"; do printf ' %s' "$a" >> "$FAKE_LOG"; done
echo >> "$FAKE_LOG"
while [ $# -gt 0 ]; do
  case "$1" in -o|-P|-i) shift 2 ;; -*) shift ;; *) break ;; esac
done
eval "last=\${$#}"
dest="${last#*:}"
while [ $# -gt 1 ]; do cp "$1" "$dest" || exit 1; shift; done
"""


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    for name, text in (("adb", FAKE_ADB), ("ssh", FAKE_SSH), ("scp", FAKE_SCP)):
        path = bindir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "fake.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    return log


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "ew model.edgeb"  # a space, to check the quoting
    edgec.compile(elementwise_model(), output=path)
    return path


def _check_result(result_json: dict[str, object], iterations: int) -> None:
    lat = result_json["latency_ms"]
    assert isinstance(lat, dict)
    assert 0 <= lat["min"] <= lat["p50"] <= lat["p90"] <= lat["max"]
    assert result_json["iterations"] == iterations
    ops = result_json["top_ops"]
    assert isinstance(ops, list) and 1 <= len(ops) <= 10
    assert {str(o["op"]).lower() for o in ops} >= {"add", "sigmoid"}
    shares = sum(o["share"] for o in ops)
    assert shares == pytest.approx(1.0, abs=1e-6)


def test_parse_device() -> None:
    assert str(parse_device("host")) == "host"
    assert parse_device("qemu:cortex-a72").arg == "cortex-a72"
    assert parse_device("adb").arg == ""
    assert parse_device("adb:emulator-5554").arg == "emulator-5554"
    assert parse_device("ssh:pi@raspberrypi.local").arg == "pi@raspberrypi.local"
    for bad in ("ssh", "usb", "host:x", ""):
        with pytest.raises(EdgecError, match="--device"):
            parse_device(bad)


def test_target_for_machine() -> None:
    assert target_for_machine("aarch64\n") == "aarch64-linux-gnu"
    assert target_for_machine("armv7l") == "armv7a-linux-gnueabihf"
    assert target_for_machine(platform.machine()) == "host"
    with pytest.raises(EdgecError, match="no target"):
        target_for_machine("mips")


def test_parse_run_json_and_profile() -> None:
    raw = parse_run_json('noise\n{"latency_ms": {"min": 1}, "profile": []}\n')
    assert raw["latency_ms"] == {"min": 1}
    with pytest.raises(EdgecError, match="no JSON"):
        parse_run_json("best of 1 runs: 1.0 ms\n")
    rows = summarize_profile([{"op": "conv", "mean_ms": 3.0}, {"op": "add", "mean_ms": 1.0},
                              {"op": "conv", "mean_ms": 4.0}])
    assert [(r.op, r.count) for r in rows] == [("conv", 2), ("add", 1)]
    assert rows[0].ms == pytest.approx(7.0) and rows[0].share == pytest.approx(0.875)


def test_host_runner(host_runtime: BuiltRuntime, program: Path) -> None:
    result = run_benchmark(program, "host", iterations=7, warmup=2,
                           runtime_dir=host_runtime.out_dir)
    _check_result(result.to_json(), 7)
    assert result.warmup == 2 and result.peak_rss_kb > 0 and result.instructions >= 6


def test_adb_runner_with_fake_adb(host_runtime: BuiltRuntime, program: Path, tmp_path: Path,
                                  fake_tools: Path) -> None:
    remote = tmp_path / "device" / "data local tmp"
    result = run_benchmark(program, "adb:emulator-5554", iterations=4, warmup=1,
                           threads=2, runtime_dir=host_runtime.out_dir, remote_dir=str(remote))
    _check_result(result.to_json(), 4)
    assert result.threads == 2
    log = fake_tools.read_text().splitlines()
    assert all(line.startswith("adb -s emulator-5554 ") for line in log), log
    pushes = [line for line in log if " push " in line]
    assert len(pushes) == 2
    assert pushes[0].endswith(f"{remote}/edgec-run")
    assert pushes[1].endswith(f"{remote}/{program.name}")
    assert (remote / "edgec-run").is_file() and (remote / program.name).is_file()
    run_line = log[-1]
    assert " shell " in run_line and "--json" in run_line and "--iterations 4" in run_line


def test_adb_runner_reports_a_failing_device(host_runtime: BuiltRuntime, program: Path,
                                             tmp_path: Path, fake_tools: Path) -> None:
    broken = tmp_path / "broken.edgeb"
    broken.write_bytes(program.read_bytes()[:-40])
    with pytest.raises(EdgecError, match=r"edgec-run on adb failed \(exit 1\)"):
        run_benchmark(broken, "adb", iterations=1, warmup=0,
                      runtime_dir=host_runtime.out_dir, remote_dir=str(tmp_path / "r"))
    assert fake_tools.read_text().startswith("adb shell")  # no -s without a serial


def test_ssh_runner_with_fake_ssh(host_runtime: BuiltRuntime, program: Path, tmp_path: Path,
                                  fake_tools: Path) -> None:
    remote = tmp_path / "board"
    result = run_benchmark(program, "ssh:pi@board.local", iterations=3, warmup=1,
                           runtime_dir=host_runtime.out_dir, remote_dir=str(remote))
    _check_result(result.to_json(), 3)
    log = fake_tools.read_text().splitlines()
    assert [line.split()[0] for line in log] == ["ssh", "scp", "ssh"]
    assert "-o BatchMode=yes pi@board.local" in log[0]
    assert log[1].endswith(f"pi@board.local:{remote}/")
    assert str(host_runtime.binary) in log[1] and str(program) in log[1]
    assert (remote / "edgec-run").is_file() and (remote / program.name).is_file()
    assert "--json" in log[2]


def test_ssh_runner_detects_the_target(program: Path, tmp_path: Path, fake_tools: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from edgec import device_build

    seen: list[str] = []

    def fake_resolve(runner: device_build.Runner, runtime_dir: Path | None,
                     notify: object = None) -> Path:
        seen.append(runner.target())
        raise EdgecError("stop here")

    monkeypatch.setattr(device_build, "resolve_binary", fake_resolve)
    with pytest.raises(EdgecError, match="stop here"):
        run_benchmark(program, "ssh:board", remote_dir=str(tmp_path / "r"))
    assert seen == ["host"]  # the fake ssh ran `uname -m` on this machine
    assert "uname -m" in fake_tools.read_text()


def test_bench_cli_json_under_qemu(aarch64_runtime: BuiltRuntime, program: Path) -> None:
    group = click.Group("edgec", commands={"bench": bench_cmd})
    result = CliRunner().invoke(group, [
        "bench", str(program), "--device", "qemu:cortex-a72", "--iterations", "3",
        "--warmup", "1", "--json", "--runtime-dir", str(aarch64_runtime.out_dir)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    _check_result(data, 3)
    assert data["device"] == "qemu:cortex-a72"


def test_bench_cli_text(host_runtime: BuiltRuntime, program: Path) -> None:
    group = click.Group("edgec", commands={"bench": bench_cmd})
    result = CliRunner().invoke(group, [
        "bench", str(program), "--iterations", "3", "--warmup", "0",
        "--runtime-dir", str(host_runtime.out_dir)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for word in ("latency ms: min", "p50", "p90", "peak memory", "top ops"):
        assert word in text


def test_bench_missing_runtime_dir_is_one_clear_error(program: Path, tmp_path: Path) -> None:
    with pytest.raises(EdgecError, match="no edgec-run there"):
        run_benchmark(program, "host", runtime_dir=tmp_path)
