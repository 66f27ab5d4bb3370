"""edgec beside other engines on one ONNX model, in one process: the same
inputs, the same thread count, runs interleaved so that machine noise hits
every engine alike (`edgec bench MODEL.onnx --compare onnxruntime`,
bench/compare.py).

Engines: edgec (always), onnxruntime, and MNN when the `MNN` package is
installed (converted through its Python converter binding, not the
`mnnconvert` command, which tries to reach a logging service)."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx

from edgec.errors import EdgecError

RunFn = Callable[[], object]
ENGINES = ("onnxruntime", "mnn")


def _time(fn: RunFn, n: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    out = []
    for _ in range(n):
        start = clock()
        fn()
        out.append((clock() - start) * 1e3)
    return out


def wait_until_idle(window_s: float = 0.01, busy_fraction: float = 0.25,
                    limit_s: float = 0.5) -> None:
    """Sleeps until this process's threads stop using the CPU: until one
    window of `window_s` costs less than `busy_fraction` of a core (10 ms:
    Linux updates other threads' CPU time at its 4 ms tick). Why:
    onnxruntime's workers spin for about 35 ms after a run (measured here);
    on a 2-core machine a run of another engine started in that time shares
    its second core with the spinner and reads up to 2x slow."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        cpu = time.process_time()
        time.sleep(window_s)
        if time.process_time() - cpu < busy_fraction * window_s:
            return


def interleaved(engines: Mapping[str, RunFn], rounds: int, per_round: int = 3,
                advance: Callable[[], None] | None = None,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """One discarded run per engine, then `rounds` rounds in which each
    engine in turn waits for the others' threads to go idle, makes one
    untimed run (so its own pool is awake, as in a loop of inferences) and
    `per_round` timed runs. Returns each engine's median in ms.
    clock=time.process_time measures CPU time instead of wall time: on a
    machine other jobs load, it leaves out the time the process waited for a
    core (one thread only: it adds up all threads' time)."""
    for fn in engines.values():
        fn()
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, fn in engines.items():
            wait_until_idle()
            fn()
            samples[name] += _time(fn, per_round, clock)
        if advance is not None:
            advance()
    return {name: statistics.median(s) for name, s in samples.items()}


def edgec_runner(program: bytes, feeds: Mapping[str, np.ndarray], threads: int) -> RunFn:
    from edgec.runtime import Session

    session = Session(program, threads=threads)
    return lambda: session.run(None, dict(feeds))


def onnxruntime_runner(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
                       threads: int) -> RunFn:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), opts,
                                   providers=["CPUExecutionProvider"])
    return lambda: session.run(None, dict(feeds))


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """MNN's converter prints progress on the C-level stdout; keep stdout for results."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def mnn_available() -> bool:
    try:
        with _stdout_to_stderr():  # importing MNN prints the CPU's features
            import _tools  # noqa: F401  (MNN's converter binding)
            import MNN  # noqa: F401
    except ImportError:
        return False
    return True


def mnn_runner(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
               threads: int) -> RunFn:
    if not mnn_available():
        raise EdgecError("--compare mnn: the MNN package is not installed (pip install MNN)")
    import _tools
    import MNN.expr as mnn_expr
    import MNN.nn as mnn_nn

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.mnn"
        onnx.save(model, src)
        with _stdout_to_stderr():
            if not _tools.mnnconvert(["mnnconvert", "-f", "ONNX", "--modelFile", str(src),
                                      "--MNNModel", str(dst), "--bizCode", "edgec"]):
                raise EdgecError("MNN could not convert the model")
            runtime = mnn_nn.create_runtime_manager(
                ({"backend": "CPU", "numThread": threads, "precision": "high"},))
            module = mnn_nn.load_module_from_file(str(dst), list(feeds),
                                                  [o.name for o in model.graph.output],
                                                  runtime_manager=runtime)
    def const(v: np.ndarray) -> object:  # MNN's integer tensors are int32
        if np.issubdtype(v.dtype, np.integer):
            return mnn_expr.const(np.ascontiguousarray(v, dtype=np.int32), list(v.shape),
                                  mnn_expr.NCHW, mnn_expr.int)
        return mnn_expr.const(np.ascontiguousarray(v, dtype=np.float32), list(v.shape),
                              mnn_expr.NCHW)

    inputs = [const(v) for v in feeds.values()]

    def run() -> object:
        outs = module.forward(inputs)
        return [o.read() for o in outs]  # read() waits for the result

    return run


def runners(model: onnx.ModelProto, program: bytes, feeds: Mapping[str, np.ndarray],
            threads: int, others: tuple[str, ...]) -> dict[str, RunFn]:
    """edgec first, then each engine of `others` (names from ENGINES)."""
    make = {"onnxruntime": onnxruntime_runner, "mnn": mnn_runner}
    out = {"edgec": edgec_runner(program, feeds, threads)}
    for name in others:
        if name not in make:
            raise EdgecError(f"--compare {name}: unknown engine (choose from "
                             f"{', '.join(ENGINES)})")
        out[name] = make[name](model, feeds, threads)
    return out


__all__ = ["ENGINES", "interleaved", "mnn_available", "runners", "wait_until_idle"]
