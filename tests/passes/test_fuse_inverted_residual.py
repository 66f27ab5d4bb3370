"""edgec.passes.fuse_inverted_residual: where it fuses and where it must not.
The fused kernel's numerics are tested in tests/kernels/test_inverted_residual.py."""

from __future__ import annotations

import numpy as np
import onnx

# tests/kernels/test_inverted_residual.py builds the blocks
from kernels.test_inverted_residual import Block, block_model, compile_block
from onnx import helper

from edgec import zoo
from edgec.compiler import compile_program
from edgec.fb.Activation import Activation
from edgec.fb.Opcode import Opcode
from edgec.passes.fuse_inverted_residual import fuse_inverted_residual
from edgec.program import Program


def _fused(program: Program) -> list:
    return [i for i in program.instructions if i.opcode == Opcode.INVERTED_RESIDUAL]


def test_fires_on_mobilenet_v2() -> None:
    program = compile_program(zoo.build("mobilenet_v2")).program
    fused = _fused(program)
    # the blocks whose expanded tensor is >= 1 MB: 112x112 (the first, without an
    # expand conv, and the 16->96 one) and 56x56
    assert [i.name for i in fused] == [
        "node_Conv_1+node_Conv_2", "node_Conv_3+node_Conv_4+node_Conv_5",
        "node_Conv_6+node_Conv_7+node_Conv_8", "node_Conv_9+node_Conv_10+node_Conv_11"]
    first, _, third, _ = fused
    assert first.inputs[1] == first.inputs[2] == -1  # no expand stage
    assert len(third.inputs) == 8  # the residual of features.3
    assert third.options.expandActivation == third.options.dwActivation == Activation.CLIP
    assert (third.options.dwAlpha, third.options.dwBeta) == (0.0, 6.0)
    assert third.options.activation == Activation.NONE
    assert third.options.strides == [1, 1] and third.options.pads == [1, 1, 1, 1]
    # every block once the size rule is off
    program = compile_block(zoo.build("mobilenet_v2"), True, 1 << 20)
    assert len(_fused(program)) == 17


def _with_extra_consumer(model: onnx.ModelProto, tensor: str) -> onnx.ModelProto:
    """tensor also feeds a ReduceMean that is a second graph output."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.graph.node.append(helper.make_node("ReduceMean", [tensor], ["extra"], keepdims=1))
    model.graph.output.append(helper.make_tensor_value_info("extra", onnx.TensorProto.FLOAT,
                                                            None))
    return model


def test_not_through_an_intermediate_with_another_consumer() -> None:
    model = block_model(Block(6, 20, 6, 15, 13, residual=True))
    # the expanded tensor is read elsewhere: depthwise -> project still fuse, with
    # the expand conv left in front of them
    program = compile_block(_with_extra_consumer(model, "ea"), True, 1 << 20)
    (ins,) = _fused(program)
    assert ins.inputs[1] == ins.inputs[2] == -1
    assert sum(i.opcode == Opcode.CONV for i in program.instructions) == 1
    # the depthwise output is read elsewhere: nothing fuses
    program = compile_block(_with_extra_consumer(model, "da"), True, 1 << 20)
    assert not _fused(program)
    assert sum(i.opcode == Opcode.CONV for i in program.instructions) == 3


def test_not_when_an_intermediate_is_a_graph_output() -> None:
    model = block_model(Block(6, 20, 6, 15, 13))
    model.graph.output.append(helper.make_tensor_value_info("da", onnx.TensorProto.FLOAT, None))
    assert not _fused(compile_block(model, True, 1 << 20))


def test_not_for_a_depthwise_conv_the_kernel_does_not_run() -> None:
    model = block_model(Block(6, 20, 6, 15, 13))
    for node in model.graph.node:
        if node.op_type == "Conv" and node.output[0] == "d":
            node.attribute.append(helper.make_attribute("dilations", [2, 2]))
            del node.attribute[[a.name for a in node.attribute].index("pads")]
            node.attribute.append(helper.make_attribute("pads", [2, 2, 2, 2]))
    assert not _fused(compile_block(model, True, 1 << 20))


def test_small_blocks_stay_unfused_by_default() -> None:
    program = compile_program(block_model(Block(6, 20, 6, 15, 13))).program
    assert not _fused(program)
    assert fuse_inverted_residual(program, min_expanded_bytes=0) == 1
    (ins,) = program.instructions
    assert ins.opcode == Opcode.INVERTED_RESIDUAL and ins.scratch_size > 0


def test_run_twice_is_idempotent() -> None:
    program = compile_block(block_model(Block(6, 20, 6, 15, 13)), True, 1 << 20)
    before = [(i.opcode, list(i.inputs)) for i in program.instructions]
    assert fuse_inverted_residual(program, min_expanded_bytes=0) == 0
    assert [(i.opcode, list(i.inputs)) for i in program.instructions] == before
    assert np.all([i >= -1 for ins in program.instructions for i in ins.inputs])
