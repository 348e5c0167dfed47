"""The derivation of 1.2.2 AttentionRNN(k): SymPy only (no checks, no numbers, no printing).

The question defines and asks about AttentionRNN(k) for the variant's k while
``k <= MAX_DEFINED`` (its written-out system and diagram fit the page), and about
AttentionRNN(2) beyond that, with k named in the general answers
(:func:`defined_order`). The derivation depends only on the parameters (k, n),
so :func:`derive` is cached per structure: a class set of variants that share
(k, n) derives once per process, and the seed-free results computed from a
derivation (exact checks, compiled closed forms, the presentation) are kept in
its ``memo`` (:func:`memoized`), which a derivation built with
``dataclasses.replace`` starts afresh, so a modified derivation is always
checked anew.

The derivation is done on SymPy matrix expressions (``MatrixSymbol``): the score
gradient is SymPy's own matrix derivative of ``(Q_j s_j)^T (K_j s_j)``, the value
path is the derivative of ``a_j V_j s_j``, and the softmax Jacobian is obtained by
differentiating the exponential form and writing the result back in ``a``. The
step Jacobian is stored once, for a generic lag ``j``; the printed answer for the
defined AttentionRNN(k) is that expression with ``j = 1``, and :mod:`.check` evaluates the very
same stored expressions (numerically through ``lambdify``, exactly by substituting
explicit symbol matrices), so a wrong stored formula fails its checks.

The one closed form of the softmax Jacobian is ``diag(a) - a a^T``
(``softmax_form``); its entry ``a_i (delta_il - a_l)`` is read off that form, and
the Jacobian differentiated from the exponentials (``softmax_jacobian``) is kept
beside it for :mod:`.check` to compare.

Layout: numerator. ``dh[t]/dh[t-j]`` is ``n x n``; ``dl/dh[T]`` is a ``1 x n`` row.

:class:`Statements` and :class:`LagStatements` hold the other formulas the text
states (base cases, ranges, definitions of the worked answer's pieces) as SymPy
objects and notation from :mod:`derivations.symbolic`; the templates type none.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from ...symbolic import DOTS, Diag, Factored, Gradient, Listing, Partial, Slash, Small, Total
from .loss_prev import LossPrevDerivation, derive_loss_prev
from .model import (MAPS, J_sym, SystemLine, T, T_end, V_stack, a_vec, ell, ell_seq, h_now, h_seq, i, j, k, l, n,
                    lagged, last_source, source, source_range, system, t, u_now, w_vec)

# The question defines AttentionRNN(k) for the variant's k up to MAX_DEFINED (the written-out
# system and the diagram fit the page); beyond it, the homework's AttentionRNN(FALLBACK_ORDER).
MAX_DEFINED = 3
FALLBACK_ORDER = 2
# The lag the question prints explicitly: dh[t]/dh[t-1].
PRINTED_LAG = 1


def defined_order(k_value: int) -> int:
    """The order the question defines and asks about: the variant's k, or the fallback beyond MAX_DEFINED."""
    return k_value if k_value <= MAX_DEFINED else FALLBACK_ORDER


