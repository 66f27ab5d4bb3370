"""Elementwise unary, binary and variadic ops.

Arithmetic and comparisons run on every numeric dtype (float32, float16,
float64, bfloat16 and the 8- to 64-bit integers); float unary ops on the four
float dtypes; bitwise ops and shifts on the integer dtypes. Clip with bounds
computed at run time (or on integers, or float64) becomes Max/Min; Pow of
mixed dtypes casts the exponent (or the integer base) first.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from edgec.fb.AxisOptions import AxisOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.UnaryOptions import UnaryOptionsT
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.program import BF16, DTYPES

BINARY = {
    "Add": Opcode.ADD, "Sub": Opcode.SUB, "Mul": Opcode.MUL, "Div": Opcode.DIV,
    "Pow": Opcode.POW, "Mod": Opcode.MOD,
    "Equal": Opcode.EQUAL, "Less": Opcode.LESS, "Greater": Opcode.GREATER,
    "LessOrEqual": Opcode.LESS_OR_EQUAL, "GreaterOrEqual": Opcode.GREATER_OR_EQUAL,
    "And": Opcode.AND, "Or": Opcode.OR, "Xor": Opcode.XOR,
}
BITWISE = {
    "BitwiseAnd": Opcode.BITWISE_AND, "BitwiseOr": Opcode.BITWISE_OR,
    "BitwiseXor": Opcode.BITWISE_XOR, "BitShift": Opcode.BIT_SHIFT,
}
F32, F16, F64 = np.dtype(np.float32), np.dtype(np.float16), np.dtype(np.float64)
FLOATS = (F32, F16, F64, BF16)
INTS = tuple(np.dtype(t) for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.int64, np.uint64))
NUMERIC = (*FLOATS, *INTS)
POW_DTYPES = (*FLOATS, np.dtype(np.int32), np.dtype(np.int64))

UNARY = {
    "Sqrt": Opcode.SQRT, "Exp": Opcode.EXP, "Log": Opcode.LOG, "Neg": Opcode.NEG,
    "Abs": Opcode.ABS, "Reciprocal": Opcode.RECIPROCAL, "Relu": Opcode.RELU,
    "LeakyRelu": Opcode.LEAKY_RELU, "Sigmoid": Opcode.SIGMOID, "Tanh": Opcode.TANH,
    "HardSigmoid": Opcode.HARD_SIGMOID, "HardSwish": Opcode.HARD_SWISH, "Gelu": Opcode.GELU,
    "Erf": Opcode.ERF, "Softplus": Opcode.SOFTPLUS, "Elu": Opcode.ELU, "Selu": Opcode.SELU,
    "Floor": Opcode.FLOOR, "Ceil": Opcode.CEIL, "Round": Opcode.ROUND, "Sin": Opcode.SIN,
    "Cos": Opcode.COS, "Sign": Opcode.SIGN, "Softsign": Opcode.SOFTSIGN, "Mish": Opcode.MISH,
    "Acos": Opcode.ACOS, "Acosh": Opcode.ACOSH, "Asin": Opcode.ASIN, "Asinh": Opcode.ASINH,
    "Atan": Opcode.ATAN, "Atanh": Opcode.ATANH, "Cosh": Opcode.COSH, "Sinh": Opcode.SINH,
    "Tan": Opcode.TAN,
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
    if ctx.dtype(x) not in FLOATS:
        raise Unsupported(f"{ctx.dtype(x)} input (float dtypes only)")
    ctx.emit(UNARY[node.op_type], [ctx.tensor(x)], [ctx.output(node.outputs[0])],
             unary_options(node), node.name)


def _bound(ctx: LoweringContext, value: ir.Value | None, dtype: np.dtype) -> int | None:
    """A Clip bound as a tensor of the input's dtype (None: no bound)."""
    if value is None:
        return None
    data = ctx.const(value)
    if data is not None:
        return ctx.constant(np.asarray(data).astype(dtype).reshape(()), value.name or "bound")
    if ctx.dtype(value) != dtype:
        raise Unsupported(f"bound of dtype {ctx.dtype(value)} for a {dtype} input")
    return ctx.tensor(value)


@lowers("Clip")
def lower_clip(ctx: LoweringContext, node: ir.Node) -> None:
    x, out = node.inputs[0], node.outputs[0]
    dtype = ctx.dtype(x)
    inputs = [*node.inputs, None, None]
    constant = all(v is None or ctx.const(v) is not None for v in inputs[1:3])
    # CLIP's bounds are float32: float64 takes the Max/Min path, exact
    if dtype in FLOATS and dtype != F64 and constant:
        opts = UnaryOptionsT()
        opts.alpha, opts.beta = clip_bounds(ctx, node)
        ctx.emit(Opcode.CLIP, [ctx.tensor(x)], [ctx.output(out)], opts, node.name)
        return
    if dtype not in NUMERIC:
        raise Unsupported(f"{dtype} input")
    # max(x, lo) then min(., hi), as ONNX defines Clip (min > max gives max).
    lo, hi = _bound(ctx, inputs[1], dtype), _bound(ctx, inputs[2], dtype)
    acc = ctx.tensor(x)
    steps = [(Opcode.MAX, lo), (Opcode.MIN, hi)]
    steps = [(op, b) for op, b in steps if b is not None]
    if not steps:
        ctx.emit(Opcode.COPY, [acc], [ctx.output(out)], name=node.name)
        return
    for i, (opcode, bound) in enumerate(steps):
        dst = ctx.output(out) if i == len(steps) - 1 else ctx.scratch_tensor(
            f"{out.name}/lo", dtype, ctx.shape(out))
        ctx.emit(opcode, [acc, bound], [dst], name=node.name)
        acc = dst


