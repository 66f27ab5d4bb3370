"""Elementwise unary, binary and variadic ops."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.UnaryOptions import UnaryOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers

BINARY = {
    "Add": Opcode.ADD, "Sub": Opcode.SUB, "Mul": Opcode.MUL, "Div": Opcode.DIV,
    "Pow": Opcode.POW, "Mod": Opcode.MOD,
    "Equal": Opcode.EQUAL, "Less": Opcode.LESS, "Greater": Opcode.GREATER,
    "LessOrEqual": Opcode.LESS_OR_EQUAL, "GreaterOrEqual": Opcode.GREATER_OR_EQUAL,
    "And": Opcode.AND, "Or": Opcode.OR, "Xor": Opcode.XOR,
}
NUMERIC = (np.dtype(np.float32), np.dtype(np.int32), np.dtype(np.int64))

UNARY = {
    "Sqrt": Opcode.SQRT, "Exp": Opcode.EXP, "Log": Opcode.LOG, "Neg": Opcode.NEG,
    "Abs": Opcode.ABS, "Reciprocal": Opcode.RECIPROCAL, "Relu": Opcode.RELU,
    "LeakyRelu": Opcode.LEAKY_RELU, "Sigmoid": Opcode.SIGMOID, "Tanh": Opcode.TANH,
    "HardSigmoid": Opcode.HARD_SIGMOID, "HardSwish": Opcode.HARD_SWISH, "Gelu": Opcode.GELU,
    "Erf": Opcode.ERF, "Softplus": Opcode.SOFTPLUS, "Elu": Opcode.ELU, "Selu": Opcode.SELU,
    "Floor": Opcode.FLOOR, "Ceil": Opcode.CEIL, "Round": Opcode.ROUND, "Sin": Opcode.SIN,
    "Cos": Opcode.COS, "Sign": Opcode.SIGN, "Softsign": Opcode.SOFTSIGN, "Mish": Opcode.MISH,
}

# ONNX defaults of the ops' scalar attributes: (alpha name, default), (beta name, default)
_UNARY_PARAMS: dict[str, tuple[tuple[str, float], tuple[str, float]]] = {
    "LeakyRelu": (("alpha", 0.01), ("", 0.0)),
    "HardSigmoid": (("alpha", 0.2), ("beta", 0.5)),
    "Elu": (("alpha", 1.0), ("", 0.0)),
    "Selu": (("alpha", 1.67326319217681884765625), ("gamma", 1.05070102214813232421875)),
}


def unary_options(node: ir.Node) -> UnaryOptionsT | None:
    """The UnaryOptions an activation-like node needs, or None."""
    opts = UnaryOptionsT()
    if node.op_type in _UNARY_PARAMS:
        (a_name, a_default), (b_name, b_default) = _UNARY_PARAMS[node.op_type]
        opts.alpha = node.attributes.get_float(a_name, a_default)
        opts.beta = node.attributes.get_float(b_name, b_default) if b_name else 0.0
        return opts
    if node.op_type == "Gelu":
        approx = node.attributes.get_string("approximate", "none")
        if approx not in ("none", "tanh"):
            raise Unsupported(f"approximate={approx!r}")
        opts.approximate = approx == "tanh"
        return opts
    return None


def clip_bounds(ctx: LoweringContext, node: ir.Node) -> tuple[float, float]:
    inputs = [*node.inputs, None, None]
    bounds = []
    for value, default in ((inputs[1], -np.inf), (inputs[2], np.inf)):
        if value is None:
            bounds.append(default)
            continue
        data = ctx.const(value)
        if data is None:
            raise Unsupported("min/max must be constants")
        bounds.append(float(data))
    return bounds[0], bounds[1]


@lowers(*UNARY)
def lower_unary(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    ctx.emit(UNARY[node.op_type], [ctx.tensor(x)], [ctx.output(node.outputs[0])],
             unary_options(node), node.name)


@lowers("Clip")
def lower_clip(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    opts = UnaryOptionsT()
    opts.alpha, opts.beta = clip_bounds(ctx, node)
    ctx.emit(Opcode.CLIP, [ctx.tensor(x)], [ctx.output(node.outputs[0])], opts, node.name)


@lowers("Not")
def lower_not(ctx: LoweringContext, node: ir.Node) -> None:
    ctx.emit(Opcode.NOT, [ctx.tensor(node.inputs[0])], [ctx.output(node.outputs[0])],
             name=node.name)


def _binary_operand(ctx: LoweringContext, value: ir.Value, dtype: np.dtype) -> int:
    """Pow's exponent may have another dtype: constants are converted here."""
    if ctx.dtype(value) == dtype:
        return ctx.tensor(value)
    data = ctx.const(value)
    if data is None:
        raise Unsupported(f"operands of different dtypes ({ctx.dtype(value)} vs {dtype})")
    return ctx.constant(data.astype(dtype), value.name or "const")


@lowers(*BINARY)
def lower_binary(ctx: LoweringContext, node: ir.Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    dtype = ctx.dtype(a)
    logical = node.op_type in ("And", "Or", "Xor")
    if logical and dtype != np.bool_:
        raise Unsupported(f"{dtype} inputs (bool only)")
    if not logical and dtype not in NUMERIC:
        raise Unsupported(f"{dtype} inputs (float32, int32, int64 only)")
    if node.op_type == "Pow" and dtype != np.float32:
        raise Unsupported(f"{dtype} base (float32 only)")
    options = None
    if node.op_type == "Mod":
        fmod = node.attributes.get_int("fmod", 0)
        if dtype == np.float32 and not fmod:
            raise Unsupported("float Mod needs fmod=1")
        options = AxisOptionsT()
        options.flags = 1 if fmod else 0
    ctx.emit(BINARY[node.op_type], [ctx.tensor(a), _binary_operand(ctx, b, dtype)],
             [ctx.output(node.outputs[0])], options, node.name)


@lowers("Sum", "Min", "Max", "Mean")
def lower_variadic(ctx: LoweringContext, node: ir.Node) -> None:
    """A chain of binary ops; Mean divides the sum by the operand count."""
    opcode = {"Sum": Opcode.ADD, "Mean": Opcode.ADD, "Min": Opcode.MIN, "Max": Opcode.MAX}
    out = node.outputs[0]
    dtype = ctx.dtype(out)
    if dtype not in NUMERIC:
        raise Unsupported(f"{dtype} inputs")
    inputs = [v for v in node.inputs if v is not None]
    if len(inputs) == 1 and node.op_type != "Mean":
        ctx.emit(Opcode.COPY, [ctx.tensor(inputs[0])], [ctx.output(out)], name=node.name)
        return
    acc = ctx.tensor(inputs[0])
    steps = len(inputs) - 1 + (1 if node.op_type == "Mean" else 0)
    for i, value in enumerate(inputs[1:], start=1):
        last = i == steps
        # Intermediate results broadcast to the final output shape.
        dst = ctx.output(out) if last else ctx.scratch_tensor(
            f"{out.name}/partial{i}", dtype, ctx.shape(out))
        ctx.emit(opcode[node.op_type], [acc, ctx.tensor(value)], [dst], name=node.name)
        acc = dst
    if node.op_type == "Mean":
        scale = ctx.constant(np.array(1.0 / len(inputs), dtype=dtype), f"{out.name}/scale")
        ctx.emit(Opcode.MUL, [acc, scale], [ctx.output(out)], name=node.name)
