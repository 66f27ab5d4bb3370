"""The pruning report: per layer, the sparsity, parameters and stored bytes
before and after, the kernel chosen, and the pruned model's output error
against the unpruned one. Built from the two compiled programs, matched by
instruction name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from edgec.fb.Opcode import Opcode
from edgec.program import Instruction, Program

_LAYER_OPS = {Opcode.CONV, Opcode.GEMM, Opcode.MATMUL, Opcode.SPARSE_CONV, Opcode.SPARSE_GEMM}


@dataclass
class LayerRow:
    layer: str
    op: str
    kernel: str
    sparsity: float | None  # zero weights / weights, after pruning
    params_before: int
    params_after: int  # stored nonzero weights after (unstructured) or weights (channels)
    bytes_before: int
    bytes_after: int


@dataclass
class PruneReport:
    spec: str
    rows: list[LayerRow] = field(default_factory=list)
    file_before: int = 0
    file_after: int = 0
    error: float | None = None  # max |pruned - unpruned| / max |unpruned|, over outputs
    top1: float | None = None  # argmax agreement of 2-D outputs
    samples: int = 0

    @property
    def params_before(self) -> int:
        return sum(r.params_before for r in self.rows)

    @property
    def params_after(self) -> int:
        return sum(r.params_after for r in self.rows)


def _layer_name(tensor_name: str) -> str:
    base = tensor_name.split("/")[0]
    return base[: -len(".weight")] if base.endswith(".weight") else base


@dataclass
class _Weight:
    layer: str
    op: str
    kernel: str
    numel: int
    nonzeros: int | None
    stored: int


@dataclass
class _Stage:
    """One layer's weight in a program: a Conv/Gemm/MatMul instruction, or one
    stage (expand, depthwise, project) of a fused INVERTED_RESIDUAL."""

    name: str
    ins: Instruction
    weight: int  # tensor index
    conv: bool
    in_channels: int | None  # of the conv's input (grouped if it differs from the weight's)
    out_channels: int | None  # to unpack a packed weight


def _stages(program: Program, ins: Instruction) -> list[_Stage]:
    if ins.opcode == Opcode.INVERTED_RESIDUAL:
        return _block_stages(program, ins)
    if ins.opcode not in _LAYER_OPS or len(ins.inputs) < 2 or ins.inputs[1] < 0:
        return []
    conv = ins.opcode in (Opcode.CONV, Opcode.SPARSE_CONV)
    return [_Stage(ins.name, ins, ins.inputs[1], conv,
                   int(program.tensors[ins.inputs[0]].shape[1]) if conv else None, None)]


def _block_stages(program: Program, ins: Instruction) -> list[_Stage]:
    """Inputs: x, expand weight (or -1), its bias, depthwise weight, bias, project
    weight, bias[, residual]; the name joins the stages' names with '+'."""
    names = ins.name.split("+")
    weights = [w for w in (ins.inputs[1], ins.inputs[3], ins.inputs[5]) if w >= 0]
    if len(names) != len(weights):
        return []
    ch = int(program.tensors[ins.inputs[3]].shape[0])
    cin = int(program.tensors[ins.inputs[0]].shape[1])
    m = int(program.tensors[ins.outputs[0]].shape[1])
    shapes = [(cin, ch), (ch, ch), (ch, m)][3 - len(weights):]
    return [_Stage(name, ins, w, True, c_in, c_out)
            for name, w, (c_in, c_out) in zip(names, weights, shapes, strict=True)]


def _decode(program: Program, stage: _Stage) -> np.ndarray | None:
    from edgec.passes.sparsify import _unpack_conv, conv_weight, fc_weight

    if stage.ins.opcode != Opcode.INVERTED_RESIDUAL:
        return conv_weight(program, stage.ins) if stage.conv else fc_weight(program, stage.ins)
    data = program.tensors[stage.weight].data
    if data is None or stage.out_channels is None:
        return None
    arr = np.asarray(data, np.float32)
    return _unpack_conv(arr, stage.out_channels) if arr.ndim == 5 else arr


def _weight(program: Program, stage: _Stage,
            dense_weights: Mapping[str, np.ndarray] | None = None) -> _Weight | None:
    """What the file stores for a layer's weight; numel and nonzeros from
    dense_weights (by layer node name) where given, else decoded from the
    stored layout when it can be."""
    t = program.tensors[stage.weight]
    if not t.is_constant:
        return None
    sparse = getattr(t, "sparse", None)
    conv = stage.conv
    if sparse is not None:
        shape = tuple(sparse.shape)
        op = f"Conv {'x'.join(str(d) for d in shape[2:])}" if conv else "Gemm"
        return _Weight(_layer_name(t.name), op, f"sparse {sparse.label()}", sparse.dense_numel,
                       int(np.count_nonzero(sparse.values)), sparse.stored_bytes)
    dense = None
    if dense_weights is not None and stage.name in dense_weights:
        dense = np.asarray(dense_weights[stage.name])
    if dense is None:
        dense = _decode(program, stage)
    label = "dense matmul" if stage.ins.opcode == Opcode.MATMUL else \
        "dense (fused block)" if stage.ins.opcode == Opcode.INVERTED_RESIDUAL else "dense"
    if dense is None:
        return _Weight(_layer_name(t.name), "Conv" if conv else "Gemm", label,
                       int(np.prod(t.shape)), None, t.nbytes)
    op = f"Conv {'x'.join(str(d) for d in dense.shape[2:])}" if conv else "Gemm"
    if conv and stage.in_channels != dense.shape[1]:
        op += " (grouped)"
    return _Weight(_layer_name(t.name), op, label, int(dense.size),
                   int(np.count_nonzero(dense)), t.nbytes)


