"""1.2.2: template context and answers, printed once from the derivation (no derivation here).

Every formula, size and order the templates show comes from here: the orders
as entries (``printed``: the AttentionRNN(k) the question defines and asks
about, ``variant``: the variant's k, ``by_order``: each), never indexed by a
typed-in number. The presentation reads only the derivation, so it is printed
once per derivation (its memo), i.e. once per structure (k, n) in a process.
"""
from __future__ import annotations

from typing import Any

import sympy as sp

from ... import latex
from ...registry import Presentation, Verification
from ...symbolic import Bracket, Paren, Partial, Slash
from .derive import MAX_DEFINED, AttentionRnnDerivation, memoized
from .loss_prev_present import prev_answers, prev_context
from .model import MAPS, J_sym, SystemLine, T, V_stack, a_vec, ell, ell_seq, h_now, h_seq, i, j, k, l, rename_lag, \
    source, t

# Written-out systems and sums fit the page up to the largest order the question defines.
MAX_WRITTEN_OUT = MAX_DEFINED
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


def model_name(order: Any) -> str:
    """``AttentionRNN(2)``: the model's name in the prose."""
    return f"AttentionRNN({order})"


def noun(count: int, singular: str, plural: str) -> str:
    """The noun that agrees with ``count`` (the words themselves are the template's)."""
    return singular if count == 1 else plural


def _equation(sides: tuple[sp.Basic, sp.Basic], lag: Any) -> str:
    """``lhs = rhs`` of a generic-lag pair, for the given lag."""
    lhs, rhs = (rename_lag(side, lag) for side in sides)
    return tex_matrix_expr(sp.Eq(lhs, rhs, evaluate=False))


def _lag_context(d: AttentionRnnDerivation, lag: Any, order: Any) -> dict[str, str]:
    """The step Jacobian and its ingredients printed for one lag."""
    src = source(lag)
    st = d.statements.step
    return {
        "lag": latex.tex(lag),
        "value_def": _equation(st.value_def, lag),
        "weighted": tex_matrix_expr(rename_lag(st.weighted_value, lag)),
        "gradient_def": _equation(st.gradient_def, lag),
        "score_slope": _equation(st.score_slope, lag),
        "score_row": latex.dims(st.score_row),
        "J_column": tex_matrix_expr(rename_lag(st.softmax_column, lag)),
        "jac": tex_matrix_expr(rename_lag(st.jacobian, lag)),
        "jac_slash": tex_matrix_expr(rename_lag(st.jacobian_slash, lag)),
        "loss_slash": tex_matrix_expr(rename_lag(st.loss_slash, lag)),
        "g_T": tex_matrix_expr(src.g.T),
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
        "loss_link": latex.tex(rename_lag(st.loss_link, lag).xreplace({j: lag})),
    }


def _diagram(d: AttentionRnnDerivation) -> dict[str, Any]:
    """Labels (printed from the model's symbols) and positions of the diagram's nodes."""
    order = d.diagram_order
    spacing = DIAGRAM_SPACING[order]
    right = order * spacing
    sum_x = right + 2.9
    srcs = []
    for ii in range(d.a_dim[order]):
        s, x0 = source(ii), ii * spacing
        srcs.append({
            "index": ii, "x": x0, "qx": x0 - 0.75, "kx": x0 + 0.75,
            "s": tex_matrix_expr(s.s), "Q": latex.tex(s.Q), "K": latex.tex(s.K), "V": latex.tex(s.V),
            "v": latex.tex(s.v), "w": latex.tex(s.w), "score": tex_matrix_expr(s.q.T * s.k),
            # Value lanes: the leftmost column runs lowest and turns up last, so no lines cross.
            "lane": round(-2.1 - LANE_GAP * (order - ii), 2),
            "turn": round(sum_x - LANE_GAP * (order / 2 - (order - ii)), 2),
        })
    # The delay line: each delayed state is fed back (dashed) into the source it becomes.
    # Feedback lanes run below everything; the one for the farthest source lies lowest
    # and turns right of the others, so feedback lines never cross each other.
    bottom = min(-2.1 - 1.9 * (order - 1), min(s["lane"] for s in srcs))
    delays = [{"index": lag, "prev": lag - 1, "label": tex_matrix_expr(source(lag).s),
               "z_y": round(-1.1 - 1.9 * (lag - 1), 2), "y": round(-2.1 - 1.9 * (lag - 1), 2),
               "route_x": round(sum_x + 2.0 + 0.9 + 0.3 * (order - lag), 2),
               "feed_y": round(bottom - 0.4 * (order - lag + 1), 2)}
              for lag in range(1, order + 1)]
    return {
        "order": order, "name": model_name(order), "states_word": latex.cardinal(order),
        "states_noun": noun(order, "state", "states"),
        "sources": srcs, "left": -1.3, "right": round(right + 1.3, 2),
        "soft_x": round(right / 2, 2), "soft_width": round(right + 2.6, 2),
        "sum_x": round(sum_x, 2), "h_x": round(sum_x + 2.0, 2),
        "a": latex.tex(a_vec), "a_shape": latex.shape((d.a_dim[order],)), "h": latex.tex(h_now),
        "score_count": d.a_dim[order],
        "sum": _tex_any(d.systems[order][-1].rhs[0]), "delays": delays, "width_cm": round(sum_x + 2.6 + 1.3, 1),
    }


