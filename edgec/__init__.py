"""edgec: compile ONNX models to .edgeb programs and run them in a small C runtime."""

__version__ = "0.1.0"

from edgec.compiler import compile  # noqa: A004
from edgec.errors import EdgecError
from edgec.runtime import Session

__all__ = ["EdgecError", "Session", "__version__", "compile"]
