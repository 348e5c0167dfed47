"""The cell in NumPy: one step function, and the derived forms compiled at concrete sizes.

:func:`step` is the one independent NumPy reference of equations (1) and (2);
:func:`forward` runs it and the finite-difference checks differentiate it.
The closed forms are never retyped here: :func:`numeric_forms` compiles the
builders of :mod:`.forms` with :func:`derivations.symbolic.numeric`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from ... import verify as verify_mod
from ...symbolic import numeric
from . import forms as F


@dataclass(frozen=True)
class NumericForms:
    """The closed forms as NumPy functions at sizes (n, m); vectors are 1-D arrays."""

    dc_dhprev: Callable[[np.ndarray, np.ndarray], np.ndarray]
    dh_dhprev: Callable[..., np.ndarray]
    dl_dWx_term: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=64)  # every (n, m) a student can draw, and the figure's
def numeric_forms(N: int, M: int) -> NumericForms:
    """Compile the builders with MatrixSymbols of concrete shapes."""
    c = sp.MatrixSymbol("c", M, 1)
    h = sp.MatrixSymbol("h_prev", M, 1)
    x = sp.MatrixSymbol("x", N, 1)
    g = sp.MatrixSymbol("g", 1, M)
    Wx = sp.MatrixSymbol("W_x", M, N)
    Wh = sp.MatrixSymbol("W_h", M, M)
    dc = numeric(F.dc_dhprev_form(c, Wh), [c, Wh])
    dh = numeric(F.dh_dhprev_form(c, h, Wx, x, Wh), [c, h, x, Wx, Wh])
    dl = numeric(F.dl_dWx_term_form(g, c, x), [g, c, x])
    col = lambda v: np.asarray(v, float).reshape(-1, 1)  # noqa: E731
    return NumericForms(
        dc_dhprev=lambda cv, Whv: np.asarray(dc(col(cv), Whv), float),
        dh_dhprev=lambda cv, hv, xv, Wxv, Whv: np.asarray(dh(col(cv), col(hv), col(xv), Wxv, Whv), float),
        dl_dWx_term=lambda gv, cv, xv: np.asarray(dl(col(gv).T, col(cv), col(xv)), float),
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def step(x: np.ndarray, h: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
         ) -> tuple[np.ndarray, np.ndarray]:
    """One step in plain NumPy: ``(c[t], h[t])`` from ``x[t]`` and ``h[t-1]``."""
    c = sigmoid(Wc @ x + Wh @ h)
    return c, c * h + (1 - c) * (Wx @ x)


def forward(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
            h0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run the cell: ``hs[t] = h[t]`` (t = 0..K), ``cs[t-1] = c[t]``."""
    steps, size = xs.shape[0], Wh.shape[0]
    hs = np.zeros((steps + 1, size))
    if h0 is not None:
        hs[0] = h0
    cs = np.zeros((steps, size))
    for r in range(1, steps + 1):
        cs[r - 1], hs[r] = step(xs[r - 1], hs[r - 1], Wc, Wh, Wx)
    return hs, cs


def loss(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray, us: np.ndarray) -> float:
    """``l = sum_t u[t]^T h[t]``, the loss of the numeric checks."""
    hs, _ = forward(xs, Wc, Wh, Wx)
    return float(np.sum(us * hs[1:]))


def loss_from_state(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray, us: np.ndarray,
                    r: int, h_r: np.ndarray) -> float:
    """``l`` as a function of ``h[r]`` alone (the steps before are fixed)."""
    hs, _ = forward(xs, Wc, Wh, Wx)
    later, _ = forward(xs[r:], Wc, Wh, Wx, h0=h_r)
    return float(np.sum(us[: r - 1] * hs[1:r]) + np.sum(us[r - 1:] * later))


def total_gradients(forms: NumericForms, xs: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
                    us: np.ndarray, hs: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """``g[t] = dl/dh[t]`` (total) by the backward recursion with the derived step Jacobian.

    ``g[K] = u[K]^T``; ``g[t] = u[t]^T + g[t+1] dh[t+1]/dh[t]``. Row ``t-1`` of
    the result is ``g[t]``.
    """
    steps = xs.shape[0]
    gs = np.zeros_like(us)
    gs[steps - 1] = us[steps - 1]
    for r in range(steps - 1, 0, -1):  # g[r] from g[r + 1]
        J_next = forms.dh_dhprev(cs[r], hs[r], xs[r], Wx, Wh)  # dh[r+1]/dh[r]
        gs[r - 1] = us[r - 1] + gs[r] @ J_next
    return gs


def closed_dl_dWx(forms: NumericForms, xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray,
                  us: np.ndarray) -> np.ndarray:
    """``sum_t (g[t]^T (.) (1 - c[t])) x[t]^T`` with the total g[t]."""
    hs, cs = forward(xs, Wc, Wh, Wx)
    gs = total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    return sum(forms.dl_dWx_term(gs[r], cs[r], xs[r]) for r in range(xs.shape[0]))


def double_counted_dl_dWx(forms: NumericForms, xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray,
                          Wx: np.ndarray, us: np.ndarray) -> np.ndarray:
    """A common slip, for comparison: the BPTT products added on top of the TOTAL g[t].

    ``sum_t g[t] [D_t + sum_{r<t} (J[t] ... J[r+1]) D_r]`` with ``D_r`` step r's
    direct derivative: every path through later steps is already inside the
    total ``g[t]``, so this counts it again.
    """
    hs, cs = forward(xs, Wc, Wh, Wx)
    gs = total_gradients(forms, xs, Wh, Wx, us, hs, cs)
    out = np.zeros_like(Wx)
    for t in range(1, xs.shape[0] + 1):
        row = gs[t - 1]  # g[t] P(t, r), walking r down from t
        for r in range(t, 0, -1):
            out += forms.dl_dWx_term(row, cs[r - 1], xs[r - 1])
            if r > 1:
                row = row @ forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh)
    return out


