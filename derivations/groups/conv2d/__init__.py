"""Question 1.1(a): the output size of a 2-D convolution with the variant's numbers.

The one-axis output formula lives here once (:mod:`.derive`); 1.1(b) and
1.1(c) read it from this group.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .present import present
from .vary import VARIATION, vary

MAX_SIZE = 4096


@dataclass(frozen=True)
class Conv2d:
    """A 2-D convolution on an H x W input."""

    input: tuple[int, int] = param("size2", rule=Range(1, MAX_SIZE),
                                   doc="input height and width [H, W] printed in the question")
    kernel: tuple[int, int] = param("size2", rule=Range(1, MAX_SIZE), doc="kernel height and width [KH, KW]")
    stride: tuple[int, int] = param("pair", rule=Range(1, MAX_SIZE), doc="stride, one number or [SH, SW]")
    padding: tuple[int, int] = param("pair", 0, Range(0, MAX_SIZE),
                                     doc="zero padding on each side; 0 leaves padding out of the question")
    dilation: tuple[int, int] = param("pair", 1, Range(1, MAX_SIZE),
                                      doc="dilation; 1 leaves dilation out of the question")


def kernel_fits(p: Conv2d) -> tuple[str, object, str] | None:
    """A (dilated) kernel must fit inside the padded input on every axis."""
    for axis, name in enumerate(("height", "width")):
        span = p.dilation[axis] * (p.kernel[axis] - 1) + 1
        room = p.input[axis] + 2 * p.padding[axis]
        if span > room:
            return ("conv2d.kernel", list(p.kernel), f"dilated kernel {name} {span} exceeds padded input {name} "
                    f"{room}; allowed: dilation*(kernel-1)+1 in 1..{room}")
    return None


GROUP = QuestionGroup(
    name="conv2d",
    title="1.1(a) output size of a 2-D convolution",
    params=Conv2d,
    questions=(QuestionSpec("conv2d_output", "output height x width for the given sizes"),),
    section="cnn",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    constraints=(kernel_fits,),
    about="The numbers of question 1.1(a); the answer is computed from them and checked by counting "
          "kernel positions.",
    vary=vary,
    variation=VARIATION,
)