def memoized(holder: Any, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``holder`` (a derivation) and ``key``: the seed-free work on a derivation.

    The memo belongs to the object, not to its parameters: a derivation changed with
    ``dataclasses.replace`` gets an empty memo, so its checks run on what it holds.
    """
    memo = holder.memo
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@dataclass(frozen=True)
class LagStatements:
    """The pieces of the worked Jacobian the text names, for the generic lag ``j``.

    Pairs are the two sides of an equation; :func:`.model.rename_lag` gives any lag.
    """

    value_def: tuple[sp.Basic, sp.Basic]  # v_j = V_j s_j
    weighted_value: sp.MatrixExpr  # a_j v_j
    gradient_def: tuple[sp.Basic, sp.Basic]  # g_j = nabla_{s_j} w_j
    score_slope: tuple[sp.Basic, sp.Basic]  # dw_j/ds_j = g_j^T
    score_row: tuple[Any, ...]  # its shape, 1 x n
    softmax_column: sp.MatrixExpr  # J e_j
    jacobian: sp.Expr  # dh[t]/dh[t-j] (display)
    jacobian_slash: sp.Expr  # the same inline
    loss_slash: sp.Expr  # dl/dh[t-j]
    loss_link: sp.Expr  # step t's row: dl/dh[t] dh[t]/dh[t-j]


@dataclass(frozen=True)
class Statements:
    """The formulas of 1.2.2's text besides the answers (SymPy objects and notation)."""

    base_case: tuple[sp.Basic, sp.Basic]  # h[t] = 0 for t < 1
    before_first: tuple[sp.Basic, sp.Basic]  # the same for t' (the zero states before h[1])
    zero_score: sp.Expr  # the score of a zero state
    maps_generic: sp.Expr  # Q_i, K_i, V_i
    maps_range: tuple[sp.Symbol, Any, Any]  # i = 0..k
    maps_shape: tuple[Any, ...]  # n x n
    vector_shape: tuple[Any, ...]  # n
    tied_input_maps: sp.Expr  # Q_x, K_x, V_x
    tied_state_maps: sp.Expr  # Q, K, V
    infinity_states: sp.Expr  # h[t-1], ..., h[1]
    infinity_last_state: sp.Basic  # h[1]
    softmax_slash: sp.Expr  # da[t]/dw
    later: sp.Basic  # t > T
    lag: sp.Expr  # t - T
    lag_equation: sp.Basic  # j = t - T
    step: LagStatements  # for the generic lag j


@dataclass(frozen=True)
class AttentionRnnDerivation:
    """Derived answers to 1.2.2 as SymPy objects and numbers (numerator layout)."""

    params: Any
    orders: tuple[int, ...]  # the orders answered concretely: the defined one, and the variant's k if it differs
    diagram_order: int  # the order drawn in the diagram (the defined one)
    printed_order: int  # the order the question defines and asks about (defined_order of k)
    printed_lag: int  # the lag of the worked answer (1)
    # attn_a_dim: the dimension of a[t], one entry per score
    scores: dict[int, tuple[sp.Symbol, ...]]  # order -> w_0[t], ..., w_k[t]
    a_dim: dict[int, int]  # order -> k + 1, counted from the scores
    a_dim_general: sp.Expr  # k + 1
    # attn_k: the systems of equations
    system_general: tuple[SystemLine, ...]
    systems: dict[int, tuple[SystemLine, ...]]  # order -> explicit system
    # attn_infinity: AttentionRNN(oo) and the weight counts
    system_infinity: tuple[SystemLine, ...]
    matrices_untied: dict[int, int]  # order -> 3 (k + 1)
    matrices_untied_general: sp.Expr  # 3 (k + 1)
    matrices_untied_product: sp.Expr  # the same as the product 3 (k + 1), unevaluated
    infinity_sources: sp.Expr  # t: the sources of AttentionRNN(oo) at step t
    matrices_infinity_step: sp.Expr  # 3 t: untied, at step t
    matrices_infinity_limit: sp.Expr  # oo
    tied_maps: tuple[sp.MatrixSymbol, ...]  # Q_x, K_x, V_x, Q, K, V
    matrices_tied: int  # their number
    matrices_tied_shared_input: int  # one Q, K, V for every source
    # attn_dh_dhprev: the step Jacobian
    score: sp.MatrixExpr  # w_j = (Q_j s_j)^T (K_j s_j), generic lag j
    score_grad_raw: sp.MatrixExpr  # SymPy's gradient of the score
    score_grad: sp.MatrixExpr  # g_j = (Q_j^T K_j + K_j^T Q_j) s_j: the gradient with s_j factored out
    score_grad_slip: sp.MatrixExpr  # 2 Q_j^T K_j s_j (valid only for symmetric Q_j^T K_j)
    value_term: sp.MatrixExpr  # a_j V_j: the derivative through v_j
    softmax_jacobian: dict[int, sp.Matrix]  # order -> (k+1) x (k+1), differentiated from exp, in the a_i
    softmax_form: sp.MatrixExpr  # diag(a) - a a^T
    softmax_entry: sp.Expr  # da_i/dw_l = a_i (delta_il - a_l), entry (i, l) of softmax_form
    column_entry: sp.Expr  # the entry in column printed_lag: a_i (delta_i1 - a_1)
    unit: sp.MatrixExpr  # e_1 of the worked answer, written as a transposed row
    value_vectors: tuple[sp.MatrixSymbol, ...]  # v_0[t], ..., v_2[t]: the columns of V_stack
    column: sp.MatrixExpr  # V_stack J e_j
    columns: dict[int, tuple[sp.Expr, ...]]  # order -> V_stack J e_lag for lag = 1..k (commuting placeholders)
    column_simplified: sp.MatrixExpr  # a_j (v_j - h[t])
    step_jacobian: sp.MatrixExpr  # a_j V_j + (V_stack J e_j) g_j^T
    step_jacobian_simplified: sp.MatrixExpr  # a_j V_j + a_j (v_j - h[t]) g_j^T
    # attn_dl_dhT: the loss gradient
    direct_lags: tuple[sp.Expr, sp.Expr]  # the lags through which h[t] reads h[T]: 1 .. k
    dl_dhT: sp.Expr  # direct-Jacobian reading, for AttentionRNN(k)
    dl_dhT_truncated: sp.Expr  # the same with the sequence end
    dl_dhT_orders: dict[int, sp.Expr]  # order -> the sum written out
    dl_dhT_total: sp.Expr  # total-Jacobian reading
    dl_dhT_infinity: sp.Expr
    loss_term: sp.MatrixExpr  # u[t]^T h[t]: the checks' loss is its sum over t = T..T_end
    loss: sp.Expr  # that sum
    shapes: dict[str, tuple[Any, ...]]  # of the worked answer (the defined order)
    # The printed forms: entries of the softmax Jacobian with the common factor pulled out.
    softmax_entry_factored: sp.Expr
    softmax_factored: sp.Matrix  # of the worked order
    column_sum: sp.Expr  # V_stack J e_j written out: sum_i a_i (delta_ij - a_j) v_i
    statements: Statements
    prev: LossPrevDerivation  # attn_dl_dhprev: dl/dh[t-1] (:mod:`.loss_prev`)
    # Seed-free results computed from this very derivation (:func:`memoized`); not a parameter of it.
    memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)


