"""Question 1.2.2: AttentionRNN(k), a recurrent cell that attends over its last k states.

At step ``t`` the cell has ``k + 1`` *sources*: ``s_0[t] = x[t]`` and
``s_i[t] = h[t - i]`` for ``i = 1..k``. Each source gets its own query, key and
value maps ``Q_i, K_i, V_i`` (``n x n``), one score ``w_i = q_i^T k_i``, and

    a[t] = softargmax(w_0, ..., w_k),        h[t] = sum_i a_i[t] v_i[t].

The derivation is done on SymPy matrix expressions (``MatrixSymbol``): the score
gradient is SymPy's own matrix derivative of ``(Q_j s_j)^T (K_j s_j)``, the value
path is the derivative of ``a_j V_j s_j``, and the softmax Jacobian is obtained by
differentiating the exponential form and writing the result back in ``a``. The
step Jacobian is stored once, for a generic lag ``j``; the printed AttentionRNN(2)
answer is that expression with ``j = 1``, and :func:`verify` evaluates the very
same stored expressions (numerically through ``lambdify``, exactly by substituting
explicit symbol matrices), so a wrong stored formula fails its checks.

Layout: numerator. ``dh[t]/dh[t-j]`` is ``n x n``; ``dl/dh[T]`` is a ``1 x n`` row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from . import latex
from . import verify as verify_mod
from .variant import AttentionRnn

# Symbols shared by every printed formula.
n = sp.Symbol("n", integer=True, positive=True)  # state (and input) size
m = sp.Symbol("m", integer=True, positive=True)  # number of sources, k + 1 (only a shape)
t, T = sp.symbols("t T", integer=True)
i, j, l = sp.symbols("i j l", integer=True, nonnegative=True)
k = sp.Symbol("k", integer=True, positive=True)
T_end = sp.Symbol(r"T_{\mathrm{end}}", integer=True)
ell = sp.Symbol(r"\ell")
h_seq = sp.IndexedBase("h")
ell_seq = sp.IndexedBase(r"\ell")
MAPS = ("Q", "K", "V")  # the three weight matrices of one source

# Exact SymPy checks: order k -> state sizes n. n = 2 is the smallest size at
# which Q^T K can be non-symmetric; the larger orders stay at n = 1 for speed.
EXACT_CASES = {1: (1,), 2: (1, 2), 3: (1,)}
# Extra steps after T in the unrolled sequences of the dl/dh[T] checks.
EXTRA_STEPS = 2


# --------------------------------------------------------------------------
# Printing wrappers: notation only, no mathematics (each prints through the
# homework printer via SymPy's ``_latex`` hook).


class Partial(sp.Expr):
    r"""``\partial a / \partial b`` (a Jacobian; kept in order in products)."""

    is_commutative = False

    def __new__(cls, num: sp.Basic, den: sp.Basic) -> "Partial":
        return sp.Expr.__new__(cls, num, den)

    # How the derivative is written; the subclasses only change this pattern.
    pattern = r"\frac{{\partial {a}}}{{\partial {b}}}"

    def _latex(self, printer: Any) -> str:
        a, b = (printer._print(x) for x in self.args)
        return self.pattern.format(a=a, b=b)


class Total(Partial):
    r"""``d a / d b``: the total derivative through every path."""

    pattern = r"\frac{{\mathrm{{d}} {a}}}{{\mathrm{{d}} {b}}}"


class Slash(Partial):
    r"""``\partial a / \partial b`` written inline with a slash."""

    pattern = r"\partial {a}/\partial {b}"


class Small(Partial):
    r"""``\tfrac{\partial a}{\partial b}``: a Jacobian in running text."""

    pattern = r"\tfrac{{\partial {a}}}{{\partial {b}}}"


class Diag(sp.MatrixExpr):
    r"""``\operatorname{diag}(a)`` of a column vector (a square matrix)."""

    def __new__(cls, vec: sp.MatrixExpr) -> "Diag":
        return sp.MatrixExpr.__new__(cls, vec)

    @property
    def shape(self) -> tuple[sp.Expr, sp.Expr]:
        return (self.args[0].shape[0], self.args[0].shape[0])

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{diag}}\left({printer._print(self.args[0])}\right)"


class Bracket(sp.Expr):
    """``[a, b, ..., c]``: a listing of scalars; the item ``DOTS`` prints an ellipsis."""

    def __new__(cls, *items: sp.Basic) -> "Bracket":
        return sp.Expr.__new__(cls, *items)

    def _latex(self, printer: Any) -> str:
        return "[" + ", ".join(r"\dots" if a == DOTS else printer._print(a) for a in self.args) + "]"


DOTS = sp.Symbol(r"\dots")


class Softargmax(sp.Expr):
    r"""``\operatorname{softargmax}(\cdot)`` applied to a listing."""

    def __new__(cls, arg: sp.Basic) -> "Softargmax":
        return sp.Expr.__new__(cls, arg)

    def _latex(self, printer: Any) -> str:
        return rf"\operatorname{{softargmax}}\left({printer._print(self.args[0])}\right)"


# --------------------------------------------------------------------------
# Names of the objects of one step


def lagged(time_shift: int | sp.Expr) -> sp.Expr:
    """``t - shift`` kept in reading order (``t - i``, not ``-i + t``)."""
    return t if time_shift == 0 else sp.Add(t, -sp.sympify(time_shift), evaluate=False)


def _indexed_name(base: str, sub: Any, time: sp.Expr) -> str:
    """The printed name ``base_{sub}[time]``, through the homework printer."""
    label = base if sub is None else f"{base}_{{{latex.tex(sub)}}}"
    return latex.tex(sp.IndexedBase(sp.Symbol(label))[time], as_built=True)


def vector(base: str, sub: Any = None, time: sp.Expr = t) -> sp.MatrixSymbol:
    """A time-indexed column vector in R^n, e.g. ``q_{1}[t]``."""
    return sp.MatrixSymbol(_indexed_name(base, sub, time), n, 1)


def scalar(base: str, sub: Any = None, time: sp.Expr = t) -> sp.Symbol:
    """A time-indexed scalar, e.g. ``w_{1}[t]``."""
    return sp.Symbol(_indexed_name(base, sub, time))


@dataclass(frozen=True)
class Source:
    """The symbols belonging to source ``index`` of step ``t``.

    ``index`` 0 is the input ``x[t]``; ``index`` i >= 1 is the state ``h[t - i]``.
    With ``tied`` (AttentionRNN(oo)) the input has ``Q_x, K_x, V_x`` and every
    state shares ``Q, K, V``.
    """

    index: Any
    s: sp.MatrixSymbol  # the source vector x[t] or h[t - i]
    s_name: sp.MatrixSymbol  # s_i[t], its generic name
    Q: sp.MatrixSymbol
    K: sp.MatrixSymbol
    V: sp.MatrixSymbol
    q: sp.MatrixSymbol
    k: sp.MatrixSymbol
    v: sp.MatrixSymbol
    w: sp.Symbol
    a: sp.Symbol
    g: sp.MatrixSymbol  # gradient of w_i with respect to s_i
    e: sp.MatrixSymbol  # the unit vector e_i of R^m

    def maps(self) -> tuple[sp.MatrixSymbol, sp.MatrixSymbol, sp.MatrixSymbol]:
        return (self.Q, self.K, self.V)


def source(index: Any, *, tied: bool = False) -> Source:
    s = vector("x") if index == 0 else sp.MatrixSymbol(latex.tex(h_seq[lagged(index)], as_built=True), n, 1)
    if tied:
        sub = "x" if index == 0 else None
        Q, K, V = (sp.MatrixSymbol(name if sub is None else f"{name}_{{{sub}}}", n, n) for name in MAPS)
    else:
        Q, K, V = (sp.MatrixSymbol(f"{name}_{{{latex.tex(index)}}}", n, n) for name in MAPS)
    return Source(index, s, vector("s", index), Q, K, V, vector("q", index), vector("k", index),
                  vector("v", index), scalar("w", index), scalar("a", index), vector("g", index),
                  sp.MatrixSymbol(f"e_{{{latex.tex(index)}}}", m, 1))


h_now = vector("h")  # h[t]
a_vec = sp.MatrixSymbol(latex.tex(sp.IndexedBase("a")[t]), m, 1)  # a[t]
J_sym = sp.MatrixSymbol("J", m, m)  # the softmax Jacobian at step t
V_stack = sp.MatrixSymbol(r"\mathcal{V}", n, m)  # [v_0[t], ..., v_k[t]]


def rename_lag(expr: Any, lag: Any) -> Any:
    """The generic-lag expression (written for lag ``j``) with ``j`` replaced by ``lag``."""
    generic, concrete = source(j), source(lag)
    mapping = {getattr(generic, f): getattr(concrete, f) for f in
               ("s", "s_name", "Q", "K", "V", "q", "k", "v", "w", "a", "g", "e")}
    return expr.xreplace(mapping)


# --------------------------------------------------------------------------
# The derivation


@dataclass(frozen=True)
class SystemLine:
    """One line of a system of equations: ``lhs = rhs`` for ``where``."""

    lhs: tuple[sp.Basic, ...]
    rhs: tuple[sp.Basic, ...]
    where: str = ""  # LaTeX of the index range, built by index_range


@dataclass(frozen=True)
class AttentionRnnResult:
    """Derived answers to 1.2.2 as SymPy objects and numbers (numerator layout)."""

    params: AttentionRnn
    orders: tuple[int, ...]  # the orders answered concretely: 2, and the variant's k if it differs
    diagram_order: int  # the order drawn in the diagram (the variant's k if <= 3, else 2)
    # attn_a_dim: the dimension of a[t], one entry per score
    a_dim: dict[int, int]  # order -> k + 1, counted from the scores
    a_dim_general: sp.Expr  # k + 1
    # attn_k: the systems of equations
    system_general: tuple[SystemLine, ...]
    systems: dict[int, tuple[SystemLine, ...]]  # order -> explicit system
    # attn_infinity: AttentionRNN(oo) and the weight counts
    system_infinity: tuple[SystemLine, ...]
    matrices_untied: dict[int, int]  # order -> 3 (k + 1)
    matrices_untied_general: sp.Expr  # 3 (k + 1)
    matrices_infinity_step: sp.Expr  # 3 t: untied, at step t
    matrices_infinity_limit: sp.Expr  # oo
    matrices_tied: int  # Q_x, K_x, V_x, Q, K, V
    matrices_tied_shared_input: int  # one Q, K, V for every source
    # attn_dh_dhprev: the step Jacobian
    score: sp.MatrixExpr  # w_j = (Q_j s_j)^T (K_j s_j), generic lag j
    score_grad: sp.MatrixExpr  # g_j = (Q_j^T K_j + K_j^T Q_j) s_j
    score_grad_slip: sp.MatrixExpr  # 2 Q_j^T K_j s_j (valid only for symmetric Q_j^T K_j)
    value_term: sp.MatrixExpr  # a_j V_j: the derivative through v_j
    softmax_jacobian: dict[int, sp.Matrix]  # order -> (k+1) x (k+1) explicit, in a_i
    softmax_form: sp.MatrixExpr  # diag(a) - a a^T
    softmax_entry: sp.Expr  # da_i/dw_l = a_i (delta_il - a_l)
    column: sp.MatrixExpr  # V_stack J e_j
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
    shapes: dict[str, tuple[Any, ...]]


def index_range(index: sp.Symbol, lo: Any, hi: Any) -> str:
    r"""``i = lo, \dots, hi`` (or ``i = lo`` when the range has one element)."""
    lo, hi = sp.sympify(lo), sp.sympify(hi)
    if lo == hi:
        return f"{latex.tex(index)} = {latex.tex(lo)}"
    if lo.is_Integer and hi.is_Integer and hi - lo <= 2:  # short ranges are listed
        return f"{latex.tex(index)} = " + ", ".join(latex.tex(v) for v in range(int(lo), int(hi) + 1))
    return f"{latex.tex(index)} = {latex.tex(lo)}, \\dots, {latex.tex(hi)}"


def derive_system(order: Any, *, tied: bool = False, explicit: bool = False) -> tuple[SystemLine, ...]:
    """The equations of AttentionRNN(order) (``order`` an int or the symbol ``k``).

    ``explicit`` lists every source (``q_0[t], q_1[t], q_2[t] = ...``); otherwise the
    lines are written for a generic source ``i`` with its range. ``tied`` gives
    AttentionRNN(oo): the last source is ``h[1]`` (``i = t - 1``) and the states
    share one set of maps.
    """
    last = t - 1 if tied else order
    gen = source(i, tied=tied)
    lines: list[SystemLine] = []
    scores = [source(ii).w for ii in range(order + 1)] if explicit else \
        [source(0).w, source(1).w, DOTS, source(last).w]
    if explicit:
        srcs = [source(ii, tied=tied) for ii in range(order + 1)]
        for name in ("q", "k", "v"):
            mat = {"q": "Q", "k": "K", "v": "V"}[name]
            lines.append(SystemLine(tuple(getattr(s, name) for s in srcs),
                                    tuple(getattr(s, mat) * s.s for s in srcs)))
        lines.append(SystemLine((gen.w,), (gen.q.T * gen.k,), index_range(i, 0, order)))
    else:
        lines.append(SystemLine((source(0).s_name,), (source(0).s,)))
        lines.append(SystemLine((gen.s_name,), (gen.s,), index_range(i, 1, last)))
        if tied:
            x_src = source(0, tied=True)
            lines.append(SystemLine((x_src.q, x_src.k, x_src.v),
                                    tuple(M * x_src.s_name for M in x_src.maps())))
            lines.append(SystemLine((gen.q, gen.k, gen.v), tuple(M * gen.s_name for M in gen.maps()),
                                    index_range(i, 1, last)))
        else:
            lines.append(SystemLine((gen.q, gen.k, gen.v), tuple(M * gen.s_name for M in gen.maps()),
                                    index_range(i, 0, last)))
        lines.append(SystemLine((gen.w,), (gen.q.T * gen.k,), index_range(i, 0, last)))
    lines.append(SystemLine((a_vec,), (Softargmax(Bracket(*scores)),)))
    lines.append(SystemLine((h_now,), (sp.Sum(gen.a * sp.Symbol(gen.v.name), (i, 0, last)),)))
    return tuple(lines)


def count_scores(order: int) -> int:
    """The number of softmax inputs of AttentionRNN(order): one score per source."""
    return len([source(ii).w for ii in range(order + 1)])


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
    jac = jac.xreplace({total: S}).xreplace({e: s.a * S for e, s in zip(exps, srcs)})
    expected = sp.Matrix(size, size, lambda r, c: srcs[r].a * (int(r == c) - srcs[c].a))
    if sp.expand(jac - expected) != sp.zeros(size, size):
        raise AssertionError("softmax Jacobian is not diag(a) - a a^T")
    return sp.expand(jac)


def factor_right(expr: sp.MatrixExpr, right: sp.MatrixSymbol, first: sp.MatrixExpr) -> sp.MatrixExpr:
    """Write a sum of products that all end in ``right`` as (sum of the rest) ``right``.

    ``first`` is the term to print first.
    """
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    lefts = []
    for term in terms:
        if not (isinstance(term, sp.MatMul) and term.args[-1] == right):
            raise AssertionError(f"{term} does not end in {right}")
        lefts.append(sp.MatMul(*term.args[:-1]))
    lefts.sort(key=lambda e: e != first)
    return sp.MatMul(sp.MatAdd(*lefts), right)


def derive_column(order: int, lag: int) -> sp.Expr:
    """Column ``lag`` of V_stack J as a combination of the value vectors, simplified.

    The vectors enter linearly, so commuting placeholders stand for them; the
    weighted sum sum_i a_i v_i is then recognised as h[t].
    """
    srcs = [source(ii) for ii in range(order + 1)]
    vs = [sp.Symbol(s.v.name) for s in srcs]
    H = sp.Symbol(h_now.name)
    J = derive_softmax_jacobian(order + 1)
    col = sp.expand(sum(v * J[r, lag] for r, v in enumerate(vs)))
    weighted = sp.Add(*[s.a * v for s, v in zip(srcs, vs)])
    return sp.factor_terms(col).subs(weighted, H)


def derive_params(params: AttentionRnn) -> AttentionRnnResult:
    """Derive every answer of 1.2.2 for AttentionRNN(2) and the variant's k."""
    K = params.k
    orders = (2,) if K == 2 else (2, K)
    gen = source(j)

    # The systems; the softmax has one input per source.
    systems = {o: derive_system(o, explicit=True) for o in orders}
    a_dim = {o: count_scores(o) for o in orders}
    a_dim_general = sp.Sum(1, (i, 0, k)).doit()

    # Three maps per source; AttentionRNN(oo) has t sources at step t.
    per_source = len(MAPS)
    matrices_untied = {o: per_source * a_dim[o] for o in orders}
    step_sources = sp.Sum(1, (i, 0, t - 1)).doit()
    matrices_infinity_step = per_source * step_sources
    tied_groups = {"input": source(0, tied=True).maps(), "states": source(i, tied=True).maps()}
    matrices_tied = sum(len(v) for v in tied_groups.values())

    # The score and its gradient (SymPy's gradient is a column vector).
    score = (gen.Q * gen.s).T * (gen.K * gen.s)
    score_grad = factor_right(score.diff(gen.s), gen.s, gen.Q.T * gen.K)
    # The value path: SymPy differentiates in denominator layout, so transpose.
    value_term = sp.Transpose((gen.a * gen.V * gen.s).diff(gen.s)).doit()

    softmax = {o: derive_softmax_jacobian(o + 1) for o in orders}
    r0, c0 = source(i), source(l)
    softmax_entry = r0.a * (sp.KroneckerDelta(i, l) - c0.a)

    # The column V_stack J e_j equals a_j (v_j - h[t]) for every lag of every order.
    column_simplified = sp.MatMul(gen.a, sp.MatAdd(gen.v, sp.MatMul(-1, h_now)))
    for o in orders:
        for lag in range(1, o + 1):
            src = source(lag)
            if derive_column(o, lag) != src.a * (sp.Symbol(src.v.name) - sp.Symbol(h_now.name)):
                raise AssertionError(f"V J e_{lag} is not a_{lag} (v_{lag} - h) for order {o}")
    column = sp.MatMul(V_stack, J_sym, gen.e)
    step_jacobian = sp.MatAdd(value_term, sp.MatMul(column, gen.g.T))
    step_simplified = sp.MatAdd(value_term, sp.MatMul(*column_simplified.args, gen.g.T))

    # h[t] reads h[T] directly iff t - T is one of its state lags, i = 1..k
    # (the sources h[t - i] of derive_system).
    lags = (sp.Integer(1), k)
    term = Partial(ell, h_seq[t]) * Partial(h_seq[t], h_seq[T])
    dl_dhT = Partial(ell_seq[T], h_seq[T]) + sp.Sum(term, (t, T + lags[0], T + lags[1]))
    dl_trunc = Partial(ell_seq[T], h_seq[T]) + sp.Sum(term, (t, T + lags[0], sp.Min(T + lags[1], T_end)))
    dl_orders = {o: dl_dhT.subs(k, o).doit() for o in orders}
    dl_total = Partial(ell_seq[T], h_seq[T]) + sp.Sum(Partial(ell_seq[t], h_seq[t]) * Total(h_seq[t], h_seq[T]),
                                                      (t, T + 1, T_end))
    dl_inf = Partial(ell_seq[T], h_seq[T]) + sp.Sum(term, (t, T + 1, T_end))

    m_k = a_dim[K]
    shapes = {"a": (m_k,), "dh_dhprev": (n, n), "dl_dhT": (1, n), "g": (n, 1), "J": (m_k, m_k), "V_stack": (n, m_k)}
    return AttentionRnnResult(
        params, orders, K if K <= 3 else 2, a_dim, a_dim_general,
        derive_system(k), systems, derive_system(sp.oo, tied=True),
        matrices_untied, per_source * a_dim_general, matrices_infinity_step,
        sp.limit(matrices_infinity_step, t, sp.oo), matrices_tied, per_source,
        score, score_grad, sp.MatMul(2, gen.Q.T, gen.K, gen.s), value_term, softmax,
        sp.MatAdd(Diag(a_vec), sp.MatMul(-1, a_vec, a_vec.T)), softmax_entry,
        column, column_simplified, step_jacobian, step_simplified,
        lags, dl_dhT, dl_trunc, dl_orders, dl_total, dl_inf, shapes)