@lowers("Not")
def lower_not(ctx: LoweringContext, node: ir.Node) -> None:
    ctx.emit(Opcode.NOT, [ctx.tensor(node.inputs[0])], [ctx.output(node.outputs[0])],
             name=node.name)


def _opset(node: ir.Node) -> int:
    if node.version is not None:
        return int(node.version)
    graph = node.graph
    if graph is not None:
        for domain in ("", "ai.onnx"):
            if domain in graph.opset_imports:
                return int(graph.opset_imports[domain])
    return 18


def _binary_operand(ctx: LoweringContext, value: ir.Value, dtype: np.dtype,
                    name: str) -> int:
    """Pow's exponent may have another dtype: constants are converted here, run-time
    values cast by a CAST instruction."""
    if ctx.dtype(value) == dtype:
        return ctx.tensor(value)
    data = ctx.const(value)
    if data is not None:
        return ctx.constant(np.asarray(data).astype(dtype), value.name or "const")
    return _cast(ctx, ctx.tensor(value), ctx.dtype(value), dtype, name)


def _cast(ctx: LoweringContext, index: int, source: np.dtype, target: np.dtype,
          name: str) -> int:
    if source not in DTYPES:
        raise Unsupported(f"operand of dtype {source}")
    shape = ctx.program.tensors[index].shape
    dst = ctx.scratch_tensor(f"{name}/cast", target, shape)
    ctx.emit(Opcode.CAST, [index], [dst], name=name)
    return dst


@lowers(*BINARY)
def lower_binary(ctx: LoweringContext, node: ir.Node) -> None:
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    dtype = ctx.dtype(a)
    logical = node.op_type in ("And", "Or", "Xor")
    if logical and dtype != np.bool_:
        raise Unsupported(f"{dtype} inputs (bool only)")
    if not logical and dtype not in NUMERIC:
        raise Unsupported(f"{dtype} inputs (numeric dtypes only)")
    if node.op_type == "Pow":
        _lower_pow(ctx, node)
        return
    options = None
    if node.op_type == "Mod":
        fmod = node.attributes.get_int("fmod", 0)
        if dtype in FLOATS and not fmod and _opset(node) < 28:
            raise Unsupported("float Mod needs fmod=1 before opset 28")
        options = AxisOptionsT()
        options.flags = 1 if fmod else 0
    ctx.emit(BINARY[node.op_type], [ctx.tensor(a), _binary_operand(ctx, b, dtype, node.name)],
             [ctx.output(out)], options, node.name)


def _lower_pow(ctx: LoweringContext, node: ir.Node) -> None:
    """Pow(T base, T1 exponent) -> T: a float base takes the exponent cast to it; an
    integer base with an integer exponent runs exactly; an integer base with a float
    exponent runs in float32 and is cast back (truncating, as ONNX's reference)."""
    a, b, out = node.inputs[0], node.inputs[1], node.outputs[0]
    base, exp = ctx.dtype(a), ctx.dtype(b)
    if base not in POW_DTYPES:
        raise Unsupported(f"{base} base (float, int32, int64 only)")
    if base in FLOATS or np.issubdtype(exp, np.integer):
        ctx.emit(Opcode.POW, [ctx.tensor(a), _binary_operand(ctx, b, base, node.name)],
                 [ctx.output(out)], name=node.name)
        return
    x = _cast(ctx, ctx.tensor(a), base, F32, node.name)
    y = _binary_operand(ctx, b, F32, node.name)
    z = ctx.scratch_tensor(f"{out.name}/float", F32, ctx.shape(out))
    ctx.emit(Opcode.POW, [x, y], [z], name=node.name)
    ctx.emit(Opcode.CAST, [z], [ctx.output(out)], name=node.name)


@lowers(*BITWISE)
def lower_bitwise(ctx: LoweringContext, node: ir.Node) -> None:
    a, b = node.inputs[0], node.inputs[1]
    dtype = ctx.dtype(a)
    if dtype not in INTS:
        raise Unsupported(f"{dtype} inputs (integer dtypes only)")
    options = None
    if node.op_type == "BitShift":
        direction = node.attributes.get_string("direction", "")
        if direction not in ("LEFT", "RIGHT"):
            raise Unsupported(f"direction {direction!r}")
        options = AxisOptionsT()
        options.flags = 1 if direction == "RIGHT" else 0
    ctx.emit(BITWISE[node.op_type], [ctx.tensor(a), ctx.tensor(b)],
             [ctx.output(node.outputs[0])], options, node.name)


@lowers("BitwiseNot")
def lower_bitwise_not(ctx: LoweringContext, node: ir.Node) -> None:
    x = node.inputs[0]
    if ctx.dtype(x) not in INTS:
        raise Unsupported(f"{ctx.dtype(x)} input (integer dtypes only)")
    ctx.emit(Opcode.BITWISE_NOT, [ctx.tensor(x)], [ctx.output(node.outputs[0])],
             name=node.name)


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
