"""A generated corpus of malformed .edgeb files, each refused with a specific
status and a message that names the field or index at fault.

- damage to the bytes: truncation at every offset, bit flips (the checksum
  catches them), a wrong identifier, a newer format version, a broken footer;
- structural damage behind a valid checksum: a valid Program is compiled with
  edgec.compiler.compile_program, then damaged either in the Program itself or
  in the FlatBuffers object tree the writer builds from it (writer internals
  are wrapped for that), and serialized by edgec.format.writer.serialize, so
  only the runtime's verifier stands in the way;
- every file in tests/runtime/crashes/ (inputs the fuzzer once crashed on,
  see runtime_c/fuzz/) is replayed: refused, or loaded and run cleanly.

A crash in the runtime takes the test process down, so a passing run also
says that none of these files crashed it.
"""

from __future__ import annotations

import contextlib
import copy
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from support import TensorProto, helper, make_model

import edgec
from edgec.compiler import compile_program
from edgec.errors import RuntimeStatusError
from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Block import BlockT
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.InvertedResidualOptions import InvertedResidualOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.OpOptions import OpOptions
from edgec.fb.PadOptions import PadOptionsT
from edgec.fb.PoolOptions import PoolOptionsT
from edgec.fb.Program import Program as FbProgram
from edgec.fb.Quantization import QuantizationT
from edgec.fb.ResizeOptions import ResizeOptionsT
from edgec.fb.SliceOptions import SliceOptionsT
from edgec.fb.SparseEncoding import SparseEncodingT
from edgec.fb.TransposeOptions import TransposeOptionsT
from edgec.fb.UnaryOptions import UnaryOptionsT
from edgec.format import writer
from edgec.program import Program

# ec_status codes (runtime_c/include/edgec/edgec.h)
FORMAT, VERSION, CHECKSUM, UNSUPPORTED, NO_MEMORY, SHAPE, DTYPE = 3, 4, 5, 6, 7, 8, 9
FOOTER = 16
CRASHES = Path(__file__).resolve().parent / "crashes"

# ---- the valid programs that get damaged ----------------------------------


def _chain_model():
    """Add(x, w) -> Relu -> Reshape: tensors x, w (constant), a, r, y (alias)."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Add", ["x", "w"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "s"], ["y"], name="reshape")]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (4, 6))}, {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((4, 6)).astype(np.float32),
                       "s": np.array([6, 4], np.int64)})


def _two_constants_model():
    """Add(x, w) -> Mul(., v): two constants, so two segments."""
    rng = np.random.default_rng(1)
    nodes = [helper.make_node("Add", ["x", "w"], ["a"], name="add"),
             helper.make_node("Mul", ["a", "v"], ["y"], name="mul")]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (4, 6))}, {"y": TensorProto.FLOAT},
                      {"w": rng.standard_normal((4, 6)).astype(np.float32),
                       "v": rng.standard_normal((6,)).astype(np.float32)})


def _if_model():
    """If(c) over two blocks that read the outer x: y = x + 1 or x * 2."""
    def branch(name: str, op: str, k: float):
        nodes = [helper.make_node("Constant", [], [f"{name}_k"],
                                  value=helper.make_tensor("k", TensorProto.FLOAT, [], [k])),
                 helper.make_node(op, ["x", f"{name}_k"], [f"{name}_y"])]
        return helper.make_graph(nodes, name, [], [
            helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [3])])
    nodes = [helper.make_node("If", ["c"], ["y"], name="if", then_branch=branch("t", "Add", 1),
                              else_branch=branch("e", "Mul", 2))]
    return make_model(nodes, {"c": (TensorProto.BOOL, ()), "x": (TensorProto.FLOAT, (3,))},
                      {"y": TensorProto.FLOAT})


def _loop_model():
    """Loop(M = 4): v = v + x carried, v scanned."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond"], ["cond_out"]),
         helper.make_node("Add", ["v", "x"], ["v_out"]),
         helper.make_node("Relu", ["v_out"], ["s"])], "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info(n, t, None) for n, t in
         (("cond_out", TensorProto.BOOL), ("v_out", TensorProto.FLOAT),
          ("s", TensorProto.FLOAT))])
    nodes = [helper.make_node("Loop", ["M", "", "x"], ["v_final", "scan"], name="loop",
                              body=body)]
    return make_model(nodes, {"x": (TensorProto.FLOAT, (3,))},
                      {"v_final": TensorProto.FLOAT, "scan": TensorProto.FLOAT},
                      {"M": np.array(4, np.int64)})


def _attention_model():
    """MatMul -> Div -> Add -> Softmax -> MatMul: one ATTENTION instruction, Sq 5, Sk 6."""
    nodes = [helper.make_node("MatMul", ["q", "k"], ["s"]),
             helper.make_node("Div", ["s", "c"], ["z"]),
             helper.make_node("Add", ["z", "mask"], ["zm"]),
             helper.make_node("Softmax", ["zm"], ["p"], axis=-1, name="softmax"),
             helper.make_node("MatMul", ["p", "v"], ["y"])]
    inputs = {"q": (1, 2, 5, 4), "k": (1, 2, 4, 6), "v": (1, 2, 6, 3), "mask": (1, 1, 1, 6)}
    return make_model(nodes, {n: (TensorProto.FLOAT, s) for n, s in inputs.items()},
                      {"y": TensorProto.FLOAT}, {"c": np.array(2.0, np.float32)})


def _dynamic_model():
    """Data-dependent shapes: NonZero -> Transpose, NMS -> Slice -> Squeeze (RESHAPE),
    Unique, Compress."""
    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes = [helper.make_node("NonZero", ["x"], ["nz"], name="nonzero"),
             helper.make_node("Transpose", ["nz"], ["nzt"], name="transpose"),
             helper.make_node("NonMaxSuppression", ["boxes", "scores", "max", "iou"], ["sel"],
                              name="nms"),
             helper.make_node("Slice", ["sel", "st", "en", "ax"], ["col"], name="slice"),
             helper.make_node("Squeeze", ["col", "ax"], ["idx"], name="squeeze"),
             helper.make_node("Unique", ["u"], ["uy", "ui", "uinv", "uc"], name="unique"),
             helper.make_node("Compress", ["x", "cond"], ["cx"], axis=1, name="compress")]
    return make_model(nodes, {"x": (f, (3, 4)), "boxes": (f, (1, 5, 4)),
                              "scores": (f, (1, 2, 5)), "u": (f, (6,)),
                              "cond": (TensorProto.BOOL, (4,))},
                      {"nzt": i64, "idx": i64, "uy": f, "ui": i64, "uinv": i64, "uc": i64,
                       "cx": f},
                      {"max": np.array([2], np.int64), "iou": np.array([0.5], np.float32),
                       "st": np.array([2], np.int64), "en": np.array([3], np.int64),
                       "ax": np.array([1], np.int64)})


