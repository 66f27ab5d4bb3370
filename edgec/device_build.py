"""Building runtime_c for a deployment target, and running programs on devices.

Building: `build_runtime` configures runtime_c with CMake (Ninja) for a target of
targets/*.toml (cross-compiling through the target's CMake toolchain file), builds
it in a build folder, and copies libedgec.a, libedgec.so, include/edgec/edgec.h
and edgec-run into an output folder. Given programs (.edgeb files) it makes a
selective build: a kernel list (.def of EC_OP lines) holding only the opcodes
those programs use, handed to CMake as EDGEC_OPS_DEF; the kernels nobody
references are then dropped by the linker (-ffunction-sections, --gc-sections).

Running: `run_benchmark` runs edgec-run (warm-up, timed runs, --json) on a
device: `host`, `qemu[:CPU]` (a cross-built binary under qemu user mode),
`adb[:SERIAL]` (pushed to /data/local/tmp) or `ssh:[USER@]HOST` (scp + ssh),
and summarizes latency, peak memory and the per-op profile.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import struct
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgec.errors import EdgecError
from edgec.resources import SOURCE_ROOT, find_installed
from edgec.targets import Target, get_target, targets_dir
from edgec.util import write_atomic

MANIFEST = "edgec-runtime.json"
BUILD_LOG = "edgec-runtime-build.log"
LIBRARY_NAMES = ("libedgec.a", "libedgec.so", "libedgec.dylib")
TOOL_NAMES = ("edgec-run",)

# ---------------------------------------------------------------------------
# Targets and sources


def target_data(target: Target) -> dict[str, Any]:
    """All keys of the target's .toml, including those Target does not carry
    (qemu, qemu_sysroot, qemu_cpus, cmake_system_processor, cmake_defines, ...)."""
    for path in sorted(targets_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        if data.get("name") == target.name:
            return data
    raise EdgecError(f"target {target.name!r}: its .toml file is gone")


def toolchain_path(target: Target) -> Path | None:
    """The target's CMake toolchain file (relative paths are from targets/); None: native."""
    if not target.toolchain_file:
        return None
    path = Path(target.toolchain_file)
    if not path.is_absolute():
        path = targets_dir() / path
    if not path.is_file():
        raise EdgecError(f"target {target.name!r}: toolchain file {path} not found")
    return path


def runtime_source_dir() -> Path:
    """runtime_c/ of the checkout, else the copy a wheel installs in edgec/runtime_c."""
    for candidate in (SOURCE_ROOT / "runtime_c", find_installed("runtime_c")):
        if candidate is not None and (candidate / "CMakeLists.txt").is_file():
            return candidate
    raise EdgecError("runtime_c sources not found (neither in the checkout nor installed "
                     "in edgec/runtime_c); reinstall edgec")


_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_EC_OP = re.compile(r"\bEC_OP\(\s*(\w+)\s*,\s*(\w+)\s*\)")
_INCLUDE = re.compile(r'#\s*include\s+"([^"]+)"')


def kernel_table(source_dir: Path | None = None) -> dict[str, str]:
    """Opcode name (the EC_OP suffix, as edgec.fb.Opcode spells it) -> kernel symbol,
    for every kernel of the runtime, read from src/kernels/ops_all.def and the
    family files it includes, in their order."""
    src = (source_dir or runtime_source_dir()) / "src"
    table: dict[str, str] = {}

    def read(path: Path, depth: int) -> None:
        if depth > 8:
            raise EdgecError(f"{path}: .def includes nest too deep")
        try:
            text = _COMMENT.sub(" ", path.read_text())
        except OSError as exc:
            raise EdgecError(f"kernel list {path}: {exc.strerror}") from None
        for line in text.splitlines():
            inc = _INCLUDE.search(line)
            if inc:
                read(src / inc.group(1), depth + 1)
                continue
            for op, sym in _EC_OP.findall(line):
                table.setdefault(op, sym)

    read(src / "kernels" / "ops_all.def", 0)
    return table


