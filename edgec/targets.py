"""Deployment targets, read from the data files in targets/*.toml."""

from __future__ import annotations

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


@cache
def all_targets() -> dict[str, Target]:
    targets = {}
    for path in sorted(targets_dir().glob("*.toml")):
        data = tomllib.loads(path.read_text())
        targets[data["name"]] = Target(
            name=data["name"], triple=data["triple"], description=data["description"],
            isa_features=tuple(data.get("isa_features", [])),
            toolchain_file=data.get("toolchain_file", ""),
        )
    return targets


def get_target(name: str) -> Target:
    targets = all_targets()
    if name not in targets:
        raise EdgecError(f"unknown target {name!r}; known targets: {', '.join(sorted(targets))}")
    return targets[name]
