"""Mark the 1x1 convs that reduce a depthwise conv's output to sum its channels in halves.

On several threads the runtime splits a depthwise conv by channel planes
(thread t: planes [t * ceil(C / T), ...)), so its output's first half is in
thread 0's cache and its second in thread 1's. A 1x1 conv split by pixel tiles
then reads both halves on both cores, and the next depthwise conv, writing over
those bytes, waits on lines the other core holds: MobileNetV2's 14x14 and 7x7
depthwise convs ran no faster on 2 threads than on 1 (bench/RESULTS.md).

With VARIANT_KSPLIT the AVX-512 kernel (runtime_c/src/kernels/ref/conv.c,
ksplit_run) computes Y = act(S0 + S1), S0 the first ceil(C / 2) input
channels' sums plus bias and residual, S1 the rest's, as two jobs (at 2
threads, each core sums the half it wrote) and one pass that adds them, on
every thread count alike, so results stay the same whatever the threads. S1
needs M x P floats of workspace more.

Only where the sums are smaller than what they save reading (M < C), the conv
runs on one image and its plane is at most one pixel tile (256): on
MobileNetV2's 28x28 blocks the halves, 96 channels deep, made the 1x1 convs
slower than the depthwise convs gained (bench/RESULTS.md, session 10). After
fuse_inverted_residual: a fused block keeps its 1x1 convs in the thread's
workspace already.
"""

from __future__ import annotations

from edgec.fb.Opcode import Opcode
from edgec.lower.conv import CONV_TILE_PIXELS, FLOAT, VARIANT_KSPLIT, round_up
from edgec.passes.fuse_inverted_residual import conv1x1, depthwise
from edgec.program import Program


def split_input_channels(program: Program) -> int:
    """Returns how many 1x1 convs were marked."""
    producer = {o: ins for ins in program.instructions for o in ins.outputs}
    marked = 0
    for ins in program.instructions:
        if ins.opcode != Opcode.CONV or not conv1x1(program, ins, residual=True):
            continue
        x, y = program.tensors[ins.inputs[0]], program.tensors[ins.outputs[0]]
        pixels = y.shape[2] * y.shape[3]
        if x.shape[0] != 1 or y.shape[1] >= x.shape[1] or pixels > CONV_TILE_PIXELS or \
                not depthwise(program, producer.get(ins.inputs[0])):
            continue
        ins.variant |= VARIANT_KSPLIT
        ins.scratch_size = round_up(ins.scratch_size, 64) + \
            round_up(FLOAT * y.shape[1] * pixels, 64)
        marked += 1
    return marked
