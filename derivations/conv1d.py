"""Question 1.1(c): a 1-D convolution (cross-correlation) with one filter, no bias.

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

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from . import latex
from . import verify as verify_mod
from .shapes import output_length
from .variant import Conv1d

x = sp.IndexedBase("x")
W = sp.IndexedBase("W")
g = sp.IndexedBase("g")
c, m, p, n = sp.symbols("c m p n", integer=True, positive=True)
s_p = sp.Symbol("s_p", integer=True)

# Exact SymPy checks are made when the explicit Jacobian has at most this many entries.
EXACT_LIMIT = 20000


@dataclass(frozen=True)
class Conv1dResult:
    """Derived answers to 1.1(c), as SymPy objects and shapes (1-based, numerator layout)."""

    params: Conv1d
    L_out: int
    index: sp.Expr  # j(p, m): the input position read by tap m of output p
    start: sp.Expr  # s_p = j(p, 1)
    forward: sp.Sum  # f_W(x)[1, p]
    df_dW: sp.Expr  # d f[1,p] / d W[1,c,m]
    df_dx: sp.Piecewise  # d f[1,p] / d x[c,n]
    tap: sp.Expr  # m*(n, p): the tap that reads x[c, n] for output p
    dl_dW: sp.Sum  # d l / d W[1,c,m] = sum_p g[1,p] df[1,p]/dW[1,c,m]
    dl_dW_explicit: sp.Expr  # the same with the sum over p written out
    dl_dW_correlation: sp.Sum  # the same, as a correlation of x with the stride-spread gradient
    spread_length: int  # length of the spread gradient: S (L_out - 1) + 1
    shapes: dict[str, tuple[int, ...]]

    @property
    def out_shape(self) -> tuple[int, int]:
        return (1, self.L_out)


def _drop_guards(expr: sp.Expr, guards: set[sp.Basic]) -> sp.Expr:
    """Collapse Piecewise branches whose condition only restates index ranges.

    ``diff`` of a ``Sum`` over Kronecker deltas guards its result with
    ``1 <= c <= C``-type conditions; for indices inside their ranges these hold.
    """

    def collapse(pw: sp.Piecewise) -> sp.Expr:
        expr0, cond0 = pw.args[0]
        parts = set(cond0.args) if isinstance(cond0, sp.And) else {cond0}
        return expr0 if parts <= guards else pw

    return expr.replace(lambda e: isinstance(e, sp.Piecewise), collapse)


def derive_params(params: Conv1d) -> Conv1dResult:
    """Derive (i)-(iv) for the variant's sizes."""
    C, L, K, S, D, P = (params.channels, params.length, params.kernel, params.stride,
                        params.dilation, params.padding)
    L_out = output_length(L, K, S, P, D)
    index = S * (p - 1) + D * (m - 1) + 1 - P
    forward = sp.Sum(W[1, c, m] * x[c, index], (c, 1, C), (m, 1, K))

    c0, m0, n0, p0 = sp.symbols("c_0 m_0 n_0 p_0", integer=True)
    guards = {c0 >= 1, c0 <= C, m0 >= 1, m0 <= K, p0 >= 1, p0 <= L_out}
    guards |= {sp.Ge(c0, 1), sp.Le(c0, C), sp.Ge(m0, 1), sp.Le(m0, K)}

    # (ii) d f[1,p] / d W[1,c,m]: one Kronecker delta per summation index.
    df_dW = _drop_guards(sp.diff(forward, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})

    # (iii) d f[1,p] / d x[c,n]: the delta pins the tap m to the solution of
    # j(p, m) = n; it contributes when that tap is an integer in 1..K.
    tap = sp.solve(sp.Eq(index, n), m)[0]
    # 1 <= tap <= K  <=>  j(p, 1) <= n <= j(p, K), since j grows with m.
    in_range = sp.And(index.subs(m, 1) <= n, n <= index.subs(m, K))
    if D > 1:
        in_range = sp.And(in_range, sp.Eq(sp.Mod(n - index.subs(m, 1), D), 0))
    df_dx = sp.Piecewise((W[1, c, tap], in_range), (0, True))

    # (iv) dl/dW = sum_p dl/df[1,p] * df[1,p]/dW: chain rule through the sum.
    loss = sp.Sum(g[1, p] * forward, (p, 1, L_out))
    dl_dW_explicit = _drop_guards(sp.diff(loss, W[1, c0, m0]).doit(), guards).subs({c0: c, m0: m})
    dl_dW = sp.Sum(g[1, p] * df_dW, (p, 1, L_out))
    if sp.expand(dl_dW.doit() - dl_dW_explicit) != 0:  # the chain rule, term by term
        raise AssertionError("chain rule for dl/dW disagrees with diff of the loss")
    # Spread g by the stride: gs[j] = g[1, p] at j = S(p-1)+1, zero between.
    spread = S * (L_out - 1) + 1
    j = sp.Symbol("j", integer=True, positive=True)
    gs = sp.IndexedBase(r"\tilde{g}")
    dl_dW_corr = sp.Sum(gs[j] * x[c, j + D * (m - 1) - P], (j, 1, spread))

    shapes = {
        "f": (1, L_out),
        "df_dW": (1, L_out, 1, C, K),
        "df_dx": (1, L_out, C, L),
        "dl_dW": (1, C, K),
        "g": (1, L_out),
    }
    return Conv1dResult(params, L_out, index, index.subs(m, 1), forward, df_dW, df_dx, tap,
                        dl_dW, dl_dW_explicit, dl_dW_corr, spread, shapes)


