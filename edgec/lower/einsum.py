"""Einsum, rewritten into ONNX ops edgec lowers: diagonals (a mask and a
ReduceSum), sums over letters only one operand has (ReduceSum), then one
MatMul between two float operands (batch, free and contracted letters each
grouped into one dimension by Transpose and Reshape), or else a broadcast
product of every operand and one ReduceSum; a last Transpose orders the
output's letters."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
from onnx import helper

from edgec.lower.context import LoweringContext, Unsupported, lowers
from edgec.lower.misc import _lower_body, _opset

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.float16))


def parse_equation(equation: str, ranks: list[int]) -> tuple[list[str], str]:
    """The letters of each operand and of the output, an ellipsis spelt out as
    letters of its own (right-aligned across operands, as broadcasting is)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ranks):
        raise Unsupported(f"equation {equation!r} has {len(terms)} operands, the node "
                          f"{len(ranks)}")
    n_ell = 0
    for term, rank in zip(terms, ranks, strict=True):
        if "..." in term:
            n_ell = max(n_ell, rank - len(term.replace("...", "")))
    ell = "".join(chr(0x391 + i) for i in range(n_ell))  # Greek capitals: not ASCII letters
    out_terms = []
    for term, rank in zip(terms, ranks, strict=True):
        if "..." in term:
            k = rank - len(term.replace("...", ""))
            term = term.replace("...", ell[n_ell - k:] if k else "")
        if len(term) != rank or not all(c.isalpha() for c in term):
            raise Unsupported(f"equation term {term!r} for a rank-{rank} operand")
        out_terms.append(term)
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit: the ellipsis, then the letters seen once, in alphabetical order
        letters = "".join(out_terms)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    if len(set(out)) != len(out) or any(c not in "".join(out_terms) for c in out):
        raise Unsupported(f"equation {equation!r}: output letters")
    return out_terms, out


class _Builder:
    def __init__(self, prefix: str) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.prefix = prefix

    def add(self, op: str, inputs: list[str], **attrs: object) -> str:
        name = f"{self.prefix}{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def const(self, array: np.ndarray) -> str:
        return self.add("Constant", [], value=onnx.numpy_helper.from_array(array))

    def ints(self, values: list[int]) -> str:
        return self.const(np.array(values, np.int64))


def _sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        for c, d in zip(term, shape, strict=True):
            if d != 1 and sizes.get(c, 1) not in (1, d):
                raise Unsupported(f"letter {c!r} has sizes {sizes[c]} and {d}")
            sizes[c] = max(sizes.get(c, 1), d)
    return sizes


def einsum_nodes(names: list[str], terms: list[str], shapes: list[tuple[int, ...]],
                 out: str, output: str, floating: bool, prefix: str) -> list[onnx.NodeProto]:
    """ONNX nodes computing the einsum of `names` into `output`."""
    b = _Builder(prefix)
    sizes = _sizes(terms, shapes)
    cur, cur_shapes = list(names), [list(s) for s in shapes]
    for i in range(len(cur)):
        term = terms[i]
        # diagonals: x * eye over the two axes, summed over the second
        while len(set(term)) != len(term):
            c = next(c for c in term if term.count(c) > 1)
            p, q = term.index(c), term.index(c, term.index(c) + 1)
            n = cur_shapes[i][p]
            mask_shape = [1] * len(term)
            mask_shape[p], mask_shape[q] = n, n
            mask = b.const(np.eye(n, dtype=np.float32).reshape(mask_shape))
            masked = b.add("Mul", [cur[i], b.add("CastLike", [mask, cur[i]])])
            cur[i] = b.add("ReduceSum", [masked, b.ints([q])], keepdims=0)
            term = term[:q] + term[q + 1:]
            del cur_shapes[i][q]
        # letters no other operand and not the output has: summed away first
        others = out + "".join(t for j, t in enumerate(terms) if j != i)
        alone = [k for k, c in enumerate(term) if c not in others]
        if alone:
            cur[i] = b.add("ReduceSum", [cur[i], b.ints(alone)], keepdims=0)
            term = "".join(c for k, c in enumerate(term) if k not in alone)
            cur_shapes[i] = [d for k, d in enumerate(cur_shapes[i]) if k not in alone]
        terms = [*terms[:i], term, *terms[i + 1:]]

    def transpose(name: str, term: str, order: str) -> str:
        if term == order:
            return name
        return b.add("Transpose", [name], perm=[term.index(c) for c in order])

    def reshape(name: str, shape: list[int]) -> str:
        return b.add("Reshape", [name, b.ints(shape)])

    def size(letters: str) -> int:
        return int(np.prod([sizes[c] for c in letters], dtype=np.int64))

    if len(cur) == 1:
        result = transpose(cur[0], terms[0], out)
    elif (len(cur) == 2 and floating
          and all(list(s) == [sizes[c] for c in t]
                  for s, t in zip(cur_shapes, terms, strict=True))):
        a, c2 = terms
        batch = "".join(c for c in out if c in a and c in c2)
        left = "".join(c for c in out if c in a and c not in c2)
        right = "".join(c for c in out if c in c2 and c not in a)
        contracted = "".join(c for c in a if c in c2 and c not in out)
        x = reshape(transpose(cur[0], a, batch + left + contracted),
                    [size(batch), size(left), size(contracted)])
        y = reshape(transpose(cur[1], c2, batch + contracted + right),
                    [size(batch), size(contracted), size(right)])
        product = b.add("MatMul", [x, y])
        result = transpose(reshape(product, [sizes[c] for c in batch + left + right]),
                           batch + left + right, out)
    else:  # a broadcast product of every operand over all the letters, then one sum
        letters = out + "".join(sorted(set("".join(terms)) - set(out)))
        product = ""
        for name, term, shape in zip(cur, terms, cur_shapes, strict=True):
            ordered = "".join(c for c in letters if c in term)
            shape_map = dict(zip(term, shape, strict=True))
            full = reshape(transpose(name, term, ordered),
                           [shape_map.get(c, 1) for c in letters])
            product = full if not product else b.add("Mul", [product, full])
        result = product
        if len(letters) > len(out):
            result = b.add("ReduceSum", [product, b.ints(list(range(len(out), len(letters))))],
                           keepdims=0)
    b.nodes.append(helper.make_node("Identity", [result], [output], name=f"{prefix}out"))
    return b.nodes


@lowers("Einsum")
def lower_einsum(ctx: LoweringContext, node: ir.Node) -> None:
    inputs = list(node.inputs)
    if not inputs or any(v is None for v in inputs):
        raise Unsupported("absent inputs")
    shapes = [ctx.shape(v) for v in inputs if v is not None]
    equation = node.attributes.get_string("equation", "")
    terms, out = parse_equation(equation, [len(s) for s in shapes])
    floating = ctx.dtype(node.outputs[0]) in _FLOATS
    names = [v.name for v in inputs if v is not None]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise Unsupported("an operand given twice")
    body = einsum_nodes(names, terms, shapes, out, node.outputs[0].name,
                        floating, f"{node.name or 'Einsum'}/")
    _lower_body(ctx, node, body, {"": max(_opset(node), 15)}, "rewrite")
