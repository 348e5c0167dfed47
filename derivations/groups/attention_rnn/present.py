"""1.2.2: template context and answers, printed once from the derivation (no derivation here)."""
from __future__ import annotations

from typing import Any

import sympy as sp

from ... import latex
from ...registry import Presentation, Verification
from ...symbolic import Bracket, Partial, Slash, Small
from .derive import AttentionRnnDerivation
from .model import J_sym, SystemLine, T, T_end, V_stack, a_vec, ell, ell_seq, h_now, h_seq, i, j, k, l, n, \
    lagged, rename_lag, source, t

# Written-out systems and sums fit the page up to k = 3; larger k stay in the general form.
MAX_WRITTEN_OUT = 3
# Diagram geometry (cm): column spacing per order, keeping the figure inside a
# 16.6 cm text width (A4 with 2.2 cm margins).
DIAGRAM_SPACING = {1: 4.6, 2: 4.4, 3: 3.1}
LANE_GAP = 0.35


def tex_matrix_expr(expr: Any) -> str:
    """Matrix expressions keep the order in which they were built."""
    return latex.tex(expr, as_built=True)


def _tex_any(expr: Any) -> str:
    """Matrix expressions in construction order, everything else in the default order."""
    return tex_matrix_expr(expr) if isinstance(expr, sp.MatrixExpr) else latex.tex(expr)


def index_range(index: sp.Symbol, lo: Any, hi: Any) -> str:
    r"""``i = lo, \dots, hi`` (or ``i = lo`` when the range has one element)."""
    lo, hi = sp.sympify(lo), sp.sympify(hi)
    if lo == hi:
        return f"{latex.tex(index)} = {latex.tex(lo)}"
    if lo.is_Integer and hi.is_Integer and hi - lo <= 2:  # short ranges are listed
        return f"{latex.tex(index)} = " + ", ".join(latex.tex(v) for v in range(int(lo), int(hi) + 1))
    return f"{latex.tex(index)} = {latex.tex(lo)}, \\dots, {latex.tex(hi)}"


def _line(line: SystemLine) -> dict[str, str]:
    lhs = ", ".join(_tex_any(e) for e in line.lhs)
    rhs = ", ".join(_tex_any(e) for e in line.rhs)
    where = index_range(*line.where) if line.where else ""
    return {"lhs": lhs, "rhs": rhs, "where": where, "tex": lhs + " = " + rhs + (r", \quad " + where if where else "")}


def _local_first(expr: sp.Expr) -> str:
    """A loss gradient printed with the local term dl[T]/dh[T] first, then the later steps."""
    local = Partial(ell_seq[T], h_seq[T])
    rest = [a for a in sp.Add.make_args(expr) if a != local]
    if len(rest) == len(sp.Add.make_args(expr)):
        return latex.tex(expr)
    return latex.tex(local) + " + " + latex.tex(sp.Add(*rest))


def _factored(entry: sp.Expr) -> str:
    """A softmax-Jacobian entry a_r (delta - a_c) printed as a_r (1 - a_r) or -a_r a_c.

    The common factor is pulled out; the bracket is printed in reading order
    (the Kronecker delta or 1 first).
    """
    head, rest = sp.factor_terms(entry).as_independent(sp.Add)
    if not isinstance(rest, sp.Add):
        return latex.tex(entry)
    first = [a for a in rest.args if a.is_number or isinstance(a, sp.KroneckerDelta)]
    others = [a for a in rest.args if a not in first]
    bracket = latex.tex(sp.Add(*first, *others, evaluate=False), as_built=True)
    return latex.tex(head) + r"\left(" + bracket + r"\right)"


def _lag_context(d: AttentionRnnDerivation, lag: Any, order: Any) -> dict[str, str]:
    """The step Jacobian and its ingredients printed for one lag."""
    src = source(lag)
    return {
        "prev": tex_matrix_expr(src.s),
        "a": latex.tex(src.a),
        "v": latex.tex(src.v),
        "V": latex.tex(src.V),
        "g_name": latex.tex(src.g),
        "e": latex.tex(src.e),
        "w": latex.tex(src.w),
        "score_qk": tex_matrix_expr(src.q.T * src.k),
        "score": tex_matrix_expr(rename_lag(d.score, lag)),
        "g": tex_matrix_expr(rename_lag(d.score_grad, lag)),
        "slip": tex_matrix_expr(rename_lag(d.score_grad_slip, lag)),
        "value": tex_matrix_expr(rename_lag(d.value_term, lag)),
        "column": tex_matrix_expr(rename_lag(d.column, lag)),
        "column_simplified": tex_matrix_expr(rename_lag(d.column_simplified, lag)),
        "stack": tex_matrix_expr(rename_lag(d.step_jacobian, lag)),
        "simplified": tex_matrix_expr(rename_lag(d.step_jacobian_simplified, lag)),
        "range": index_range(j, 1, order) if lag == j else "",
        "QtK": tex_matrix_expr(src.Q.T * src.K),
        "loss_link": latex.tex(Small(ell, h_seq[t]) * Small(h_seq[t], h_seq[lagged(lag)])),
    }


