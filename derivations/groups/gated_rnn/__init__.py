"""Question 1.2.1: a recurrent network with a sigmoid gate.

For ``t = 1..K``, with ``x[t]`` in R^n, ``h[t]`` in R^m and ``h[0] = 0``,

    c[t] = sigma(W_c x[t] + W_h h[t-1]),
    h[t] = c[t] (.) h[t-1] + (1 - c[t]) (.) W_x x[t].

Every answer is symbolic in ``n`` and ``m``; the variant's ``[gated_rnn]``
sizes only the numeric verification instance. The folder:

* :mod:`.forms` -- the notation and the matrix forms, each typed once;
* :mod:`.derive` -- shapes, entrywise derivatives, the recognised matrix forms;
* :mod:`.experiment` -- the vanishing/exploding figure (declared experiment);
* :mod:`.numeric` -- the one NumPy step and the compiled forms;
* :mod:`.exact`, :mod:`.check` -- the checks, the instance, the double count;
* :mod:`.present` -- the template context and the answers.json entries.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...params import Range, param
from ...registry import QuestionGroup, QuestionSpec
from . import check, derive, experiment, present  # the step modules (names stay the modules)
from . import vary


# The largest n and m of the check instance. Its weights are standard normal, so a larger cell runs
# in the saturated, exploding regime: over K = 32 steps the loss's third derivatives grow until
# central differences no longer reach the check's 1e-6 relative accuracy (measured over 300 seeds
# at K = 32: n = m = 8 failed once, up to 6 the worst error was below 4e-7). The answers are symbolic,
# so a larger instance would check nothing more.
MAX_SIZE = 6
SIZE_WHY = (f"; at most {MAX_SIZE}: the instance's weights are standard normal, and larger cells saturate and "
            "explode over many steps until finite differences lose the check's accuracy")


@dataclass(frozen=True)
class GatedRnn:
    """The sizes of 1.2.1's numeric check (the answers are symbolic in n, m)."""

    n: int = param("int", 3, Range(1, MAX_SIZE),
                   doc="input size n of the finite-difference check instance only; the answers stay symbolic"
                       + SIZE_WHY)
    m: int = param("int", 4, Range(1, MAX_SIZE),
                   doc="state size m of the finite-difference check instance only; the answers stay symbolic"
                       + SIZE_WHY)
    steps: int = param("int", 6, Range(2, 32),
                       doc="sequence length K of the check instance (Jacobians checked at t = max(2, (K+1)//2))")
    figure_seed: int = param("int", 0, Range(0, 2**32 - 1),
                             doc="seed of the random cells drawn for the vanishing/exploding figure; 0: the "
                                 "variant's seed. Students share one figure (their vary sets it), so a class "
                                 "compiles it once")


GROUP = QuestionGroup(
    name="gated_rnn",
    title="1.2.1 a gated recurrent cell",
    params=GatedRnn,
    questions=(
        QuestionSpec("gated_diagram", "a diagram of the gated cell"),
        QuestionSpec("gated_c_dim", "the dimension of the gate c[t]"),
        QuestionSpec("gated_jacobians", "dh[t]/dh[t-1] and dc[t]/dh[t-1]"),
        QuestionSpec("gated_dl_dWx", "dl/dW_x and its shape", options=(
            ("in_terms", "asks for the expression in terms of l, h and W_x (Fall 2024)"),
            ("parallels", "also asks what the backward and forward passes have in common (Fall 2025)"))),
        QuestionSpec("gated_vanishing", "vanishing or exploding gradients, with a figure"),
    ),
    section="gated_rnn",
    parent="rnn",
    derive=derive.derive,
    check=check.check,
    present=present.present,
    package=__name__,
    experiment=experiment.experiment,
    about="The answers of 1.2.1 are symbolic in n and m, so the printed key does not change with these keys: "
          "they only size the random instance of the finite-difference checks in the verification table and "
          "verification.npz. The figure's cell (32 x 32) and its draws come from [variant] seed. A drawn instance "
          "whose gates are all saturated at the checked step (or all closed at every step) would make the "
          "finite-difference checks meaningless; it is drawn again from the same seed, and the check's detail "
          "says so.",
    vary=vary.vary,
    variation=vary.VARIATION,
)
