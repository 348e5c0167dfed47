"""1.2.2's per-student variation: which AttentionRNN(k) the question defines, and the check size n.

Drawn only from the group's private ``rng`` (a numpy Generator), so a student's
draw is reproducible and independent of the other groups' draws.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .derive import MAX_DEFINED

# The orders a student may get: every order the question defines and writes out (1..MAX_DEFINED).
ORDERS = tuple(range(1, MAX_DEFINED + 1))
# The state size of the numeric checks: n >= 2 so that Q^T K need not be symmetric; small, so a
# class set checks quickly and shares structures (k, n), each derived once per process.
SIZES = (2, 3, 4, 5)


def vary(rng: Any, params: Any) -> Any:
    """This student's parameters: k from ORDERS and n from SIZES, uniformly, from ``rng`` only."""
    k = int(rng.choice(ORDERS))
    n = int(rng.choice(SIZES))
    return dataclasses.replace(params, k=k, n=n)


VARIATION = (f"k is drawn uniformly from {{{', '.join(map(str, ORDERS))}}} (the question then defines and asks "
             f"about AttentionRNN(k)), and n, the state size of the numeric checks only, from "
             f"{{{', '.join(map(str, SIZES))}}}.")
