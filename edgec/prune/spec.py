"""Pruning spec strings, as `--prune` and `edgec.compile(prune=...)` take them.

    magnitude:S[:per-layer][,exclude=PATTERN]...   unstructured, sparsity S in [0, 1)
                                                   (global threshold unless per-layer)
    magnitude:S,block=RxC                          whole RxC blocks of the weight matrix
                                                   (rows = output channels), by block L2
    channels:F[:l1|:l2][:cost|:uniform][,exclude=PATTERN]...
                                                   remove conv output channels: F of all of
                                                   them, spread by their cost (default;
                                                   edgec.prune.allocation), or F in every
                                                   layer (uniform); ranked by L1 (or L2)
    N:M[,exclude=PATTERN]...                       keep the N largest of every M weights
                                                   along the reduction axis (e.g. 2:4)

PATTERN is an fnmatch pattern matched against the layer name (the weight's
name without ".weight", e.g. "classifier.1"), the node name and the weight
name; several may be given, as repeated exclude= options or joined with "|".
docs/pruning.md describes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgec.errors import EdgecError


@dataclass(frozen=True)
class PruneSpec:
    kind: str  # "magnitude", "channels" or "nm"
    amount: float = 0.0  # sparsity (magnitude), fraction of channels removed (channels)
    per_layer: bool = False
    norm: str = "l1"  # channel ranking
    allocation: str = "cost"  # channels per layer: "cost" (by what they cost) or "uniform"
    n: int = 0
    m: int = 0
    block: tuple[int, int] | None = None
    exclude: tuple[str, ...] = field(default_factory=tuple)
    text: str = ""


def _fraction(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EdgecError(f"--prune {spec!r}: {text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise EdgecError(f"--prune {spec!r}: {value} is outside [0, 1)")
    return value


def _block(text: str, spec: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match or min(int(match[1]), int(match[2])) < 1:
        raise EdgecError(f"--prune {spec!r}: block {text!r} is not RxC (e.g. 4x1)")
    return int(match[1]), int(match[2])


def _channel_options(opts: list[str], spec: str) -> tuple[str, str]:
    """The optional :l1|:l2 and :cost|:uniform of channels:F, in either order."""
    norm, allocation = "l1", "cost"
    seen: set[str] = set()
    for opt in (o.lower() for o in opts):
        slot = "norm" if opt in ("l1", "l2") else "allocation" if opt in ("cost", "uniform") \
            else ""
        if not slot or slot in seen:
            raise EdgecError(f"--prune {spec!r}: channel option {opt!r} (l1 or l2, then "
                             f"cost or uniform)")
        seen.add(slot)
        norm, allocation = (opt, allocation) if slot == "norm" else (norm, opt)
    return norm, allocation


def parse_spec(spec: str) -> PruneSpec:
    """Parses a spec string; raises EdgecError naming what is wrong."""
    head, *opts = [part.strip() for part in spec.strip().split(",")]
    exclude: list[str] = []
    block: tuple[int, int] | None = None
    for opt in opts:
        key, sep, value = opt.partition("=")
        if key == "exclude" and sep and value:
            exclude += [p for p in value.split("|") if p]
        elif key == "block" and sep:
            block = _block(value, spec)
        else:
            raise EdgecError(f"--prune {spec!r}: unknown option {opt!r} (exclude=PATTERN, "
                             f"block=RxC)")
    parts = head.split(":")
    kind = parts[0].lower()
    if kind == "magnitude" and len(parts) in (2, 3):
        per_layer = len(parts) == 3
        if per_layer and parts[2] != "per-layer":
            raise EdgecError(f"--prune {spec!r}: expected 'per-layer', got {parts[2]!r}")
        return PruneSpec("magnitude", _fraction(parts[1], spec), per_layer=per_layer,
                         block=block, exclude=tuple(exclude), text=spec)
    if block is not None:
        raise EdgecError(f"--prune {spec!r}: block= applies to magnitude pruning only")
    if kind == "channels" and 2 <= len(parts) <= 4:
        norm, allocation = _channel_options(parts[2:], spec)
        return PruneSpec("channels", _fraction(parts[1], spec), norm=norm,
                         allocation=allocation, exclude=tuple(exclude), text=spec)
    if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
        n, m = int(parts[0]), int(parts[1])
        if not 0 < n <= m:
            raise EdgecError(f"--prune {spec!r}: N:M needs 0 < N <= M")
        return PruneSpec("nm", 1.0 - n / m, n=n, m=m, exclude=tuple(exclude), text=spec)
    raise EdgecError(f"--prune {spec!r}: expected magnitude:S[:per-layer], "
                     f"channels:F[:l1|l2][:cost|uniform] or N:M, with optional ,exclude=PATTERN")
