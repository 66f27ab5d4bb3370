"""The one exception type users see: its message is a single line that names
the file, node or field at fault. The CLI prints it and exits non-zero."""


class EdgecError(Exception):
    """A user-facing error with a one-line message."""


class RuntimeStatusError(EdgecError):
    """The C runtime returned a non-OK status."""

    def __init__(self, status: int, status_name: str, message: str) -> None:
        super().__init__(f"{message} ({status_name})" if message else status_name)
        self.status = status