# --------------------------------------------------------------------------
# Numeric evaluation


def reference_step(xv: np.ndarray, hist: Sequence[np.ndarray], Qs: Sequence[np.ndarray],
                   Ks: Sequence[np.ndarray], Vs: Sequence[np.ndarray]) -> dict[str, Any]:
    """One step straight from the definition; ``hist[j - 1]`` is h[t - j].

    Returns the intermediate values too (scores, weights, values, h[t]).
    """
    srcs = [xv] + list(hist)
    w = np.array([(Q @ s) @ (Kk @ s) for Q, Kk, s in zip(Qs, Ks, srcs)])
    a = np.exp(w - w.max())
    a /= a.sum()
    v = [V @ s for V, s in zip(Vs, srcs)]
    return {"w": w, "a": a, "v": v, "h": sum(ai * vi for ai, vi in zip(a, v))}


def _numeric(expr: Any, args: Sequence[Any]) -> Callable[..., np.ndarray]:
    """``lambdify`` with safe argument names (the printed names are LaTeX)."""
    safe = {a: sp.MatrixSymbol(f"arg{p}", *a.shape) if isinstance(a, sp.MatrixSymbol) else sp.Symbol(f"arg{p}")
            for p, a in enumerate(args)}
    return sp.lambdify([safe[a] for a in args], expr.xreplace(safe), "numpy")