def derive_softmax_jacobian(size: int) -> sp.Matrix:
    """d a / d w for a softmax of ``size`` scores, written in the a_i.

    With ``E_r = exp(w_r)`` and ``a_r = E_r / S``, ``S = sum_c E_c``, the chain rule
    through ``dE_c/dw_c = E_c`` (SymPy's derivative of exp) gives
    ``da_r/dw_c = (da_r/dE_c) E_c``; putting ``S`` back as a symbol and
    ``E_r = a_r S`` cancels every power of ``S``, leaving polynomials in the a_i.
    (Differentiating ``exp`` directly would let SymPy merge ``exp(w)^2`` into
    ``exp(2 w)``, which no longer reads as ``a^2``.)
    """
    srcs = [source(ii) for ii in range(size)]
    exps = [sp.Symbol(f"E_{ii}", positive=True) for ii in range(size)]
    d_exp = [sp.diff(sp.exp(s.w), s.w).xreplace({sp.exp(s.w): e}) for s, e in zip(srcs, exps)]
    total = sp.Add(*exps)
    probs = [e / total for e in exps]
    jac = sp.Matrix(size, size, lambda r, c: sp.diff(probs[r], exps[c]) * d_exp[c])
    S = sp.Dummy("S", positive=True)
    return sp.expand(jac.xreplace({total: S}).xreplace({e: s.a * S for e, s in zip(exps, srcs)}))


def factor_right(expr: sp.MatrixExpr, right: sp.MatrixSymbol, first: sp.MatrixExpr) -> sp.MatrixExpr:
    """Write a sum of products that all end in ``right`` as (sum of the rest) ``right``.

    ``first`` is the term to print first. A term that does not end in ``right``
    cannot be factored and is left out, so the check of the factored form
    against SymPy's gradient (``score_grad:exact``) fails.
    """
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    lefts = [sp.MatMul(*term.args[:-1]) for term in terms
             if isinstance(term, sp.MatMul) and term.args[-1] == right]
    lefts.sort(key=lambda e: e != first)
    return sp.MatMul(sp.MatAdd(*lefts), right)


def derive_column(softmax: sp.Matrix, lag: int) -> sp.Expr:
    """Column ``lag`` of V_stack J as a combination of the value vectors, simplified.

    The vectors enter linearly, so commuting placeholders stand for them; the
    weighted sum sum_i a_i v_i is then recognised as h[t].
    """
    srcs = [source(ii) for ii in range(softmax.rows)]
    vs = [sp.Symbol(s.v.name) for s in srcs]
    col = sp.expand(sum(v * softmax[r, lag] for r, v in enumerate(vs)))
    weighted = sp.Add(*[s.a * v for s, v in zip(srcs, vs)])
    return sp.factor_terms(col).subs(weighted, sp.Symbol(h_now.name))


def entry_in_weights(form: sp.MatrixExpr, row: sp.Symbol, col: sp.Symbol) -> sp.Expr:
    """Entry (row, col) of a matrix expression in ``a[t]``, written in the weights a_i[t]."""
    entry = form[row, col]
    return sp.factor_terms(entry.replace(lambda e: isinstance(e, MatrixElement) and e.parent == a_vec,
                                         lambda e: source(e.i).a))


