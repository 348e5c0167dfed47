"""Question 1.1(b): the output shape of a convolutional layer, symbolically."""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Choice, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .present import present


@dataclass(frozen=True)
class ConvGeneral:
    """The notation of the kernel in the general formula."""

    kernel_notation: str = param("str", "square", Choice(("square", "rect")),
                                 doc='"square": a K x K kernel (Fall 2025); "rect": HK x WK (Fall 2024)')


GROUP = QuestionGroup(
    name="conv_general",
    title="1.1(b) output shape of a conv layer with F filters, padding, stride and dilation",
    params=ConvGeneral,
    questions=(QuestionSpec("conv_general", "output shape F x H_out x W_out in symbols"),),
    section="cnn",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    about="Only the kernel's notation; the answer is symbolic and checked against counting on random sizes.",
)
