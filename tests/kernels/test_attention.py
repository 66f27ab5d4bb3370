"""ATTENTION (runtime_c/src/kernels/ref/attention.c and the x86 jobs of
kernels/x86/attention_impl.h): every kernel family against float64 numpy on
seeded random shapes whose sizes hit the vector and register-tile tails (S and
D of 1, 7, 17, 33, 128), several batches and heads, K and V shared across
heads, folded Transposes, masks with -inf and large negative values, and 1 or
2 threads. Families are forced through Instruction.variant (kernel.h
EC_VARIANT_*); one the CPU lacks falls back (AVX-512 -> AVX2 -> ref), so the
tests run everywhere and compare what this machine can run."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from support import TensorProto, helper, make_model

import edgec
from edgec.compiler import compile_program
from edgec.fb.Opcode import Opcode
from edgec.format.writer import serialize
from edgec.lower.conv import VARIANT_AVX2, VARIANT_AVX512, VARIANT_BEST, VARIANT_REF

F = TensorProto.FLOAT
FAMILIES = {"ref": VARIANT_REF, "avx2": VARIANT_AVX2, "avx512": VARIANT_AVX512,
            "best": VARIANT_BEST}
SIZES = [1, 7, 17, 33, 128]


def attention_model(q_shape: tuple[int, ...], k_shape: tuple[int, ...],
                    v_shape: tuple[int, ...], mask_shape: tuple[int, ...] | None,
                    scale_op: str = "Div", k_transposed: bool = True) -> onnx.ModelProto:
    """MatMul(q, kt) -> Div/Mul(scalar) -> [Add(mask)] -> Softmax(-1) -> MatMul(., v).
    k_transposed=False: k is fed [.., Sk, Dk] and transposed in the graph."""
    inputs = {"q": (F, q_shape), "k": (F, k_shape), "v": (F, v_shape)}
    nodes = []
    kt = "k"
    if not k_transposed:
        perm = list(range(len(k_shape)))
        perm[-2:] = perm[-1], perm[-2]
        nodes.append(helper.make_node("Transpose", ["k"], ["kt"], perm=perm))
        kt = "kt"
    d = q_shape[-1]
    c = np.array(np.sqrt(d) if scale_op == "Div" else 1 / np.sqrt(d), np.float32)
    nodes += [helper.make_node("MatMul", ["q", kt], ["s"]),
              helper.make_node(scale_op, ["s", "c"], ["z"])]
    last = "z"
    if mask_shape is not None:
        inputs["mask"] = (F, mask_shape)
        nodes.append(helper.make_node("Add", ["z", "mask"], ["zm"]))
        last = "zm"
    nodes += [helper.make_node("Softmax", [last], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "v"], ["y"])]
    return make_model(nodes, inputs, {"y": F}, {"c": c})


def reference(feeds: dict[str, np.ndarray], scale: float, k_transposed: bool) -> np.ndarray:
    """float64 attention; a row whose scores are all -inf is NaN, as Softmax makes it."""
    q, k, v = (feeds[n].astype(np.float64) for n in ("q", "k", "v"))
    kt = k if k_transposed else np.swapaxes(k, -1, -2)
    s = (q @ kt) * scale
    if "mask" in feeds:
        s = s + feeds["mask"].astype(np.float64)
    with np.errstate(invalid="ignore"):
        e = np.exp(s - s.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
    return p @ v


def run_families(model: onnx.ModelProto, feeds: dict[str, np.ndarray],
                 threads: int) -> dict[str, np.ndarray]:
    program = compile_program(model).program
    att = [ins for ins in program.instructions if ins.opcode == Opcode.ATTENTION]
    assert len(att) == 1 and att[0].variant == VARIANT_BEST, "the pattern is fused"
    out = {}
    for name, family in FAMILIES.items():
        att[0].variant = family
        out[name] = edgec.Session(serialize(program), threads=threads).run(None, feeds)[0]
    return out


def check(model: onnx.ModelProto, feeds: dict[str, np.ndarray], scale: float,
          k_transposed: bool = True, threads: int = 1, rtol: float = 2e-6) -> None:
    """Each family within rtol of float64, the error measured against the
    output's scale (max |V|): softmax weights sum to 1, so that is what the
    float32 rounding of the products and sums is relative to."""
    ref = reference(feeds, scale, k_transposed)
    vmax = float(np.abs(feeds["v"]).max()) or 1.0
    for name, y in run_families(model, feeds, threads).items():
        assert y.shape == ref.shape and y.dtype == np.float32, name
        nan = np.isnan(ref)
        assert np.array_equal(np.isnan(y), nan), f"{name}: NaN rows differ"
        err = float(np.max(np.abs(y[~nan] - ref[~nan]), initial=0.0)) / vmax
        assert err <= rtol, f"{name}: max error {err:.3g} of max|V|"


def feeds_for(model: onnx.ModelProto, seed: int, spread: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for inp in model.graph.input:
        shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
        out[inp.name] = (rng.standard_normal(shape) * spread).astype(np.float32)
    return out


@pytest.mark.parametrize("sq", SIZES)
@pytest.mark.parametrize("sk", SIZES)
def test_sequence_lengths(sq: int, sk: int) -> None:
    """Sq and Sk across the tails, D 33, two heads, a padding mask."""
    d = 33
    model = attention_model((1, 2, sq, d), (1, 2, d, sk), (1, 2, sk, 17), (1, 1, 1, sk))
    feeds = feeds_for(model, 10 * sq + sk)
    feeds["mask"] = np.where(np.arange(sk) < max(sk - 3, 1), 0.0, -10000.0).astype(
        np.float32).reshape(1, 1, 1, sk)
    check(model, feeds, 1 / np.sqrt(d))


@pytest.mark.parametrize("dk", SIZES)
@pytest.mark.parametrize("dv", SIZES)
def test_head_dims(dk: int, dv: int) -> None:
    model = attention_model((2, 3, 17, dk), (2, 3, dk, 33), (2, 3, 33, dv), None, "Mul")
    check(model, feeds_for(model, 100 * dk + dv), 1 / np.sqrt(dk))


@pytest.mark.parametrize("seed", range(8))
def test_random_shapes(seed: int) -> None:
    """Random ranks (2 to 4), batch/head broadcasts of K and V (shared across
    heads), mask shapes, scale ops, K fed untransposed, 1 or 2 threads."""
    rng = np.random.default_rng(seed)
    b, h = int(rng.integers(1, 3)), int(rng.integers(1, 5))
    sq, sk, dk, dv = (int(rng.choice(SIZES)) for _ in range(4))
    rank = int(rng.integers(2, 5))
    lead = (b, h)[2 - (rank - 2):] if rank > 2 else ()
    kv_lead = tuple(1 if rng.random() < 0.4 else d for d in lead)
    k_transposed = bool(rng.random() < 0.5)
    k_shape = (*kv_lead, dk, sk) if k_transposed else (*kv_lead, sk, dk)
    masks = [None, (sk,), (sq, sk), (*lead, sq, sk), (*lead[:-1], 1, 1, sk)[-rank:]]
    mask_shape = masks[seed % len(masks)]
    scale_op = "Div" if seed % 2 else "Mul"
    model = attention_model((*lead, sq, dk), k_shape, (*kv_lead, sk, dv), mask_shape, scale_op,
                            k_transposed)
    feeds = feeds_for(model, seed, spread=float(rng.choice([0.3, 1.0, 3.0])))
    check(model, feeds, 1 / np.sqrt(dk), k_transposed, threads=1 + seed % 2)


@pytest.mark.parametrize("mask_value", [-np.inf, -1e9, -3.0e38, -10000.0, -90.0])
@pytest.mark.parametrize("threads", [1, 2])
def test_masks(mask_value: float, threads: int) -> None:
    """A causal mask and padding of mask_value; rows left with a single key;
    and with -inf, a row masked entirely (NaN, as Softmax makes it)."""
    sq = sk = 33
    model = attention_model((2, 3, sq, 16), (2, 3, 16, sk), (2, 3, sk, 16), (2, 1, sq, sk))
    feeds = feeds_for(model, 7)
    mask = np.zeros((2, 1, sq, sk), np.float32)
    mask[0, 0] = np.triu(np.full((sq, sk), mask_value, np.float32), 1)  # causal
    mask[1, 0, :, 20:] = mask_value                                      # padding
    mask[1, 0, 5] = mask_value
    mask[1, 0, 5, 3] = 0.0                                               # one key left
    if mask_value == -np.inf:
        mask[1, 0, 9] = -np.inf                                          # nothing left: NaN
    feeds["mask"] = mask
    check(model, feeds, 1 / 4, threads=threads)
    if mask_value == -np.inf:
        for y in run_families(model, feeds, threads).values():
            assert np.all(np.isnan(y[1, :, 9])) and not np.any(np.isnan(y[1, :, :9]))


def test_nan_and_large_scores() -> None:
    """A NaN in Q makes its row NaN; scores near FLT_MAX stay finite rows."""
    model = attention_model((1, 2, 17, 8), (1, 2, 8, 33), (1, 2, 33, 8), None, "Mul")
    feeds = feeds_for(model, 3)
    feeds["q"][0, 1, 4, 2] = np.nan
    feeds["q"][0, 0, 7] *= 1e4
    check(model, feeds, 1 / np.sqrt(8))


def test_bert_shape_two_threads() -> None:
    """BERT's [1, 12, 128, 32] heads with HuggingFace's layout: Q, K, V
    split by Reshape + Transpose (K's (0, 2, 3, 1)), the result merged back,
    all folded into the instruction."""
    s, heads, d = 128, 12, 32
    nodes = [helper.make_node("Reshape", [n, "split"], [f"{n}4"]) for n in ("q", "k", "v")]
    nodes += [helper.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
              helper.make_node("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
              helper.make_node("Transpose", ["v4"], ["vt"], perm=[0, 2, 1, 3]),
              helper.make_node("MatMul", ["qt", "kt"], ["s"]),
              helper.make_node("Div", ["s", "c"], ["z"]),
              helper.make_node("Add", ["z", "mask"], ["zm"]),
              helper.make_node("Softmax", ["zm"], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "vt"], ["ctx"]),
              helper.make_node("Transpose", ["ctx"], ["ct"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["ct", "merge"], ["y"])]
    inputs = {n: (F, (1, s, heads * d)) for n in ("q", "k", "v")} | {"mask": (F, (1, 1, 1, s))}
    model = make_model(nodes, inputs, {"y": F},
                       {"split": np.array([1, s, heads, d], np.int64),
                        "merge": np.array([1, s, heads * d], np.int64),
                        "c": np.array(np.sqrt(d), np.float32)})
    program = compile_program(model).program
    assert [ins.opcode for ins in program.instructions] == [Opcode.ATTENTION]
    feeds = feeds_for(model, 5)
    feeds["mask"][..., 120:] = -10000.0
    feeds["mask"][..., :120] = 0.0
    split = {n: feeds[n].reshape(1, s, heads, d) for n in ("q", "k", "v")}
    heads_first = {"q": split["q"].transpose(0, 2, 1, 3), "k": split["k"].transpose(0, 2, 3, 1),
                   "v": split["v"].transpose(0, 2, 1, 3), "mask": feeds["mask"]}
    ref = reference(heads_first, 1 / np.sqrt(d), True).transpose(0, 2, 1, 3).reshape(1, s, -1)
    for name, family in FAMILIES.items():
        program.instructions[0].variant = family
        y = edgec.Session(serialize(program), threads=2).run(None, feeds)[0]
        err = float(np.max(np.abs(y - ref))) / float(np.abs(feeds["v"]).max())
        assert err <= 2e-6, f"{name}: {err:.3g}"