def _diagram(d: AttentionRnnDerivation) -> dict[str, Any]:
    """Labels (printed from the model's symbols) and positions of the diagram's nodes."""
    order = d.diagram_order
    spacing = DIAGRAM_SPACING[order]
    right = order * spacing
    sum_x = right + 2.9
    srcs = []
    for ii in range(order + 1):
        s, x0 = source(ii), ii * spacing
        srcs.append({
            "index": ii, "x": x0, "qx": x0 - 0.75, "kx": x0 + 0.75,
            "s": tex_matrix_expr(s.s), "Q": latex.tex(s.Q), "K": latex.tex(s.K), "V": latex.tex(s.V),
            "v": latex.tex(s.v), "w": latex.tex(s.w), "score": tex_matrix_expr(s.q.T * s.k),
            # Value lanes: the leftmost column runs lowest and turns up last, so no lines cross.
            "lane": round(-2.1 - LANE_GAP * (order - ii), 2),
            "turn": round(sum_x - LANE_GAP * (order / 2 - (order - ii)), 2),
        })
    delays = [{"index": lag, "label": tex_matrix_expr(source(lag).s),
               "z_y": round(-1.1 - 1.9 * (lag - 1), 2), "y": round(-2.1 - 1.9 * (lag - 1), 2)}
              for lag in range(1, order + 1)]
    return {
        "order": order, "sources": srcs, "left": -1.3, "right": round(right + 1.3, 2),
        "soft_x": round(right / 2, 2), "soft_width": round(right + 2.6, 2),
        "sum_x": round(sum_x, 2), "h_x": round(sum_x + 2.0, 2),
        "a": latex.tex(a_vec), "a_shape": latex.shape((order + 1,)), "h": latex.tex(h_now),
        "sum": _tex_any(d.systems[order][-1].rhs[0]), "delays": delays, "width_cm": round(sum_x + 2.6 + 1.3, 1),
    }


