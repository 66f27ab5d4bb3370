"""Einsum (rewritten into Transpose/Reshape/MatMul/Mul/ReduceSum) against numpy's
einsum in float64 on seeded random non-zero inputs."""

from __future__ import annotations

import numpy as np
import pytest
from support import TensorProto, helper, make_model, run_edgec

import edgec
from edgec.errors import EdgecError
from edgec.lower.einsum import parse_equation

CASES = [
    ("bij,bjk->bik", [(3, 2, 4), (3, 4, 5)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->i", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (1, 4, 2)]),  # the ellipsis broadcasts
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("abc,cd->ad", [(2, 3, 4), (4, 5)]),  # b summed before the product
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("->", [()]),
]


@pytest.mark.parametrize(("equation", "shapes"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [TensorProto.FLOAT, TensorProto.DOUBLE])
def test_einsum_matches_numpy(equation: str, shapes: list[tuple[int, ...]],
                              dtype: int) -> None:
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node("Einsum", names, ["y"], equation=equation)
    model = make_model([node], {n: (dtype, s) for n, s in zip(names, shapes, strict=True)},
                       {"y": dtype}, opset=12)
    rng = np.random.default_rng(len(equation))
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    feeds = {n: (rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s)).astype(np_dtype)
             for n, s in zip(names, shapes, strict=True)}
    (ours,) = run_edgec(model, feeds)
    expected = np.einsum(equation, *[feeds[n].astype(np.float64) for n in names])
    assert ours.shape == expected.shape
    tol = 1e-5 if dtype == TensorProto.FLOAT else 1e-12
    np.testing.assert_allclose(ours.astype(np.float64), expected, rtol=tol, atol=tol)


def test_einsum_int64_is_refused_by_name() -> None:
    """Integers take the broadcast product, whose ReduceSum is float-only: a clear error."""
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="ij,jk->ik")
    model = make_model([node], {"a": (TensorProto.INT64, (2, 3)),
                                "b": (TensorProto.INT64, (3, 4))}, {"y": TensorProto.INT64},
                       opset=12)
    with pytest.raises(EdgecError, match=r"Einsum node.*ReduceSum"):
        edgec.compile(model)


def test_parse_equation_spells_out_the_ellipsis() -> None:
    terms, out = parse_equation("...ij,jk", [4, 2])
    assert [len(t) for t in terms] == [4, 2] and terms[1] == "jk"
    assert out == terms[0][:2] + "ik"
