"""docs/operators.md is generated (python -m edgec.opdocs) and must match the code."""

from __future__ import annotations

import re

from edgec import opdocs


def test_operators_doc_is_current() -> None:
    assert opdocs.DOC.exists(), "docs/operators.md is missing: run python -m edgec.opdocs"
    assert opdocs.DOC.read_text() == opdocs.render(), \
        "docs/operators.md is stale: run python -m edgec.opdocs"


def test_every_lowering_and_kernel_is_listed() -> None:
    from edgec.lower import supported_ops

    text = opdocs.render()
    for op in supported_ops():
        assert f"\n| {op} |" in text
    for kernel in opdocs.kernels():
        assert kernel.source, f"no source file defines {kernel.symbol}"
        assert f"`{kernel.opcode}`" in text


def test_kernel_names_are_the_opcodes() -> None:
    """The runtime names a kernel by its opcode in lower case (EC_FB_OPNAME_*, registry.c):
    the name each EC_KERNEL gives and the symbol each EC_OP line names agree with it."""
    for kernel in opdocs.kernels():
        assert kernel.symbol == f"ec_kernel_{kernel.opcode.lower()}", kernel
    for path in sorted(opdocs.KERNELS.rglob("*.c")):
        for sym, name in re.findall(r'\bEC_KERNEL\((\w+),\s*"([^"]*)"', path.read_text()):
            assert sym == f"ec_kernel_{name}", f"{path}: EC_KERNEL({sym}, \"{name}\", ...)"
