"""1.1(c): the derived element formulas against independent computations.

* the forward formula against a sliding-window NumPy implementation;
* (ii)-(iv) against central finite differences of that implementation;
* (iv) in its correlation form, and the chain rule against ``diff`` of the loss;
* (ii) and (iii) exactly against SymPy's brute-force Jacobian, while small.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np
import sympy as sp

from ... import verify as verify_mod
from ...registry import Verification
from ...symbolic import numeric
from .derive import W, c, derive, g, is_cached, m, n, p, x

# Exact SymPy checks are made when the explicit Jacobian has at most this many entries.
EXACT_LIMIT = 20000


class OneBased:
    """A 1-based, zero-outside view of a NumPy array, for lambdified element formulas."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __getitem__(self, idx: tuple[int, ...]) -> float:
        idx = tuple(int(i) - 1 for i in idx)
        if any(i < 0 or i >= s for i, s in zip(idx, self.array.shape)):
            return 0.0
        return float(self.array[idx])


@functools.lru_cache(maxsize=256)  # compiled once per formula in a process
def _element_function(expr: sp.Expr, indices: tuple[sp.Symbol, ...]) -> Callable[..., float]:
    return numeric(expr, indices + (x, W, g), modules="math")


def closed_forms(d: Any, xv: np.ndarray, Wv: np.ndarray, gv: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate the derived element formulas on arrays (0-based, numerator layout)."""
    C, L, K = d.params.channels, d.params.length, d.params.kernel
    Lo = d.L_out
    arrays = (OneBased(xv), OneBased(Wv), OneBased(gv))
    f_fn = _element_function(d.forward.doit(), (p,))
    dW_fn = _element_function(d.df_dW, (p, c, m))
    dx_fn = _element_function(d.df_dx, (p, c, n))
    dl_fn = _element_function(d.dl_dW.doit(), (c, m))
    f = np.array([[f_fn(pp, *arrays) for pp in range(1, Lo + 1)]])
    dW = np.zeros(d.shapes["df_dW"])
    dx = np.zeros(d.shapes["df_dx"])
    dl = np.zeros(d.shapes["dl_dW"])
    for pp in range(1, Lo + 1):
        for cc in range(1, C + 1):
            for mm in range(1, K + 1):
                dW[0, pp - 1, 0, cc - 1, mm - 1] = dW_fn(pp, cc, mm, *arrays)
            for nn in range(1, L + 1):
                dx[0, pp - 1, cc - 1, nn - 1] = dx_fn(pp, cc, nn, *arrays)
    for cc in range(1, C + 1):
        for mm in range(1, K + 1):
            dl[0, cc - 1, mm - 1] = dl_fn(cc, mm, *arrays)
    return {"f": f, "df_dW": dW, "df_dx": dx, "dl_dW": dl}


def reference_forward(params: Any, xv: np.ndarray, Wv: np.ndarray) -> np.ndarray:
    """An independent implementation: pad, dilate, slide (0-based NumPy), shape (1, L_out)."""
    K, S, D, P = params.kernel, params.stride, params.dilation, params.padding
    padded = np.pad(xv, ((0, 0), (P, P)))
    span = D * (K - 1) + 1
    starts = range(0, padded.shape[1] - span + 1, S)
    return np.array([[np.sum(Wv[0] * padded[:, s:s + span:D]) for s in starts]])


def reference_correlation(params: Any, spread_length: int, xv: np.ndarray, gv: np.ndarray) -> np.ndarray:
    """dl/dW as x (padded) correlated with g spread out by the stride, in NumPy."""
    spread = np.zeros(spread_length)
    spread[:: params.stride] = gv[0]
    padded = np.pad(xv, ((0, 0), (params.padding, params.padding)))
    D = params.dilation
    return np.array([[[np.dot(spread, padded[cc, mm * D: mm * D + spread_length])
                       for mm in range(params.kernel)] for cc in range(params.channels)]])


def instance(d: Any, seed: int) -> dict[str, np.ndarray]:
    """A random float64 instance (x, W, g) from a fixed seed."""
    rng = np.random.default_rng(seed)
    xv, Wv, gv = verify_mod.random_instance(rng, d.shapes["x"], d.shapes["W"], d.shapes["g"])
    return {"x": xv, "W": Wv, "g": gv}


def numeric_checks(d: Any, inst: dict[str, np.ndarray], values: dict[str, np.ndarray],
                   seed: int) -> list[verify_mod.Check]:
    xv, Wv, gv = inst["x"], inst["W"], inst["g"]
    prm = d.params
    detail = f"$C = {prm.channels}$, $L = {prm.length}$, seed {seed}"
    return [
        verify_mod.agreement("conv1d.f", r"$f_W(x)$ (i)", values["f"], reference_forward(prm, xv, Wv),
                             "sliding-window sum", detail=detail),
        verify_mod.finite_difference("conv1d.df_dW", r"$\partial f_W(x)/\partial W$ (ii)",
                                     lambda w: reference_forward(prm, xv, w), Wv, values["df_dW"], detail=detail),
        verify_mod.finite_difference("conv1d.df_dx", r"$\partial f_W(x)/\partial x$ (iii)",
                                     lambda v: reference_forward(prm, v, Wv), xv, values["df_dx"], detail=detail),
        verify_mod.finite_difference("conv1d.dl_dW", r"$\partial \ell/\partial W$ (iv)",
                                     lambda w: np.sum(gv * reference_forward(prm, xv, w)), Wv, values["dl_dW"],
                                     detail=detail),
        verify_mod.agreement("conv1d.dl_dW.correlation", r"$\partial \ell/\partial W$ as a correlation (iv)",
                             values["dl_dW"], reference_correlation(prm, d.spread_length, xv, gv),
                             "correlation with spread $g$", detail=detail),
    ]


def chain_rule_check(d: Any) -> verify_mod.Check:
    """(iv) as the chain rule through the sum over p equals ``diff`` of the loss itself."""
    C, K = d.params.channels, d.params.kernel
    chain = d.dl_dW.doit()
    closed = sp.Matrix(C, K, lambda r, q: chain.subs({c: r + 1, m: q + 1}))
    brute = sp.Matrix(C, K, lambda r, q: d.dl_dW_explicit.subs({c: r + 1, m: q + 1}))
    return verify_mod.exact("conv1d.dl_dW", r"$\partial \ell/\partial W$: chain rule (iv)", closed, brute,
                            detail=r"sum over $p$ vs. diff of the loss", shape=d.shapes["dl_dW"], case="chain-rule")


def zero_padding(expr: sp.Expr, length: int) -> sp.Expr:
    """Replace the entries x[c, n] with n outside 1..L by 0: they are the padding."""

    def pad(e: sp.Indexed) -> Any:
        return sp.S.Zero if (e.base == x and not 1 <= int(e.indices[1]) <= length) else e

    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Indexed), pad)


def exact_checks(d: Any) -> list[verify_mod.Check]:
    """(ii) and (iii) against SymPy's brute-force Jacobian of explicit symbols."""
    C, L, K = d.params.channels, d.params.length, d.params.kernel
    terms = d.forward.doit()  # the C K products, for symbolic p: expanded once, then each output
    f = sp.Matrix([[zero_padding(terms.subs(p, pp), L) for pp in range(1, d.L_out + 1)]])
    w_vars = [W[1, cc, mm] for cc in range(1, C + 1) for mm in range(1, K + 1)]
    x_vars = [x[cc, nn] for cc in range(1, C + 1) for nn in range(1, L + 1)]
    # Each formula is resolved once per (p, m) or (p, n) (the Piecewise's conditions
    # decided there); the channel c is then filled in: the same entries as
    # substituting all three at once, C times fewer conditions to decide.
    by_pm = {(i, mm): zero_padding(d.df_dW.subs({p: i + 1, m: mm + 1}), L) for i in range(d.L_out) for mm in range(K)}
    by_pn = {(i, nn): d.df_dx.subs({p: i + 1, n: nn + 1}) for i in range(d.L_out) for nn in range(L)}
    closed_W = sp.Matrix(d.L_out, len(w_vars), lambda i, k: by_pm[i, k % K].subs(c, k // K + 1))
    closed_x = sp.Matrix(d.L_out, len(x_vars), lambda i, k: by_pn[i, k % L].subs(c, k // L + 1))
    # Entries as plain symbols: SymPy differentiates with respect to a Symbol far
    # faster than with respect to an Indexed; the renaming is the same on both sides.
    plain = {e: sp.Symbol(f"{e.base}_{'_'.join(map(str, e.indices))}") for e in w_vars + x_vars}
    f, closed_W, closed_x = (mat.xreplace(plain) for mat in (f, closed_W, closed_x))
    detail = f"$C = {C}$, $L = {L}$, all entries"
    return [
        verify_mod.exact("conv1d.df_dW", r"$\partial f_W(x)/\partial W$ (ii)", closed_W,
                         f.jacobian([plain[e] for e in w_vars]), detail=detail, shape=d.shapes["df_dW"]),
        verify_mod.exact("conv1d.df_dx", r"$\partial f_W(x)/\partial x$ (iii)", closed_x,
                         f.jacobian([plain[e] for e in x_vars]), detail=detail, shape=d.shapes["df_dx"]),
    ]


def symbolic_checks(d: Any) -> list[verify_mod.Check]:
    """The checks that do not depend on the seed: exact (while small) and the chain rule."""
    prm = d.params
    checks = exact_checks(d) if prm.channels * prm.length * d.L_out <= EXACT_LIMIT else []
    return checks + [chain_rule_check(d)]


@functools.lru_cache(maxsize=64)
def _cached_symbolic_checks(params: Any) -> tuple[verify_mod.Check, ...]:
    return tuple(symbolic_checks(derive(params)))


def check(d: Any, evidence: Any, seed: int) -> Verification:
    """All checks of 1.1(c), and the instance with the closed forms' values.

    The exact checks of :func:`derive`'s own derivation are made once per
    parameter set in a process; any other derivation (a modified copy) is
    checked afresh.
    """
    inst = instance(d, seed)
    values = closed_forms(d, inst["x"], inst["W"], inst["g"])
    checks = numeric_checks(d, inst, values, seed)
    checks += list(_cached_symbolic_checks(d.params)) if is_cached(d) else symbolic_checks(d)
    arrays = {"conv1d.x": inst["x"], "conv1d.W": inst["W"], "conv1d.g": inst["g"], "conv1d.f": values["f"],
              "conv1d.df_dW": values["df_dW"], "conv1d.df_dx": values["df_dx"], "conv1d.dl_dW": values["dl_dW"]}
    return Verification(tuple(checks), arrays)
