"""The code derived from schemas/edgec.fbs must match the schema."""

import filecmp
from pathlib import Path

from edgec.format import c_header, generate, schema_parse


def test_c_header_is_current() -> None:
    assert c_header.HEADER_PATH.read_text() == c_header.render(schema_parse.load()), (
        "runtime_c/src/generated/schema.h is stale: run python -m edgec.format.generate")


def test_python_code_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "fb"
    generate.generate_python(fresh)
    cmp = filecmp.dircmp(fresh, generate.PYTHON_OUT, ignore=["__pycache__"])
    stale = cmp.diff_files + cmp.left_only + cmp.right_only
    assert not stale, f"edgec/fb is stale ({stale[:5]}): run python -m edgec.format.generate"


def test_union_fields_take_two_slots() -> None:
    schema = schema_parse.load()
    fields = {f.name: f.slot for f in schema.tables["Instruction"].fields}
    # options_type occupies slot 5, options itself slot 6
    assert fields["options"] == fields["outputs"] + 2