# --------------------------------------------------------------------------
# Numeric evaluation of the derived element formulas


class OneBased:
    """A 1-based, zero-outside view of a NumPy array, for lambdified element formulas."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __getitem__(self, idx: tuple[int, ...]) -> float:
        idx = tuple(int(i) - 1 for i in idx)
        if any(i < 0 or i >= s for i, s in zip(idx, self.array.shape)):
            return 0.0
        return float(self.array[idx])


def _element_function(expr: sp.Expr, indices: tuple[sp.Symbol, ...]) -> Callable[..., float]:
    return sp.lambdify(indices + (x, W, g), expr, modules="math")


def closed_forms(result: Conv1dResult, xv: np.ndarray, Wv: np.ndarray, gv: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate the derived element formulas on arrays (0-based, numerator layout)."""
    C, L, K = result.params.channels, result.params.length, result.params.kernel
    Lo = result.L_out
    arrays = (OneBased(xv), OneBased(Wv), OneBased(gv))
    f_fn = _element_function(result.forward.doit(), (p,))
    dW_fn = _element_function(result.df_dW, (p, c, m))
    dx_fn = _element_function(result.df_dx, (p, c, n))
    dl_fn = _element_function(result.dl_dW.doit(), (c, m))

    f = np.array([[f_fn(pp, *arrays) for pp in range(1, Lo + 1)]])
    dW = np.zeros(result.shapes["df_dW"])
    dx = np.zeros(result.shapes["df_dx"])
    dl = np.zeros(result.shapes["dl_dW"])
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


def reference_forward(params: Conv1d, xv: np.ndarray, Wv: np.ndarray) -> np.ndarray:
    """An independent implementation: pad, dilate, slide (0-based NumPy), shape (1, L_out)."""
    K, S, D, P = params.kernel, params.stride, params.dilation, params.padding
    padded = np.pad(xv, ((0, 0), (P, P)))
    span = D * (K - 1) + 1
    starts = range(0, padded.shape[1] - span + 1, S)
    return np.array([[np.sum(Wv[0] * padded[:, s:s + span:D]) for s in starts]])


def instance(result: Conv1dResult, seed: int) -> dict[str, np.ndarray]:
    """A random float64 instance (x, W, g) from a fixed seed."""
    rng = np.random.default_rng(seed)
    C, L, K = result.params.channels, result.params.length, result.params.kernel
    xv, Wv, gv = verify_mod.random_instance(rng, (C, L), (1, C, K), (1, result.L_out))
    return {"x": xv, "W": Wv, "g": gv}


