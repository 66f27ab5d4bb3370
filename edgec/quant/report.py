"""How much a quantized program differs from the float one: per quantized
tensor SNR, output SNR and cosine, sizes; as a rich table and an HTML page."""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgec.program import Program
from edgec.quant.calibrate import Feed, Runner


@dataclass
class LayerRow:
    name: str
    op: str
    tensor: str
    snr_db: float  # the op's int8 output against the float program's tensor
    weight_snr_db: float | None = None
    kept_float: bool = False


@dataclass
class Evaluation:
    cosine: float  # mean over feeds and outputs
    output_snr_db: float
    tensor_snr: dict[int, float]  # float root -> SNR of its int8 twin (dB)
    top1_agreement: float | None = None


@dataclass
class QuantReport:
    mode: str
    rows: list[LayerRow] = field(default_factory=list)
    evaluation: Evaluation | None = None
    size_before: int = 0
    size_after: int = 0
    excluded: list[str] = field(default_factory=list)
    feeds: int = 0

    def table(self) -> object:
        from rich.table import Table

        t = Table(title=f"edgec {self.mode} quantization: per layer (int8 vs float, "
                        f"{self.feeds} calibration feeds)")
        for col in ("layer", "op", "output SNR dB", "weight SNR dB"):
            t.add_column(col, justify="left" if col in ("layer", "op") else "right")
        for r in self.rows:
            style = "yellow" if r.kept_float else ("red" if r.snr_db < 15 else None)
            w = "" if r.weight_snr_db is None else f"{r.weight_snr_db:.1f}"
            snr = "float" if r.kept_float else f"{r.snr_db:.1f}"
            t.add_row(r.name, r.op, snr, w, style=style)
        return t

    def summary(self) -> str:
        parts = [f"size {self.size_before / 1e6:.2f} MB -> {self.size_after / 1e6:.2f} MB "
                 f"({self.size_after / max(self.size_before, 1):.3f}x)"]
        if self.evaluation is not None:
            parts.append(f"output cosine {self.evaluation.cosine:.5f}, "
                         f"output SNR {self.evaluation.output_snr_db:.1f} dB")
            if self.evaluation.top1_agreement is not None:
                parts.append(f"top-1 agreement {self.evaluation.top1_agreement:.3f}")
        if self.excluded:
            parts.append(f"kept in float: {', '.join(self.excluded)}")
        return "; ".join(parts)

    def print(self) -> None:
        from rich.console import Console

        console = Console()
        console.print(self.table())
        console.print(self.summary())

    def write_html(self, path: str | os.PathLike[str]) -> None:
        rows = "\n".join(
            f"<tr><td>{html.escape(r.name)}</td><td>{html.escape(r.op)}</td>"
            f"<td>{'float' if r.kept_float else f'{r.snr_db:.1f}'}</td>"
            f"<td>{'' if r.weight_snr_db is None else f'{r.weight_snr_db:.1f}'}</td></tr>"
            for r in self.rows)
        plot = _plot(self.rows)
        img = f'<img alt="per-layer SNR" src="data:image/png;base64,{plot}">' if plot else \
            "<p>(install matplotlib for the plot)</p>"
        page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>edgec quantization report</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}} td:first-child,td:nth-child(2)
{{text-align:left}}</style></head><body>
<h1>edgec {html.escape(self.mode)} quantization</h1>
<p>{html.escape(self.summary())}</p>
{img}
<table><tr><th>layer</th><th>op</th><th>output SNR dB</th><th>weight SNR dB</th></tr>
{rows}
</table></body></html>
"""
        Path(path).write_text(page, encoding="utf-8")


def _plot(rows: list[LayerRow]) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    names = [r.name for r in rows if not r.kept_float]
    snrs = [min(r.snr_db, 80.0) for r in rows if not r.kept_float]
    fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.18), 3.5))
    ax.bar(range(len(snrs)), snrs, color=["#c0392b" if s < 15 else "#2e86c1" for s in snrs])
    ax.set_ylabel("output SNR vs float (dB)")
    ax.set_xlabel("quantized layer (program order)")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=90, fontsize=5)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def dequantize(value: np.ndarray, scale: float, zp: int) -> np.ndarray:
    return (value.astype(np.float64) - zp) * scale


def evaluate(float_prog: Program, quant_prog: Program, feeds: list[Feed],
             twins: dict[int, int]) -> Evaluation:
    """Runs both programs on the feeds; twins maps float roots (in float_prog) to
    their int8 tensors (in quant_prog)."""
    pairs = {f: q for f, q in twins.items() if quant_prog.tensors[q].alias_of is None
             and not quant_prog.tensors[q].is_constant}
    fr = Runner(float_prog, list(pairs))
    qr = Runner(quant_prog, list(pairs.values()))
    sig: dict[int, float] = dict.fromkeys(pairs, 0.0)
    noise: dict[int, float] = dict.fromkeys(pairs, 0.0)
    cosines: list[float] = []
    osig = onoise = 0.0
    agree: list[bool] = []
    for feed in feeds:
        fo, fv = fr.run(feed)
        qo, qv = qr.run(feed)
        for f, q in pairs.items():
            t = quant_prog.tensors[q]
            assert t.quant is not None
            deq = dequantize(qv[q], float(t.quant.scales[0]), int(t.quant.zero_points[0]))
            ref = fv[f].astype(np.float64)
            sig[f] += float(np.sum(ref * ref))
            noise[f] += float(np.sum((ref - deq) ** 2))
        for a, b in zip(fo, qo, strict=True):
            a64, b64 = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
            na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
            cosines.append(float(a64 @ b64 / (na * nb)) if na > 0 and nb > 0 else
                           float(na == nb))
            osig += float(a64 @ a64)
            onoise += float(np.sum((a64 - b64) ** 2))
        if fo and fo[0].ndim >= 1 and fo[0].shape[-1] > 1:
            agree.extend((np.argmax(fo[0].reshape(-1, fo[0].shape[-1]), -1) ==
                          np.argmax(qo[0].reshape(-1, qo[0].shape[-1]), -1)).tolist())
    snr = {f: _db(sig[f], noise[f]) for f in pairs}
    return Evaluation(cosine=float(np.mean(cosines)) if cosines else 1.0,
                      output_snr_db=_db(osig, onoise), tensor_snr=snr,
                      top1_agreement=float(np.mean(agree)) if agree else None)


def _db(signal: float, noise: float) -> float:
    if noise <= 0:
        return float("inf")
    if signal <= 0:
        return float("-inf")
    return float(10 * np.log10(signal / noise))
