"""Compile-time figures for the zoo: compile time, file size, arena against
its lower bound, and the stripped size of the runtime library.

    python bench/compile_stats.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from edgec import zoo
from edgec.compiler import compile_program
from edgec.runtime import library_path

REPEATS = 3


def _stripped_size(lib: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / lib.name
        shutil.copy(lib, copy)
        subprocess.run(["strip", "--strip-unneeded", str(copy)], check=True)
        return copy.stat().st_size


def main() -> None:
    console = Console(width=200)
    table = Table(title="edgec compile (this machine, 1 process)", box=box.MARKDOWN)
    for col in ("model", "compile s (median of 3)", "file MiB", "instructions",
                "arena KiB", "lower bound KiB", "arena / bound"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name in zoo.names():
        model = zoo.build(name)
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            result = compile_program(model)
            times.append(time.perf_counter() - start)
        prog = result.program
        table.add_row(name, f"{statistics.median(times):.2f}", f"{len(result.data) / 2**20:.1f}",
                      str(len(prog.instructions)), f"{prog.arena_size / 1024:.0f}",
                      f"{prog.arena_lower_bound / 1024:.0f}",
                      f"{prog.arena_size / max(prog.arena_lower_bound, 1):.3f}")
    console.print(table)
    lib = library_path()
    console.print(f"runtime library {lib.name}: {lib.stat().st_size / 1024:.1f} KiB, "
                  f"stripped {_stripped_size(lib) / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
