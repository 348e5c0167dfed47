"""The exact (SymPy) checks of 1.2.1.

* general entries: for symbolic ``n``, ``m`` each matrix form's entry
  ``(i, j)`` equals SymPy's ``diff`` of the defining sums;
* small sizes: the step Jacobians against SymPy's ``jacobian`` of the
  explicit cell (:func:`.forms.explicit_step`), and ``dl/dW_x`` over two
  steps against ``diff`` of an explicit loss.

Exact comparisons involve nested sigmoids; instead of ``simplify`` they go
through :func:`derivations.symbolic.rational_difference`, which is exact and
fast enough to keep the checks at a fraction of a second.
"""
from __future__ import annotations

from typing import Any, Mapping

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from ... import verify as verify_mod
from ...symbolic import drop_guards, rational_difference
from . import forms as F
from .derive import GUARDS, GatedRnnDerivation
from .forms import C, G, HP, V, WH, X, a, b, i, j, m, n

GENERAL_DETAIL = "symbolic $n$, $m$: general entry vs. diff of the sums"
DC_LABEL = r"$\partial c[t]/\partial h[t-1]$"
DH_LABEL = r"$\partial h[t]/\partial h[t-1]$"
DL_LABEL = r"$\partial \ell/\partial W_x$"


def exact_zero(quantity: str, label: str, closed: sp.MatrixBase, brute: sp.MatrixBase, *, detail: str,
               shape: tuple, case: str = "") -> verify_mod.Check:
    """``verify.exact`` on the rational difference (see :func:`rational_difference`)."""
    difference = rational_difference(closed, brute)
    return verify_mod.exact(quantity, label, difference, sp.zeros(*difference.shape), detail=detail, shape=shape,
                            case=case)


# --------------------------------------------------------------------------
# General entries (symbolic n, m)


def canonical_deltas(expr: sp.Expr) -> sp.Expr:
    """Write every Kronecker delta as ``delta(d, 0)`` with one sign of ``d``.

    ``delta(i-1, j-1)``, ``delta(j, i)`` and ``delta(i, j)`` all become the same
    object, so shifted (0-based) entries compare equal to 1-based ones.
    """

    def canon(d: sp.KroneckerDelta) -> sp.Expr:
        diff = sp.expand(d.args[0] - d.args[1])
        return sp.KroneckerDelta(-diff if diff.could_extract_minus_sign() else diff, 0)

    return expr.replace(lambda e: isinstance(e, sp.KroneckerDelta), canon)


def to_entry(matrix_form: sp.Basic, row: sp.Expr, col: sp.Expr,
             bases: Mapping[sp.MatrixSymbol, sp.IndexedBase]) -> sp.Expr:
    """Entry (row, col) (1-based, symbolic) of a matrix form, in the Indexed objects.

    ``W_x x[t]`` is first renamed ``v`` so the comparison does not depend on
    how a sum's dummy index is shifted; entries of MatrixSymbols become
    1-based Indexed entries.
    """
    v_sym = sp.MatrixSymbol("v", m, 1)
    expr = matrix_form.subs(F.mul(F.W_x, F.x_t), v_sym)
    entry = expr[row - 1, col - 1].doit()
    bases = {**bases, v_sym: V}

    def convert(e: MatrixElement) -> sp.Basic:
        if e.parent not in bases:
            return e
        r0, c0 = e.indices
        if e.parent.shape[1] == 1:
            return bases[e.parent][r0 + 1]
        if e.parent.shape[0] == 1:
            return bases[e.parent][c0 + 1]
        return bases[e.parent][r0 + 1, c0 + 1]

    entry = entry.replace(lambda e: isinstance(e, MatrixElement), convert)
    return drop_guards(canonical_deltas(entry), GUARDS)


