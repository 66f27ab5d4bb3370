"""Sparse encodings: encode/decode round trips, the choice of encoding, the
bytes in the file (SparseEncoding table and its segments), determinism."""

from __future__ import annotations

import numpy as np
import pytest
from prune_helpers import encode, gemm_program, random_sparse

from edgec.fb.Program import Program as FbProgram
from edgec.fb.SparseFormat import SparseFormat
from edgec.format.writer import serialize
from edgec.prune.encoding import best_encoding, decode


@pytest.mark.parametrize("shape", [(8, 3, 2, 2), (12, 70), (4, 1), (1, 5), (16, 8, 3, 3)])
@pytest.mark.parametrize("block", [(1, 1), (4, 1), (2, 2)])
@pytest.mark.parametrize("index", [np.uint16, np.int32])
def test_encode_decode_round_trip(shape: tuple[int, ...], block: tuple[int, int],
                                  index: type) -> None:
    rng = np.random.default_rng(0)
    rows, cols = shape[0], int(np.prod(shape[1:]))
    if rows % block[0] or cols % block[1]:
        with pytest.raises(ValueError):
            encode(np.ones(shape, np.float32), block)
        return
    w = random_sparse(rng, shape, 0.3, block=block) if rows >= 2 else \
        rng.standard_normal(shape).astype(np.float32)
    sw = encode(w, block, np.dtype(index))
    assert np.array_equal(decode(sw), w)
    assert sw.indptr[0] == 0 and sw.indptr[-1] == sw.nnz
    assert np.all(np.diff(sw.indptr) >= 0)
    assert sw.values.size == sw.nnz * block[0] * block[1]


def test_best_encoding_prefers_blocks_only_when_smaller() -> None:
    rng = np.random.default_rng(1)
    unstructured = random_sparse(rng, (64, 64), 0.2, empty_rows=0, dense_rows=0)
    assert best_encoding(unstructured).block == (1, 1)
    blocky = random_sparse(rng, (64, 64), 0.2, empty_rows=0, dense_rows=0, block=(4, 1))
    sw = best_encoding(blocky)
    assert sw.block == (4, 1) and sw.index_bytes == 2
    assert sw.stored_bytes < encode(blocky).stored_bytes < blocky.nbytes


def test_wide_matrices_use_int32_indices() -> None:
    w = np.zeros((2, 70000), np.float32)
    w[0, 69999] = 1.0
    sw = encode(w)
    assert sw.index_bytes == 4 and np.array_equal(decode(sw), w)


def test_file_carries_the_encoding_and_is_deterministic() -> None:
    rng = np.random.default_rng(2)
    w = random_sparse(rng, (20, 32), 0.25)
    sw = encode(w)
    data = serialize(gemm_program((1, 32), sw, None))
    assert data == serialize(gemm_program((1, 32), encode(w.copy()), None))
    root = FbProgram.GetRootAs(data, 0)
    base = root.SegmentBase()
    for i in range(root.TensorsLength()):
        t = root.Tensors(i)
        if t.Sparse() is None:
            continue
        enc = t.Sparse()
        assert enc.Format() == SparseFormat.CSR and enc.IndexBytes() == 2
        assert list(t.ShapeAsNumpy()) == [20, 32] and t.Size() == sw.values.nbytes

        def segment(k: int) -> bytes:
            s = root.Segments(k)
            return data[base + s.Offset():base + s.Offset() + s.Size()]

        assert segment(t.Segment()) == sw.values.tobytes()
        assert segment(enc.IndptrSegment()) == sw.indptr.tobytes()
        assert segment(enc.IndicesSegment()) == sw.indices.tobytes()
        break
    else:
        raise AssertionError("no sparse tensor in the file")