@dataclass(frozen=True)
class Evaluator:
    """The stored closed forms, compiled for NumPy (the softmax Jacobian per number of sources)."""

    score_grad: Callable[..., np.ndarray]
    step: Callable[..., np.ndarray]
    step_simplified: Callable[..., np.ndarray]
    softmax: dict[int, Callable[..., np.ndarray]]


def evaluator(result: AttentionRnnResult) -> Evaluator:
    gen = source(j)
    softmax = {o + 1: _numeric(J, [source(ii).a for ii in range(o + 1)])
               for o, J in result.softmax_jacobian.items()}
    return Evaluator(
        _numeric(result.score_grad, [gen.Q, gen.K, gen.s]),
        _numeric(result.step_jacobian, [gen.a, gen.V, V_stack, J_sym, gen.e, gen.g]),
        _numeric(result.step_jacobian_simplified, [gen.a, gen.V, gen.v, h_now, gen.g]),
        softmax,
    )


def step_jacobians(result: AttentionRnnResult, ev: Evaluator, xv: np.ndarray, hist: Sequence[np.ndarray],
                   Qs: Sequence[np.ndarray], Ks: Sequence[np.ndarray], Vs: Sequence[np.ndarray],
                   *, simplified: bool = False) -> list[np.ndarray]:
    """dh[t]/dh[t - j] for j = 1..len(hist) from the stored closed forms.

    The stacked form needs the softmax Jacobian, derived for the answered orders
    only; other numbers of sources (AttentionRNN(oo)) use the simplified form,
    which the exact checks prove equal to it.
    """
    fwd = reference_step(xv, hist, Qs, Ks, Vs)
    size = len(hist) + 1
    stack = np.column_stack(fwd["v"])
    J = None if simplified else np.asarray(ev.softmax[size](*fwd["a"]), dtype=float)
    out = []
    for lag in range(1, size):
        s = hist[lag - 1][:, None]
        g = ev.score_grad(Qs[lag], Ks[lag], s)
        if simplified:
            D = ev.step_simplified(fwd["a"][lag], Vs[lag], fwd["v"][lag][:, None], fwd["h"][:, None], g)
        else:
            e = np.eye(size)[:, [lag]]
            D = ev.step(fwd["a"][lag], Vs[lag], stack, J, e, g)
        out.append(np.asarray(D, dtype=float))
    return out


