"""How many channels each channel space gives up under a `channels:F` budget.

uniform: every space drops round(F * C) of its C channels.

cost (the default): the same number of channels overall, round(F * sum C)
over the spaces that may be pruned, spread by what a channel costs. A
channel's cost is its share of all the prunable parameters plus its share of
all the prunable multiply-adds: the weights it is sliced out of (its
producers' output rows, its consumers' input columns, a classifier's input
features included), each counted once for the parameters and once per use for
the multiply-adds. Space s drops the fraction

    r_s = clip(lam * cost_s / mean cost, F / 2, min(1.5 F, 0.9))

of its channels, lam chosen (by bisection) so that the drops add up to the
budget (the mean is over channels, so lam = F when every channel costs the
same). The bounds keep every space in play and none collapses: at F = 0.3
each drops between 15% and 45% of its channels (and keeps at least one).
Channels that weigh much but compute little (late layers, the classifier's
inputs, the channels a residual chain shares) and channels that compute much
on large activations (early layers) go first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class SpaceCost:
    """A free channel space: its channels, and per channel the parameters and
    the multiply-adds (per inference) that removing it takes away."""

    channels: int
    params: float
    macs: float


def drop_bounds(amount: float) -> tuple[float, float]:
    """The smallest and largest fraction of its channels one space gives up."""
    return amount / 2.0, min(1.5 * amount, 0.9)


def uniform_drops(spaces: Mapping[int, SpaceCost], amount: float) -> dict[int, int]:
    return {s: max(min(round(amount * c.channels), c.channels - 1), 0)
            for s, c in spaces.items()}


def channel_costs(spaces: Mapping[int, SpaceCost]) -> dict[int, float]:
    """A channel's share of the parameters plus its share of the multiply-adds,
    divided by the mean over all channels (so that the mean is 1)."""
    total_p = sum(c.channels * c.params for c in spaces.values())
    total_m = sum(c.channels * c.macs for c in spaces.values())
    raw = {s: (c.params / total_p if total_p else 0.0) + (c.macs / total_m if total_m else 0.0)
           for s, c in spaces.items()}
    mean = sum(raw[s] * c.channels for s, c in spaces.items()) / \
        max(sum(c.channels for c in spaces.values()), 1)
    return {s: (v / mean if mean > 0 else 1.0) for s, v in raw.items()}


def _fractions(costs: Mapping[int, float], lam: float,
               bounds: tuple[float, float]) -> dict[int, float]:
    lo, hi = bounds
    return {s: min(max(lam * c, lo), hi) for s, c in costs.items()}


def _solve_lambda(spaces: Mapping[int, SpaceCost], costs: Mapping[int, float],
                  budget: float, bounds: tuple[float, float]) -> float:
    """The smallest lam whose (unrounded) drops reach the budget."""

    def dropped(lam: float) -> float:
        r = _fractions(costs, lam, bounds)
        return sum(r[s] * c.channels for s, c in spaces.items())

    lo, hi = 0.0, 1.0
    while dropped(hi) < budget and hi < 1e12:
        hi *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if dropped(mid) < budget else (lo, mid)
    return hi


def _round_to_budget(exact: Mapping[int, float], caps: Mapping[int, int],
                     budget: int) -> dict[int, int]:
    """Integer drops: floors, then one more to the largest remainders (ties by
    space id) until the budget is met, never past a cap."""
    drops = {s: min(math.floor(x), caps[s]) for s, x in exact.items()}
    order = sorted(exact, key=lambda s: (-(exact[s] - math.floor(exact[s])), s))
    left = budget - sum(drops.values())
    while left > 0:
        room = [s for s in order if drops[s] < caps[s]][:left]
        if not room:
            break
        for s in room:
            drops[s] += 1
        left -= len(room)
    return drops


def cost_drops(spaces: Mapping[int, SpaceCost], amount: float) -> dict[int, int]:
    """Channels dropped per space: round(amount * all channels) in total (fewer
    only where every space is at its upper bound), more per space the more its
    channels cost, within drop_bounds."""
    if not spaces:
        return {}
    bounds = drop_bounds(amount)
    caps = {s: max(min(math.floor(bounds[1] * c.channels + 1e-9), c.channels - 1), 0)
            for s, c in spaces.items()}
    budget = min(round(amount * sum(c.channels for c in spaces.values())), sum(caps.values()))
    costs = channel_costs(spaces)
    lam = _solve_lambda(spaces, costs, budget, bounds)
    exact = {s: r * spaces[s].channels for s, r in _fractions(costs, lam, bounds).items()}
    return _round_to_budget(exact, caps, budget)
