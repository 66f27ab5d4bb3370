"""Calibration: feeds, running the float program with its activations as extra
outputs, observers (min-max, percentile, entropy/KL, MSE) and the ranges they
choose."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from edgec.errors import EdgecError
from edgec.program import Program, Tensor

Feed = dict[str, np.ndarray]
FeedsLike = Iterable[Mapping[str, np.ndarray]] | str | os.PathLike[str]

METHODS = ("minmax", "percentile", "entropy", "mse")
BINS = 2048
PERCENTILE = 99.99


# ---- feeds ----


def smooth_images(shape: tuple[int, ...], count: int, seed: int = 0) -> list[np.ndarray]:
    """Low-frequency random images: per channel, Gaussian noise on a coarse grid
    (4 to 12 cells a side) bilinearly upsampled, plus a per-image brightness and
    contrast. Natural images are dominated by low frequencies; white noise is not
    what a vision model sees, and calibrating on it gives misleading ranges."""
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    out = []
    for _ in range(count):
        gh, gw = int(rng.integers(4, 13)), int(rng.integers(4, 13))
        coarse = rng.standard_normal((n, c, gh, gw))
        mh = _interp_matrix(h, gh)
        mw = _interp_matrix(w, gw)
        img = np.einsum("hi,ncij,wj->nchw", mh, coarse, mw)
        img = img * rng.uniform(0.5, 1.5) + rng.uniform(-0.5, 0.5)
        out.append(img.astype(np.float32))
    return out


def _interp_matrix(size: int, cells: int) -> np.ndarray:
    """(size, cells): bilinear interpolation weights, align-corners."""
    pos = np.linspace(0, cells - 1, size) if size > 1 else np.zeros(1)
    lo = np.clip(np.floor(pos).astype(int), 0, cells - 1)
    hi = np.clip(lo + 1, 0, cells - 1)
    frac = pos - lo
    m = np.zeros((size, cells))
    m[np.arange(size), lo] += 1 - frac
    m[np.arange(size), hi] += frac
    return m


def synthetic_feeds(inputs: list[Tensor], count: int = 16, seed: int = 0) -> list[Feed]:
    """Smooth images for 4-D float inputs, standard normal for other floats, small
    integers for integer inputs."""
    rng = np.random.default_rng(seed)
    per_input: dict[str, list[np.ndarray]] = {}
    for k, t in enumerate(inputs):
        if t.dtype == np.float32 and len(t.shape) == 4:
            per_input[t.name] = smooth_images(tuple(t.shape), count, seed + k)
        elif t.dtype == np.float32:
            per_input[t.name] = [rng.standard_normal(t.shape).astype(np.float32)
                                 for _ in range(count)]
        else:
            per_input[t.name] = [rng.integers(0, 8, t.shape).astype(t.dtype)
                                 for _ in range(count)]
    return [{name: vals[i] for name, vals in per_input.items()} for i in range(count)]


def load_feeds(calibration: FeedsLike, inputs: list[Tensor], limit: int | None = None
               ) -> list[Feed]:
    """Calibration feeds as a list: from an iterable of {input: array} or a folder
    of .npz files (one feed each, arrays named as the inputs). Checks names, dtypes
    and shapes against the program's inputs."""
    if isinstance(calibration, (str, os.PathLike)):
        folder = Path(calibration)
        if not folder.is_dir():
            raise EdgecError(f"calibration: {folder} is not a folder of .npz files")
        files = sorted(folder.glob("*.npz"))
        if not files:
            raise EdgecError(f"calibration: no .npz files in {folder}")
        raw: list[Mapping[str, np.ndarray]] = []
        for f in files[:limit]:
            with np.load(f, allow_pickle=False) as z:
                raw.append({k: z[k] for k in z.files})
    else:
        raw = []
        for feed in calibration:
            raw.append(feed)
            if limit is not None and len(raw) >= limit:
                break
    if not raw:
        raise EdgecError("calibration: no feeds")
    by_name = {t.name: t for t in inputs}
    feeds: list[Feed] = []
    for i, feed in enumerate(raw):
        missing = sorted(set(by_name) - set(feed))
        if missing:
            raise EdgecError(f"calibration feed {i}: no value for input {missing[0]!r}")
        out: Feed = {}
        for name, t in by_name.items():
            value = np.asarray(feed[name])
            if value.shape != tuple(t.shape):
                raise EdgecError(f"calibration feed {i}: input {name!r} has shape "
                                 f"{list(value.shape)}, the model expects {list(t.shape)}")
            out[name] = np.ascontiguousarray(value.astype(t.dtype, copy=False))
        feeds.append(out)
    return feeds