@dataclass(frozen=True)
class Instance:
    """A float64 instance of one step: x[t], h[t-1..t-k] and the maps of every source."""

    x: np.ndarray
    h: np.ndarray  # (k, n): row j-1 holds h[t - j]
    Q: np.ndarray  # (k+1, n, n): index 0 acts on x[t]
    K: np.ndarray
    V: np.ndarray


SCALE = {"Q": -0.75, "K": -0.75, "V": -0.5}  # exponents of n scaling the random maps


def random_maps(rng: np.random.Generator, count: int, size: int) -> list[np.ndarray]:
    """Standard normal Q, K, V scaled by n^(-3/4), n^(-3/4), n^(-1/2).

    For unit-variance sources the scores q^T k then have unit variance, so the
    softmax is far from saturation (tiny weights would make the Jacobians tiny
    and finite differences relatively noisy), and the values stay O(1).
    """
    mats = verify_mod.random_instance(rng, *[(count, size, size)] * 3)
    return [M * float(size) ** SCALE[name] for M, name in zip(mats, MAPS)]


def conditioned(Q: np.ndarray, Kk: np.ndarray, sources: Sequence[np.ndarray]) -> np.ndarray:
    """The query maps scaled down (all by one factor) until every score has |w_i| <= 1.

    With the scores in [-1, 1] no softmax weight is below e^-2/(k+1), so no
    Jacobian block is tiny and finite differences stay well above rounding noise
    for every seed and size; the instance remains a deterministic function of the seed.
    """
    w = [abs(float((Qi @ s) @ (Ki @ s))) for Qi, Ki, s in zip(Q, Kk, sources)]
    return Q / max(1.0, max(w))


