"""Fuse MobileNetV2's inverted residual block into one INVERTED_RESIDUAL instruction.

Runs on the lowered program after pack_weights, whose packed 1x1 weights it
takes as they are. A CONV 1x1 (stride 1, no pads, group 1, packed weight, no
residual) whose output feeds only a depthwise CONV (group = channels,
dilation 1, strides 1 or 2, no residual), whose output feeds only a CONV 1x1
(packed; a residual allowed) becomes one instruction
(runtime_c/src/kernels/ref/inverted_residual.c): the block in bands of
output rows, the expanded and depthwise tensors only in the thread's
workspace, never in the arena. The activations fuse_activations put into the
three convs and the residual fuse_residual put into the last carry over.
Without a fusable expand conv (MobileNetV2's first block: depthwise ->
project) the instruction has no expand stage.

Pruned models: a 1x1 conv that edgec.passes.sparsify turned into a
SPARSE_CONV (its weight below the break-even density of the sparse kernel)
fuses the same way; the instruction takes its sparse weight as it is, and
that stage runs the sparse row products on the band (either or both 1x1
convs; the other stays packed). The per-weight choice is sparsify's.

It pays where the intermediates are large: in NCHW the unfused chain writes
the expanded tensor and reads it back, which bounds MobileNetV2's 112x112 and
56x56 blocks by memory traffic. Where they are small they stay in cache
anyway, and the bands' shorter GEMMs (fewer pixels per call, the project
weight re-read per band) lose more than the fusion saves: blocks whose
expanded tensor is under MIN_EXPANDED_BYTES per image stay unfused.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edgec.fb.Activation import Activation
from edgec.fb.InvertedResidualOptions import InvertedResidualOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower.conv import (
    GEMM_NC,
    PACK_NR,
    VARIANT_FAMILY_MASK,
    VARIANT_KSPLIT,
    VARIANT_PACKED,
    gemm_workspace,
    round_up,
)
from edgec.program import Instruction, Program

# The band: as many output rows as keep the workspace (expanded rows, the
# depthwise band, the GEMMs' packing buffers) within SCRATCH_BUDGET, half the
# L2 cache of the x86 machines measured (2 MB per core; bench/RESULTS.md),
# and its pixels within one GEMM column block (GEMM_NC): longer bands gain
# nothing and lose locality.
SCRATCH_BUDGET = 1024 * 1024
# Measured on MobileNetV2: fusing pays where the expanded tensor leaves the
# L2 cache (the 112x112 and 56x56 blocks, 1.6-4.8 MB); the 28x28 blocks
# (602 KB) are even, smaller ones lose a few percent.
MIN_EXPANDED_BYTES = 1024 * 1024
FLOAT = 4


def workspace(rows: int, expand: bool, cin: int, ch: int, m: int, w: int, ow: int,
              kh: int, kw: int, sh: int, sw: int, sparse_expand: bool = False,
              sparse_project: bool = False) -> int:
    """inverted_residual.c layout(): bytes per thread for bands of `rows` output rows
    (a sparse 1x1 stage needs no GEMM packing buffer)."""
    win = (rows - 1) * sh + kh
    at = round_up(FLOAT * ch * win * w, 64) if expand else 0
    at += round_up(FLOAT * ch * (round_up(rows * ow, 16) if sparse_project else rows * ow), 64)
    at += round_up(FLOAT * win * (round_up(ow + kw, PACK_NR) + 16) * sw, 64)
    g1 = gemm_workspace(ch, win * w, cin) if expand and not sparse_expand else 0
    g3 = 0 if sparse_project else gemm_workspace(m, rows * ow, ch)
    return at + max(g1, g3)


def _ints(values: object, n: int, default: int) -> list[int]:
    return [int(v) for v in values] if values is not None and len(values) else [default] * n


def _sparse(ins: Instruction) -> bool:
    return ins.opcode == Opcode.SPARSE_CONV


def conv1x1(program: Program, ins: Instruction | None, residual: bool) -> bool:
    """A packed or sparse 1x1 conv, stride 1, no pads, group 1 (a residual input only
    if allowed)."""
    if ins is None or ins.opcode not in (Opcode.CONV, Opcode.SPARSE_CONV) or \
            len(ins.inputs) > (4 if residual else 3):
        return False
    if ins.opcode == Opcode.SPARSE_CONV:
        sw = getattr(program.tensors[ins.inputs[1]], "sparse", None)
        if sw is None or sw.block[1] != 1:
            return False
    elif ins.variant & ~(VARIANT_FAMILY_MASK | VARIANT_KSPLIT) != VARIANT_PACKED:
        # (a split of the input channels, split_input_channels's, is dropped: the
        # fused block sums its 1x1 convs whole)
        return False
    o, w = ins.options, program.tensors[ins.inputs[1]]
    return (len(program.tensors[ins.inputs[0]].shape) == 4 and w.shape[2:4] == (1, 1)
            and int(o.group) == 1 and set(_ints(o.strides, 2, 1)) == {1}
            and set(_ints(o.dilations, 2, 1)) == {1} and set(_ints(o.pads, 4, 0)) == {0})


def depthwise(program: Program, ins: Instruction | None) -> bool:
    """A 2-D depthwise conv the fused kernel runs: dilation 1, strides 1 or 2."""
    if ins is None or ins.opcode != Opcode.CONV or len(ins.inputs) > 3:
        return False
    if ins.variant & ~VARIANT_FAMILY_MASK:
        return False
    x, w, y = (program.tensors[i] for i in (ins.inputs[0], ins.inputs[1], ins.outputs[0]))
    o = ins.options
    return (len(x.shape) == 4 and len(w.shape) == 4 and w.shape[1] == 1
            and int(o.group) == x.shape[1] == y.shape[1]
            and set(_ints(o.dilations, 2, 1)) == {1}
            and set(_ints(o.strides, 2, 1)) <= {1, 2})


def _bias(ins: Instruction) -> int:
    return ins.inputs[2] if len(ins.inputs) > 2 else -1


def fuse_inverted_residual(program: Program, min_expanded_bytes: int | None = None,
                           budget: int | None = None) -> int:
    """Returns how many blocks were fused (None: the module's MIN_EXPANDED_BYTES and
    SCRATCH_BUDGET, read at the call so that tests and benchmarks can change them)."""
    min_expanded_bytes = MIN_EXPANDED_BYTES if min_expanded_bytes is None else min_expanded_bytes
    budget = SCRATCH_BUDGET if budget is None else budget
    uses: Counter[int] = Counter(i for ins in program.instructions for i in ins.inputs)
    uses.update(program.outputs)
    producer = {o: ins for ins in program.instructions for o in ins.outputs}

    def sole_use(t: int) -> bool:
        tensor = program.tensors[t]
        return uses[t] == 1 and tensor.alias_of is None and tensor.dtype == np.float32

    replaced: dict[int, Instruction] = {}
    removed: set[int] = set()
    for proj in program.instructions:
        if not conv1x1(program, proj, residual=True) or id(proj) in removed:
            continue
        dw = producer.get(proj.inputs[0])
        if not depthwise(program, dw) or not sole_use(proj.inputs[0]) or id(dw) in removed:
            continue
        assert dw is not None
        exp = producer.get(dw.inputs[0])
        if not (conv1x1(program, exp, residual=False) and sole_use(dw.inputs[0])) or \
                id(exp) in removed or id(exp) in replaced:
            exp = None
        e_shape = program.tensors[dw.inputs[0]].shape
        if FLOAT * int(np.prod(e_shape[1:])) < min_expanded_bytes:
            continue
        x = exp.inputs[0] if exp else dw.inputs[0]
        _, cin, _, w = program.tensors[x].shape
        ch, _, kh, kw = program.tensors[dw.inputs[1]].shape
        y = program.tensors[proj.outputs[0]].shape
        m, oh, ow = y[1], y[2], y[3]
        strides = _ints(dw.options.strides, 2, 1)
        geo = dict(expand=exp is not None, cin=cin, ch=ch, m=m, w=w, ow=ow, kh=kh, kw=kw,
                   sh=strides[0], sw=strides[1],
                   sparse_expand=exp is not None and _sparse(exp),
                   sparse_project=_sparse(proj))
        rows = 1
        while rows < oh and (rows + 1) * ow <= GEMM_NC and workspace(rows + 1, **geo) <= budget:
            rows += 1
        acts = [(c.options.activation, c.options.actAlpha, c.options.actBeta) if c else
                (Activation.NONE, 0.0, 0.0) for c in (exp, dw, proj)]
        opts = InvertedResidualOptionsT(
            strides=strides, pads=_ints(dw.options.pads, 4, 0),
            expandActivation=acts[0][0], expandAlpha=acts[0][1], expandBeta=acts[0][2],
            dwActivation=acts[1][0], dwAlpha=acts[1][1], dwBeta=acts[1][2],
            activation=acts[2][0], actAlpha=acts[2][1], actBeta=acts[2][2])
        inputs = [x, exp.inputs[1] if exp else -1, _bias(exp) if exp else -1, dw.inputs[1],
                  _bias(dw), proj.inputs[1], _bias(proj), *proj.inputs[3:4]]
        stages = [c for c in (exp, dw, proj) if c is not None]
        replaced[id(proj)] = Instruction(
            Opcode.INVERTED_RESIDUAL, inputs, list(proj.outputs), opts,
            name="+".join(c.name for c in stages),
            variant=(proj.variant & VARIANT_FAMILY_MASK) | VARIANT_PACKED,
            scratch_size=workspace(rows, **geo))
        removed.update(id(c) for c in stages[:-1])
    program.instructions = [replaced.get(id(i), i) for i in program.instructions
                            if id(i) not in removed]
    return len(replaced)
