"""docs/operators.md is generated (python -m edgec.opdocs) and must match the code."""

from __future__ import annotations

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
