"""Every check of 1.2.1, the instance for ``verification.npz`` and the measured double count.

* shapes and the sigmoid's largest slope: the facts the derivation rests on,
  compared side by side (formerly assertions inside the derivation);
* exact (SymPy): general entries and small explicit sizes (:mod:`.exact`). The
  general entries hold for symbolic n, m, so the step Jacobians are checked
  exactly at every size, the variant's own included; dl/dW_x over K steps is
  also checked at the variant's own (n, m, K) while small
  (:data:`EXACT_DL_NESTING_LIMIT`, :func:`own_checks`), and beyond that its
  finite-difference row says the exact check at the variant's own sizes was
  not made, and why;
* finite differences on a random float64 instance of the variant's sizes,
  against the one NumPy step (:func:`.numeric.step`);
* measured: how far the double-counted BPTT sum is from the answer on that
  instance (the text quotes it).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

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
# dl/dW_x is also checked exactly at the variant's own (n, m, K) while the brute-force loss nests at
# most this many gates, m (K - 1) (each gate of steps 1..K-1 sits inside the gates of the next step).
# The cost grows about fourfold with each nested gate (measured: 1 nested gate at most 0.8 s; 2 up to
# 6.7 s at n = 6; 3 up to 6.9 s; 4 from 24 s to 143 s), so only m = 1, K = 2 qualifies; within
# verify.BUDGET_SECONDS. Beyond it the finite-difference row of dl/dW_x says so.
EXACT_DL_NESTING_LIMIT = 1
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


class Sizes(NamedTuple):
    """The sizes of a check instance (what the own-size limits read of a variant's parameters)."""

    n: int
    m: int
    steps: int


def nested_gates(params: Any) -> int:
    """Gates the brute-force loss of the exact dl/dW_x check nests at the variant's sizes: m (K - 1)."""
    return params.m * (params.steps - 1)


def own_dl_made(params: Any) -> bool:
    """Is dl/dW_x checked exactly at the variant's own (n, m, K)?"""
    return ((params.n, params.m), params.steps) == (EXACT_DL_SIZE, EXACT_DL_STEPS) \
        or nested_gates(params) <= EXACT_DL_NESTING_LIMIT


def skipped_notes(params: Any) -> dict[str, str]:
    """The finite-difference rows' notes (quantity -> note) for exact checks not made at own sizes."""
    notes = {}
    if not own_dl_made(params):
        N, M = EXACT_DL_SIZE
        notes["gated_rnn.dl_dWx"] = verify_mod.skipped_exact(
            nested_gates(params), "gates nested in the brute-force loss ($m (K - 1)$)", EXACT_DL_NESTING_LIMIT,
            f"$n = {N}$, $m = {M}$, $K = {EXACT_DL_STEPS}$")
    return notes


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
    notes = skipped_notes(prm)
    checks = [dataclasses.replace(c, detail=f"{c.detail}; {notes[c.quantity]}") if c.quantity in notes else c
              for c in checks]
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


def own_dl_checks(d: GatedRnnDerivation, n: int, m: int, steps: int) -> list[Check]:
    """dl/dW_x exactly at the variant's own (n, m, K), unless it is the fixed size or nests too many gates."""
    if ((n, m), steps) == (EXACT_DL_SIZE, EXACT_DL_STEPS) or not own_dl_made(Sizes(n, m, steps)):
        return []
    check = exact_dl_check(d, n, m, steps)
    return [dataclasses.replace(check, detail=f"{check.detail} (the variant's own sizes)")]


def own_checks(d: GatedRnnDerivation, prm: Any) -> list[Check]:
    """The exact checks at the sizes of ``prm`` (the variant's own) that the fixed sizes and the
    general entries do not already make: dl/dW_x over K steps while small (:func:`own_dl_made`)."""
    return own_dl_checks(d, prm.n, prm.m, prm.steps)


@functools.lru_cache(maxsize=64)
def _cached_own_dl(n: int, m: int, steps: int) -> tuple[Check, ...]:
    return tuple(own_dl_checks(symbolic_derivation(), n, m, steps))


def cached_own_checks(prm: Any) -> list[Check]:
    """:func:`own_checks` of the shared symbolic derivation, once per process for each (n, m, K)."""
    return list(_cached_own_dl(prm.n, prm.m, prm.steps)) if own_dl_made(prm) else []


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
    prm = d.params
    checks += cached_own_checks(prm) if shared else own_checks(d, prm)
    fd, arrays = numeric_checks(d, seed)
    return Verification(tuple(checks + fd), arrays, {"double_count_gap": double_count_gap(d, seed)})
