"""A MiniLM-L6-shaped BERT encoder, with the op patterns HuggingFace's ONNX export emits."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper

from edgec.zoo._graph import GraphBuilder

LAYERS = 6
HIDDEN = 384
HEADS = 12
HEAD_DIM = HIDDEN // HEADS
INTERMEDIATE = 1536
SEQ = 128
# MiniLM's vocabulary is 30522; 8192 keeps the model file ~34 MB smaller and changes nothing
# downstream of the word-embedding Gather.
VOCAB = 8192
MAX_POSITIONS = 512
TYPE_VOCAB = 2

DESCRIPTION = (
    f"BERT-style encoder shaped like MiniLM-L6-H384: {LAYERS} layers, hidden {HIDDEN}, "
    f"{HEADS} heads, FFN {INTERMEDIATE}, sequence {SEQ}, vocabulary reduced to {VOCAB} "
    "(MiniLM: 30522); unfused attention, erf-GELU and LayerNormalization; seeded random weights."
)


@dataclass(frozen=True)
class _Shared:
    """Names of the graph-wide constants every layer reuses."""

    split_heads: str
    merge_heads: str
    score_scale: str
    mask_bias: str
    one: str
    half: str
    sqrt2: str


def _dense(b: GraphBuilder, name: str, x: str, cin: int, cout: int) -> str:
    # Exporters store nn.Linear weights pre-transposed to [in, out] for MatMul.
    w = b.normal(f"{name}.weight", (cin, cout), 0.0, 1.0 / math.sqrt(cin))
    bias = b.normal(f"{name}.bias", (cout,), 0.0, 0.02)
    y = b.op("MatMul", f"{name}.matmul", [x, w])
    return b.op("Add", f"{name}.add", [y, bias])


def _layer_norm(b: GraphBuilder, name: str, x: str, output: str | None = None) -> str:
    scale = b.uniform(f"{name}.weight", (HIDDEN,), 0.5, 1.5)
    bias = b.normal(f"{name}.bias", (HIDDEN,), 0.0, 0.1)
    return b.op("LayerNormalization", name, [x, scale, bias], output=output, axis=-1, epsilon=1e-12)


def _project_heads(b: GraphBuilder, name: str, x: str, shared: _Shared, perm: list[int]) -> str:
    """Q/K/V projection split into heads: [1, SEQ, HIDDEN] -> Transpose(perm) of [1, SEQ, H, D]."""
    x = _dense(b, name, x, HIDDEN, HIDDEN)
    x = b.op("Reshape", f"{name}.reshape", [x, shared.split_heads])
    return b.op("Transpose", f"{name}.transpose", [x], perm=perm)


def _gelu(b: GraphBuilder, name: str, x: str, shared: _Shared) -> str:
    y = b.op("Div", f"{name}.div", [x, shared.sqrt2])
    y = b.op("Erf", f"{name}.erf", [y])
    y = b.op("Add", f"{name}.add", [y, shared.one])
    y = b.op("Mul", f"{name}.mul", [x, y])
    return b.op("Mul", f"{name}.mul_half", [y, shared.half])


def _encoder_layer(
    b: GraphBuilder, name: str, x: str, shared: _Shared, output: str | None = None
) -> str:
    att = f"{name}.attention"
    q = _project_heads(b, f"{att}.self.query", x, shared, [0, 2, 1, 3])
    k = _project_heads(b, f"{att}.self.key", x, shared, [0, 2, 3, 1])
    v = _project_heads(b, f"{att}.self.value", x, shared, [0, 2, 1, 3])
    scores = b.op("MatMul", f"{att}.self.scores", [q, k])
    scores = b.op("Div", f"{att}.self.scale", [scores, shared.score_scale])
    scores = b.op("Add", f"{att}.self.mask", [scores, shared.mask_bias])
    probs = b.op("Softmax", f"{att}.self.softmax", [scores], axis=-1)
    context = b.op("MatMul", f"{att}.self.context", [probs, v])
    context = b.op("Transpose", f"{att}.self.context.transpose", [context], perm=[0, 2, 1, 3])
    context = b.op("Reshape", f"{att}.self.context.reshape", [context, shared.merge_heads])
    y = _dense(b, f"{att}.output.dense", context, HIDDEN, HIDDEN)
    y = b.op("Add", f"{att}.output.residual", [y, x])
    x = _layer_norm(b, f"{att}.output.LayerNorm", y)
    h = _dense(b, f"{name}.intermediate.dense", x, HIDDEN, INTERMEDIATE)
    h = _gelu(b, f"{name}.intermediate.gelu", h, shared)
    y = _dense(b, f"{name}.output.dense", h, INTERMEDIATE, HIDDEN)
    y = b.op("Add", f"{name}.output.residual", [y, x])
    return _layer_norm(b, f"{name}.output.LayerNorm", y, output=output)


def _shared_constants(b: GraphBuilder) -> _Shared:
    one = b.const("const.one", np.array(1.0, np.float32))
    mask = b.op(
        "Unsqueeze",
        "extended_mask.unsqueeze",
        ["attention_mask", b.const("extended_mask.axes", np.array([1, 2], np.int64))],
    )
    mask = b.op("Cast", "extended_mask.cast", [mask], to=TensorProto.FLOAT)
    mask = b.op("Sub", "extended_mask.sub", [one, mask])
    neg = b.const("extended_mask.neg", np.array(-10000.0, np.float32))
    return _Shared(
        split_heads=b.const("shape.split_heads", np.array([1, SEQ, HEADS, HEAD_DIM], np.int64)),
        merge_heads=b.const("shape.merge_heads", np.array([1, SEQ, HIDDEN], np.int64)),
        score_scale=b.const("const.sqrt_head_dim", np.array(math.sqrt(HEAD_DIM), np.float32)),
        mask_bias=b.op("Mul", "extended_mask.mul", [mask, neg]),
        one=one,
        half=b.const("const.half", np.array(0.5, np.float32)),
        sqrt2=b.const("const.sqrt2", np.array(math.sqrt(2.0), np.float32)),
    )


def _embeddings(b: GraphBuilder) -> str:
    words = b.normal("embeddings.word_embeddings.weight", (VOCAB, HIDDEN), 0.0, 0.02)
    positions = b.normal(
        "embeddings.position_embeddings.weight", (MAX_POSITIONS, HIDDEN), 0.0, 0.02
    )
    types = b.normal("embeddings.token_type_embeddings.weight", (TYPE_VOCAB, HIDDEN), 0.0, 0.02)
    # HF keeps position ids and (absent token_type_ids input) type ids as buffers.
    position_ids = b.const("embeddings.position_ids", np.arange(SEQ, dtype=np.int64)[None])
    type_ids = b.const("embeddings.token_type_ids", np.zeros((1, SEQ), np.int64))
    x = b.op("Gather", "embeddings.word_embeddings", [words, "input_ids"])
    p = b.op("Gather", "embeddings.position_embeddings", [positions, position_ids])
    x = b.op("Add", "embeddings.add_position", [x, p])
    t = b.op("Gather", "embeddings.token_type_embeddings", [types, type_ids])
    x = b.op("Add", "embeddings.add_token_type", [x, t])
    return _layer_norm(b, "embeddings.LayerNorm", x)


def build(seed: int = 0) -> onnx.ModelProto:
    b = GraphBuilder(np.random.default_rng(seed))
    shared = _shared_constants(b)
    x = _embeddings(b)
    for i in range(LAYERS):
        out = "last_hidden_state" if i == LAYERS - 1 else None
        x = _encoder_layer(b, f"encoder.layer.{i}", x, shared, output=out)
    int64, float32 = TensorProto.INT64, TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("input_ids", int64, [1, SEQ]),
        helper.make_tensor_value_info("attention_mask", int64, [1, SEQ]),
    ]
    outputs = [helper.make_tensor_value_info("last_hidden_state", float32, [1, SEQ, HIDDEN])]
    return b.model("bert_encoder", inputs, outputs)


def example_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """Random token ids and a mask of ones whose last 1-8 positions are padding."""
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(0, VOCAB, (1, SEQ), dtype=np.int64)
    attention_mask = np.ones((1, SEQ), np.int64)
    attention_mask[:, SEQ - int(rng.integers(1, 9)) :] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}
