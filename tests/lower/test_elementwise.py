import numpy as np
import pytest
from support import TensorProto, check_against_ort, helper, make_model

F, I64, I32, B = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL

UNARY = ["Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Relu", "Sigmoid", "Tanh",
         "HardSwish", "Erf", "Softplus", "Floor", "Ceil", "Round", "Sin", "Cos", "Sign",
         "Softsign", "Mish", "Elu", "Selu", "HardSigmoid", "LeakyRelu", "Gelu"]


@pytest.mark.parametrize("op", UNARY)
def test_unary(op: str) -> None:
    attrs = {"alpha": 0.3} if op in ("LeakyRelu", "Elu") else {}
    node = helper.make_node(op, ["x"], ["y"], **attrs)
    opset = 20 if op == "Gelu" else 18
    model = make_model([node], {"x": (F, (2, 3, 17))}, {"y": F}, opset=opset)
    check_against_ort(model, seed=hash(op) % 1000)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_modes(approximate: str) -> None:
    node = helper.make_node("Gelu", ["x"], ["y"], approximate=approximate)
    check_against_ort(make_model([node], {"x": (F, (5, 33))}, {"y": F}, opset=20))


def test_clip_with_constant_bounds() -> None:
    node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    model = make_model([node], {"x": (F, (4, 9))}, {"y": F},
                       {"lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    check_against_ort(model)


SHAPES = [((2, 3, 4), (2, 3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (1, 3, 1)), ((5,), ()),
          ((1,), (3, 7)), ((2, 3, 1, 5), (3, 4, 1))]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Min", "Max"])
@pytest.mark.parametrize("dtype", [F, I32, I64])
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_broadcast(op: str, dtype: int, shapes: tuple) -> None:
    a, b = shapes
    node = helper.make_node(op, ["a", "b"], ["y"])
    model = make_model([node], {"a": (dtype, a), "b": (dtype, b)}, {"y": dtype})
    rng = np.random.default_rng(3)
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    feeds = {"a": np.asarray(rng.integers(-9, 9, a), np_dtype),
             "b": np.asarray(rng.integers(1, 9, b), np_dtype)}
    if dtype == F:
        feeds = {k: np.asarray(v + rng.random(v.shape), np.float32) for k, v in feeds.items()}
    check_against_ort(model, feeds=feeds)


@pytest.mark.parametrize("op", ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"])
def test_compare(op: str) -> None:
    node = helper.make_node(op, ["a", "b"], ["y"])
    model = make_model([node], {"a": (I64, (3, 4)), "b": (I64, (4,))}, {"y": B})
    check_against_ort(model)


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op: str) -> None:
    node = helper.make_node(op, ["a", "b"], ["y"])
    check_against_ort(make_model([node], {"a": (B, (3, 4)), "b": (B, (3, 1))}, {"y": B}))


def test_pow_with_int_exponent_constant() -> None:
    node = helper.make_node("Pow", ["a", "e"], ["y"])
    model = make_model([node], {"a": (F, (3, 4))}, {"y": F}, {"e": np.array(3, np.int64)})
    check_against_ort(model)


@pytest.mark.parametrize("fmod", [0, 1])
def test_int_mod(fmod: int) -> None:
    node = helper.make_node("Mod", ["a", "b"], ["y"], fmod=fmod)
    model = make_model([node], {"a": (I64, (20,)), "b": (I64, (20,))}, {"y": I64})
    rng = np.random.default_rng(0)
    b = rng.integers(1, 7, 20) * rng.choice([-1, 1], 20)
    check_against_ort(model, feeds={"a": rng.integers(-50, 50, 20), "b": b})


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
def test_variadic(op: str) -> None:
    node = helper.make_node(op, ["a", "b", "c"], ["y"])
    model = make_model([node], {"a": (F, (3, 4)), "b": (F, (4,)), "c": (F, (1, 4))}, {"y": F})
    check_against_ort(model)


def test_large_elementwise_multithreaded() -> None:
    node = helper.make_node("Add", ["a", "b"], ["y"])
    model = make_model([node], {"a": (F, (4, 64, 257)), "b": (F, (64, 1))}, {"y": F})
    check_against_ort(model, threads=2)
