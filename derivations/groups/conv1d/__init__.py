"""Question 1.1(c): a 1-D convolution with one filter, its Jacobians and a loss gradient.

Sizes up to 256 channels and inputs of length 8192 (kernel, stride and dilation up to 16,
padding up to 16 on each side) derive and verify in seconds:

* the derivation is symbolic per *structure* (with or without dilation, with or without
  padding), made once per process, and a variant's numbers are substituted into it
  (:mod:`.derive`); only the explicit Jacobian blocks are per size, and their entries are
  computed only where the printed (elided) block shows them;
* the checks (:mod:`.check`) evaluate the closed forms with vectorised NumPy. While
  ``d f/d x`` has at most ``check.FULL_LIMIT`` entries (50 000) the Jacobians are built whole
  and differenced entry by entry; beyond, ``J v`` is computed from the closed form along
  ``check.DIRECTIONS`` random directions and compared with central differences along them, at
  the outputs near either end and ``check.SAMPLED_ROWS`` (256) others drawn at random, with the
  instance drawn where those outputs read (so the cost hardly grows with the sizes).
  Exact SymPy checks run once per structure at a small instance of it, and, while the explicit
  Jacobians have at most ``check.EXACT_LIMIT`` entries (4000), once per parameter set at the
  variant's own sizes.

``verification.npz`` holds ``conv1d.x``, ``conv1d.W``, ``conv1d.g`` (the random instance),
``conv1d.f`` and ``conv1d.dl_dW`` always; for a small variant also ``conv1d.df_dW``
``(1, L_out, 1, C, K)`` and ``conv1d.df_dx`` ``(1, L_out, C, L)``; for a large one instead
``conv1d.rows`` (the R checked outputs, 1-based; ``f`` is stored at those, ``g`` is 0 at the
others and ``x`` at the positions they do not read), ``conv1d.directions.W`` ``(k, 1, C, K)``,
``conv1d.directions.x`` ``(k, C, L)`` and the closed forms' products ``conv1d.df_dW_v`` and
``conv1d.df_dx_v`` ``(k, 1, R)`` (row ``i`` is the Jacobian times direction ``i``).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from ..conv2d.derive import output_length  # the one output-size rule
from . import check as _check, derive as _derive
from .check import EXACT_LIMIT, FULL_LIMIT, SAMPLED_ROWS, check
from .derive import derive
from .present import present
from .vary import VARIATION, vary


@dataclass(frozen=True)
class Conv1d:
    """A 1-D convolution with one filter and no bias (bounded so that deriving and checking stay within seconds)."""

    channels: int = param("int", rule=Range(1, 256), doc="C, input channels printed in the question")
    length: int = param("int", rule=Range(1, 8192), doc="L, input length")
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


def reads_input(p: Conv1d) -> tuple[str, object, str] | None:
    """Some output must read a real input entry: a layer whose every tap lands in the padding has
    all-zero Jacobians, and its checks would test nothing."""
    outputs = output_length(p.length, p.kernel, p.stride, p.padding, p.dilation)
    for m in range(p.kernel):  # output q (0-based) reads position S q + D m - P + 1 (1-based) with tap m
        lo = max(p.padding - p.dilation * m, 0)
        q = -(-lo // p.stride)  # the first output whose tap m is at or after input position 1
        if q <= outputs - 1 and p.stride * q <= p.padding - p.dilation * m + p.length - 1:
            return None
    return ("conv1d.padding", p.padding, "every output reads only padding (all-zero Jacobians); allowed: a "
            "padding, stride and dilation with which some output reads the input")


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
    constraints=(kernel_fits, reads_input),
    about="The sizes printed in 1.1(c); every element formula is derived for them and checked on a random "
          "instance of exactly these sizes: whole Jacobians against finite differences while they are small "
          f"(d f/d x with at most {FULL_LIMIT} entries), else Jacobian-times-direction products along random "
          f"directions at the outputs near either end and {SAMPLED_ROWS} others drawn at random; exactly, with SymPy, at a small instance of the same structure, and at the variant's own "
          f"sizes while the explicit Jacobians have at most {EXACT_LIMIT} entries together.",
    vary=vary,
    variation=VARIATION,
)


def forget_sizes() -> None:
    """Empty the caches kept per parameter set (the derivation with the numbers in, the exact check
    at the variant's own sizes, the chain rule's row), keeping those kept per structure: a process
    meeting new sizes, as a class build does for each student (``make bench`` times this)."""
    _derive._derive_cached.cache_clear()
    _check.own_exact.cache_clear()
    _check._chain_rule_cached.cache_clear()
