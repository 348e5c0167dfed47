"""1.1(b): the output shape of a conv layer with F filters, from the one-axis rule of 1.1(a)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..conv2d.derive import axis_formula, effective_kernel

H, W, P, S, D, F = sp.symbols("H W P S D F", integer=True, positive=True)
H_OUT, W_OUT = sp.Symbol(r"H_{\mathrm{out}}"), sp.Symbol(r"W_{\mathrm{out}}")


@dataclass(frozen=True)
class GeneralDerivation:
    notation: str
    kernel: tuple[sp.Symbol, sp.Symbol]
    k_eff: tuple[sp.Expr, sp.Expr]
    k_eff_symbols: tuple[sp.Symbol, sp.Symbol]
    h_out: sp.Expr
    w_out: sp.Expr
    h_out_expanded: sp.Expr
    w_out_expanded: sp.Expr
    shape: tuple[sp.Expr, sp.Expr, sp.Expr]  # (F, H_out, W_out) as formulas
    named_shape: tuple[sp.Symbol, sp.Symbol, sp.Symbol]  # the same with H_out, W_out named


def derive(params: Any) -> GeneralDerivation:
    """In the edition's kernel notation (``K x K`` or ``HK x WK``)."""
    if params.kernel_notation == "square":
        kh = kw = sp.Symbol("K", integer=True, positive=True)
        keff = (sp.Symbol(r"K_{\mathrm{eff}}"),) * 2
    else:
        kh, kw = sp.symbols("HK WK", integer=True, positive=True)
        keff = (sp.Symbol(r"HK_{\mathrm{eff}}"), sp.Symbol(r"WK_{\mathrm{eff}}"))
    return GeneralDerivation(
        notation=params.kernel_notation, kernel=(kh, kw),
        k_eff=(effective_kernel(kh, D), effective_kernel(kw, D)), k_eff_symbols=keff,
        h_out=axis_formula(H, keff[0], S, P), w_out=axis_formula(W, keff[1], S, P),
        h_out_expanded=axis_formula(H, effective_kernel(kh, D), S, P),
        w_out_expanded=axis_formula(W, effective_kernel(kw, D), S, P),
        shape=(F, axis_formula(H, keff[0], S, P), axis_formula(W, keff[1], S, P)),
        named_shape=(F, H_OUT, W_OUT),
    )
