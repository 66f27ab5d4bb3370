#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus: small valid .edgeb programs.

    python runtime_c/fuzz/make_corpus.py OUT_DIR

Each seed is a tiny ONNX graph compiled with edgec.compile: elementwise ops,
broadcasting, Reshape/Add/Relu chains, several dtypes, constant outputs. Graphs
of op families that the compiler may not support yet (Conv, pooling, Concat,
Softmax, Gemm, Transpose, Gather, Slice, ...) and compile options that pick
other kernels (int8 and dynamic quantization, fp16 weights, 2:4 and magnitude
pruning) are tried too and skipped with a note when edgec refuses them, so
they join the corpus as soon as they compile.
Tensors stay small: the fuzzer's speed falls with the seeds' size.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import edgec
from edgec.errors import EdgecError

F, I32, I64, B = TP.FLOAT, TP.INT32, TP.INT64, TP.BOOL


def model(nodes: list[onnx.NodeProto], inputs: dict[str, tuple[int, tuple[int, ...]]],
          outputs: dict[str, int], inits: dict[str, np.ndarray] | None = None,
          opset: int = 18) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "seed",
        [helper.make_tensor_value_info(n, dt, list(s)) for n, (dt, s) in inputs.items()],
        [helper.make_tensor_value_info(n, dt, None) for n, dt in outputs.items()],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def n(op: str, ins: list[str], outs: list[str], **attrs: object) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, **attrs)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def f32(*shape: int) -> np.ndarray:
    return _rng().standard_normal(shape).astype(np.float32)


# ---- ops the runtime has today -------------------------------------------

