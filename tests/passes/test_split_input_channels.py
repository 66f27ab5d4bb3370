"""edgec.passes.split_input_channels: which 1x1 convs it marks, and the workspace it
adds. The kernel's numerics are tested in tests/kernels/test_conv_ksplit_x86.py."""

from __future__ import annotations

import numpy as np
from kernels.test_conv_ksplit_x86 import dw_reduce_model, ksplit_convs
from support import TensorProto, helper, make_model

from edgec import zoo
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.lower.conv import VARIANT_KSPLIT, conv_workspace


def test_marks_mobilenet_v2_project_convs() -> None:
    """The project 1x1 convs of the unfused blocks on planes of at most 256 pixels
    (14x14 and 7x7); not the 28x28 ones, the expand convs, nor the fused blocks."""
    program = compile_program(zoo.build("mobilenet_v2")).program
    marked = ksplit_convs(program)
    assert len(marked) == 11
    # the 28x28 blocks' project convs (192 -> 32) read a depthwise output too, unmarked
    plain_28 = [i for i in program.instructions if i.opcode == Opcode.CONV
                and program.tensors[i.outputs[0]].shape == (1, 32, 28, 28)
                and program.tensors[i.inputs[0]].shape == (1, 192, 28, 28)]
    assert len(plain_28) == 2 and not any(i.variant & VARIANT_KSPLIT for i in plain_28)
    for ins in marked:
        x, y = (program.tensors[i] for i in (ins.inputs[0], ins.outputs[0]))
        assert y.shape[1] < x.shape[1] and y.shape[2] * y.shape[3] <= 256
        pixels = y.shape[2] * y.shape[3]
        assert ins.scratch_size == conv_workspace(y.shape[1], x.shape[1], pixels, "pointwise") \
            + 4 * y.shape[1] * pixels


def test_marks_only_a_reduction_of_a_depthwise_output() -> None:
    assert len(ksplit_convs(compile_program(dw_reduce_model(24, 8, 5, 5, 1)).program)) == 1
    # as many or more outputs than inputs: the sums would outweigh what they save
    assert not ksplit_convs(compile_program(dw_reduce_model(24, 24, 5, 5, 1)).program)
    # planes over 256 pixels
    assert not ksplit_convs(compile_program(dw_reduce_model(24, 8, 16, 17, 1)).program)


def test_leaves_other_inputs_and_batches() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 24, 1, 1)).astype(np.float32)
    plain = make_model([helper.make_node("Relu", ["x"], ["r"]),
                        helper.make_node("Conv", ["r", "w"], ["y"])],
                       {"x": (TensorProto.FLOAT, (1, 24, 5, 5))}, {"y": TensorProto.FLOAT},
                       {"w": w})
    assert not ksplit_convs(compile_program(plain).program)
    batch = dw_reduce_model(24, 8, 5, 5, 1)
    batch.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
    program = compile_program(batch).program
    assert not any(i.variant & VARIANT_KSPLIT for i in program.instructions)
