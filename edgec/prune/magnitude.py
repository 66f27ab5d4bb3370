"""Unstructured magnitude pruning (global or per layer, optionally by blocks) and
N:M pruning of the weights of an onnx-ir graph, in place."""

from __future__ import annotations

import numpy as np

from edgec.prune.graph import Layer, set_const
from edgec.prune.spec import PruneSpec


def _unique(layers: list[Layer]) -> list[Layer]:
    """One layer per weight (a shared weight is pruned once)."""
    seen: set[int] = set()
    out = []
    for layer in layers:
        if id(layer.weight) not in seen:
            seen.add(id(layer.weight))
            out.append(layer)
    return out


def _smallest(scores: list[np.ndarray], amount: float, per_layer: bool) -> list[np.ndarray]:
    """Masks (True = prune) of exactly round(amount * n) smallest scores, over
    all arrays together or per array; ties broken by position."""
    if per_layer:
        return [_smallest([s], amount, False)[0] for s in scores]
    flat = np.concatenate([s.ravel() for s in scores]) if scores else np.zeros(0)
    k = round(amount * flat.size)
    mask = np.zeros(flat.size, bool)
    if k > 0:
        mask[np.argsort(flat, kind="stable")[:k]] = True
    out, start = [], 0
    for s in scores:
        out.append(mask[start:start + s.size].reshape(s.shape))
        start += s.size
    return out


def _block_view(w: np.ndarray, block: tuple[int, int]) -> np.ndarray | None:
    """(rows/br, cols/bc, br, bc) view of w as a matrix, or None if blocks do not tile it."""
    rows, cols = w.shape[0], w.size // w.shape[0]
    br, bc = block
    if rows % br or cols % bc:
        return None
    return w.reshape(rows // br, br, cols // bc, bc).transpose(0, 2, 1, 3)


def magnitude_prune(layers: list[Layer], spec: PruneSpec) -> None:
    layers = _unique(layers)
    weights = [np.array(layer.array, np.float32) for layer in layers]
    if spec.block is None:
        masks = _smallest([np.abs(w) for w in weights], spec.amount, spec.per_layer)
    else:
        # block L2 norms where the blocks tile the matrix, single weights elsewhere
        views = [_block_view(w, spec.block) for w in weights]
        scores = [np.sqrt((v ** 2).sum(axis=(2, 3))) / np.sqrt(v.shape[2] * v.shape[3])
                  if v is not None else np.abs(w) for v, w in zip(views, weights, strict=True)]
        block_masks = _smallest(scores, spec.amount, spec.per_layer)
        masks = []
        for v, m, w in zip(views, block_masks, weights, strict=True):
            if v is None:
                masks.append(m)
                continue
            full = np.broadcast_to(m[:, :, None, None], v.shape).transpose(0, 2, 1, 3)
            masks.append(full.reshape(w.shape))
    for layer, w, m in zip(layers, weights, masks, strict=True):
        w[m] = 0.0
        set_const(layer.weight, w)


def nm_prune(layers: list[Layer], spec: PruneSpec) -> None:
    """Keeps the n largest magnitudes of every m consecutive weights along each
    output's reduction axis (a last, shorter group keeps its n largest too)."""
    n, m = spec.n, spec.m
    for layer in _unique(layers):
        w = np.array(layer.array, np.float32)
        axis = layer.reduction_axis()
        moved = np.moveaxis(w, axis, -1)
        k = moved.shape[-1]
        pad = (-k) % m
        mag = np.abs(moved)
        if pad:  # padding sorts below every real weight, so it is pruned first
            mag = np.concatenate([mag, np.full((*mag.shape[:-1], pad), -1.0, np.float32)],
                                 axis=-1)
        groups = mag.reshape(*mag.shape[:-1], (k + pad) // m, m)
        ranks = np.argsort(np.argsort(-groups, axis=-1, kind="stable"), axis=-1, kind="stable")
        prune = (ranks >= n).reshape(*mag.shape[:-1], k + pad)[..., :k]
        moved = np.where(prune, 0.0, moved).astype(np.float32)
        set_const(layer.weight, np.ascontiguousarray(np.moveaxis(moved, -1, axis)))
