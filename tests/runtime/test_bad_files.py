"""The runtime refuses damaged files with a status and a message; it never
crashes. (A crash would take the test process down with it.)"""

import numpy as np
import pytest
from support import TensorProto, helper, make_model

import edgec
from edgec.errors import RuntimeStatusError


@pytest.fixture(scope="module")
def program() -> bytes:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Add", ["x", "w"], ["a"]), helper.make_node("Relu", ["a"], ["r"]),
             helper.make_node("Reshape", ["r", "s"], ["y"])]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, (4, 6))}, {"y": TensorProto.FLOAT},
                       {"w": rng.standard_normal((4, 6)).astype(np.float32),
                        "s": np.array([6, 4], np.int64)})
    return edgec.compile(model)


def test_valid_program_runs(program: bytes) -> None:
    x = np.random.default_rng(1).standard_normal((4, 6)).astype(np.float32)
    (y,) = edgec.Session(program).run(None, {"x": x})
    assert y.shape == (6, 4)


@pytest.mark.parametrize("cut", [0, 1, 7, 8, 16, 64, 100, 200, -17, -16, -1])
def test_truncated(program: bytes, cut: int) -> None:
    with pytest.raises(RuntimeStatusError, match=r"malformed|footer|too small"):
        edgec.Session(program[:cut])


def test_every_single_bit_flip_in_the_table_is_caught(program: bytes) -> None:
    # The checksum catches corruption anywhere; every position is tried.
    for pos in range(0, len(program) - 16):
        damaged = bytearray(program)
        damaged[pos] ^= 1 << (pos % 8)
        with pytest.raises(RuntimeStatusError):
            edgec.Session(bytes(damaged))


def test_newer_format_version_is_refused_with_both_versions(program: bytes) -> None:
    from edgec.compiler import compile_program
    from edgec.format import writer

    original = writer.FORMAT_VERSION
    writer.FORMAT_VERSION = 7
    try:
        data = writer.serialize(compile_program(_tiny()).program)
    finally:
        writer.FORMAT_VERSION = original
    with pytest.raises(RuntimeStatusError, match="version 7 is newer than this runtime's \\(1\\)"):
        edgec.Session(data)


def _tiny():
    return make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": (TensorProto.FLOAT, (3,))},
                      {"y": TensorProto.FLOAT})


def test_wrong_identifier(program: bytes) -> None:
    import struct
    import zlib

    damaged = bytearray(program)
    damaged[4:8] = b"XXXX"
    end = len(damaged) - 16
    damaged[-12:-8] = struct.pack("<I", zlib.crc32(bytes(damaged[:end])))
    with pytest.raises(RuntimeStatusError, match="identifier"):
        edgec.Session(bytes(damaged))


def _with_valid_crc(data: bytearray) -> bytes:
    import struct
    import zlib

    end = len(data) - 16
    data[-12:-8] = struct.pack("<I", zlib.crc32(bytes(data[:end])))
    return bytes(data)


def test_table_mutations_past_the_checksum_never_crash(program: bytes) -> None:
    """With the checksum recomputed, only the verifier stands between a
    damaged table and the kernels: every byte of the table is mutated."""
    from edgec.fb.Program import Program

    table_end = Program.GetRootAs(program, 0).SegmentBase()
    accepted = 0
    for pos in range(table_end):
        for value in (0x00, 0xFF, program[pos] ^ 0x80):
            damaged = bytearray(program)
            damaged[pos] = value
            try:
                session = edgec.Session(_with_valid_crc(damaged))
            except RuntimeStatusError:
                continue
            accepted += 1
            try:  # an accepted file must run (or refuse the input) without crashing
                session.run(None, {a.name: np.ones(a.shape, a.dtype)
                                   for a in session.get_inputs()})
            except edgec.EdgecError:
                pass
    assert accepted < 3 * table_end  # most mutations are refused
