"""Numpy references for the pruning tests, in float64, independent of edgec's
lowering: a conv by im2col, and a forward pass over an ONNX graph (the ops the
zoo CNNs use) that can run the smaller network made of kept channels only."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import numpy_helper


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, strides: tuple[int, int],
           pads: tuple[int, int, int, int], dilations: tuple[int, int],
           group: int = 1) -> np.ndarray:
    """NCHW conv by im2col: x (N, C, H, W), w (M, C/group, KH, KW), pads (t, l, b, r)."""
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                  j * dw:j * dw + sw * (ow - 1) + 1:sw]
    mg = m // group
    out = np.empty((n, m, oh, ow), x.dtype)
    for g in range(group):
        cg_cols = cols[:, g * cg:(g + 1) * cg].reshape(n, cg * kh * kw, oh * ow)
        wg = w[g * mg:(g + 1) * mg].reshape(mg, cg * kh * kw)
        out[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cg_cols).reshape(
            n, mg, oh, ow)
    if b is not None:
        out += b[None, :, None, None]
    return out


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _layer(weight_name: str) -> str:
    return weight_name[: -len(".weight")] if weight_name.endswith(".weight") else weight_name


def forward(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
            kept: Mapping[str, np.ndarray] | None = None) -> list[np.ndarray]:
    """Runs model in float64. With kept (layer name -> kept output channels of
    that conv), runs the network made of those channels only: every weight
    sliced by the kept channels of its producer and consumer; a residual Add
    asserts that both sides kept the same channels."""
    kept = kept or {}
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64)
              if numpy_helper.to_array(t).dtype.kind == "f" else numpy_helper.to_array(t)
              for t in model.graph.initializer}
    vals: dict[str, np.ndarray] = {k: np.asarray(v, np.float64) for k, v in feeds.items()}
    chan: dict[str, np.ndarray | None] = {k: None for k in feeds}  # kept channels, None = all

    def ch(name: str, full: int) -> np.ndarray:
        c = chan.get(name)
        return np.arange(full) if c is None else c

    for node in model.graph.node:
        ins = [vals.get(i, consts.get(i)) if i else None for i in node.input]
        out = node.output[0]
        op = node.op_type
        if op == "Constant":
            vals[out] = numpy_helper.to_array(_attr(node, "value", None))
            chan[out] = None
            continue
        src = node.input[0] if node.input else ""
        if op == "Conv":
            w, b = ins[1], ins[2] if len(ins) > 2 else None
            group = int(_attr(node, "group", 1))
            k = w.shape[2:]
            pads = list(_attr(node, "pads", [0] * 4))
            strides = tuple(_attr(node, "strides", [1, 1]))
            dil = tuple(_attr(node, "dilations", [1, 1]))
            in_kept = ch(src, consts[node.input[1]].shape[1] * group if group > 1
                         else w.shape[1])
            if group > 1:  # depthwise: the channels of the input
                assert group == w.shape[0]
                w, b = w[in_kept], (b[in_kept] if b is not None else None)
                group = len(in_kept)
                out_kept = in_kept
            else:
                out_kept = kept.get(_layer(node.input[1]), np.arange(w.shape[0]))
                w = w[out_kept][:, in_kept]
                b = b[out_kept] if b is not None else None
            assert len(k) == 2
            vals[out] = conv2d(ins[0], w, b, strides, tuple(pads), dil, group)
            chan[out] = out_kept
        elif op == "BatchNormalization":
            c = ch(src, ins[1].shape[0])
            scale, bias, mean, var = (t[c] for t in ins[1:5])
            eps = float(_attr(node, "epsilon", 1e-5))
            s = scale / np.sqrt(var + eps)
            vals[out] = ins[0] * s[None, :, None, None] + (bias - mean * s)[None, :, None, None]
            chan[out] = chan.get(src)
        elif op == "Relu":
            vals[out] = np.maximum(ins[0], 0)
            chan[out] = chan.get(src)
        elif op == "Clip":
            vals[out] = np.clip(ins[0], float(ins[1]), float(ins[2]))
            chan[out] = chan.get(src)
        elif op == "Add":
            a, b2 = node.input
            ca, cb = chan.get(a), chan.get(b2)
            full = ins[0].shape[1]
            assert np.array_equal(ch(a, full), ch(b2, full)), f"{node.name}: masks differ"
            vals[out] = ins[0] + ins[1]
            chan[out] = ca if ca is not None else cb
        elif op == "MaxPool":
            kh, kw = _attr(node, "kernel_shape", None)
            sh, sw = _attr(node, "strides", [1, 1])
            p = list(_attr(node, "pads", [0] * 4))
            x = np.pad(ins[0], ((0, 0), (0, 0), (p[0], p[2]), (p[1], p[3])),
                       constant_values=-np.inf)
            oh = (x.shape[2] - kh) // sh + 1
            ow = (x.shape[3] - kw) // sw + 1
            y = np.full((*x.shape[:2], oh, ow), -np.inf)
            for i in range(kh):
                for j in range(kw):
                    y = np.maximum(y, x[:, :, i:i + sh * (oh - 1) + 1:sh,
                                        j:j + sw * (ow - 1) + 1:sw])
            vals[out] = y
            chan[out] = chan.get(src)
        elif op == "GlobalAveragePool":
            vals[out] = ins[0].mean(axis=(2, 3), keepdims=True)
            chan[out] = chan.get(src)
        elif op in ("Flatten", "Reshape"):
            assert ins[0].shape[2:] in ((1, 1), ()), "flatten of a spatial map"
            vals[out] = ins[0].reshape(ins[0].shape[0], -1)
            chan[out] = chan.get(src)
        elif op == "Gemm":
            w = ins[1]
            trans_b = int(_attr(node, "transB", 0))
            c = chan.get(src)
            if c is not None:
                w = w[:, c] if trans_b else w[c]
            y = ins[0] @ (w.T if trans_b else w)
            if len(ins) > 2 and ins[2] is not None:
                y = y + ins[2]
            vals[out] = y
            chan[out] = None
        else:
            raise NotImplementedError(op)
    return [vals[o.name] for o in model.graph.output]