def program_ops(programs: Iterable[Path]) -> dict[str, list[str]]:
    """Opcode name -> the programs that use it."""
    from edgec.format.reader import read_program

    used: dict[str, list[str]] = {}
    for path in programs:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise EdgecError(f"{path}: {exc.strerror}") from None
        for op in sorted({ins.op for ins in read_program(data, str(path)).instructions}):
            used.setdefault(op, []).append(Path(path).name)
    return used


def selected_ops(programs: Sequence[Path] = (), ops: Sequence[str] = (),
                 source_dir: Path | None = None) -> list[tuple[str, str]]:
    """(opcode, symbol) of the kernels a selective build keeps: those the programs
    use plus ops, in ops_all.def's order. Refuses an op the runtime has no kernel for."""
    table = kernel_table(source_dir)
    wanted: dict[str, list[str]] = program_ops(programs)
    for op in ops:
        wanted.setdefault(op.strip().upper(), []).append("--ops")
    missing = [f"{op} (used by {', '.join(users)})" for op, users in wanted.items()
               if op not in table]
    if missing:
        raise EdgecError(f"runtime_c has no kernel for {'; '.join(missing)}; "
                         f"it has: {', '.join(table)}")
    return [(op, sym) for op, sym in table.items() if op in wanted]


def write_ops_def(path: Path, ops: Sequence[tuple[str, str]], note: str = "") -> None:
    lines = ["/* Generated by edgec runtime build: the kernels of a selective build."]
    if note:
        lines.append(f" * {note}")
    lines.append(" */")
    lines += [f"EC_OP({op}, {sym})" for op, sym in ops]
    write_atomic(path, ("\n".join(lines) + "\n").encode())


# ---------------------------------------------------------------------------
# Tools


def find_cmake() -> str:
    found = shutil.which("cmake")
    if found:
        return found
    try:
        import cmake  # type: ignore[import-not-found,import-untyped,unused-ignore]

        candidate = Path(cmake.CMAKE_BIN_DIR) / "cmake"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    raise EdgecError("cmake not found: install it (apt-get install cmake, or pip install cmake)")


def find_ninja() -> str | None:
    found = shutil.which("ninja")
    if found:
        return found
    try:
        import ninja  # type: ignore[import-not-found,import-untyped,unused-ignore]

        candidate = Path(ninja.BIN_DIR) / "ninja"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return None