def instance(order: int, size: int, rng: np.random.Generator) -> Instance:
    xv, hv = verify_mod.random_instance(rng, (size,), (order, size))
    Q, Kk, V = random_maps(rng, order + 1, size)
    return Instance(xv, hv, conditioned(Q, Kk, [xv] + list(hv)), Kk, V)


def unrolled_loss(h_T: np.ndarray, before: list[np.ndarray], xs: list[np.ndarray], us: list[np.ndarray],
                  maps: Callable[[int], tuple[list, list, list]], window: int | None) -> np.ndarray:
    """[l] with l = sum_t u[t]^T h[t] over t = T..T_end, running the cell forward from h[T].

    ``before`` holds the states before T (oldest first), ``xs[p]`` the input of step
    T + 1 + p, ``maps(c)`` the maps for a step with ``c`` sources, ``window`` the
    number k of states read (None: all of them, AttentionRNN(oo)).
    """
    states = list(before) + [h_T]
    loss = float(us[0] @ h_T)
    for p, xv in enumerate(xs):
        past = states[::-1] if window is None else states[::-1][:window]
        Qs, Ks, Vs = maps(len(past) + 1)
        h_new = reference_step(xv, past, Qs, Ks, Vs)["h"]
        states.append(h_new)
        loss += float(us[p + 1] @ h_new)
    return np.array([loss])  # shape (1,): its Jacobian is the 1 x n row


def backward(result: AttentionRnnResult, ev: Evaluator, h_T: np.ndarray, before: list[np.ndarray],
             xs: list[np.ndarray], us: list[np.ndarray], maps: Callable[[int], tuple[list, list, list]],
             window: int | None) -> dict[str, np.ndarray]:
    """dl/dh[T] two ways, from the closed-form step Jacobians.

    ``direct``: the backward recursion delta[t] = u[t] + sum of delta[t'] dh[t']/dh[t]
    over the later steps t' that read h[t] directly (t' - t in 1..k, or every
    later step for AttentionRNN(oo)). ``total``: forward propagation of the total
    Jacobians dh[t]/dh[T], then u[T] + sum over every t > T of u[t] dh[t]/dh[T].
    """
    states = list(before) + [h_T]
    steps: list[list[np.ndarray]] = []  # steps[p][lag-1] = dh[T+1+p]/dh[T+1+p-lag]
    for p, xv in enumerate(xs):
        past = states[::-1] if window is None else states[::-1][:window]
        Qs, Ks, Vs = maps(len(past) + 1)
        steps.append(step_jacobians(result, ev, xv, past, Qs, Ks, Vs, simplified=window is None))
        states.append(reference_step(xv, past, Qs, Ks, Vs)["h"])
    last = len(xs)  # T_end - T
    # The direct lags: 1..k from the derived range (all lags for AttentionRNN(oo)).
    upper = last if window is None else int(result.direct_lags[1].subs(k, window))
    lower = int(result.direct_lags[0])
    delta = [None] * (last + 1)  # delta[p] = dl/dh[T + p]
    for p in range(last, -1, -1):
        acc = us[p].copy()
        for lag in range(lower, upper + 1):
            if p + lag <= last and lag <= len(steps[p + lag - 1]):
                acc = acc + delta[p + lag] @ steps[p + lag - 1][lag - 1]
        delta[p] = acc
    total = [np.eye(h_T.size)]  # total[p] = dh[T + p]/dh[T]
    for p in range(1, last + 1):
        acc = np.zeros((h_T.size, h_T.size))
        for lag in range(1, len(steps[p - 1]) + 1):
            if p - lag >= 0:
                acc += steps[p - 1][lag - 1] @ total[p - lag]
        total.append(acc)
    via_total = us[0] + sum(us[p] @ total[p] for p in range(1, last + 1))
    return {"direct": delta[0][None, :], "total": via_total[None, :]}


# --------------------------------------------------------------------------
# Checks


def _fd_step_checks(result: AttentionRnnResult, ev: Evaluator, order: int, inst: Instance,
                    detail: str) -> list[verify_mod.Check]:
    hist = list(inst.h)
    closed = step_jacobians(result, ev, inst.x, hist, inst.Q, inst.K, inst.V)
    simple = step_jacobians(result, ev, inst.x, hist, inst.Q, inst.K, inst.V, simplified=True)
    out = []
    for lag in range(1, order + 1):
        def fwd(hj: np.ndarray, lag: int = lag) -> np.ndarray:
            past = hist[:lag - 1] + [hj] + hist[lag:]
            return reference_step(inst.x, past, inst.Q, inst.K, inst.V)["h"]

        prev = latex.tex(h_seq[lagged(lag)], as_built=True)
        out.append(verify_mod.finite_difference(
            f"attention_rnn.k{order}.dh_dh{lag}", rf"$\partial h[t]/\partial {prev}$ ($k = {order}$)",
            fwd, hist[lag - 1], closed[lag - 1], detail=detail))
    out.append(verify_mod.agreement(
        f"attention_rnn.k{order}.simplified", rf"$a_j(v_j - h[t])\,g_j^\top$ form ($k = {order}$)",
        np.stack(simple), np.stack(closed), r"equals the $\mathcal{V} J e_j$ form",
        detail=f"all lags j = 1..{order}; " + detail))
    return out


