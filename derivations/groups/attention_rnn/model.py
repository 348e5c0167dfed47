"""AttentionRNN(k): the symbols of one step and the system of equations that defines it.

At step ``t`` the cell has ``k + 1`` *sources*: ``s_0[t] = x[t]`` and
``s_i[t] = h[t - i]`` for ``i = 1..k``. Each source gets its own query, key and
value maps ``Q_i, K_i, V_i`` (``n x n``), one score ``w_i = q_i^T k_i``, and

    a[t] = softargmax(w_0, ..., w_k),        h[t] = sum_i a_i[t] v_i[t].

Every object is a SymPy symbol whose name is its printed LaTeX (``q_{1}[t]``),
so the formulas print as the homework writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ... import latex
from ...symbolic import DOTS, Bracket, Softargmax

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


def source(index: Any, *, tied: bool = False, time: Any = t) -> Source:
    """Source ``index`` of step ``time`` (``t``, or a later step such as ``t + 1``)."""
    time, at = lagged(t - time), lagged(t - time + index)  # both in reading order: t + 1, t - 1
    s = vector("x", time=time) if index == 0 else sp.MatrixSymbol(latex.tex(h_seq[at], as_built=True), n, 1)
    if tied:
        sub = "x" if index == 0 else None
        Q, K, V = (sp.MatrixSymbol(name if sub is None else f"{name}_{{{sub}}}", n, n) for name in MAPS)
    else:
        Q, K, V = (sp.MatrixSymbol(f"{name}_{{{latex.tex(index)}}}", n, n) for name in MAPS)
    return Source(index, s, vector("s", index, time), Q, K, V, vector("q", index, time), vector("k", index, time),
                  vector("v", index, time), scalar("w", index, time), scalar("a", index, time),
                  vector("g", index, time),
                  sp.MatrixSymbol(f"e_{{{latex.tex(index)}}}", m, 1))


h_now = vector("h")  # h[t]
a_vec = sp.MatrixSymbol(latex.tex(sp.IndexedBase("a")[t]), m, 1)  # a[t]
w_vec = sp.MatrixSymbol("w", m, 1)  # the scores as one vector (the softmax's argument)
J_sym = sp.MatrixSymbol("J", m, m)  # the softmax Jacobian at step t
V_stack = sp.MatrixSymbol(r"\mathcal{V}", n, m)  # [v_0[t], ..., v_k[t]]
u_now = vector("u")  # the loss weights of the checks' loss sum_t u[t]^T h[t]

SOURCE_FIELDS = ("s", "s_name", "Q", "K", "V", "q", "k", "v", "w", "a", "g", "e")


def rename_lag(expr: Any, lag: Any, time: Any = t) -> Any:
    """The generic-lag expression (written for lag ``j`` at step ``t``) for ``lag`` at step ``time``."""
    generic, concrete = source(j), source(lag, time=time)
    names = {getattr(generic, f): getattr(concrete, f) for f in SOURCE_FIELDS}
    if time != t:
        names[h_now] = vector("h", time=lagged(t - time))
    return expr.xreplace(names)


@dataclass(frozen=True)
class SystemLine:
    """One line of a system of equations: ``lhs = rhs`` for ``index = lo..hi`` (``where``)."""

    lhs: tuple[sp.Basic, ...]
    rhs: tuple[sp.Basic, ...]
    where: tuple[sp.Symbol, Any, Any] | None = None  # (index, lo, hi)


def last_source(order: Any, *, tied: bool = False) -> sp.Expr:
    """The index of the last source: ``order``, or ``t - 1`` (the state ``h[1]``) for AttentionRNN(oo)."""
    return t - 1 if tied else order


def source_range(order: Any, *, tied: bool = False) -> tuple[sp.Symbol, Any, Any]:
    """``(i, 0, last)``: source 0 is the input, sources 1..last the states."""
    return (i, 0, last_source(order, tied=tied))


def system(order: Any, *, tied: bool = False, explicit: bool = False) -> tuple[SystemLine, ...]:
    """The equations of AttentionRNN(order) (``order`` an int or the symbol ``k``).

    ``explicit`` lists every source (``q_0[t], q_1[t], q_2[t] = ...``); otherwise the
    lines are written for a generic source ``i`` with its range. ``tied`` gives
    AttentionRNN(oo): the last source is ``h[1]`` (``i = t - 1``) and the states
    share one set of maps.
    """
    last = last_source(order, tied=tied)
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
        lines.append(SystemLine((gen.w,), (gen.q.T * gen.k,), source_range(order)))
    else:
        lines.append(SystemLine((source(0).s_name,), (source(0).s,)))
        lines.append(SystemLine((gen.s_name,), (gen.s,), (i, 1, last)))
        if tied:
            x_src = source(0, tied=True)
            lines.append(SystemLine((x_src.q, x_src.k, x_src.v),
                                    tuple(M * x_src.s_name for M in x_src.maps())))
            lines.append(SystemLine((gen.q, gen.k, gen.v), tuple(M * gen.s_name for M in gen.maps()),
                                    (i, 1, last)))
        else:
            lines.append(SystemLine((gen.q, gen.k, gen.v), tuple(M * gen.s_name for M in gen.maps()),
                                    source_range(order)))
        lines.append(SystemLine((gen.w,), (gen.q.T * gen.k,), source_range(order, tied=tied)))
    lines.append(SystemLine((a_vec,), (Softargmax(Bracket(*scores)),)))
    weighted = sp.Sum(gen.a * sp.Symbol(gen.v.name), source_range(order, tied=tied))
    lines.append(SystemLine((h_now,), (weighted,)))
    return tuple(lines)
