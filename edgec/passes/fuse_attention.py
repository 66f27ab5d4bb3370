"""Scaled dot-product attention -> one ATTENTION instruction.

Runs on the lowered program (after quantization: int8 models keep their
QMATMULs). The chain the exporters emit for each head group,

    s = MatMul(Q, Kt) -> Div(s, c) | Mul(s, c) | Mul(c, s)   (c a scalar constant; optional)
      -> Add(s, bias) | Add(bias, s)                         (optional)
      -> Softmax(last axis) -> MatMul(p, V)

becomes ATTENTION(Q, Kt, V[, bias]) with scale 1/c (or c), when every
intermediate is float32, read by the next op only (not a graph output, no
alias over it), the bias does not grow the scores' shape, and Q, Kt, V and
the result have rank 2 to 4. So the [Sq, Sk] scores per head are never
stored: the kernel (runtime_c/src/kernels/ref/attention.c) keeps one block
of query rows of them at a time in its per-thread workspace.

Transposes around it are folded into the instruction as perms
(AxisOptions.axes) when nothing else reads their output: the Transpose
producing Q, Kt or V (HuggingFace's split into heads, K's (0, 2, 3, 1)) is
skipped, the kernel reading the untransposed tensor through strides; and the
Transpose consuming the result (the merge of heads) is written directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower.conv import VARIANT_BEST
from edgec.program import Instruction, Program

# Mirrors of runtime_c/src/kernels/attention.h (the workspace each thread needs).
BLOCK_FLOATS, ROW_ALIGN, MAX_ROWS, COL_ALIGN = 6144, 12, 96, 16


def _round_up(v: int, to: int) -> int:
    return (v + to - 1) // to * to


def attention_workspace(sq: int, sk: int, dk: int, dv: int) -> int:
    """Bytes per thread (attention.c ec_att_layout): the packed Kt, a Q block, V,
    the score block, the rows' 1/sum, a Y block and the rows' running max
    (one 16-float vector each; both for the rows rounded up to 16), each
    64-byte aligned."""
    ld = _round_up(max(sk, 1), COL_ALIGN)
    qb = min(max(BLOCK_FLOATS // ld // ROW_ALIGN * ROW_ALIGN, ROW_ALIGN), MAX_ROWS, sq)
    qb16 = _round_up(qb, COL_ALIGN)
    regions = (dk * ld, qb * dk, sk * dv, qb * ld, qb16, qb * dv, qb16 * COL_ALIGN)
    return sum(_round_up(4 * r, 64) for r in regions)


@dataclass
class _Match:
    q: int
    kt: int
    v: int
    bias: int | None
    y: int
    scale: float
    perms: list[list[int]]  # Q, Kt, V, Y
    removed: list[Instruction]
    anchor: Instruction  # the last removed instruction: ATTENTION takes its place


class _Graph:
    def __init__(self, program: Program) -> None:
        self.p = program
        self.t = program.tensors
        self.uses: Counter[int] = Counter(i for ins in program.instructions for i in ins.inputs)
        self.uses.update(program.outputs)
        self.aliased = {t.alias_of for t in program.tensors if t.alias_of is not None}
        self.outputs = set(program.outputs)
        self.producer = {o: ins for ins in program.instructions for o in ins.outputs}
        self.consumers: dict[int, list[Instruction]] = {}
        for ins in program.instructions:
            for i in ins.inputs:
                self.consumers.setdefault(i, []).append(ins)

    def private(self, i: int) -> bool:
        """Only one instruction reads i, and nothing else can see its bytes."""
        return (self.uses[i] == 1 and i not in self.outputs and i not in self.aliased
                and self.t[i].alias_of is None)

    def f32(self, *idx: int) -> bool:
        return all(self.t[i].dtype == np.float32 for i in idx)

    def scalar(self, i: int) -> float | None:
        t = self.t[i]
        if t.data is None or t.data.size != 1 or t.dtype != np.float32:
            return None
        v = float(t.data.reshape(()))
        return v if np.isfinite(v) else None

    def made_by(self, i: int, *opcodes: int) -> Instruction | None:
        ins = self.producer.get(i)
        return ins if ins is not None and ins.opcode in opcodes and self.private(i) else None


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    return len(shape) <= len(to) and all(d in (1, t) for d, t in zip(shape[::-1], to[::-1],
                                                                       strict=False))


def _operand(g: _Graph, i: int, removed: list[Instruction]) -> tuple[int, list[int]]:
    """The tensor an operand is read from and the perm that views it as the
    operand: through a Transpose nothing else reads, else i itself."""
    tr = g.made_by(i, Opcode.TRANSPOSE)
    if tr is not None and 2 <= len(g.t[tr.inputs[0]].shape) <= 4:
        removed.append(tr)
        return tr.inputs[0], [int(p) for p in tr.options.perm]
    return i, list(range(len(g.t[i].shape)))


def _match(g: _Graph, sm: Instruction) -> _Match | None:
    t = g.t
    x, p = sm.inputs[0], sm.outputs[0]
    rank = len(t[x].shape)
    if sm.options.axis != rank - 1 or sm.options.flags & ~1 or not g.private(p):
        return None
    mm2 = g.consumers[p][0]
    if mm2.opcode != Opcode.MATMUL or mm2.inputs[0] != p or mm2.inputs[1] == p:
        return None
    removed = [sm, mm2]
    bias, scale, s = None, 1.0, x
    add = g.made_by(s, Opcode.ADD)
    if add is not None:
        a, b = add.inputs
        inner = g.producer.get(a)
        if inner is None or inner.opcode not in (Opcode.DIV, Opcode.MUL, Opcode.MATMUL):
            a, b = b, a
        if a == b or not _broadcasts(t[b].shape, t[s].shape) or len(t[b].shape) > 4 or \
                t[a].shape != t[s].shape or not g.f32(b):
            return None
        removed.append(add)
        bias, s = b, a
    div = g.made_by(s, Opcode.DIV, Opcode.MUL)
    if div is not None:
        a, b = div.inputs
        c = g.scalar(b)
        if c is None and div.opcode == Opcode.MUL:
            a, b = b, a
            c = g.scalar(b)
        if c is None or c == 0.0 or t[a].shape != t[s].shape:
            return None
        scale = 1.0 / c if div.opcode == Opcode.DIV else c
        removed.append(div)
        s = a
    mm1 = g.made_by(s, Opcode.MATMUL)
    if mm1 is None or mm1.variant & ~0xFF:
        return None
    removed.append(mm1)
    q, kt, v, y = mm1.inputs[0], mm1.inputs[1], mm2.inputs[1], mm2.outputs[0]
    if not all(2 <= len(t[i].shape) <= 4 for i in (q, kt, v, y)) or \
            not g.f32(q, kt, v, y, s, x, p) or not np.isfinite(np.float32(scale)):
        return None
    (q, pq), (kt, pk), (v, pv) = (_operand(g, i, removed) for i in (q, kt, v))
    perms = [pq, pk, pv]
    anchor = mm2
    if g.private(y) and y in g.consumers:
        tr = g.consumers[y][0]
        if tr.opcode == Opcode.TRANSPOSE and len(tr.options.perm) == len(t[y].shape):
            inv = [0] * len(tr.options.perm)
            for i, pi in enumerate(tr.options.perm):
                inv[int(pi)] = i
            removed.append(tr)
            anchor, y = tr, tr.outputs[0]
            perms.append(inv)
    if len(perms) == 3:
        perms.append(list(range(len(t[y].shape))))
    return _Match(q, kt, v, bias, y, scale, perms, removed, anchor)


def fuse_attention(program: Program) -> int:
    """Rewrites in place; returns how many ATTENTION instructions were made."""
    g = _Graph(program)
    replace: dict[int, Instruction] = {}
    gone: set[int] = set()
    for sm in list(program.instructions):
        if sm.opcode != Opcode.SOFTMAX or id(sm) in gone:
            continue
        m = _match(g, sm)
        if m is None or any(id(r) in gone for r in m.removed):
            continue
        t = program.tensors
        sq, dk = t[m.q].shape[m.perms[0][-2]], t[m.q].shape[m.perms[0][-1]]
        sk, dv = t[m.kt].shape[m.perms[1][-1]], t[m.v].shape[m.perms[2][-1]]
        identity = all(perm == list(range(len(perm))) for perm in m.perms)
        opts = AxisOptionsT(axis=0, axes=None if identity else [i for p in m.perms for i in p],
                            alpha=float(np.float32(m.scale)), flags=0)
        inputs = [m.q, m.kt, m.v] + ([m.bias] if m.bias is not None else [])
        replace[id(m.anchor)] = Instruction(
            Opcode.ATTENTION, inputs, [m.y], opts, name=sm.name, variant=VARIANT_BEST,
            scratch_size=attention_workspace(sq, sk, dk, dv))
        gone.update(id(r) for r in m.removed)
    program.instructions = [replace.get(id(i), i) for i in program.instructions
                            if id(i) not in gone or id(i) in replace]
    return len(replace)
