"""Lowering of ONNX's quantized ops onto edgec's integer kernels.

QuantizeLinear -> QUANTIZE_LINEAR, DequantizeLinear -> DEQUANTIZE_LINEAR,
QLinearConv -> QCONV, QLinearMatMul -> QMATMUL (requantized), MatMulInteger ->
QMATMUL (int32 out), ConvInteger -> QCONV (int32 out). Scales and zero points
must be constants; they become the operands' Tensor.quant (an int8 value read
with other parameters than it carries gets an alias with those). Weights are
stored int8 symmetric, as the kernels want: w - zero_point when that fits in
int8 (always for uint8 weights with zero point 128), else requantized per
channel from their real values. QuantizeLinear/DequantizeLinear pairs around
float ops never get here: edgec.quant.qdq folds them before import.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from edgec.fb.Activation import Activation
from edgec.fb.ConvOptions import ConvOptionsT
from edgec.fb.Opcode import Opcode
from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.program import Quantization, Tensor
from edgec.quant import kernels as qk
from edgec.quant.weights import quantize_per_channel

Q8 = (np.dtype(np.int8), np.dtype(np.uint8))
Q16 = (*Q8, np.dtype(np.int16), np.dtype(np.uint16))  # QuantizeLinear/DequantizeLinear


def _const(ctx: LoweringContext, value: ir.Value | None, what: str) -> np.ndarray | None:
    if value is None:
        return None
    data = ctx.const(value)
    if data is None:
        raise Unsupported(f"{what} must be a constant")
    return np.asarray(data)


def _quant(scale: np.ndarray, zp: np.ndarray | None, axis: int) -> Quantization:
    s = np.asarray(scale, np.float32).reshape(-1)
    z = np.zeros(s.size, np.int64) if zp is None else np.asarray(zp, np.int64).reshape(-1)
    if z.size == 1 and s.size > 1:
        z = np.full(s.size, z[0], np.int64)
    if s.size == 1:
        axis = -1
    return Quantization(scales=s, zero_points=z, axis=axis)


def _same(a: Quantization | None, b: Quantization) -> bool:
    return a is not None and a.axis == b.axis and np.array_equal(a.scales, b.scales) and \
        np.array_equal(a.zero_points, b.zero_points)


def with_quant(ctx: LoweringContext, index: int, q: Quantization) -> int:
    """index itself if it has no quantization yet (it gets q) or has q; else an alias
    (or, for a constant, a copy) that carries q."""
    t = ctx.program.tensors[index]
    if t.quant is None:
        t.quant = q
        return index
    if _same(t.quant, q):
        return index
    if t.data is not None:
        return ctx.program.add_tensor(Tensor(name=f"{t.name}/requant", dtype=t.dtype,
                                             shape=t.shape, data=t.data, quant=q))
    root = t.alias_of if t.alias_of is not None else index
    return ctx.program.add_tensor(Tensor(name=f"{t.name}/as", dtype=t.dtype, shape=t.shape,
                                         alias_of=root, quant=q))


def _axis(node: ir.Node, rank: int) -> int:
    axis = node.attributes.get_int("axis", 1)
    return axis + rank if axis < 0 else axis


def _q8_input(ctx: LoweringContext, value: ir.Value, scale: ir.Value, zp: ir.Value | None,
              what: str) -> int:
    if ctx.dtype(value) not in Q8:
        raise Unsupported(f"{what} is {ctx.dtype(value)} (int8 or uint8)")
    s = _const(ctx, scale, f"{what} scale")
    z = _const(ctx, zp, f"{what} zero point")
    assert s is not None
    if s.size != 1 or (z is not None and z.size != 1):
        raise Unsupported(f"{what} quantized per axis (per tensor only)")
    return with_quant(ctx, ctx.tensor(value), _quant(s, z, -1))


def _q_output(ctx: LoweringContext, value: ir.Value, scale: ir.Value | None,
              zp: ir.Value | None) -> int:
    index = ctx.output(value)
    if scale is not None:
        s = _const(ctx, scale, "output scale")
        assert s is not None
        if s.size != 1:
            raise Unsupported("output quantized per axis (per tensor only)")
        ctx.program.tensors[index].quant = _quant(s, _const(ctx, zp, "output zero point"), -1)
    return index


# ---- QuantizeLinear / DequantizeLinear ------------------------------------------------------


@lowers("QuantizeLinear")
def lower_quantize_linear(ctx: LoweringContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    if ctx.dtype(x) != np.float32:
        raise Unsupported(f"{ctx.dtype(x)} input (float32 only)")
    if ctx.dtype(y) not in Q16:
        raise Unsupported(f"{ctx.dtype(y)} output (int8, uint8, int16 or uint16 only)")
    zp_in = node.inputs[2] if len(node.inputs) > 2 else None
    if ctx.const(node.inputs[1]) is None or (zp_in is not None and ctx.const(zp_in) is None) \
            or node.attributes.get_int("block_size", 0):
        _quantize_at_run_time(ctx, node)
        return
    s = _const(ctx, node.inputs[1], "scale")
    z = _const(ctx, zp_in, "zero point")
    assert s is not None
    index = ctx.output(y)
    ctx.program.tensors[index].quant = _quant(s, z, _axis(node, len(ctx.shape(x))))
    ctx.emit(Opcode.QUANTIZE_LINEAR, [ctx.tensor(x)], [index], name=node.name)


def _quantize_at_run_time(ctx: LoweringContext, node: ir.Node) -> None:
    """QuantizeLinear whose scale or zero point is computed at run time (as in
    DynamicQuantizeLinear's body), or given per block: saturate(round(x / scale) +
    zero point), written as Div, Round (half to even), Add, Clip and Cast."""
    import onnx
    from onnx import helper

    from edgec.lower.misc import _lower_body  # local: misc imports this module's peers

    x, y = node.inputs[0], node.outputs[0]
    scale = node.inputs[1]
    zp = node.inputs[2] if len(node.inputs) > 2 else None
    assert x is not None and scale is not None
    rank = len(ctx.shape(x))
    prefix = f"{node.name or 'QuantizeLinear'}/"
    nodes: list[onnx.NodeProto] = []

    def add(op: str, inputs: list[str], output: str | None = None, **attrs: object) -> str:
        name = output or f"{prefix}{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [name], name=f"{prefix}{len(nodes)}",
                                      **attrs))
        return name

    def const(array: np.ndarray) -> str:
        return add("Constant", [], value=onnx.numpy_helper.from_array(array))

    block = node.attributes.get_int("block_size", 0)

    def along_axis(name: str, value: ir.Value) -> str:
        if block:
            return const(_blocks(ctx, node, value, np.dtype(np.float32)))
        if len(ctx.shape(value)) != 1 or ctx.shape(value)[0] == 1 or rank <= 1:
            return name
        shape = [1] * rank
        shape[_axis(node, rank)] = -1
        return add("Reshape", [name, const(np.array(shape, np.int64))])

    q = add("Round", [add("Div", [x.name, along_axis(scale.name, scale)])])
    if zp is not None:
        q = add("Add", [q, along_axis(add("Cast", [zp.name], to=onnx.TensorProto.FLOAT), zp)])
    info = np.iinfo(ctx.dtype(y))
    q = add("Clip", [q, const(np.array(info.min, np.float32)),
                     const(np.array(info.max, np.float32))])
    add("Cast", [q], y.name, to=helper.np_dtype_to_tensor_dtype(ctx.dtype(y)))
    _lower_body(ctx, node, nodes, {"": 18}, "rewrite")


def _blocks(ctx: LoweringContext, node: ir.Node, value: ir.Value,
            dtype: np.dtype) -> np.ndarray:
    """A block-quantization parameter (constant) repeated to the input's shape."""
    data = ctx.const(value)
    if data is None:
        raise Unsupported("block scales and zero points must be compile-time constants")
    shape = ctx.shape(node.inputs[0])
    axis = _axis(node, len(shape))
    block = node.attributes.get_int("block_size", 0)
    full = np.repeat(np.asarray(data), block, axis=axis)
    if full.ndim != len(shape) or full.shape[axis] < shape[axis]:
        raise Unsupported(f"block parameters {np.shape(data)} for input {shape}")
    return np.ascontiguousarray(np.take(full, np.arange(shape[axis]), axis=axis)).astype(dtype)