def _wino_model():
    """Conv 3x3 16 -> 16 on 7x7, compiled (see _program) as Winograd F(2x2) with
    the raw weight [3, 9, 16, 6] transformed on the fly."""
    rng = np.random.default_rng(5)
    w = (rng.standard_normal((16, 16, 3, 3)) / 12).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], name="conv")
    return make_model([node], {"x": (TensorProto.FLOAT, (1, 16, 7, 7))},
                      {"y": TensorProto.FLOAT}, {"w": w})


MODELS = {"chain": _chain_model, "two": _two_constants_model, "if": _if_model,
          "loop": _loop_model, "attention": _attention_model, "dynamic": _dynamic_model,
          "wino": _wino_model}


@cache
def _program(name: str) -> Program:
    if name != "wino":
        return compile_program(MODELS[name]()).program
    from edgec.lower import conv as lconv

    choose = lconv._choose_winograd
    lconv._choose_winograd = lambda *a: (2, True)
    try:
        return compile_program(MODELS[name]()).program
    finally:
        lconv._choose_winograd = choose


@cache
def _valid(name: str) -> bytes:
    return writer.serialize(_program(name))


def _tensor_index(name: str, tensor: str) -> int:
    return next(i for i, t in enumerate(_program(name).tensors) if t.name == tensor)


CHAIN = _valid("chain")
CHAIN_TABLE_END = FbProgram.GetRootAs(CHAIN, 0).SegmentBase()
CHAIN_END = len(CHAIN) - FOOTER
# Tensor indices of the chain program.
X, W, A, R = (_tensor_index("chain", n) for n in ("x", "w", "a", "r"))
N_TENSORS = len(_program("chain").tensors)
ARENA = _program("chain").arena_size
ARENA_USED = max(t.offset + t.nbytes for t in _program("chain").tensors if not t.is_constant)


@contextlib.contextmanager
def _table_hook(mutate: Callable) -> Iterator[None]:
    """While active, writer.serialize applies mutate to the ProgramT object
    tree before packing it (on both of its packing passes)."""
    original = writer._program_table

    def hooked(*args, **kwargs):
        root = original(*args, **kwargs)
        mutate(root)
        return root

    writer._program_table = hooked
    try:
        yield
    finally:
        writer._program_table = original


def _serialize(model: str, program_fn: Callable | None = None,
               table_fn: Callable | None = None) -> bytes:
    program = copy.deepcopy(_program(model))
    if program_fn is not None:
        program_fn(program)
    if table_fn is None:
        return writer.serialize(program)
    with _table_hook(table_fn):
        return writer.serialize(program)


def _fix_crc(data: bytes | bytearray) -> bytes:
    """Recomputes the footer's checksum, so only the verifier judges the bytes."""
    out = bytearray(data)
    end = len(out) - FOOTER
    out[end + 4:end + 8] = struct.pack("<I", zlib.crc32(bytes(out[:end])) & 0xFFFFFFFF)
    return bytes(out)


# ---- cases ------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    status: int
    message: str  # regex, searched in the error message


CASES: list[Case] = []


def case(id_: str, status: int, message: str, build: Callable[[], bytes]) -> None:
    CASES.append(Case(id_, build, status, message))


def table(id_: str, status: int, message: str, fn: Callable, model: str = "chain") -> None:
    case(id_, status, message, lambda: _serialize(model, table_fn=fn))


def program(id_: str, status: int, message: str, fn: Callable, model: str = "chain") -> None:
    case(id_, status, message, lambda: _serialize(model, program_fn=fn))


def _set(attr: str, value: object) -> Callable:
    return lambda obj: setattr(obj, attr, value)


def _tensor(i: int, **fields: object) -> Callable:
    def fn(root) -> None:
        for k, v in fields.items():
            setattr(root.tensors[i], k, v)
    return fn


def _instr(i: int, **fields: object) -> Callable:
    def fn(root) -> None:
        for k, v in fields.items():
            setattr(root.instructions[i], k, v)
    return fn


# -- truncation: every length short of the whole file -------------------------

for cut in range(len(CHAIN)):
    msg = (r"file of \d+ bytes is too small" if cut < 8 + FOOTER
           else r"no \.edgeb footer \(truncated")
    case(f"truncated-{cut}", FORMAT, msg, lambda cut=cut: CHAIN[:cut])

# A footer kept, bytes lost or added before it: the length it records is wrong.
for lost in (1, 15, 16, 64, 200, CHAIN_END - 8):
    case(f"middle-cut-{lost}", FORMAT,
         rf"footer says {CHAIN_END} bytes, file has {CHAIN_END - lost} \(truncated\?\)",
         lambda lost=lost: CHAIN[:CHAIN_END - lost] + CHAIN[CHAIN_END:])
for extra in (1, 16, 64):
    case(f"padded-before-footer-{extra}", FORMAT,
         rf"footer says {CHAIN_END} bytes, file has {CHAIN_END + extra}",
         lambda extra=extra: CHAIN[:CHAIN_END] + bytes(extra) + CHAIN[CHAIN_END:])
    case(f"trailing-bytes-{extra}", FORMAT, r"no \.edgeb footer",
         lambda extra=extra: CHAIN + b"\x00" * extra)
case("empty", FORMAT, r"file of 0 bytes is too small", lambda: b"")
case("footer-only", FORMAT, r"file of 16 bytes is too small", lambda: CHAIN[-FOOTER:])
case("zeros", FORMAT, r"no \.edgeb footer", lambda: bytes(len(CHAIN)))
case("footer-end-huge", FORMAT, r"footer says 18446744073709551615 bytes",
     lambda: CHAIN[:-8] + b"\xff" * 8)

# -- bit flips: the checksum catches every one ---------------------------------

for pos in range(0, CHAIN_END, 3):
    bit = pos % 8

    def flipped(pos: int = pos, bit: int = bit) -> bytes:
        out = bytearray(CHAIN)
        out[pos] ^= 1 << bit
        return bytes(out)

    case(f"bitflip-{pos}.{bit}", CHECKSUM, r"checksum mismatch: the file was corrupted", flipped)


def _flip_footer(pos: int) -> bytes:
    out = bytearray(CHAIN)
    out[CHAIN_END + pos] ^= 0x10
    return bytes(out)