def _fd_loss_checks(result: AttentionRnnResult, ev: Evaluator, rng: np.random.Generator, size: int,
                    order: int, seed: int) -> list[verify_mod.Check]:
    """dl/dh[T] on unrolled sequences: AttentionRNN(k) (both readings) and AttentionRNN(oo)."""
    out = []
    steps = order + EXTRA_STEPS
    inst = instance(order, size, rng)
    before = list(inst.h[1:][::-1])  # h[T-k+1] .. h[T-1]
    xs = verify_mod.random_instance(rng, *[(size,)] * steps)
    us = verify_mod.random_instance(rng, *[(size,)] * (steps + 1))
    maps_k = lambda c: (list(inst.Q[:c]), list(inst.K[:c]), list(inst.V[:c]))  # noqa: E731
    got = backward(result, ev, inst.h[0], before, xs, us, maps_k, order)
    loss = lambda hT: unrolled_loss(hT, before, xs, us, maps_k, order)  # noqa: E731
    detail = f"n={size}, k={order}, T_end = T + {steps}, seed {seed}"
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT", rf"$\partial \ell/\partial h[T]$ via one-step Jacobians ($k = {order}$)",
        loss, inst.h[0], got["direct"], detail=detail))
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT.total", rf"$\partial \ell/\partial h[T]$ via total Jacobians ($k = {order}$)",
        loss, inst.h[0], got["total"], detail=detail))
    # AttentionRNN(oo): tied maps, every past state read; 3 states before T.
    (Qx, Qs), (Kx, Ks), (Vx, Vs) = (list(M) for M in random_maps(rng, 2, size))
    before_inf = verify_mod.random_instance(rng, *[(size,)] * 3)
    h_T = rng.standard_normal(size)
    sources = [xs[0], h_T] + before_inf[::-1]
    Qx, Qs = conditioned(np.array([Qx] + [Qs] * 4), np.array([Kx] + [Ks] * 4), sources)[:2]
    maps_inf = lambda c: ([Qx] + [Qs] * (c - 1), [Kx] + [Ks] * (c - 1), [Vx] + [Vs] * (c - 1))  # noqa: E731
    got = backward(result, ev, h_T, before_inf, xs, us, maps_inf, None)
    out.append(verify_mod.finite_difference(
        "attention_rnn.dl_dhT.infinity", r"$\partial \ell/\partial h[T]$ ($k = \infty$, tied maps)",
        lambda hT: unrolled_loss(hT, before_inf, xs, us, maps_inf, None), h_T, got["direct"],
        detail=f"n={size}, T = 4, T_end = T + {steps}, seed {seed}"))
    return out


def exact_instance(order: int, size: int) -> dict[str, Any]:
    """Explicit symbol matrices for one step of AttentionRNN(order) at state size ``size``."""
    def vec(name: str) -> sp.ImmutableMatrix:
        return sp.ImmutableMatrix(size, 1, lambda r, _: sp.Symbol(f"{name}{r + 1}"))

    def mat(name: str) -> sp.ImmutableMatrix:
        return sp.ImmutableMatrix(size, size, lambda r, c: sp.Symbol(f"{name}{r + 1}{c + 1}"))

    srcs = [vec("x")] + [vec(f"h{lag}_") for lag in range(1, order + 1)]
    Qs, Ks, Vs = ([mat(f"{M}{ii}_") for ii in range(order + 1)] for M in MAPS)
    w = [((Q * s).T * (Kk * s))[0, 0] for Q, Kk, s in zip(Qs, Ks, srcs)]
    exps = [sp.exp(wi) for wi in w]
    total = sp.Add(*exps)
    a = [e / total for e in exps]
    v = [V * s for V, s in zip(Vs, srcs)]
    h = sp.ImmutableMatrix(size, 1, lambda r, _: sp.Add(*[ai * vi[r, 0] for ai, vi in zip(a, v)]))
    # After differentiation the softmax denominator and each exponential become
    # fresh symbols: equality of the results as functions of those symbols implies
    # equality of the originals, and the entries are polynomials in them, so the
    # difference expands to zero without a general simplify. SymPy merges
    # exp(w)^c into exp(c w) (c <= 2 here: a product of two weights); that is read
    # back as E^c.
    S = sp.Symbol("S", positive=True)
    E = [sp.Symbol(f"E{ii}", positive=True) for ii in range(order + 1)]
    rule = {total: S, **{sp.exp(c * wi): Ei ** c for wi, Ei in zip(w, E) for c in (1, 2, 3)}}

    def generalise(expr: sp.Matrix) -> sp.Matrix:
        out = expr.xreplace(rule)
        if out.has(sp.exp):
            raise AssertionError("an exponential was not generalised")
        return out

    return {"srcs": srcs, "Q": Qs, "K": Ks, "V": Vs, "a": a, "v": v, "h": h, "generalise": generalise}