# ---- running the program with its activations as outputs ----


def observable(program: Program) -> list[int]:
    """Float32 arena tensors computed by instructions (alias roots only)."""
    seen: set[int] = set()
    out: list[int] = []
    for ins in program.instructions:
        for i in ins.outputs:
            t = program.tensors[i]
            root = t.alias_of if t.alias_of is not None else i
            if root in seen or program.tensors[root].dtype != np.float32:
                continue
            if program.tensors[root].is_constant:
                continue
            seen.add(root)
            out.append(root)
    return out


def clone(program: Program) -> Program:
    """A copy whose tensor and instruction lists can be changed freely (constant data
    and options objects are shared)."""
    return Program(
        tensors=[dataclasses.replace(t) for t in program.tensors],
        instructions=[dataclasses.replace(i, inputs=list(i.inputs), outputs=list(i.outputs))
                      for i in program.instructions],
        inputs=list(program.inputs), outputs=list(program.outputs),
        metadata=dict(program.metadata))


class Runner:
    """Runs a program in the C runtime with extra tensors exposed as outputs."""

    def __init__(self, program: Program, extra: list[int], threads: int = 1) -> None:
        from edgec.format.writer import serialize
        from edgec.plan import plan_arena
        from edgec.runtime import Session

        prog = clone(program)
        self.n_outputs = len(prog.outputs)
        self.extra = [i for i in dict.fromkeys(extra)
                      if i not in prog.outputs and i not in prog.inputs
                      and not prog.tensors[i].is_constant]
        for i in self.extra:  # output names must be unique for the session's lookup
            prog.tensors[i] = dataclasses.replace(prog.tensors[i],
                                                  name=f"{prog.tensors[i].name}@{i}")
        self.outputs = list(prog.outputs)
        self.inputs = list(prog.inputs)
        self.names = {i: prog.tensors[i].name for i in prog.inputs}
        prog.outputs = prog.outputs + self.extra
        prog.compact()  # tensors nothing uses would sit at offset 0 outside a small arena
        plan_arena(prog)
        self.session = Session(serialize(prog), threads=threads)

    def run(self, feed: Feed) -> tuple[list[np.ndarray], dict[int, np.ndarray]]:
        """(the program's outputs, {tensor: value} for the extra tensors, the outputs
        and the inputs)."""
        values = self.session.run(None, feed)
        outs = values[:self.n_outputs]
        found = dict(zip(self.extra, values[self.n_outputs:], strict=True))
        for i, v in zip(self.outputs, outs, strict=True):
            found.setdefault(i, v)
        for i in self.inputs:
            found.setdefault(i, feed[self.names[i]])
        return outs, found


# ---- observers ----


@dataclasses.dataclass
class Stats:
    lo: float = np.inf
    hi: float = -np.inf
    hist: np.ndarray | None = None  # over [hist_lo, hist_hi]
    hist_lo: float = 0.0
    hist_hi: float = 0.0

    def update_range(self, x: np.ndarray) -> None:
        if x.size:
            finite = x[np.isfinite(x)] if not np.all(np.isfinite(x)) else x
            if finite.size:
                self.lo = min(self.lo, float(finite.min()))
                self.hi = max(self.hi, float(finite.max()))

    def start_histogram(self) -> None:
        lo, hi = min(self.lo, 0.0), max(self.hi, 0.0)
        if not np.isfinite(lo) or not np.isfinite(hi):
            lo, hi = 0.0, 0.0
        if hi - lo <= 0:
            hi = lo + 1e-6
        self.hist_lo, self.hist_hi = lo, hi
        self.hist = np.zeros(BINS, np.int64)

    def update_histogram(self, x: np.ndarray) -> None:
        assert self.hist is not None
        h, _ = np.histogram(x, bins=BINS, range=(self.hist_lo, self.hist_hi))
        self.hist += h