for pos in range(FOOTER):
    if pos < 4:
        expect = (FORMAT, r"no \.edgeb footer")
    elif pos < 8:
        expect = (CHECKSUM, r"checksum mismatch")
    else:
        expect = (FORMAT, rf"footer says \d+ bytes, file has {CHAIN_END}")
    case(f"footer-bitflip-{pos}", *expect, lambda pos=pos: _flip_footer(pos))

# -- identifier, root offset and format version (checksum kept valid) ----------

for ident in (b"XXXX", b"EDB2", b"edgb", b"\0\0\0\0", b"BGDE", b"EDGC"):
    case(f"identifier-{ident.hex()}", FORMAT, r"not an edgec program \(identifier",
         lambda ident=ident: _fix_crc(ident.join((CHAIN[:4], CHAIN[8:]))))
for root in (0, 2, 4, CHAIN_END, CHAIN_END - 4, 0x7FFFFFFF, 0xFFFFFFFF, CHAIN_TABLE_END):
    case(f"root-offset-{root}", FORMAT,
         r"not an edgec program \(identifier or root table invalid\)",
         lambda root=root: _fix_crc(struct.pack("<I", root) + CHAIN[4:]))

for version in (2, 3, 7, 255, 65536, 2**32 - 1):
    table(f"format-version-{version}", VERSION,
          rf"file format version {version} is newer than this runtime's \(1\)",
          _set("formatVersion", version))
table("format-version-0", FORMAT, r"program has no format version", _set("formatVersion", 0))

# -- program-level fields -------------------------------------------------------

for size in (2**50, 2**44 + 64, 2**63, 2**64 - 1):
    table(f"arena-size-{size}", FORMAT, rf"arena of {size} bytes is implausibly large",
          _set("arenaSize", size))