def core_seeds() -> dict[str, Callable[[], onnx.ModelProto]]:
    seeds: dict[str, Callable[[], onnx.ModelProto]] = {}
    seeds["relu"] = lambda: model([n("Relu", ["x"], ["y"])], {"x": (F, (3,))}, {"y": F})
    seeds["add_bcast"] = lambda: model(
        [n("Add", ["x", "b"], ["y"])], {"x": (F, (2, 3, 4))}, {"y": F}, {"b": f32(4)})
    seeds["add_two_inputs"] = lambda: model(
        [n("Add", ["x", "z"], ["y"])], {"x": (F, (2, 1, 4)), "z": (F, (3, 1))}, {"y": F})
    seeds["reshape_add_relu"] = lambda: model(
        [n("Add", ["x", "w"], ["a"]), n("Relu", ["a"], ["r"]), n("Reshape", ["r", "s"], ["y"])],
        {"x": (F, (4, 6))}, {"y": F}, {"w": f32(4, 6), "s": np.array([6, 4], np.int64)})
    seeds["chain"] = lambda: model(
        [n("Reshape", ["x", "s"], ["r"]), n("Mul", ["r", "w"], ["m"]),
         n("Sub", ["m", "x2"], ["d"]), n("Relu", ["d"], ["y"]), n("Sigmoid", ["d"], ["z"])],
        {"x": (F, (2, 8)), "x2": (F, (4, 1, 4))}, {"y": F, "z": F},
        {"s": np.array([4, 4], np.int64), "w": f32(4)})
    seeds["unary_mix"] = lambda: model(
        [n("Exp", ["x"], ["a"]), n("Tanh", ["a"], ["b"]), n("Sqrt", ["b"], ["c"]),
         n("Log", ["c"], ["d"]), n("Abs", ["d"], ["e"]), n("Neg", ["e"], ["f"]),
         n("Floor", ["f"], ["g"]), n("Erf", ["g"], ["y"])],
        {"x": (F, (5,))}, {"y": F})
    seeds["unary_params"] = lambda: model(
        [n("LeakyRelu", ["x"], ["a"], alpha=0.3), n("Elu", ["a"], ["b"], alpha=0.7),
         n("HardSigmoid", ["b"], ["c"], alpha=0.2, beta=0.4), n("Gelu", ["c"], ["d"]),
         n("Selu", ["d"], ["e"]), n("Softplus", ["e"], ["y"])],
        {"x": (F, (2, 3))}, {"y": F}, opset=20)
    seeds["clip"] = lambda: model(
        [n("Clip", ["x", "lo", "hi"], ["y"])], {"x": (F, (7,))}, {"y": F},
        {"lo": np.array(-0.5, np.float32), "hi": np.array(0.5, np.float32)})
    seeds["div_int32"] = lambda: model(
        [n("Div", ["x", "z"], ["y"])], {"x": (I32, (3, 2)), "z": (I32, (2,))}, {"y": I32})
    seeds["mod_int64"] = lambda: model(
        [n("Mod", ["x", "z"], ["y"], fmod=1)], {"x": (I64, (4,)), "z": (I64, (4,))}, {"y": I64})
    seeds["mod_int32_py"] = lambda: model(
        [n("Mod", ["x", "z"], ["y"])], {"x": (I32, (2, 2)), "z": (I32, (1, 2))}, {"y": I32})
    seeds["pow_min_max"] = lambda: model(
        [n("Pow", ["x", "z"], ["p"]), n("Min", ["p", "x"], ["a"]), n("Max", ["a", "z"], ["y"])],
        {"x": (F, (3,)), "z": (F, (3,))}, {"y": F})
    seeds["compare_logic"] = lambda: model(
        [n("Less", ["x", "z"], ["l"]), n("Greater", ["x", "z"], ["g"]),
         n("Or", ["l", "g"], ["o"]), n("Not", ["o"], ["y"]),
         n("Equal", ["x", "z"], ["e"]), n("Xor", ["e", "l"], ["q"])],
        {"x": (I64, (2, 3)), "z": (I64, (3,))}, {"y": B, "q": B})
    seeds["variadic"] = lambda: model(
        [n("Sum", ["a", "b", "c"], ["s"]), n("Mean", ["s", "a"], ["y"])],
        {"a": (F, (2, 2)), "b": (F, (2,)), "c": (F, (1, 2))}, {"y": F})
    seeds["constant_output"] = lambda: model(
        [n("Relu", ["x"], ["y"])], {"x": (F, (2,))}, {"y": F, "k": F},
        {"k": f32(3)})
    seeds["identity_squeeze"] = lambda: model(
        [n("Unsqueeze", ["x", "ax"], ["u"]), n("Identity", ["u"], ["i"]),
         n("Flatten", ["i"], ["y"], axis=1)],
        {"x": (F, (3, 2))}, {"y": F}, {"ax": np.array([0], np.int64)})
    # Above 32k elements so ec_parallel_for splits the work across threads.
    seeds["parallel_add"] = lambda: model(
        [n("Add", ["x", "b"], ["a"]), n("Relu", ["a"], ["y"])],
        {"x": (F, (64, 600))}, {"y": F}, {"b": f32(600)})
    # Control flow: IF over two blocks reading an outer value, LOOP with carried
    # state and a scan output (Program.blocks, ControlOptions).
    def branch(name: str, op: str) -> onnx.GraphProto:
        return helper.make_graph([n(op, ["x", "x"], [name])], name, [],
                                 [helper.make_tensor_value_info(name, F, [3])])
    seeds["if_blocks"] = lambda: model(
        [n("If", ["c"], ["y"], then_branch=branch("t", "Add"), else_branch=branch("e", "Mul"))],
        {"c": (B, ()), "x": (F, (3,))}, {"y": F})
    body = helper.make_graph(
        [n("Identity", ["cond"], ["cond_out"]), n("Add", ["v", "x"], ["v_out"]),
         n("Relu", ["v_out"], ["s"])], "body",
        [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("cond", B, []),
         helper.make_tensor_value_info("v", F, [3])],
        [helper.make_tensor_value_info(k, t, None)
         for k, t in (("cond_out", B), ("v_out", F), ("s", F))])
    seeds["loop_blocks"] = lambda: model(
        [n("Loop", ["M", "", "x"], ["v_final", "scan"], body=body)],
        {"x": (F, (3,))}, {"v_final": F, "scan": F}, {"M": np.array(3, np.int64)})
    # Data-dependent output shapes (Tensor.dynamic_dims): the producers and the
    # consumers that work on the actual extent (docs/dynamic_shapes.md).
    seeds["nonzero_transpose"] = lambda: model(
        [n("NonZero", ["x"], ["nz"]), n("Transpose", ["nz"], ["t"]),
         n("Cast", ["t"], ["y"], to=I32)], {"x": (F, (3, 4))}, {"y": I32, "nz": I64})
    seeds["nms_gather"] = lambda: model(
        [n("NonMaxSuppression", ["boxes", "scores", "max", "iou", "thr"], ["sel"],
           center_point_box=1),
         n("Slice", ["sel", "st", "en", "ax"], ["col"]), n("Squeeze", ["col", "ax"], ["idx"]),
         n("Gather", ["boxes2", "idx"], ["y"])],
        {"boxes": (F, (1, 6, 4)), "scores": (F, (1, 2, 6)), "boxes2": (F, (6, 4))},
        {"y": F, "sel": I64},
        {"max": np.array([3], np.int64), "iou": np.array([0.4], np.float32),
         "thr": np.array([-2.0], np.float32), "st": np.array([2], np.int64),
         "en": np.array([3], np.int64), "ax": np.array([1], np.int64)})
    seeds["unique_compress"] = lambda: model(
        [n("Unique", ["x"], ["u", "i", "inv", "c"], axis=1, sorted=0),
         n("Compress", ["x", "cond"], ["y"], axis=0)],
        {"x": (I32, (2, 5)), "cond": (B, (2,))},
        {"u": I32, "i": I64, "inv": I64, "c": I64, "y": I32})
    return seeds