def exact_step_jacobians(result: AttentionRnnResult, order: int, size: int) -> dict[str, sp.Matrix]:
    """Both stored closed forms and SymPy's brute-force Jacobian, each n x (k n) (all lags side by side)."""
    inst = exact_instance(order, size)
    gen = source(j)
    stack = sp.ImmutableMatrix.hstack(*inst["v"])
    a = inst["a"]
    J = sp.ImmutableMatrix(derive_softmax_jacobian(order + 1).xreplace(
        {source(ii).a: a[ii] for ii in range(order + 1)}))
    blocks: dict[str, list[sp.Matrix]] = {"stack": [], "simplified": [], "brute": []}
    for lag in range(1, order + 1):
        s = inst["srcs"][lag]
        g = result.score_grad.xreplace({gen.Q: inst["Q"][lag], gen.K: inst["K"][lag], gen.s: s}).doit()
        common = {gen.a: a[lag], gen.V: inst["V"][lag], gen.g: sp.ImmutableMatrix(g)}
        e = sp.ImmutableMatrix(order + 1, 1, lambda r, _: int(r == lag))
        blocks["stack"].append(sp.Matrix(result.step_jacobian.xreplace(
            {**common, V_stack: stack, J_sym: J, gen.e: e}).doit()))
        blocks["simplified"].append(sp.Matrix(result.step_jacobian_simplified.xreplace(
            {**common, gen.v: inst["v"][lag], h_now: inst["h"]}).doit()))
        blocks["brute"].append(inst["h"].jacobian(list(s)))
    return {name: inst["generalise"](sp.Matrix.hstack(*mats)) for name, mats in blocks.items()}


def exact_checks(result: AttentionRnnResult, cases: dict[int, Sequence[int]]) -> list[verify_mod.Check]:
    """Both closed forms against SymPy's Jacobian of explicit symbols; ``cases``: order -> sizes n."""
    out = []
    for order, sizes in cases.items():
        closed, brute = [], []
        for size in sizes:
            mats = exact_step_jacobians(result, order, size)
            closed += list(mats["stack"]) + list(mats["simplified"])
            brute += list(mats["brute"]) * 2
        label = r"$\partial h[t]/\partial h[t-j]$" + f" ($k = {order}$)"
        out.append(verify_mod.exact(
            f"attention_rnn.k{order}.dh_dhlag", label, sp.Matrix(closed), sp.Matrix(brute),
            detail=f"n = {', '.join(map(str, sizes))}; j = 1..{order}; both forms; explicit softmax",
            shape=(max(sizes), max(sizes))))
    return out


def verify(result: AttentionRnnResult, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    """All checks of 1.2.2, and the instance with the closed form's value for the npz."""
    prm = result.params
    rng = np.random.default_rng(seed)
    ev = evaluator(result)
    main = instance(prm.k, prm.n, rng)
    detail = f"n={prm.n}, seed {seed}"
    checks = _fd_step_checks(result, ev, prm.k, main, detail)
    for order in result.orders:
        if order != prm.k:
            checks += _fd_step_checks(result, ev, order, instance(order, prm.n, rng), detail)
    checks += _fd_loss_checks(result, ev, rng, prm.n, prm.k, seed)
    cases = dict(EXACT_CASES)
    if prm.k not in cases and prm.k <= 4:
        cases[prm.k] = (1,)
    checks += exact_checks(result, dict(sorted(cases.items())))
    dh = step_jacobians(result, ev, main.x, list(main.h), main.Q, main.K, main.V)[0]
    arrays = {"attention_rnn.x": main.x, "attention_rnn.h": main.h, "attention_rnn.Q": main.Q,
              "attention_rnn.K": main.K, "attention_rnn.V": main.V, "attention_rnn.dh_dhprev": dh}
    return checks, arrays


# --------------------------------------------------------------------------
# The question-group protocol (see derivations.build)


def derive(variant: Any) -> AttentionRnnResult:
    return derive_params(variant.attention_rnn)


def tex_matrix_expr(expr: Any) -> str:
    """Matrix expressions keep the order in which they were built."""
    return latex.tex(expr, as_built=True)


def answers(result: AttentionRnnResult) -> dict[str, Any]:
    K = result.params.k
    ctx = context(result)
    return {
        "attention_rnn.a.shape": [result.a_dim[K]],
        "attention_rnn.a.shape.k2": [result.a_dim[2]],
        "attention_rnn.a.shape.latex": ctx["a_dim_general"],
        "attention_rnn.dh_dhprev.shape": ["n", "n"],
        "attention_rnn.dl_dhT.shape": [1, "n"],
        "attention_rnn.matrices_untied": result.matrices_untied[K],
        "attention_rnn.matrices_untied.k2": result.matrices_untied[2],
        "attention_rnn.matrices_tied": result.matrices_tied,
        "attention_rnn.matrices_tied_shared_input": result.matrices_tied_shared_input,
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


def _tex_any(expr: Any) -> str:
    """Matrix expressions in construction order, everything else in the default order."""
    return tex_matrix_expr(expr) if isinstance(expr, sp.MatrixExpr) else latex.tex(expr)


def _line(line: SystemLine) -> dict[str, str]:
    lhs = ", ".join(_tex_any(e) for e in line.lhs)
    rhs = ", ".join(_tex_any(e) for e in line.rhs)
    return {"lhs": lhs, "rhs": rhs, "where": line.where,
            "tex": lhs + " = " + rhs + (r", \quad " + line.where if line.where else "")}


def _local_first(expr: sp.Expr) -> str:
    """A loss gradient printed with the local term dl[T]/dh[T] first, then the later steps."""
    local = Partial(ell_seq[T], h_seq[T])
    rest = [a for a in sp.Add.make_args(expr) if a != local]
    if len(rest) == len(sp.Add.make_args(expr)):
        return latex.tex(expr)
    return latex.tex(local) + " + " + latex.tex(sp.Add(*rest))


def _factored(entry: sp.Expr) -> str:
    """A softmax-Jacobian entry a_r (delta - a_c) printed as a_r (1 - a_r) or -a_r a_c.

    The common factor is pulled out by SymPy; the bracket is printed in reading
    order (the Kronecker delta or 1 first).
    """
    head, rest = sp.factor_terms(entry).as_independent(sp.Add)
    if not isinstance(rest, sp.Add):
        return latex.tex(entry)
    first = [a for a in rest.args if a.is_number or isinstance(a, sp.KroneckerDelta)]
    others = [a for a in rest.args if a not in first]
    bracket = latex.tex(sp.Add(*first, *others, evaluate=False), as_built=True)
    return latex.tex(head) + r"\left(" + bracket + r"\right)"


def _lag_context(result: AttentionRnnResult, lag: Any, order: Any) -> dict[str, str]:
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
        "score": tex_matrix_expr(rename_lag(result.score, lag)),
        "g": tex_matrix_expr(rename_lag(result.score_grad, lag)),
        "slip": tex_matrix_expr(rename_lag(result.score_grad_slip, lag)),
        "value": tex_matrix_expr(rename_lag(result.value_term, lag)),
        "column": tex_matrix_expr(rename_lag(result.column, lag)),
        "column_simplified": tex_matrix_expr(rename_lag(result.column_simplified, lag)),
        "stack": tex_matrix_expr(rename_lag(result.step_jacobian, lag)),
        "simplified": tex_matrix_expr(rename_lag(result.step_jacobian_simplified, lag)),
        "range": index_range(j, 1, order) if lag == j else "",
        "QtK": tex_matrix_expr(src.Q.T * src.K),
        "loss_link": latex.tex(Small(ell, h_seq[t]) * Small(h_seq[t], h_seq[lagged(lag)])),
    }


# Diagram geometry (cm): column spacing per order, keeping the figure inside a
# 16.6 cm text width (A4 with 2.2 cm margins).
DIAGRAM_SPACING = {1: 4.6, 2: 4.4, 3: 3.1}
LANE_GAP = 0.35


def _diagram(result: AttentionRnnResult) -> dict[str, Any]:
    """Labels (printed from the model's symbols) and positions of the diagram's nodes."""
    order = result.diagram_order
    system = result.systems.get(order) or derive_system(order, explicit=True)
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
        "sum": _tex_any(system[-1].rhs[0]), "delays": delays, "width_cm": round(sum_x + 2.6 + 1.3, 1),
    }


