"""1.1(b): the output shape of a conv layer with F filters, from the one-axis rule of 1.1(a)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..conv2d.derive import axis_formula, effective_kernel

C, H, W, P, S, D, F = sp.symbols("C H W P S D F", integer=True, positive=True)
H_OUT, W_OUT = sp.Symbol(r"H_{\mathrm{out}}"), sp.Symbol(r"W_{\mathrm{out}}")


@dataclass(frozen=True)
class GeneralDerivation:
    notation: str
    kernel: tuple[sp.Symbol, sp.Symbol]
    input_shape: tuple[sp.Symbol, sp.Symbol, sp.Symbol]  # C x H x W
    fits: tuple[sp.Basic, sp.Basic]  # H >= KH, W >= KW: the kernel fits the input
    k_eff: tuple[sp.Expr, sp.Expr]
    k_eff_symbols: tuple[sp.Symbol, sp.Symbol]
    k_eff_definitions: tuple[sp.Eq, ...]  # K_eff = D(K - 1) + 1, once per distinct kernel side
    h_out: sp.Expr
    w_out: sp.Expr
    h_out_expanded: sp.Expr
    w_out_expanded: sp.Expr
    shape: tuple[sp.Expr, sp.Expr, sp.Expr]  # (F, H_out, W_out) as formulas
    named_shape: tuple[sp.Symbol, sp.Symbol, sp.Symbol]  # the same with H_out, W_out named
    outputs: tuple[sp.Eq, sp.Eq]  # H_out = ..., W_out = ... (in K_eff)
    h_out_written_out: sp.Eq  # H_out = ... with K_eff expanded


def derive(params: Any) -> GeneralDerivation:
    """In the edition's kernel notation (``K x K`` or ``HK x WK``)."""
    if params.kernel_notation == "square":
        kh = kw = sp.Symbol("K", integer=True, positive=True)
        keff = (sp.Symbol(r"K_{\mathrm{eff}}"),) * 2
    else:
        kh, kw = sp.symbols("HK WK", integer=True, positive=True)
        keff = (sp.Symbol(r"HK_{\mathrm{eff}}"), sp.Symbol(r"WK_{\mathrm{eff}}"))
    k_eff = (effective_kernel(kh, D), effective_kernel(kw, D))
    h_out, w_out = axis_formula(H, keff[0], S, P), axis_formula(W, keff[1], S, P)
    h_out_expanded = axis_formula(H, k_eff[0], S, P)
    definitions = tuple(sp.Eq(sym, e, evaluate=False) for sym, e in dict(zip(keff, k_eff)).items())
    return GeneralDerivation(
        notation=params.kernel_notation, kernel=(kh, kw), input_shape=(C, H, W),
        fits=(sp.Ge(H, kh), sp.Ge(W, kw)),
        k_eff=k_eff, k_eff_symbols=keff, k_eff_definitions=definitions,
        h_out=h_out, w_out=w_out,
        h_out_expanded=h_out_expanded,
        w_out_expanded=axis_formula(W, k_eff[1], S, P),
        shape=(F, h_out, w_out),
        named_shape=(F, H_OUT, W_OUT),
        outputs=(sp.Eq(H_OUT, h_out, evaluate=False), sp.Eq(W_OUT, w_out, evaluate=False)),
        h_out_written_out=sp.Eq(H_OUT, h_out_expanded, evaluate=False),
    )