def general_specs(d: GatedRnnDerivation) -> dict[str, tuple[str, Any, tuple, sp.Expr, tuple]]:
    """quantity -> (label, matrix form or None (the entry form), (row, col), diff's entry, shape)."""
    ew = d.entrywise
    return {
        "gated_rnn.dc_dhprev": (DC_LABEL, d.dc_dhprev, (i, j), ew.dc_raw, d.shapes["dc_dhprev"]),
        "gated_rnn.dh_dhprev": (DH_LABEL, d.dh_dhprev, (i, j), ew.dh_raw, d.shapes["dh_dhprev"]),
        "gated_rnn.dh_dWx": (r"$\partial h[t]/\partial W_x$, $h[t-1]$ fixed", None, (i, a), ew.direct_raw,
                             (m, m, n)),
        "gated_rnn.dl_dWx": (DL_LABEL + ", one step", d.dl_dWx_term, (a, b), ew.dl_raw, d.shapes["dl_dWx"]),
    }


def general_check(d: GatedRnnDerivation, quantity: str) -> verify_mod.Check:
    """One form's general entry against SymPy's diff of the sums.

    The recognised entry is written back in the defining sums
    (``c_i = sigma(z_i)``, ``v_i = (W_x x)_i``); ``exp(-z_i)`` is then one atom
    on both sides.
    """
    ew = d.entrywise
    label, form, (row, col), raw, shape = general_specs(d)[quantity]
    bases = {F.c_t: C, F.h_prev: HP, F.W_h: WH, F.x_t: X, F.g_t: G}
    back = {C[row]: ew.c.subs(i, row), V[row]: ew.v.subs(i, row)}
    entry = to_entry(form, row, col, bases).xreplace(back) if form is not None else ew.direct_entry.xreplace(back)
    return exact_zero(quantity, label, sp.Matrix([[canonical_deltas(entry)]]), sp.Matrix([[canonical_deltas(raw)]]),
                      shape=shape, detail=GENERAL_DETAIL, case="general")


def general_checks(d: GatedRnnDerivation) -> list[verify_mod.Check]:
    return [general_check(d, quantity) for quantity in general_specs(d)]


# --------------------------------------------------------------------------
# Small sizes (explicit SymPy symbols)


def exact_step_checks(d: GatedRnnDerivation, N: int, M: int, which: tuple[str, ...] = ("dc", "dh"),
                      ) -> list[verify_mod.Check]:
    """The two step Jacobians against SymPy's ``jacobian`` of the explicit cell."""
    e = F.explicit_cell(N, M)
    c, h_new = F.explicit_step(e["Wc"], e["Wh"], e["Wx"], e["x"], e["h"])
    values = {F.c_t: c, F.h_prev: e["h"], F.x_t: e["x"], F.W_x: e["Wx"], F.W_h: e["Wh"]}
    detail, case, sub = f"$n = {N}$, $m = {M}$, all entries", f"n{N}m{M}", {n: N, m: M}
    out = []
    if "dc" in which:
        out.append(exact_zero("gated_rnn.dc_dhprev", DC_LABEL, F.explicit(d.dc_dhprev, values, N, M),
                              c.jacobian(e["h"]), detail=detail, case=case,
                              shape=tuple(s.subs(sub) for s in d.shapes["dc_dhprev"])))
    if "dh" in which:
        out.append(exact_zero("gated_rnn.dh_dhprev", DH_LABEL, F.explicit(d.dh_dhprev, values, N, M),
                              h_new.jacobian(e["h"]), detail=detail, case=case,
                              shape=tuple(s.subs(sub) for s in d.shapes["dh_dhprev"])))
    return out


