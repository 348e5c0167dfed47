"""1.1(c): a 1-D convolution (cross-correlation) with one filter, no bias.

Indices are 1-based as in the homework: channel ``c = 1..C``, position
``n = 1..L``, tap ``m = 1..K``, output ``p = 1..L_out``. With stride ``S``,
dilation ``D`` and zero padding ``P``, output ``p`` reads the input at

    j(p, m) = S (p - 1) + D (m - 1) + 1 - P,

with ``x[c, n] = 0`` for ``n`` outside ``1..L``. The forward pass is a SymPy
``Sum`` over ``c`` and ``m``; every Jacobian is obtained from it with ``diff``
and the Kronecker deltas resolved, so the element formulas hold for the
variant's sizes exactly as printed.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ...symbolic import DOTS, AsWritten, Between, Congruent, Entries, Listing, Name, Partial, Slash, \
    drop_guards, range_guards
from ..conv2d.derive import axis_numbers, output_length

x = sp.IndexedBase("x")
W = sp.IndexedBase("W")
g = sp.IndexedBase("g")
c, m, p, n = sp.symbols("c m p n", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
g_spread = sp.IndexedBase(r"\tilde{g}")

# The text's names: the layer's output f_W(x), the loss, the start s_p of output p,
# the short names w_m of one channel's taps, L_out.
F = Name("f_W(x)")
f = sp.IndexedBase(F)
ell = sp.Symbol("ell")
s_p = Name("s_p")
L_OUT = sp.Symbol(r"L_{\mathrm{out}}")


def short_name(tap: Any) -> sp.Symbol:
    """``w_m`` for ``W[1, c, m]``: one channel's taps, short enough for the banded block."""
    return sp.Symbol(f"w_{tap}")


# Names of the Jacobians, displayed (\frac) and inline (/).
NAMES = {"df_dW": Partial(F, W.label), "df_dx": Partial(F, x.label), "dl_dW": Partial(ell, W.label),
         "df_dW_inline": Slash(F, W.label), "df_dx_inline": Slash(F, x.label), "dl_dW_inline": Slash(ell, W.label)}


@functools.lru_cache(maxsize=1)  # the same for every variant: built once per process
def stem() -> dict[str, sp.Basic]:
    """The question's general statements: cross-correlation, the input's index ranges, the answer style."""
    s, k = sp.IndexedBase("s"), sp.IndexedBase("k")
    M = sp.Symbol("M", integer=True, positive=True)
    tap = sp.Symbol("m", integer=True)  # -M..M here, not the 1-based tap of the layer
    i, jj, kk, a, b, c = sp.symbols("i j k a b c")
    # Built unevaluated, so that they print as read: x[n + m] k[m], x[n - m].
    product = sp.Mul(x[sp.Add(n, tap, evaluate=False)], k[tap], evaluate=False)
    correlation = sp.Eq(s[n], sp.Sum(product, (tap, -M, M)), evaluate=False)
    convolution_entry = x[sp.Add(n, -tap, evaluate=False)]
    return {"support": Between(-M, tap, M), "correlation": AsWritten(correlation),
            "convolution_entry": AsWritten(convolution_entry),
            # A style example with three axes, so it says nothing about the answer's shape.
            "style_shape": (a, b, c), "style_entry": sp.Eq(f[i, jj, kk], DOTS, evaluate=False)}


@dataclass(frozen=True)
class Conv1dDerivation:
    """Derived answers to 1.1(c), as SymPy objects and shapes (1-based, numerator layout)."""

    params: Any
    L_out: int
    L_out_numbers: sp.Expr  # floor((L + 2P - K_eff)/S) + 1 with the numbers in
    index: sp.Expr  # j(p, m): the input position read by tap m of output p
    start: sp.Expr  # s_p = j(p, 1)
    forward: sp.Sum  # f_W(x)[1, p]
    df_dW: sp.Expr  # d f[1,p] / d W[1,c,m]
    df_dx: sp.Piecewise  # d f[1,p] / d x[c,n]
    tap: sp.Expr  # m*(n, p): the tap that reads x[c, n] for output p
    dl_dW: sp.Sum  # d l / d W[1,c,m] = sum_p g[1,p] df[1,p]/dW[1,c,m]
    dl_dW_explicit: sp.Expr  # diff of the loss itself, the sum over p written out
    dl_dW_correlation: sp.Sum  # the same, as a correlation of x with the stride-spread gradient
    spread_length: int  # length of the spread gradient: S (L_out - 1) + 1
    shapes: dict[str, tuple[int, ...]]
    taps: tuple[sp.Expr, ...]  # j(p, m) for m = 1..K
    df_dx_conditions: tuple[sp.Basic, ...]  # s_p <= n <= j(p, K) [and n = s_p (mod D)]: where tap m*(n, p) exists
    statements: dict[str, sp.Basic]  # the answers' equations and ranges as the text states them
    blocks: dict[str, list[list[sp.Expr]]] = dataclasses.field(default_factory=dict)  # see channel_blocks

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, self.L_out)


def derive(params: Any) -> Conv1dDerivation:
    """(i)-(iv) for the variant's sizes.

    Made once per parameter set in a process (the parameters are frozen): a
    student's key, solutions and handout share one derivation.
    """
    try:
        return _derive_cached(params)
    except TypeError:  # unhashable parameters (not a Conv1d): no cache
        return _derive(params)


def is_cached(d: "Conv1dDerivation") -> bool:
    """``d`` is the derivation :func:`derive` made for ``d.params`` (not a modified copy)."""
    try:
        return _derive_cached(d.params) is d
    except TypeError:
        return False