def _all_stages(program: Program) -> list[_Stage]:
    return [st for ins in program.instructions for st in _stages(program, ins)]


def compare_programs(before: Program, after: Program,
                     weights_before: Mapping[str, np.ndarray] | None = None,
                     weights_after: Mapping[str, np.ndarray] | None = None) -> list[LayerRow]:
    """One row per Conv/Gemm/MatMul with a constant weight (the stages of a fused
    inverted-residual block included), in program order, matched by node name.
    weights_*: the layers' dense weights by node name (edgec.prune.LayerWeights
    of the imported graph, unpruned and pruned), for weights stored in layouts
    that cannot be read back (Winograd)."""
    by_name = {st.name: st for st in _all_stages(after) if st.name}
    rows = []
    for stage in _all_stages(before):
        old = _weight(before, stage, weights_before)
        new_stage = by_name.get(stage.name)
        new = _weight(after, new_stage, weights_after) if new_stage is not None else None
        if old is None or new is None:
            continue
        nonzeros = new.nonzeros if new.nonzeros is not None else new.numel
        sparsity = None if new.nonzeros is None else 1.0 - new.nonzeros / max(new.numel, 1)
        rows.append(LayerRow(old.layer, new.op, new.kernel, sparsity, old.numel,
                             nonzeros if new.kernel.startswith("sparse") or sparsity
                             else new.numel, old.stored, new.stored))
    return rows


def output_error(before: bytes, after: bytes, samples: int = 4,
                 seed: int = 0) -> tuple[float, float | None]:
    """Runs both programs in the C runtime on seeded random inputs: the largest
    output difference relative to the unpruned output's largest magnitude, and
    the argmax agreement of the 2-D outputs (None if there are none)."""
    from edgec.runtime import Session
    from edgec.validate import random_feeds

    ref_s, new_s = Session(before), Session(after)
    worst, agree, total = 0.0, 0, 0
    for k in range(samples):
        feeds = random_feeds(ref_s.get_inputs(), seed + k)
        for a, b in zip(new_s.run(None, feeds), ref_s.run(None, feeds), strict=True):
            if not np.issubdtype(b.dtype, np.floating) or b.size == 0:
                continue
            scale = max(float(np.max(np.abs(b))), 1e-30)
            worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b))) / scale)
            if b.ndim == 2 and b.shape[1] > 1:
                agree += int(np.sum(a.argmax(axis=1) == b.argmax(axis=1)))
                total += b.shape[0]
    return worst, (agree / total if total else None)


def build_report(spec: str, before: Program, before_bytes: bytes, after: Program,
                 after_bytes: bytes, run: bool = True, samples: int = 4,
                 weights_before: Mapping[str, np.ndarray] | None = None,
                 weights_after: Mapping[str, np.ndarray] | None = None) -> PruneReport:
    report = PruneReport(spec, compare_programs(before, after, weights_before, weights_after),
                         len(before_bytes), len(after_bytes), samples=samples if run else 0)
    if run:
        report.error, report.top1 = output_error(before_bytes, after_bytes, samples)
    return report


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render(report: PruneReport) -> object:
    """A rich Table of the report."""
    from rich.table import Table

    table = Table(title=f"pruning {report.spec}", show_footer=True)
    pb, pa = report.params_before, report.params_after
    bb = sum(r.bytes_before for r in report.rows)
    ba = sum(r.bytes_after for r in report.rows)
    table.add_column("layer", footer="total")
    table.add_column("op")
    table.add_column("kernel")
    table.add_column("sparsity", justify="right",
                     footer=f"{1 - pa / pb:.1%}" if pb else "")
    table.add_column("params before", justify="right", footer=f"{pb:,}")
    table.add_column("params after", justify="right", footer=f"{pa:,} ({pa / max(pb, 1):.2f}x)")
    table.add_column("bytes before", justify="right", footer=_human(bb))
    table.add_column("bytes after", justify="right",
                     footer=f"{_human(ba)} ({ba / max(bb, 1):.2f}x)")
    for r in report.rows:
        table.add_row(r.layer, r.op, r.kernel, "?" if r.sparsity is None else f"{r.sparsity:.1%}",
                      f"{r.params_before:,}", f"{r.params_after:,}", _human(r.bytes_before),
                      _human(r.bytes_after))
    caption = f"file {_human(report.file_before)} -> {_human(report.file_after)} " \
              f"({report.file_after / max(report.file_before, 1):.2f}x)"
    if report.error is not None:
        caption += f"; output error vs unpruned: {report.error:.3g} of the largest output " \
                   f"(max over {report.samples} random inputs)"
        if report.top1 is not None:
            caption += f", top-1 agreement {report.top1:.0%}"
    table.caption = caption
    return table
