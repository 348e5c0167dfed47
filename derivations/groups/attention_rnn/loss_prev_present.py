"""dl/dh[t-1] (:mod:`.loss_prev`): its template context and answers, printed once."""
from __future__ import annotations

from typing import Any

import sympy as sp

from ... import latex
from ...symbolic import Partial, Slash
from .loss_prev import LossPrevDerivation, tau
from .model import ell, ell_seq, h_seq, i, k, t


def reading_order(expr: sp.Expr, local: sp.Expr) -> str:
    """A written-out sum: the loss's own term first, then the readers in time order."""
    terms = list(sp.Add.make_args(expr))

    def when(term: sp.Expr) -> Any:
        if term == local:
            return -sp.oo
        factors = term.args if isinstance(term, sp.Mul) else (term,)
        return sp.expand(factors[-1].args[0].indices[0] - t)

    return " + ".join(latex.tex(term) for term in sorted(terms, key=when))


def _range(first: Any, last: Any) -> str:
    """``tau = t, ..., t + k - 1`` (or the listed steps of a concrete order)."""
    lo, hi = latex.tex(first), latex.tex(last)
    return rf"{latex.tex(tau)} = {lo}, \dots, {hi}" if lo != hi else rf"{latex.tex(tau)} = {lo}"


def order_context(d: LossPrevDerivation, order: int, name: str) -> dict[str, Any]:
    readers = d.by_order[order]
    return {
        "order": order, "name": name,
        "k_eq": latex.tex(sp.Eq(k, order)),
        "sum": reading_order(d.orders[order], d.local),
        "steps": ", ".join(f"${latex.tex(r.step)}$" for r in readers),
        "count": latex.cardinal(len(readers)),
        "steps_noun": "step" if len(readers) == 1 else "steps",
        "jacobians_noun": "reader's Jacobian" if len(readers) == 1 else "readers' Jacobians",
        "readers": [{
            "step": latex.tex(r.step), "lag": latex.tex(r.lag),
            "jac": latex.tex(r.jacobian[0]), "jac_rhs": latex.tex(r.jacobian[1], as_built=True),
            "g": latex.tex(r.gradient[0]), "g_rhs": latex.tex(r.gradient[1], as_built=True),
        } for r in readers],
    }


def prev_context(d: LossPrevDerivation, orders: dict[int, str], printed: int, variant: int) -> dict[str, Any]:
    """``orders``: order -> its name in the prose; ``printed``: the defined order, ``variant``: the variant's k."""
    by_order = {o: order_context(d, o, name) for o, name in orders.items()}
    first, last = d.readers_shown
    return {
        "lhs": latex.tex(Partial(ell, d.target)),
        "lhs_slash": latex.tex(Slash(ell, d.target)),
        "target": latex.tex(d.target),
        "local": latex.tex(Slash(ell_seq[t - 1], d.target)),
        "local_name": latex.tex(ell_seq[t - 1]),
        "link": latex.tex(d.link),
        "tau": latex.tex(tau),
        "source_of": latex.tex(h_seq[tau - i]),
        "reader_eq": latex.tex(sp.Eq(h_seq[tau - i], d.target)),
        "reader_of": latex.tex(sp.Eq(tau, d.reader_of)),
        "lag_range": f"{latex.tex(i)} = 1, \\dots, {latex.tex(k)}",
        "steps": _range(first, last),
        "general": latex.tex(d.general_shown),
        "truncated": latex.tex(d.truncated_shown),
        "valid": latex.tex(d.valid[0]) + r" \text{ and } " + latex.tex(d.valid[1]),
        "loss_def": latex.tex(d.loss, as_built=True),
        "shape": latex.shape(d.shape),
        "row_dims": latex.dims(d.shape),
        "printed": by_order[printed],
        "variant": by_order[variant],
    }


def prev_answers(d: LossPrevDerivation, ctx: dict[str, Any]) -> dict[str, Any]:
    """answers.json entries of attn_dl_dhprev: the worked order's sum, the general one, the readers' Jacobians."""
    return {
        "attention_rnn.dl_dhprev.latex": ctx["printed"]["sum"],
        "attention_rnn.dl_dhprev.general.latex": ctx["general"],
        "attention_rnn.dl_dhprev.truncated.latex": ctx["truncated"],
        "attention_rnn.dl_dhprev.jacobians.latex": r" \\ ".join(f"{r['jac']} = {r['jac_rhs']}"
                                                             for r in ctx["printed"]["readers"]),
        "attention_rnn.dl_dhprev.shape": [s if isinstance(s, int) else str(s) for s in d.shape],
    }
