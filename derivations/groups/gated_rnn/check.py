"""Every check of 1.2.1, the instance for ``verification.npz`` and the measured double count.

* shapes and the sigmoid's largest slope: the facts the derivation rests on,
  compared side by side (formerly assertions inside the derivation);
* exact (SymPy): general entries and small explicit sizes (:mod:`.exact`);
* finite differences on a random float64 instance of the variant's sizes,
  against the one NumPy step (:func:`.numeric.step`);
* measured: how far the double-counted BPTT sum is from the answer on that
  instance (the text quotes it).
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import sympy as sp

from ... import verify as verify_mod
from ...registry import Verification
from ...verify import Check
from .derive import GatedRnnDerivation, same_symbolic, symbolic_derivation
from .exact import (DC_LABEL, DH_LABEL, DL_LABEL, exact_dl_check, exact_step_checks, general_checks,
                    numerator_form_check, outer_form_check)
from .numeric import (closed_dl_dWx, closed_values, double_counted_dl_dWx, forward, instance, loss,
                      loss_from_state, numeric_forms, redraw_note, step)

# Sizes (n, m) of the exact SymPy checks: one square and one non-square cell.
EXACT_SIZES = ((2, 2), (1, 3))
EXACT_DL_SIZE = (1, 2)  # (n, m) of the exact dl/dW_x check over K = 2 steps
EXACT_DL_STEPS = 2
OUTER_SIZE = (2, 3)  # (n, m) of the check that the outer-product form is the boxed one
SHAPE_DETAIL = "symbolic $n$, $m$: MatrixSymbol shapes"
LOSS_DETAIL = r"$\ell = \sum_t u[t]^\top h[t]$"


def shape_checks(d: GatedRnnDerivation) -> list[Check]:
    """The shapes the answers rest on agree (each side read off SymPy's shapes)."""
    pairs = [
        ("preactivation", r"shape of $W_c x[t]$ and of $W_h h[t-1]$ in (1)", d.shapes["W_c x"], d.shapes["W_h h"]),
        ("state", r"shape of $h[t]$ by (2) and of $h[t-1]$", d.state_shape, d.shapes["h"]),
        ("dl_dWx", r"shape of $\partial \ell/\partial W_x$ and of $W_x$", d.shapes["dl_dWx"], d.shapes["W_x"]),
    ]
    return [verify_mod.exact("gated_rnn.shapes", label, sp.Matrix([list(left)]), sp.Matrix([list(right)]),
                             detail=SHAPE_DETAIL, shape=(len(right),), case=case)
            for case, label, left, right in pairs]


def slope_check(d: GatedRnnDerivation) -> Check:
    """``c (1 - c)`` has exactly one stationary point, inside (0, 1), with negative curvature.

    The error is the number of these conditions that fail.
    """
    sl = d.slope
    failed = int(len(sl.stationary) != 1)
    failed += sum(1 for p in sl.stationary if not (sp.Gt(p, 0) == sp.true and sp.Lt(p, 1) == sp.true))
    failed += sum(1 for q in sl.curvature if sp.Lt(q, 0) != sp.true)
    return Check("gated_rnn.slope_max", r"$\max_s \sigma'(s)$: the maximum of $c(1-c)$ on $(0, 1)$", (),
                 "exact (SymPy)", float(failed), 0,
                 "one stationary point of c(1 - c), inside (0, 1), negative curvature")


def numeric_checks(d: GatedRnnDerivation, seed: int) -> tuple[list[Check], dict[str, np.ndarray]]:
    """Finite differences on the variant-sized instance, and that instance."""
    prm = d.params
    inst = instance(prm, seed)
    xs, Wc, Wh, Wx, us = inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"]
    r = d.step
    values = closed_values(prm, r, inst)
    hs, _ = forward(xs, Wc, Wh, Wx)
    sizes = f"$n = {prm.n}$, $m = {prm.m}$, $K = {prm.steps}$"
    detail = f"{sizes}, $t = {r}$, seed {seed}{redraw_note(inst)}"
    checks = [
        verify_mod.finite_difference("gated_rnn.dc_dhprev", DC_LABEL,
                                     lambda hp: step(xs[r - 1], hp, Wc, Wh, Wx)[0], hs[r - 1],
                                     values["dc_dhprev"], detail=detail),
        verify_mod.finite_difference("gated_rnn.dh_dhprev", DH_LABEL,
                                     lambda hp: step(xs[r - 1], hp, Wc, Wh, Wx)[1], hs[r - 1],
                                     values["dh_dhprev"], detail=detail),
        # g[t] is a 1 x m row: the loss is wrapped as a length-1 output.
        verify_mod.finite_difference("gated_rnn.g", r"total $g[t] = \partial \ell/\partial h[t]$ (backward recursion)",
                                     lambda hv: np.array([loss_from_state(xs, Wc, Wh, Wx, us, r, hv)]), hs[r],
                                     values["g"][r - 1].reshape(1, -1), detail=f"{detail}, {LOSS_DETAIL}"),
        verify_mod.finite_difference("gated_rnn.dl_dWx", DL_LABEL, lambda w: loss(xs, Wc, Wh, w, us), Wx,
                                     values["dl_dWx"], detail=f"{sizes}, seed {seed}{redraw_note(inst)}, {LOSS_DETAIL}"),
    ]
    arrays = {
        "gated_rnn.x": xs, "gated_rnn.Wc": Wc, "gated_rnn.Wh": Wh, "gated_rnn.Wx": Wx, "gated_rnn.u": us,
        "gated_rnn.dl_dWx": values["dl_dWx"], "gated_rnn.t": np.array(r),
        "gated_rnn.dh_dhprev": values["dh_dhprev"], "gated_rnn.dc_dhprev": values["dc_dhprev"],
    }
    return checks, arrays


def double_count_gap(d: GatedRnnDerivation, seed: int) -> float:
    """Relative difference between the double-counted sum and the answer on the check instance."""
    prm = d.params
    inst = instance(prm, seed)
    forms = numeric_forms(prm.n, prm.m)
    args = (inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"])
    return verify_mod.relative_error(double_counted_dl_dWx(forms, *args), closed_dl_dWx(forms, *args))


def symbolic_checks(d: GatedRnnDerivation) -> list[Check]:
    """The checks that do not depend on the variant: shapes, the slope, general entries, fixed exact sizes."""
    checks = shape_checks(d) + [slope_check(d)] + general_checks(d)
    for N, M in EXACT_SIZES:
        checks += exact_step_checks(d, N, M)
    checks.append(exact_dl_check(d, *EXACT_DL_SIZE, EXACT_DL_STEPS))
    checks.append(outer_form_check(d, *OUTER_SIZE))
    checks.append(numerator_form_check(d, *OUTER_SIZE))
    return checks


@functools.lru_cache(maxsize=1)
def _cached_symbolic_checks() -> tuple[Check, ...]:
    return tuple(symbolic_checks(symbolic_derivation()))


def check(derivation: GatedRnnDerivation, evidence: Any, seed: int) -> Verification:
    """All checks of 1.2.1 (``evidence``, the figure's curves, is not checked here).

    The variant-independent checks are made once per process for the shared
    symbolic derivation (:func:`.derive.symbolic_derivation`); a derivation
    with any other symbolic content (a test's deliberately wrong form) is
    checked afresh.
    """
    d = derivation
    shared = same_symbolic(d, symbolic_derivation())
    checks = list(_cached_symbolic_checks()) if shared else symbolic_checks(d)
    fd, arrays = numeric_checks(d, seed)
    return Verification(tuple(checks + fd), arrays, {"double_count_gap": double_count_gap(d, seed)})
