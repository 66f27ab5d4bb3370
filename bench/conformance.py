"""ONNX backend conformance of edgec, beside onnxruntime's, in one run.

Runs ONNX's own backend test suite (onnx.backend.test.BackendTest: the node
tests, simple, pytorch-converted, pytorch-operator and light models) through
edgec.onnx_backend and through onnxruntime.backend, then prints passed /
failed / unsupported-on-purpose per set and per operator, and writes the same
as markdown (and every outcome as JSON).

    python bench/conformance.py                        # everything, both backends
    python bench/conformance.py --sets node -k resize  # a subset
    python bench/conformance.py --backends edgec --failures   # list edgec's failures
    python bench/conformance.py --write-known-failures # refresh tests/conformance/known_failures.py

Set EDGEC_RUNTIME_LIB to run a runtime built outside the package.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "conformance"))
sys.path.insert(0, str(REPO))

import harness  # noqa: E402

STATUSES = ("passed", "failed", "unsupported", "skipped")
BACKENDS = ("edgec", "onnxruntime")


def _backend(name: str) -> Any:
    if name == "edgec":
        return harness.EdgecTestBackend
    import onnxruntime
    import onnxruntime.backend

    onnxruntime.set_default_logger_severity(3)  # errors only: the table is the output
    return onnxruntime.backend


def run_backend(name: str, sets: list[str], pattern: re.Pattern[str] | None,
                verbose: bool) -> dict[str, dict[str, harness.Outcome]]:
    """set -> test name -> outcome."""
    tests = harness.collect(harness.make_runner(_backend(name)))
    results: dict[str, dict[str, harness.Outcome]] = {}
    for set_name in sets:
        results[set_name] = {}
        for test_name, fn in tests[set_name].items():
            if pattern is not None and not pattern.search(test_name):
                continue
            outcome = harness.run_test(fn)
            results[set_name][test_name] = outcome
            if verbose:
                print(f"{name:12s} {set_name:18s} {test_name:60s} {outcome.status:11s} "
                      f"{outcome.seconds:6.2f}s {outcome.message[:120]}", flush=True)
    return results


def _counts(outcomes: list[harness.Outcome]) -> Counter[str]:
    return Counter(o.status for o in outcomes)


def _cell(c: Counter[str], total: int) -> str:
    return f"{c['passed']}/{total}"


def summarize(results: dict[str, dict[str, dict[str, harness.Outcome]]], sets: list[str]
              ) -> tuple[list[list[str]], list[list[str]]]:
    """(per-set rows, per-op rows) of the report table."""
    backends = [b for b in BACKENDS if b in results]
    header = ["set", "tests"]
    for b in backends:
        header += [f"{b} passed", f"{b} failed", f"{b} unsupported", f"{b} skipped"]
    set_rows = [header]
    for set_name in sets:
        names = sorted(next(iter(results.values()))[set_name])
        row = [set_name, str(len(names))]
        for b in backends:
            c = _counts(list(results[b][set_name].values()))
            row += [str(c[s]) for s in STATUSES]
        set_rows.append(row)
    # per op (node set) / per set (models)
    op_header = ["op", "tests"] + [f"{b} passed" for b in backends] + \
        ["edgec failed", "edgec unsupported"] * ("edgec" in results)
    op_rows = [op_header]
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for set_name in sets:
        names = sorted(next(iter(results.values()))[set_name])
        for test_name, op in harness.test_ops(set_name, names).items():
            groups[op if set_name == "node" else f"({set_name})"].append((set_name, test_name))
    for op in sorted(groups, key=lambda k: (k.startswith("("), k.lower())):
        members = groups[op]
        row = [op, str(len(members))]
        for b in backends:
            c = _counts([results[b][s][t] for s, t in members])
            row.append(str(c["passed"]))
        if "edgec" in results:
            c = _counts([results["edgec"][s][t] for s, t in members])
            row += [str(c["failed"]), str(c["unsupported"])]
        op_rows.append(row)
    return set_rows, op_rows


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
             for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def _totals(results: dict[str, dict[str, dict[str, harness.Outcome]]], sets: list[str]
            ) -> str:
    lines = []
    for b in (b for b in BACKENDS if b in results):
        for group, members in (("node", [s for s in sets if s == "node"]),
                               ("models", [s for s in sets if s != "node"])):
            if not members:
                continue
            outs = [o for s in members for o in results[b][s].values()]
            c = _counts(outs)
            lines.append(f"- {b}, {group}: {c['passed']}/{len(outs)} passed, {c['failed']} "
                         f"failed, {c['unsupported']} unsupported on purpose, "
                         f"{c['skipped']} skipped")
    return "\n".join(lines)


def _chunks(text: str, width: int) -> list[str]:
    """text cut at spaces (and inside longer words) into pieces of at most width
    characters that concatenate back to text."""
    pieces: list[str] = []
    current = ""
    words = [w[i:i + width] for w in re.split(r"(?<= )", text) for i in range(0, len(w), width)]
    for word in words:
        if current and len(current) + len(word) > width:
            pieces.append(current)
            current = ""
        current += word
    if current:
        pieces.append(current)
    return pieces


def write_known_failures(path: Path, results: dict[str, dict[str, harness.Outcome]]) -> None:
    """Rewrites the known-failures list from edgec's failures in this run."""
    entries = sorted((name, o.message) for outcomes in results.values()
                     for name, o in outcomes.items() if o.status == "failed")
    lines = [
        '"""edgec\'s known failures in ONNX\'s backend test suite: test name (without the',
        "_cpu suffix) -> why it fails today (the first line of the error).",
        "",
        "The CI selection (tests/conformance/test_onnx_backend.py) skips these; the full",
        "run (-m slow) marks them xfail, so a fixed one shows as XPASS. Generated: after a",
        "fix, rerun `python bench/conformance.py --backends edgec --write-known-failures`",
        '(see docs/conformance.md)."""',
        "",
        "KNOWN_FAILURES: dict[str, str] = {",
    ]
    for name, message in entries:
        reason = " ".join(message.split()).removeprefix("EdgecError: ")
        one = f"    {name!r}: {reason!r},"
        if len(one) <= 100:
            lines.append(one)
            continue
        lines.append(f"    {name!r}:")
        pieces = _chunks(reason, 86)
        for i, piece in enumerate(pieces):
            lines.append(f"        {piece!r}{',' if i == len(pieces) - 1 else ''}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated: edgec, onnxruntime (default both)")
    parser.add_argument("--sets", default=",".join(harness.SETS),
                        help=f"comma-separated, of {', '.join(harness.SETS)}")
    parser.add_argument("-k", dest="pattern", help="only tests whose name matches this regex")
    parser.add_argument("--markdown", type=Path, default=REPO / "bench" / "out" /
                        "conformance.md", help="where to write the markdown report")
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "out" /
                        "conformance.json", help="where to write every outcome")
    parser.add_argument("--failures", action="store_true", help="list edgec's failures")
    parser.add_argument("--per-op", action="store_true", help="print the per-op table too")
    parser.add_argument("--write-known-failures", action="store_true",
                        help="rewrite tests/conformance/known_failures.py from this run")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per test")
    args = parser.parse_args(argv)
    backends = [b for b in args.backends.split(",") if b]
    sets = [s for s in args.sets.split(",") if s]
    for b in backends:
        if b not in BACKENDS:
            parser.error(f"unknown backend {b!r}")
    for s in sets:
        if s not in harness.SETS:
            parser.error(f"unknown set {s!r}")
    pattern = re.compile(args.pattern) if args.pattern else None

    results: dict[str, dict[str, dict[str, harness.Outcome]]] = {}
    seconds: dict[str, float] = {}
    for b in backends:
        start = time.perf_counter()
        results[b] = run_backend(b, sets, pattern, args.verbose)
        seconds[b] = time.perf_counter() - start
    set_rows, op_rows = summarize(results, sets)
    totals = _totals(results, sets)
    timing = ", ".join(f"{b} {s:.0f} s" for b, s in seconds.items())
    print(_table(set_rows))
    print()
    print(totals)
    print(f"(wall time: {timing})")
    if args.per_op:
        print()
        print(_table(op_rows))
    if args.failures and "edgec" in results:
        print()
        for set_name, outcomes in results["edgec"].items():
            for name, o in outcomes.items():
                if o.status == "failed":
                    print(f"{set_name:18s} {name:60s} {o.message}")

    import onnx
    import onnxruntime

    md = [
        "# ONNX backend conformance",
        "",
        f"onnx {onnx.__version__} backend test suite, edgec vs onnxruntime "
        f"{onnxruntime.__version__} (CPU), written by `python bench/conformance.py`.",
        "",
        totals,
        "",
        _table(set_rows),
        "",
        "## Per operator (node tests) and per model set",
        "",
        _table(op_rows),
        "",
    ]
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text("\n".join(md))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(
        {b: {s: {n: [o.status, o.message] for n, o in outs.items()}
             for s, outs in per_set.items()} for b, per_set in results.items()},
        indent=1, sort_keys=True))
    print(f"\nwrote {args.markdown} and {args.json}")
    if args.write_known_failures:
        if "edgec" not in results or pattern is not None or set(sets) != set(harness.SETS):
            parser.error("--write-known-failures needs an edgec run of every set without -k")
        target = REPO / "tests" / "conformance" / "known_failures.py"
        write_known_failures(target, results["edgec"])
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
