"""A small parser for the subset of the FlatBuffers IDL that schemas/edgec.fbs uses.

It exists so the C runtime's field ids, enum values and defaults are generated
from the one schema instead of being written by hand (flatc emits no C).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "edgec.fbs"


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    default: str | None
    slot: int  # vtable slot (field id); a union field uses slot-1 for its type


@dataclass
class Table:
    name: str
    fields: list[Field] = field(default_factory=list)


@dataclass
class Enum:
    name: str
    base: str
    values: list[tuple[str, int]]
    bit_flags: bool


@dataclass
class Schema:
    tables: dict[str, Table]
    enums: dict[str, Enum]
    unions: dict[str, list[str]]
    file_identifier: str


_BLOCK = re.compile(
    r"^(table|enum|union)\s+(\w+)\s*(?::\s*(\w+))?\s*(\(bit_flags\))?\s*\{(.*?)\}",
    re.S | re.M,
)


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", text)


def parse(text: str) -> Schema:
    text = _strip_comments(text)
    unions: dict[str, list[str]] = {}
    enums: dict[str, Enum] = {}
    raw_tables: list[tuple[str, str]] = []
    for kind, name, base, flags, body in _BLOCK.findall(text):
        if kind == "table":
            raw_tables.append((name, body))
        elif kind == "union":
            unions[name] = [m.strip() for m in body.split(",") if m.strip()]
        else:
            values: list[tuple[str, int]] = []
            nxt = 0
            for item in (s.strip() for s in body.split(",")):
                if not item:
                    continue
                if "=" in item:
                    key, val = (s.strip() for s in item.split("="))
                    nxt = int(val, 0)
                else:
                    key = item
                values.append((key, (1 << nxt) if flags else nxt))
                nxt += 1
            enums[name] = Enum(name, base, values, bool(flags))
    tables: dict[str, Table] = {}
    for name, body in raw_tables:
        table = Table(name)
        slot = 0
        for decl in (s.strip() for s in body.split(";")):
            if not decl:
                continue
            m = re.fullmatch(r"(\w+)\s*:\s*([\w\[\]]+)\s*(?:=\s*([^\s]+))?", decl)
            if not m:
                raise ValueError(f"cannot parse field {decl!r} in table {name}")
            fname, ftype, default = m.groups()
            if ftype in unions:
                slot += 1  # the hidden <name>_type field takes the slot before
            table.fields.append(Field(fname, ftype, default, slot))
            slot += 1
        tables[name] = table
    ident = re.search(r'file_identifier\s+"(\w{4})"', text)
    if not ident:
        raise ValueError("schema has no file_identifier")
    return Schema(tables, enums, unions, ident.group(1))


def load() -> Schema:
    return parse(SCHEMA_PATH.read_text())