def context(d: AttentionRnnDerivation) -> dict[str, Any]:
    prm = d.params
    K, P = prm.k, d.printed_order
    systems = {o: [_line(line) for line in d.systems[o]] for o in d.orders}
    shown = [o for o in d.orders if o <= MAX_WRITTEN_OUT]
    column_entry = _factored(d.column_entry)
    return {
        "k": K, "n": prm.n, "orders": list(d.orders), "orders_shown": shown,
        "other": K != P and K <= MAX_WRITTEN_OUT,
        "k_symbol": latex.tex(k),
        # (a)
        "a_dim": {o: d.a_dim[o] for o in d.orders},
        "a_dim_general": latex.tex(d.a_dim_general),
        "a_shape": {o: latex.shape((d.a_dim[o],)) for o in d.orders},
        "a_shape_general": latex.shape((d.a_dim_general,)),
        "scores": {o: latex.tex(Bracket(*d.scores[o])) for o in d.orders},
        # (b)
        "system": systems,
        "system_general": [_line(line) for line in d.system_general],
        "maps_shape": latex.shape((n, n)),
        "vector_shape": latex.shape((n,)),
        # (c)
        "system_infinity": [_line(line) for line in d.system_infinity],
        "untied": {o: d.matrices_untied[o] for o in d.orders},
        "untied_general": latex.tex(d.matrices_untied_product),
        "inf_step_count": latex.tex(d.matrices_infinity_step),
        "inf_limit": latex.tex(d.matrices_infinity_limit),
        "inf_sources": latex.tex(d.infinity_sources),
        "tied": d.matrices_tied,
        "tied_shared": d.matrices_tied_shared_input,
        "tied_maps": ", ".join(latex.tex(M) for M in d.tied_maps),
        "a_shape_infinity": latex.shape((t,)),
        # (d)
        "dh": _lag_context(d, d.printed_lag, P),
        "general": _lag_context(d, j, K),
        "J": latex.tex(J_sym),
        "J_form": tex_matrix_expr(d.softmax_form),
        "J_entry": _factored(d.softmax_entry),
        "J_entry_lhs": latex.tex(Slash(source(i).a, source(l).w)),
        "J_explicit": latex.matrix([[_factored(e) for e in row] for row in d.softmax_jacobian[P].tolist()]),
        "column_sum": (r"\sum_{" + latex.tex(sp.Eq(i, 0)) + "}^{" + latex.tex(P) + "} "
                       + column_entry + r"\, " + latex.tex(source(i).v)),
        "h_sum": _tex_any(d.systems[P][-1].rhs[0]),
        "loss_def": latex.tex(sp.Sum(sp.Symbol(tex_matrix_expr(d.loss_term)), (t, T, T_end))),
        "J_column": column_entry,
        "J_shape": latex.shape(d.shapes["J"]),
        "V_stack": latex.tex(V_stack),
        "V_stack_def": latex.tex(Bracket(*d.value_vectors)),
        "V_stack_shape": latex.shape(d.shapes["V_stack"]),
        "e1_def": latex.tex(d.unit),
        "h": latex.tex(h_now),
        "a_vec": latex.tex(a_vec),
        "dh_shape": latex.shape(d.shapes["dh_dhprev"]),
        # (e)
        "dl": {
            "general": _local_first(d.dl_dhT),
            "truncated": _local_first(d.dl_dhT_truncated),
            "orders": {o: _local_first(d.dl_dhT_orders[o]) for o in shown},
            "total": _local_first(d.dl_dhT_total),
            "infinity": _local_first(d.dl_dhT_infinity),
            "lag_range": index_range(j, d.direct_lags[0], d.direct_lags[1]),
            "lower": latex.tex(T + d.direct_lags[0]),
            "upper": latex.tex(T + d.direct_lags[1]),
            "local": latex.tex(Slash(ell_seq[T], h_seq[T])),
            "lhs": latex.tex(Partial(ell, h_seq[T])),
            "shape": latex.shape(d.shapes["dl_dhT"]),
            "direct_term": latex.tex(Partial(ell, h_seq[t]) * Partial(h_seq[t], h_seq[T])),
        },
        "diagram": _diagram(d),
    }


def answers(d: AttentionRnnDerivation, ctx: dict[str, Any]) -> dict[str, Any]:
    """The answers.json entries: numbers from the derivation, LaTeX as printed in ``ctx``."""
    K, P = d.params.k, d.printed_order
    return {
        "attention_rnn.a.shape": [d.a_dim[K]],
        "attention_rnn.a.shape.k2": [d.a_dim[P]],
        "attention_rnn.a.shape.latex": ctx["a_dim_general"],
        "attention_rnn.dh_dhprev.shape": [str(s) for s in d.shapes["dh_dhprev"]],
        "attention_rnn.dl_dhT.shape": [s if isinstance(s, int) else str(s) for s in d.shapes["dl_dhT"]],
        "attention_rnn.matrices_untied": d.matrices_untied[K],
        "attention_rnn.matrices_untied.k2": d.matrices_untied[P],
        "attention_rnn.matrices_tied": d.matrices_tied,
        "attention_rnn.matrices_tied_shared_input": d.matrices_tied_shared_input,
        "attention_rnn.matrices_infinity.latex": ctx["inf_step_count"],
        "attention_rnn.k.latex": r" \\ ".join(line["tex"] for line in ctx["system_general"]),
        "attention_rnn.infinity.latex": r" \\ ".join(line["tex"] for line in ctx["system_infinity"]),
        "attention_rnn.dh_dhprev.latex": ctx["dh"]["stack"],
        "attention_rnn.dh_dhprev.simplified.latex": ctx["dh"]["simplified"],
        "attention_rnn.score_grad.latex": ctx["dh"]["g"],
        "attention_rnn.dh_dhlag.latex": ctx["general"]["simplified"],
        "attention_rnn.dl_dhT.latex": ctx["dl"]["general"],
        "attention_rnn.dl_dhT.total.latex": ctx["dl"]["total"],
    }


def present(d: AttentionRnnDerivation, evidence: Any, verification: Verification) -> Presentation:
    ctx = context(d)
    return Presentation(context=ctx, answers=answers(d, ctx))
