"""Zoo models build, pass the checker, run in onnxruntime and are byte-for-byte reproducible."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgec import zoo
from edgec.zoo import bert_encoder

# torchvision's parameter counts (BatchNorm running statistics are buffers, not parameters).
# The encoder matches MiniLM-L6-H384 without pooler (22,565,376) less the vocabulary cut.
EXPECTED_PARAMS: dict[str, int] = {
    "mobilenet_v2": 3_504_872,
    "resnet18": 11_689_512,
    "bert_encoder": 22_565_376 - (30522 - bert_encoder.VOCAB) * bert_encoder.HIDDEN,
}
EXPECTED_OUTPUT_SHAPES: dict[str, tuple[int, ...]] = {
    "mobilenet_v2": (1, 1000),
    "resnet18": (1, 1000),
    "bert_encoder": (1, 128, 384),
}
# The unfused patterns the compiler is meant to see and rewrite.
REQUIRED_OPS: dict[str, set[str]] = {
    "mobilenet_v2": {"Conv", "BatchNormalization", "Clip", "Add", "GlobalAveragePool", "Gemm"},
    "resnet18": {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add", "Gemm"},
    "bert_encoder": {"Gather", "LayerNormalization", "Softmax", "Erf", "Transpose", "Reshape"},
}
NP_DTYPES: dict[int, type[np.generic]] = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.INT64: np.int64,
}


def parameter_count(model: onnx.ModelProto) -> int:
    running_stats = {
        name
        for node in model.graph.node
        if node.op_type == "BatchNormalization"
        for name in node.input[3:]
    }
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.name not in running_stats)


@pytest.fixture(scope="module", params=zoo.names())
def built(request: pytest.FixtureRequest) -> tuple[str, onnx.ModelProto]:
    return request.param, zoo.build(request.param, seed=0)


def test_names_cover_models() -> None:
    assert set(zoo.names()) == set(EXPECTED_PARAMS) == set(zoo.MODELS)
    for name, model in zoo.MODELS.items():
        assert model.name == name
        assert model.description


def test_unknown_name_raises() -> None:
    with pytest.raises(KeyError, match="unknown zoo model"):
        zoo.build("alexnet")


def test_checker_and_opset(built: tuple[str, onnx.ModelProto]) -> None:
    name, model = built
    onnx.checker.check_model(model, full_check=True)
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert REQUIRED_OPS[name] <= {node.op_type for node in model.graph.node}
    assert all(node.name for node in model.graph.node)


def test_parameter_count(built: tuple[str, onnx.ModelProto]) -> None:
    name, model = built
    assert parameter_count(model) == EXPECTED_PARAMS[name]


def test_example_inputs_match_graph(built: tuple[str, onnx.ModelProto]) -> None:
    name, model = built
    inputs = zoo.MODELS[name].example_inputs(1)
    assert list(inputs) == [i.name for i in model.graph.input]
    for info in model.graph.input:
        tensor_type = info.type.tensor_type
        assert inputs[info.name].dtype == NP_DTYPES[tensor_type.elem_type]
        assert inputs[info.name].shape == tuple(d.dim_value for d in tensor_type.shape.dim)
    again = zoo.MODELS[name].example_inputs(1)
    for key, value in inputs.items():
        np.testing.assert_array_equal(value, again[key])


def test_encoder_inputs() -> None:
    inputs = zoo.MODELS["bert_encoder"].example_inputs(1)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert ids.min() >= 0 and ids.max() < bert_encoder.VOCAB
    padding = int((mask == 0).sum())
    assert 1 <= padding <= 8
    assert (mask[0, : 128 - padding] == 1).all() and (mask[0, 128 - padding :] == 0).all()


def test_runs_in_onnxruntime(built: tuple[str, onnx.ModelProto]) -> None:
    name, model = built
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, zoo.MODELS[name].example_inputs(1))
    assert output.shape == EXPECTED_OUTPUT_SHAPES[name]
    assert np.isfinite(output).all()
    assert 1e-3 < float(output.std()) < 1e3


def test_deterministic(built: tuple[str, onnx.ModelProto]) -> None:
    name, model = built
    assert zoo.build(name, seed=0).SerializeToString() == model.SerializeToString()
    assert zoo.build(name, seed=1).graph.initializer[0] != model.graph.initializer[0]
