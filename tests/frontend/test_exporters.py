"""Models as other tools export them (PyTorch's TorchScript and dynamo
exporters, scikit-learn through skl2onnx), with the dynamic dimensions and
shape arithmetic those exporters really emit: compiled for one binding of the
dynamic dims and checked against onnxruntime running the original model."""

import io
import warnings

import numpy as np
import onnx
import pytest
from support import assert_close, run_ort

import edgec

torch = pytest.importorskip("torch", reason="torch is a dev dependency (pip install -e .[dev])")


class SmallCNN(torch.nn.Module):
    """Conv+BN+ReLU, a strided conv with GELU, a spatial mean and a classifier
    over x.view(x.size(0), -1): the shape of the batch is read at run time."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.c2 = torch.nn.Conv2d(8, 16, 3, stride=2)
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        x = torch.relu(self.bn(self.c1(x)))
        x = torch.nn.functional.gelu(self.c2(x)).mean(dim=(2, 3))
        return torch.softmax(self.fc(x.view(x.size(0), -1)), -1)


class Encoder(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0)

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        return self.layer(x)


class Recurrent(torch.nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(12, 16, batch_first=True, num_layers=2,
                                           bidirectional=kind != "RNN")

    def forward(self, x: "torch.Tensor") -> "torch.Tensor":
        return self.rnn(x)[0]


CASES = {  # name: (module factory, input shape, dynamic axes {axis: name})
    "cnn": (SmallCNN, (2, 3, 20, 20), {0: "batch"}),
    "encoder": (Encoder, (2, 10, 32), {0: "batch", 1: "seq"}),
    "lstm": (lambda: Recurrent("LSTM"), (2, 7, 12), {0: "batch", 1: "time"}),
    "gru": (lambda: Recurrent("GRU"), (2, 7, 12), {0: "batch", 1: "time"}),
    "rnn": (lambda: Recurrent("RNN"), (3, 5, 12), {1: "time"}),
}


def _check(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> None:
    """Compiled for these inputs' shapes; every output element against
    onnxruntime on the original (dynamic) model, error scaled by the output's
    largest magnitude."""
    program = edgec.compile(model, input_shapes={k: list(v.shape) for k, v in feeds.items()})
    ours = edgec.Session(program).run(None, feeds)
    theirs = run_ort(model, feeds)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        scale = float(np.abs(b).max()) if b.size and np.issubdtype(b.dtype, np.floating) else 1.0
        assert_close(a, b, rtol=1e-4, atol=1e-4 * scale)


def _export(name: str, dynamo: bool) -> tuple[onnx.ModelProto, np.ndarray]:
    factory, shape, axes = CASES[name]
    torch.manual_seed(0)
    module = factory().eval()
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {axis: torch.export.Dim(label) for axis, label in axes.items()}
            program = torch.onnx.export(module, (torch.from_numpy(x),), dynamo=True,
                                        input_names=["x"], dynamic_shapes={"x": dims})
            return program.model_proto, x
        buf = io.BytesIO()
        torch.onnx.export(module, (torch.from_numpy(x),), buf, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": axes}, opset_version=17,
                          dynamo=False)
    return onnx.load_from_string(buf.getvalue()), x


def _assert_dynamic(model: onnx.ModelProto) -> None:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert any(d.dim_param or not d.HasField("dim_value") for d in dims), "no dynamic dim"


@pytest.mark.parametrize("name", sorted(CASES))
def test_torchscript_export(name: str) -> None:
    model, x = _export(name, dynamo=False)
    _assert_dynamic(model)
    _check(model, {"x": x})


@pytest.mark.parametrize("name", ["cnn", "encoder"])
def test_dynamo_export(name: str) -> None:
    model, x = _export(name, dynamo=True)
    _assert_dynamic(model)
    _check(model, {"x": x})


def _sklearn_models() -> dict[str, object]:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 10)).astype(np.float32)
    y = x @ rng.standard_normal(10) + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the MLP may stop before converging: fine here
        return {"mlp": MLPRegressor(hidden_layer_sizes=(32, 16), max_iter=200,
                                    random_state=0).fit(x, y),
                "pca": PCA(n_components=4).fit(x),
                "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(x)}


@pytest.mark.parametrize("name", ["mlp", "pca", "kmeans"])
def test_sklearn_export(name: str) -> None:
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is a dev dependency")
    estimator = _sklearn_models()[name]
    x = np.random.default_rng(5).standard_normal((16, 10)).astype(np.float32)
    model = skl2onnx.to_onnx(estimator, x[:1], target_opset=17)
    _assert_dynamic(model)
    input_name = model.graph.input[0].name
    _check(model, {input_name: x})


def test_sklearn_classical_ops_are_a_clear_error() -> None:
    """LogisticRegression exports to ai.onnx.ml ops and a ZipMap (a sequence of
    maps): left out on purpose, and said so, not an importer crash."""
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is a dev dependency")
    from sklearn.linear_model import LogisticRegression

    from edgec.unsupported import UnsupportedOnPurposeError

    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 4)).astype(np.float32)
    model = skl2onnx.to_onnx(LogisticRegression().fit(x, x[:, 0] > 0), x[:1], target_opset=17)
    with pytest.raises(UnsupportedOnPurposeError, match="unsupported on purpose"):
        edgec.compile(model, input_shapes={model.graph.input[0].name: [8, 4]})
