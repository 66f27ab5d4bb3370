"""The full node run is marked slow: it runs with `-m slow` (or EDGEC_SLOW=1) only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "slow" in (config.getoption("markexpr") or "") or os.environ.get("EDGEC_SLOW"):
        return
    skip = pytest.mark.skip(reason="the full conformance run: pytest -m slow")
    for item in items:
        if "slow" in item.keywords and HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)
