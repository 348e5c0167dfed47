"""Question 1.2.2: AttentionRNN(k), a recurrent cell that attends over its last k states.

:mod:`.model` names the symbols and writes the system of equations,
:mod:`.derive` derives the answers (SymPy only), :mod:`.numeric` is the NumPy
reference step and the closed forms evaluated on it, :mod:`.check` makes every
check and :mod:`.present` prints the context and answers; :mod:`.vary` draws a
student's k and n.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .present import present
from .vary import VARIATION, vary


@dataclass(frozen=True)
class AttentionRnn:
    """AttentionRNN(k): the question defines and asks about AttentionRNN(k) (k <= 3); n sizes the checks."""

    k: int = param("int", 2, Range(1, 8),
                   doc="k of AttentionRNN(k): for k <= 3 the question defines AttentionRNN(k) (its equations, "
                       "diagram, a[t] in R^(k+1), the Jacobian dh[t]/dh[t-1] and dl/dh[t-1]); for k >= 4 the "
                       "system no longer fits the page, so the question keeps AttentionRNN(2) and k is named in "
                       "the general answers; the checks cover k (exactly up to k = 4)")
    n: int = param("int", 4, Range(1, 16),
                   doc="n, the state size of the numeric check only (the answers keep n symbolic)")


GROUP = QuestionGroup(
    name="attention_rnn",
    title="1.2.2 AttentionRNN(k): attention over the last k states",
    params=AttentionRnn,
    questions=(
        QuestionSpec("attn_diagram", "diagram of the defined AttentionRNN(k) (k if at most 3, else 2)"),
        QuestionSpec("attn_a_dim", "the dimension of a[t]"),
        QuestionSpec("attn_k", "the system of equations of AttentionRNN(k)"),
        QuestionSpec("attn_infinity", "AttentionRNN(infinity): its equations, with weight tying", options=(
            ("matrix_count", "also asks how many weight matrices it needs and how to limit them (Fall 2024)"),)),
        QuestionSpec("attn_dh_dhprev", "the step Jacobian dh[t]/dh[t-1] of the defined AttentionRNN(k)"),
        QuestionSpec("attn_dl_dhprev", "the total derivative dl/dh[t-1] of the defined AttentionRNN(k) (and for "
                                       "general k), through the step Jacobians", alternative_to="attn_dh_dhprev"),
        QuestionSpec("attn_dl_dhT", "dl/dh[T] for AttentionRNN(k)"),
    ),
    section="attention_rnn",
    parent="rnn",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    about="The answers are symbolic. The question defines AttentionRNN(k) for the variant's k while k <= 3 "
          "(the system, the diagram, the sizes and the worked Jacobians follow k); for k >= 4 it keeps "
          "AttentionRNN(2) and names k in the general answers. The checks cover k; n only sizes the random "
          "instance of the finite-difference checks.",
    vary=vary,
    variation=VARIATION,
)
