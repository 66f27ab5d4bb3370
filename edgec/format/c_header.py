"""Generates runtime_c/src/generated/schema.h from schemas/edgec.fbs.

Run `python -m edgec.format.c_header` after editing the schema; a test fails
when the checked-in header is stale.
"""

from __future__ import annotations

import re
import sys

from edgec.format import schema_parse

HEADER_PATH = schema_parse.SCHEMA_PATH.parents[1] / "runtime_c" / "src" / "generated" / "schema.h"

_SCALAR_DEFAULTS = {"bool": "0", "float": "0.0f"}


def _macro(*parts: str) -> str:
    return "_".join(re.sub(r"\W", "", p).upper() for p in parts)


def _default(ftype: str, default: str | None, schema: schema_parse.Schema) -> str | None:
    if ftype.startswith("[") or ftype == "string" or ftype in schema.tables:
        return None
    if ftype in schema.unions:
        return None
    if ftype in schema.enums:
        if default is None:
            return "0"
        return str(dict(schema.enums[ftype].values)[default])
    if default is None:
        return _SCALAR_DEFAULTS.get(ftype, "0")
    if ftype == "bool":
        return "1" if default == "true" else "0"
    if ftype in ("float", "double"):
        return f"{float(default)!r}f" if ftype == "float" else repr(float(default))
    return default


def render(schema: schema_parse.Schema) -> str:
    out = [
        "/* Generated from schemas/edgec.fbs by edgec/format/c_header.py. Do not edit. */",
        "#ifndef EDGEC_GENERATED_SCHEMA_H_",
        "#define EDGEC_GENERATED_SCHEMA_H_",
        "",
        f'#define EC_FB_FILE_IDENTIFIER "{schema.file_identifier}"',
        "",
    ]
    for enum in schema.enums.values():
        out.append(f"/* enum {enum.name} : {enum.base} */")
        for key, value in enum.values:
            suffix = "ull" if enum.bit_flags else ""
            out.append(f"#define EC_FB_{_macro(enum.name, key)} {value}{suffix}")
        out.append("")
        if enum.name == "Opcode":  # the kernels' names (runtime_c/src/kernels/registry.c)
            for key, _ in enum.values:
                out.append(f'#define EC_FB_OPNAME_{_macro(key)} "{key.lower()}"')
            out.append("")
    for union, members in schema.unions.items():
        out.append(f"/* union {union} */")
        for i, member in enumerate(members, start=1):
            out.append(f"#define EC_FB_{_macro(union, member)} {i}")
        out.append(f"#define EC_FB_{_macro(union)}_COUNT {len(members)}")
        # the members' names, each ended by a NUL, in order (messages)
        names = "".join(f"{m}\\0" for m in members)
        out.append(f'#define EC_FB_{_macro(union)}_NAMES "{names}"')
        out.append("")
    for table in schema.tables.values():
        out.append(f"/* table {table.name}: field ids (vtable slots) and defaults */")
        for f in table.fields:
            base = _macro(table.name, f.name)
            if f.type in schema.unions:
                out.append(f"#define EC_FB_{base}_TYPE {f.slot - 1}")
            out.append(f"#define EC_FB_{base} {f.slot}")
            value = _default(f.type, f.default, schema)
            if value is not None:
                out.append(f"#define EC_FB_{base}_DEFAULT {value}")
        out.append("")
    out.append("#endif /* EDGEC_GENERATED_SCHEMA_H_ */")
    return "\n".join(out) + "\n"


def main() -> int:
    HEADER_PATH.parent.mkdir(parents=True, exist_ok=True)
    HEADER_PATH.write_text(render(schema_parse.load()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
