"""ONNX's backend test suite (onnx.backend.test.BackendTest) on edgec, shared by the
pytest entry (tests/conformance/test_onnx_backend.py) and the report
(bench/conformance.py).

The sets:

- node: one test per operator case. The onnx wheel ships the case definitions
  (onnx.backend.test.case.node), not their data; the data is generated from
  them once into build/onnx_backend_test/onnx-<version>/node/ (git-ignored)
  and the runner loads it from there.
- simple, pytorch-converted, pytorch-operator: small models shipped with onnx.
- light: BackendTest's "real" models (AlexNet, ResNet50, VGG19, ...) in their
  light form shipped with onnx (weights made by ConstantOfShape), run on a
  fixed input against the outputs onnx ships.

Outcomes: passed, failed, unsupported (edgec raised UnsupportedOnPurposeError:
see edgec/unsupported.py) and skipped (the backend declined, e.g. onnxruntime
on an unreleased opset).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
import traceback
import unittest
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.backend.test.runner as onnx_runner
from onnx import numpy_helper
from onnx.backend.test import BackendTest
from onnx.backend.test.case.test_case import TestCase
from onnx.backend.test.loader import load_model_tests

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "onnx_backend_test"

# Our set name -> the runner's test-case class name.
SETS: dict[str, str] = {
    "node": "OnnxBackendNodeModelTest",
    "simple": "OnnxBackendSimpleModelTest",
    "pytorch-converted": "OnnxBackendPyTorchConvertedModelTest",
    "pytorch-operator": "OnnxBackendPyTorchOperatorModelTest",
    "light": "OnnxBackendRealModelTest",
}
MODEL_SETS = ("simple", "pytorch-converted", "pytorch-operator", "light")
DEVICE_SUFFIX = "_cpu"


# ---- node test data ------------------------------------------------------------------


def cache_dir() -> Path:
    return CACHE / f"onnx-{onnx.__version__}"


def _snake_free(name: str) -> str:
    return name.replace("_", "").lower()


def _test_op(name: str, model: onnx.ModelProto, ops: dict[str, str]) -> str:
    """The operator a node test is about (for an _expanded test: its base test's op)."""
    if "_expanded" in name:
        base = name.split("_expanded")[0]
        if base in ops:
            return ops[base]
    nodes = [n.op_type for n in model.graph.node]
    if len(set(nodes)) == 1:
        return nodes[0]
    key = _snake_free(name[len("test_"):])
    matching = [op for op in set(nodes) if key.startswith(op.lower())]
    if matching:
        return max(matching, key=len)
    return nodes[-1] if nodes else "?"


def _write_value(path: Path, value: Any, vi: onnx.ValueInfoProto) -> None:
    kind = vi.type.WhichOneof("value")
    if isinstance(value, onnx.TensorProto):
        proto: Any = value
    elif kind == "sequence_type":
        proto = numpy_helper.from_list(value, vi.name)
    elif kind == "optional_type":
        proto = numpy_helper.from_optional(value, vi.name)
    elif kind == "map_type":
        proto = numpy_helper.from_dict(value, vi.name)
    else:
        proto = numpy_helper.from_array(np.asarray(value), vi.name)
    path.write_bytes(proto.SerializeToString())


def generate_node_data(dest: Path) -> None:
    """Writes every node test case (model.onnx, test_data_set_N/{input,output}_K.pb) and
    index.json (test name -> operator, rtol, atol), as `python -m
    onnx.backend.test.cmd_tools generate-data` does for the model cases."""
    cases = load_model_tests(kind="node")  # onnx.backend.test.case.node.collect_testcases
    index: dict[str, dict[str, Any]] = {}
    ops = {c.name: _test_op(c.name, c.model, {}) for c in cases
           if c.model is not None and "_expanded" not in c.name}
    for case in cases:
        assert case.model is not None and case.data_sets is not None
        case_dir = dest / case.name
        case_dir.mkdir(parents=True)
        (case_dir / "model.onnx").write_bytes(case.model.SerializeToString())
        graph = case.model.graph
        for i, (inputs, outputs) in enumerate(case.data_sets):
            data_dir = case_dir / f"test_data_set_{i}"
            data_dir.mkdir()
            for j, value in enumerate(inputs):
                _write_value(data_dir / f"input_{j}.pb", value, graph.input[j])
            for j, value in enumerate(outputs):
                _write_value(data_dir / f"output_{j}.pb", value, graph.output[j])
        index[case.name] = {"op": _test_op(case.name, case.model, ops), "rtol": case.rtol,
                            "atol": case.atol}
    (dest / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True))