def _dequantize_blocks(ctx: LoweringContext, node: ir.Node) -> None:
    """Block dequantization: (x - zero point) * scale with the parameters repeated to
    the input's shape (constants), in float32."""
    import onnx
    from onnx import helper

    from edgec.lower.misc import _lower_body  # local: misc imports this module's peers

    x, scale, y = node.inputs[0], node.inputs[1], node.outputs[0]
    zp = node.inputs[2] if len(node.inputs) > 2 else None
    assert x is not None and scale is not None
    if ctx.dtype(y) != np.float32:
        raise Unsupported(f"block quantization to {ctx.dtype(y)} (float32 only)")
    f32 = onnx.TensorProto.FLOAT
    prefix = f"{node.name or 'DequantizeLinear'}/"
    nodes = [helper.make_node("Cast", [x.name], [f"{prefix}x"], to=f32)]
    q = f"{prefix}x"
    if zp is not None:
        nodes.append(helper.make_node("Constant", [], [f"{prefix}zp"],
                                      value=onnx.numpy_helper.from_array(
                                          _blocks(ctx, node, zp, np.dtype(np.float32)))))
        nodes.append(helper.make_node("Sub", [q, f"{prefix}zp"], [f"{prefix}centred"]))
        q = f"{prefix}centred"
    nodes.append(helper.make_node("Constant", [], [f"{prefix}scale"],
                                  value=onnx.numpy_helper.from_array(
                                      _blocks(ctx, node, scale, np.dtype(np.float32)))))
    nodes.append(helper.make_node("Mul", [q, f"{prefix}scale"], [y.name]))
    _lower_body(ctx, node, nodes, {"": 18}, "rewrite")


