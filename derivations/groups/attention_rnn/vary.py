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


def vary(rng: Any, params: Any) -> Any:
    """This student's parameters: k from ORDERS, uniformly, from ``rng`` only.

    The state size n is the numeric checks' alone (no question, answer or
    sentence of the documents depends on it), so it is not drawn: students of one
    k share one derivation, check structure and printed section.
    """
    return dataclasses.replace(params, k=int(rng.choice(ORDERS)))


VARIATION = (f"k is drawn uniformly from {{{', '.join(map(str, ORDERS))}}} (the question then defines and asks "
             f"about AttentionRNN(k)); n, the state size of the numeric checks only, is the base variant's.")
