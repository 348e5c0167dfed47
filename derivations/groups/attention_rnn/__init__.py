"""Question 1.2.2: AttentionRNN(k), a recurrent cell that attends over its last k states.

:mod:`.model` names the symbols and writes the system of equations,
:mod:`.derive` derives the answers (SymPy only), :mod:`.numeric` is the NumPy
reference step and the closed forms evaluated on it, :mod:`.check` makes every
check and :mod:`.present` prints the context and answers.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from .check import check
from .derive import derive
from .present import present


@dataclass(frozen=True)
class AttentionRnn:
    """AttentionRNN(k): the worked answers are for k = 2; k adds a variant order, n sizes the checks."""

    k: int = param("int", 2, Range(1, 8),
                   doc="k of AttentionRNN(k): besides the worked k = 2, the text writes out this order where "
                       "it fits (k <= 3), and the checks cover it (exactly up to k = 4)")
    n: int = param("int", 4, Range(1, 16),
                   doc="n, the state size of the numeric check only (the answers keep n symbolic)")


GROUP = QuestionGroup(
    name="attention_rnn",
    title="1.2.2 AttentionRNN(k): attention over the last k states",
    params=AttentionRnn,
    questions=(
        QuestionSpec("attn_diagram", "diagram of AttentionRNN(k) (k if at most 3, else 2)"),
        QuestionSpec("attn_a_dim", "the dimension of a[t]"),
        QuestionSpec("attn_k", "the system of equations of AttentionRNN(k)"),
        QuestionSpec("attn_infinity", "AttentionRNN(infinity): its equations, with weight tying", options=(
            ("matrix_count", "also asks how many weight matrices it needs and how to limit them (Fall 2024)"),)),
        QuestionSpec("attn_dh_dhprev", "the step Jacobian dh[t]/dh[t-1] of AttentionRNN(2)"),
        QuestionSpec("attn_dl_dhprev", "the total derivative dl/dh[t-1] of AttentionRNN(2) (and for general k), "
                                       "through the step Jacobians", alternative_to="attn_dh_dhprev"),
        QuestionSpec("attn_dl_dhT", "dl/dh[T] for AttentionRNN(k)"),
    ),
    section="attention_rnn",
    parent="rnn",
    derive=derive,
    check=check,
    present=present,
    package=__name__,
    about="The answers are symbolic and worked for AttentionRNN(2); k adds the variant's own order to the "
          "text (written out while k <= 3) and to the checks, n only sizes the random instance of the "
          "finite-difference checks.",
)
