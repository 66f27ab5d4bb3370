"""Generates docs/operators.md: every ONNX operator edgec compiles and what runs it.

    python -m edgec.opdocs            # rewrite docs/operators.md
    python -m edgec.opdocs --check    # exit 1 if it is stale (tests/conformance runs this)

Derived from the code, not written by hand:

- the ONNX ops: the lowering registry (edgec.lower), and how each is lowered
  (instructions, an alias, a compile-time constant, its ONNX function body);
- their ONNX versions: the op's schema versions in the installed onnx (models
  of an opset below edgec.frontend's TARGET_OPSET are upgraded to it first);
- the opcodes each lowering emits: from the lowering's source and its
  module's op -> opcode tables;
- the runtime kernels: the EC_OP lines of runtime_c/src/kernels/ops_all.def
  and the files they include, each kernel's source file, and its CPU variants
  (portable C, plus the x86 families of kernel.h's EC_VARIANT_* when the
  kernel reads Instruction.variant).

Only the dtypes each kernel takes are a table here (KERNEL_DTYPES), kept
beside the kernels' own header comments; a kernel missing from it shows "?".
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import onnx

from edgec.fb.Opcode import Opcode

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operators.md"
KERNELS = ROOT / "runtime_c" / "src" / "kernels"

_F = "float32"
_FH = "float32, float16"
_FL = "float32, float16, float64, bfloat16"
_NUM8 = "float32, float16, int8, uint8, int32, int64"
_NUM = f"{_FL}, int8, uint8, int16, uint16, int32, uint32, int64, uint64"
_INT = "int8, uint8, int16, uint16, int32, uint32, int64, uint64"
_ANY = "any"
KERNEL_DTYPES: dict[str, str] = {
    **dict.fromkeys(["CONV", "CONV_TRANSPOSE", "MAX_POOL", "AVERAGE_POOL",
                     "LP_POOL", "BATCH_NORM", "LRN", "SOFTMAX", "LOG_SOFTMAX", "LAYER_NORM",
                     "ARG_MAX", "ARG_MIN", "SPARSE_GEMM", "SPARSE_CONV", "INVERTED_RESIDUAL",
                     "ATTENTION"], _F),
    **dict.fromkeys(["GEMM", "MATMUL"], "float32, float64"),
    **dict.fromkeys(["REDUCE_MEAN", "REDUCE_SUM", "REDUCE_PROD", "REDUCE_L1", "REDUCE_L2",
                     "REDUCE_SUM_SQUARE", "REDUCE_LOG_SUM_EXP"], _FL),
    **dict.fromkeys(["REDUCE_MAX", "REDUCE_MIN"],
                    f"{_FL}, bool, int8, uint8, int16, uint16, int32, uint32"),
    **dict.fromkeys(["ADD", "SUB", "MUL", "DIV", "MIN", "MAX", "MOD"], _NUM),
    "POW": "float32, float16, float64, bfloat16, int32, int64",
    **dict.fromkeys(["EQUAL", "LESS", "GREATER", "LESS_OR_EQUAL", "GREATER_OR_EQUAL"],
                    f"{_NUM} -> bool"),
    **dict.fromkeys(["AND", "OR", "XOR", "NOT"], "bool"),
    **dict.fromkeys(["SQRT", "EXP", "LOG", "NEG", "ABS", "RECIPROCAL", "RELU", "LEAKY_RELU",
                     "CLIP", "SIGMOID", "TANH", "HARD_SIGMOID", "HARD_SWISH", "GELU", "ERF",
                     "SOFTPLUS", "ELU", "SELU", "FLOOR", "CEIL", "ROUND", "SIN", "COS", "SIGN",
                     "SOFTSIGN", "MISH", "ACOS", "ACOSH", "ASIN", "ASINH", "ATAN", "ATANH",
                     "COSH", "SINH", "TAN"], _FL),
    **dict.fromkeys(["COPY", "CONCAT", "SPLIT", "TRANSPOSE", "EXPAND", "SLICE", "PAD", "TILE",
                     "TRILU"], _ANY),
    "CAST": "any (both ways)",
    "WHERE": "bool condition; any",
    "GATHER": "any; int32/int64 indices",
    "RESIZE": "any (nearest), float32 (linear, cubic)",
    "GATHER_ELEMENTS": "any; int32/int64 indices",
    "GATHER_ND": "any; int32/int64 indices",
    "SCATTER_ELEMENTS": f"any; reductions on {_NUM8}",
    "SCATTER_ND": f"any; reductions on {_NUM8}",
    **dict.fromkeys(["CUMSUM", "CUMPROD"], _NUM),
    "TOP_K": f"{_NUM}; int64 indices",
    "ONE_HOT": "float32/int8/uint8/int32/int64 indices; any values",
    "HARDMAX": _FH,
    **dict.fromkeys(["IS_INF", "IS_NAN"], f"{_FL} -> bool"),
    **dict.fromkeys(["BIT_SHIFT", "BITWISE_AND", "BITWISE_OR", "BITWISE_XOR", "BITWISE_NOT"],
                    _INT),
    # data-dependent output shapes (docs/dynamic_shapes.md)
    "NON_ZERO": "any -> int64",
    "NON_MAX_SUPPRESSION": "float32 boxes and scores -> int64",
    "UNIQUE": "any; int64 indices, inverse indices, counts",
    "COMPRESS": "any; bool condition",
    "RESHAPE": _ANY,
    **dict.fromkeys(["TRANSPOSE_DYN", "SLICE_DYN"], _ANY),
    "GATHER_DYN": "any; int32/int64 indices",
    "CAST_DYN": "any (both ways)",
    "QUANTIZE_LINEAR": "float32 -> int8/uint8/int16/uint16",
    "DEQUANTIZE_LINEAR": "int8/uint8/int16/uint16/int32 -> float32",
}


# ---- the runtime's kernel table ------------------------------------------------------


@dataclass(frozen=True)
class Kernel:
    opcode: str
    symbol: str
    source: str  # path relative to the repo, or "" if not found
    variants: tuple[str, ...]


def _def_lines(path: Path, seen: set[Path]) -> list[tuple[str, str]]:
    """EC_OP(OPCODE, symbol) entries of a .def file and the files it includes."""
    if path in seen or not path.exists():
        return []
    seen.add(path)
    out: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        inc = re.match(r'\s*#include\s+"kernels/([^"]+)"', line)
        if inc:
            out += _def_lines(KERNELS / inc.group(1), seen)
            continue
        op = re.match(r"\s*EC_OP\((\w+),\s*(\w+)\)", line)
        if op:
            out.append((op.group(1), op.group(2)))
    return out


def _variant_families() -> tuple[str, ...]:
    """The kernel families of kernel.h's EC_VARIANT_* (REF, AVX2, ...), in order."""
    text = (ROOT / "runtime_c" / "src" / "kernel.h").read_text()
    names = re.findall(r"\bEC_VARIANT_(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)", text)
    return tuple(name.lower() for name, value in names
                 if int(value, 0) < 0x100 and name not in ("BEST", "FAMILY_MASK"))