# ---- op families being added: joined once the compiler supports them --------

def pending_seeds() -> dict[str, Callable[[], onnx.ModelProto]]:
    seeds: dict[str, Callable[[], onnx.ModelProto]] = {}
    seeds["conv"] = lambda: model(
        [n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 1]),
         n("Relu", ["c"], ["y"])],
        {"x": (F, (1, 2, 5, 5))}, {"y": F}, {"w": f32(3, 2, 3, 3), "b": f32(3)})
    seeds["conv_group"] = lambda: model(
        [n("Conv", ["x", "w"], ["y"], group=2, dilations=[2, 2])],
        {"x": (F, (1, 4, 6, 6))}, {"y": F}, {"w": f32(4, 2, 2, 2)})
    seeds["maxpool"] = lambda: model(
        [n("MaxPool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 1, 1])],
        {"x": (F, (1, 2, 5, 5))}, {"y": F})
    seeds["avgpool_global"] = lambda: model(
        [n("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
         n("GlobalAveragePool", ["a"], ["y"])],
        {"x": (F, (1, 3, 4, 4))}, {"y": F})
    seeds["concat"] = lambda: model(
        [n("Concat", ["x", "z", "k"], ["y"], axis=1)],
        {"x": (F, (2, 3)), "z": (F, (2, 1))}, {"y": F}, {"k": f32(2, 2)})
    seeds["softmax"] = lambda: model(
        [n("Softmax", ["x"], ["s"], axis=-1), n("LogSoftmax", ["x"], ["y"], axis=0)],
        {"x": (F, (3, 4))}, {"s": F, "y": F})
    seeds["gemm"] = lambda: model(
        [n("Gemm", ["x", "w", "b"], ["g"], transB=1, alpha=0.5), n("Relu", ["g"], ["y"])],
        {"x": (F, (2, 5))}, {"y": F}, {"w": f32(3, 5), "b": f32(3)})
    seeds["matmul"] = lambda: model(
        [n("MatMul", ["x", "w"], ["y"])], {"x": (F, (2, 3, 4))}, {"y": F}, {"w": f32(4, 2)})
    seeds["transpose"] = lambda: model(
        [n("Transpose", ["x"], ["y"], perm=[2, 0, 1])], {"x": (F, (2, 3, 4))}, {"y": F})
    seeds["gather"] = lambda: model(
        [n("Gather", ["x", "i"], ["y"], axis=1)], {"x": (F, (3, 4))}, {"y": F},
        {"i": np.array([[0, 3], [-1, 1]], np.int64)})
    seeds["slice"] = lambda: model(
        [n("Slice", ["x", "s", "e", "a", "st"], ["y"])], {"x": (F, (4, 6))}, {"y": F},
        {"s": np.array([1, -1], np.int64), "e": np.array([4, 0], np.int64),
         "a": np.array([0, 1], np.int64), "st": np.array([2, -2], np.int64)})
    seeds["batchnorm"] = lambda: model(
        [n("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"])],
        {"x": (F, (1, 3, 2, 2))}, {"y": F},
        {"g": f32(3), "b": f32(3), "m": f32(3), "v": np.abs(f32(3)) + 1})
    seeds["reduce"] = lambda: model(
        [n("ReduceMean", ["x", "ax"], ["y"], keepdims=0)], {"x": (F, (2, 3, 4))}, {"y": F},
        {"ax": np.array([1], np.int64)})
    seeds["split"] = lambda: model(
        [n("Split", ["x", "sp"], ["a", "b"], axis=0)], {"x": (F, (5, 2))}, {"a": F, "b": F},
        {"sp": np.array([2, 3], np.int64)})
    seeds["pad"] = lambda: model(
        [n("Pad", ["x", "p"], ["y"], mode="reflect")], {"x": (F, (3, 4))}, {"y": F},
        {"p": np.array([1, 1, 1, 2], np.int64)})
    seeds["layernorm"] = lambda: model(
        [n("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)], {"x": (F, (2, 4))},
        {"y": F}, {"g": f32(4), "b": f32(4)})
    seeds["cast_where"] = lambda: model(
        [n("Cast", ["x"], ["c"], to=I32), n("Greater", ["c", "z"], ["g"]),
         n("Where", ["g", "x", "x2"], ["y"])],
        {"x": (F, (4,)), "x2": (F, (4,))}, {"y": F}, {"z": np.array([0], np.int32)})
    seeds["expand_tile"] = lambda: model(
        [n("Expand", ["x", "s"], ["e"]), n("Tile", ["e", "r"], ["y"])],
        {"x": (F, (3, 1))}, {"y": F},
        {"s": np.array([3, 2], np.int64), "r": np.array([1, 2], np.int64)})
    seeds["resize"] = lambda: model(
        [n("Resize", ["x", "", "sc"], ["y"], mode="nearest")], {"x": (F, (1, 1, 2, 2))},
        {"y": F}, {"sc": np.array([1, 1, 2, 2], np.float32)})
    seeds["argmax"] = lambda: model(
        [n("ArgMax", ["x"], ["y"], axis=1)], {"x": (F, (3, 4))}, {"y": I64})
    return seeds


def variant_seeds() -> dict[str, tuple[Callable[[], onnx.ModelProto], dict[str, object]]]:
    """Seeds compiled with options that select other kernels: quantized, fp16
    weights, sparse (pruned) weights. Skipped where the compiler refuses."""
    fc = lambda: model(  # noqa: E731
        [n("Gemm", ["x", "w", "b"], ["g"], transB=1), n("Relu", ["g"], ["y"])],
        {"x": (F, (2, 32))}, {"y": F}, {"w": f32(16, 32), "b": f32(16)})
    conv = lambda: model(  # noqa: E731
        [n("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), n("Relu", ["c"], ["y"])],
        {"x": (F, (1, 8, 6, 6))}, {"y": F}, {"w": f32(8, 8, 3, 3), "b": f32(8)})
    dw = lambda: model(  # noqa: E731
        [n("Conv", ["x", "w"], ["y"], group=8, pads=[1, 1, 1, 1], strides=[2, 2])],
        {"x": (F, (1, 8, 7, 7))}, {"y": F}, {"w": f32(8, 1, 3, 3)})

    def calib(shape: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
        rng = np.random.default_rng(1)
        return [{"x": rng.standard_normal(shape).astype(np.float32)} for _ in range(4)]

    return {
        "fc_int8": (fc, {"quantize": "int8", "calibration": calib((2, 32))}),
        "fc_dynamic": (fc, {"quantize": "dynamic"}),
        "fc_fp16": (fc, {"weights": "fp16"}),
        "fc_2of4": (fc, {"prune": "2:4"}),
        "fc_magnitude": (fc, {"prune": "magnitude:0.8"}),
        "conv_int8": (conv, {"quantize": "int8", "calibration": calib((1, 8, 6, 6))}),
        "conv_fp16": (conv, {"weights": "fp16"}),
        "conv_2of4": (conv, {"prune": "2:4"}),
        "dwconv_int8": (dw, {"quantize": "int8", "calibration": calib((1, 8, 7, 7))}),
    }


def inverted_residual_seed() -> bytes:
    """INVERTED_RESIDUAL (edgec/passes/fuse_inverted_residual.py): a small block
    (expand 1x1 -> Clip -> depthwise 3x3 stride 2 -> Clip -> project 1x1),
    compiled with the pass's size rule off so that it fuses."""
    import edgec.passes.fuse_inverted_residual as fir

    clip = {"lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32)}
    block = model(
        [n("Conv", ["x", "w1", "b1"], ["e"]), n("Clip", ["e", "lo", "hi"], ["ea"]),
         n("Conv", ["ea", "wd"], ["d"], group=12, pads=[1, 1, 1, 1], strides=[2, 2]),
         n("Clip", ["d", "lo", "hi"], ["da"]), n("Conv", ["da", "w3"], ["y"])],
        {"x": (F, (1, 4, 7, 6))}, {"y": F},
        {"w1": f32(12, 4, 1, 1), "b1": f32(12), "wd": f32(12, 1, 3, 3), "w3": f32(5, 12, 1, 1),
         **clip})
    saved = fir.MIN_EXPANDED_BYTES
    fir.MIN_EXPANDED_BYTES = 0
    try:
        return edgec.compile(block)
    finally:
        fir.MIN_EXPANDED_BYTES = saved


def write_corpus(out: Path, verbose: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    jobs: list[tuple[str, bool, Callable[[], onnx.ModelProto], dict[str, object]]] = []
    jobs += [(name, False, build, {}) for name, build in core_seeds().items()]
    jobs += [(name, True, build, {}) for name, build in pending_seeds().items()]
    jobs += [(name, True, build, kw) for name, (build, kw) in variant_seeds().items()]
    for name, pending, build, options in jobs:
        try:
            data = edgec.compile(build(), **options)
        except (EdgecError, TypeError, ValueError) as e:
            # TypeError/ValueError: a compile option this version does not have
            if not pending:
                raise
            if verbose:
                print(f"  skipped {name}: {str(e).splitlines()[0][:100]}", file=sys.stderr)
            continue
        path = out / f"{name}.edgeb"
        path.write_bytes(data)
        written.append(path)
    path = out / "inverted_residual.edgeb"
    path.write_bytes(inverted_residual_seed())
    written.append(path)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="corpus directory (created)")
    args = ap.parse_args()
    written = write_corpus(args.out)
    sizes = sorted(p.stat().st_size for p in written)
    print(f"wrote {len(written)} seeds to {args.out} "
          f"({sizes[0]}..{sizes[-1]} bytes)" if written else "wrote no seeds")
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
