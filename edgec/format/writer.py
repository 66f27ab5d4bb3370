"""Serializes a planned Program into .edgeb bytes (layout in schemas/edgec.fbs)."""

from __future__ import annotations

import struct
import zlib

import flatbuffers
import numpy as np

from edgec.fb import OpOptions
from edgec.fb.Block import BlockT
from edgec.fb.Instruction import InstructionT
from edgec.fb.Metadata import MetadataT
from edgec.fb.Program import ProgramT
from edgec.fb.Quantization import QuantizationT
from edgec.fb.Segment import SegmentT
from edgec.fb.SparseEncoding import SparseEncodingT
from edgec.fb.StorageKind import StorageKind
from edgec.fb.Tensor import TensorT
from edgec.program import DTYPES, Instruction, Program

FORMAT_VERSION = 1
FILE_IDENTIFIER = b"EDGB"
SEGMENT_ALIGN = 64
FOOTER_MAGIC = b"ECF1"


def _align(n: int, a: int = SEGMENT_ALIGN) -> int:
    return (n + a - 1) // a * a


def _options_type(options: object) -> int:
    name = type(options).__name__
    if not name.endswith("T"):
        raise TypeError(f"not an options table: {name}")
    return getattr(OpOptions.OpOptions, name[:-1])


def _segments(program: Program) -> tuple[list[bytes], dict[int, int], dict[int, tuple[int, int]]]:
    """Constant bytes, one segment per distinct content; tensor -> segment, and
    for sparse tensors (edgec.prune.encoding) tensor -> (indptr, indices) segments."""
    payloads: list[bytes] = []
    by_content: dict[bytes, int] = {}
    segment_of: dict[int, int] = {}
    sparse_of: dict[int, tuple[int, int]] = {}

    def add(raw: bytes) -> int:
        if raw not in by_content:
            by_content[raw] = len(payloads)
            payloads.append(raw)
        return by_content[raw]

    for i, t in enumerate(program.tensors):
        if t.data is None:
            continue
        segment_of[i] = add(np.ascontiguousarray(t.data, dtype=t.dtype).tobytes())
        sparse = getattr(t, "sparse", None)
        if sparse is not None:
            sparse_of[i] = (add(np.ascontiguousarray(sparse.indptr).tobytes()),
                            add(np.ascontiguousarray(sparse.indices).tobytes()))
    return payloads, segment_of, sparse_of


def _sparse_table(sparse: object, segments: tuple[int, int]) -> SparseEncodingT:
    enc = SparseEncodingT()
    enc.format = sparse.format  # type: ignore[attr-defined]
    enc.block = [int(b) for b in sparse.block]  # type: ignore[attr-defined]
    enc.indptrSegment, enc.indicesSegment = segments
    enc.indexBytes = sparse.index_bytes  # type: ignore[attr-defined]
    return enc


def _instruction_table(ins: Instruction) -> InstructionT:
    it = InstructionT()
    it.opcode = ins.opcode
    it.variant = ins.variant
    it.inputs = list(ins.inputs)
    it.outputs = list(ins.outputs)
    it.name = ins.name
    if ins.options is not None:
        it.optionsType = _options_type(ins.options)
        it.options = ins.options
    it.scratchSize = ins.scratch_size
    return it


def _program_table(program: Program, segment_of: dict[int, int], payloads: list[bytes],
                   segment_base: int,
                   sparse_of: dict[int, tuple[int, int]] | None = None) -> ProgramT:
    root = ProgramT()
    root.formatVersion = FORMAT_VERSION
    root.tensors = []
    for i, t in enumerate(program.tensors):
        tt = TensorT()
        tt.name = t.name
        tt.dtype = DTYPES[t.dtype]
        tt.shape = [int(d) for d in t.shape]
        tt.size = t.nbytes
        tt.dynamicDims = t.dynamic
        if i in segment_of:
            tt.storage = StorageKind.CONSTANT
            tt.segment = segment_of[i]
        else:
            tt.storage = StorageKind.ARENA
            tt.offset = t.offset
        if t.quant is not None:
            q = QuantizationT()
            q.scales = [float(s) for s in np.asarray(t.quant.scales).ravel()]
            q.zeroPoints = [int(z) for z in np.asarray(t.quant.zero_points).ravel()]
            q.axis = t.quant.axis
            tt.quant = q
        if sparse_of and i in sparse_of:
            tt.sparse = _sparse_table(t.sparse, sparse_of[i])  # type: ignore[attr-defined]
        root.tensors.append(tt)
    root.instructions = [_instruction_table(ins) for ins in program.instructions]
    if program.blocks:
        root.blocks = []
        for block in program.blocks:
            bt = BlockT()
            bt.instructions = [_instruction_table(ins) for ins in block]
            root.blocks.append(bt)
    root.inputs = list(program.inputs)
    root.outputs = list(program.outputs)
    root.segments = []
    offset = 0
    for raw in payloads:
        seg = SegmentT()
        seg.offset = offset
        seg.size = len(raw)
        root.segments.append(seg)
        offset = _align(offset + len(raw))
    root.segmentBase = segment_base
    root.arenaSize = program.arena_size
    meta = MetadataT()
    meta.producer = program.metadata.get("producer", "edgec")
    meta.producerVersion = program.metadata.get("producer_version", "")
    meta.sourceSha256 = program.metadata.get("source_sha256", "")
    meta.compileOptions = program.metadata.get("compile_options", "")
    meta.target = program.metadata.get("target", "")
    root.metadata = meta
    return root


def _pack(root: ProgramT) -> bytes:
    builder = flatbuffers.Builder(1 << 16)
    builder.Finish(root.Pack(builder), file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())


def serialize(program: Program) -> bytes:
    payloads, segment_of, sparse_of = _segments(program)
    # The table records where the segments start, which depends on the
    # table's own size: pack once with a placeholder of the same width.
    probe = _pack(_program_table(program, segment_of, payloads, 1 << 62, sparse_of))
    base = _align(len(probe))
    table = _pack(_program_table(program, segment_of, payloads, base, sparse_of))
    if len(table) != len(probe):
        raise AssertionError("program table size changed between passes")
    out = bytearray(table)
    out += bytes(base - len(out))
    for raw in payloads:
        out += raw
        out += bytes(_align(len(out)) - len(out))
    end = len(out)
    out += FOOTER_MAGIC + struct.pack("<IQ", zlib.crc32(out) & 0xFFFFFFFF, end)
    return bytes(out)
