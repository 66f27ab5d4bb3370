"""Finds files that the build installs beside the Python package.

A wheel puts the runtime library in edgec/_lib next to the modules; an
editable install keeps the modules in the checkout and the built files in
site-packages/edgec. Both are searched, the package directory first.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_ROOT = PACKAGE_DIR.parent


def find_installed(relative: str) -> Path | None:
    candidates = [PACKAGE_DIR / relative]
    candidates += [Path(entry) / "edgec" / relative for entry in sys.path if entry]
    for path in candidates:
        if path.exists():
            return path
    return None
