"""The arena planner: no two simultaneously live buffers overlap, and the
arena is never smaller than the peak of live bytes."""

import numpy as np
import pytest

from edgec.fb.Opcode import Opcode
from edgec.plan import plan_arena
from edgec.program import Instruction, Program, Tensor


def _random_program(seed: int) -> Program:
    rng = np.random.default_rng(seed)
    prog = Program()
    f32 = np.dtype(np.float32)
    prog.inputs.append(prog.add_tensor(Tensor("in", f32, (int(rng.integers(1, 500)),))))
    live = list(prog.inputs)
    for step in range(int(rng.integers(5, 40))):
        srcs = [int(x) for x in rng.choice(live, size=min(2, len(live)), replace=False)]
        out = prog.add_tensor(Tensor(f"t{step}", f32, (int(rng.integers(1, 2000)),)))
        prog.instructions.append(Instruction(Opcode.ADD, srcs, [out]))
        live.append(out)
        if rng.random() < 0.3:  # an alias of the new tensor
            alias = prog.add_tensor(Tensor(f"a{step}", f32, prog.tensors[out].shape, alias_of=out))
            live.append(alias)
    prog.outputs.append(live[-1])
    return prog


def _intervals(prog: Program) -> dict[int, tuple[int, int]]:
    spans: dict[int, list[int]] = {}
    root = lambda i: prog.tensors[i].alias_of if prog.tensors[i].alias_of is not None else i  # noqa: E731
    for i in prog.inputs:
        spans.setdefault(root(i), [-1, -1])
    for step, ins in enumerate(prog.instructions):
        for i in ins.inputs + ins.outputs:
            s = spans.setdefault(root(i), [step, step])
            s[0], s[1] = min(s[0], step), max(s[1], step)
    for i in prog.outputs:
        spans[root(i)][1] = len(prog.instructions)
    return {k: (a, b) for k, (a, b) in spans.items()}


@pytest.mark.parametrize("seed", range(30))
def test_live_buffers_never_overlap(seed: int) -> None:
    prog = _random_program(seed)
    plan_arena(prog)
    spans = _intervals(prog)
    roots = sorted(spans)
    for i in roots:
        t = prog.tensors[i]
        assert t.offset % 64 == 0
        assert t.offset + t.nbytes <= prog.arena_size
        for j in roots:
            if j <= i:
                continue
            (a0, a1), (b0, b1) = spans[i], spans[j]
            if a0 <= b1 and b0 <= a1:
                u = prog.tensors[j]
                assert t.offset + t.nbytes <= u.offset or u.offset + u.nbytes <= t.offset
    for t in prog.tensors:
        if t.alias_of is not None:
            assert t.offset == prog.tensors[t.alias_of].offset
    assert prog.arena_lower_bound <= prog.arena_size
