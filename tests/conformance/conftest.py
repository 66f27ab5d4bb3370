"""The full node run is marked slow and deselected by default (pyproject's
addopts say -m "not slow"); `pytest -m slow tests/conformance` runs it."""
