"""Deployment targets, read from the data files in targets/*.toml."""

from __future__ import annotations

import platform
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from edgec.errors import EdgecError
from edgec.resources import SOURCE_ROOT, find_installed


@dataclass(frozen=True)
class Target:
    name: str
    triple: str
    description: str
    isa_features: tuple[str, ...]
    toolchain_file: str


def targets_dir() -> Path:
    """targets/ of the checkout, else the copy a wheel installs in edgec/targets."""
    if (SOURCE_ROOT / "targets").is_dir():
        return SOURCE_ROOT / "targets"
    installed = find_installed("targets")
    if installed is None:
        raise EdgecError("target definitions (targets/*.toml) not found")
    return installed


# /proc/cpuinfo flag -> the feature name the compiler's choices look for
_CPU_FLAGS = {"avx2": "avx2", "fma": "fma", "avx512f": "avx512f",
              "avx512_vnni": "avx512_vnni", "asimd": "neon", "asimddp": "dotprod"}


@cache
def host_isa_features() -> tuple[str, ...]:
    """The features of the CPU running the compiler: the "host" target's
    (triple "native") choices follow the machine, e.g. 8-bit int8 weights
    where VNNI or NEON multiply them without saturating."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                flags.update(value.split())
    except OSError:
        pass
    if platform.machine().lower() in ("aarch64", "arm64"):
        flags.add("asimd")  # Advanced SIMD is part of AArch64 (macOS has no cpuinfo)
    return tuple(sorted({name for flag, name in _CPU_FLAGS.items() if flag in flags}))


@cache
def all_targets() -> dict[str, Target]:
    targets = {}
    for path in sorted(targets_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        targets[data["name"]] = Target(
            name=data["name"], triple=data["triple"], description=data["description"],
            isa_features=(host_isa_features() if data["triple"] == "native"
                          else tuple(data.get("isa_features", []))),
            toolchain_file=data.get("toolchain_file", ""),
        )
    return targets


def get_target(name: str) -> Target:
    targets = all_targets()
    if name not in targets:
        raise EdgecError(f"unknown target {name!r}; known targets: {', '.join(sorted(targets))}")
    return targets[name]
