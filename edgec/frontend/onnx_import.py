"""ONNX -> onnx-ir graph with static shapes, ready for lowering.

Loads the model, binds dynamic input dims (--input-shape), brings old
opsets forward, runs ONNX shape inference, then onnxscript's optimizer
(constant folding, shape-subgraph folding, dead code) and rewriter
(Conv+BatchNorm folding and other simplifications).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import onnx
import onnx_ir as ir
import onnxscript.optimizer
import onnxscript.rewriter
from onnxscript.rewriter.rules import common as rules

from edgec.errors import EdgecError
from edgec.passes.channel_affine import fold_channel_affine
from edgec.passes.gelu import fuse_gelu
from edgec.unsupported import check_model

# Old exporters' opsets are brought to this one so lowering sees one form of
# each op (axes as inputs, Clip bounds as inputs, ...).
TARGET_OPSET = 18
# Fold constants of any size: weights computed by ConstantOfShape, Transpose
# of initializers and the like belong in the file, precomputed.
FOLD_LIMIT = 1 << 40
# Initializers above this size travel around the C++ passes, not through them.
WEIGHT_DETACH_BYTES = 4096

_REWRITE_RULES = [
    rules.fuse_batchnorm_into_conv_transpose_rule,
    rules.fuse_batchnorm_into_gemm_rule,
    rules.dropout_inference_rule,
    rules.dropout_zero_rule,
    rules.no_op_cast_rule,
    rules.no_op_expand_rule,
    rules.no_op_transpose_rule,
    rules.transpose_transpose_rule,
    rules.reshape_reshape_rule,
    rules.unsqueeze_unsqueeze_rule,
    rules.cast_cast_rule,
]

InputShapes = dict[str, list[int]]


def load_model(model: str | os.PathLike[str] | onnx.ModelProto) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.exists():
        raise EdgecError(f"{path}: no such file")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types for garbage
        raise EdgecError(f"{path}: not an ONNX model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'parse failed'})") from None


def _drop_initializer_inputs(model: onnx.ModelProto) -> None:
    """IR<4 models list weights as graph inputs too; they are constants here."""
    inits = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in inits]
    if len(keep) != len(model.graph.input):
        del model.graph.input[:]
        model.graph.input.extend(keep)
        model.ir_version = max(model.ir_version, 4)


def _bind_input_shapes(model: onnx.ModelProto, shapes: InputShapes, skip: set[str]) -> None:
    inputs = {i.name: i for i in model.graph.input if i.name not in skip}
    for name, dims in shapes.items():
        if name not in inputs:
            raise EdgecError(f"--input-shape names {name!r}, but the model's inputs are "
                             f"{sorted(inputs)}")
        tensor_type = inputs[name].type.tensor_type
        if tensor_type.HasField("shape") and len(tensor_type.shape.dim) != len(dims):
            raise EdgecError(f"--input-shape {name}: {len(dims)} dims given, the input has rank "
                             f"{len(tensor_type.shape.dim)}")
        del tensor_type.shape.dim[:]
        for d in dims:
            tensor_type.shape.dim.add().dim_value = d
    for inp in inputs.values():
        tensor_type = inp.type.tensor_type
        if not tensor_type.HasField("shape"):
            raise EdgecError(f"input {inp.name!r} has no shape; give it with "
                             f"--input-shape {inp.name}=D0,D1,...")
        for axis, dim in enumerate(tensor_type.shape.dim):
            if not dim.HasField("dim_value") or dim.dim_value < 0:
                label = dim.dim_param or "?"
                current = ",".join(str(d.dim_value) if d.HasField("dim_value") else d.dim_param
                                   or "?" for d in tensor_type.shape.dim)
                raise EdgecError(f"input {inp.name!r} has dynamic dimension {label!r} (axis "
                                 f"{axis}, shape [{current}]); bind it with --input-shape "
                                 f"{inp.name}=...")


def _default_opset(model: onnx.ModelProto) -> int:
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            return op.version
    return TARGET_OPSET


def _upgrade_opset(model: onnx.ModelProto) -> onnx.ModelProto:
    source = _default_opset(model)
    if source >= TARGET_OPSET:
        return model
    try:
        upgraded = onnx.version_converter.convert_version(model, TARGET_OPSET)
    except Exception as exc:
        raise EdgecError(f"cannot convert opset {source} to {TARGET_OPSET}: "
                         f"{str(exc).splitlines()[0]}") from None
    if source <= 10:
        _keep_legacy_resize_coordinates(upgraded)
    return upgraded


def _keep_legacy_resize_coordinates(model: onnx.ModelProto) -> None:
    """Upsample-9 and Resize-10 map coordinates asymmetrically (and round
    nearest down); the converter emits Resize-11+ without saying so, which
    would default to half_pixel. Restore the original meaning."""
    for node in model.graph.node:
        if node.op_type != "Resize":
            continue
        names = {a.name for a in node.attribute}
        if "coordinate_transformation_mode" not in names:
            node.attribute.append(onnx.helper.make_attribute(
                "coordinate_transformation_mode", "asymmetric"))
        if "nearest_mode" not in names:
            node.attribute.append(onnx.helper.make_attribute("nearest_mode", "floor"))


def _infer_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True)
    except Exception as exc:
        raise EdgecError(f"shape inference failed: {str(exc).splitlines()[0]}") from None


def _detach_weights(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    """Takes large initializers out of the model. The version converter and
    shape inference serialize the whole model across the C++ boundary; they
    need the weights' types and shapes (kept in graph.input meanwhile), not
    their bytes."""
    weights: dict[str, onnx.TensorProto] = {}
    keep = []
    for init in model.graph.initializer:
        if init.ByteSize() > WEIGHT_DETACH_BYTES:
            weights[init.name] = init
        else:
            keep.append(init)
    if weights:
        # Copies into fresh messages: clearing the repeated field invalidates
        # the old references in the upb runtime.
        weights = {k: _copy(v) for k, v in weights.items()}
        kept = [_copy(i) for i in keep]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept)
        model.graph.input.extend(
            onnx.helper.make_tensor_value_info(name, t.data_type, list(t.dims))
            for name, t in weights.items())
    return weights


def _copy(tensor: onnx.TensorProto) -> onnx.TensorProto:
    out = onnx.TensorProto()
    out.CopyFrom(tensor)
    return out


def _attach_weights(model: onnx.ModelProto, weights: dict[str, onnx.TensorProto]) -> None:
    if not weights:
        return
    inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    model.graph.initializer.extend(weights.values())


def _fold_everything(node: ir.Node) -> bool | None:
    # onnxscript keeps ConstantOfShape to keep models small; a compiled
    # program wants the values (weights built by ConstantOfShape included).
    return True if node.op_type == "ConstantOfShape" else None


def _optimize(model: ir.Model) -> None:
    onnxscript.optimizer.optimize_ir(model, num_iterations=2, input_size_limit=FOLD_LIMIT,
                                     output_size_limit=FOLD_LIMIT, should_fold=_fold_everything)


def _fold(model: ir.Model) -> None:
    """Constant folding and dead-code removal only, after edgec's own rewrites."""
    onnxscript.optimizer.fold_constants(model, input_size_limit=FOLD_LIMIT,
                                        output_size_limit=FOLD_LIMIT,
                                        should_fold=_fold_everything)
    onnxscript.optimizer.remove_unused_nodes(model)


