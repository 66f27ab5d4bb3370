"""edgec.passes.fuse_attention: MatMul(Q, Kt) -> Div/Mul(scalar) -> [Add(bias)] ->
Softmax(last axis) -> MatMul(., V) becomes one ATTENTION, with the Transposes
around it folded in; it is left alone when an intermediate is read elsewhere
or the Softmax is over another axis. Fused or not, the numbers match
onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto, check_against_ort, helper, make_model

from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.passes.fuse_attention import attention_workspace
from edgec.zoo import bert_encoder

F = TensorProto.FLOAT
B, H, S, D = 2, 3, 17, 8


def _attention(extra_outputs: tuple[str, ...] = (), axis: int = -1, scale_op: str = "Div",
               swap_scale: bool = False, mask: bool = True,
               transposes: bool = False) -> onnx.ModelProto:
    """The exporters' chain over q [B, H, S, D], k [B, H, D, S], v [B, H, S, D];
    transposes=True: q, k, v fed [B, S, H, D] and split as HuggingFace does,
    the result merged back to [B, S, H, D]."""
    nodes = []
    if transposes:
        nodes += [helper.make_node("Transpose", ["q_in"], ["q"], perm=[0, 2, 1, 3]),
                  helper.make_node("Transpose", ["k_in"], ["k"], perm=[0, 2, 3, 1]),
                  helper.make_node("Transpose", ["v_in"], ["v"], perm=[0, 2, 1, 3])]
        inputs = {f"{n}_in": (F, (B, S, H, D)) for n in "qkv"}
    else:
        inputs = {"q": (F, (B, H, S, D)), "k": (F, (B, H, D, S)), "v": (F, (B, H, S, D))}
    scaled = ["c", "s"] if swap_scale else ["s", "c"]
    nodes += [helper.make_node("MatMul", ["q", "k"], ["s"]),
              helper.make_node(scale_op, scaled, ["z"])]
    last = "z"
    if mask:
        inputs["mask"] = (F, (B, 1, 1, S))
        nodes.append(helper.make_node("Add", ["mask", "z"], ["zm"]))
        last = "zm"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=axis),
              helper.make_node("MatMul", ["p", "v"], ["y"])]
    if transposes:
        nodes.append(helper.make_node("Transpose", ["y"], ["yt"], perm=[0, 2, 1, 3]))
    outputs = {"yt" if transposes else "y": F} | dict.fromkeys(extra_outputs, F)
    c = np.array(np.sqrt(D) if scale_op == "Div" else 1 / np.sqrt(D), np.float32)
    return make_model(nodes, inputs, outputs, {"c": c})


def _opcodes(model: onnx.ModelProto) -> list[int]:
    return [ins.opcode for ins in compile_program(model).program.instructions]


def _feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in model.graph.input:
        shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
        feeds[inp.name] = rng.standard_normal(shape).astype(np.float32)
    if "mask" in feeds:
        feeds["mask"] = np.where(np.arange(S) < S - 4, 0.0, -10000.0).astype(
            np.float32) * np.ones((B, 1, 1, S), np.float32)
    return feeds


def test_bert_encoder_attention_is_fused() -> None:
    """Each of the six layers: one ATTENTION, no score-sized op or Transpose left."""
    program = compile_program(bert_encoder.build()).program
    ops = [ins.opcode for ins in program.instructions]
    assert ops.count(Opcode.ATTENTION) == bert_encoder.LAYERS
    for gone in (Opcode.MATMUL, Opcode.SOFTMAX, Opcode.DIV, Opcode.TRANSPOSE):
        assert gone not in ops
    att = next(ins for ins in program.instructions if ins.opcode == Opcode.ATTENTION)
    t = program.tensors
    seq = bert_encoder.SEQ
    heads, d = bert_encoder.HEADS, bert_encoder.HEAD_DIM
    # Q, K, V and Y are the [1, S, H, D] views of the projections: no copy made
    assert [t[i].shape for i in att.inputs] == [(1, seq, heads, d)] * 3 + [(1, 1, 1, seq)]
    assert t[att.outputs[0]].shape == (1, seq, heads, d)
    assert list(att.options.axes) == [0, 2, 1, 3, 0, 2, 3, 1, 0, 2, 1, 3, 0, 2, 1, 3]
    assert att.options.alpha == pytest.approx(1 / np.sqrt(d), rel=1e-7)
    assert att.scratch_size == attention_workspace(seq, seq, d, d)
    # no [1, 12, 128, 128] scores (768 KiB a layer) left in the arena
    assert all(x.shape != (1, heads, seq, seq) for x in t)


@pytest.mark.parametrize(("scale_op", "swap"), [("Div", False), ("Mul", False), ("Mul", True)])
@pytest.mark.parametrize("mask", [True, False])
def test_handmade_graph_is_fused(scale_op: str, swap: bool, mask: bool) -> None:
    model = _attention(scale_op=scale_op, swap_scale=swap, mask=mask)
    assert _opcodes(model) == [Opcode.ATTENTION]
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6)


def test_transposes_are_folded() -> None:
    model = _attention(transposes=True)
    program = compile_program(model).program
    (att,) = program.instructions
    assert att.opcode == Opcode.ATTENTION
    assert list(att.options.axes) == [0, 2, 1, 3, 0, 2, 3, 1, 0, 2, 1, 3, 0, 2, 1, 3]
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6, threads=2)


def test_transpose_read_elsewhere_is_kept() -> None:
    """K's Transpose is also a graph output: it runs, and ATTENTION reads its result."""
    model = _attention(extra_outputs=("k",), transposes=True)
    ops = _opcodes(model)
    assert ops.count(Opcode.ATTENTION) == 1 and ops.count(Opcode.TRANSPOSE) == 1
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shared", ["s", "z", "zm", "p"])
def test_not_fused_when_an_intermediate_is_read_elsewhere(shared: str) -> None:
    model = _attention(extra_outputs=(shared,))
    ops = _opcodes(model)
    assert Opcode.ATTENTION not in ops and Opcode.SOFTMAX in ops
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6)


def test_not_fused_when_an_intermediate_feeds_another_op() -> None:
    model = _attention()
    model.graph.node.append(helper.make_node("Relu", ["z"], ["r"]))
    model.graph.output.append(helper.make_tensor_value_info("r", F, None))
    assert Opcode.ATTENTION not in _opcodes(model)
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis", [2, -2, 1])
def test_not_fused_when_softmax_is_not_over_the_last_axis(axis: int) -> None:
    model = _attention(axis=axis)
    ops = _opcodes(model)
    assert Opcode.ATTENTION not in ops and Opcode.SOFTMAX in ops
    check_against_ort(model, feeds=_feeds(model), rtol=1e-5, atol=1e-6)


def test_not_fused_when_the_scale_is_not_a_constant_divisor() -> None:
    """c / scores is no scale; neither is a divisor computed at run time."""
    model = _attention(swap_scale=True)  # Div(c, s)
    assert Opcode.ATTENTION not in _opcodes(model)
    model = _attention()
    model.graph.initializer.pop()  # c becomes a graph input
    model.graph.input.append(helper.make_tensor_value_info("c", F, []))
    assert Opcode.ATTENTION not in _opcodes(model)


def test_not_fused_when_the_mask_grows_the_scores() -> None:
    """A bias of a larger shape than the scores changes the output's shape."""
    model = _attention()
    model.graph.input[-1].CopyFrom(helper.make_tensor_value_info("mask", F, (2, B, 1, 1, S)))
    assert Opcode.ATTENTION not in _opcodes(model)
