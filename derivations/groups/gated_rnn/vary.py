"""1.2.1 per student: the sizes of the numeric check instance (see ``VARIATION``).

The answers of 1.2.1 are symbolic in n and m, so a student's printed key is the
edition's; what changes is the random instance of the finite-difference checks
(the figure is the same for the whole class: ``figure_seed``).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ...params import draw_int

N = (2, 5)  # input size n
M = (2, 5)  # state size m
STEPS = (3, 8)  # sequence length K
FIGURE_SEED = 2572  # every student's figure: one class figure, compiled once

VARIATION = (
    f"Only the numeric check instance: input size n {N[0]}..{N[1]}, state size m {M[0]}..{M[1]}, sequence "
    f"length K {STEPS[0]}..{STEPS[1]}. The printed answers are symbolic in n and m and stay the edition's; "
    f"every student's figure is drawn with seed {FIGURE_SEED} (an illustration, the same for the class)."
)


def vary(rng: np.random.Generator, base: Any) -> Any:
    """This student's check instance sizes."""
    return dataclasses.replace(base, n=draw_int(rng, N), m=draw_int(rng, M), steps=draw_int(rng, STEPS),
                               figure_seed=base.figure_seed or FIGURE_SEED)