@lowers("DequantizeLinear")
def lower_dequantize_linear(ctx: LoweringContext, node: ir.Node) -> None:
    x, y = node.inputs[0], node.outputs[0]
    if ctx.dtype(x) not in (*Q16, np.dtype(np.int32)):
        raise Unsupported(f"{ctx.dtype(x)} input (int8, uint8, int16, uint16 or int32)")
    if node.attributes.get_int("block_size", 0):
        _dequantize_blocks(ctx, node)
        return
    s = _const(ctx, node.inputs[1], "scale")
    z = _const(ctx, node.inputs[2] if len(node.inputs) > 2 else None, "zero point")
    assert s is not None
    q = _quant(s, z, _axis(node, len(ctx.shape(x))))
    src = with_quant(ctx, ctx.tensor(x), q)
    ctx.emit(Opcode.DEQUANTIZE_LINEAR, [src], [ctx.output(y)], name=node.name)


# ---- weights ---------------------------------------------------------------------------------


def _int8_weight(ctx: LoweringContext, w: np.ndarray, scale: np.ndarray | None,
                 zp: np.ndarray | None, axis: int, name: str) -> tuple[int, np.ndarray]:
    """An int8 symmetric weight tensor (w - zp, or requantized) and its scales per channel
    along axis (broadcast to the channel count)."""
    channels = w.shape[axis]
    s = np.ones(1, np.float32) if scale is None else np.asarray(scale, np.float32).reshape(-1)
    z = np.zeros(1, np.int64) if zp is None else np.asarray(zp, np.int64).reshape(-1)
    shape = [1] * w.ndim
    shape[axis] = -1
    zb = z.reshape(shape) if z.size > 1 else z.reshape([1] * w.ndim)
    shifted = w.astype(np.int64) - zb
    if shifted.min(initial=0) >= -128 and shifted.max(initial=0) <= 127:
        q = shifted.astype(np.int8)
        scales = np.broadcast_to(s, (channels,)).astype(np.float32) if s.size > 1 else s
        quant = _quant(scales, None, axis)
    else:
        sb = s.reshape(shape) if s.size > 1 else s.reshape([1] * w.ndim)
        qw = quantize_per_channel((shifted * sb).astype(np.float32), axis)
        q, scales = qw.q, qw.scales
        quant = _quant(scales, None, axis)
    index = ctx.program.add_tensor(Tensor(name=f"{name}/q8", dtype=np.dtype(np.int8),
                                          shape=q.shape, data=np.ascontiguousarray(q),
                                          quant=quant))
    return index, np.broadcast_to(np.asarray(scales, np.float32), (channels,))