# A gate entry is saturated outside (SATURATED, 1 - SATURATED): its slope c (1 - c) is below 0.0475
# (the figure's convention, :data:`.experiment.SATURATED`).
SATURATED = 0.05
# Draws of an instance before giving up (a degenerate draw is redrawn from the same generator).
ATTEMPTS = 100


def checked_step(steps: int) -> int:
    """The step t at which the step Jacobians are checked: :attr:`.derive.GatedRnnDerivation.step`."""
    return max(2, (steps + 1) // 2)


def degeneracy(xs: np.ndarray, Wc: np.ndarray, Wh: np.ndarray, Wx: np.ndarray) -> str | None:
    """Why a drawn instance would make a finite-difference check meaningless, or None.

    * every gate entry of c[t] at the checked step is saturated: the gate's derivative
      diag(c (1 - c)) W_h, the term the step Jacobians are about, is then below what the
      relative tolerance sees (and its finite differences are rounding noise);
    * every gate entry is closed (c > 1 - SATURATED) at every step: W_x x[t] barely enters
      h[t], so dl/dW_x is all but zero and its check passes vacuously.
    """
    _, cs = forward(xs, Wc, Wh, Wx)
    c = cs[checked_step(xs.shape[0]) - 1]
    if np.all((c < SATURATED) | (c > 1 - SATURATED)):
        return "saturated gates"
    if np.all(cs > 1 - SATURATED):
        return "closed gates (all-zero dl/dW_x)"
    return None


def instance(params: Any, seed: int) -> dict[str, Any]:
    """A random float64 instance: inputs, weights and the loss weights u[t].

    A degenerate draw (:func:`degeneracy`) is drawn again from the same generator, so the
    instance stays a function of the seed; ``redrawn`` counts the draws thrown away and
    ``reason`` says why (the check table's detail says so). A draw that never turns out
    usable in :data:`ATTEMPTS` raises ``ValueError`` rather than check a meaningless instance.
    """
    rng = np.random.default_rng(seed)
    N, M, steps = params.n, params.m, params.steps
    reasons: list[str] = []
    for _ in range(ATTEMPTS):
        xs, Wc, Wh, Wx, us = verify_mod.random_instance(rng, (steps, N), (M, N), (M, M), (M, N), (steps, M))
        reason = degeneracy(xs, Wc, Wh, Wx)
        if reason is None:
            return {"x": xs, "Wc": Wc, "Wh": Wh, "Wx": Wx, "u": us, "redrawn": len(reasons),
                    "reason": ", ".join(sorted(set(reasons)))}
        reasons.append(reason)
    raise ValueError(f"no usable check instance in {ATTEMPTS} draws (n = {N}, m = {M}, K = {steps}, seed {seed}): "
                     + ", ".join(sorted(set(reasons))))


def redraw_note(inst: dict[str, Any]) -> str:
    """The check detail's note on a redrawn instance (empty when the first draw was used)."""
    n = inst.get("redrawn", 0)
    return f", redrawn {n} time{'s' if n > 1 else ''} ({inst['reason']})" if n else ""


def closed_values(params: Any, r: int, inst: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The closed forms on the instance at step ``r`` (0-based arrays)."""
    forms = numeric_forms(params.n, params.m)
    xs, Wc, Wh, Wx, us = inst["x"], inst["Wc"], inst["Wh"], inst["Wx"], inst["u"]
    hs, cs = forward(xs, Wc, Wh, Wx)
    return {
        "dc_dhprev": forms.dc_dhprev(cs[r - 1], Wh),
        "dh_dhprev": forms.dh_dhprev(cs[r - 1], hs[r - 1], xs[r - 1], Wx, Wh),
        "g": total_gradients(forms, xs, Wh, Wx, us, hs, cs),
        "dl_dWx": closed_dl_dWx(forms, xs, Wc, Wh, Wx, us),
    }