def verify(result: Conv1dResult, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    """All checks of 1.1(c), and the instance with the closed forms' values."""
    inst = instance(result, seed)
    xv, Wv, gv = inst["x"], inst["W"], inst["g"]
    values = closed_forms(result, xv, Wv, gv)
    prm = result.params
    detail = f"C={prm.channels}, L={prm.length}, seed {seed}"
    out = [
        verify_mod.agreement("conv1d.f", r"$f_W(x)$ (i)", values["f"], reference_forward(prm, xv, Wv),
                         "sliding-window sum", detail=detail),
        verify_mod.finite_difference("conv1d.df_dW", r"$\partial f_W(x)/\partial W$ (ii)",
                                 lambda w: reference_forward(prm, xv, w), Wv, values["df_dW"], detail=detail),
        verify_mod.finite_difference("conv1d.df_dx", r"$\partial f_W(x)/\partial x$ (iii)",
                                 lambda v: reference_forward(prm, v, Wv), xv, values["df_dx"], detail=detail),
        verify_mod.finite_difference("conv1d.dl_dW", r"$\partial \ell/\partial W$ (iv)",
                                 lambda w: np.sum(gv * reference_forward(prm, xv, w)), Wv, values["dl_dW"],
                                 detail=detail),
    ]
    # (iv) in its correlation form: x correlated with g spread out by the stride.
    spread = np.zeros(result.spread_length)
    spread[:: prm.stride] = gv[0]
    padded = np.pad(xv, ((0, 0), (prm.padding, prm.padding)))
    corr = np.array([[[np.dot(spread, padded[cc, mm * prm.dilation: mm * prm.dilation + result.spread_length])
                       for mm in range(prm.kernel)] for cc in range(prm.channels)]])
    out.append(verify_mod.agreement("conv1d.dl_dW.correlation", r"$\partial \ell/\partial W$ as a correlation (iv)",
                                values["dl_dW"], corr, "correlation with spread $g$", detail=detail))
    if prm.channels * prm.length * result.L_out <= EXACT_LIMIT:
        out.extend(exact_checks(result))
    arrays = {"conv1d.x": xv, "conv1d.W": Wv, "conv1d.g": gv, "conv1d.f": values["f"],
              "conv1d.df_dW": values["df_dW"], "conv1d.df_dx": values["df_dx"], "conv1d.dl_dW": values["dl_dW"]}
    return out, arrays


def zero_padding(expr: sp.Expr, length: int) -> sp.Expr:
    """Replace the entries x[c, n] with n outside 1..L by 0: they are the padding."""

    def pad(e: sp.Indexed) -> Any:
        return sp.S.Zero if (e.base == x and not 1 <= int(e.indices[1]) <= length) else e

    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.Indexed), pad)


def explicit_forward(result: Conv1dResult) -> sp.Matrix:
    """f_W(x) as a 1 x L_out matrix of explicit symbols."""
    return sp.Matrix([[zero_padding(result.forward.subs(p, pp).doit(), result.params.length)
                       for pp in range(1, result.L_out + 1)]])