def kernels() -> list[Kernel]:
    sources = {}
    for path in sorted(KERNELS.rglob("*.c")):
        text = path.read_text()
        for sym in re.findall(r"\bEC_KERNEL\((\w+),", text):
            sources[sym] = path
        if "ec_kernel_##" in text:  # kernels defined by a macro: NAME(suffix, ...) lines
            for suffix in re.findall(r"^[A-Z_0-9]+\((\w+)[,)]", text, re.MULTILINE):
                sources.setdefault(f"ec_kernel_{suffix}", path)
    families = _variant_families()
    out = []
    for opcode, symbol in _def_lines(KERNELS / "ops_all.def", set()):
        source = sources.get(symbol)
        text = source.read_text() if source else ""
        variants = families if "ec_variant_isa" in text else families[:1]
        out.append(Kernel(opcode, symbol, str(source.relative_to(ROOT)) if source else "",
                          variants))
    return out


# ---- the ONNX ops --------------------------------------------------------------------


@dataclass(frozen=True)
class OpInfo:
    op: str
    versions: tuple[int, ...]
    how: str  # instructions | alias | constant | function
    opcodes: tuple[str, ...]
    module: str


_OPCODE_NAMES = {v: k for k, v in vars(Opcode).items() if not k.startswith("_")}


def _schema_versions() -> dict[str, tuple[int, ...]]:
    versions: dict[str, set[int]] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            versions.setdefault(schema.name, set()).add(schema.since_version)
    return {k: tuple(sorted(v)) for k, v in versions.items()}


def _table_opcodes(module: ModuleType, op: str) -> list[str]:
    """The opcode a module-level op -> Opcode table gives op, if any."""
    found = []
    for value in vars(module).values():
        if not isinstance(value, dict) or op not in value:
            continue
        entry = value[op]
        entry = entry[0] if isinstance(entry, tuple) and entry else entry
        if isinstance(entry, int) and not isinstance(entry, bool) and entry in _OPCODE_NAMES:
            found.append(_OPCODE_NAMES[entry])
    return found


