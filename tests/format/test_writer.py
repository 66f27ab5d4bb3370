"""Layout of .edgeb files: alignment, footer, checksum, determinism."""

import struct
import zlib

import numpy as np
from support import TensorProto, helper, make_model

import edgec
from edgec.compiler import compile_program
from edgec.fb.Program import Program
from edgec.format.reader import read_program


def _model(seed: int = 0):
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("Add", ["x", "w1"], ["a"]),
             helper.make_node("Mul", ["a", "w2"], ["b"]),
             helper.make_node("Add", ["b", "w3"], ["y"])]
    inits = {"w1": rng.standard_normal((3, 5)).astype(np.float32),
             "w2": rng.standard_normal((5,)).astype(np.float32),
             "w3": rng.standard_normal((1, 5)).astype(np.float32)}
    return make_model(nodes, {"x": (TensorProto.FLOAT, (3, 5))}, {"y": TensorProto.FLOAT}, inits)


def test_same_input_gives_identical_bytes() -> None:
    assert edgec.compile(_model()) == edgec.compile(_model())


def test_different_weights_give_different_bytes() -> None:
    assert edgec.compile(_model(0)) != edgec.compile(_model(1))


def test_segments_are_aligned_and_footer_checks() -> None:
    data = edgec.compile(_model())
    prog = Program.GetRootAs(data, 0)
    base = prog.SegmentBase()
    assert base % 64 == 0
    for i in range(prog.SegmentsLength()):
        seg = prog.Segments(i)
        assert seg.Offset() % 64 == 0
        assert base + seg.Offset() + seg.Size() <= len(data) - 16
    magic, (crc, end) = data[-16:-12], struct.unpack("<IQ", data[-12:])
    assert magic == b"ECF1" and end == len(data) - 16
    assert zlib.crc32(data[:end]) == crc


def test_constants_stored_in_segments_not_the_table() -> None:
    big = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])],
                       {"x": (TensorProto.FLOAT, (256, 256))}, {"y": TensorProto.FLOAT}, {"w": big})
    info = read_program(edgec.compile(model))
    assert info.table_size < 4096
    assert info.constants_size >= big.nbytes


def test_metadata_records_source_and_options() -> None:
    result = compile_program(_model())
    info = read_program(result.data)
    assert info.metadata["producer"] == "edgec"
    assert len(info.metadata["source_sha256"]) == 64
    assert '"target": "host"' in info.metadata["compile_options"]
    assert [info.tensors[i].name for i in info.inputs] == ["x"]
    assert [info.tensors[i].name for i in info.outputs] == ["y"]


def test_identical_constants_share_one_segment() -> None:
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    nodes = [helper.make_node("Add", ["x", "w1"], ["a"]),
             helper.make_node("Add", ["a", "w2"], ["y"])]
    model = make_model(nodes, {"x": (TensorProto.FLOAT, (3, 4))}, {"y": TensorProto.FLOAT},
                       {"w1": w, "w2": w.copy()})
    prog = Program.GetRootAs(edgec.compile(model), 0)
    assert prog.SegmentsLength() == 1
