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
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ...symbolic import drop_guards, range_guards
from ..conv2d.derive import axis_numbers, output_length

x = sp.IndexedBase("x")
W = sp.IndexedBase("W")
g = sp.IndexedBase("g")
c, m, p, n = sp.symbols("c m p n", integer=True, positive=True)
j = sp.Symbol("j", integer=True, positive=True)
g_spread = sp.IndexedBase(r"\tilde{g}")


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
    blocks: dict[str, list[list[sp.Expr]]] = dataclasses.field(default_factory=dict)  # see channel_blocks

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, self.L_out)


def derive(params: Any) -> Conv1dDerivation:
    """(i)-(iv) for the variant's sizes."""
    C, L, K, S, D, P = (params.channels, params.length, params.kernel, params.stride,
                        params.dilation, params.padding)
    L_out = output_length(L, K, S, P, D)
    index = S * (p - 1) + D * (m - 1) + 1 - P
    forward = sp.Sum(W[1, c, m] * x[c, index], (c, 1, C), (m, 1, K))

    c0, m0 = sp.symbols("c_0 m_0", integer=True)
    guards = range_guards({c0: C, m0: K})

    # (ii) d f[1,p] / d W[1,c,m]: one Kronecker delta per summation index.
    df_dW = drop_guards(sp.diff(forward, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})

    # (iii) d f[1,p] / d x[c,n]: the delta pins the tap m to the solution of
    # j(p, m) = n; it contributes when that tap is an integer in 1..K.
    tap = sp.solve(sp.Eq(index, n), m)[0]
    # 1 <= tap <= K  <=>  j(p, 1) <= n <= j(p, K), since j grows with m.
    in_range = sp.And(index.subs(m, 1) <= n, n <= index.subs(m, K))
    if D > 1:
        in_range = sp.And(in_range, sp.Eq(sp.Mod(n - index.subs(m, 1), D), 0))
    df_dx = sp.Piecewise((W[1, c, tap], in_range), (0, True))

    # (iv) dl/dW = sum_p dl/df[1,p] * df[1,p]/dW: the chain rule through the sum,
    # and diff of the loss itself (the check step compares the two).
    loss = sp.Sum(g[1, p] * forward, (p, 1, L_out))
    dl_dW_explicit = drop_guards(sp.diff(loss, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})
    dl_dW = sp.Sum(g[1, p] * df_dW, (p, 1, L_out))
    # Spread g by the stride: gs[j] = g[1, p] at j = S(p-1)+1, zero between.
    spread = S * (L_out - 1) + 1
    dl_dW_corr = sp.Sum(g_spread[j] * x[c, j + D * (m - 1) - P], (j, 1, spread))

    shapes = {"f": (1, L_out), "W": (1, C, K), "x": (C, L), "df_dW": (1, L_out, 1, C, K),
              "df_dx": (1, L_out, C, L), "dl_dW": (1, C, K), "g": (1, L_out)}
    taps = tuple(index.subs(m, mm) for mm in range(1, K + 1))
    out = Conv1dDerivation(params, L_out, axis_numbers(L, K, S, P, D), index, taps[0], forward,
                           df_dW, df_dx, tap, dl_dW, dl_dW_explicit, dl_dW_corr, spread, shapes, taps)
    return dataclasses.replace(out, blocks=channel_blocks(out))


def channel_blocks(d: Conv1dDerivation) -> dict[str, list[list[sp.Expr]]]:
    """The explicit Jacobian blocks for one (symbolic) channel c at the variant's sizes.

    ``dW``: rows p, columns m (entries x[c, .]); ``dx``: rows p, columns n
    (entries W[1, c, .] or 0): a banded matrix, each row shifted by the stride.
    Short names ``w_m = W[1, c, m]`` keep the banded block narrow enough to print.
    """
    K, L = d.params.kernel, d.params.length
    rows = range(1, d.L_out + 1)
    dW = [[d.df_dW.subs({p: pp, m: mm}) for mm in range(1, K + 1)] for pp in rows]
    short = {W[1, c, mm]: sp.Symbol(f"w_{mm}") for mm in range(1, K + 1)}
    dx = [[d.df_dx.subs({p: pp, n: nn}).subs(short) for nn in range(1, L + 1)] for pp in rows]
    return {"dW": dW, "dx": dx}