def _source(fn: object, module: ModuleType) -> str:
    """The function's source and that of the module's functions it calls (one level)."""
    src = inspect.getsource(fn)  # type: ignore[arg-type]
    parts = [src]
    for name in dict.fromkeys(re.findall(r"\b(_\w+)\(", src)):
        helper = getattr(module, name, None)
        if inspect.isfunction(helper) and helper.__module__ == module.__name__:
            parts.append(inspect.getsource(helper))
    return "\n".join(parts)


def _opcodes(fn: object, module: ModuleType, op: str) -> list[str]:
    src = _source(fn, module)
    pairs = re.findall(r'"(\w+)":\s*Opcode\.(\w+)', src)
    keyed = {opc for _, opc in pairs}
    own = [opc for key, opc in pairs if key == op]
    rest = [opc for opc in re.findall(r"Opcode\.(\w+)", src) if opc not in keyed]
    ordered = list(dict.fromkeys(_table_opcodes(module, op) + own + rest))
    # COPY (a same-dtype Cast, a one-input Sum, ...) is the degenerate case: listed last.
    return sorted(ordered, key=lambda o: o == "COPY")


def ops() -> list[OpInfo]:
    from edgec.lower import context, misc

    versions = _schema_versions()
    out = []
    for op in sorted(context._REGISTRY):
        fn = context._REGISTRY[op]
        module = sys.modules[fn.__module__]
        src = inspect.getsource(fn)
        if op in misc.FUNCTION_OPS:
            how, opcodes = "function", []
        elif "_lower_body(" in src:
            how, opcodes = "rewrite", []
        else:
            opcodes = _opcodes(fn, module, op)
            if opcodes:
                how = "instructions"
            elif "ctx.alias(" in src:
                how = "alias"
            elif "_fold(" in src:
                how = "constant"
            else:
                how = "instructions"
        out.append(OpInfo(op, versions.get(op, ()), how, tuple(opcodes),
                          fn.__module__.removeprefix("edgec.lower.")))
    return out


# ---- the document --------------------------------------------------------------------


_HOW = {
    "alias": "alias (no instruction: the output shares the input's bytes)",
    "constant": "computed at compile time",
    "function": "its ONNX function body, lowered op by op",
    "rewrite": "rewritten into other ONNX ops (see its module), lowered op by op",
}


def _versions(vs: tuple[int, ...]) -> str:
    return ", ".join(str(v) for v in vs) if vs else "-"


def render() -> str:
    from edgec.frontend.onnx_import import TARGET_OPSET

    kernel_list = kernels()
    by_opcode = {k.opcode: k for k in kernel_list}
    op_list = ops()
    lines = [
        "# Supported operators",
        "",
        "Generated by `python -m edgec.opdocs` from the lowering registry (`edgec/lower`) and "
        "the runtime's kernel table (`runtime_c/src/kernels/ops_all.def`); "
        "`tests/conformance/test_opdocs.py` fails when this file is stale. "
        f"Models of an opset below {TARGET_OPSET} are upgraded to opset {TARGET_OPSET} "
        "first; *ONNX versions* lists the op's schema versions in onnx "
        f"{onnx.__version__}. What edgec leaves out on purpose, and why: "
        "`edgec/unsupported.py` (see [conformance.md](conformance.md)).",
        "",
        f"{len(op_list)} ONNX operators (default domain), {len(kernel_list)} runtime kernels.",
        "",
        "## ONNX operators",
        "",
        "| op | ONNX versions | lowered to | dtypes (first kernel) | CPU variants | module |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for info in op_list:
        if info.opcodes:
            how = ", ".join(f"`{o}`" for o in info.opcodes)
            first = by_opcode.get(info.opcodes[0])
            dtypes = KERNEL_DTYPES.get(info.opcodes[0], "?")
            variants = ", ".join(first.variants) if first else "?"
        else:
            how, dtypes, variants = _HOW.get(info.how, info.how), "-", "-"
            if info.how in ("function", "rewrite"):
                dtypes = "those of the body's ops"
        lines.append(f"| {info.op} | {_versions(info.versions)} | {how} | {dtypes} | "
                     f"{variants} | {info.module} |")
    lines += [
        "",
        "## Runtime kernels",
        "",
        "| opcode | value | kernel | source | dtypes | CPU variants |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for k in sorted(kernel_list, key=lambda k: getattr(Opcode, k.opcode, 1 << 16)):
        value = getattr(Opcode, k.opcode, "?")
        lines.append(f"| `{k.opcode}` | {value} | `{k.symbol}` | `{k.source or '?'}` | "
                     f"{KERNEL_DTYPES.get(k.opcode, '?')} | {', '.join(k.variants)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/operators.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale: run python -m edgec.opdocs", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
