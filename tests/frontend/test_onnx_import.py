"""Frontend behaviour that no single op owns."""

import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

from edgec.errors import EdgecError
from edgec.frontend.onnx_import import import_onnx

F = TensorProto.FLOAT


def test_zero_sized_input_dimension_is_static() -> None:
    node = helper.make_node("Concat", ["a", "b"], ["y"], axis=0)
    model = make_model([node], {"a": (F, (0, 3)), "b": (F, (2, 3))}, {"y": F})
    check_against_ort(model)


def test_dynamic_dimension_needs_binding() -> None:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", F, ["batch", 3])],
                              [helper.make_tensor_value_info("y", F, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    with pytest.raises(EdgecError, match="dynamic dimension 'batch'"):
        import_onnx(model)
    bound = import_onnx(model, {"x": [4, 3]})
    assert [int(d) for d in bound.graph.outputs[0].shape] == [4, 3]


def test_weights_survive_the_detour_around_shape_inference() -> None:
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)  # > 4 KiB
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": (F, (2, 64))},
                       {"y": F}, {"w": w})
    check_against_ort(model)


def test_scan_state_shaped_only_after_folding_is_inferred_again() -> None:
    """The Scan's initial state comes from Shape arithmetic (Div) that ONNX's data
    propagation does not follow, so its outputs have no shape until the state is
    folded to a constant; the import infers shapes once more then."""
    f32 = helper.make_tensor_type_proto(F, None)
    body = helper.make_graph(
        [helper.make_node("Unsqueeze", ["x_t", "one"], ["col"]),
         helper.make_node("Unsqueeze", ["x_t", "zero"], ["row"]),
         helper.make_node("MatMul", ["col", "row"], ["outer"]),
         helper.make_node("Add", ["s_in", "outer"], ["s_out"]),
         helper.make_node("MatMul", ["row", "s_out"], ["read"]),
         helper.make_node("Squeeze", ["read", "zero"], ["y_t"])], "body",
        [helper.make_value_info("s_in", f32), helper.make_value_info("x_t", f32)],
        [helper.make_value_info("s_out", f32), helper.make_value_info("y_t", f32)])
    nodes = [
        helper.make_node("Shape", ["x"], ["dims"], start=1),
        helper.make_node("Div", ["dims", "one"], ["n"]),
        helper.make_node("Concat", ["n", "n"], ["state_dims"], axis=0),
        helper.make_node("ConstantOfShape", ["state_dims"], ["state0"]),
        helper.make_node("Scan", ["state0", "x"], ["final", "ys"], body=body,
                         num_scan_inputs=1),
        helper.make_node("Relu", ["ys"], ["y"]),
    ]
    model = make_model(nodes, {"x": (F, (4, 3))}, {"final": F, "y": F},
                       {"one": np.array([1], np.int64), "zero": np.array([0], np.int64)})
    check_against_ort(model)


def test_split_of_a_constant_is_folded() -> None:
    """onnxscript leaves multi-output nodes unfolded; an Expand's shape made by a Split
    of constant sizes must still be a compile-time constant."""
    nodes = [
        helper.make_node("Split", ["sizes"], ["a", "b"], axis=0, num_outputs=2),
        helper.make_node("Concat", ["a", "b"], ["shape"], axis=0),
        helper.make_node("Expand", ["x", "shape"], ["y"]),
    ]
    model = make_model(nodes, {"x": (F, (1, 3))}, {"y": F},
                       {"sizes": np.array([4, 3], np.int64)})
    check_against_ort(model)
