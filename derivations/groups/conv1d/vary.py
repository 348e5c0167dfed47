"""1.1(c) per student: the variation space that :func:`vary` draws from (see ``VARIATION``).

Every number comes from the group's private generator (:mod:`derivations.student`);
a draw whose dilated kernel does not fit the padded input, or that leaves fewer
than ``MIN_OUTPUT`` outputs, is drawn again from the same generator.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ...params import draw_int, first_fit
from ..conv2d.derive import output_length

CHANNELS = (3, 8)
LENGTH = (7, 13)
KERNEL = (2, 4)
STRIDE = (1, 3)
DILATION = 2  # for the students who get dilation
PADDING = (1, 2)  # for the students who get padding
MIN_OUTPUT = 2
ATTEMPTS = 100

VARIATION = (
    f"Channels {CHANNELS[0]}..{CHANNELS[1]}, input length {LENGTH[0]}..{LENGTH[1]}, kernel "
    f"{KERNEL[0]}..{KERNEL[1]}, stride {STRIDE[0]}..{STRIDE[1]}; about a third of the students also get dilation "
    f"{DILATION}, another third zero padding {PADDING[0]}..{PADDING[1]} (never both). A draw whose dilated kernel "
    f"does not fit the padded input, or that gives fewer than {MIN_OUTPUT} outputs, is drawn again."
)


def candidate(rng: np.random.Generator, base: Any) -> Any:
    """One draw of the whole space (the base's other keys kept)."""
    channels, length = draw_int(rng, CHANNELS), draw_int(rng, LENGTH)
    kernel, stride = draw_int(rng, KERNEL), draw_int(rng, STRIDE)
    extra = int(rng.integers(0, 3))  # 0: neither, 1: dilation, 2: padding
    return dataclasses.replace(base, channels=channels, length=length, kernel=kernel, stride=stride,
                               dilation=DILATION if extra == 1 else 1,
                               padding=draw_int(rng, PADDING) if extra == 2 else 0)


def outputs(p: Any) -> int:
    """L_out, from the one output-size rule (1.1(a)'s)."""
    return output_length(p.length, p.kernel, p.stride, p.padding, p.dilation)


def vary(rng: np.random.Generator, base: Any) -> Any:
    """This student's 1.1(c): a fitting draw of :data:`VARIATION`."""
    from . import kernel_fits  # the group's own rule (imported here: this module is imported by the group)

    return first_fit(lambda: candidate(rng, base), lambda p: kernel_fits(p) is None and outputs(p) >= MIN_OUTPUT,
                     ATTEMPTS)
