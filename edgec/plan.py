"""Arena planning: liveness analysis and offset assignment.

Every arena tensor (after merging aliases) is a buffer live over an
interval of instruction indices. (Kernel workspaces are per thread and
allocated by the session, outside the arena.) Buffers are
placed greedily, largest first, at the lowest 64-byte aligned offset that
does not collide with an already placed buffer whose interval overlaps
(TFLite's "greedy by size"). The lower bound reported beside the arena
size is the peak of simultaneously live bytes, which no placement can beat.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgec.fb.ControlOptions import ControlOptionsT
from edgec.program import Instruction, Program

ALIGN = 64


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class _Buffer:
    size: int
    first: int
    last: int
    tensor: int
    offset: int = 0


def _buffers(program: Program) -> list[_Buffer]:
    tensors = program.tensors

    def root(i: int) -> int:
        alias = tensors[i].alias_of
        return i if alias is None else alias

    live: dict[int, list[int]] = {}

    def touch(i: int, at: int) -> None:
        if i < 0 or tensors[i].is_constant:
            return
        r = root(i)
        span = live.setdefault(r, [at, at])
        span[0] = min(span[0], at)
        span[1] = max(span[1], at)

    step = 0

    def walk(instructions: list[Instruction]) -> None:
        # An IF/LOOP instruction takes two steps around its blocks' instructions: what it
        # reads (its inputs, outer values included), writes (its outputs: a LOOP writes
        # scan outputs on every iteration) and passes in and out of its blocks is live
        # from the first to the second, so no block tensor reuses those bytes; block
        # temporaries live only inside the blocks, which is legal across the iterations
        # of a LOOP too (each iteration runs the same sequence).
        nonlocal step
        for ins in instructions:
            opts = ins.options
            if isinstance(opts, ControlOptionsT):
                start = step
                step += 1
                for b in opts.blocks or []:
                    walk(program.blocks[b])
                end = step
                step += 1
                for i in [*ins.outputs, *(opts.blockInputs or []), *(opts.blockOutputs or [])]:
                    touch(i, start)
                    touch(i, end)
                for i in ins.inputs:
                    touch(i, end)
                continue
            for i in ins.inputs:
                touch(i, step)
            for i in ins.outputs:
                touch(i, step)
            step += 1

    for i in program.inputs:
        touch(i, -1)
    walk(program.instructions)
    for i in program.outputs:
        touch(i, step)
    return [
        _Buffer(size=_align(max(tensors[r].nbytes, 1)), first=s, last=e, tensor=r)
        for r, (s, e) in sorted(live.items())
    ]


def _place(buffers: list[_Buffer]) -> int:
    placed: list[_Buffer] = []
    top = 0
    # Ties broken by first use so the result is deterministic.
    for buf in sorted(buffers, key=lambda b: (-b.size, b.first, b.last)):
        busy = sorted((p.offset, p.offset + p.size) for p in placed
                      if p.first <= buf.last and buf.first <= p.last)
        offset = 0
        for start, end in busy:
            if offset + buf.size <= start:
                break
            offset = max(offset, end)
        buf.offset = offset
        placed.append(buf)
        top = max(top, offset + buf.size)
    return top


def _lower_bound(buffers: list[_Buffer]) -> int:
    events: dict[int, int] = {}
    for b in buffers:
        events[b.first] = events.get(b.first, 0) + b.size
        events[b.last + 1] = events.get(b.last + 1, 0) - b.size
    peak = current = 0
    for t in sorted(events):
        current += events[t]
        peak = max(peak, current)
    return peak


def plan_arena(program: Program) -> None:
    """Sets every arena tensor's offset and the arena size."""
    buffers = _buffers(program)
    program.arena_size = _place(buffers)
    program.arena_lower_bound = _lower_bound(buffers)
    offsets = {b.tensor: b.offset for b in buffers}
    for i, t in enumerate(program.tensors):
        if t.is_constant:
            continue
        t.offset = offsets.get(t.alias_of if t.alias_of is not None else i, 0) + t.alias_offset
