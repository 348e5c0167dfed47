"""Question 1.1(c): a 1-D convolution with one filter, its Jacobians and a loss gradient."""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .present import present
from .vary import VARIATION, vary


@dataclass(frozen=True)
class Conv1d:
    """A 1-D convolution with one filter and no bias (bounded so the entrywise checks stay within seconds)."""

    channels: int = param("int", rule=Range(1, 16), doc="C, input channels printed in the question")
    length: int = param("int", rule=Range(1, 64), doc="L, input length")
    kernel: int = param("int", rule=Range(1, 16), doc="K, kernel size")
    stride: int = param("int", rule=Range(1, 16), doc="S, stride")
    dilation: int = param("int", 1, Range(1, 16), doc="D, dilation; 1 leaves dilation out of the question")
    padding: int = param("int", 0, Range(0, 16), doc="P, zero padding on each side; 0 leaves it out")


def kernel_fits(p: Conv1d) -> tuple[str, object, str] | None:
    span = p.dilation * (p.kernel - 1) + 1
    room = p.length + 2 * p.padding
    if span > room:
        return ("conv1d.kernel", p.kernel, f"dilated kernel length {span} exceeds padded input length {room}; "
                f"allowed: dilation*(kernel-1)+1 in 1..{room}")
    return None


GROUP = QuestionGroup(
    name="conv1d",
    title="1.1(c) a 1-D convolution: output, Jacobians, loss gradient",
    params=Conv1d,
    questions=(
        QuestionSpec("conv1d_output", "(i) shape and entries of f_W(x)", part_of="conv1d"),
        QuestionSpec("conv1d_dW", "(ii) Jacobian of f_W(x) with respect to W", part_of="conv1d"),
        QuestionSpec("conv1d_dx", "(iii) Jacobian of f_W(x) with respect to x", part_of="conv1d"),
        QuestionSpec("conv1d_dl_dW", "(iv) dl/dW given dl/df_W(x)", part_of="conv1d"),
    ),
    section="cnn",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    constraints=(kernel_fits,),
    about="The sizes printed in 1.1(c); every element formula is derived for them and checked on a random "
          "instance of exactly these sizes (and exactly, with SymPy, while the Jacobian is small).",
    vary=vary,
    variation=VARIATION,
)