def choose_range(s: Stats, method: str, levels: int = 256) -> tuple[float, float]:
    """The real range [lo, hi] (0 included) a tensor is quantized over."""
    lo, hi = min(s.lo, 0.0), max(s.hi, 0.0)
    if not np.isfinite(lo) or not np.isfinite(hi):
        return 0.0, 1.0
    if method == "minmax" or s.hist is None or s.hist.sum() == 0:
        return lo, hi
    edges = np.linspace(s.hist_lo, s.hist_hi, BINS + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    hist = s.hist.astype(np.float64)
    if method == "percentile":
        cdf = np.cumsum(hist) / hist.sum()
        tail = (100.0 - PERCENTILE) / 100.0 / 2
        a = edges[int(np.searchsorted(cdf, tail))]
        b = edges[min(int(np.searchsorted(cdf, 1 - tail)) + 1, BINS)]
        return min(a, 0.0), max(b, 0.0)
    if method == "mse":
        best, best_err = (lo, hi), np.inf
        for f in np.linspace(0.2, 1.0, 81):
            a, b = lo * f, hi * f
            step = (b - a) / (levels - 1)
            if step <= 0:
                continue
            clipped = np.clip(centers, a, b)
            err = np.where(centers == clipped, step * step / 12, (centers - clipped) ** 2)
            total = float(np.sum(hist * err))
            if total < best_err:
                best, best_err = (a, b), total
        return best
    if method == "entropy":
        return _kl_range(hist, edges, lo, hi, levels)
    raise EdgecError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")


def _kl_range(hist: np.ndarray, edges: np.ndarray, lo: float, hi: float,
              levels: int) -> tuple[float, float]:
    """TensorRT's entropy calibration on the magnitude histogram: the threshold T
    whose clipped, `levels`-quantized distribution diverges least from the original."""
    centers = (edges[:-1] + edges[1:]) / 2
    amax = max(abs(lo), abs(hi))
    nb = 512
    mag, _ = np.histogram(np.abs(centers), bins=nb, range=(0, amax), weights=hist)
    one_sided = lo >= 0 or hi <= 0
    q_levels = levels if one_sided else levels // 2
    best_t, best_kl = amax, np.inf
    for i in range(q_levels, nb + 1, 4):
        ref = mag[:i].copy()
        ref[i - 1] += mag[i:].sum()
        if ref.sum() == 0:
            continue
        chunks = np.array_split(mag[:i], q_levels)
        cand = np.concatenate([np.where(c > 0, c.sum() / max(np.count_nonzero(c), 1), 0)
                               for c in chunks])
        p = ref / ref.sum()
        qs = cand.sum()
        if qs == 0:
            continue
        q = cand / qs
        mask = p > 0
        kl = float(np.sum(p[mask] * np.log(p[mask] / np.maximum(q[mask], 1e-12))))
        if kl < best_kl:
            best_kl, best_t = kl, i * amax / nb
    return max(lo, -best_t), min(hi, best_t)


def collect(program: Program, feeds: list[Feed], tensors: list[int], method: str,
            progress: bool = True) -> dict[int, Stats]:
    """Observes the tensors over the feeds (a second pass for histogram methods)."""
    if method not in METHODS:
        raise EdgecError(f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")
    runner = Runner(program, tensors)
    stats = {i: Stats() for i in tensors}
    passes = 1 if method == "minmax" else 2
    inputs = {program.tensors[i].name: i for i in program.inputs}
    with _progress(progress, len(feeds) * passes) as bar:
        for p in range(passes):
            if p == 1:
                for s in stats.values():
                    s.start_histogram()
            for feed in feeds:
                _, values = runner.run(feed)
                for name, idx in inputs.items():
                    if idx in stats:
                        values[idx] = feed[name]
                for i, v in values.items():
                    if i not in stats:
                        continue
                    if p == 0:
                        stats[i].update_range(v)
                    else:
                        stats[i].update_histogram(v)
                bar.advance()
    return stats


class _Bar:
    def __init__(self, progress: object, task: object) -> None:
        self._p, self._t = progress, task

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._t)  # type: ignore[attr-defined]


class _progress:
    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self._progress: object = None

    def __enter__(self) -> _Bar:
        if not self.enabled:
            return _Bar(None, None)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), transient=True)
        self._progress.__enter__()  # type: ignore[attr-defined]
        task = self._progress.add_task("calibrating", total=self.total)  # type: ignore
        return _Bar(self._progress, task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)  # type: ignore[attr-defined]