def import_onnx(model: str | os.PathLike[str] | onnx.ModelProto,
                input_shapes: InputShapes | None = None) -> ir.Model:
    proto = onnx.ModelProto()
    proto.CopyFrom(load_model(model))
    inits = {i.name for i in proto.graph.initializer}
    _bind_input_shapes(proto, input_shapes or {}, skip=inits)
    _drop_initializer_inputs(proto)
    weights = _detach_weights(proto)
    proto = _upgrade_opset(proto)
    proto = _infer_shapes(proto)
    _attach_weights(proto, weights)
    try:
        ir_model = ir.from_proto(proto)
    except Exception as exc:  # onnx_ir rejects e.g. sequence and map values
        check_model(proto)  # names what edgec leaves out on purpose, if that is it
        raise EdgecError(f"cannot read the graph: {exc}") from None
    # onnxscript logs routine decisions at warning level; they are not ours to show.
    for name in ("onnxscript", "onnx_ir"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _optimize(ir_model)
    fold_channel_affine(ir_model)  # also BatchNormalization into Conv
    onnxscript.rewriter.rewrite(ir_model, pattern_rewrite_rules=_REWRITE_RULES)
    fuse_gelu(ir_model)
    if _fold_constant_splits(ir_model.graph):
        _fold(ir_model)  # what the pieces feed (an Expand's shape from a Split of sizes)
    _fold(ir_model)
    if _has_unknown_shapes(ir_model.graph):
        ir_model = _reinfer(ir_model)
    return ir_model


def _fold_constant_splits(graph: ir.Graph) -> int:
    """Gives the outputs of a Split of a constant their values (onnxscript's folding
    leaves multi-output nodes alone). Returns how many Splits it folded."""
    done = 0
    for node in graph:
        if node.op_type != "Split" or node.domain not in ("", "ai.onnx"):
            continue
        x = node.inputs[0] if node.inputs else None
        if x is None or x.const_value is None or any(o.const_value is not None
                                                     for o in node.outputs):
            continue
        data = x.const_value.numpy()
        axis = node.attributes.get_int("axis", 0)
        if data.ndim == 0 or not -data.ndim <= axis < data.ndim:
            continue
        axis %= data.ndim
        split_in = node.inputs[1] if len(node.inputs) > 1 else None
        if split_in is not None:
            if split_in.const_value is None:
                continue
            sizes = [int(v) for v in split_in.const_value.numpy().reshape(-1)]
        elif "split" in node.attributes:
            sizes = list(node.attributes.get_ints("split"))
        else:
            n, length = len(node.outputs), data.shape[axis]
            chunk = -(-length // n)
            sizes = [min(chunk, max(length - i * chunk, 0)) for i in range(n)]
        if len(sizes) != len(node.outputs) or sum(sizes) != data.shape[axis]:
            continue
        pieces = np.split(data, np.cumsum(sizes)[:-1], axis=axis)
        for out, piece in zip(node.outputs, pieces, strict=True):
            out.const_value = ir.tensor(np.ascontiguousarray(piece))
        done += 1
    return done


def _has_unknown_shapes(graph: ir.Graph) -> bool:
    return any(v.shape is None or not v.shape.is_static() for n in graph for v in n.outputs)


def _reinfer(model: ir.Model) -> ir.Model:
    """Shape inference once more, after folding: a value ONNX's inference could not
    shape at first (a Scan whose initial state is built from Shape arithmetic that its
    data propagation does not follow) often has constant inputs by now."""
    proto = ir.to_proto(model)
    del proto.graph.value_info[:]  # the first inference's guesses (symbolic dims) go
    weights = _detach_weights(proto)
    try:
        proto = _infer_shapes(proto)
    except EdgecError:
        return model  # no better than the first pass: lowering names what stays unshaped
    _attach_weights(proto, weights)
    again = ir.from_proto(proto)
    _fold(again)
    return again