def exact_checks(result: Conv1dResult) -> list[verify_mod.Check]:
    """(ii) and (iii) against SymPy's brute-force Jacobian of explicit symbols."""
    C, L, K = result.params.channels, result.params.length, result.params.kernel
    f = explicit_forward(result)
    w_vars = [W[1, cc, mm] for cc in range(1, C + 1) for mm in range(1, K + 1)]
    x_vars = [x[cc, nn] for cc in range(1, C + 1) for nn in range(1, L + 1)]
    brute_W, brute_x = f.jacobian(w_vars), f.jacobian(x_vars)
    closed_W = sp.Matrix(result.L_out, len(w_vars), lambda i, k: zero_padding(result.df_dW.subs(
        {p: i + 1, c: k // K + 1, m: k % K + 1}), L))
    closed_x = sp.Matrix(result.L_out, len(x_vars), lambda i, k: result.df_dx.subs(
        {p: i + 1, c: k // L + 1, n: k % L + 1}))
    detail = f"C={C}, L={L}, all entries"
    return [
        verify_mod.exact("conv1d.df_dW", r"$\partial f_W(x)/\partial W$ (ii)", closed_W, brute_W, detail=detail,
                          shape=result.shapes["df_dW"]),
        verify_mod.exact("conv1d.df_dx", r"$\partial f_W(x)/\partial x$ (iii)", closed_x, brute_x, detail=detail,
                          shape=result.shapes["df_dx"]),
    ]


def channel_blocks(result: Conv1dResult) -> dict[str, list[list[sp.Expr]]]:
    """The explicit Jacobian blocks for one (symbolic) channel c at the variant's sizes.

    ``dW``: rows p, columns m (entries x[c, .]); ``dx``: rows p, columns n
    (entries W[1, c, .] or 0): a banded matrix, each row shifted by the stride.
    """
    K, L = result.params.kernel, result.params.length
    rows = range(1, result.L_out + 1)
    dW = [[result.df_dW.subs({p: pp, m: mm}) for mm in range(1, K + 1)] for pp in rows]
    # Short names w_m = W[1, c, m] keep the banded block narrow enough to print.
    short = {W[1, c, mm]: sp.Symbol(f"w_{mm}") for mm in range(1, K + 1)}
    dx = [[result.df_dx.subs({p: pp, n: nn}).subs(short) for nn in range(1, L + 1)] for pp in rows]
    return {"dW": dW, "dx": dx}


# --------------------------------------------------------------------------
# The question-group protocol (see derivations.build)


def derive(variant: Any) -> Conv1dResult:
    return derive_params(variant.conv1d)


def answers(result: Conv1dResult) -> dict[str, Any]:
    ctx = context(result)
    return {
        "conv1d.output_shape": list(result.shapes["f"]),
        "conv1d.df_dW.shape": list(result.shapes["df_dW"]),
        "conv1d.df_dx.shape": list(result.shapes["df_dx"]),
        "conv1d.dl_dW.shape": list(result.shapes["dl_dW"]),
        "conv1d.f.latex": ctx["forward"],
        "conv1d.df_dW.latex": ctx["df_dW"],
        "conv1d.df_dx.latex": ctx["df_dx_value"] + r" \text{ if } " + ctx["df_dx_condition"] + r", \text{ else } 0",
        "conv1d.dl_dW.latex": ctx["dl_dW"],
    }


MAX_COLUMNS = 12  # explicit Jacobian blocks wider than this are elided with dots


def context(result: Conv1dResult) -> dict[str, Any]:
    prm = result.params
    K, L = prm.kernel, prm.length
    first, last = result.index.subs(m, 1), result.index.subs(m, K)
    condition = latex.tex(first) + r" \le n \le " + latex.tex(last)
    if prm.dilation > 1:
        condition += r",\ n \equiv " + latex.tex(first) + r" \pmod{" + str(prm.dilation) + "}"
    blocks = channel_blocks(result)
    shown = [1, 2, K] if K > 4 else range(1, K + 1)  # long lists elided with dots
    taps = ", ".join(latex.tex(result.index.subs(m, mm)) for mm in shown)
    if K > 4:
        taps = taps.replace(", " + latex.tex(result.index.subs(m, K)), r", \dots, " + latex.tex(result.index.subs(m, K)))
    return {
        "C": prm.channels, "L": L, "K": K, "S": prm.stride, "D": prm.dilation, "P": prm.padding,
        "L_out": result.L_out,
        "L_out_formula": latex.tex(axis_numbers(prm), as_built=True),
        "index": latex.tex(result.index),
        "start": latex.tex(result.start),
        "taps": taps,
        "p_range": ", ".join(str(i) for i in range(1, result.L_out + 1)) if result.L_out <= 6
        else rf"1, 2, \dots, {result.L_out}",
        "shape_f": latex.shape(result.shapes["f"]),
        "shape_W": latex.shape((1, prm.channels, K)),
        "shape_x": latex.shape((prm.channels, L)),
        "shape_df_dW": latex.shape(result.shapes["df_dW"]),
        "jac_df_dW": "(" + latex.dims(result.shapes["f"]) + r") \times (" + latex.dims((1, prm.channels, K)) + ")",
        "shape_df_dx": latex.shape(result.shapes["df_dx"]),
        "jac_df_dx": "(" + latex.dims(result.shapes["f"]) + r") \times (" + latex.dims((prm.channels, L)) + ")",
        "shape_dl_dW": latex.shape(result.shapes["dl_dW"]),
        "forward": latex.tex(result.forward),
        "df_dW": latex.tex(result.df_dW),
        "df_dx_value": latex.tex(W[1, c, result.tap]),
        "df_dx_condition": condition,
        "dl_dW": latex.tex(result.dl_dW),
        "dl_dW_explicit": latex.tex(result.dl_dW_explicit),
        "show_explicit": result.L_out <= 5,  # written out only while it fits a line or two
        "dl_dW_correlation": latex.tex(result.dl_dW_correlation),
        "spread_length": result.spread_length,
        "block_dW": latex.elided(blocks["dW"], 12, MAX_COLUMNS),
        "block_dx": latex.elided(blocks["dx"], 12, MAX_COLUMNS),
        "block_dx_elided": L > MAX_COLUMNS,
    }


def axis_numbers(params: Conv1d) -> sp.Expr:
    """floor((L + 2P - K_eff)/S) + 1 with the numbers in, unevaluated."""
    from .shapes import axis_formula, effective_kernel

    k_eff = effective_kernel(params.kernel, params.dilation).doit()
    return axis_formula(params.length, k_eff, params.stride, params.padding)