# ---- QLinearConv / ConvInteger -----------------------------------------------------------------


def _conv_attrs(ctx: LoweringContext, node: ir.Node, x: ir.Value, w_shape: tuple[int, ...]
                ) -> tuple[ConvOptionsT, list[int], list[int], list[int], list[int], int]:
    x_shape = ctx.shape(x)
    sp = len(x_shape) - 2
    if sp not in (1, 2):
        raise Unsupported(f"{sp}-D convolution (1-D and 2-D only)")
    kernel = list(w_shape[2:])

    def ints(name: str, default: list[int]) -> list[int]:
        v = node.attributes.get_ints(name, None)
        return [int(i) for i in v] if v is not None else default

    strides, dil = ints("strides", [1] * sp), ints("dilations", [1] * sp)
    auto_pad = node.attributes.get_string("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads_b, pads_e = [], []
        for i in range(sp):
            out = -(-x_shape[2 + i] // strides[i])
            total = max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - x_shape[2 + i])
            small, big = total // 2, total - total // 2
            b, e = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
            pads_b.append(b)
            pads_e.append(e)
        pads = pads_b + pads_e
    elif auto_pad == "VALID":
        pads = [0] * (2 * sp)
    elif auto_pad == "NOTSET":
        pads = ints("pads", [0] * (2 * sp))
    else:
        raise Unsupported(f"auto_pad={auto_pad!r}")
    group = node.attributes.get_int("group", 1)
    opts = ConvOptionsT(strides=strides, pads=pads, dilations=dil, group=group,
                        activation=Activation.NONE)
    return opts, kernel, strides, pads, dil, group


def _emit_qconv(ctx: LoweringContext, node: ir.Node, x_index: int, x: ir.Value, w_index: int,
                w_shape: tuple[int, ...], bias: int | None, y_index: int) -> None:
    opts, kernel, strides, pads, dil, group = _conv_attrs(ctx, node, x, w_shape)
    x_shape, y_shape = ctx.shape(x), ctx.program.tensors[y_index].shape
    sp = len(x_shape) - 2
    k2 = (kernel[0], kernel[1]) if sp == 2 else (1, kernel[0])
    s2 = (strides[0], strides[1]) if sp == 2 else (1, strides[0])
    d2 = (dil[0], dil[1]) if sp == 2 else (1, dil[0])
    p4 = (pads[0], pads[1], pads[2], pads[3]) if sp == 2 else (0, pads[0], 0, pads[1])
    hw = (x_shape[2], x_shape[3]) if sp == 2 else (1, x_shape[2])
    c, m = x_shape[1], w_shape[0]
    if group == c == m:
        path = "depthwise"
    elif k2 == (1, 1) and s2 == (1, 1) and not any(p4):
        path = "pointwise"
    else:
        path = "im2col"
    scratch = qk.qconv_workspace(path, c // group * k2[0] * k2[1], int(np.prod(y_shape[2:])),
                                 y_shape[-1], hw, k2, s2, p4, d2)
    inputs = [x_index, w_index] + ([bias] if bias is not None else [])
    ins = ctx.emit(Opcode.QCONV, inputs, [y_index], opts, node.name, scratch_size=scratch)
    ins.variant = qk.VARIANT_BEST


@lowers("QLinearConv")
def lower_qlinear_conv(ctx: LoweringContext, node: ir.Node) -> None:
    ins = [*node.inputs, None][:9]
    x, xs, xz, w, ws, wz, ys, yz, b = ins
    assert x is not None and w is not None
    xi = _q8_input(ctx, x, xs, xz, "input")
    wd = _const(ctx, w, "weight")
    assert wd is not None
    x_scale = float(np.asarray(_const(ctx, xs, "input scale")).reshape(-1)[0])
    w_scale = _const(ctx, ws, "weight scale")
    wi, scales = _int8_weight(ctx, wd, w_scale, _const(ctx, wz, "weight zero point"), 0,
                              w.name or "weight")
    bias = None
    if b is not None:
        bd = _const(ctx, b, "bias")
        assert bd is not None
        old = np.broadcast_to(np.asarray(w_scale, np.float64).reshape(-1), scales.shape)
        if not np.array_equal(old.astype(np.float32), scales):  # weights were requantized
            bd = np.rint(bd * (x_scale * old) / (x_scale * scales.astype(np.float64)))
        bias = ctx.constant(np.asarray(bd, np.int32), b.name or "bias")
    yi = _q_output(ctx, node.outputs[0], ys, yz)
    _emit_qconv(ctx, node, xi, x, wi, wd.shape, bias, yi)


@lowers("ConvInteger")
def lower_conv_integer(ctx: LoweringContext, node: ir.Node) -> None:
    ins = [*node.inputs, None, None][:4]
    x, w, xz, wz = ins
    assert x is not None and w is not None
    one = np.ones(1, np.float32)
    if ctx.dtype(x) not in Q8:
        raise Unsupported(f"input is {ctx.dtype(x)} (int8 or uint8)")
    z = _const(ctx, xz, "input zero point")
    if z is not None and z.size != 1:
        raise Unsupported("per-channel input zero point")
    xi = with_quant(ctx, ctx.tensor(x), _quant(one, z, -1))
    wd = _const(ctx, w, "weight")
    assert wd is not None
    wi, scales = _int8_weight(ctx, wd, None, _const(ctx, wz, "weight zero point"), 0,
                              w.name or "weight")
    if not np.all(scales == 1.0):
        raise Unsupported("weight minus its zero point does not fit int8")
    _emit_qconv(ctx, node, xi, x, wi, wd.shape, None, ctx.output(node.outputs[0]))


# ---- QLinearMatMul / MatMulInteger ------------------------------------------------------------


def _emit_qmatmul(ctx: LoweringContext, node: ir.Node, a_index: int, a: ir.Value, b: ir.Value,
                  b_scale: np.ndarray, b_zp: np.ndarray | None, y_index: int) -> None:
    a_shape, b_shape = ctx.shape(a), ctx.shape(b)
    if len(a_shape) < 2 or len(b_shape) < 2:
        raise Unsupported("1-D operands")
    bd = ctx.const(b)
    scratch = 0
    if bd is not None and len(b_shape) == 2:
        b_index, scales = _int8_weight(ctx, np.asarray(bd), b_scale, b_zp, 1, b.name or "B")
        if node.op_type == "MatMulInteger" and not np.all(scales == 1.0):
            raise Unsupported("B minus its zero point does not fit int8")
        m = int(np.prod(a_shape[:-1]))
        scratch = qk.qfc_workspace(m, b_shape[0], False)
    else:
        if ctx.dtype(b) not in Q8:
            raise Unsupported(f"B is {ctx.dtype(b)} (int8 or uint8)")
        b_index = with_quant(ctx, ctx.tensor(b), _quant(b_scale, b_zp, len(b_shape) - 1))
    ins = ctx.emit(Opcode.QMATMUL, [a_index, b_index], [y_index], name=node.name,
                   scratch_size=scratch)
    ins.variant = qk.VARIANT_BEST


@lowers("QLinearMatMul")
def lower_qlinear_matmul(ctx: LoweringContext, node: ir.Node) -> None:
    a, as_, az, b, bs, bz, ys, yz = [*node.inputs][:8]
    assert a is not None and b is not None
    ai = _q8_input(ctx, a, as_, az, "A")
    bscale = _const(ctx, bs, "B scale")
    assert bscale is not None
    yi = _q_output(ctx, node.outputs[0], ys, yz)
    _emit_qmatmul(ctx, node, ai, a, b, bscale, _const(ctx, bz, "B zero point"), yi)


@lowers("MatMulInteger")
def lower_matmul_integer(ctx: LoweringContext, node: ir.Node) -> None:
    a, b, az, bz = [*node.inputs, None, None][:4]
    assert a is not None and b is not None
    if ctx.dtype(a) not in Q8:
        raise Unsupported(f"A is {ctx.dtype(a)} (int8 or uint8)")
    z = _const(ctx, az, "A zero point")
    if z is not None and z.size != 1:
        raise Unsupported("per-row A zero point")
    ai = with_quant(ctx, ctx.tensor(a), _quant(np.ones(1, np.float32), z, -1))
    _emit_qmatmul(ctx, node, ai, a, b, np.ones(1, np.float32), _const(ctx, bz, "B zero point"),
                  ctx.output(node.outputs[0]))
