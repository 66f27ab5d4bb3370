"""Compare edgec with onnxruntime on the same seeded random inputs."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import onnx

from edgec.errors import EdgecError
from edgec.frontend.onnx_import import InputShapes
from edgec.runtime import NodeArg


def random_feeds(args: Iterable[NodeArg], seed: int) -> dict[str, np.ndarray]:
    """Seeded random values for the given inputs: normal floats, small
    non-negative ints (valid as indices), random bools. Never all zeros."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for arg in args:
        if arg.dtype == np.bool_:
            feeds[arg.name] = rng.random(arg.shape) > 0.5
        elif np.issubdtype(arg.dtype, np.integer):
            feeds[arg.name] = rng.integers(0, 100, size=arg.shape).astype(arg.dtype)
        else:
            feeds[arg.name] = rng.standard_normal(arg.shape).astype(arg.dtype)
    return feeds


@dataclass(frozen=True)
class OutputDiff:
    """One output of edgec against onnxruntime's."""

    name: str
    actual: np.ndarray = field(repr=False)
    expected: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.actual.shape

    @property
    def max_abs(self) -> float:
        diff = self._diff()
        return float(diff.max()) if diff.size else 0.0

    @property
    def max_rel(self) -> float:
        """Largest |ours - theirs| relative to the output's scale, max |theirs|.
        (Per element, |x - y| / |y| is meaningless where y crosses zero.)"""
        scale = float(np.abs(self.expected.astype(np.float64)).max()) if self.expected.size else 0
        return self.max_abs / scale if scale > 0 else self.max_abs

    def passes(self, rtol: float, atol: float = 0.0) -> bool:
        """Every element within atol + rtol * max|theirs|."""
        scale = float(np.abs(self.expected.astype(np.float64)).max()) if self.expected.size else 0
        return self.max_abs <= atol + rtol * scale

    def _diff(self) -> np.ndarray:
        return np.abs(self.actual.astype(np.float64) - self.expected.astype(np.float64))


def validate(model: str | os.PathLike[str] | onnx.ModelProto, input_shapes: InputShapes,
             seed: int = 0, threads: int = 1) -> list[OutputDiff]:
    import onnxruntime as ort

    from edgec.compiler import compile_program
    from edgec.frontend.onnx_import import load_model
    from edgec.runtime import Session

    proto = load_model(model)
    session = Session(compile_program(proto, input_shapes=input_shapes).data, threads=threads)
    feeds = random_feeds(session.get_inputs(), seed)
    ours = session.run(None, feeds)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    reference = ort.InferenceSession(proto.SerializeToString(), opts,
                                     providers=["CPUExecutionProvider"])
    ort_inputs = {i.name for i in reference.get_inputs()}
    theirs = reference.run([a.name for a in session.get_outputs()],
                           {k: v for k, v in feeds.items() if k in ort_inputs})
    diffs = []
    for arg, a, b in zip(session.get_outputs(), ours, theirs, strict=True):
        if a.shape != b.shape:
            raise EdgecError(f"output {arg.name!r}: shape {a.shape}, onnxruntime gives {b.shape}")
        diffs.append(OutputDiff(arg.name, a, b))
    return diffs