MAX_WRITTEN_OUT = 3


def context(result: AttentionRnnResult) -> dict[str, Any]:
    prm = result.params
    K = prm.k
    one = _lag_context(result, 1, 2)
    general = _lag_context(result, j, K)
    systems = {o: [_line(line) for line in result.systems[o]] for o in result.orders}
    # Written-out systems and sums fit the page up to k = 3; larger k stay in the general form.
    shown = [o for o in result.orders if o <= MAX_WRITTEN_OUT]
    dl_orders = {o: _local_first(result.dl_dhT_orders[o]) for o in shown}
    return {
        "k": K, "n": prm.n, "orders": list(result.orders), "orders_shown": shown,
        "other": K != 2 and K <= MAX_WRITTEN_OUT,
        "k_symbol": latex.tex(k),
        # (a)
        "a_dim": {o: result.a_dim[o] for o in result.orders},
        "a_dim_general": latex.tex(result.a_dim_general),
        "a_shape": {o: latex.shape((result.a_dim[o],)) for o in result.orders},
        "a_shape_general": latex.shape((result.a_dim_general,)),
        "scores": {o: latex.tex(Bracket(*[source(ii).w for ii in range(o + 1)])) for o in result.orders},
        # (b)
        "system": systems,
        "system_general": [_line(line) for line in result.system_general],
        "maps_shape": latex.shape((n, n)),
        "vector_shape": latex.shape((n,)),
        # (c)
        "system_infinity": [_line(line) for line in result.system_infinity],
        "untied": {o: result.matrices_untied[o] for o in result.orders},
        "untied_general": latex.tex(sp.Mul(len(MAPS), result.a_dim_general, evaluate=False)),
        "inf_step_count": latex.tex(result.matrices_infinity_step),
        "inf_limit": latex.tex(result.matrices_infinity_limit),
        "inf_sources": latex.tex(result.matrices_infinity_step / len(MAPS)),
        "tied": result.matrices_tied,
        "tied_shared": result.matrices_tied_shared_input,
        "tied_maps": ", ".join(latex.tex(M) for M in source(0, tied=True).maps() + source(1, tied=True).maps()),
        "a_shape_infinity": latex.shape((t,)),
        # (d)
        "dh": one,
        "general": general,
        "J": latex.tex(J_sym),
        "J_form": tex_matrix_expr(result.softmax_form),
        "J_entry": _factored(result.softmax_entry),
        "J_entry_lhs": latex.tex(Slash(source(i).a, source(l).w)),
        "J_explicit": latex.matrix([[_factored(e) for e in row] for row in result.softmax_jacobian[2].tolist()]),
        "column_sum": (r"\sum_{" + latex.tex(sp.Eq(i, 0)) + "}^{" + latex.tex(2) + "} "
                       + _factored(result.softmax_entry.xreplace(
                           {sp.KroneckerDelta(i, l): sp.KroneckerDelta(i, 1, evaluate=False),
                            source(l).a: source(1).a})) + r"\, " + latex.tex(source(i).v)),
        "h_sum": _tex_any(result.systems[2][-1].rhs[0]),
        "loss_def": latex.tex(sp.Sum(sp.Symbol(tex_matrix_expr(vector("u").T * h_now)), (t, T, T_end))),
        "J_column": _factored(result.softmax_entry.xreplace(
            {sp.KroneckerDelta(i, l): sp.KroneckerDelta(i, 1, evaluate=False), source(l).a: source(1).a})),
        "J_shape": latex.shape((3, 3)),
        "V_stack": latex.tex(V_stack),
        "V_stack_def": latex.tex(Bracket(*[source(ii).v for ii in range(3)])),
        "V_stack_shape": latex.shape((n, 3)),
        "e1_def": latex.tex(sp.Transpose(sp.ImmutableMatrix([[0, 1, 0]]))),
        "h": latex.tex(h_now),
        "a_vec": latex.tex(a_vec),
        "dh_shape": latex.shape((n, n)),
        # (e)
        "dl": {
            "general": _local_first(result.dl_dhT),
            "truncated": _local_first(result.dl_dhT_truncated),
            "orders": dl_orders,
            "total": _local_first(result.dl_dhT_total),
            "infinity": _local_first(result.dl_dhT_infinity),
            "lag_range": index_range(j, result.direct_lags[0], result.direct_lags[1]),
            "lower": latex.tex(T + result.direct_lags[0]),
            "upper": latex.tex(T + result.direct_lags[1]),
            "local": latex.tex(Slash(ell_seq[T], h_seq[T])),
            "lhs": latex.tex(Partial(ell, h_seq[T])),
            "shape": latex.shape((1, n)),
            "direct_term": latex.tex(Partial(ell, h_seq[t]) * Partial(h_seq[t], h_seq[T])),
        },
        "diagram": _diagram(result),
    }
