"""Small helpers shared by the CLI and the compiler."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edgec.errors import EdgecError


def write_atomic(path: Path, data: bytes) -> None:
    """Writes data to path through a temporary file and a rename, so a reader
    never sees half a file and a failure leaves no partial output."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise EdgecError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_input_shapes(specs: tuple[str, ...]) -> dict[str, list[int]]:
    """--input-shape NAME=D0,D1,... options as {name: dims}."""
    shapes: dict[str, list[int]] = {}
    for spec in specs:
        name, sep, dims = spec.rpartition("=")
        try:
            values = [int(d) for d in dims.split(",")] if sep and name else None
        except ValueError:
            values = None
        if not values or any(v <= 0 for v in values):
            raise EdgecError(f"--input-shape {spec!r}: expected NAME=D0,D1,... with positive dims")
        shapes[name] = values
    return shapes
