"""The output size of a convolution on one axis, built once.

On one axis of length ``N`` (padded by ``P`` on both sides), a kernel of ``K``
taps with dilation ``D`` spans ``K_eff = D(K - 1) + 1`` positions. It fits at
the starts ``0, S, 2S, ...`` as long as ``start + K_eff <= N + 2P``, so the
number of outputs is ``floor((N + 2P - K_eff) / S) + 1``.

:func:`axis_formula` builds that formula from symbols or integers
(unevaluated, in reading order), so one SymPy expression gives the printed
rule, the printed substitution and, with ``doit``, the value.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ...symbolic import DOTS, Listing

Number = int | sp.Expr

# The symbols of the one-axis rule as the text states it.
N, K, S, P, D = sp.symbols("N K S P D", integer=True, positive=True)
K_EFF = sp.Symbol(r"K_{\mathrm{eff}}", integer=True, positive=True)


def effective_kernel(k: Number, d: Number) -> sp.Expr:
    """``D (K - 1) + 1``, unevaluated: the span of a dilated kernel."""
    with sp.evaluate(False):
        return sp.Add(sp.Mul(sp.sympify(d), sp.Add(sp.sympify(k), sp.Integer(-1))), sp.Integer(1))


def axis_formula(n: Number, k_eff: Number, s: Number, p: Number) -> sp.Expr:
    """``floor((N + 2P - K_eff) / S) + 1``, unevaluated, in reading order."""
    with sp.evaluate(False):
        inner = sp.Add(sp.sympify(n), sp.Mul(sp.Integer(2), sp.sympify(p)), sp.Mul(sp.Integer(-1), sp.sympify(k_eff)))
        return sp.Add(sp.floor(sp.Mul(inner, sp.Pow(sp.sympify(s), sp.Integer(-1)))), sp.Integer(1))


def axis_numbers(n: int, k: int, s: int, p: int = 0, d: int = 1) -> sp.Expr:
    """The rule with the numbers in (the dilated span evaluated), unevaluated."""
    return axis_formula(n, effective_kernel(k, d).doit(), s, p)


def output_length(n: int, k: int, s: int, p: int = 0, d: int = 1) -> int:
    """Number of outputs on one axis, evaluated from the SymPy formula."""
    return int(axis_numbers(n, k, s, p, d).doit())


@dataclass(frozen=True)
class Axis:
    """The worked answer on one axis of 1.1(a)."""

    name: str  # "H" or "W"
    out: sp.Symbol  # H_out
    k_eff_symbol: sp.Symbol
    k_eff_formula: sp.Expr
    k_eff_numbers: sp.Expr
    k_eff: int
    formula: sp.Expr
    numbers: sp.Expr
    quotient: sp.Expr  # floor(a/b) with a, b evaluated
    value: int


@dataclass(frozen=True)
class Conv2dDerivation:
    params: Any
    axes: tuple[Axis, Axis]
    output_shape: tuple[int, int]
    rule_k_eff: sp.Eq  # K_eff = D(K - 1) + 1 in the symbols of the text
    rule_starts: Listing  # 0, S, 2S, ...: where the kernel can start
    rule: sp.Expr  # floor((N + 2P - K_eff)/S) + 1
    settings: dict[str, sp.Eq]  # stride, padding, dilation as the question states them


def axis_symbols(name: str) -> tuple[sp.Symbol, ...]:
    """``H, K_H, S_H, P_H, D_H``: the one-axis symbols on axis ``H`` (or ``W``)."""
    return sp.symbols(f"{name} K_{name} S_{name} P_{name} D_{name}", integer=True, positive=True)


def setting(values: tuple[int, int], symbol: sp.Symbol) -> sp.Eq:
    """``S = 4`` when both axes agree, else ``(S_H, S_W) = (2, 3)`` in the symbols of :func:`axis_symbols`."""
    if values[0] == values[1]:
        return sp.Eq(symbol, values[0], evaluate=False)
    per_axis = sp.symbols(f"{symbol}_H {symbol}_W", integer=True, positive=True)
    return sp.Eq(sp.Tuple(*per_axis), sp.Tuple(*values), evaluate=False)


@functools.lru_cache(maxsize=64)  # frozen parameters: once per parameter set in a process
def derive(params: Any) -> Conv2dDerivation:
    """1.1(a): the output size on each axis, with the numbers substituted."""
    axes = []
    for i, name in enumerate(("H", "W")):
        n, k, s, p, d = (params.input[i], params.kernel[i], params.stride[i], params.padding[i], params.dilation[i])
        Na, Ka, Sa, Pa, Da = axis_symbols(name)
        keff_sym = sp.Symbol(r"K_{\mathrm{eff}," + name + "}", integer=True, positive=True)
        k_eff_numbers = effective_kernel(k, d)
        k_eff = int(k_eff_numbers.doit())
        numbers = axis_formula(n, k_eff, s, p)
        with sp.evaluate(False):
            quotient = sp.Add(sp.floor(sp.Mul(sp.Integer(n + 2 * p - k_eff), sp.Pow(sp.Integer(s), -1))), 1)
        axes.append(Axis(name, sp.Symbol(name + r"_{\mathrm{out}}"), keff_sym, effective_kernel(Ka, Da),
                         k_eff_numbers, k_eff, axis_formula(Na, keff_sym, Sa, Pa), numbers, quotient,
                         int(numbers.doit())))
    settings = {"stride": setting(params.stride, S), "padding": setting(params.padding, P),
                "dilation": setting(params.dilation, D)}
    return Conv2dDerivation(params, (axes[0], axes[1]), (axes[0].value, axes[1].value),
                            sp.Eq(K_EFF, effective_kernel(K, D), evaluate=False),
                            Listing(*(i * S for i in range(3)), DOTS), axis_formula(N, K_EFF, S, P), settings)
