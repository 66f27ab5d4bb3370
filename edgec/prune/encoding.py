"""Sparse weight encodings in the .edgeb file (schemas/edgec.fbs SparseEncoding).

A weight is viewed as a matrix of rows = shape[0] (output channels or
features) and columns = the rest. The encoder tries CSR and 4x1 BLOCK_CSR,
with uint16 column indices where they fit and int32 otherwise, and keeps the
smallest; callers store the tensor dense unless that is smaller than dense.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgec.fb.SparseFormat import SparseFormat
from edgec.program import Tensor

BLOCK_SHAPES: tuple[tuple[int, int], ...] = ((1, 1), (4, 1))


@dataclass
class SparseWeight:
    """The stored form: values (nnz blocks, row-major inside a block), indptr over
    block rows (int32) and block-column indices (uint16 or int32)."""

    shape: tuple[int, ...]
    block: tuple[int, int]
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray

    @property
    def format(self) -> int:
        return SparseFormat.CSR if self.block == (1, 1) else SparseFormat.BLOCK_CSR

    @property
    def index_bytes(self) -> int:
        return int(self.indices.dtype.itemsize)

    @property
    def nnz(self) -> int:
        """Stored blocks."""
        return int(self.indices.size)

    @property
    def stored_bytes(self) -> int:
        return int(self.values.nbytes + self.indices.nbytes + self.indptr.nbytes)

    @property
    def dense_numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def dense(self) -> np.ndarray:
        """The dense value this encodes."""
        return decode(self)

    def label(self) -> str:
        kind = "csr" if self.block == (1, 1) else f"bcsr{self.block[0]}x{self.block[1]}"
        return f"{kind}/u{8 * self.index_bytes}" if self.index_bytes == 2 else \
            f"{kind}/i{8 * self.index_bytes}"


class SparseTensor(Tensor):
    """A constant stored sparse. `data` is the stored values (what the tensor's
    segment holds), `shape` the dense shape; the writer adds the indptr and
    indices segments and the SparseEncoding."""

    def __init__(self, name: str, sparse: SparseWeight) -> None:
        super().__init__(name=name, dtype=np.dtype(np.float32), shape=tuple(sparse.shape),
                         data=sparse.values)
        self.sparse = sparse

    @property
    def nbytes(self) -> int:
        """Bytes of the stored values (Tensor.size in the file)."""
        return int(self.sparse.values.nbytes)


def _matrix(weight: np.ndarray) -> np.ndarray:
    rows = weight.shape[0]
    return np.ascontiguousarray(weight, dtype=np.float32).reshape(rows, -1)


def encode(weight: np.ndarray, block: tuple[int, int] = (1, 1),
           index_dtype: np.dtype | None = None) -> SparseWeight:
    """Encodes the nonzeros of weight (rank >= 2) in CSR or BLOCK_CSR; a block
    is stored when any of its elements is nonzero. index_dtype defaults to
    uint16 where the block columns fit, else int32."""
    if weight.ndim < 2 or weight.size == 0:
        raise ValueError("a sparse weight needs rank >= 2 and elements")
    w = _matrix(weight)
    rows, cols = w.shape
    br, bc = block
    if rows % br or cols % bc:
        raise ValueError(f"block {block} does not tile a {rows}x{cols} matrix")
    blocks = w.reshape(rows // br, br, cols // bc, bc).transpose(0, 2, 1, 3)
    present = np.any(blocks != 0, axis=(2, 3))
    brow, bcol = np.nonzero(present)  # row-major: sorted by row, then column
    counts = np.bincount(brow, minlength=rows // br)
    indptr = np.zeros(rows // br + 1, np.int32)
    np.cumsum(counts, out=indptr[1:])
    if index_dtype is None:
        index_dtype = np.dtype(np.uint16) if cols // bc <= 1 << 16 else np.dtype(np.int32)
    values = np.ascontiguousarray(blocks[brow, bcol].reshape(-1), dtype=np.float32)
    return SparseWeight(tuple(int(d) for d in weight.shape), block, indptr,
                        bcol.astype(index_dtype), values)


def decode(sw: SparseWeight) -> np.ndarray:
    br, bc = sw.block
    rows = sw.shape[0]
    cols = sw.dense_numel // rows
    dense = np.zeros((rows // br, cols // bc, br, bc), np.float32)
    brow = np.repeat(np.arange(rows // br), np.diff(sw.indptr))
    dense[brow, sw.indices.astype(np.int64)] = sw.values.reshape(-1, br, bc)
    return dense.transpose(0, 2, 1, 3).reshape(sw.shape)


def best_encoding(weight: np.ndarray) -> SparseWeight:
    """The smallest of the encodings the kernels read (CSR, 4x1 blocks)."""
    rows, cols = weight.shape[0], weight.size // weight.shape[0]
    options = [encode(weight, b) for b in BLOCK_SHAPES if rows % b[0] == 0 and cols % b[1] == 0]
    return min(options, key=lambda s: (s.stored_bytes, s.block))