def _order(d: AttentionRnnDerivation, order: int) -> dict[str, Any]:
    """What the text shows of one concrete order: its sizes, scores, system and sums."""
    return {
        "order": order,
        "name": model_name(order),
        "k_eq": latex.tex(sp.Eq(k, order)),
        "k_tag": latex.tex(Paren(sp.Eq(k, order))),
        "states_word": latex.cardinal(order),
        "states_noun": noun(order, "state", "states"),
        "weights_word": latex.cardinal(d.a_dim[order]),
        "a_dim": d.a_dim[order],
        "a_shape": latex.shape((d.a_dim[order],)),
        "scores": latex.tex(Bracket(*d.scores[order])),
        "system": [_line(line) for line in d.systems[order]],
        "untied": d.matrices_untied[order],
        "dl": _local_first(d.dl_dhT_orders[order]),
    }


def context(d: AttentionRnnDerivation) -> dict[str, Any]:
    prm = d.params
    K, P = prm.k, d.printed_order
    st = d.statements
    by_order = [_order(d, o) for o in d.orders]
    printed = by_order[d.orders.index(P)]
    variant = by_order[d.orders.index(K)]
    return {
        "k": K, "n": prm.n,
        "k_eq": variant["k_eq"],
        "by_order": by_order,
        "shown": [o for o in by_order if o["order"] <= MAX_WRITTEN_OUT],
        "printed": printed, "variant": variant,
        "base": {"eq": latex.tex(st.base_case[0]), "cond": latex.tex(st.base_case[1])},
        # (a)
        "a_dim_general": latex.tex(d.a_dim_general),
        "a_shape_general": latex.shape((d.a_dim_general,)),
        # (b)
        "system_general": [_line(line) for line in d.system_general],
        "maps_generic": latex.tex(st.maps_generic),
        "maps_range": index_range(*st.maps_range),
        "input_source": latex.tex(st.maps_range[1]),  # source 0 is the input
        "maps_shape": latex.shape(st.maps_shape),
        "maps_dims": latex.dims(st.maps_shape),
        "vector_shape": latex.shape(st.vector_shape),
        # (c)
        "system_infinity": [_line(line) for line in d.system_infinity],
        "per_source_word": latex.cardinal(len(MAPS)),
        "untied_general": latex.tex(d.matrices_untied_product),
        "inf_states": tex_matrix_expr(st.infinity_states),
        "inf_last_state": latex.tex(st.infinity_last_state),
        "before_first": {"eq": latex.tex(st.before_first[0]), "cond": latex.tex(st.before_first[1])},
        "zero_score": latex.tex(st.zero_score),
        "tied_input_maps": latex.tex(st.tied_input_maps),
        "tied_state_maps": latex.tex(st.tied_state_maps),
        "inf_step_count": latex.tex(d.matrices_infinity_step),
        "inf_limit": latex.tex(d.matrices_infinity_limit),
        "inf_sources": latex.tex(d.infinity_sources),
        "tied": d.matrices_tied,
        "tied_shared": d.matrices_tied_shared_input,
        "tied_maps": ", ".join(latex.tex(M) for M in d.tied_maps),
        "a_shape_infinity": latex.shape((d.infinity_sources,)),
        # (d)
        "dh": _lag_context(d, d.printed_lag, P),
        "general": _lag_context(d, j, K),
        "J": latex.tex(J_sym),
        "J_form": tex_matrix_expr(d.softmax_form),
        "J_slash": latex.tex(st.softmax_slash),
        "J_entry": latex.tex(d.softmax_entry_factored),
        "J_entry_lhs": latex.tex(Slash(source(i).a, source(l).w)),
        "J_explicit": latex.matrix([[latex.tex(e) for e in row] for row in d.softmax_factored.tolist()]),
        "column_sum": latex.tex(d.column_sum),
        "h_sum": _tex_any(d.systems[P][-1].rhs[0]),
        "loss_def": tex_matrix_expr(d.loss),
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
            "total": _local_first(d.dl_dhT_total),
            "infinity": _local_first(d.dl_dhT_infinity),
            "lag_range": index_range(j, d.direct_lags[0], d.direct_lags[1]),
            "steps": index_range(t, T + d.direct_lags[0], T + d.direct_lags[1]),
            "later": latex.tex(st.later),
            "lag": tex_matrix_expr(st.lag),
            "lag_eq": tex_matrix_expr(st.lag_equation),
            "local": latex.tex(Slash(ell_seq[T], h_seq[T])),
            "lhs": latex.tex(Partial(ell, h_seq[T])),
            "shape": latex.shape(d.shapes["dl_dhT"]),
            "row_dims": latex.dims(d.shapes["dl_dhT"]),
            "jac_dims": latex.dims(d.shapes["dh_dhprev"]),
        },
        "diagram": _diagram(d),
        # attn_dl_dhprev
        "prev": prev_context(d.prev, {o["order"]: o["name"] for o in by_order}, P, K),
    }