def exact_dl_check(d: GatedRnnDerivation, N: int, M: int, steps: int) -> verify_mod.Check:
    """``dl/dW_x`` over ``steps`` steps against ``diff`` of ``l = sum_t u[t]^T h[t]``.

    The closed form gets the TOTAL g[t] from the backward recursion with the
    closed-form step Jacobian, exactly as in the answer. Lists are indexed by
    the step: ``hs[t] = h[t]`` (t = 0..K); ``xs``, ``us``, ``cs`` and ``gs``
    hold steps 1..K at positions 0..K-1.
    """
    e = F.explicit_cell(N, M)
    Wc, Wh, Wx = e["Wc"], e["Wh"], e["Wx"]

    def column(name: str, rows: int, r: int) -> sp.Matrix:
        return sp.Matrix([sp.Symbol(f"{name}{r}_{q + 1}") for q in range(rows)])

    xs = [column("x", N, r) for r in range(1, steps + 1)]
    us = [column("u", M, r) for r in range(1, steps + 1)]
    hs, cs = [sp.zeros(M, 1)], []
    for x in xs:
        c, h = F.explicit_step(Wc, Wh, Wx, x, hs[-1])
        hs.append(h)
        cs.append(c)
    ell = sum((u.T * h)[0, 0] for u, h in zip(us, hs[1:]))
    brute = sp.Matrix(M, N, lambda r, q: sp.diff(ell, Wx[r, q]))

    def step_jacobian(r: int) -> sp.Matrix:  # dh[r]/dh[r-1], closed form
        vals = {F.c_t: cs[r - 1], F.h_prev: hs[r - 1], F.x_t: xs[r - 1], F.W_x: Wx, F.W_h: Wh}
        return F.explicit(d.dh_dhprev, vals, N, M)

    gs = [sp.zeros(1, M)] * steps
    gs[-1] = us[-1].T  # g[K] = u[K]^T
    for r in range(steps - 1, 0, -1):  # g[r] = u[r]^T + g[r+1] dh[r+1]/dh[r]
        gs[r - 1] = us[r - 1].T + gs[r] * step_jacobian(r + 1)
    closed = sp.zeros(M, N)
    for g, c, x in zip(gs, cs, xs):
        closed += F.explicit(d.dl_dWx_term, {F.g_t: g, F.c_t: c, F.x_t: x}, N, M)
    return exact_zero("gated_rnn.dl_dWx", DL_LABEL, closed, brute, shape=(M, N), case=f"n{N}m{M}K{steps}",
                      detail=f"$n = {N}$, $m = {M}$, $K = {steps}$, " + r"$\ell = \sum_t u[t]^\top h[t]$")


def _share_symbols(N: int, M: int) -> dict:
    """Explicit symbols for g[t] (1 x m), c[t] (m x 1) and x[t] (n x 1): one step's share of dl/dW_x."""
    return {F.g_t: sp.Matrix(1, M, lambda _, q: sp.Symbol(f"g_{q + 1}")),
            F.c_t: sp.Matrix(M, 1, lambda r, _: sp.Symbol(f"c_{r + 1}")),
            F.x_t: sp.Matrix(N, 1, lambda r, _: sp.Symbol(f"x_{r + 1}"))}


def numerator_form_check(d: GatedRnnDerivation, N: int, M: int) -> verify_mod.Check:
    """The accepted n x m answer (strict numerator layout) is exactly the transpose of the boxed one."""
    values = _share_symbols(N, M)
    return exact_zero("gated_rnn.dl_dWx_numerator", DL_LABEL + r", $n \times m$ form of one step",
                      F.explicit(d.dl_dWx_numerator.function, values, N, M),
                      F.explicit(d.dl_dWx_term, values, N, M).T, shape=(N, M),
                      detail=f"$n = {N}$, $m = {M}$: against the transpose of the boxed form")


def outer_form_check(d: GatedRnnDerivation, N: int, M: int) -> verify_mod.Check:
    """The printed outer-product form of step t's share equals the boxed one (explicit symbols)."""
    values = _share_symbols(N, M)
    return exact_zero("gated_rnn.dl_dWx_outer", DL_LABEL + ", outer-product form of one step",
                      F.explicit(d.dl_dWx_outer.function, values, N, M), F.explicit(d.dl_dWx_term, values, N, M),
                      shape=(M, N), detail=f"$n = {N}$, $m = {M}$: against the boxed form, symbolic $g[t]$, $c[t]$, $x[t]$")
