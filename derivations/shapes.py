"""Questions 1.1(a) and 1.1(b): output sizes of a 2-D convolution.

On one axis of length ``N`` (padded by ``P`` on both sides), a kernel of ``K``
taps with dilation ``D`` spans ``K_eff = D(K - 1) + 1`` positions. It fits at
the starts ``0, S, 2S, ...`` as long as ``start + K_eff <= N + 2P``, so the
number of outputs is ``floor((N + 2P - K_eff) / S) + 1``.

The formula is built once by :func:`axis_formula` from either symbols or
integers (unevaluated, in reading order), so the same SymPy expression gives the
printed formula, the printed substitution and, with ``doit``, the value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from . import latex
from . import verify as verify_mod
from .variant import Conv2d, ConvGeneral

Number = int | sp.Expr


def effective_kernel(k: Number, d: Number) -> sp.Expr:
    """``D (K - 1) + 1``, unevaluated: the span of a dilated kernel."""
    with sp.evaluate(False):
        return sp.Add(sp.Mul(sp.sympify(d), sp.Add(sp.sympify(k), sp.Integer(-1))), sp.Integer(1))


def axis_formula(n: Number, k_eff: Number, s: Number, p: Number) -> sp.Expr:
    """``floor((N + 2P - K_eff) / S) + 1``, unevaluated, in reading order."""
    with sp.evaluate(False):
        inner = sp.Add(sp.sympify(n), sp.Mul(sp.Integer(2), sp.sympify(p)), sp.Mul(sp.Integer(-1), sp.sympify(k_eff)))
        return sp.Add(sp.floor(sp.Mul(inner, sp.Pow(sp.sympify(s), sp.Integer(-1)))), sp.Integer(1))


def output_length(n: int, k: int, s: int, p: int = 0, d: int = 1) -> int:
    """Number of outputs on one axis, evaluated from the SymPy formula."""
    return int(axis_formula(n, effective_kernel(k, d).doit(), s, p).doit())


def count_positions(n: int, k: int, s: int, p: int = 0, d: int = 1) -> int:
    """Independent count: slide the dilated kernel over the padded axis and count fits."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, n + 2 * p, s) if start + span <= n + 2 * p)


@dataclass(frozen=True)
class Axis:
    """The worked answer on one axis of 1.1(a)."""

    name: str  # "H" or "W"
    out: sp.Symbol  # H_out
    k_eff_formula: sp.Expr
    k_eff_numbers: sp.Expr
    k_eff: int
    formula: sp.Expr
    numbers: sp.Expr
    quotient: sp.Expr  # floor(a/b) with a, b evaluated
    value: int


@dataclass(frozen=True)
class Conv2dResult:
    axes: tuple[Axis, Axis]
    output_shape: tuple[int, int]
    params: Conv2d


def derive_conv2d(params: Conv2d) -> Conv2dResult:
    """1.1(a): the output size on each axis, with the numbers substituted."""
    axes = []
    for i, name in enumerate(("H", "W")):
        n, k, s, p, d = (params.input[i], params.kernel[i], params.stride[i],
                         params.padding[i], params.dilation[i])
        N, K, S, P, D = sp.symbols(f"{name} K_{name} S_{name} P_{name} D_{name}", integer=True, positive=True)
        keff_sym = sp.Symbol(r"K_{\mathrm{eff}," + name + "}", integer=True, positive=True)
        k_eff_numbers = effective_kernel(k, d)
        k_eff = int(k_eff_numbers.doit())
        numbers = axis_formula(n, k_eff, s, p)
        with sp.evaluate(False):
            quotient = sp.Add(sp.floor(sp.Mul(sp.Integer(n + 2 * p - k_eff), sp.Pow(sp.Integer(s), -1))), 1)
        axes.append(Axis(name, sp.Symbol(name + r"_{\mathrm{out}}"), effective_kernel(K, D), k_eff_numbers, k_eff,
                         axis_formula(N, keff_sym, S, P), numbers, quotient, int(numbers.doit())))
    return Conv2dResult((axes[0], axes[1]), (axes[0].value, axes[1].value), params)


@dataclass(frozen=True)
class GeneralResult:
    """1.1(b): the output shape of a conv layer with F filters, symbolically."""

    notation: str
    k_eff: tuple[sp.Expr, sp.Expr]
    k_eff_symbols: tuple[sp.Symbol, sp.Symbol]
    h_out: sp.Expr
    w_out: sp.Expr
    h_out_expanded: sp.Expr
    w_out_expanded: sp.Expr
    filters: sp.Symbol
    shape: tuple[sp.Expr, sp.Expr, sp.Expr]
    kernel: tuple[sp.Symbol, sp.Symbol]


def derive_general(params: ConvGeneral) -> GeneralResult:
    """1.1(b) in the edition's kernel notation (``K x K`` or ``HK x WK``)."""
    H, W, P, S, D, F = sp.symbols("H W P S D F", integer=True, positive=True)
    if params.kernel_notation == "square":
        kh = kw = sp.Symbol("K", integer=True, positive=True)
        keff = (sp.Symbol(r"K_{\mathrm{eff}}"),) * 2
    else:
        kh, kw = sp.symbols("HK WK", integer=True, positive=True)
        keff = (sp.Symbol(r"HK_{\mathrm{eff}}"), sp.Symbol(r"WK_{\mathrm{eff}}"))
    h_out = axis_formula(H, keff[0], S, P)
    w_out = axis_formula(W, keff[1], S, P)
    h_exp = axis_formula(H, effective_kernel(kh, D), S, P)
    w_exp = axis_formula(W, effective_kernel(kw, D), S, P)
    return GeneralResult(params.kernel_notation, (effective_kernel(kh, D), effective_kernel(kw, D)), keff,
                         h_out, w_out, h_exp, w_exp, F, (F, h_out, w_out), (kh, kw))