def answers(d: AttentionRnnDerivation, ctx: dict[str, Any]) -> dict[str, Any]:
    """The answers.json entries: numbers from the derivation, LaTeX as printed in ``ctx``.

    ``attention_rnn.a.shape`` and ``matrices_untied`` are the variant's k; the entries
    suffixed ``.k<order>`` are the defined AttentionRNN(k) the question asks about (the same
    for k <= MAX_DEFINED, AttentionRNN(2) beyond it).
    """
    K, P = d.params.k, d.printed_order
    return {
        "attention_rnn.diagram.sources": [src["s"] for src in ctx["diagram"]["sources"]],
        "attention_rnn.a.shape": [d.a_dim[K]],
        f"attention_rnn.a.shape.k{P}": [d.a_dim[P]],
        "attention_rnn.a.shape.latex": ctx["a_dim_general"],
        "attention_rnn.dh_dhprev.shape": [str(s) for s in d.shapes["dh_dhprev"]],
        "attention_rnn.dl_dhT.shape": [s if isinstance(s, int) else str(s) for s in d.shapes["dl_dhT"]],
        "attention_rnn.matrices_untied": d.matrices_untied[K],
        f"attention_rnn.matrices_untied.k{P}": d.matrices_untied[P],
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
        **prev_answers(d.prev, ctx["prev"]),
    }


def questions(d: AttentionRnnDerivation) -> dict[str, tuple[str, ...]]:
    """Which answers.json entries answer which question (keys of :func:`answers`).

    The keys are the same for every defined order (k <= MAX_DEFINED), so a class set's table has
    the same columns whatever k each student drew; beyond it, (b) asks about a[t] of AttentionRNN(2).
    """
    K, P = d.params.k, d.printed_order
    return {
        "attn_diagram": ("attention_rnn.diagram.sources",),
        "attn_a_dim": ("attention_rnn.a.shape" if K == P else f"attention_rnn.a.shape.k{P}",
                       "attention_rnn.a.shape.latex"),
        "attn_k": ("attention_rnn.k.latex",),
        "attn_infinity": ("attention_rnn.infinity.latex", "attention_rnn.matrices_tied",
                          "attention_rnn.matrices_tied_shared_input", "attention_rnn.matrices_infinity.latex"),
        "attn_dh_dhprev": ("attention_rnn.dh_dhprev.latex", "attention_rnn.dh_dhprev.simplified.latex",
                           "attention_rnn.score_grad.latex", "attention_rnn.dh_dhprev.shape"),
        "attn_dl_dhprev": ("attention_rnn.dl_dhprev.latex", "attention_rnn.dl_dhprev.general.latex",
                           "attention_rnn.dl_dhprev.truncated.latex", "attention_rnn.dl_dhprev.jacobians.latex",
                           "attention_rnn.dl_dhprev.shape"),
        "attn_dl_dhT": ("attention_rnn.dl_dhT.latex", "attention_rnn.dl_dhT.total.latex",
                        "attention_rnn.dl_dhT.shape"),
    }


def present(d: AttentionRnnDerivation, evidence: Any, verification: Verification) -> Presentation:
    """The context and answers, printed from the derivation alone: once per derivation (its memo)."""
    def build() -> Presentation:
        ctx = context(d)
        return Presentation(context=ctx, answers=answers(d, ctx), questions=questions(d))

    return memoized(d, "presentation", build)
