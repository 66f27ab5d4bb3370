"""edgec: compile ONNX models to .edgeb programs and run them in a small C runtime."""

__version__ = "0.1.0"

from edgec.compiler import compile  # noqa: E402,A004
from edgec.errors import EdgecError  # noqa: E402
from edgec.runtime import Session  # noqa: E402

__all__ = ["EdgecError", "Session", "__version__", "compile"]