def factored(entry: sp.Expr) -> sp.Expr:
    """``a_r (delta - a_c)`` with the common factor pulled out, the bracket in reading order
    (the Kronecker delta or 1 first); an entry without a common factor as it is."""
    head, rest = sp.factor_terms(entry).as_independent(sp.Add)
    if not isinstance(rest, sp.Add):
        return entry
    first = [a for a in rest.args if a.is_number or isinstance(a, sp.KroneckerDelta)]
    others = [a for a in rest.args if a not in first]
    return Factored(head, sp.Add(*first, *others, evaluate=False))


def lag_statements(gen: Any) -> LagStatements:
    """The named pieces of the step Jacobian for the generic source ``gen`` (lag ``j``)."""
    return LagStatements(
        value_def=(gen.v, gen.V * gen.s),
        weighted_value=gen.a * gen.v,
        gradient_def=(gen.g, Gradient(gen.w, gen.s)),
        score_slope=(Slash(gen.w, gen.s), gen.g.T),
        score_row=gen.g.T.shape,
        softmax_column=J_sym * gen.e,
        jacobian=Partial(h_now, gen.s),
        jacobian_slash=Slash(h_now, gen.s),
        loss_slash=Slash(ell, gen.s),
        loss_link=Small(ell, h_seq[t]) * Small(h_seq[t], h_seq[lagged(gen.index)]),
    )


def statements(score: sp.MatrixExpr, gen: Any) -> Statements:
    """Base cases, ranges and named pieces, from the model's symbols."""
    t_before = sp.Symbol("t'", integer=True)
    base = (sp.Eq(h_seq[t], 0), sp.Lt(t, 1))
    inf_last = h_seq[t - last_source(sp.oo, tied=True)]
    return Statements(
        base_case=base,
        before_first=tuple(b.xreplace({t: t_before}) for b in base),
        zero_score=score.xreplace({gen.s: sp.ZeroMatrix(*gen.s.shape)}).doit(),
        maps_generic=Listing(*source(i).maps()),
        maps_range=source_range(k),
        maps_shape=source(i).Q.shape,
        vector_shape=h_now.shape[:1],
        tied_input_maps=Listing(*source(0, tied=True).maps()),
        tied_state_maps=Listing(*source(i, tied=True).maps()),
        infinity_states=Listing(source(1).s, DOTS, inf_last),
        infinity_last_state=inf_last,
        softmax_slash=Slash(a_vec, w_vec),
        later=sp.Gt(t, T),
        lag=sp.Add(t, -T, evaluate=False),
        lag_equation=sp.Eq(j, sp.Add(t, -T, evaluate=False), evaluate=False),
        step=lag_statements(gen),
    )