def _derive(params: Any) -> Conv1dDerivation:
    C, L, K, S, D, P = (params.channels, params.length, params.kernel, params.stride,
                        params.dilation, params.padding)
    L_out = output_length(L, K, S, P, D)
    L_out_numbers = axis_numbers(L, K, S, P, D)
    index = S * (p - 1) + D * (m - 1) + 1 - P
    forward = sp.Sum(W[1, c, m] * x[c, index], (c, 1, C), (m, 1, K))

    c0, m0 = sp.symbols("c_0 m_0", integer=True)
    guards = range_guards({c0: C, m0: K})

    # (ii) d f[1,p] / d W[1,c,m]: one Kronecker delta per summation index.
    df_dW = drop_guards(sp.diff(forward, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})

    # (iii) d f[1,p] / d x[c,n]: the delta pins the tap m to the solution of
    # j(p, m) = n; it contributes when that tap is an integer in 1..K.
    tap_equation = sp.Eq(index, n)
    tap = sp.solve(tap_equation, m)[0]
    # 1 <= tap <= K  <=>  j(p, 1) <= n <= j(p, K), since j grows with m.
    conditions: tuple[Any, ...] = (Between(index.subs(m, 1), n, index.subs(m, K)),)
    if D > 1:
        conditions += (Congruent(n, index.subs(m, 1), D),)
    in_range = sp.And(*(cond.condition() for cond in conditions))
    df_dx = sp.Piecewise((W[1, c, tap], in_range), (0, True))

    # (iv) dl/dW = sum_p dl/df[1,p] * df[1,p]/dW: the chain rule through the sum,
    # and diff of the loss itself (the check step compares the two).
    loss = sp.Sum(g[1, p] * forward, (p, 1, L_out))
    dl_dW_explicit = drop_guards(sp.diff(loss, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})
    chain_rule = sp.Sum(g[1, p] * Slash(f[1, p], W[1, c, m]), (p, 1, L_out))
    dl_dW = chain_rule.xreplace({Slash(f[1, p], W[1, c, m]): df_dW})
    # Spread g by the stride: gs[j] = g[1, p] at j = S(p-1)+1, zero between
    # (unevaluated, printed as built, so the stride S shows as the spacing).
    with sp.evaluate(False):
        spread_at = sp.Add(sp.Mul(S, sp.Add(p, -1)), 1)
    spread = int(spread_at.subs(p, L_out).doit())
    dl_dW_corr = sp.Sum(g_spread[j] * x[c, j + D * (m - 1) - P], (j, 1, spread))

    # Numerator layout: a Jacobian's shape is the output's followed by the input's;
    # the scalar loss has shape ().
    base = {"f": (1, L_out), "W": (1, C, K), "x": (C, L), "g": (1, L_out)}
    shapes = {**base, "df_dW": base["f"] + base["W"], "df_dx": base["f"] + base["x"], "dl_dW": () + base["W"]}
    taps = tuple(index.subs(m, mm) for mm in range(1, K + 1))
    eq = lambda a, b: sp.Eq(a, b, evaluate=False)  # noqa: E731  (statements are shown, never decided)
    statements = {
        **stem(), "input_ranges": (Between(1, c, C), Between(1, n, L)),
        "L_out": eq(L_OUT, L_out_numbers), "start": eq(s_p, taps[0]),
        "padding": (sp.Lt(n, 1, evaluate=False), sp.Gt(n, L, evaluate=False)),
        "forward": eq(f[1, p], forward),
        "df_dW": eq(Partial(f[1, p], W[1, c, m]), df_dW), "block_dW": Entries(Partial(f[1, p], W[1, c, m]), p, m),
        "tap_equation": tap_equation, "tap_range": Between(1, m, K),
        "df_dx_lhs": Partial(f[1, p], x[c, n]), "block_dx": Entries(Partial(f[1, p], x[c, n]), p, n),
        "short_name": eq(short_name(m), W[1, c, m]),
        "g": eq(g.label, Slash(ell, F)),
        "chain_rule": eq(Slash(ell, W[1, c, m]), chain_rule),
        "dl_dW": eq(Partial(ell, W[1, c, m]), dl_dW),
        "spread": (eq(g_spread[j], g[1, p]), eq(j, spread_at), eq(g_spread[j], 0), eq(j, Listing(1, DOTS, spread))),
        "dl_dW_correlation": eq(Partial(ell, W[1, c, m]), dl_dW_corr),
    }
    out = Conv1dDerivation(params, L_out, L_out_numbers, index, taps[0], forward,
                           df_dW, df_dx, tap, dl_dW, dl_dW_explicit, dl_dW_corr, spread, shapes, taps,
                           conditions, statements)
    return dataclasses.replace(out, blocks=channel_blocks(out))


_derive_cached = functools.lru_cache(maxsize=64)(_derive)


def channel_blocks(d: Conv1dDerivation) -> dict[str, list[list[sp.Expr]]]:
    """The explicit Jacobian blocks for one (symbolic) channel c at the variant's sizes.

    ``dW``: rows p, columns m (entries x[c, .]); ``dx``: rows p, columns n
    (entries W[1, c, .] or 0): a banded matrix, each row shifted by the stride.
    Short names ``w_m = W[1, c, m]`` keep the banded block narrow enough to print.
    """
    K, L = d.params.kernel, d.params.length
    rows = range(1, d.L_out + 1)
    dW = [[d.df_dW.subs({p: pp, m: mm}) for mm in range(1, K + 1)] for pp in rows]
    short = {W[1, c, mm]: short_name(mm) for mm in range(1, K + 1)}
    dx = [[d.df_dx.subs({p: pp, n: nn}).subs(short) for nn in range(1, L + 1)] for pp in rows]
    return {"dW": dW, "dx": dx}
