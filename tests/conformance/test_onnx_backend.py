"""ONNX's backend test suite (onnx.backend.test.BackendTest) through edgec.onnx_backend.

- test_node_sample: a fixed third of the node tests (every third, by name), the CI
  selection; test_model: every test of simple, pytorch-converted,
  pytorch-operator and light (BackendTest's "real" models, shipped light).
- test_node_full (slow: `pytest -m slow tests/conformance`): every node test.

A test edgec leaves out on purpose (edgec/unsupported.py) is skipped with the
reason. The known failures (known_failures.py, each with its reason) run and
are expected to fail (xfail), so the suite is green, every one of them is
counted in the summary, and a fix shows up as XPASS. The pass rate beside onnxruntime's:
`python bench/conformance.py` (docs/conformance.md).
"""

from __future__ import annotations

from collections.abc import Callable

import harness
import pytest
from known_failures import KNOWN_FAILURES

RUNNER = harness.make_runner(harness.EdgecTestBackend)
TESTS: dict[str, dict[str, Callable[[], None]]] = harness.collect(RUNNER)
NODE = sorted(TESTS["node"])
SAMPLE = NODE[::3]
MODELS = [(s, n) for s in harness.MODEL_SETS for n in sorted(TESTS[s])]


def _run(set_name: str, name: str) -> None:
    try:
        TESTS[set_name][name]()
    except harness.OnPurpose as exc:
        pytest.skip(str(exc))


def _expect(*values: str) -> object:
    name = values[-1]
    if name in KNOWN_FAILURES:
        return pytest.param(*values, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[name],
                                                             strict=False))
    return values if len(values) > 1 else name


def test_selection_covers_a_third() -> None:
    assert len(SAMPLE) * 3 >= len(NODE) > 1000
    assert {s for s, _ in MODELS} == set(harness.MODEL_SETS)
    unknown = sorted(set(KNOWN_FAILURES) - {n for tests in TESTS.values() for n in tests})
    assert not unknown, f"known_failures.py names tests that do not exist: {unknown[:5]}"


@pytest.mark.parametrize("name", [_expect(n) for n in SAMPLE])
def test_node_sample(name: str) -> None:
    _run("node", name)


@pytest.mark.parametrize(("set_name", "name"), [_expect(s, n) for s, n in MODELS])
def test_model(set_name: str, name: str) -> None:
    _run(set_name, name)


@pytest.mark.slow
@pytest.mark.parametrize("name", [_expect(n) for n in NODE])
def test_node_full(name: str) -> None:
    _run("node", name)