@functools.lru_cache(maxsize=64)
def derive(params: Any) -> AttentionRnnDerivation:
    """Derive every answer of 1.2.2 for the defined AttentionRNN(k) (and the variant's k beyond it).

    Cached per parameter set (the frozen (k, n)): the same structure is derived once per process.
    """
    K = params.k
    P, lag1 = defined_order(K), PRINTED_LAG
    orders = (P,) if K == P else (P, K)
    diagram_order = P
    gen = source(j)

    # The systems; the softmax has one input per source.
    systems = {o: system(o, explicit=True) for o in dict.fromkeys(orders + (diagram_order,))}
    scores = {o: tuple(source(ii).w for ii in range(o + 1)) for o in orders}
    a_dim = {o: len(scores[o]) for o in orders}
    a_dim_general = sp.Sum(1, (i, 0, k)).doit()

    # Three maps per source; AttentionRNN(oo) has t sources at step t.
    per_source = len(MAPS)
    matrices_untied = {o: per_source * a_dim[o] for o in orders}
    step_sources = sp.Sum(1, (i, 0, t - 1)).doit()
    matrices_infinity_step = per_source * step_sources
    tied_maps = source(0, tied=True).maps() + source(i, tied=True).maps()

    # The score and its gradient (SymPy's gradient is a column vector).
    score = (gen.Q * gen.s).T * (gen.K * gen.s)
    score_grad_raw = score.diff(gen.s)
    score_grad = factor_right(score_grad_raw, gen.s, gen.Q.T * gen.K)
    # The value path: SymPy differentiates in denominator layout, so transpose.
    value_term = sp.Transpose((gen.a * gen.V * gen.s).diff(gen.s)).doit()

    # The softmax Jacobian: differentiated per order; the closed form and its entry.
    softmax = {o: derive_softmax_jacobian(o + 1) for o in orders}
    softmax_form = sp.MatAdd(Diag(a_vec), sp.MatMul(-1, a_vec, a_vec.T))
    softmax_entry = entry_in_weights(softmax_form, i, l)
    column_entry = softmax_entry.xreplace({sp.KroneckerDelta(i, l): sp.KroneckerDelta(i, lag1, evaluate=False),
                                           source(l).a: source(lag1).a})

    # The column V_stack J e_j, claimed to be a_j (v_j - h[t]) for every lag of every order.
    columns = {o: tuple(derive_column(softmax[o], lag) for lag in range(1, o + 1)) for o in orders}
    column_simplified = sp.MatMul(gen.a, sp.MatAdd(gen.v, sp.MatMul(-1, h_now)))
    column = sp.MatMul(V_stack, J_sym, gen.e)
    step_jacobian = sp.MatAdd(value_term, sp.MatMul(column, gen.g.T))
    step_simplified = sp.MatAdd(value_term, sp.MatMul(*column_simplified.args, gen.g.T))

    # h[t] reads h[T] directly iff t - T is one of its state lags, i = 1..k
    # (the sources h[t - i] of the system).
    lags = (sp.Integer(1), k)
    term = Partial(ell, h_seq[t]) * Partial(h_seq[t], h_seq[T])
    local = Partial(ell_seq[T], h_seq[T])
    dl_dhT = local + sp.Sum(term, (t, T + lags[0], T + lags[1]))
    dl_trunc = local + sp.Sum(term, (t, T + lags[0], sp.Min(T + lags[1], T_end)))
    dl_orders = {o: dl_dhT.subs(k, o).doit() for o in orders}
    dl_total = local + sp.Sum(Partial(ell_seq[t], h_seq[t]) * Total(h_seq[t], h_seq[T]), (t, T + 1, T_end))
    dl_inf = local + sp.Sum(term, (t, T + 1, T_end))

    m_P = a_dim[P]
    shapes = {"a": (m_P,), "dh_dhprev": (n, n), "dl_dhT": (1, n), "g": (n, 1), "J": (m_P, m_P),
              "V_stack": (n, m_P)}
    return AttentionRnnDerivation(
        params=params, orders=orders, diagram_order=diagram_order, printed_order=P, printed_lag=lag1,
        scores=scores, a_dim=a_dim, a_dim_general=a_dim_general,
        system_general=system(k), systems=systems, system_infinity=system(sp.oo, tied=True),
        matrices_untied=matrices_untied, matrices_untied_general=per_source * a_dim_general,
        matrices_untied_product=sp.Mul(per_source, a_dim_general, evaluate=False),
        infinity_sources=step_sources, matrices_infinity_step=matrices_infinity_step,
        matrices_infinity_limit=sp.limit(matrices_infinity_step, t, sp.oo),
        tied_maps=tied_maps, matrices_tied=len(tied_maps), matrices_tied_shared_input=per_source,
        score=score, score_grad_raw=score_grad_raw, score_grad=score_grad,
        score_grad_slip=sp.MatMul(2, gen.Q.T, gen.K, gen.s), value_term=value_term,
        softmax_jacobian=softmax, softmax_form=softmax_form, softmax_entry=softmax_entry,
        column_entry=column_entry,
        unit=sp.Transpose(sp.ImmutableMatrix([[int(r == lag1) for r in range(m_P)]])),
        value_vectors=tuple(source(ii).v for ii in range(m_P)),
        column=column, columns=columns, column_simplified=column_simplified,
        step_jacobian=step_jacobian, step_jacobian_simplified=step_simplified,
        direct_lags=lags, dl_dhT=dl_dhT, dl_dhT_truncated=dl_trunc, dl_dhT_orders=dl_orders,
        dl_dhT_total=dl_total, dl_dhT_infinity=dl_inf, loss_term=u_now.T * h_now,
        loss=sp.Sum(u_now.T * h_now, (t, T, T_end)),
        shapes=shapes,
        softmax_entry_factored=factored(softmax_entry),
        softmax_factored=softmax[P].applyfunc(factored),
        column_sum=sp.Sum(sp.Mul(factored(column_entry), sp.Symbol(source(i).v.name), evaluate=False),
                          (i, 0, P)),
        statements=statements(score, gen),
        prev=derive_loss_prev(lags, step_simplified, score_grad, orders))