def _cmake_error(log: str) -> str:
    """The first CMake or compiler error of a build log, on one line."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("CMake Error"):
            msg: list[str] = []
            for follow in lines[i + 1:]:
                if not follow.strip():
                    if msg:
                        break
                    continue
                if not follow.startswith(" "):
                    break
                msg.append(follow.strip())
            return " ".join(msg) or line
    for line in lines:
        if "error:" in line or "Error " in line or "undefined reference" in line:
            return line.strip()
    return " | ".join(line.strip() for line in lines[-3:] if line.strip()) or "no output"


def _cache_value(build_dir: Path, key: str) -> str:
    try:
        for line in (build_dir / "CMakeCache.txt").read_text().splitlines():
            name, _, value = line.partition("=")
            if name.split(":")[0] == key:
                return value
    except OSError:
        pass
    return ""


def stripped_size(path: Path, strip: str | None) -> int | None:
    """Size of path after strip --strip-all (-x for Mach-O); None without a strip tool."""
    if not strip:
        return None
    with tempfile.TemporaryDirectory(prefix="edgec-strip-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        flags = ["-x"] if path.suffix == ".dylib" else ["--strip-all"]
        proc = subprocess.run([strip, *flags, str(copy)], capture_output=True, check=False)
        if proc.returncode != 0:
            return None
        return copy.stat().st_size


def loaded_size(path: Path) -> int | None:
    """Bytes an ELF file maps from itself (the p_filesz of its PT_LOAD segments):
    code and data without the padding that page alignment adds to the file
    (up to 64 KiB per segment with GNU ld's AArch64 default). None: not ELF."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < 52 or data[:4] != b"\x7fELF" or data[4] not in (1, 2):
        return None
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    try:
        if is64:
            phoff = struct.unpack_from(end + "Q", data, 0x20)[0]
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
        else:
            phoff = struct.unpack_from(end + "I", data, 0x1C)[0]
            phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
        total = 0
        for i in range(phnum):
            off = phoff + i * phentsize
            if struct.unpack_from(end + "I", data, off)[0] != 1:  # PT_LOAD
                continue
            fmt, at = (end + "Q", off + 0x20) if is64 else (end + "I", off + 0x10)
            total += struct.unpack_from(fmt, data, at)[0]
    except struct.error:
        return None
    return total


# ---------------------------------------------------------------------------
# Building


@dataclass
class RuntimeBuild:
    """What `build_runtime` produced in out_dir."""

    target: str
    out_dir: Path
    files: dict[str, Path]
    build_type: str
    ops: list[str] | None  # None: every kernel (full build)
    sizes: dict[str, int]  # file name -> bytes as built
    stripped: dict[str, int]  # file name -> bytes after strip (libedgec.so, edgec-run)
    loaded: dict[str, int] = field(default_factory=dict)  # code + data (see loaded_size)
    full_stripped: dict[str, int] = field(default_factory=dict)  # selective: the full build's
    full_loaded: dict[str, int] = field(default_factory=dict)

    @property
    def binary(self) -> Path:
        return self.files["edgec-run"]

    def manifest(self) -> dict[str, Any]:
        return {"target": self.target, "build_type": self.build_type,
                "ops": self.ops, "files": sorted(self.files), "sizes": self.sizes,
                "stripped_sizes": self.stripped, "code_data_sizes": self.loaded,
                "full_build_stripped_sizes": self.full_stripped,
                "full_build_code_data_sizes": self.full_loaded}


def _install(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(dst, src.read_bytes())
    os.chmod(dst, 0o755 if os.access(src, os.X_OK) and src.suffix != ".a" else 0o644)


class _Builder:
    def __init__(self, target: Target, source: Path, build_dir: Path, build_type: str,
                 cmake_args: Sequence[str], jobs: int | None, log_path: Path) -> None:
        self.target = target
        self.source = source
        self.build_dir = build_dir
        self.build_type = build_type
        self.cmake_args = list(cmake_args)
        self.jobs = jobs
        self.log_path = log_path
        self.log: list[str] = []

    def _run(self, cmd: list[str], what: str) -> None:
        self.log.append("$ " + shlex.join(cmd))
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace", check=False)
        self.log.append(proc.stdout)
        if proc.returncode != 0:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self.log_path, "\n".join(self.log).encode())
            raise EdgecError(f"{what} of the runtime for {self.target.name} failed: "
                             f"{_cmake_error(proc.stdout)} (full log: {self.log_path})")

    def build(self, ops_def: Path | None) -> None:
        cmake = find_cmake()
        data = target_data(self.target)
        cmd = [cmake, "-S", str(self.source), "-B", str(self.build_dir),
               f"-DCMAKE_BUILD_TYPE={self.build_type}", "-DEDGEC_TOOLS=ON",
               f"-DEDGEC_OPS_DEF={ops_def or ''}"]
        ninja = find_ninja()
        if ninja:
            cmd += ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"]
        toolchain = toolchain_path(self.target)
        if toolchain is not None:
            cmd.append(f"-DCMAKE_TOOLCHAIN_FILE={toolchain}")
        for key, value in dict(data.get("cmake_defines", {})).items():
            cmd.append(f"-D{key}={value}")
        cmd += self.cmake_args
        self._run(cmd, "configuring")
        build = [cmake, "--build", str(self.build_dir)]
        if self.jobs:
            build += ["--parallel", str(self.jobs)]
        self._run(build, "building")

    def artifacts(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for name in (*LIBRARY_NAMES, *TOOL_NAMES):
            path = self.build_dir / name
            if path.is_file():
                found[name] = path
        header = self.source / "include" / "edgec" / "edgec.h"
        found["include/edgec/edgec.h"] = header
        if "edgec-run" not in found:
            raise EdgecError(f"the build for {self.target.name} made no edgec-run "
                             f"(see {self.build_dir})")
        return found

    @staticmethod
    def loaded_sizes(files: dict[str, Path]) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for name in ("libedgec.so", "edgec-run"):
            size = loaded_size(files[name]) if name in files else None
            if size is not None:
                sizes[name] = size
        return sizes

    def stripped_sizes(self, files: dict[str, Path]) -> dict[str, int]:
        strip = _cache_value(self.build_dir, "CMAKE_STRIP") or None
        sizes: dict[str, int] = {}
        for name in ("libedgec.so", "libedgec.dylib", "edgec-run"):
            if name in files:
                size = stripped_size(files[name], strip)
                if size is not None:
                    sizes[name] = size
        return sizes


def build_runtime(target: str, out_dir: Path, programs: Sequence[Path] = (),
                  ops: Sequence[str] | None = None, *, build_type: str = "Release",
                  build_dir: Path | None = None, cmake_args: Sequence[str] = (),
                  jobs: int | None = None, strip: bool = False,
                  compare_full: bool = True) -> RuntimeBuild:
    """Builds runtime_c for target into out_dir.

    programs and/or ops make a selective build (ops=[] with no programs: the core
    alone, no kernel). build_dir keeps the CMake build folder for the next call
    (incremental: a selective build after a full one recompiles only the
    registry); without it a temporary folder is used. With compare_full, a
    selective build first builds the full runtime to report both sizes.
    """
    tgt = get_target(target)
    source = runtime_source_dir()
    selective = bool(programs) or ops is not None
    chosen = selected_ops(programs, ops or (), source) if selective else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edgec-runtime-") as tmp:
        bdir = Path(build_dir) if build_dir is not None else Path(tmp) / "build"
        bdir.mkdir(parents=True, exist_ok=True)
        builder = _Builder(tgt, source, bdir, build_type, cmake_args, jobs,
                           out_dir / BUILD_LOG)
        full_stripped: dict[str, int] = {}
        full_loaded: dict[str, int] = {}
        if chosen is not None and compare_full:
            builder.build(None)
            full_stripped = builder.stripped_sizes(builder.artifacts())
            full_loaded = builder.loaded_sizes(builder.artifacts())
        ops_def = None
        if chosen is not None:
            ops_def = bdir / "edgec_ops_selected.def"
            names = ", ".join(Path(p).name for p in programs) or "explicit --ops"
            write_ops_def(ops_def, chosen, f"for {names}")
        builder.build(ops_def)
        built = builder.artifacts()
        stripped = builder.stripped_sizes(built)
        loaded = builder.loaded_sizes(built)
        files: dict[str, Path] = {}
        sizes: dict[str, int] = {}
        for name, path in built.items():
            dst = out_dir / name
            _install(path, dst)
            if strip and name in stripped:
                tool = _cache_value(bdir, "CMAKE_STRIP")
                flags = ["-x"] if name.endswith(".dylib") else ["--strip-all"]
                subprocess.run([tool, *flags, str(dst)], check=True, capture_output=True)
            files[name] = dst
            sizes[name] = path.stat().st_size
        if ops_def is not None:
            _install(ops_def, out_dir / "ops_selected.def")
        else:
            (out_dir / "ops_selected.def").unlink(missing_ok=True)  # from an earlier build
    result = RuntimeBuild(target=tgt.name, out_dir=out_dir, files=files, build_type=build_type,
                          ops=[op for op, _ in chosen] if chosen is not None else None,
                          sizes=sizes, stripped=stripped, loaded=loaded,
                          full_stripped=full_stripped, full_loaded=full_loaded)
    write_atomic(out_dir / MANIFEST, (json.dumps(result.manifest(), indent=2) + "\n").encode())
    os.chmod(out_dir / MANIFEST, 0o644)
    (out_dir / BUILD_LOG).unlink(missing_ok=True)
    return result


# ---------------------------------------------------------------------------
# Cached builds for the bench runners


def cache_dir() -> Path:
    base = os.environ.get("EDGEC_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgec"


def _source_digest(target: Target) -> str:
    h = hashlib.sha256()
    source = runtime_source_dir()
    for path in sorted(source.rglob("*")):
        if path.is_file() and path.suffix in {".c", ".h", ".def", ".txt", ".cmake"}:
            h.update(str(path.relative_to(source)).encode())
            h.update(path.read_bytes())
    h.update(json.dumps(target_data(target), sort_keys=True).encode())
    toolchain = toolchain_path(target)
    if toolchain is not None:
        h.update(toolchain.read_bytes())
    return h.hexdigest()[:16]


def cached_runtime(target: str, notify: Callable[[str], None] | None = None) -> Path:
    """A full Release build of the runtime for target, built once per source state
    into the cache folder; returns the folder holding edgec-run."""
    tgt = get_target(target)
    out = cache_dir() / "runtime" / f"{tgt.name}-{_source_digest(tgt)}"
    if not (out / MANIFEST).exists():
        if notify is not None:
            notify(f"building the runtime for {tgt.name} (once; cached in {out})")
        build_runtime(tgt.name, out)
    return out


# ---------------------------------------------------------------------------
# Running on devices


@dataclass(frozen=True)
class DeviceSpec:
    kind: str  # host | qemu | adb | ssh
    arg: str = ""  # qemu: CPU model; adb: serial; ssh: [USER@]HOST

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


def parse_device(text: str) -> DeviceSpec:
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind == "host" and not arg:
        return DeviceSpec("host")
    if kind in ("qemu", "adb"):
        return DeviceSpec(kind, arg)
    if kind == "ssh" and arg:
        return DeviceSpec("ssh", arg)
    raise EdgecError(f"--device {text!r}: expected host, qemu[:CPU], adb[:SERIAL] or "
                     "ssh:[USER@]HOST")


_MACHINE_TARGETS = {
    "aarch64": "aarch64-linux-gnu", "arm64": "aarch64-linux-gnu",
    "armv7l": "armv7a-linux-gnueabihf", "armv8l": "armv7a-linux-gnueabihf",
}


def target_for_machine(machine: str) -> str:
    """The target whose binaries run on a Linux machine of this `uname -m`."""
    machine = machine.strip()
    if machine in _MACHINE_TARGETS:
        return _MACHINE_TARGETS[machine]
    if machine == platform.machine():
        return "host"
    raise EdgecError(f"no target for a machine of type {machine!r}; pass --target or "
                     "--runtime-dir")


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              timeout=timeout, check=False)
    except FileNotFoundError:
        raise EdgecError(f"{cmd[0]}: command not found ({what})") from None
    except subprocess.TimeoutExpired:
        raise EdgecError(f"{what}: no answer after {timeout:.0f} s: {shlex.join(cmd)}") from None
    return proc


def _checked(cmd: list[str], timeout: float, what: str) -> str:
    proc = _run(cmd, timeout, what)
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise EdgecError(f"{what} failed (exit {proc.returncode}): {detail}")
    return proc.stdout


Completed = subprocess.CompletedProcess[str]


class Runner:
    """Runs edgec-run with a program on one device."""

    default_target = "host"

    def __init__(self, spec: DeviceSpec, remote_dir: str | None = None,
                 timeout: float = 600.0, target: str | None = None) -> None:
        self.spec = spec
        self.remote_dir = remote_dir
        self.timeout = timeout
        self._target = target

    def target(self) -> str:
        """The target whose build of edgec-run this device runs."""
        return self._target or self.default_target

    def run(self, binary: Path, program: Path, args: Sequence[str]) -> Completed:
        raise NotImplementedError


class HostRunner(Runner):
    def run(self, binary: Path, program: Path, args: Sequence[str]) -> Completed:
        return _run([str(binary), str(program), *args], self.timeout, "edgec-run")


class QemuRunner(Runner):
    default_target = "aarch64-linux-gnu"

    def command(self, binary: Path) -> list[str]:
        data = target_data(get_target(self.target()))
        qemu = data.get("qemu")
        if not qemu:
            raise EdgecError(f"target {self.target()!r} has no qemu emulator in its .toml")
        if shutil.which(qemu) is None:
            raise EdgecError(f"{qemu} not found: install Debian's qemu-user "
                             "(apt-get install qemu-user)")
        cmd = [qemu]
        if data.get("qemu_sysroot"):
            cmd += ["-L", str(data["qemu_sysroot"])]
        if self.spec.arg:
            cmd += ["-cpu", self.spec.arg]
        return [*cmd, str(binary)]

    def run(self, binary: Path, program: Path, args: Sequence[str]) -> Completed:
        return _run([*self.command(binary), str(program), *args], self.timeout, "qemu")


class AdbRunner(Runner):
    """`adb [-s SERIAL] push` the binary and the program, then `adb shell` it."""

    default_target = "android-arm64-v8a"

    def adb(self) -> list[str]:
        return ["adb", "-s", self.spec.arg] if self.spec.arg else ["adb"]

    def run(self, binary: Path, program: Path, args: Sequence[str]) -> Completed:
        rdir = self.remote_dir or "/data/local/tmp/edgec"
        adb = self.adb()
        remote_bin, remote_prog = f"{rdir}/edgec-run", f"{rdir}/{program.name}"
        _checked([*adb, "shell", shlex.join(["mkdir", "-p", rdir])], self.timeout, "adb shell")
        _checked([*adb, "push", str(binary), remote_bin], self.timeout, "adb push")
        _checked([*adb, "push", str(program), remote_prog], self.timeout, "adb push")
        _checked([*adb, "shell", shlex.join(["chmod", "755", remote_bin])], self.timeout,
                 "adb shell")
        return _run([*adb, "shell", shlex.join([remote_bin, remote_prog, *args])],
                    self.timeout, "adb shell")


class SshRunner(Runner):
    """`scp` the binary and the program to [USER@]HOST, then `ssh` it."""

    SSH_OPTIONS = ("-o", "BatchMode=yes")

    def ssh(self, command: str, what: str) -> str:
        return _checked(["ssh", *self.SSH_OPTIONS, self.spec.arg, command], self.timeout, what)

    def target(self) -> str:
        if self._target is None:
            self._target = target_for_machine(self.ssh("uname -m", "ssh uname -m"))
        return self._target

    def run(self, binary: Path, program: Path, args: Sequence[str]) -> Completed:
        rdir = self.remote_dir or "/tmp/edgec-bench"
        self.ssh(shlex.join(["mkdir", "-p", rdir]), "ssh mkdir")
        _checked(["scp", "-q", *self.SSH_OPTIONS, str(binary), str(program),
                  f"{self.spec.arg}:{rdir}/"], self.timeout, "scp")
        remote = [f"{rdir}/{binary.name}", f"{rdir}/{program.name}", *args]
        return _run(["ssh", *self.SSH_OPTIONS, self.spec.arg, shlex.join(remote)],
                    self.timeout, "ssh")


def make_runner(spec: DeviceSpec, target: str | None = None, remote_dir: str | None = None,
                timeout: float = 600.0) -> Runner:
    kinds: dict[str, type[Runner]] = {"host": HostRunner, "qemu": QemuRunner,
                                      "adb": AdbRunner, "ssh": SshRunner}
    return kinds[spec.kind](spec, remote_dir, timeout, target)


def resolve_binary(runner: Runner, runtime_dir: Path | None,
                   notify: Callable[[str], None] | None = None) -> Path:
    """The edgec-run to use: in runtime_dir, else the installed one (host), else a
    cached build for the runner's target."""
    if runtime_dir is not None:
        path = Path(runtime_dir) / "edgec-run"
        if not path.is_file():
            raise EdgecError(f"{runtime_dir}: no edgec-run there (make one with "
                             "edgec runtime build --target T -o DIR)")
        return path
    target = runner.target()
    if target == "host":
        installed = find_installed("_lib/edgec-run")
        if installed is None:
            raise EdgecError("edgec-run is not installed beside libedgec.so; reinstall edgec "
                             "or pass --runtime-dir")
        return installed
    try:
        return cached_runtime(target, notify) / "edgec-run"
    except EdgecError as exc:
        raise EdgecError(f"{exc}; or pass --runtime-dir with an `edgec runtime build` output "
                         f"for the device") from None


@dataclass(frozen=True)
class OpProfile:
    op: str
    count: int  # instructions of this op
    ms: float  # mean time per run, all its instructions together
    share: float  # of the summed instruction times, 0..1


@dataclass
class BenchResult:
    device: str
    program: str
    binary: str
    threads: int
    warmup: int
    iterations: int
    latency_ms: dict[str, float]
    load_ms: float
    arena_bytes: int
    peak_rss_kb: int
    ops: list[OpProfile]
    instructions: int

    def to_json(self, top: int = 10) -> dict[str, Any]:
        return {"device": self.device, "program": self.program, "binary": self.binary,
                "threads": self.threads, "warmup": self.warmup, "iterations": self.iterations,
                "latency_ms": self.latency_ms, "load_ms": self.load_ms,
                "arena_bytes": self.arena_bytes, "peak_rss_kb": self.peak_rss_kb,
                "instructions": self.instructions,
                "top_ops": [{"op": p.op, "count": p.count, "ms": p.ms, "share": p.share}
                            for p in self.ops[:top]]}


def parse_run_json(stdout: str) -> dict[str, Any]:
    """The JSON object edgec-run --json printed (the last line that is one)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict) and "latency_ms" in value:
                return value
    tail = " ".join(stdout.split())[-300:]
    raise EdgecError(f"edgec-run printed no JSON result (an edgec-run older than --json?): "
                     f"{tail or 'no output'}")


def summarize_profile(profile: Sequence[dict[str, Any]]) -> list[OpProfile]:
    """Per-instruction means -> per-op totals, largest first."""
    totals: dict[str, list[float]] = {}
    for entry in profile:
        slot = totals.setdefault(str(entry["op"]), [0, 0.0])
        slot[0] += 1
        slot[1] += float(entry["mean_ms"])
    whole = sum(ms for _, ms in totals.values()) or 1.0
    rows = [OpProfile(op, int(n), ms, ms / whole) for op, (n, ms) in totals.items()]
    return sorted(rows, key=lambda r: (-r.ms, r.op))


def run_benchmark(program: Path, device: str = "host", *, iterations: int = 20,
                  warmup: int = 5, threads: int = 1, runtime_dir: Path | None = None,
                  target: str | None = None, remote_dir: str | None = None,
                  timeout: float = 600.0,
                  notify: Callable[[str], None] | None = None) -> BenchResult:
    """Runs program on device with edgec-run: warmup discarded runs, then iterations
    timed ones, with the per-instruction profile. notify gets progress messages."""
    program = Path(program)
    if not program.is_file():
        raise EdgecError(f"{program}: no such file")
    if iterations < 1 or warmup < 0 or threads < 0:
        raise EdgecError("--iterations must be >= 1, --warmup >= 0, --threads >= 0")
    spec = parse_device(device)
    runner = make_runner(spec, target, remote_dir, timeout)
    binary = resolve_binary(runner, runtime_dir, notify)
    args = ["--warmup", str(warmup), "--iterations", str(iterations), "--threads", str(threads),
            "--profile", "--json"]
    proc = runner.run(binary, program, args)
    if proc.returncode != 0:
        detail = " ".join((proc.stderr or proc.stdout).split())[-400:]
        raise EdgecError(f"edgec-run on {spec} failed (exit {proc.returncode}): "
                         f"{detail or 'no output'}")
    raw = parse_run_json(proc.stdout)
    profile = raw.get("profile", [])
    return BenchResult(
        device=str(spec), program=str(program), binary=str(binary),
        threads=int(raw.get("threads", threads)), warmup=int(raw.get("warmup", warmup)),
        iterations=int(raw["iterations"]),
        latency_ms={k: float(v) for k, v in raw["latency_ms"].items()},
        load_ms=float(raw.get("load_ms", 0.0)), arena_bytes=int(raw.get("arena_bytes", 0)),
        peak_rss_kb=int(raw.get("peak_rss_kb", -1)), ops=summarize_profile(profile),
        instructions=len(profile))


__all__ = [
    "BenchResult", "DeviceSpec", "OpProfile", "RuntimeBuild", "build_runtime",
    "cached_runtime", "kernel_table", "parse_device", "program_ops", "run_benchmark",
    "runtime_source_dir", "selected_ops", "target_data", "toolchain_path",
]