def node_data_dir() -> Path:
    """The generated node test data, generated on first use (atomically: safe when
    several processes start at once)."""
    dest = cache_dir() / "node"
    if (dest / "index.json").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="node.", dir=dest.parent))
    try:
        with _quiet_numpy():
            generate_node_data(tmp)
        try:
            tmp.rename(dest)
        except OSError:  # another process got there first
            if not (dest / "index.json").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


@contextlib.contextmanager
def _quiet_numpy() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def node_index() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((node_data_dir() / "index.json").read_text())
    return data


def load_node_tests() -> list[TestCase]:
    """The node tests, from the generated data (model_dir set: the runner reads the files)."""
    root = node_data_dir()
    index = node_index()
    return [TestCase(name=name, model_name=name, url=None, model_dir=str(root / name),
                     model=None, data_sets=None, kind="node", rtol=info["rtol"],
                     atol=info["atol"])
            for name, info in sorted(index.items())]


# ---- the runner ----------------------------------------------------------------------


def make_runner(backend: Any) -> BackendTest:
    """onnx.backend.test.BackendTest over backend, node tests read from the cache."""
    node_tests = load_node_tests()

    def loader(data_dir: str = onnx_runner.load_model_tests.__defaults__[0],  # type: ignore
               kind: str | None = None) -> list[TestCase]:
        if kind == "node":
            return node_tests
        return load_model_tests(data_dir, kind)

    # light models write their fixed input and expected outputs here (not ~/.onnx).
    os.environ.setdefault("ONNX_MODELS", str(cache_dir() / "light"))
    original = onnx_runner.load_model_tests
    onnx_runner.load_model_tests = loader  # type: ignore[assignment]
    try:
        return BackendTest(backend, __name__)
    finally:
        onnx_runner.load_model_tests = original  # type: ignore[assignment]


def collect(runner: BackendTest) -> dict[str, dict[str, Callable[[], None]]]:
    """set name -> test name (without the _cpu suffix) -> a callable running the test."""
    out: dict[str, dict[str, Callable[[], None]]] = {}
    classes = runner.test_cases
    for set_name, class_name in SETS.items():
        cls = classes.get(class_name)
        tests: dict[str, Callable[[], None]] = {}
        if cls is not None:
            for attr in sorted(vars(cls)):
                if attr.startswith("test_") and attr.endswith(DEVICE_SUFFIX):
                    tests[attr[:-len(DEVICE_SUFFIX)]] = getattr(cls(attr), attr)
        out[set_name] = tests
    return out


def test_ops(set_name: str, names: list[str]) -> dict[str, str]:
    """test name -> the operator it is about (node set), or the set name."""
    if set_name != "node":
        return dict.fromkeys(names, set_name)
    index = node_index()
    return {n: index.get(n, {}).get("op", "?") for n in names}


# ---- backends ------------------------------------------------------------------------


class OnPurpose(unittest.SkipTest):
    """Raised in place of edgec's UnsupportedOnPurposeError so the runner skips the test."""


class EdgecTestBackend:
    """edgec.onnx_backend with UnsupportedOnPurposeError turned into a skip (OnPurpose)."""

    @classmethod
    def supports_device(cls, device: str) -> bool:
        from edgec import onnx_backend

        return onnx_backend.supports_device(device)

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> Any:
        from edgec import onnx_backend
        from edgec.unsupported import UnsupportedOnPurposeError

        try:
            return onnx_backend.prepare(model, device, **kwargs)
        except UnsupportedOnPurposeError as exc:
            raise OnPurpose(str(exc)) from None


# ---- running one test ----------------------------------------------------------------


@dataclass
class Outcome:
    status: str  # passed | failed | unsupported | skipped
    message: str
    seconds: float


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    if isinstance(exc, AssertionError) and "Mismatched elements" in text:
        mismatch = re.search(r"Mismatched elements: [^\n]*", text)
        line = "outputs differ: " + (mismatch.group(0) if mismatch else line)
    elif isinstance(exc, AssertionError) and "incorrect shape" in text:
        line = "output has an incorrect shape"
    elif isinstance(exc, AssertionError) and "dtype" in text.lower():
        line = "output dtype differs: " + " ".join(text.split())[:160]
    return f"{type(exc).__name__}: {line}"[:300]


def run_test(fn: Callable[[], None]) -> Outcome:
    start = time.perf_counter()
    try:
        with _quiet_numpy():
            fn()
    except OnPurpose as exc:
        return Outcome("unsupported", str(exc), time.perf_counter() - start)
    except unittest.SkipTest as exc:
        return Outcome("skipped", str(exc)[:300], time.perf_counter() - start)
    except Exception as exc:
        message = first_line(exc)
        if os.environ.get("EDGEC_CONFORMANCE_TRACEBACK"):
            message += "\n" + traceback.format_exc()
        return Outcome("failed", message, time.perf_counter() - start)
    return Outcome("passed", "", time.perf_counter() - start)
