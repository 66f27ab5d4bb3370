"""If and Loop (edgec/lower/control.py, runtime_c/src/control.c): folded when the
condition is known at compile time, otherwise run as nested blocks, against
onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto, assert_close, helper, make_model, run_ort

import edgec
import edgec.onnx_backend as backend
from edgec.compiler import compile_program
from edgec.errors import EdgecError
from edgec.fb.Opcode import Opcode

F, B, I64 = TensorProto.FLOAT, TensorProto.BOOL, TensorProto.INT64


def _graph(name: str, nodes: list[onnx.NodeProto], outputs: list[str],
           inputs: list[onnx.ValueInfoProto] | None = None) -> onnx.GraphProto:
    return helper.make_graph(nodes, name, inputs or [],
                             [helper.make_tensor_value_info(o, F, None) for o in outputs])


def _const(name: str, value: object, dtype: type = np.float32) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name],
                            value=onnx.numpy_helper.from_array(np.array(value, dtype)))


def _run_both(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    session = edgec.Session(edgec.compile(model))
    for a, e in zip(session.run(None, feeds), run_ort(model, feeds), strict=True):
        assert_close(a, e)


def _opcodes(model: onnx.ModelProto) -> list[int]:
    return [i.opcode for i in compile_program(model).program.all_instructions()]


def _if_model() -> onnx.ModelProto:
    """y = x + w * 2 (then) or Relu(x) - w (else); the branches read the outer x, w."""
    then = _graph("then", [_const("two", 2.0), helper.make_node("Mul", ["w", "two"], ["t1"]),
                           helper.make_node("Add", ["x", "t1"], ["t_out"])], ["t_out"])
    other = _graph("else", [helper.make_node("Relu", ["x"], ["e1"]),
                            helper.make_node("Sub", ["e1", "w"], ["e_out"])], ["e_out"])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Greater", ["s", "zero"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other,
                              name="branch")]
    return make_model(nodes, {"x": (F, (2, 3))}, {"y": F},
                      {"w": np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
                       "zero": np.array(0, np.float32)})


def test_if_runtime_condition_takes_both_branches() -> None:
    model = _if_model()
    assert Opcode.IF in _opcodes(model)
    x = np.linspace(-1, 1.5, 6, dtype=np.float32).reshape(2, 3)
    session = edgec.Session(edgec.compile(model))
    for feed in (x, -x):  # sum > 0 then < 0
        (y,) = session.run(None, {"x": feed})
        assert_close(y, run_ort(model, {"x": feed})[0])


def test_nested_if_reads_values_two_scopes_out() -> None:
    inner_then = _graph("it", [helper.make_node("Mul", ["x", "w"], ["it_o"])], ["it_o"])
    inner_else = _graph("ie", [helper.make_node("Sub", ["x", "w"], ["ie_o"])], ["ie_o"])
    outer_then = _graph("ot", [helper.make_node("If", ["c2"], ["ot_o"], then_branch=inner_then,
                                                else_branch=inner_else)], ["ot_o"])
    outer_else = _graph("oe", [helper.make_node("Neg", ["x"], ["oe_o"])], ["oe_o"])
    nodes = [helper.make_node("If", ["c1"], ["y"], then_branch=outer_then,
                              else_branch=outer_else)]
    model = make_model(nodes, {"c1": (B, ()), "c2": (B, ()), "x": (F, (4,))}, {"y": F},
                       {"w": np.array([1, 2, 3, 4], np.float32)})
    assert _opcodes(model).count(Opcode.IF) == 2
    session = edgec.Session(edgec.compile(model))
    x = np.array([0.5, -1, 2, 3], np.float32)
    for c1 in (True, False):
        for c2 in (True, False):
            feeds = {"c1": np.array(c1), "c2": np.array(c2), "x": x}
            assert_close(session.run(None, feeds)[0], run_ort(model, feeds)[0])


def test_if_constant_condition_is_folded() -> None:
    model = _if_model()
    # a constant condition: onnxscript's optimizer inlines the branch during import
    model.graph.node[1].CopyFrom(_const("c", True, np.bool_))
    assert Opcode.IF not in _opcodes(model)
    _run_both(model, {"x": np.ones((2, 3), np.float32)})


def test_if_condition_from_a_specialized_input_is_folded() -> None:
    """The backend specializes an input that sets a shape (here a Reshape's); the If
    whose condition is computed from it then folds."""
    then = _graph("then", [helper.make_node("Add", ["r", "r"], ["t_o"])], ["t_o"])
    other = _graph("else", [helper.make_node("Neg", ["r"], ["e_o"])], ["e_o"])
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]),
             helper.make_node("ReduceProd", ["shape"], ["p"], keepdims=0),
             helper.make_node("Equal", ["p", "six"], ["c"]),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)]
    model = make_model(nodes, {"x": (F, (6,)), "shape": (I64, (2,))}, {"y": F},
                       {"six": np.array(6, np.int64)})
    rep = backend.prepare(model)
    x = np.arange(6, dtype=np.float32)
    (y,) = rep.run([x, np.array([2, 3], np.int64)])
    assert rep.specialized_inputs == ["shape"]
    np.testing.assert_allclose(y, 2 * x.reshape(2, 3))
    # what the specialization compiles: the input as a constant; no IF is left
    fixed = make_model(nodes, {"x": (F, (6,))}, {"y": F},
                       {"six": np.array(6, np.int64), "shape": np.array([2, 3], np.int64)})
    assert Opcode.IF not in _opcodes(fixed)


def test_if_branches_of_different_shapes_are_refused() -> None:
    then = _graph("then", [_const("a", [1.0, 2.0])], ["a"])
    other = _graph("else", [_const("b", [1.0, 2.0, 3.0])], ["b"])
    model = make_model([helper.make_node("If", ["c"], ["y"], then_branch=then,
                                         else_branch=other, name="pick")],
                       {"c": (B, ())}, {"y": F})
    with pytest.raises(EdgecError, match="If node 'pick'"):
        edgec.compile(model)


def _body(nodes: list[onnx.NodeProto], carried: list[tuple[str, str]], scans: list[str],
          cond_out: str = "cond_out") -> onnx.GraphProto:
    """A Loop body: inputs (i, cond, carried ins...), outputs (cond, carried outs, scans)."""
    ins = [helper.make_tensor_value_info("i", I64, []),
           helper.make_tensor_value_info("cond", B, [])]
    ins += [helper.make_tensor_value_info(a, F, None) for a, _ in carried]
    outs = [helper.make_tensor_value_info(cond_out, B, [])]
    outs += [helper.make_tensor_value_info(b, F, None) for _, b in carried]
    outs += [helper.make_tensor_value_info(s, F, None) for s in scans]
    return helper.make_graph(nodes, "body", ins, outs)


def test_loop_carried_state_and_scan_outputs() -> None:
    """acc = acc * 0.5 + x * i (x from the outer scope), scan output acc each step."""
    body = _body([helper.make_node("Identity", ["cond"], ["cond_out"]),
                  helper.make_node("Cast", ["i"], ["fi"], to=F),
                  helper.make_node("Mul", ["x", "fi"], ["xi"]),
                  helper.make_node("Mul", ["acc", "half"], ["h"]),
                  helper.make_node("Add", ["h", "xi"], ["acc_out"]),
                  helper.make_node("Relu", ["acc_out"], ["scan"])],
                 [("acc", "acc_out")], ["scan"])
    nodes = [helper.make_node("Loop", ["M", "", "acc0"], ["acc_final", "scans"], body=body,
                              name="loop")]
    model = make_model(nodes, {"x": (F, (3,)), "acc0": (F, (3,))},
                       {"acc_final": F, "scans": F},
                       {"M": np.array(5, np.int64), "half": np.array(0.5, np.float32)})
    assert Opcode.LOOP in _opcodes(model)
    rng = np.random.default_rng(0)
    _run_both(model, {"x": rng.standard_normal(3).astype(np.float32),
                      "acc0": rng.standard_normal(3).astype(np.float32)})


def test_loop_runtime_trip_count_and_condition() -> None:
    """A while loop: M and the initial condition are inputs, the body stops when the
    value exceeds a limit; carried values only (no scan output), so nothing is planned
    for the trip count."""
    body = _body([helper.make_node("Mul", ["v", "two"], ["v_out"]),
                  helper.make_node("ReduceMax", ["v_out"], ["mx"], keepdims=0),
                  helper.make_node("Less", ["mx", "limit"], ["cond_out"]),
                  helper.make_node("Add", ["n", "one"], ["n_out"])],
                 [("v", "v_out"), ("n", "n_out")], [])
    nodes = [helper.make_node("Loop", ["M", "c", "v0", "n0"], ["v_final", "n_final"],
                              body=body)]
    model = make_model(nodes, {"M": (I64, ()), "c": (B, ()), "v0": (F, (2,)), "n0": (F, ())},
                       {"v_final": F, "n_final": F},
                       {"two": np.array(2, np.float32), "one": np.array(1, np.float32),
                        "limit": np.array(100, np.float32)})
    session = edgec.Session(edgec.compile(model))
    v0 = np.array([0.5, 1.5], np.float32)
    for m, c in ((10, True), (3, True), (10, False), (0, True)):
        feeds = {"M": np.array(m, np.int64), "c": np.array(c), "v0": v0,
                 "n0": np.array(0, np.float32)}
        for a, e in zip(session.run(None, feeds), run_ort(model, feeds), strict=True):
            assert_close(a, e)


def test_loop_scan_outputs_without_a_known_trip_count_are_refused() -> None:
    body = _body([helper.make_node("Identity", ["cond"], ["cond_out"]),
                  helper.make_node("Identity", ["v"], ["v_out"]),
                  helper.make_node("Identity", ["v"], ["s"])], [("v", "v_out")], ["s"])
    nodes = [helper.make_node("Loop", ["M", "", "v0"], ["v_final", "ss"], body=body,
                              name="scanner")]
    model = make_model(nodes, {"M": (I64, ()), "v0": (F, (2,))}, {"v_final": F, "ss": F})
    with pytest.raises(EdgecError, match=r"Loop node 'scanner'.*trip count M at compile time"):
        edgec.compile(model)


def test_loop_body_indexing_by_iteration_is_unrolled() -> None:
    """A Slice at the iteration number needs the number at compile time: with a known
    trip count the loop is unrolled (as ONNX's test_loop11 does)."""
    body = _body([helper.make_node("Identity", ["cond"], ["cond_out"]),
                  helper.make_node("Add", ["i", "one"], ["end"]),
                  helper.make_node("Unsqueeze", ["i", "axes"], ["st"]),
                  helper.make_node("Unsqueeze", ["end", "axes"], ["en"]),
                  helper.make_node("Slice", ["table", "st", "en"], ["row"]),
                  helper.make_node("Add", ["y", "row"], ["y_out"]),
                  helper.make_node("Identity", ["y_out"], ["s"])], [("y", "y_out")], ["s"])
    nodes = [helper.make_node("Loop", ["M", "", "y0"], ["y_final", "ss"], body=body)]
    model = make_model(nodes, {"y0": (F, (1,))}, {"y_final": F, "ss": F},
                       {"M": np.array(4, np.int64), "one": np.array(1, np.int64),
                        "axes": np.array([0], np.int64),
                        "table": np.array([1, 2, 4, 8, 16], np.float32)})
    assert Opcode.LOOP not in _opcodes(model)
    _run_both(model, {"y0": np.array([0.25], np.float32)})


def _vad_like() -> onnx.ModelProto:
    """A silero-VAD-like front: the sample rate is an input; 16 kHz audio takes a
    frame of 8 samples through one filter bank, 8 kHz (else) another, and both feed a
    small recurrent state update."""
    rng = np.random.default_rng(3)
    w16 = rng.standard_normal((8, 4)).astype(np.float32)
    w8 = rng.standard_normal((8, 4)).astype(np.float32)
    then = _graph("sr16k", [helper.make_node("MatMul", ["audio", "w16"], ["f16"]),
                            helper.make_node("Relu", ["f16"], ["feat16"])], ["feat16"])
    other = _graph("sr8k", [helper.make_node("MatMul", ["audio", "w8"], ["f8"]),
                            helper.make_node("Tanh", ["f8"], ["feat8"])], ["feat8"])
    nodes = [helper.make_node("Equal", ["sr", "k16"], ["is16k"]),
             helper.make_node("If", ["is16k"], ["feat"], then_branch=then, else_branch=other,
                              name="sample_rate_branch"),
             helper.make_node("MatMul", ["state", "wr"], ["rec"]),
             helper.make_node("Add", ["feat", "rec"], ["pre"]),
             helper.make_node("Tanh", ["pre"], ["state_out"]),
             helper.make_node("ReduceMean", ["state_out"], ["m"], axes=[1], keepdims=0),
             helper.make_node("Sigmoid", ["m"], ["prob"])]
    return make_model(nodes, {"audio": (F, (1, 8)), "sr": (I64, ()), "state": (F, (1, 4))},
                      {"prob": F, "state_out": F},
                      {"w16": w16, "w8": w8, "k16": np.array(16000, np.int64),
                       "wr": rng.standard_normal((4, 4)).astype(np.float32)}, opset=13)


def test_vad_like_model_branches_on_the_sample_rate() -> None:
    model = _vad_like()
    assert Opcode.IF in _opcodes(model)
    rng = np.random.default_rng(4)
    session = edgec.Session(edgec.compile(model))
    state = np.zeros((1, 4), np.float32)
    for sr in (16000, 8000, 16000):
        feeds = {"audio": rng.standard_normal((1, 8)).astype(np.float32),
                 "sr": np.array(sr, np.int64), "state": state}
        got, want = session.run(None, feeds), run_ort(model, feeds)
        for a, e in zip(got, want, strict=True):
            assert_close(a, e)
        state = want[1]
    # through the ONNX backend too (sr stays a runtime input: it sets no shape)
    rep = backend.prepare(model)
    assert rep.specialized_inputs == []
    feeds = {"audio": np.ones((1, 8), np.float32), "sr": np.array(8000, np.int64),
             "state": state}
    for a, e in zip(rep.run([feeds["audio"], feeds["sr"], state]), run_ort(model, feeds),
                    strict=True):
        assert_close(a, e)


def test_quantizing_a_model_with_blocks_is_refused() -> None:
    with pytest.raises(EdgecError, match="control flow"):
        edgec.compile(_if_model(), quantize="dynamic")


def test_inspect_reads_the_blocks() -> None:
    from edgec.format.reader import read_program
    from edgec.format.writer import serialize

    info = read_program(serialize(compile_program(_if_model()).program))
    assert [i.op for i in info.instructions].count("IF") == 1
    assert len(info.blocks) == 2 and all(info.blocks)
    assert {i.op for b in info.blocks for i in b} >= {"ADD", "SUB"}


def test_plan_keeps_what_a_loop_passes_around_live_across_it() -> None:
    """No tensor a body computes shares arena bytes with what the LOOP instruction
    reads, writes or passes in and out of its body (those live across every
    iteration)."""
    body = _body([helper.make_node("Identity", ["cond"], ["cond_out"]),
                  helper.make_node("Relu", ["acc"], ["r"]),
                  helper.make_node("Mul", ["r", "x"], ["m"]),
                  helper.make_node("Sigmoid", ["m"], ["sg"]),
                  helper.make_node("Add", ["sg", "acc"], ["acc_out"]),
                  helper.make_node("Neg", ["acc_out"], ["scan"])],
                 [("acc", "acc_out")], ["scan"])
    model = make_model([helper.make_node("Loop", ["M", "", "acc0"], ["fin", "scans"],
                                         body=body)],
                       {"x": (F, (64,)), "acc0": (F, (64,))}, {"fin": F, "scans": F},
                       {"M": np.array(3, np.int64)})
    program = compile_program(model).program
    loop = next(i for i in program.instructions if i.opcode == Opcode.LOOP)
    opts = loop.options
    pinned = {i for i in [*loop.inputs, *loop.outputs, *opts.blockInputs, *opts.blockOutputs]
              if i >= 0 and not program.tensors[i].is_constant}

    def span(i: int) -> tuple[int, int]:
        t = program.tensors[i]
        return t.offset, t.offset + t.nbytes

    def root(i: int) -> int:
        alias = program.tensors[i].alias_of
        return i if alias is None else alias

    body_tensors = {o for ins in program.blocks[opts.blocks[0]] for o in ins.outputs}
    for b in body_tensors - pinned:
        for p in pinned:
            if root(b) == root(p) or program.tensors[b].nbytes == 0:
                continue
            (b0, b1), (p0, p1) = span(b), span(p)
            assert b1 <= p0 or p1 <= b0, (program.tensors[b].name, program.tensors[p].name)
    _run_both(model, {"x": np.linspace(-1, 1, 64, dtype=np.float32),
                      "acc0": np.linspace(1, -1, 64, dtype=np.float32)})