def checks(conv2d: Conv2dResult, general: GeneralResult, seed: int) -> list[verify_mod.Check]:
    """1.1(a) against counting kernel positions; 1.1(b) on random configurations."""
    p = conv2d.params
    counted = [count_positions(p.input[i], p.kernel[i], p.stride[i], p.padding[i], p.dilation[i]) for i in (0, 1)]
    # Integer sizes: the error is the largest absolute difference, which must be 0.
    error = float(max(abs(a - b) for a, b in zip(conv2d.output_shape, counted)))
    out = [verify_mod.Check("conv2d.output_shape", r"$H_{\mathrm{out}} \times W_{\mathrm{out}}$ (a)", (2,),
                            "count of kernel positions", error, 0.5, "the variant's sizes")]
    # The general formula (b), evaluated through the symbolic expression of the
    # edition's notation, against counting on random configurations.
    rng = np.random.default_rng(seed)
    H, W, P, S, D = sp.symbols("H W P S D", integer=True, positive=True)
    kh, kw = general.kernel
    f_h = sp.lambdify((H, kh, P, S, D), general.h_out_expanded.doit(), "math")
    worst, trials = 0, 300
    for _ in range(trials):
        n, k, s, pad, d = (int(v) for v in rng.integers([1, 1, 1, 0, 1], [60, 8, 6, 4, 4]))
        if d * (k - 1) + 1 > n + 2 * pad:
            continue
        worst = max(worst, abs(int(f_h(n, k, pad, s, d)) - count_positions(n, k, s, pad, d)))
    out.append(verify_mod.Check("conv_general.output_shape", r"$F \times H_{\mathrm{out}} \times W_{\mathrm{out}}$ (b)",
                            (3,), "count of kernel positions", float(worst), 0.5,
                            f"{trials} random (H, K, P, S, D)"))
    return out


# --------------------------------------------------------------------------
# The question-group protocol (see derivations.build)


@dataclass(frozen=True)
class ShapesResult:
    conv2d: Conv2dResult
    general: GeneralResult


def derive(variant: Any) -> ShapesResult:
    return ShapesResult(derive_conv2d(variant.conv2d), derive_general(variant.conv_general))


def verify(result: ShapesResult, seed: int) -> tuple[list[verify_mod.Check], dict[str, np.ndarray]]:
    return checks(result.conv2d, result.general, seed), {}


def answers(result: ShapesResult) -> dict[str, Any]:
    g = result.general
    return {
        "conv2d.output_shape": list(result.conv2d.output_shape),
        "conv2d.output_shape.latex": latex.dims(result.conv2d.output_shape),
        "conv_general.output_shape.latex": latex.dims(g.shape),
    }


def _pair(values: tuple[int, int], symbol: str) -> str:
    """``S = 4`` when both axes agree, else ``(S_H, S_W) = (2, 3)``."""
    if values[0] == values[1]:
        return f"{symbol} = {values[0]}"
    return f"({symbol}_H, {symbol}_W) = ({values[0]}, {values[1]})"


def context(result: ShapesResult) -> dict[str, Any]:
    r, g = result.conv2d, result.general
    prm = r.params
    axes = [{
        "name": a.name,
        "out": latex.tex(a.out),
        "k_eff_formula": latex.tex(a.k_eff_formula, as_built=True),
        "k_eff_numbers": latex.tex(a.k_eff_numbers, as_built=True),
        "k_eff": a.k_eff,
        "formula": latex.tex(a.formula, as_built=True),
        "numbers": latex.tex(a.numbers, as_built=True),
        "quotient": latex.tex(a.quotient, as_built=True),
        "value": a.value,
        "k_eff_symbol": r"K_{\mathrm{eff}," + a.name + "}",
        # Both steps fit on one line for homework-sized numbers only.
        "wide": max(prm.input) >= 100 or max(prm.kernel) >= 10,
    } for a in r.axes]
    return {
        "input": latex.dims(prm.input),
        "kernel": latex.dims(prm.kernel),
        "stride": _pair(prm.stride, "S"),
        "padding": _pair(prm.padding, "P"),
        "dilation": _pair(prm.dilation, "D"),
        "has_padding": any(prm.padding),
        "has_dilation": any(d != 1 for d in prm.dilation),
        "axes": axes,
        "answer": latex.dims(r.output_shape),
        "general": {
            "square": g.notation == "square",
            "kernel": latex.dims(g.kernel) if g.notation == "rect" else latex.dims((g.kernel[0], g.kernel[0])),
            "k_eff": [latex.tex(s) + " = " + latex.tex(e, as_built=True) for s, e in zip(g.k_eff_symbols, g.k_eff)]
            if g.notation == "rect" else [latex.tex(g.k_eff_symbols[0]) + " = " + latex.tex(g.k_eff[0], as_built=True)],
            "h_out": latex.tex(g.h_out, as_built=True),
            "w_out": latex.tex(g.w_out, as_built=True),
            "h_out_expanded": latex.tex(g.h_out_expanded, as_built=True),
            "w_out_expanded": latex.tex(g.w_out_expanded, as_built=True),
            "shape": r"F \times H_{\mathrm{out}} \times W_{\mathrm{out}}",
        },
    }
