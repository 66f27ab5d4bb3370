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
