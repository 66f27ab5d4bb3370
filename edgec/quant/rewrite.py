"""The quantization pass on the lowered Program.

Static int8: CONV, GEMM, MATMUL, ADD, MUL, AVERAGE_POOL, MAX_POOL, CONCAT and
unary activations become QCONV, QGEMM, QMATMUL, QADD, QMUL, QAVERAGE_POOL,
QMAX_POOL, QCONCAT and QLUT. Each float activation tensor that a quantized op
reads or writes gets an int8 twin (per-tensor asymmetric, the calibrated
range); QUANTIZE_LINEAR is emitted where a twin is needed and the float value
is what exists (program inputs, outputs of float ops), DEQUANTIZE_LINEAR
where a float op, or a program output, needs a value that only exists in int8.
Ops with no int8 kernel therefore run in float between a dequantize and a
quantize: the documented fallback. Reshape-like aliases follow their root.

Which ops: the heavy ones (CONV, GEMM, MATMUL) always; the cheap ones only
next to a quantized op (an input produced by one, or a consumer that is one),
so an isolated cheap op does not pay a quantize/dequantize pair. A RELU or CLIP
whose only input is a quantized cheap op's output is absorbed: the producer
writes with the activation's output quantization, whose saturation is the
clamp.

Dynamic int8: GEMM and MATMUL with a constant weight become DYNAMIC_QGEMM
(float in and out, activations quantized per row at run time).
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edgec.fb.Activation import Activation
from edgec.fb.GemmOptions import GemmOptionsT
from edgec.fb.Opcode import Opcode
from edgec.fb.UnaryOptions import UnaryOptionsT
from edgec.program import Instruction, Program, Quantization, Tensor
from edgec.quant import kernels as qk
from edgec.quant import luts
from edgec.quant.calibrate import clone
from edgec.quant.weights import (
    QuantizedWeight,
    conv_weight,
    gemm_b,
    quantize_per_channel,
    weight_tensor,
    with_scales,
)

F32 = np.dtype(np.float32)
HEAVY = {"conv", "gemm", "matmul_fc", "matmul"}
_ACT_OPCODE = {
    Activation.RELU: Opcode.RELU, Activation.CLIP: Opcode.CLIP,
    Activation.LEAKY_RELU: Opcode.LEAKY_RELU, Activation.SIGMOID: Opcode.SIGMOID,
    Activation.TANH: Opcode.TANH, Activation.HARD_SIGMOID: Opcode.HARD_SIGMOID,
    Activation.HARD_SWISH: Opcode.HARD_SWISH, Activation.GELU: Opcode.GELU,
}
_CLAMPS = (Activation.NONE, Activation.RELU, Activation.CLIP)


@dataclass(frozen=True)
class ActQ:
    """Per-tensor affine quantization of an activation."""

    scale: float
    zp: int
    dtype: np.dtype

    def quant(self) -> Quantization:
        return Quantization(scales=np.array([self.scale], np.float32),
                            zero_points=np.array([self.zp], np.int64), axis=-1)

    @property
    def qmin(self) -> int:
        return -128 if self.dtype == np.int8 else 0

    @property
    def qmax(self) -> int:
        return 127 if self.dtype == np.int8 else 255


def act_params(lo: float, hi: float, dtype: np.dtype) -> ActQ:
    """Asymmetric parameters over [lo, hi] with 0 exactly representable."""
    qmin, qmax = (-128, 127) if np.dtype(dtype) == np.int8 else (0, 255)
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / (qmax - qmin)
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0 / (qmax - qmin)
    scale = float(np.float32(scale))
    zp = int(np.clip(np.rint(qmin - lo / scale), qmin, qmax))
    return ActQ(scale, zp, np.dtype(dtype))


# ---- normalization ----


def normalize(program: Program, keep: tuple[int, ...] = _CLAMPS) -> int:
    """Splits what the int8 kernels cannot fuse out of CONV/GEMM: a residual
    addend (input 3) becomes an ADD, an activation other than those in keep
    becomes its own instruction. Same semantics; returns instructions split."""
    out: list[Instruction] = []
    split = 0
    for ins in program.instructions:
        if ins.opcode not in (Opcode.CONV, Opcode.GEMM) or ins.options is None:
            out.append(ins)
            continue
        residual = ins.inputs[3] if len(ins.inputs) == 4 else -1
        act = ins.options.activation
        split_act = act not in keep or (residual >= 0 and act != Activation.NONE)
        if residual < 0 and not split_act:
            out.append(ins)
            continue
        split += 1
        y = ins.outputs[0]
        yt = program.tensors[y]
        opts = copy.copy(ins.options)
        ins.options = opts
        cur = program.add_tensor(Tensor(name=f"{yt.name}/pre", dtype=yt.dtype, shape=yt.shape))
        ins.outputs = [cur]
        if residual >= 0:
            ins.inputs = [i for i in ins.inputs[:3]]
            while ins.inputs and ins.inputs[-1] < 0:
                ins.inputs.pop()
        out.append(ins)
        if residual >= 0:
            nxt = program.add_tensor(Tensor(name=f"{yt.name}/sum", dtype=yt.dtype,
                                            shape=yt.shape)) if split_act else y
            out.append(Instruction(Opcode.ADD, [cur, residual], [nxt], name=f"{ins.name}/add"))
            cur = nxt
        if split_act:
            uopts = None
            if act != Activation.RELU:
                uopts = UnaryOptionsT(alpha=opts.actAlpha, beta=opts.actBeta, approximate=False)
            opts.activation = Activation.NONE
            out.append(Instruction(_ACT_OPCODE[act], [cur], [y], uopts,
                                   name=f"{ins.name}/act"))
    program.instructions = out
    return split


# ---- which instructions ----


def _const(program: Program, i: int) -> np.ndarray | None:
    return program.tensors[i].data if i >= 0 else None


def _is_f32(program: Program, i: int) -> bool:
    return i >= 0 and program.tensors[i].dtype == F32


def _bias_vector(program: Program, ins: Instruction, n: int) -> np.ndarray | bool | None:
    """GEMM's C as an (N,) float vector (beta applied), None when absent, False when it
    does not broadcast like a bias."""
    if len(ins.inputs) < 3 or ins.inputs[2] < 0:
        return None
    c = _const(program, ins.inputs[2])
    if c is None or c.size not in (1, n) or (c.ndim == 2 and c.shape[0] != 1) or c.ndim > 2:
        return False
    return (np.broadcast_to(c.reshape(-1), (n,)) * np.float32(ins.options.beta)).astype(F32)


def kind_of(program: Program, ins: Instruction) -> str | None:
    """What int8 form an instruction has (None: stays float)."""
    op, t = ins.opcode, program.tensors
    ins_ok = all(i < 0 or t[i].dtype == F32 for i in ins.inputs) and \
        all(t[o].dtype == F32 for o in ins.outputs)
    if not ins_ok or not ins.inputs:
        return None
    if op == Opcode.CONV:
        if len(ins.inputs) > 3 or _const(program, ins.inputs[1]) is None:
            return None
        if len(ins.inputs) == 3 and ins.inputs[2] >= 0 and _const(program, ins.inputs[2]) is None:
            return None
        if len(t[ins.inputs[0]].shape) not in (3, 4) or ins.options.activation not in _CLAMPS:
            return None
        return "conv"
    if op == Opcode.GEMM:
        if len(ins.inputs) > 3 or _const(program, ins.inputs[1]) is None:
            return None
        n = t[ins.outputs[0]].shape[-1]
        if _bias_vector(program, ins, n) is False or ins.options.activation not in _CLAMPS:
            return None
        return "gemm"
    if op == Opcode.MATMUL:
        a, b = t[ins.inputs[0]], t[ins.inputs[1]]
        if b.is_constant and len(b.shape) in (2, 3) and len(a.shape) >= 2 and (
                len(b.shape) == 2 or ins.variant & 0x100):
            return "matmul_fc"
        if not a.is_constant and not b.is_constant and len(a.shape) >= 2 and len(b.shape) >= 2:
            return "matmul"
        return None
    if op in (Opcode.ADD, Opcode.MUL) and len(ins.inputs) == 2:
        return "binary"
    if op in (Opcode.AVERAGE_POOL, Opcode.MAX_POOL) and len(t[ins.inputs[0]].shape) in (3, 4):
        return "pool"
    if op == Opcode.CONCAT and all(i >= 0 for i in ins.inputs):
        return "concat"
    if op in luts.FUNCTIONS and len(ins.inputs) == 1 and not t[ins.inputs[0]].is_constant:
        return "lut"
    return None


def dynamic_kind(program: Program, ins: Instruction) -> bool:
    t = program.tensors
    if ins.opcode == Opcode.GEMM:
        return (len(ins.inputs) <= 3 and _const(program, ins.inputs[1]) is not None
                and not ins.options.transA
                and _bias_vector(program, ins, t[ins.outputs[0]].shape[-1]) is not False
                and _is_f32(program, ins.inputs[0]))
    if ins.opcode == Opcode.MATMUL:
        b = t[ins.inputs[1]]
        return (b.is_constant and _is_f32(program, ins.inputs[0]) and len(t[ins.inputs[0]].shape)
                >= 1 and (len(b.shape) == 2 or bool(ins.variant & 0x100)))
    return False


def root(program: Program, i: int) -> int:
    a = program.tensors[i].alias_of
    return i if a is None else a


@dataclass
class Plan:
    act: dict[int, ActQ]  # float root tensor -> parameters
    quantized: set[int]  # instruction positions
    absorbed: dict[int, int] = field(default_factory=dict)  # producer pos -> activation pos
    weights: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)  # QDQ scales
    weight_qmax: int = 127
    kinds: dict[int, str] = field(default_factory=dict)
    dtype: np.dtype = field(default_factory=lambda: np.dtype(np.uint8))


def activation_inputs(program: Program, ins: Instruction) -> list[int]:
    return [i for i in ins.inputs if i >= 0 and not program.tensors[i].is_constant
            and program.tensors[i].dtype == F32]


def choose(program: Program, act: dict[int, ActQ], exclude: set[int],
           strict: bool = False, dtype: np.dtype | None = None) -> Plan:
    """The instructions to quantize. strict (imported QDQ models): exactly those
    whose activations all have parameters."""
    kinds: dict[int, str] = {}
    for pos, ins in enumerate(program.instructions):
        k = kind_of(program, ins)
        if k is None or pos in exclude:
            continue
        tensors = [*activation_inputs(program, ins), *ins.outputs]
        if all(root(program, i) in act for i in tensors):
            kinds[pos] = k
    chosen = {p for p, k in kinds.items() if k in HEAVY or strict}
    if not strict:
        producer = {root(program, o): p for p, ins in enumerate(program.instructions)
                    for o in ins.outputs}
        consumers: dict[int, list[int]] = {}
        for p, ins in enumerate(program.instructions):
            for i in ins.inputs:
                if i >= 0:
                    consumers.setdefault(root(program, i), []).append(p)
        changed = True
        while changed:
            changed = False
            for p in kinds:
                if p in chosen:
                    continue
                ins = program.instructions[p]
                fed = any(producer.get(root(program, i)) in chosen
                          for i in activation_inputs(program, ins))
                feeds = any(c in chosen for o in ins.outputs
                            for c in consumers.get(root(program, o), []))
                if fed or feeds:
                    chosen.add(p)
                    changed = True
    plan = Plan(act=dict(act), quantized=chosen, kinds={p: kinds[p] for p in chosen},
                dtype=np.dtype(dtype if dtype is not None else np.uint8))
    # MAX_POOL keeps its input's quantization: a pure copy of bytes
    for p in sorted(chosen):
        ins = program.instructions[p]
        if ins.opcode == Opcode.MAX_POOL:
            plan.act[root(program, ins.outputs[0])] = plan.act[root(program, ins.inputs[0])]
    _absorb_clamps(program, plan)
    return plan


def _absorb_clamps(program: Program, plan: Plan) -> None:
    uses: Counter[int] = Counter(root(program, i) for ins in program.instructions
                                 for i in ins.inputs if i >= 0)
    uses.update(root(program, i) for i in program.outputs)
    producer = {root(program, o): p for p, ins in enumerate(program.instructions)
                for o in ins.outputs}
    taken: set[int] = set()
    for p in sorted(plan.quantized):
        ins = program.instructions[p]
        if plan.kinds[p] != "lut" or ins.opcode not in (Opcode.RELU, Opcode.CLIP):
            continue
        src = root(program, ins.inputs[0])
        prod = producer.get(src)
        if prod is None or prod not in plan.quantized or uses[src] != 1 or prod in taken:
            continue
        if plan.kinds[prod] not in ("binary", "pool", "concat"):
            continue
        if program.instructions[prod].opcode == Opcode.MAX_POOL:
            continue
        out = plan.act[root(program, ins.outputs[0])]
        lo_real = out.scale * (out.qmin - out.zp)
        hi_real = out.scale * (out.qmax - out.zp)
        if ins.opcode == Opcode.RELU:
            ok = out.zp == out.qmin
        else:
            a = ins.options.alpha if ins.options is not None else -np.inf
            b = ins.options.beta if ins.options is not None else np.inf
            ok = lo_real >= a - 0.5 * out.scale and hi_real <= b + 0.5 * out.scale
        if ok:
            plan.absorbed[prod] = p
            taken.add(prod)


# ---- rewriting ----


def _conv_geometry(opts: object, rank: int) -> tuple[tuple[int, int], tuple[int, int, int, int],
                                                      tuple[int, int]]:
    sp = rank - 2
    strides = list(opts.strides or [1] * sp)
    dil = list(opts.dilations or [1] * sp)
    pads = list(opts.pads or [0] * (2 * sp))
    if sp == 1:
        return (1, strides[0]), (0, pads[0], 0, pads[1]), (1, dil[0])
    return (strides[0], strides[1]), (pads[0], pads[1], pads[2], pads[3]), (dil[0], dil[1])


class Rewriter:
    def __init__(self, program: Program, plan: Plan) -> None:
        self.src = program
        self.p = clone(program)
        self.plan = plan
        self.twin: dict[int, int] = {}  # float tensor (root or alias) -> int8 tensor
        self.pending: set[int] = set()  # float roots whose value exists only in int8
        self.out: list[Instruction] = []
        self.renamed: dict[int, int] = {}  # float root redirected (absorbed activations)

    # tensors
    def root(self, i: int) -> int:
        return root(self.p, i)

    def _new(self, t: Tensor) -> int:
        return self.p.add_tensor(t)

    def q_tensor(self, float_index: int, params: ActQ, suffix: str = "q") -> int:
        t = self.p.tensors[float_index]
        return self._new(Tensor(name=f"{t.name}/{suffix}", dtype=params.dtype, shape=t.shape,
                                quant=params.quant()))

    def get_twin(self, i: int) -> int:
        r = self.root(i)
        if r not in self.twin:
            params = self.plan.act[r]
            q = self.q_tensor(r, params)
            self.out.append(Instruction(Opcode.QUANTIZE_LINEAR, [r], [q],
                                        name=f"{self.p.tensors[r].name}/quantize"))
            self.twin[r] = q
        if i == r:
            return self.twin[r]
        if i not in self.twin:
            base = self.p.tensors[self.twin[r]]
            t = self.p.tensors[i]
            self.twin[i] = self._new(Tensor(name=f"{t.name}/q", dtype=base.dtype, shape=t.shape,
                                            alias_of=self.twin[r], quant=base.quant))
        return self.twin[i]

    def need_float(self, i: int) -> None:
        r = self.root(i)
        if r in self.pending:
            self.out.append(Instruction(Opcode.DEQUANTIZE_LINEAR, [self.twin[r]], [r],
                                        name=f"{self.p.tensors[r].name}/dequantize"))
            self.pending.discard(r)

    def new_output(self, float_index: int) -> int:
        r = self.root(float_index)
        q = self.q_tensor(r, self.plan.act[r])
        self.twin[r] = q
        self.pending.add(r)
        return q

    def operand(self, i: int) -> int:
        """int8 form of an input: the twin of an activation, or a quantized constant."""
        t = self.p.tensors[i]
        if t.is_constant:
            assert t.data is not None
            lo, hi = float(np.min(t.data, initial=0)), float(np.max(t.data, initial=0))
            params = act_params(lo, hi, self._act_dtype())
            q = np.clip(np.rint(t.data / np.float32(params.scale)) + params.zp, params.qmin,
                        params.qmax).astype(params.dtype)
            return self._new(Tensor(name=f"{t.name}/q", dtype=params.dtype, shape=t.shape,
                                    data=q, quant=params.quant()))
        return self.get_twin(i)

    def _act_dtype(self) -> np.dtype:
        return self.plan.dtype

    def weight(self, name: str, w: np.ndarray, axis: int) -> QuantizedWeight:
        if name in self.plan.weights:
            scales, qaxis = self.plan.weights[name]
            return with_scales(w, scales, axis if np.size(scales) > 1 else qaxis)
        return quantize_per_channel(w, axis, self.plan.weight_qmax)

    def int32_bias(self, name: str, bias: np.ndarray, in_scale: float,
                   w_scales: np.ndarray) -> int:
        scale = np.float64(np.float32(in_scale)) * w_scales.astype(np.float64)
        q = np.clip(np.rint(bias.astype(np.float64) / scale), -(2 ** 31), 2 ** 31 - 1)
        return self._new(Tensor(name=f"{name}/q32", dtype=np.dtype(np.int32), shape=bias.shape,
                                data=q.astype(np.int32)))

    # instructions
    def run(self) -> Program:
        for pos in range(len(self.src.instructions)):
            mine = self.p.instructions[pos]
            if pos in self.plan.absorbed.values():
                continue
            if pos in self.plan.quantized:
                self.emit_quantized(pos, mine)
            else:
                for i in mine.inputs:
                    if i >= 0:
                        self.need_float(i)
                self.out.append(mine)
        for i in self.p.outputs:
            self.need_float(i)
        self.p.instructions = self.out
        return self.p

    def emit_quantized(self, pos: int, ins: Instruction) -> None:
        kind = self.plan.kinds[pos]
        out_float = ins.outputs[0]
        if pos in self.plan.absorbed:
            out_float = self.p.instructions[self.plan.absorbed[pos]].outputs[0]
        getattr(self, f"_emit_{kind}")(ins, out_float)

    def _emit(self, opcode: int, inputs: list[int], outputs: list[int], options: object,
              name: str, scratch: int = 0, variant: int = qk.VARIANT_BEST) -> None:
        self.out.append(Instruction(opcode, inputs, outputs, options, name=name, variant=variant,
                                    scratch_size=scratch))

    def _emit_conv(self, ins: Instruction, out_float: int) -> None:
        p = self.p
        x = self.get_twin(ins.inputs[0])
        xq = self.plan.act[self.root(ins.inputs[0])]
        wf = conv_weight(p, ins)
        wname = p.tensors[ins.inputs[1]].name
        for suffix in ("/packed", "/winograd", "/winograd_raw"):
            wname = wname.removesuffix(suffix)
        qw = self.weight(wname, wf, 0)
        inputs = [x, self._new(weight_tensor(f"{wname}/q8", qw))]
        if len(ins.inputs) >= 3 and ins.inputs[2] >= 0:
            b = p.tensors[ins.inputs[2]]
            assert b.data is not None
            scales = np.broadcast_to(qw.scales, (wf.shape[0],))
            inputs.append(self.int32_bias(b.name, b.data, xq.scale, scales))
        y = self.new_output(out_float)
        xs, ys = p.tensors[ins.inputs[0]].shape, p.tensors[out_float].shape
        opts = copy.copy(ins.options)
        group = int(opts.group)
        strides, pads, dil = _conv_geometry(opts, len(xs))
        kernel = (wf.shape[2], wf.shape[3]) if wf.ndim == 4 else (1, wf.shape[2])
        in_hw = (xs[2], xs[3]) if len(xs) == 4 else (1, xs[2])
        c, m = xs[1], wf.shape[0]
        if group == c == m:
            path = "depthwise"
        elif kernel == (1, 1) and strides == (1, 1) and not any(pads):
            path = "pointwise"
        else:
            path = "im2col"
        k = c // group * kernel[0] * kernel[1]
        scratch = qk.qconv_workspace(path, k, int(np.prod(ys[2:])), ys[-1], in_hw, kernel,
                                     strides, pads, dil)
        self._emit(Opcode.QCONV, inputs, [y], opts, ins.name, scratch)

    def _fc_weight(self, ins: Instruction) -> tuple[str, np.ndarray]:
        t = self.p.tensors[ins.inputs[1]]
        b = gemm_b(self.p, ins)
        if ins.opcode == Opcode.GEMM:
            b = (b * np.float32(ins.options.alpha)).astype(F32)
        return t.name.removesuffix("/packed"), b

    def _emit_gemm(self, ins: Instruction, out_float: int) -> None:
        p = self.p
        a = self.get_twin(ins.inputs[0])
        aq = self.plan.act[self.root(ins.inputs[0])]
        wname, b_kn = self._fc_weight(ins)
        qw = self.weight(wname, np.ascontiguousarray(b_kn.T), 0)  # (N, K), per row n
        n, k = qw.q.shape
        inputs = [a, self._new(weight_tensor(f"{wname}/q8", qw))]
        bias = _bias_vector(p, ins, n)
        if isinstance(bias, np.ndarray):
            inputs.append(self.int32_bias(f"{ins.name}/bias", bias, aq.scale,
                                          np.broadcast_to(qw.scales, (n,))))
        y = self.new_output(out_float)
        o = ins.options
        opts = GemmOptionsT(transA=o.transA, transB=True, alpha=1.0, beta=1.0,
                            activation=o.activation, actAlpha=o.actAlpha, actBeta=o.actBeta)
        m = p.tensors[out_float].shape[0]
        self._emit(Opcode.QGEMM, inputs, [y], opts, ins.name, qk.qfc_workspace(m, k, False))

    def _emit_matmul_fc(self, ins: Instruction, out_float: int) -> None:
        p = self.p
        a = self.get_twin(ins.inputs[0])
        wname, b_kn = self._fc_weight(ins)
        qw = self.weight(wname, b_kn, 1)  # (K, N), per column
        k = b_kn.shape[0]
        y = self.new_output(out_float)
        m = int(np.prod(p.tensors[out_float].shape[:-1]))
        self._emit(Opcode.QMATMUL, [a, self._new(weight_tensor(f"{wname}/q8", qw))], [y], None,
                   ins.name, qk.qfc_workspace(m, k, False))

    def _emit_matmul(self, ins: Instruction, out_float: int) -> None:
        a, b = self.get_twin(ins.inputs[0]), self.get_twin(ins.inputs[1])
        y = self.new_output(out_float)
        self._emit(Opcode.QMATMUL, [a, b], [y], None, ins.name)

    def _emit_binary(self, ins: Instruction, out_float: int) -> None:
        ops = [self.operand(i) for i in ins.inputs]
        y = self.new_output(out_float)
        opcode = Opcode.QADD if ins.opcode == Opcode.ADD else Opcode.QMUL
        self._emit(opcode, ops, [y], None, ins.name, variant=0)

    def _emit_pool(self, ins: Instruction, out_float: int) -> None:
        x = self.get_twin(ins.inputs[0])
        y = self.new_output(out_float)
        opcode = Opcode.QMAX_POOL if ins.opcode == Opcode.MAX_POOL else Opcode.QAVERAGE_POOL
        self._emit(opcode, [x], [y], ins.options, ins.name, variant=0)

    def _emit_concat(self, ins: Instruction, out_float: int) -> None:
        ops = [self.operand(i) for i in ins.inputs]
        y = self.new_output(out_float)
        self._emit(Opcode.QCONCAT, ops, [y], ins.options, ins.name, variant=0)

    def _emit_lut(self, ins: Instruction, out_float: int) -> None:
        x = self.get_twin(ins.inputs[0])
        xq = self.plan.act[self.root(ins.inputs[0])]
        yq = self.plan.act[self.root(out_float)]
        table = luts.table(ins.opcode, ins.options, xq.dtype, xq.scale, xq.zp, yq.dtype,
                           yq.scale, yq.zp)
        t = self._new(Tensor(name=f"{ins.name}/lut", dtype=yq.dtype, shape=(256,), data=table))
        y = self.new_output(out_float)
        self._emit(Opcode.QLUT, [x, t], [y], None, ins.name, variant=0)


def rewrite_static(program: Program, plan: Plan) -> Program:
    return Rewriter(program, plan).run()


def rewrite_dynamic(program: Program, weight_qmax: int = 127,
                    exclude: set[int] | None = None) -> tuple[Program, int]:
    """GEMM/MATMUL with constant weights -> DYNAMIC_QGEMM. Returns (program, count)."""
    p = clone(program)
    out: list[Instruction] = []
    count = 0
    for pos, ins in enumerate(p.instructions):
        if (exclude and pos in exclude) or not dynamic_kind(p, ins):
            out.append(ins)
            continue
        wt = p.tensors[ins.inputs[1]]
        b_kn = gemm_b(p, ins)
        if ins.opcode == Opcode.GEMM:
            b_kn = (b_kn * np.float32(ins.options.alpha)).astype(F32)
        qw = quantize_per_channel(np.ascontiguousarray(b_kn.T), 0, weight_qmax)
        n, k = qw.q.shape
        name = wt.name.removesuffix("/packed")
        inputs = [ins.inputs[0], p.add_tensor(weight_tensor(f"{name}/q8", qw))]
        act, alpha, beta = Activation.NONE, 0.0, 0.0
        if ins.opcode == Opcode.GEMM:
            bias = _bias_vector(p, ins, n)
            if isinstance(bias, np.ndarray):
                inputs.append(p.add_tensor(Tensor(name=f"{ins.name}/bias", dtype=F32,
                                                  shape=(n,), data=bias)))
            act, alpha, beta = (ins.options.activation, ins.options.actAlpha,
                                ins.options.actBeta)
        opts = GemmOptionsT(transB=True, activation=act, actAlpha=alpha, actBeta=beta)
        m = int(np.prod(p.tensors[ins.inputs[0]].shape[:-1]))
        out.append(Instruction(Opcode.DYNAMIC_QGEMM, inputs, list(ins.outputs), opts,
                               name=ins.name, variant=qk.VARIANT_BEST,
                               scratch_size=qk.qfc_workspace(m, k, True)))
        count += 1
    p.instructions = out
    return p, count