for size in (0, ARENA_USED - 1, ARENA_USED // 2):
    table(f"arena-size-too-small-{size}", FORMAT,
          rf"tensor \d+ \('\w+'\): \[\d+, \+\d+\) outside the arena of {size} bytes",
          _set("arenaSize", size))

for delta in (8, 16, 32, 1):
    table(f"segment-base-misaligned-{delta}", FORMAT,
          r"segment base \d+ is misaligned or outside the file",
          lambda root, delta=delta: setattr(root, "segmentBase", root.segmentBase + delta))
table("segment-base-past-end", FORMAT, r"segment base \d+ is misaligned or outside the file",
      lambda root: setattr(root, "segmentBase", root.segmentBase + 4096))
table("segment-base-zero", FORMAT, r"segment base 0 is misaligned or outside the file",
      _set("segmentBase", 0))
table("segment-base-huge", FORMAT, r"segment base \d+ is misaligned or outside the file",
      _set("segmentBase", 2**63))
table("segment-base-inside-table", FORMAT, r"program table overlaps the constant segments",
      _set("segmentBase", 64))

# -- tensor index lists -----------------------------------------------------------

for what, attr in (("input", "inputs"), ("output", "outputs")):
    for bad in (N_TENSORS, N_TENSORS + 1, 1000, 2**31 - 1, -1, -2, -(2**31)):
        program(f"{what}-index-{bad}", FORMAT,
                rf"{what} 0: tensor index {bad} out of range", _set(attr, [bad]))
    program(f"{what}-second-index-bad", FORMAT, rf"{what} 1: tensor index 99 out of range",
            lambda p, attr=attr: setattr(p, attr, [*getattr(p, attr), 99]))
    program(f"{what}-is-constant", FORMAT, rf"{what} 0: tensor 'w' is not in the arena",
            _set(attr, [W]))

# -- instruction operands ---------------------------------------------------------


def _operand(instr: int, side: str, k: int, value: int) -> Callable:
    def fn(p: Program) -> None:
        getattr(p.instructions[instr], side)[k] = value
    return fn


for instr, side, k in ((0, "inputs", 0), (0, "inputs", 1), (0, "outputs", 0),
                       (1, "inputs", 0), (1, "outputs", 0)):
    word = side[:-1]
    bads = [N_TENSORS, N_TENSORS + 7, 2**31 - 1, -2, -(2**31)]
    if side == "outputs":
        bads.append(-1)  # only inputs may be absent
    for bad in bads:
        program(f"instr{instr}-{word}{k}-{bad}", FORMAT,
                rf"instruction {instr}: {word} {k} is tensor {bad} of {N_TENSORS}",
                _operand(instr, side, k, bad))

for instr in (0, 1):
    program(f"instr{instr}-output-writes-constant", FORMAT,
            rf"instruction {instr}: output 0 writes constant 'w'",
            _operand(instr, "outputs", 0, W))

# Missing required inputs (-1 marks an absent optional input).
program("add-missing-input-1", FORMAT, r"instruction 0 \(add 'add'\): required input 1 is absent",
        _operand(0, "inputs", 1, -1))
program("add-missing-input-0", FORMAT, r"instruction 0 \(add 'add'\): required input 0 is absent",
        _operand(0, "inputs", 0, -1))
program("relu-missing-input", FORMAT,
        r"instruction 1 \(relu 'relu'\): required input 0 is absent",
        _operand(1, "inputs", 0, -1))
table("add-one-input", FORMAT, r"instruction 0 \(add 'add'\): has 1 inputs, expected 2\.\.2",
      _instr(0, inputs=[X]))
table("add-three-inputs", FORMAT, r"instruction 0 \(add 'add'\): has 3 inputs, expected 2\.\.2",
      _instr(0, inputs=[X, W, X]))
table("relu-no-inputs", FORMAT, r"instruction 1 \(relu 'relu'\): has 0 inputs, expected 1\.\.1",
      _instr(1, inputs=[]))
table("add-no-outputs", FORMAT, r"instruction 0 \(add 'add'\): has 0 outputs, expected 1",
      _instr(0, outputs=[]))
# (The second output gets bytes of its own, so that only the arity is wrong.)
Y = _tensor_index("chain", "y")
table("relu-two-outputs", FORMAT, r"instruction 1 \(relu 'relu'\): has 2 outputs, expected 1",
      lambda root: (_instr(1, outputs=[R, Y])(root), _tensor(Y, offset=ARENA)(root),
                    setattr(root, "arenaSize", ARENA + 128)))

# An output over an input or another output of the same instruction: the
# planner never does that, and kernels copy between operands with memcpy.
# (The arena grows by 256 bytes so that only the overlap is wrong.)
X_OFF, A_OFF, R_OFF = (_program("chain").tensors[i].offset for i in (X, A, R))


def _moved(t: int, offset: int) -> Callable:
    return lambda root: (_tensor(t, offset=offset)(root), setattr(root, "arenaSize", ARENA + 256))


table("add-output-on-input", FORMAT,
      rf"instruction 0 \('add'\): output 0 \[{X_OFF}, \+96\) overlaps input 0 "
      rf"\[{X_OFF}, \+96\) in the arena", _moved(A, X_OFF))
for off in (16, 64, 80):
    table(f"add-output-overlaps-input-at-{off}", FORMAT,
          rf"instruction 0 \('add'\): output 0 \[{X_OFF + off}, \+96\) overlaps input 0 "
          rf"\[{X_OFF}, \+96\)", _moved(A, X_OFF + off))
table("relu-in-place", FORMAT,
      rf"instruction 1 \('relu'\): output 0 \[{A_OFF}, \+96\) overlaps input 0 "
      rf"\[{A_OFF}, \+96\)", _moved(R, A_OFF))
table("relu-output-overlaps-input-tail", FORMAT,
      rf"instruction 1 \('relu'\): output 0 \[{A_OFF + 48}, \+96\) overlaps input 0 "
      rf"\[{A_OFF}, \+96\)", _moved(R, A_OFF + 48))
table("two-outputs-overlap", FORMAT,  # y is an alias of r: same bytes
      rf"instruction 1 \('relu'\): output 1 \[{R_OFF}, \+96\) overlaps output 0 "
      rf"\[{R_OFF}, \+96\)", _instr(1, outputs=[R, Y]))
table("too-many-operands", FORMAT, r"instruction 0: malformed table",
      _instr(0, inputs=[X] * 4097))

# -- opcodes, versions and options -------------------------------------------------

KNOWN_OPCODES = {v for k, v in vars(Opcode).items() if not k.startswith("_")} - {0}
for opcode in sorted({0, 10, 19, 28, 999, 9999, 65535} - KNOWN_OPCODES):
    table(f"opcode-{opcode}", UNSUPPORTED,
          rf"instruction 0 \('add'\): opcode {opcode} is not in this runtime",
          _instr(0, opcode=opcode))
for version in (2, 3, 100, 65535):
    table(f"op-version-{version}", UNSUPPORTED,
          rf"instruction 1 \('relu'\): relu op_version {version} is newer than "
          r"this runtime's \(1\)", _instr(1, opVersion=version))
table("op-version-0", FORMAT, r"instruction 1 \('relu'\): relu op_version 0 is invalid",
      _instr(1, opVersion=0))

WRONG_OPTIONS = {"conv": ConvOptionsT, "pool": PoolOptionsT, "gemm": GemmOptionsT,
                 "axis": AxisOptionsT, "transpose": TransposeOptionsT, "slice": SliceOptionsT,
                 "pad": PadOptionsT, "resize": ResizeOptionsT,
                 "inverted-residual": InvertedResidualOptionsT}
for name, cls in WRONG_OPTIONS.items():
    table(f"relu-options-{name}", FORMAT,
          r"instruction 1 \(relu 'relu'\): options are not UnaryOptions",
          lambda root, cls=cls: (setattr(root.instructions[1], "optionsType",
                                         writer._options_type(cls())),
                                 setattr(root.instructions[1], "options", cls())))
UNKNOWN_OPTIONS = max(v for k, v in vars(OpOptions).items() if not k.startswith("_")) + 1
for bad_type in (UNKNOWN_OPTIONS, UNKNOWN_OPTIONS + 1, 100, 255):
    table(f"options-type-{bad_type}", FORMAT,
          rf"instruction 1 \('relu'\): malformed options \(union type {bad_type}\)",
          _instr(1, optionsType=bad_type, options=UnaryOptionsT()))
table("options-type-without-table", FORMAT,
      r"instruction 1 \('relu'\): malformed options \(union type 4\)",
      _instr(1, optionsType=writer._options_type(UnaryOptionsT()), options=None))
table("options-table-without-type", FORMAT,
      r"instruction 1 \('relu'\): malformed options \(union type 0\)",
      _instr(1, optionsType=0, options=UnaryOptionsT()))
table("options-ints-too-long", FORMAT,
      r"instruction 0 \('add'\): malformed options \(union type 5\)",
      _instr(0, optionsType=writer._options_type(AxisOptionsT()),
             options=AxisOptionsT(axes=list(range(17)))))
table("scratch-huge", FORMAT,
      r"instruction 1 \('relu'\): scratch of 4294967297 bytes is implausibly large",
      _instr(1, scratchSize=2**32 + 1))

# -- tensor fields -------------------------------------------------------------------

for t in (X, A):
    for dim in (2**50, 2**41, 2**63 - 1, -1, -(2**63)):
        table(f"tensor{t}-dim-{dim}", FORMAT,
              rf"tensor {t} \('\w+'\): dimension 1 is {dim}", _tensor(t, shape=[4, dim]))
for dims in ([2**20] * 3, [2**40, 2**40], [2**14] * 4, [2**40, 2, 2**40]):
    label = "x".join(str(d) for d in dims)
    table(f"dims-overflow-{label}", FORMAT, rf"tensor {X} \('x'\): too many elements",
          _tensor(X, shape=dims))
for rank in (9, 10, 16, 100):
    table(f"rank-{rank}", FORMAT, rf"tensor {A} \('a'\): rank {rank} exceeds 8",
          _tensor(A, shape=[1] * rank))
for code in (13, 14, 100, 127, -1, -128):  # 0..12 are DType values
    table(f"dtype-{code}", FORMAT, rf"tensor {X} \('x'\): unknown dtype {code & 0xFF}",
          _tensor(X, dtype=code))
for storage in (2, 3, 127, -1):
    table(f"storage-{storage}", FORMAT, rf"tensor {A} \('a'\): unknown storage {storage & 0xFF}",
          _tensor(A, storage=storage))
for t, name in ((X, "x"), (W, "w"), (A, "a")):
    for size in (0, 95, 97, 192, 2**63):
        table(f"tensor{t}-size-{size}", FORMAT,
              rf"tensor {t} \('{name}'\): size {size} bytes, shape needs 96",
              _tensor(t, size=size))
# Same byte count would be needed for a different dtype: the size no longer matches.
table("dtype-changed-size-kept", FORMAT, rf"tensor {A} \('a'\): size 96 bytes, shape needs 192",
      _tensor(A, dtype=5))

for t, name in ((X, "x"), (A, "a")):
    for off in (ARENA, ARENA - 16, ARENA + 16, 2**40, 2**63, 2**64 - 16):
        table(f"tensor{t}-arena-offset-{off}", FORMAT,
              rf"tensor {t} \('{name}'\): \[{off}, \+96\) outside the arena of {ARENA} bytes",
              _tensor(t, offset=off))
    for off in (1, 4, 8, 12, 17, 40):
        table(f"tensor{t}-arena-misaligned-{off}", FORMAT,
              rf"tensor {t} \('{name}'\): arena offset {off} not 16-byte aligned",
              _tensor(t, offset=off))
# The Program itself may be damaged the same way: the planner's offsets.
program("program-arena-offset-past-end", FORMAT,
        rf"tensor {A} \('a'\): \[{ARENA}, \+96\) outside the arena",
        lambda p: setattr(p.tensors[A], "offset", ARENA))
program("program-arena-offset-misaligned", FORMAT,
        rf"tensor {A} \('a'\): arena offset 8 not 16-byte aligned",
        lambda p: setattr(p.tensors[A], "offset", 8))
program("program-arena-too-small", FORMAT, r"outside the arena of 64 bytes",
        lambda p: setattr(p, "arena_size", 64))

# Constants: segment index, offset inside the segment.
for seg in (1, 2, 1000, 2**32 - 1):
    table(f"constant-segment-{seg}", FORMAT, rf"tensor {W} \('w'\): segment {seg} of 1",
          _tensor(W, segment=seg))
for off in (16, 64, 96, 2**40, 2**64 - 16):
    table(f"constant-offset-{off}", FORMAT,
          rf"tensor {W} \('w'\): \[{off}, \+96\) outside segment 0 of 96 bytes",
          _tensor(W, offset=off))
for off in (4, 8):  # a smaller tensor, so that it still fits its segment
    table(f"constant-offset-misaligned-{off}", FORMAT,
          rf"tensor {W} \('w'\): constant offset {off} not 16-byte aligned",
          _tensor(W, offset=off, shape=[4, 5], size=80))
table("constant-bigger-than-segment", FORMAT,
      rf"tensor {W} \('w'\): \[0, \+384\) outside segment 0 of 96 bytes",
      _tensor(W, shape=[16, 6], size=384))

# Quantization and sparsity descriptors.
table("quant-no-scales", FORMAT, rf"tensor {X}: 0 scales and 0 zero points",
      _tensor(X, quant=QuantizationT(scales=[])))
table("quant-zero-points-mismatch", FORMAT, rf"tensor {X}: 1 scales and 2 zero points",
      _tensor(X, quant=QuantizationT(scales=[1.0], zeroPoints=[0, 1])))
for axis in (2, 7, -2, -(2**31)):
    table(f"quant-axis-{axis}", FORMAT,
          rf"tensor {X}: quantization axis {axis} does not fit its shape",
          _tensor(X, quant=QuantizationT(scales=[1.0] * 4, axis=axis)))
table("quant-per-channel-count", FORMAT, rf"tensor {X}: quantization axis 1 does not fit",
      _tensor(X, quant=QuantizationT(scales=[1.0] * 4, axis=1)))
table("sparse-encoding-segments", FORMAT,
      rf"tensor {W} \('w'\): sparse encoding names segments 7 and 9 of 1",
      _tensor(W, sparse=SparseEncodingT(format=1, indptrSegment=7, indicesSegment=9)))

# Kernel prepare: dtypes and shapes that do not fit the op.
table("add-output-dtype", DTYPE, r"instruction 0 \(add 'add'\): output is int32, expected float32",
      _tensor(A, dtype=4))
table("add-input-dtype", DTYPE,
      r"instruction 0 \(add 'add'\): second input is int32, expected float32",
      _tensor(W, dtype=4))
table("add-bool-inputs", DTYPE, r"instruction 0 \(add 'add'\): bool inputs are not supported",
      lambda root: [_tensor(t, dtype=6, size=24)(root) for t in (X, W)])
table("add-broadcast-mismatch", SHAPE,
      r"instruction 0 \(add 'add'\): operand 1 dimension 1 is 4, output has 6",
      _tensor(W, shape=[6, 4]))
table("add-operand-rank", SHAPE,
      r"instruction 0 \(add 'add'\): operand 1 has rank 3 > output rank 2",
      _tensor(W, shape=[1, 4, 6]))
table("relu-shape-mismatch", SHAPE, r"instruction 1 \(relu 'relu'\): input/output: shapes differ",
      _tensor(R, shape=[6, 4]))

# ATTENTION (kernels/ref/attention.c): ranks, views, broadcasts, options, scratch.
AQ, AK, AV, AM, AY = (_tensor_index("attention", n) for n in ("q", "k", "v", "mask", "y"))
ATT = r"instruction 0 \(attention 'softmax'\): "
assert [i.opcode for i in _program("attention").instructions] == [Opcode.ATTENTION]


def _att_options(**fields: object) -> Callable:
    def fn(root) -> None:
        for k, v in fields.items():
            setattr(root.instructions[0].options, k, v)
    return fn


for t, name in ((AQ, "Q"), (AK, "Kt"), (AV, "V"), (AM, "bias"), (AY, "Y")):
    table(f"attention-{name}-dtype", DTYPE, ATT + rf"{name} is int32, expected float32",
          _tensor(t, dtype=4), model="attention")
table("attention-q-rank-5", SHAPE, ATT + r"Q has rank 5, expected 2 to 4",
      _tensor(AQ, shape=[1, 1, 2, 5, 4]), model="attention")
table("attention-y-rank-1", SHAPE, ATT + r"Y has rank 1, expected 2 to 4",
      _tensor(AY, shape=[30]), model="attention")
table("attention-inner-dims", SHAPE, ATT + r"Q \[\.\., 5, 4\], Kt \[\.\., 6, 4\].* do not match",
      _tensor(AK, shape=[1, 2, 6, 4]), model="attention")
table("attention-head-broadcast", SHAPE, ATT + r"Kt's batch dim 2 does not broadcast to Y's 1",
      _tensor(AK, shape=[2, 1, 4, 6]), model="attention")
table("attention-y-batch", SHAPE, ATT + r"Y's batch dim is 2, the inputs give 1",
      _tensor(AY, shape=[2, 1, 5, 3]), model="attention")
table("attention-bias-broadcast", SHAPE, ATT + r"bias does not broadcast to the scores "
      r"\[1, 2, 5, 6\]", _tensor(AM, shape=[1, 1, 6, 1]), model="attention")
table("attention-bias-rank", SHAPE, ATT + r"bias has rank 5, expected at most 4",
      _tensor(AM, shape=[1, 1, 1, 1, 6]), model="attention")
table("attention-two-inputs", FORMAT, ATT + r"has 2 inputs, expected 3\.\.4",
      _instr(0, inputs=[AQ, AK]), model="attention")
table("attention-options-gemm", FORMAT, ATT + r"options are not AxisOptions",
      _instr(0, optionsType=writer._options_type(GemmOptionsT()), options=GemmOptionsT()),
      model="attention")
table("attention-flags", FORMAT, ATT + r"unknown flags 0x2", _att_options(flags=2),
      model="attention")
for scale in (float("inf"), float("nan")):
    table(f"attention-scale-{scale}", FORMAT, ATT + r"scale (inf|nan) is not finite",
          _att_options(alpha=scale), model="attention")
table("attention-axes-length", FORMAT,
      ATT + r"axes holds 4 perm entries, the operands need 16",
      _att_options(axes=[0, 1, 2, 3]), model="attention")
table("attention-axes-not-a-perm", FORMAT, ATT + r"the perm of Kt is not a permutation of 0\.\.3",
      _att_options(axes=[0, 1, 2, 3, 0, 1, 1, 3, 0, 1, 2, 3, 0, 1, 2, 3]), model="attention")
table("attention-axes-out-of-range", FORMAT, ATT + r"the perm of Y is not a permutation",
      _att_options(axes=[0, 1, 2, 3] * 3 + [0, 1, 2, 4]), model="attention")
table("attention-variant", UNSUPPORTED, ATT + r"unknown kernel variant 0x100",
      _instr(0, variant=0x100), model="attention")
table("attention-scratch", FORMAT, ATT + r"scratch of 64 bytes, needs \d+",
      _instr(0, scratchSize=64), model="attention")

# CONV with the Winograd weight transformed on the fly (kernels/ref/conv.c): the
# weight's shape and the variant bits must agree.
WW = next(i for i, t in enumerate(_program("wino").tensors) if t.name.endswith("/winograd_raw"))
WINO = r"instruction 0 \(conv 'conv'\): "
assert _program("wino").instructions[0].variant == 0xE01
assert list(_program("wino").tensors[WW].shape) == [3, 9, 16, 6]
table("conv-wino-raw-shape", SHAPE,
      WINO + r"Winograd weight shape does not match 16 output channels",
      _tensor(WW, shape=[9, 3, 16, 6]), model="wino")
table("conv-wino-raw-channels", SHAPE, WINO + r"Winograd weight shape does not match 16 output",
      _tensor(WW, shape=[6, 9, 8, 6]), model="wino")
table("conv-wino-raw-as-stored", SHAPE, WINO + r"Winograd weight shape does not match",
      _instr(0, variant=0x201), model="wino")
table("conv-wino-otf-alone", UNSUPPORTED, WINO + r"unknown kernel variant 0x401",
      _instr(0, variant=0x401), model="wino")
table("conv-wino-f2-alone", UNSUPPORTED, WINO + r"unknown kernel variant 0xa01",
      _instr(0, variant=0xA01), model="wino")
table("conv-wino-otf-packed", UNSUPPORTED, WINO + r"unknown kernel variant 0x701",
      _instr(0, variant=0x701), model="wino")
table("conv-wino-otf-f4-scratch", FORMAT, WINO + r"scratch of \d+ bytes, needs \d+",
      _instr(0, variant=0x601), model="wino")

# -- segments (two-constant program) -----------------------------------------------


def _segment(i: int, **fields: object) -> Callable:
    def fn(root) -> None:
        for k, v in fields.items():
            setattr(root.segments[i], k, v)
    return fn


for i in (0, 1):
    for off in (8, 16, 32, 1):
        table(f"segment{i}-misaligned-{off}", FORMAT,
              rf"segment {i}: \[{128 * i + off}, \+\d+\) outside the file or misaligned",
              lambda root, i=i, off=off: setattr(root.segments[i], "offset",
                                                 root.segments[i].offset + off), model="two")
    for size in (2**20, 2**63, 2**64 - 1):
        table(f"segment{i}-size-{size}", FORMAT,
              rf"segment {i}: \[\d+, \+{size}\) outside the file or misaligned",
              _segment(i, size=size), model="two")
    for off in (2**20, 2**63 - 64 + 1 - 1, 2**64 - 64):
        table(f"segment{i}-offset-{off}", FORMAT,
              rf"segment {i}: \[{off}, \+\d+\) outside the file or misaligned",
              _segment(i, offset=off), model="two")
table("segments-overlap-same-start", FORMAT, r"segment 1 overlaps the one before it",
      _segment(1, offset=0), model="two")
table("segments-overlap-tail", FORMAT, r"segment 1 overlaps the one before it",
      _segment(0, size=129), model="two")
table("segments-out-of-order", FORMAT, r"segment 1 overlaps the one before it",
      lambda root: (_segment(0, offset=64)(root), _segment(1, offset=0)(root)), model="two")
table("segment-past-end-by-one", FORMAT,
      r"segment 1: \[128, \+\d+\) outside the file or misaligned",
      lambda root: _segment(1, size=root.segments[1].size + 64 - 24 + 1)(root), model="two")
table("constant-in-missing-segment", FORMAT, r"tensor \d+ \('v'\): segment 2 of 2",
      lambda root: _tensor(_tensor_index("two", "v"), segment=2)(root), model="two")
table("constant-in-smaller-segment", FORMAT,
      r"tensor \d+ \('w'\): \[0, \+96\) outside segment 1 of 24 bytes",
      lambda root: _tensor(_tensor_index("two", "w"), segment=1)(root), model="two")


# A plausible but unallocatable arena (two 4 TiB tensors): the file loads,
# the session is refused.
def _huge_arena() -> bytes:
    model = make_model([helper.make_node("Relu", ["x"], ["y"], name="relu")],
                       {"x": (TensorProto.FLOAT, (2**20, 2**20))}, {"y": TensorProto.FLOAT})
    return writer.serialize(compile_program(model).program)


case("arena-unallocatable", NO_MEMORY, r"cannot allocate a 8796093022208-byte arena",
     _huge_arena)


# -- control flow (IF/LOOP and Program.blocks) ------------------------------------------


def _ctl(root):
    """The options of the program's IF/LOOP instruction."""
    return next(i.options for i in root.instructions if i.opcode in (Opcode.IF, Opcode.LOOP))


def _ctl_set(**fields: object) -> Callable:
    def fn(root) -> None:
        for k, v in fields.items():
            setattr(_ctl(root), k, v)
    return fn


def _extra_block(root) -> None:
    root.blocks.append(BlockT())
    root.blocks[-1].instructions = []


def _cycle(root) -> None:
    """Block 1 runs the IF too, naming blocks 0 and 1: itself and one before it."""
    root.blocks[1].instructions.append(copy.deepcopy(root.instructions[0]))


def _deep(root) -> None:
    """Ten LOOPs nested in one another, each block running the next."""
    loop = root.instructions[-1]
    for k in range(10):
        inner = copy.deepcopy(loop)
        inner.options.blocks = [k + 1]
        block = BlockT()
        block.instructions = list(root.blocks[0].instructions) if k == 9 else [inner]
        root.blocks.append(block)
    root.blocks[0].instructions = [copy.deepcopy(root.blocks[1].instructions[0])]
    root.blocks[0].instructions[0].options.blocks = [1]
    for k in range(1, 10):
        root.blocks[k].instructions[0].options.blocks = [k + 1]


def _no_options(root) -> None:
    ins = next(i for i in root.instructions if i.opcode == Opcode.IF)
    ins.optionsType, ins.options = 0, None


def _first(opcode: int) -> Callable:
    return lambda root: next(i for i in root.instructions if i.opcode == opcode)


table("if-block-out-of-range", FORMAT, r"runs block 7: not one of blocks 0\.\.2",
      _ctl_set(blocks=[0, 7]), model="if")
table("if-block-twice", FORMAT, r"block 1 is run by two instructions",
      _ctl_set(blocks=[1, 1]), model="if")
table("if-one-block", FORMAT, r"If names 1 blocks, needs 2", _ctl_set(blocks=[0]), model="if")
table("block-contains-itself", FORMAT,
      r"\(if 'if'\): runs block 0: not one of blocks 2\.\.2 after its own", _cycle, model="if")
table("block-unclaimed", FORMAT, r"block 2 is run by no instruction", _extra_block,
      model="if")
table("if-no-options", FORMAT, r"If without ControlOptions", _no_options, model="if")
table("if-block-output-out-of-range", FORMAT, r"block output 1 is tensor 999",
      lambda root: setattr(_ctl(root), "blockOutputs", [_ctl(root).blockOutputs[0], 999]),
      model="if")
table("if-block-output-wrong-size", FORMAT,
      r"block output 0 differs from output 0 in dtype or size",
      lambda root: setattr(_ctl(root), "blockOutputs",
                           [_first(Opcode.IF)(root).inputs[0], _ctl(root).blockOutputs[1]]),
      model="if")
table("if-condition-not-bool", FORMAT, r"IF needs a bool scalar condition",
      lambda root: setattr(_first(Opcode.IF)(root), "inputs",
                           [_first(Opcode.IF)(root).inputs[1],
                            *_first(Opcode.IF)(root).inputs[1:]]), model="if")
table("loop-nested-too-deep", FORMAT, r"blocks nested deeper than 8", _deep, model="loop")
table("loop-scan-trips-wrong", FORMAT, r"scan output 0 is not 3 slices",
      _ctl_set(maxTrips=3), model="loop")
table("loop-scan-trips-missing", FORMAT, r"scan outputs need max_trips",
      _ctl_set(maxTrips=-1), model="loop")
table("loop-block-input-constant", FORMAT, r"block input 2 is tensor",
      lambda root: setattr(_ctl(root), "blockInputs",
                           [*_ctl(root).blockInputs[:2], _first(Opcode.LOOP)(root).inputs[0]]),
      model="loop")
table("loop-carried-size", FORMAT, r"carried value 0 changes dtype or size",
      lambda root: setattr(_ctl(root), "blockInputs",
                           [*_ctl(root).blockInputs[:2], _ctl(root).blockInputs[0]]),
      model="loop")
table("loop-block-outputs-count", FORMAT,
      r"LOOP: 4 inputs, 2 outputs, 3 block inputs and 2 block outputs",
      lambda root: setattr(_ctl(root), "blockOutputs", _ctl(root).blockOutputs[:2]),
      model="loop")


# -- data-dependent shapes (Tensor.dynamic_dims; NON_ZERO .. RESHAPE) -------------------


def _dyn(tensor: str, **fields: object) -> Callable:
    """Sets fields of a tensor of the dynamic program, found by name."""
    return lambda root: _tensor(_tensor_index("dynamic", tensor), **fields)(root)


def _dyn_instr(name: str, **fields: object) -> Callable:
    def fn(root) -> None:
        ins = next(i for i in root.instructions if i.name == name)
        for k, v in fields.items():
            setattr(ins, k, v)
    return fn


def _dyn_program(tensor: str, **fields: object) -> Callable:
    """Sets fields of a tensor of the Program (sizes follow the shape)."""
    def fn(program: Program) -> None:
        for k, v in fields.items():
            setattr(program.tensors[_tensor_index("dynamic", tensor)], k, v)
    return fn


def _swap_inputs(name: str, inputs: Callable) -> Callable:
    def fn(root) -> None:
        ins = next(i for i in root.instructions if i.name == name)
        ins.inputs = inputs(ins.inputs)
    return fn


D = "dynamic"
table("dyn-on-constant", FORMAT, r"tensor \d+ \('max/scalar'\): data-dependent dims on a "
      "constant", _dyn("max/scalar", dynamicDims=1, shape=[1]), model=D)
for mask in (4, 1 << 8, 1 << 31):
    table(f"dyn-beyond-rank-{mask}", FORMAT,
          rf"tensor \d+ \('sel'\): data-dependent dims 0x{mask:x} outside rank 2",
          _dyn("sel", dynamicDims=mask), model=D)
table("dyn-program-input", FORMAT, r"input 0: tensor 'x' has data-dependent dims",
      _dyn("x", dynamicDims=1), model=D)
table("dyn-written-by-no-instruction", FORMAT,
      r"tensor \d+ \('y'\): data-dependent but written by no instruction",
      _tensor(_tensor_index("chain", "y"), dynamicDims=1))
table("dyn-output-of-add", FORMAT,
      r"instruction 0 \('add'\): add output 0, tensor 'a', has data-dependent dims",
      _tensor(A, dynamicDims=2))
table("dyn-input-of-copy", FORMAT,
      r"'transpose'\): copy input 0, tensor 'nz', has data-dependent dims",
      _dyn_instr("transpose", opcode=Opcode.COPY, optionsType=0, options=None), model=D)
for op in ("transpose", "slice"):  # the static kernels: their _DYN ones read such values
    table(f"dyn-input-of-static-{op}", FORMAT,
          rf"'{op}'\): {op} input 0, tensor '(nz|sel)', has data-dependent dims",
          _dyn_instr(op, opcode=getattr(Opcode, op.upper())), model=D)
table("dyn-input-of-relu", FORMAT,
      r"'compress'\): relu input 0, tensor 'nz', has data-dependent dims",
      lambda root: (_dyn_instr("compress", opcode=Opcode.RELU, optionsType=0, options=None)(root),
                    _swap_inputs("compress", lambda ins: [_tensor_index(D, "nz")])(root)),
      model=D)
for mask in (0, 1, 3):
    table(f"non-zero-mask-{mask}", FORMAT,
          rf"'nonzero'\): output 'nz' has data-dependent dims 0x{mask:x}, expected 0x2",
          _dyn("nz", dynamicDims=mask), model=D)
program("non-zero-bound", SHAPE, r"'nonzero'\): output must be \[2, 12\]",
        _dyn_program("nz", shape=(2, 11)), model=D)
table("transpose-mask", FORMAT,
      r"'transpose'\): output 'nzt' has data-dependent dims 0x2, expected 0x1",
      _dyn("nzt", dynamicDims=2), model=D)
table("nms-workspace", FORMAT, r"'nms'\): scratch of 79 bytes, needs 80",
      _dyn_instr("nms", scratchSize=79), model=D)
program("nms-bound-below-max", SHAPE, r"'nms'\): output must be \[K, 3\], K from 4 to 10",
        _dyn_program("sel", shape=(3, 3)), model=D)
program("nms-bound-above-all", SHAPE, r"'nms'\): output must be \[K, 3\], K from 4 to 10",
        _dyn_program("sel", shape=(11, 3)), model=D)
table("nms-max-not-int64", DTYPE, r"'nms'\): max_output_boxes_per_class must be an int64",
      _swap_inputs("nms", lambda ins: [ins[0], ins[1], ins[3], ins[3]]), model=D)
table("slice-dynamic-axis", FORMAT, r"'slice'\): slices data-dependent axis 0",
      lambda root: setattr(next(i for i in root.instructions if i.name == "slice").options,
                           "starts", [1, 2]), model=D)
table("reshape-two-dynamic-dims", FORMAT, r"'squeeze'\): output 'idx' has data-dependent "
      r"dims 0x3; needs one exactly", _dyn("idx", dynamicDims=3, shape=[4, 1]), model=D)
table("reshape-static-output", FORMAT, r"'squeeze'\): output 'idx' has data-dependent "
      r"dims 0x0; needs one exactly", _dyn("idx", dynamicDims=0), model=D)
table("unique-three-outputs", FORMAT, r"'unique'\): has 3 outputs, expected 4",
      lambda root: setattr(next(i for i in root.instructions if i.name == "unique"),
                           "outputs",
                           next(i for i in root.instructions if i.name == "unique").outputs[:3]),
      model=D)
table("unique-workspace", FORMAT, r"'unique'\): scratch of 0 bytes, needs 144",
      _dyn_instr("unique", scratchSize=0), model=D)
table("unique-inverse-dynamic", FORMAT,
      r"'unique'\): inverse indices 'uinv' has data-dependent dims 0x1, expected 0x0",
      _dyn("uinv", dynamicDims=1), model=D)
table("unique-axis", SHAPE, r"'unique'\): axis 1 outside rank 1",
      lambda root: setattr(next(i for i in root.instructions if i.name == "unique").options,
                           "axis", 1), model=D)
table("compress-condition-not-bool", DTYPE, r"'compress'\): condition is float32",
      _swap_inputs("compress", lambda ins: [ins[0], _tensor_index(D, "u")]), model=D)
table("compress-mask", FORMAT,
      r"'compress'\): output 'cx' has data-dependent dims 0x1, expected 0x2",
      _dyn("cx", dynamicDims=1), model=D)


def test_dynamic_program_runs_at_actual_shapes() -> None:
    """The base of the cases above: every output at its actual shape."""
    with edgec.Session(_valid(D)) as s:
        rng = np.random.default_rng(3)
        feeds = {a.name: rng.standard_normal(a.shape).astype(a.dtype) for a in s.get_inputs()}
        feeds["cond"] = np.array([True, False, True, False])
        feeds["u"] = np.array([3, 1, 3, 2, 1, 3], np.float32)
        nzt, idx, uy, ui, uinv, uc, cx = s.run(None, feeds)
        assert nzt.shape == (12, 2) and cx.shape == (3, 2) and uy.tolist() == [1, 2, 3]
        assert uc.tolist() == [2, 1, 3] and uinv.tolist() == [2, 0, 2, 1, 0, 2]
        assert idx.ndim == 1 and len(idx) <= 4 and ui.tolist() == [1, 3, 0]


# ---- the tests -----------------------------------------------------------------------

def test_case_ids_are_unique_and_the_corpus_is_large() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 1000


def test_base_programs_are_valid() -> None:
    for name in MODELS:
        with edgec.Session(_valid(name)) as s:
            feeds = {a.name: np.ones(a.shape, a.dtype) for a in s.get_inputs()}
            assert all(np.isfinite(y).all() for y in s.run(None, feeds))


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_malformed(c: Case) -> None:
    data = c.build()
    assert data not in {_valid(name) for name in MODELS}
    with pytest.raises(RuntimeStatusError) as info:
        edgec.Session(data)
    message = str(info.value)
    assert info.value.status == c.status, message
    assert re.search(c.message, message), message


# The same verifier behind ec_model_open_file (mmap): a sample of the cases (not the
# unallocatable arena: the file loads, the session fails, and that message names no file).
FILE_SAMPLE = [c for c in CASES if c.status != NO_MEMORY][::40]


@pytest.mark.parametrize("c", FILE_SAMPLE, ids=[c.id for c in FILE_SAMPLE])
def test_malformed_file(c: Case, tmp_path: Path) -> None:
    path = tmp_path / "damaged.edgeb"
    path.write_bytes(c.build())
    with pytest.raises(RuntimeStatusError) as info:
        edgec.Session(path)
    message = str(info.value)
    assert info.value.status == c.status, message
    assert message.startswith(str(path)) and re.search(c.message, message), message


def _crash_files() -> list:
    files = sorted(p for p in CRASHES.glob("*")
                   if p.is_file() and not p.name.startswith(".") and p.suffix != ".md")
    return files or [pytest.param(None, marks=pytest.mark.skip(reason=f"{CRASHES} is empty"))]


@pytest.mark.parametrize("path", _crash_files(), ids=lambda p: p.name if p else "none")
def test_fuzzer_crash_replays(path: Path) -> None:
    """Inputs that once crashed the fuzz build. That build skips the checksum,
    so it is recomputed here: the verifier, not the CRC, must refuse them."""
    data = path.read_bytes()
    if len(data) >= 8 + FOOTER and data[-FOOTER:-FOOTER + 4] == b"ECF1":
        data = _fix_crc(data)
    for threads in (1, 2):
        try:
            session = edgec.Session(data, threads=threads)
        except RuntimeStatusError as e:
            assert str(e)
            continue
        with session:
            feeds = {a.name: np.zeros(a.shape, a.dtype) for a in session.get_inputs()}
            session.run(None, feeds)
