"""1.1(a) per student: the variation space that :func:`vary` draws from (see ``VARIATION``).

Every number comes from the group's private generator (:mod:`derivations.student`);
a draw whose dilated kernel does not fit the padded input, or that leaves fewer
than ``MIN_OUTPUT`` outputs on an axis, is drawn again from the same generator,
so the result is still reproducible.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ...params import draw_int, first_fit
from .derive import output_length

HEIGHT = (12, 32)  # input height H
WIDTH = (10, 32)  # input width W
KERNEL = (2, 5)  # KH and KW, drawn separately
STRIDE = (1, 4)  # one stride for both axes
PADDING = (1, 2)  # for the students who get padding: one value for both axes
DILATION = 2  # for the students who get dilation
SHARE = 1 / 3  # the share of students with padding, and (drawn separately) with dilation
MIN_OUTPUT = 2  # outputs on each axis at least
ATTEMPTS = 100

VARIATION = (
    f"Input height {HEIGHT[0]}..{HEIGHT[1]} and width {WIDTH[0]}..{WIDTH[1]}, kernel height and width "
    f"{KERNEL[0]}..{KERNEL[1]} each, one stride {STRIDE[0]}..{STRIDE[1]} for both axes; about a third of the "
    f"students also get zero padding {PADDING[0]}..{PADDING[1]} and, drawn separately, about a third get "
    f"dilation {DILATION}. A draw whose dilated kernel does not fit the padded input, or that gives fewer than "
    f"{MIN_OUTPUT} outputs on an axis, is drawn again."
)


def candidate(rng: np.random.Generator, base: Any) -> Any:
    """One draw of the whole space (the base's other keys kept)."""
    size = (draw_int(rng, HEIGHT), draw_int(rng, WIDTH))
    kernel = (draw_int(rng, KERNEL), draw_int(rng, KERNEL))
    stride = draw_int(rng, STRIDE)
    padding = draw_int(rng, PADDING) if rng.random() < SHARE else 0
    dilation = DILATION if rng.random() < SHARE else 1
    return dataclasses.replace(base, input=size, kernel=kernel, stride=(stride, stride), padding=(padding, padding),
                               dilation=(dilation, dilation))


def outputs(p: Any) -> tuple[int, int]:
    """Outputs on each axis, from the one output-size rule."""
    return tuple(output_length(p.input[a], p.kernel[a], p.stride[a], p.padding[a], p.dilation[a]) for a in (0, 1))


def vary(rng: np.random.Generator, base: Any) -> Any:
    """This student's 1.1(a): a fitting draw of :data:`VARIATION`."""
    from . import kernel_fits  # the group's own rule (imported here: this module is imported by the group)

    return first_fit(lambda: candidate(rng, base),
                     lambda p: kernel_fits(p) is None and min(outputs(p)) >= MIN_OUTPUT, ATTEMPTS)
